/**
 * The record handed to ring buffer and perf buffer callbacks: a zero-copy window onto the
 * shared memory the kernel wrote, valid only while the record is being handled.
 *
 * Readers reuse one record object per ring (the drain loop allocates nothing per record), so a
 * callback that wants to keep a record's bytes past its return must copy them (`copy()`), or
 * decode them into a JS value (`decode(codec)`).
 */
import { ArgumentError, FormatError } from '../errors.js';

/**
 * Anything that turns bytes at an offset into a value: the BTF codecs of `btfCodec(type)`, or a
 * hand-written `{ decode(bytes, offset) { ... } }`. `size`, when present, is the number of bytes
 * the decoder reads. A shorter record is decoded as if zeros followed it: programs commonly send
 * a struct cut after its used part (execsnoop's `args[]`, `bpf_ringbuf_output(e, used_size)`),
 * and what lies next to the record in the ring must never be read as part of it.
 */
export interface RecordDecoder<T> {
  readonly size?: number;
  decode(bytes: Uint8Array, offset?: number): T;
}

const TWO32 = 2 ** 32;

export class RecordView {
  /**
   * A DataView over the whole memory the record lies in (the ring's data area, or a scratch
   * buffer for a perf record that wrapped): read the record at `offset + n`.
   */
  view: DataView;
  /** A Uint8Array over the same memory as `view`. */
  bytes: Uint8Array;
  /** Byte offset of the record's first byte in `view`/`bytes`. */
  offset = 0;
  /** Length of the record in bytes; -1 once the record has been released. */
  length = 0;

  constructor(view: DataView, bytes: Uint8Array) {
    this.view = view;
    this.bytes = bytes;
  }

  #check(need: number): void {
    if (this.length < 0) {
      throw new ArgumentError('the record was released: records are views into the ring, valid only until the reader moves on; copy() what you keep', 'ERR_RECORD_RELEASED');
    }
    if (need > this.length) {
      throw new FormatError('ERR_RECORD_SHORT', `record of ${this.length} bytes is shorter than the ${need} bytes read from it`);
    }
  }

  /** The record's bytes, as a zero-copy Uint8Array (allocates a view object, not the bytes). */
  get data(): Uint8Array {
    this.#check(0);
    return this.bytes.subarray(this.offset, this.offset + this.length);
  }

  /** A copy of the record's bytes that stays valid after the callback returns. */
  copy(): Uint8Array {
    this.#check(0);
    return this.bytes.slice(this.offset, this.offset + this.length);
  }

  /** Decodes the record with `decoder` (a BTF codec); the result is a JS value the caller keeps. */
  decode<T>(decoder: RecordDecoder<T>): T {
    const size = decoder.size ?? 0;
    if (size > this.length) {
      this.#check(0);
      const padded = new Uint8Array(size);
      padded.set(this.bytes.subarray(this.offset, this.offset + this.length));
      return decoder.decode(padded, 0);
    }
    return decoder.decode(this.bytes, this.offset);
  }

  // Little-endian field readers at a byte offset inside the record (BPF programs on every
  // architecture ebpf-ts supports write host-endian, and the hosts are little-endian).
  u8(at: number): number {
    return this.view.getUint8(this.offset + at);
  }
  u16(at: number): number {
    return this.view.getUint16(this.offset + at, true);
  }
  u32(at: number): number {
    return this.view.getUint32(this.offset + at, true);
  }
  i32(at: number): number {
    return this.view.getInt32(this.offset + at, true);
  }
  /** A u64 as a Number: exact below 2^53 (counters, sequence numbers, nanosecond timestamps for 104 days). */
  u64(at: number): number {
    const o = this.offset + at;
    return this.view.getUint32(o, true) + this.view.getUint32(o + 4, true) * TWO32;
  }
  /** A u64 as a BigInt: exact, but allocates. */
  bigU64(at: number): bigint {
    return this.view.getBigUint64(this.offset + at, true);
  }
  bigI64(at: number): bigint {
    return this.view.getBigInt64(this.offset + at, true);
  }
  /** A NUL-terminated string of at most `max` bytes (a `char comm[16]`), decoded as UTF-8. */
  cString(at: number, max: number): string {
    const start = this.offset + at;
    const limit = Math.min(start + max, this.offset + this.length);
    let end = start;
    while (end < limit && this.bytes[end] !== 0) end++;
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, end - start).toString('utf8');
  }

  /** Marks the record released: helpers throw from now on (async iterators do this on the next step). */
  release(): void {
    this.length = -1;
  }
}
