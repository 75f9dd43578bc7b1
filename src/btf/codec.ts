/**
 * Codecs: JS values to and from the bytes of a C value, driven by BTF or given explicitly.
 *
 * `btfCodec(type)` compiles a BTF type into a decoder and an encoder of straight-line
 * JavaScript (built once with `new Function`, cached per type object and byte order), so that
 * decoding a ring buffer record or a map value costs about what hand-written DataView code
 * does. `codecs` holds ready codecs for maps without BTF (`codecs.u32`, `codecs.u64`, ...).
 *
 * JS shapes (the same as the TypeScript writer's `tsTypeFor`, so that generated declarations
 * describe what decode returns):
 *
 * | C (BTF)                                        | JS                                           |
 * |------------------------------------------------|----------------------------------------------|
 * | `_Bool`                                        | `boolean` (0/1 and 0n/1n accepted on encode)  |
 * | integers of 1, 2, 4 bytes, a lone `char`       | `number`                                     |
 * | integers of 8 and 16 bytes                     | `bigint` (integer numbers accepted on encode)|
 * | bitfields up to 32 bits                        | `number` (wider: `bigint`; `_Bool`: boolean) |
 * | `float`, `double`                              | `number`                                     |
 * | pointers                                       | `bigint` (the address)                       |
 * | enums                                          | `number` (`bigint` for 8-byte enums); names  |
 * |                                                | accepted on encode, `enumNames()` for reading|
 * | `char[N]` (plain `char` elements)              | `string`: bytes up to the first NUL, UTF-8   |
 * |                                                | (a string or bytes on encode; NUL-padded).   |
 * |                                                | Lossy for bytes after the NUL and for invalid|
 * |                                                | UTF-8 (U+FFFD): use raw bytes for binary data|
 * | other arrays of 1-byte integers (`u8[N]`)      | `Uint8Array` (a copy; strings accepted too)  |
 * | other arrays                                   | `T[]` (shorter arrays on encode: rest zero)  |
 * | struct                                         | object keyed by member name                  |
 * | union                                          | object with every member (all views of the   |
 * |                                                | same bytes); on encode give one member (if   |
 * |                                                | several, they are written in declaration     |
 * |                                                | order, later ones over earlier ones)         |
 * | DATASEC                                        | object keyed by variable name                |
 *
 * - Anonymous struct/union members (C11) are flattened into the containing object, as C
 *   accesses them; a name already used gets `_2`, `_3`, ... (as in the TypeScript writer).
 *   Unnamed bitfields are padding and are skipped.
 * - Encoding writes the whole value: padding is zeroed, members left out are zero, a member
 *   name the type doesn't have is an ArgumentError naming it, values out of range for their
 *   type are ArgumentErrors (the unsigned spelling of a negative number is accepted, as C's
 *   same-size conversions do: `0xffffffff` for an `int` is -1).
 * - Integers with BTF_INT_OFFSET/BITS narrower than their size (not emitted by compilers) are
 *   read as full-size integers.
 *
 * Decode reads through a DataView over the caller's buffer that is kept while the same buffer
 * comes back (a ring buffer reader, a map's request buffer), so a decode allocates only the
 * result. A codec therefore holds a reference to the last buffer it read or wrote.
 */
import { ArgumentError } from '../errors.js';
import { HOST_BYTE_ORDER } from './parse.js';
import type { EnumType, Member, StructType, Type } from './types.js';
import { describeType, resolve, sizeof } from './util.js';

/** Converts between JS values of type T and `size` bytes. */
/** A plain host-endian number, as a typed array element reads it. */
export type ScalarKind = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64' | 'f32' | 'f64';

export interface Codec<T = unknown> {
  /** Bytes of one value. */
  readonly size: number;
  /**
   * Set when a value is exactly one host-endian scalar and decode() returns what an element of
   * the matching typed array reads (a number, or a bigint for u64/i64): bulk paths (batch dumps)
   * then read whole columns through typed arrays instead of calling decode() per value.
   */
  readonly scalar?: ScalarKind;
  /** Decodes the value at `offset` (default 0) of `bytes`. */
  decode(bytes: Uint8Array, offset?: number): T;
  /**
   * Encodes `value` into `into` at `offset` (default 0), or into a new array when `into` is
   * omitted. Returns the buffer written.
   */
  encode(value: T, into?: Uint8Array, offset?: number): Uint8Array;
}

/** A codec compiled from a BTF type. */
export interface BtfCodec<T = unknown> extends Codec<T> {
  /** The BTF type this codec reads and writes. */
  readonly type: Type;
  /** For an enum type (through typedefs): enumerator names by value. */
  readonly names?: ReadonlyMap<number | bigint, string>;
}

export interface BtfCodecOptions {
  /** Byte order of the bytes (default: the host's, which is the kernel's). */
  littleEndian?: boolean;
}

const HOST_LE = HOST_BYTE_ORDER === 'little';

// ------------------------------------------------------------------------------------ helpers
// Shared by the generated code (passed in as arguments of the generated function).

/** Buffer.prototype.utf8Slice works on any Uint8Array and is ~5x faster than TextDecoder for short strings. */
const utf8Slice: ((this: Uint8Array, start: number, end: number) => string) | undefined = (
  globalThis as { Buffer?: { prototype: { utf8Slice?: (this: Uint8Array, s: number, e: number) => string } } }
).Buffer?.prototype.utf8Slice;
const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

/**
 * The string in a C char array: the bytes of `bytes[offset, offset + length)` up to the first
 * NUL, as UTF-8 (invalid sequences become U+FFFD).
 */
export function decodeCString(bytes: Uint8Array, offset = 0, length = bytes.length - offset): string {
  let end = offset;
  const limit = offset + length;
  while (end < limit && bytes[end] !== 0) end++;
  if (end === offset) return '';
  return utf8Slice ? utf8Slice.call(bytes, offset, end) : textDecoder.decode(bytes.subarray(offset, end));
}

function fail(path: string, message: string): never {
  throw new ArgumentError(`${path}: ${message}`, 'ERR_VALUE');
}

function show(x: unknown): string {
  if (typeof x === 'bigint') return `${x}n`;
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? x.slice(0, 40) + '...' : x);
  if (typeof x === 'number' || typeof x === 'boolean' || x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (x instanceof Uint8Array) return `a Uint8Array of ${x.length}`;
  return `a ${typeof x}`;
}

