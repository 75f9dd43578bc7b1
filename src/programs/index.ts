export * from './program.js';
export * from './stats.js';
export * from './kernel_btf.js';
export * from './fd_kind.js';
export { TestRunFlags } from '../sys/index.js';
