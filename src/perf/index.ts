/**
 * Perf buffer (BPF_MAP_TYPE_PERF_EVENT_ARRAY) reader. `ebpf-ts` re-exports it.
 */
export { PerfBufferReader, PerfRecord, PerfRing, type PerfBufferOptions, type PerfRecordCallback } from './reader.js';