/** Integer conversion for the slow cases: bigint, booleans, numbers outside the fast ranges. */
function toInt(x: unknown, bytes: number, path: string): number | bigint {
  let v: bigint;
  if (typeof x === 'bigint') v = x;
  else if (typeof x === 'number' && Number.isInteger(x)) v = BigInt(x);
  else if (typeof x === 'boolean') v = x ? 1n : 0n;
  else fail(path, `expected an integer, got ${show(x)}`);
  const bits = BigInt(bytes * 8);
  // Either signedness' range: C converts same-size values between them.
  if (v < -(1n << (bits - 1n)) || v >= 1n << bits) fail(path, `${v} doesn't fit in ${bytes} byte${bytes > 1 ? 's' : ''}`);
  return bytes <= 4 ? Number(v) : v;
}

function toBool(x: unknown, path: string): number {
  if (x === true || x === 1 || x === 1n) return 1;
  if (x === false || x === 0 || x === 0n) return 0;
  fail(path, `expected a boolean, got ${show(x)}`);
}

function toFloat(x: unknown, path: string): number {
  if (typeof x === 'number') return x;
  if (typeof x === 'bigint') return Number(x);
  fail(path, `expected a number, got ${show(x)}`);
}

function toEnum(x: unknown, byName: Map<string, bigint>, bytes: number, path: string, typeName: string): number | bigint {
  if (typeof x === 'string') {
    const v = byName.get(x);
    if (v === undefined) fail(path, `'${x}' is not an enumerator of ${typeName}`);
    return toInt(v, bytes, path);
  }
  return toInt(x, bytes, path);
}

function toObject(x: unknown, path: string, what: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || ArrayBuffer.isView(x)) fail(path, `expected an object for ${what}, got ${show(x)}`);
  return x as Record<string, unknown>;
}

function toArrayLike(x: unknown, max: number, path: string): ArrayLike<unknown> {
  if (!Array.isArray(x) && !(ArrayBuffer.isView(x) && !(x instanceof DataView))) fail(path, `expected an array, got ${show(x)}`);
  const a = x as ArrayLike<unknown>;
  if (a.length > max) fail(path, `${a.length} elements don't fit in an array of ${max}`);
  return a;
}

function keyCount(o: object): number {
  let n = 0;
  for (const _ in o) n++;
  return n;
}

function unknownKey(o: Record<string, unknown>, known: Set<string>, path: string, what: string): never {
  for (const k in o) {
    if (!known.has(k)) fail(path, `${what} has no member '${k}' (members: ${[...known].join(', ')})`);
  }
  fail(path, `unexpected members`);
}

/** Writes a string or bytes into a byte array of `n` (rest zero): char[N] and u8[N]. */
function putBytes(b: Uint8Array, off: number, n: number, x: unknown, path: string, what = `${n} bytes`): void {
  if (typeof x === 'string') {
    let i = 0;
    for (; i < x.length; i++) {
      const c = x.charCodeAt(i);
      if (c >= 0x80) break;
      if (i >= n) fail(path, `${x.length} bytes don't fit in ${what}`);
      b[off + i] = c;
    }
    if (i < x.length) {
      const enc = textEncoder.encode(x);
      if (enc.length > n) fail(path, `${enc.length} bytes (UTF-8) don't fit in ${what}`);
      b.set(enc, off);
      i = enc.length;
    }
    for (; i < n; i++) b[off + i] = 0;
    return;
  }
  const a = toArrayLike(x, n, path);
  let i = 0;
  for (; i < a.length; i++) {
    const v = a[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -128 || v > 255) fail(`${path}[${i}]`, `expected a byte, got ${show(v)}`);
    b[off + i] = v;
  }
  for (; i < n; i++) b[off + i] = 0;
}

function decode128(d: DataView, off: number, le: boolean, signed: boolean): bigint {
  const lo = d.getBigUint64(le ? off : off + 8, le);
  const hi = d.getBigUint64(le ? off + 8 : off, le);
  const v = (hi << 64n) | lo;
  return signed ? BigInt.asIntN(128, v) : v;
}

function encode128(d: DataView, off: number, le: boolean, x: unknown, path: string): void {
  let v: bigint;
  if (typeof x === 'bigint') v = x;
  else if (typeof x === 'number' && Number.isInteger(x)) v = BigInt(x);
  else fail(path, `expected an integer, got ${show(x)}`);
  if (v < -(1n << 127n) || v >= 1n << 128n) fail(path, `${v} doesn't fit in 16 bytes`);
  v = BigInt.asUintN(128, v);
  d.setBigUint64(le ? off : off + 8, v & 0xffffffffffffffffn, le);
  d.setBigUint64(le ? off + 8 : off, v >> 64n, le);
}

function rangeError(b: Uint8Array, o: number, size: number): never {
  if (!(b instanceof Uint8Array)) throw new ArgumentError(`expected a Uint8Array, got ${show(b)}`, 'ERR_VALUE');
  throw new ArgumentError(`${size} bytes at offset ${o} don't fit in a buffer of ${b.length} bytes`, 'ERR_VALUE_SIZE');
}

/**
 * A bigint in the range 8-byte integers take, either signedness: [-2^63, 2^64). asUintN/asIntN
 * compile to truncations, where BigInt comparisons with constants are runtime calls in V8 11
 * (~2.5 ns more per value, measured).
 */
export function fitsInt64(x: unknown): x is bigint {
  return typeof x === 'bigint' && (asUintN(64, x) === x || asIntN(64, x) === x);
}
// Module constants: a global load and a property load per call are bytecode that V8's inlining
// budget counts on every u64 codec's path (see sys/bpf.ts, Layout).
const asUintN = BigInt.asUintN;
const asIntN = BigInt.asIntN;

/**
 * Reads and writes the 8-byte integers of one codec (compiled or explicit), in byte order `le`.
 * In the host's order and at 8-aligned addresses (the usual case: C aligns them, and map values
 * start aligned) through BigUint64Array/BigInt64Array elements, else through a DataView: V8 11
 * compiles typed-array element access inline, where DataView's get/setBig(U)Int64 are builtin
 * calls (measured: 1.1 vs 8 ns per store, 7.8 vs 12.3 ns per load). The views of the last
 * buffer seen are cached, one buffer per codec, as viewCache does.
 */
class Int64Access {
  readonly #le: boolean;
  readonly #view = viewCache();
  #buf: Uint8Array | null = null;
  #offset = 0;
  #unsigned: BigUint64Array | null = null;
  #signed: BigInt64Array | null = null;

  constructor(le: boolean) {
    this.#le = le;
  }

