/**
 * Ring buffer (BPF_MAP_TYPE_RINGBUF) reader. `ebpf-ts` re-exports it.
 */
export { RingBufferReader, Ring, RingRecord, type RingRecordCallback, type RingBufferSource, type RingBufferReaderOptions } from './reader.js';
export { RecordView, type RecordDecoder } from './record.js';
