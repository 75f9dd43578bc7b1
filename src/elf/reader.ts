/**
 * Low-level reading helpers shared by the ELF modules: an endian-aware view over the input,
 * checked 64-bit conversions, string tables, and the one way this layer reports bad input.
 *
 * Callers check that a whole structure (a header, a table) lies inside the input before
 * reading its fields, so the accessors here do no bounds checks of their own; the fuzz test
 * holds that contract (a DataView RangeError escaping would fail it).
 */

import { FormatError } from '../errors.js';

/** Throws the FormatError every malformed-input path in src/elf reports. */
export function fail(message: string, offset?: number): never {
  throw new FormatError('ERR_ELF', message, offset);
}

/** 2^21: a 64-bit value whose high word is in [-2^21, 2^21) is exactly representable. */
const SAFE_HIGH_WORD = 0x200000;
const TWO_POW_32 = 0x1_0000_0000;

export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

export class ByteReader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly le: boolean;
  readonly length: number;

  constructor(bytes: Uint8Array, littleEndian: boolean) {
    // A plain Uint8Array over the same memory: a Buffer's subarray() is several times slower
    // than a Uint8Array's, and the input may be a view into a larger buffer (honour byteOffset).
    this.bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.le = littleEndian;
    this.length = bytes.byteLength;
  }

  u8(off: number): number {
    return this.bytes[off]!;
  }
  u16(off: number): number {
    return this.view.getUint16(off, this.le);
  }
  u32(off: number): number {
    return this.view.getUint32(off, this.le);
  }

  /**
   * A u64 used as an offset, size or count: returned as a number, and a FormatError naming
   * `what` when it exceeds Number.MAX_SAFE_INTEGER (it could not be an offset into any file a
   * JS program can hold). Hot loops use u64lossy plus their own check, so that the `what`
   * message is only built on failure.
   */
  u64(off: number, what: string): number {
    const v = this.u64lossy(off);
    if (v > Number.MAX_SAFE_INTEGER) fail(`${what} ${hex(this.u64big(off))} is too large`, off);
    return v;
  }

  /**
   * A u64 as a number, rounded above 2^53. Read as two 32-bit halves, which allocates no
   * BigInt; the result exceeds MAX_SAFE_INTEGER exactly when the true value does, so
   * `u64lossy(off) > Number.MAX_SAFE_INTEGER` is the same check as one on getBigUint64.
   */
  u64lossy(off: number): number {
    const v = this.view;
    return this.le
      ? v.getUint32(off + 4, true) * TWO_POW_32 + v.getUint32(off, true)
      : v.getUint32(off, false) * TWO_POW_32 + v.getUint32(off + 4, false);
  }

  /** A u64 exactly, for addresses (kernel addresses do not fit in a number). */
  u64big(off: number): bigint {
    return this.view.getBigUint64(off, this.le);
  }

  /** A signed 64-bit value (RELA addends), checked to be exactly representable as a number. */
  i64(off: number, what: string): number {
    const v = this.view;
    const lo = v.getUint32(off + (this.le ? 0 : 4), this.le);
    const hi = v.getInt32(off + (this.le ? 4 : 0), this.le);
    if (hi >= SAFE_HIGH_WORD || hi < -SAFE_HIGH_WORD) {
      fail(`${what} ${v.getBigInt64(off, this.le)} does not fit in a JavaScript number`, off);
    }
    return hi * TWO_POW_32 + lo;
  }
}

/**
 * Checks that [offset, offset + size) lies inside a region of `limit` bytes, without ever
 * computing a sum that could lose precision. `what` names the structure for the message.
 */
export function checkRange(offset: number, size: number, limit: number, what: string, at?: number): void {
  if (offset > limit) fail(`${what} starts at ${offset}, past the end of the file (${limit} bytes)`, at);
  if (size > limit - offset) {
    fail(`${what} (${size} bytes at offset ${offset}) extends past the end of the file (${limit} bytes)`, at);
  }
}

// Strings in ELF files are byte strings; the names this project handles are ASCII in practice,
// so an ASCII fast path avoids a TextDecoder call per symbol and UTF-8 covers the rest.
const utf8 = new TextDecoder('utf-8');
const FROM_CHAR_CODE_MAX = 256;

/** bytes[start, end) as a string if they are all ASCII, else undefined. */
function asciiString(bytes: Uint8Array, start: number, end: number): string | undefined {
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return undefined;
  // One string built from the char codes (appending char by char allocates per character);
  // long strings go through TextDecoder, as apply() takes its arguments on the stack.
  return end - start <= FROM_CHAR_CODE_MAX
    ? String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[])
    : utf8.decode(bytes.subarray(start, end));
}

/** Decodes bytes[start, end) as UTF-8 (invalid sequences become U+FFFD). */
export function decodeString(bytes: Uint8Array, start: number, end: number): string {
  return asciiString(bytes, start, end) ?? utf8.decode(bytes.subarray(start, end));
}