  /**
   * Element views of `b`'s buffer, none when typed arrays can't serve (byte order, resizable
   * buffers). Returns `b`'s byte offset in its buffer.
   */
  #words(b: Uint8Array): number {
    this.#buf = b;
    this.#offset = b.byteOffset;
    const buf = b.buffer as ArrayBuffer & { resizable?: boolean; growable?: boolean };
    // A resizable or growable buffer can shrink under a fixed-length view.
    if (this.#le !== HOST_LE || buf.resizable || buf.growable) {
      this.#unsigned = this.#signed = null;
    } else {
      const n = buf.byteLength >>> 3;
      this.#unsigned = new BigUint64Array(buf, 0, n);
      this.#signed = new BigInt64Array(buf, 0, n);
    }
    return this.#offset;
  }

  get(b: Uint8Array, o: number, signed: boolean): bigint {
    const a = (b === this.#buf ? this.#offset : this.#words(b)) + o;
    const u = this.#unsigned;
    if ((a & 7) === 0 && u !== null) return signed ? this.#signed![a >>> 3]! : u[a >>> 3]!;
    return this.#getByView(b, o, signed);
  }

  set(b: Uint8Array, o: number, v: bigint): void {
    const a = (b === this.#buf ? this.#offset : this.#words(b)) + o;
    const u = this.#unsigned;
    if ((a & 7) === 0 && u !== null) u[a >>> 3] = v;
    else this.#setByView(b, o, v);
  }

  // The rarer paths out of line: get, set and encode are inlined into every 8-byte codec's
  // callers, and V8's inlining budget counts their bytecode (see sys/bpf.ts, Layout).
  #getByView(b: Uint8Array, o: number, signed: boolean): bigint {
    return signed ? this.#view(b).getBigInt64(o, this.#le) : this.#view(b).getBigUint64(o, this.#le);
  }

  #setByView(b: Uint8Array, o: number, v: bigint): void {
    this.#view(b).setBigUint64(o, v, this.#le);
  }

  /**
   * Writes a JS value: a bigint in range; a safe-integer number as two 32-bit words (counters
   * set from JS are often numbers: no bigint is made, where the general conversion costs
   * ~120 ns); anything else through toInt, which converts or throws an ArgumentError at `path`.
   */
  encode(b: Uint8Array, o: number, x: unknown, path: string): void {
    if (fitsInt64(x)) this.set(b, o, x);
    else this.#encodeOther(b, o, x, path);
  }

  #encodeOther(b: Uint8Array, o: number, x: unknown, path: string): void {
    if (typeof x === 'number' && Number.isSafeInteger(x)) {
      const hi = Math.floor(x / 4294967296);
      const d = this.#view(b);
      d.setUint32(this.#le ? o : o + 4, x - hi * 4294967296, this.#le);
      d.setInt32(this.#le ? o + 4 : o, hi, this.#le);
      return;
    }
    this.set(b, o, toInt(x, 8, path) as bigint);
  }
}

const RUNTIME = {
  decodeCString,
  toInt,
  toBool,
  toFloat,
  toEnum,
  toObject,
  toArrayLike,
  keyCount,
  unknownKey,
  putBytes,
  decode128,
  encode128,
  rangeError,
  fail,
  fitsInt64,
  int64Access: (le: boolean) => new Int64Access(le),
  show,
};
type Runtime = typeof RUNTIME;

// ------------------------------------------------------------------------------------ enums

const enumNameCache = new WeakMap<Type, ReadonlyMap<number | bigint, string>>();

/**
 * Enumerator names by value for an enum type (typedefs and qualifiers looked through):
 * `enumNames(t).get(decoded)`. Values are numbers for enums of up to 4 bytes, bigints for
 * 8-byte ones, as decode returns them. The first name wins when several share a value.
 */
export function enumNames(type: Type): ReadonlyMap<number | bigint, string> {
  const t = resolve(type);
  if (t.kind !== 'enum' && t.kind !== 'enum64') throw new ArgumentError(`${describeType(type)} is not an enum`);
  let m = enumNameCache.get(t);
  if (!m) {
    const big = isBigEnum(t);
    const names = new Map<number | bigint, string>();
    for (const v of t.values) {
      const key = big ? v.value : Number(v.value);
      if (!names.has(key)) names.set(key, v.name);
    }
    m = names;
    enumNameCache.set(t, m);
  }
  return m;
}

/** The name of the enumerator of `type` with `value`, or undefined (flags, newer values). */
export function enumName(type: Type, value: number | bigint): string | undefined {
  return enumNames(type).get(value);
}

function isBigEnum(t: EnumType): boolean {
  return t.kind === 'enum64' || t.size > 4;
}

// ------------------------------------------------------------------------------------ compiler

function isPlainChar(t: Type): boolean {
  const r = resolve(t);
  // Plain `char` only: `unsigned char`, `signed char` and `__u8` arrays are bytes.
  return r.kind === 'int' && r.size === 1 && !r.bool && (r.char || r.name === 'char');
}

function isByte(t: Type): boolean {
  const r = resolve(t);
  return r.kind === 'int' && r.size === 1 && !r.bool;
}

/** The members of a struct or union as the JS object has them: anonymous ones flattened, names made unique. */
interface FlatMember {
  key: string;
  member: Member;
  /** Bit offset from the start of the outermost struct. */
  bitOffset: number;
}

function flatMembers(t: StructType, base: number, seen: Set<string>, out: FlatMember[], depth: number): FlatMember[] {
  if (depth > 64) throw new ArgumentError(`${describeType(t)}: anonymous members nested too deep`);
  for (const m of t.members) {
    const off = base + m.bitOffset;
    if (!m.name) {
      const mt = resolve(m.type);
      if ((mt.kind === 'struct' || mt.kind === 'union') && m.bitfieldSize === 0) flatMembers(mt, off, seen, out, depth + 1);
      continue; // unnamed bitfields are padding
    }
    let key = m.name;
    for (let i = 2; seen.has(key); i++) key = `${m.name}_${i}`;
    seen.add(key);
    out.push({ key, member: m, bitOffset: off });
  }
  return out;
}

/**
 * The keys of the JS object a struct, union or datasec decodes to, with each key's BTF type
 * (anonymous members flattened, duplicate names suffixed `_2`...). Bitfields are included.
 */
export function codecKeys(type: Type): Map<string, Type> {
  const t = resolve(type);
  const out = new Map<string, Type>();
  if (t.kind === 'struct' || t.kind === 'union') {
    for (const f of flatMembers(t, 0, new Set(), [], 0)) out.set(f.key, f.member.type);
  } else if (t.kind === 'datasec') {
    for (const v of t.vars) {
      if (v.type.kind !== 'var') continue;
      let key = v.type.name;
      for (let i = 2; out.has(key); i++) key = `${v.type.name}_${i}`;
      out.set(key, v.type.type);
    }
  }
  return out;
}

