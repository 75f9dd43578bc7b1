/**
 * The kernel layer: the only code that calls the native addon.
 */
export * from './attr.js';
export * from './bpf.js';
export * from './constants.js';
export * from './errno.js';
export * from './fd.js';
export * from './info.js';
export * from './mmap.js';
export * from './perf_event.js';
export * from './poll.js';
export * from './rlimit.js';
export * from './cpus.js';
export * from './object.js';
export * from './net.js';
export * from './netlink.js';
export * from './pidfd.js';
