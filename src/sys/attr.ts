/**
 * Building bpf_attr (and other kernel structs) in byte buffers.
 *
 * Offsets used by src/sys were checked against the running kernel's BTF (`union bpf_attr`,
 * Linux 6.18) with clang `_Static_assert(__builtin_offsetof(...))`. The kernel accepts an attr
 * shorter than its own union (it zero-fills the rest) and rejects a longer one with E2BIG
 * unless the extra bytes are zero, so each command passes the size of the fields it uses.
 */
import { native } from './native.js';

/** The largest bpf_attr this library writes (sizeof(union bpf_attr) on 6.18 is 168). */
export const ATTR_MAX = 168;

/** A zeroed struct buffer with typed little-endian-native field writers. */
export class Struct {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Buffers whose addresses were written into this struct: kept alive until the call. */
  readonly #pinned: (ArrayBufferView | ArrayBuffer)[] = [];

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  u8(off: number, v: number): this {
    this.view.setUint8(off, v);
    return this;
  }
  u16(off: number, v: number): this {
    this.view.setUint16(off, v, true);
    return this;
  }
  u32(off: number, v: number): this {
    this.view.setUint32(off, v >>> 0, true);
    return this;
  }
  i32(off: number, v: number): this {
    this.view.setInt32(off, v, true);
    return this;
  }
  u64(off: number, v: bigint | number): this {
    this.view.setBigUint64(off, BigInt.asUintN(64, BigInt(v)), true);
    return this;
  }
  /** Writes the address of `buf` (or 0 for null). The buffer must outlive the syscall. */
  ptr(off: number, buf: ArrayBufferView | ArrayBuffer | null | undefined): this {
    if (!buf || buf.byteLength === 0) return this.u64(off, 0n);
    this.#pinned.push(buf);
    return this.u64(off, native.addressOf(buf));
  }
  /** A NUL-terminated C string written into a fixed-size char array (truncated to fit). */
  cstr(off: number, len: number, s: string): this {
    const enc = new TextEncoder().encode(s);
    this.bytes.set(enc.subarray(0, len - 1), off);
    return this;
  }
  getU32(off: number): number {
    return this.view.getUint32(off, true);
  }
  getI32(off: number): number {
    return this.view.getInt32(off, true);
  }
  getU64(off: number): bigint {
    return this.view.getBigUint64(off, true);
  }
}

/** A NUL-terminated string as bytes, for pointer fields (paths, names). */
export function cString(s: string): Uint8Array {
  const enc = new TextEncoder().encode(s);
  const out = new Uint8Array(enc.length + 1);
  out.set(enc);
  return out;
}

/** Reads a NUL-terminated string out of a fixed-size char array. */
export function readCString(bytes: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(off, end));
}