class Compiler {
  readonly le: boolean;
  readonly L: string;
  /** Helper function definitions emitted before decode/encode. */
  readonly helpers: string[] = [];
  /** Constants (enum name tables, key sets) the code refers to as K[i]. */
  readonly constants: unknown[] = [];
  #counter = 0;
  readonly #arrayHelpers = new Map<string, string>();

  constructor(le: boolean) {
    this.le = le;
    this.L = le ? 'true' : 'false';
  }

  fresh(prefix: string): string {
    return `${prefix}${++this.#counter}`;
  }

  constant(v: unknown): string {
    this.constants.push(v);
    return `K[${this.constants.length - 1}]`;
  }

  // ---- decode: an expression of the value of type t at byte offset `off` (a JS expression)

  decode(type: Type, off: string, depth = 0): string {
    if (depth > 64) throw new ArgumentError(`${describeType(type)}: types nested too deep`);
    const t = resolve(type);
    const L = this.L;
    switch (t.kind) {
      case 'int': {
        if (t.bool) return t.size === 1 ? `(b[${off}] !== 0)` : `(${this.intRead(t.size, false, off)} != 0)`;
        return this.intRead(t.size, t.signed, off);
      }
      case 'enum':
      case 'enum64':
        return this.intRead(t.size, t.signed, off);
      case 'float':
        if (t.size === 4) return `d.getFloat32(${off}, ${L})`;
        if (t.size === 8) return `d.getFloat64(${off}, ${L})`;
        throw new ArgumentError(`${describeType(t)}: ${t.size}-byte floats have no JS representation; use raw bytes`);
      case 'ptr':
        return this.int64Get(false, off);
      case 'array': {
        const n = t.length;
        if (isPlainChar(t.element)) return `R.decodeCString(b, ${off}, ${n})`;
        if (isByte(t.element)) return `b.slice(${off}, ${off} + ${n})`;
        const esz = sizeof(t.element);
        if (n === 0) return '[]';
        if (n <= 4) {
          const items: string[] = [];
          for (let i = 0; i < n; i++) items.push(this.decode(t.element, `${off} + ${i * esz}`, depth + 1));
          return `[${items.join(', ')}]`;
        }
        const fn = this.arrayHelper('da', t.element, n, esz, () => {
          const body = this.decode(t.element, 'p', depth + 1);
          return (name: string) =>
            `function ${name}(b, d, o) { const a = new Array(${n}); for (let i = 0, p = o; i < ${n}; i++, p += ${esz}) a[i] = ${body}; return a; }`;
        });
        return `${fn}(b, d, ${off})`;
      }
      case 'struct':
      case 'union': {
        const fields = flatMembers(t, 0, new Set(), [], depth);
        const parts = fields.map((f) => `${JSON.stringify(f.key)}: ${this.decodeMember(f, off, depth)}`);
        return `{ ${parts.join(', ')} }`;
      }
      case 'datasec': {
        const seen = new Set<string>();
        const parts: string[] = [];
        for (const v of t.vars) {
          if (v.type.kind !== 'var') continue;
          let key = v.type.name;
          for (let i = 2; seen.has(key); i++) key = `${v.type.name}_${i}`;
          seen.add(key);
          parts.push(`${JSON.stringify(key)}: ${this.decode(v.type.type, `${off} + ${v.offset}`, depth + 1)}`);
        }
        return `{ ${parts.join(', ')} }`;
      }
      case 'var':
        return this.decode(t.type, off, depth + 1);
      default:
        throw new ArgumentError(`can't decode a value of ${describeType(t)}`);
    }
  }

  /** Helpers for arrays are shared by element type and length within one codec. */
  arrayHelper(prefix: string, element: Type, n: number, esz: number, make: () => (name: string) => string): string {
    const key = `${prefix}:${element.id}:${describeType(element)}:${n}:${esz}`;
    let name = this.#arrayHelpers.get(key);
    if (!name || element.id === 0) {
      name = this.fresh(prefix);
      const gen = make();
      this.helpers.push(gen(name));
      if (element.id !== 0) this.#arrayHelpers.set(key, name);
    }
    return name;
  }

  /** Whether the code uses `W`, the codec's Int64Access (declared in its header when so). */
  usesInt64 = false;

  /** An 8-byte integer read (Int64Access explains how), as an expression. */
  int64Get(signed: boolean, off: string): string {
    this.usesInt64 = true;
    return `W.get(b, ${off}, ${signed})`;
  }

  /** An 8-byte integer write of the bigint `v`, as a statement. */
  int64Set(off: string, v: string): string {
    this.usesInt64 = true;
    return `W.set(b, ${off}, ${v});`;
  }

  intRead(size: number, signed: boolean, off: string): string {
    const L = this.L;
    switch (size) {
      case 1:
        return signed ? `(b[${off}] << 24 >> 24)` : `b[${off}]`;
      case 2:
        return `d.get${signed ? 'Int' : 'Uint'}16(${off}, ${L})`;
      case 4:
        return `d.get${signed ? 'Int' : 'Uint'}32(${off}, ${L})`;
      case 8:
        return this.int64Get(signed, off);
      case 16:
        return `R.decode128(d, ${off}, ${L}, ${signed})`;
      default:
        throw new ArgumentError(`${size}-byte integers are not supported`);
    }
  }

  decodeMember(f: FlatMember, base: string, depth: number): string {
    const m = f.member;
    if (!m.bitfieldSize) {
      if (f.bitOffset % 8) throw new ArgumentError(`member '${m.name}' at bit ${f.bitOffset} is not byte aligned`);
      return this.decode(m.type, `${base} + ${f.bitOffset / 8}`, depth + 1);
    }
    const bits = m.bitfieldSize;
    const r = resolve(m.type);
    const signed = (r.kind === 'int' || r.kind === 'enum' || r.kind === 'enum64') && r.signed;
    const chunks = this.bitChunks(f.bitOffset, bits);
    const asBool = r.kind === 'int' && r.bool;
    const big = bits > 32 && !asBool;
    let expr: string;
    if (!big) {
      // Each chunk is a byte's share of the field, scaled by its significance: sums stay exact
      // in doubles (at most 32 bits).
      expr = chunks.map((c) => `((b[${base} + ${c.byte}] >> ${c.shift}) & ${c.mask}) * ${2 ** c.lo}`).join(' + ');
      if (signed) expr = `R_s(${expr}, ${bits})`;
    } else {
      expr = chunks.map((c) => `(BigInt((b[${base} + ${c.byte}] >> ${c.shift}) & ${c.mask}) << ${c.lo}n)`).join(' | ');
      if (signed) expr = `BigInt.asIntN(${bits}, ${expr})`;
    }
    if (asBool) return `((${expr}) !== 0)`;
    if (!this.helpers.includes(SIGN_HELPER)) this.helpers.push(SIGN_HELPER);
    return `(${expr})`;
  }

