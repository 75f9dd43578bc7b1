export * from './probe.js';
export * from './attach.js';
export * from './helpers.js';