/**
 * A string table (SHT_STRTAB): NUL-terminated strings addressed by byte offset. Any offset may
 * be used, including one inside another string (linkers share suffixes: "bar" inside
 * "foobar").
 *
 * Lookups first just scan for the terminating NUL. A forged table whose entries all point into
 * one long string would make that quadratic, so once the bytes scanned exceed twice the
 * table's size the table is indexed: every run of bytes between NULs is then decoded once and
 * offsets inside it are served as slices (V8 shares the characters). Either way the cost stays
 * linear in the table's size.
 */
export class StringTable {
  readonly #data: Uint8Array;
  readonly #fileOffset: number;
  readonly #what: string;
  /** Positions of the table's NUL bytes, ascending; built on first lookup. */
  #nuls: number[] | undefined;
  /** Decoded runs, indexed like #nuls by their terminator. */
  #runs: (string | undefined)[] = [];
  /** 1 where the run is pure ASCII, so a suffix is a slice of the run's string. */
  #ascii: Uint8Array = new Uint8Array(0);
  /** Bytes decoded for suffixes of non-ASCII runs (they can't be sliced): bounded, see get(). */
  #suffixBudget: number;
  /** Bytes the unindexed lookups may still scan. */
  #scanBudget: number;

  /**
   * @param data the table's bytes
   * @param fileOffset where the table starts in the file, for error messages
   * @param what the table's name for error messages (`[1] .strtab`)
   */
  constructor(data: Uint8Array, fileOffset: number, what: string) {
    this.#data = data;
    this.#fileOffset = fileOffset;
    this.#what = what;
    this.#suffixBudget = 16 * data.length + 65536;
    this.#scanBudget = 2 * data.length + 4096;
  }

  get size(): number {
    return this.#data.length;
  }

  /**
   * The string at `index`; a FormatError if the index is outside the table or the string is
   * unterminated. `user` and `item` name the referrer for the message ('symbol', 12).
   */
  get(index: number, user: string, item?: number): string {
    const data = this.#data;
    if (index >= data.length) {
      fail(`${label(user, item)}: name offset ${index} is outside string table ${this.#what} (${data.length} bytes)`, this.#fileOffset);
    }
    if (this.#nuls === undefined && this.#scanBudget > 0) {
      const end = data.indexOf(0, index);
      if (end < 0) fail(`${label(user, item)}: string at offset ${index} of ${this.#what} is not NUL-terminated`, this.#fileOffset + index);
      this.#scanBudget -= end - index + 1;
      return decodeString(data, index, end);
    }
    const nuls = this.#nuls ?? this.#index();
    // The run holding index ends at the first NUL at or after it: the lowest k with nuls[k] >= index.
    let k = 0;
    let hi = nuls.length;
    while (k < hi) {
      const mid = (k + hi) >>> 1;
      if (nuls[mid]! < index) k = mid + 1;
      else hi = mid;
    }
    if (k === nuls.length) {
      fail(`${label(user, item)}: string at offset ${index} of ${this.#what} is not NUL-terminated`, this.#fileOffset + index);
    }
    const start = k === 0 ? 0 : nuls[k - 1]! + 1;
    const end = nuls[k]!;
    let text = this.#runs[k];
    if (text === undefined) {
      const ascii = asciiString(data, start, end);
      if (ascii !== undefined) this.#ascii[k] = 1;
      text = this.#runs[k] = ascii ?? utf8.decode(data.subarray(start, end));
    }
    if (index === start) return text;
    if (this.#ascii[k] === 1) return text.slice(index - start);
    this.#suffixBudget -= end - index;
    if (this.#suffixBudget < 0) fail(`string table ${this.#what}: too many names inside non-ASCII names`, this.#fileOffset + index);
    return utf8.decode(data.subarray(index, end));
  }

  /** True when the string at `index` is exactly `name` (as bytes): a search without decoding. */
  equals(index: number, name: Uint8Array): boolean {
    const data = this.#data;
    const n = name.length;
    if (index >= data.length || n > data.length - index - 1) return false;
    if (data[index + n] !== 0) return false;
    for (let i = 0; i < n; i++) if (data[index + i] !== name[i]) return false;
    return true;
  }

  #index(): number[] {
    const data = this.#data;
    const nuls: number[] = [];
    for (let i = data.indexOf(0); i >= 0; i = data.indexOf(0, i + 1)) nuls.push(i);
    this.#nuls = nuls;
    this.#runs = new Array<string | undefined>(nuls.length).fill(undefined);
    this.#ascii = new Uint8Array(nuls.length);
    return nuls;
  }
}

function label(user: string, item: number | undefined): string {
  return item === undefined ? user : `${user} ${item}`;
}