  /**
   * How the bits of a bitfield spread over bytes. Little-endian: bit k of the struct is bit
   * (k % 8) of byte k / 8, the field's least significant bit first. Big-endian (BTF follows
   * DWARF's data_bit_offset): bit k is bit 7 - (k % 8) of byte k / 8, the field's most
   * significant bit first.
   */
  bitChunks(bitOffset: number, bits: number): { byte: number; shift: number; mask: number; lo: number }[] {
    const out: { byte: number; shift: number; mask: number; lo: number }[] = [];
    const end = bitOffset + bits;
    for (let byte = Math.floor(bitOffset / 8); byte * 8 < end; byte++) {
      const s = Math.max(byte * 8, bitOffset);
      const e = Math.min(byte * 8 + 8, end);
      const count = e - s;
      const mask = (1 << count) - 1;
      if (this.le) out.push({ byte, shift: s - byte * 8, mask, lo: s - bitOffset });
      else out.push({ byte, shift: byte * 8 + 8 - e, mask, lo: end - e });
    }
    return out;
  }

  // ---- encode: statements writing the JS expression `x` (a variable name) as type t at `off`

  encode(type: Type, x: string, off: string, path: string, depth = 0): string {
    if (depth > 64) throw new ArgumentError(`${describeType(type)}: types nested too deep`);
    const t = resolve(type);
    const L = this.L;
    const P = JSON.stringify(path);
    switch (t.kind) {
      case 'int': {
        if (t.bool) {
          const v = this.fresh('v');
          return `{ const ${v} = ${x} === true ? 1 : ${x} === false ? 0 : R.toBool(${x}, ${P}); ${this.intWrite(t.size, v, off)} }`;
        }
        return this.intEncode(t.size, x, off, P);
      }
      case 'enum':
      case 'enum64': {
        const byName = new Map(t.values.map((v) => [v.name, v.value] as const));
        const k = this.constant(byName);
        const v = this.fresh('v');
        const fast =
          t.size === 4
            ? `typeof ${x} === 'number' && ((${x} >>> 0) === ${x} || (${x} | 0) === ${x})`
            : t.size === 8
              ? `R.fitsInt64(${x})`
              : 'false';
        return `{ const ${v} = ${fast} ? ${x} : R.toEnum(${x}, ${k}, ${t.size}, ${P}, ${JSON.stringify(describeType(t))}); ${this.intWrite(t.size, v, off)} }`;
      }
      case 'float': {
        if (t.size !== 4 && t.size !== 8) throw new ArgumentError(`${describeType(t)}: ${t.size}-byte floats have no JS representation; use raw bytes`);
        return `d.setFloat${t.size * 8}(${off}, typeof ${x} === 'number' ? ${x} : R.toFloat(${x}, ${P}), ${L});`;
      }
      case 'ptr':
        return this.intEncode(8, x, off, P);
      case 'array': {
        const n = t.length;
        if (isByte(t.element)) return `R.putBytes(b, ${off}, ${n}, ${x}, ${P}, ${JSON.stringify(`${isPlainChar(t.element) ? 'char' : 'a byte array'}[${n}]`)});`;
        const esz = sizeof(t.element);
        const a = this.fresh('a');
        const e = this.fresh('e');
        const i = this.fresh('i');
        const inner = this.encode(t.element, e, `${off} + ${i} * ${esz}`, `${path}[]`, depth + 1);
        return `{ const ${a} = R.toArrayLike(${x}, ${n}, ${P}); for (let ${i} = 0; ${i} < ${a}.length; ${i}++) { const ${e} = ${a}[${i}]; ${inner} } }`;
      }
      case 'struct':
      case 'union': {
        const fields = flatMembers(t, 0, new Set(), [], depth);
        const s = this.fresh('s');
        const n = this.fresh('n');
        const known = this.constant(new Set(fields.map((f) => f.key)));
        let code = `{ const ${s} = R.toObject(${x}, ${P}, ${JSON.stringify(describeType(t))}); let ${n} = 0;`;
        for (const f of fields) {
          const m = this.fresh('m');
          const sub = `${path}.${f.key}`;
          code += ` { const ${m} = ${s}[${JSON.stringify(f.key)}]; if (${m} !== undefined) { ${n}++; ${this.encodeMember(f, m, off, sub, depth)} } }`;
        }
        code += ` if (${n} !== R.keyCount(${s})) R.unknownKey(${s}, ${known}, ${P}, ${JSON.stringify(describeType(t))}); }`;
        return code;
      }
      case 'datasec': {
        const s = this.fresh('s');
        const n = this.fresh('n');
        const keys: string[] = [];
        let code = `{ const ${s} = R.toObject(${x}, ${P}, ${JSON.stringify(describeType(t))}); let ${n} = 0;`;
        const seen = new Set<string>();
        for (const v of t.vars) {
          if (v.type.kind !== 'var') continue;
          let key = v.type.name;
          for (let i = 2; seen.has(key); i++) key = `${v.type.name}_${i}`;
          seen.add(key);
          keys.push(key);
          const m = this.fresh('m');
          code += ` { const ${m} = ${s}[${JSON.stringify(key)}]; if (${m} !== undefined) { ${n}++; ${this.encode(v.type.type, m, `${off} + ${v.offset}`, `${path}.${key}`, depth + 1)} } }`;
        }
        const known = this.constant(new Set(keys));
        code += ` if (${n} !== R.keyCount(${s})) R.unknownKey(${s}, ${known}, ${P}, ${JSON.stringify(describeType(t))}); }`;
        return code;
      }
      case 'var':
        return this.encode(t.type, x, off, path, depth + 1);
      default:
        throw new ArgumentError(`can't encode a value of ${describeType(t)}`);
    }
  }

  intWrite(size: number, v: string, off: string): string {
    const L = this.L;
    switch (size) {
      case 1:
        return `b[${off}] = ${v};`;
      case 2:
        return `d.setUint16(${off}, ${v}, ${L});`;
      case 4:
        return `d.setUint32(${off}, ${v}, ${L});`;
      case 8:
        return this.int64Set(off, v);
      default:
        throw new ArgumentError(`${size}-byte integers are not supported`);
    }
  }

