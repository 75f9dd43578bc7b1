/**
 * Attaching programs: one module per hook family, each an attach function with an options
 * object, all returning a Link (or a LinkGroup of several) that close() detaches.
 */
export * from './link.js';
export * from './perf_event.js';
export * from './tracing.js';
export * from './kprobe.js';
export * from './uprobe.js';
export * from './usdt.js';
export * from './iter.js';
export * from './xdp.js';
export * from './tc.js';
export * from './cgroup.js';
export * from './socket.js';
export * from './netns.js';
export * from './sockmap.js';
export * from './struct_ops.js';
export * from './auto.js';
export { ifindexOf, ifnameOf } from './netdev.js';
export { tracepointId, tracefsRoot, probePmu, PROBE_EVENT_GROUP } from './tracefs.js';