  /** An integer of `size` bytes (either signedness) from number, bigint or boolean. */
  intEncode(size: number, x: string, off: string, P: string): string {
    const L = this.L;
    const v = this.fresh('v');
    switch (size) {
      case 1:
      case 2:
      case 4: {
        // Fast path: an integer number in [-2^(8n-1), 2^(8n)); the setters wrap negatives.
        const lo = -(2 ** (size * 8 - 1));
        const hi = 2 ** (size * 8) - 1;
        const fast = size === 4 ? `((${x} >>> 0) === ${x} || (${x} | 0) === ${x})` : `(${x} | 0) === ${x} && ${x} >= ${lo} && ${x} <= ${hi}`;
        return `{ const ${v} = typeof ${x} === 'number' && ${fast} ? ${x} : R.toInt(${x}, ${size}, ${P}); ${this.intWrite(size, v, off)} }`;
      }
      case 8:
        this.usesInt64 = true;
        return `W.encode(b, ${off}, ${x}, ${P});`;
      case 16:
        return `R.encode128(d, ${off}, ${L}, ${x}, ${P});`;
      default:
        throw new ArgumentError(`${size}-byte integers are not supported`);
    }
  }

  encodeMember(f: FlatMember, x: string, base: string, path: string, depth: number): string {
    const m = f.member;
    if (!m.bitfieldSize) return this.encode(m.type, x, `${base} + ${f.bitOffset / 8}`, path, depth + 1);
    const bits = m.bitfieldSize;
    const r = resolve(m.type);
    const P = JSON.stringify(path);
    const v = this.fresh('v');
    const chunks = this.bitChunks(f.bitOffset, bits);
    let value: string;
    if (r.kind === 'int' && r.bool) {
      value = `R.toBool(${x}, ${P})`;
    } else if (r.kind === 'enum' || r.kind === 'enum64') {
      const k = this.constant(new Map(r.values.map((e) => [e.name, e.value] as const)));
      value = `R.toEnum(${x}, ${k}, ${Math.max(r.size, 4)}, ${P}, ${JSON.stringify(describeType(r))})`;
    } else {
      value = `(typeof ${x} === 'number' && ((${x} >>> 0) === ${x} || (${x} | 0) === ${x}) ? ${x} : R.toInt(${x}, ${Math.max(r.kind === 'int' ? r.size : 8, 4)}, ${P}))`;
    }
    // The field's bits: the value modulo 2^bits (C truncates on assignment to a bitfield).
    let code = `{ const ${v} = ${value};`;
    if (bits <= 32) {
      const u = this.fresh('u');
      code += ` const ${u} = typeof ${v} === 'bigint' ? Number(BigInt.asUintN(${bits}, ${v})) : ((${v} % ${2 ** bits}) + ${2 ** bits}) % ${2 ** bits};`;
      for (const c of chunks) {
        code += ` b[${base} + ${c.byte}] = (b[${base} + ${c.byte}] & ${~(c.mask << c.shift) & 0xff}) | ((Math.floor(${u} / ${2 ** c.lo}) & ${c.mask}) << ${c.shift});`;
      }
    } else {
      const u = this.fresh('u');
      code += ` const ${u} = BigInt.asUintN(${bits}, BigInt(${v}));`;
      for (const c of chunks) {
        code += ` b[${base} + ${c.byte}] = (b[${base} + ${c.byte}] & ${~(c.mask << c.shift) & 0xff}) | ((Number((${u} >> ${c.lo}n) & ${c.mask}n)) << ${c.shift});`;
      }
    }
    return code + ' }';
  }
}

/** Sign extension of a bits-wide unsigned number (bits <= 32), used by generated bitfield reads. */
const SIGN_HELPER = 'function R_s(v, bits) { const h = 2 ** (bits - 1); return v >= h ? v - 2 * h : v; }';

function isScalar(t: Type): boolean {
  const r = resolve(t);
  return r.kind === 'int' || r.kind === 'enum' || r.kind === 'enum64' || r.kind === 'float' || r.kind === 'ptr';
}

type Compiled = { decode: (b: Uint8Array, o?: number) => unknown; encode: (v: unknown, b?: Uint8Array, o?: number) => Uint8Array };

function compile(type: Type, le: boolean): Compiled {
  const size = sizeof(type);
  const c = new Compiler(le);
  const decodeExpr = c.decode(type, 'o');
  const encodeBody = c.encode(type, 'v', 'o', 'value');
  // Scalars write every byte; anything else is zeroed first (padding, members left out,
  // short arrays, union members of different sizes).
  const zero = isScalar(type)
    ? ''
    : size <= 64
      ? `for (let z = o, e = o + ${size}; z < e; z++) b[z] = 0;`
      : `b.fill(0, o, o + ${size});`;
  // The DataView `d` only where the code uses it: a u64 goes through W's typed arrays. The hot
  // functions stay small (a new buffer's allocation is a call of its own, and writes into it
  // without the range check and zeroing a fresh buffer needs not), so that callers' loops can
  // inline them whole: V8 counts bytecode against an inlining budget (see sys/bpf.ts).
  const viewIfUsed = (code: string) => (/\bd\b/.test(code) ? 'const d = b === lb ? dv : view(b);' : '');
  const src = `"use strict";
let lb = null, dv = null;${c.usesInt64 ? `\nconst W = R.int64Access(${le});` : ''}
function view(b) { dv = new DataView(b.buffer, b.byteOffset, b.byteLength); lb = b; return dv; }
${c.helpers.join('\n')}
function decode(b, o) {
  if (o === undefined) o = 0;
  if (!(o >= 0 && o + ${size} <= b.length)) R.rangeError(b, o, ${size});
  ${viewIfUsed(decodeExpr)}
  return ${decodeExpr};
}
function write(v, b, o) {
  ${viewIfUsed(encodeBody)}
  ${encodeBody}
  return b;
}
function encodeNew(v) {
  return write(v, new Uint8Array(${size}), 0);
}
function encode(v, b, o) {
  if (b === undefined) return encodeNew(v);
  if (o === undefined) o = 0;
  if (!(o >= 0 && o + ${size} <= b.length)) R.rangeError(b, o, ${size});
  ${zero}
  return write(v, b, o);
}
return { decode, encode };`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const factory = new Function('R', 'K', src) as (r: Runtime, k: unknown[]) => Compiled;
  return factory(RUNTIME, c.constants);
}

const codecCache = new WeakMap<Type, [BtfCodec | undefined, BtfCodec | undefined]>();

/**
 * A codec for values of BTF type `type`, compiled to JavaScript on first use and cached per
 * type object and byte order. Throws ArgumentError for types without a JS representation
 * (void, functions, forward declarations, 16-byte floats).
 */
export function btfCodec<T = unknown>(type: Type, options: BtfCodecOptions = {}): BtfCodec<T> {
  const le = options.littleEndian ?? HOST_LE;
  let entry = codecCache.get(type);
  if (!entry) {
    entry = [undefined, undefined];
    codecCache.set(type, entry);
  }
  const slot = le ? 0 : 1;
  let codec = entry[slot];
  if (!codec) {
    const { decode, encode } = compile(type, le);
    const r = resolve(type);
    const out: { -readonly [K in keyof BtfCodec]: BtfCodec[K] } = { size: sizeof(type), type, decode, encode };
    if (r.kind === 'enum' || r.kind === 'enum64') out.names = enumNames(r);
    const scalar = le === HOST_LE ? scalarKindOf(r) : undefined;
    if (scalar) out.scalar = scalar;
    codec = Object.freeze(out);
    entry[slot] = codec;
  }
  return codec as BtfCodec<T>;
}

/** The typed-array element kind whose reads equal the compiled decode of `r` (host byte order). */
function scalarKindOf(r: Type): ScalarKind | undefined {
  switch (r.kind) {
    case 'int':
    case 'enum':
    case 'enum64': {
      // Ints and enums decode as intRead does; _Bool decodes to a boolean.
      if (r.kind === 'int' && r.bool) return undefined;
      const signed = r.signed;
      switch (r.size) {
        case 1:
          return signed ? 'i8' : 'u8';
        case 2:
          return signed ? 'i16' : 'u16';
        case 4:
          return signed ? 'i32' : 'u32';
        case 8:
          return signed ? 'i64' : 'u64';
        default:
          return undefined;
      }
    }
    case 'float':
      return r.size === 4 ? 'f32' : r.size === 8 ? 'f64' : undefined;
    case 'ptr':
      return 'u64';
    default:
      return undefined;
  }
}

export type ScalarArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | BigUint64Array | BigInt64Array | Float32Array | Float64Array;
const SCALAR_ARRAYS: Record<ScalarKind, { new (b: ArrayBufferLike, offset: number, length: number): ScalarArray; BYTES_PER_ELEMENT: number }> = {
  u8: Uint8Array,
  i8: Int8Array,
  u16: Uint16Array,
  i16: Int16Array,
  u32: Uint32Array,
  i32: Int32Array,
  u64: BigUint64Array,
  i64: BigInt64Array,
  f32: Float32Array,
  f64: Float64Array,
};

/** Whether `a` is a typed array of `kind` elements (a Uint32Array for u32, a BigUint64Array for u64, ...). */
export function isScalarArrayOf(kind: ScalarKind, a: unknown): a is ScalarArray {
  return a instanceof SCALAR_ARRAYS[kind];
}

/** The typed array class that holds `kind` elements, by name ('Uint32Array' for u32, ...). */
export function scalarArrayName(kind: ScalarKind): string {
  return SCALAR_ARRAYS[kind].name;
}

/**
 * `bytes` as an array of `kind` elements (no copy), or undefined when it is not aligned to the
 * element size (typed arrays need that).
 */
export function scalarArray(kind: ScalarKind, bytes: Uint8Array): ScalarArray | undefined {
  const T = SCALAR_ARRAYS[kind];
  const n = T.BYTES_PER_ELEMENT;
  if (bytes.byteOffset % n !== 0) return undefined;
  return new T(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / n));
}

// ------------------------------------------------------------------------------------ explicit codecs

const hostDataViews = new WeakMap<Uint8Array, DataView>();
/**
 * A DataView lookup with a one-entry cache of its own. Each codec has one: a cache shared by all
 * codecs missed on every call when a loop alternates buffers (keys and values of a batch), and
 * each miss is a WeakMap lookup (~20 ns; measured 32 vs 18 ns per batch entry).
 */
function viewCache(): (b: Uint8Array) => DataView {
  let lastBuf: Uint8Array | null = null;
  let lastView: DataView | null = null;
  return (b) => {
    if (b === lastBuf) return lastView!;
    let v = hostDataViews.get(b);
    if (!v) {
      v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      hostDataViews.set(b, v);
    }
    lastBuf = b;
    lastView = v;
    return v;
  };
}

function checkRange(b: Uint8Array, o: number, size: number): void {
  if (!(o >= 0 && o + size <= b.length)) rangeError(b, o, size);
}

function intCodec(size: 1 | 2 | 4, signed: boolean): Codec<number> {
  const viewOf = viewCache();
  const P = 'value';
  // Either signedness' range is accepted (C's same-size conversions); the stores wrap.
  const check = (v: unknown): number =>
    typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** (size * 8 - 1)) && v <= 2 ** (size * 8) - 1 ? v : (toInt(v, size, P) as number);
  switch (size) {
    case 1:
      return Object.freeze({
        size,
        decode: (b: Uint8Array, o = 0) => {
          checkRange(b, o, 1);
          return signed ? (b[o]! << 24) >> 24 : b[o]!;
        },
        encode: (v: number, b?: Uint8Array, o = 0) => {
          if (!b) b = new Uint8Array(1);
          else checkRange(b, o, 1);
          b[o] = check(v);
          return b;
        },
      });
    case 2:
      return Object.freeze({
        size,
        decode: (b: Uint8Array, o = 0) => {
          checkRange(b, o, 2);
          return signed ? viewOf(b).getInt16(o, HOST_LE) : viewOf(b).getUint16(o, HOST_LE);
        },
        encode: (v: number, b?: Uint8Array, o = 0) => {
          if (!b) b = new Uint8Array(2);
          else checkRange(b, o, 2);
          viewOf(b).setUint16(o, check(v), HOST_LE);
          return b;
        },
      });
    case 4:
      return Object.freeze({
        size,
        decode: signed
          ? (b: Uint8Array, o = 0) => {
              checkRange(b, o, 4);
              return viewOf(b).getInt32(o, HOST_LE);
            }
          : (b: Uint8Array, o = 0) => {
              checkRange(b, o, 4);
              return viewOf(b).getUint32(o, HOST_LE);
            },
        encode: (v: number, b?: Uint8Array, o = 0) => {
          if (!b) b = new Uint8Array(4);
          else checkRange(b, o, 4);
          const x = typeof v === 'number' && ((v >>> 0) === v || (v | 0) === v) ? v : (toInt(v, 4, P) as number);
          viewOf(b).setUint32(o, x, HOST_LE);
          return b;
        },
      });
  }
}

function int64Codec(signed: boolean): Codec<bigint> {
  const w = new Int64Access(HOST_LE);
  return Object.freeze({
    size: 8,
    decode: (b: Uint8Array, o = 0) => {
      checkRange(b, o, 8);
      return w.get(b, o, signed);
    },
    encode: (v: bigint, b?: Uint8Array, o = 0) => {
      if (!b) b = new Uint8Array(8);
      else checkRange(b, o, 8);
      w.encode(b, o, v, 'value');
      return b;
    },
  });
}

function floatCodec(size: 4 | 8): Codec<number> {
  const viewOf = viewCache();
  return Object.freeze({
    size,
    decode: (b: Uint8Array, o = 0) => {
      checkRange(b, o, size);
      return size === 4 ? viewOf(b).getFloat32(o, HOST_LE) : viewOf(b).getFloat64(o, HOST_LE);
    },
    encode: (v: number, b?: Uint8Array, o = 0) => {
      if (!b) b = new Uint8Array(size);
      else checkRange(b, o, size);
      const x = typeof v === 'number' ? v : toFloat(v, 'value');
      if (size === 4) viewOf(b).setFloat32(o, x, HOST_LE);
      else viewOf(b).setFloat64(o, x, HOST_LE);
      return b;
    },
  });
}

/** Raw bytes: decode copies them out, encode takes bytes (or a string) of up to n, zero-padded. */
function bytesCodec(n: number): Codec<Uint8Array> {
  return Object.freeze({
    size: n,
    decode: (b: Uint8Array, o = 0) => {
      checkRange(b, o, n);
      return b.slice(o, o + n);
    },
    encode: (v: Uint8Array, b?: Uint8Array, o = 0) => {
      if (!b) b = new Uint8Array(n);
      else checkRange(b, o, n);
      if (v instanceof Uint8Array && v.length === n) b.set(v, o);
      else putBytes(b, o, n, v, 'value');
      return b;
    },
  });
}

/** A NUL-padded string in a char array of n bytes. */
function cStringCodec(n: number): Codec<string> {
  return Object.freeze({
    size: n,
    decode: (b: Uint8Array, o = 0) => {
      checkRange(b, o, n);
      return decodeCString(b, o, n);
    },
    encode: (v: string, b?: Uint8Array, o = 0) => {
      if (!b) b = new Uint8Array(n);
      else checkRange(b, o, n);
      putBytes(b, o, n, v, 'value');
      return b;
    },
  });
}

/** `n` values of `element` back to back, as a JS array. */
function arrayCodec<T>(element: Codec<T>, n: number): Codec<T[]> {
  const esz = element.size;
  return Object.freeze({
    size: esz * n,
    decode: (b: Uint8Array, o = 0) => {
      checkRange(b, o, esz * n);
      const out = new Array<T>(n);
      for (let i = 0; i < n; i++) out[i] = element.decode(b, o + i * esz);
      return out;
    },
    encode: (v: T[], b?: Uint8Array, o = 0) => {
      if (!b) b = new Uint8Array(esz * n);
      else {
        checkRange(b, o, esz * n);
        b.fill(0, o, o + esz * n);
      }
      const a = toArrayLike(v, n, 'value') as ArrayLike<T>;
      for (let i = 0; i < a.length; i++) element.encode(a[i]!, b, o + i * esz);
      return b;
    },
  });
}

/** Fields of an explicit struct codec: a codec and its byte offset. */
export type StructFields = Record<string, { offset: number; codec: Codec<unknown> }>;

/**
 * A struct of explicit fields, for maps without BTF: `codecs.struct({ pid: { offset: 0, codec:
 * codecs.u32 }, ts: { offset: 8, codec: codecs.u64 } }, 16)`. Bytes not covered are zeroed on
 * encode; members left out are zero; unknown member names are ArgumentErrors.
 */
function structCodec<T extends Record<string, unknown>>(fields: StructFields, size?: number): Codec<T> {
  const list = Object.entries(fields);
  let end = 0;
  for (const [name, f] of list) {
    if (!Number.isInteger(f.offset) || f.offset < 0) throw new ArgumentError(`field '${name}': offset ${f.offset} is not a byte offset`);
    end = Math.max(end, f.offset + f.codec.size);
  }
  const total = size ?? end;
  if (total < end) throw new ArgumentError(`struct size ${total} is smaller than its fields' extent ${end}`);
  const known = new Set(list.map(([n]) => n));
  return Object.freeze({
    size: total,
    decode: (b: Uint8Array, o = 0) => {
      checkRange(b, o, total);
      const out: Record<string, unknown> = {};
      for (const [name, f] of list) out[name] = f.codec.decode(b, o + f.offset);
      return out as T;
    },
    encode: (v: T, b?: Uint8Array, o = 0) => {
      if (!b) b = new Uint8Array(total);
      else {
        checkRange(b, o, total);
        b.fill(0, o, o + total);
      }
      const obj = toObject(v, 'value', 'a struct');
      let n = 0;
      for (const [name, f] of list) {
        const x = obj[name];
        if (x === undefined) continue;
        n++;
        f.codec.encode(x, b, o + f.offset);
      }
      if (n !== keyCount(obj)) unknownKey(obj, known, 'value', 'the struct');
      return b;
    },
  });
}

const boolCodec: Codec<boolean> = Object.freeze({
  size: 1,
  decode: (b: Uint8Array, o = 0) => {
    checkRange(b, o, 1);
    return b[o] !== 0;
  },
  encode: (v: boolean, b?: Uint8Array, o = 0) => {
    if (!b) b = new Uint8Array(1);
    else checkRange(b, o, 1);
    b[o] = toBool(v, 'value');
    return b;
  },
});

/**
 * Ready codecs for maps without BTF, in host byte order: integers up to 32 bits as numbers,
 * 64-bit ones as bigints, `bytes(n)` as Uint8Array copies, `cString(n)` as strings in NUL-padded
 * char arrays, `array(codec, n)` and `struct(fields, size)` to compose.
 */
const withScalar = <T>(codec: Codec<T>, scalar: ScalarKind): Codec<T> => Object.freeze({ ...codec, scalar });

export const codecs = Object.freeze({
  u8: withScalar(intCodec(1, false), 'u8'),
  u16: withScalar(intCodec(2, false), 'u16'),
  u32: withScalar(intCodec(4, false), 'u32'),
  u64: withScalar(int64Codec(false), 'u64'),
  i8: withScalar(intCodec(1, true), 'i8'),
  i16: withScalar(intCodec(2, true), 'i16'),
  i32: withScalar(intCodec(4, true), 'i32'),
  i64: withScalar(int64Codec(true), 'i64'),
  f32: withScalar(floatCodec(4), 'f32'),
  f64: withScalar(floatCodec(8), 'f64'),
  bool: boolCodec,
  bytes: bytesCodec,
  cString: cStringCodec,
  array: arrayCodec,
  struct: structCodec,
});
