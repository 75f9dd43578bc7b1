/**
 * JS values to and from the bytes of a BTF-typed variable (global data, kconfig values).
 *
 * Mapping (little- or big-endian per the object):
 *  - integers of 1, 2 and 4 bytes: `number`; 8 bytes: `bigint` (number accepted when writing);
 *  - `_Bool`: `boolean` (numbers accepted); enums: their value as a number (bigint for 8-byte
 *    enums), and an enumerator's name is accepted when writing;
 *  - float/double: `number`; pointers: `bigint`;
 *  - `char` arrays: `string` (NUL-padded; writing a string longer than the array throws), also
 *    accepted as a `Uint8Array`; other arrays (`__u8[]` included): JS arrays;
 *  - structs and unions: plain objects keyed by member name (bitfields included); writing a
 *    struct takes a partial object and leaves missing members as they were.
 * Typedefs and qualifiers (const, volatile) are looked through.
 */
import { ArgumentError } from '../errors.js';
import { resolve, sizeof, describeType, type Type } from '../btf/index.js';

function isCharType(t: Type): boolean {
  const r = resolve(t);
  // Plain `char` only: `unsigned char` and `__u8` arrays are byte arrays, read as numbers.
  return r.kind === 'int' && r.size === 1 && !r.bool && (r.char || r.name === 'char');
}

function intRange(size: number, signed: boolean): [bigint, bigint] {
  const bits = BigInt(size * 8);
  return signed ? [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n] : [0n, (1n << bits) - 1n];
}

function toBigInt(v: unknown, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  throw new ArgumentError(`${what}: expected an integer, got ${typeof v === 'number' ? v : typeof v}`, 'ERR_VALUE');
}

function writeInt(dv: DataView, off: number, size: number, value: bigint, le: boolean): void {
  switch (size) {
    case 1:
      dv.setUint8(off, Number(BigInt.asUintN(8, value)));
      return;
    case 2:
      dv.setUint16(off, Number(BigInt.asUintN(16, value)), le);
      return;
    case 4:
      dv.setUint32(off, Number(BigInt.asUintN(32, value)), le);
      return;
    case 8:
      dv.setBigUint64(off, BigInt.asUintN(64, value), le);
      return;
    default: {
      // 16-byte __int128 and odd sizes: byte by byte.
      let v = BigInt.asUintN(size * 8, value);
      for (let i = 0; i < size; i++) {
        dv.setUint8(le ? off + i : off + size - 1 - i, Number(v & 0xffn));
        v >>= 8n;
      }
    }
  }
}

function readInt(dv: DataView, off: number, size: number, signed: boolean, le: boolean): bigint {
  let v: bigint;
  switch (size) {
    case 1:
      v = BigInt(dv.getUint8(off));
      break;
    case 2:
      v = BigInt(dv.getUint16(off, le));
      break;
    case 4:
      v = BigInt(dv.getUint32(off, le));
      break;
    case 8:
      v = dv.getBigUint64(off, le);
      break;
    default:
      v = 0n;
      for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(dv.getUint8(le ? off + i : off + size - 1 - i));
  }
  return signed ? BigInt.asIntN(size * 8, v) : v;
}

/** Decodes the value of type `t` at `off` (see the module comment for the mapping). */
export function decodeValue(t: Type, dv: DataView, off: number, le = true): unknown {
  const r = resolve(t);
  switch (r.kind) {
    case 'int': {
      const v = readInt(dv, off, r.size, r.signed, le);
      if (r.bool) return v !== 0n;
      return r.size <= 4 ? Number(v) : v;
    }
    case 'enum':
    case 'enum64': {
      const v = readInt(dv, off, r.size, r.signed, le);
      return r.size <= 4 ? Number(v) : v;
    }
    case 'float':
      if (r.size === 4) return dv.getFloat32(off, le);
      if (r.size === 8) return dv.getFloat64(off, le);
      throw new ArgumentError(`${describeType(r)}: ${r.size}-byte floats are not supported`, 'ERR_VALUE');
    case 'ptr':
      return readInt(dv, off, 8, false, le);
    case 'array': {
      const esz = sizeof(r.element);
      if (isCharType(r.element)) {
        const bytes = new Uint8Array(dv.buffer, dv.byteOffset + off, r.length);
        const end = bytes.indexOf(0);
        return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
      }
      const out: unknown[] = [];
      for (let i = 0; i < r.length; i++) out.push(decodeValue(r.element, dv, off + i * esz, le));
      return out;
    }
    case 'struct':
    case 'union': {
      const out: Record<string, unknown> = {};
      for (const m of r.members) {
        if (m.bitfieldSize) {
          out[m.name] = readBitfield(dv, off, m.bitOffset, m.bitfieldSize, m.type, le);
        } else if (m.name === '') {
          Object.assign(out, decodeValue(m.type, dv, off + m.bitOffset / 8, le) as object);
        } else {
          out[m.name] = decodeValue(m.type, dv, off + m.bitOffset / 8, le);
        }
      }
      return out;
    }
    case 'var':
      return decodeValue(r.type, dv, off, le);
    default:
      throw new ArgumentError(`can't decode a value of ${describeType(r)}`, 'ERR_VALUE');
  }
}

function bitfieldBase(off: number, bitOffset: number, bits: number): { byte: number; shift: number; width: number } {
  // Read the smallest aligned window (up to 8 bytes) covering the bitfield, little-endian order.
  const first = Math.floor(bitOffset / 8);
  const last = Math.floor((bitOffset + bits - 1) / 8);
  return { byte: off + first, shift: bitOffset - first * 8, width: last - first + 1 };
}

function readBitfield(dv: DataView, off: number, bitOffset: number, bits: number, type: Type, le: boolean): unknown {
  const { byte, shift, width } = bitfieldBase(off, bitOffset, bits);
  let raw = 0n;
  if (le) {
    for (let i = width - 1; i >= 0; i--) raw = (raw << 8n) | BigInt(dv.getUint8(byte + i));
    raw = (raw >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
  } else {
    for (let i = 0; i < width; i++) raw = (raw << 8n) | BigInt(dv.getUint8(byte + i));
    raw = (raw >> BigInt(width * 8 - shift - bits)) & ((1n << BigInt(bits)) - 1n);
  }
  const r = resolve(type);
  const signed = (r.kind === 'int' || r.kind === 'enum' || r.kind === 'enum64') && r.signed;
  const v = signed ? BigInt.asIntN(bits, raw) : raw;
  if (r.kind === 'int' && r.bool) return v !== 0n;
  return bits <= 32 ? Number(v) : v;
}

function writeBitfield(dv: DataView, off: number, bitOffset: number, bits: number, value: bigint, le: boolean): void {
  const { byte, shift, width } = bitfieldBase(off, bitOffset, bits);
  let raw = 0n;
  if (le) for (let i = width - 1; i >= 0; i--) raw = (raw << 8n) | BigInt(dv.getUint8(byte + i));
  else for (let i = 0; i < width; i++) raw = (raw << 8n) | BigInt(dv.getUint8(byte + i));
  const pos = le ? BigInt(shift) : BigInt(width * 8 - shift - bits);
  const mask = ((1n << BigInt(bits)) - 1n) << pos;
  raw = (raw & ~mask) | ((BigInt.asUintN(bits, value) << pos) & mask);
  if (le) {
    for (let i = 0; i < width; i++) dv.setUint8(byte + i, Number((raw >> BigInt(8 * i)) & 0xffn));
  } else {
    for (let i = 0; i < width; i++) dv.setUint8(byte + i, Number((raw >> BigInt(8 * (width - 1 - i))) & 0xffn));
  }
}

/**
 * Encodes `value` as type `t` into `dv` at `off`. Throws ArgumentError for values that don't
 * fit the type (out of range integers, unknown enumerators, strings too long, wrong shapes).
 */
export function encodeValue(t: Type, value: unknown, dv: DataView, off: number, le = true, what = 'value'): void {
  const r = resolve(t);
  switch (r.kind) {
    case 'int': {
      let v: bigint;
      if (r.bool) {
        if (typeof value !== 'boolean' && value !== 0 && value !== 1 && value !== 0n && value !== 1n) {
          throw new ArgumentError(`${what}: expected a boolean for ${describeType(r)}`, 'ERR_VALUE');
        }
        v = value === true || value === 1 || value === 1n ? 1n : 0n;
      } else if (typeof value === 'string' && r.size === 1 && value.length === 1) {
        v = BigInt(value.charCodeAt(0));
      } else {
        v = toBigInt(value, what);
      }
      const [lo, hi] = intRange(r.size, r.signed);
      // Accept the unsigned spelling of negative numbers and the other way round, as C does for
      // same-size conversions, but not values outside both ranges.
      const [ulo, uhi] = intRange(r.size, false);
      const [slo, shi] = intRange(r.size, true);
      if ((v < lo || v > hi) && (v < ulo || v > uhi) && (v < slo || v > shi)) {
        throw new ArgumentError(`${what}: ${v} doesn't fit in ${describeType(r)} (${r.size} bytes)`, 'ERR_VALUE');
      }
      writeInt(dv, off, r.size, v, le);
      return;
    }
    case 'enum':
    case 'enum64': {
      let v: bigint;
      if (typeof value === 'string') {
        const e = r.values.find((x) => x.name === value);
        if (!e) throw new ArgumentError(`${what}: '${value}' is not an enumerator of ${describeType(r)}`, 'ERR_VALUE');
        v = e.value;
      } else {
        v = toBigInt(value, what);
      }
      writeInt(dv, off, r.size, v, le);
      return;
    }
    case 'float':
      if (typeof value !== 'number') throw new ArgumentError(`${what}: expected a number for ${describeType(r)}`, 'ERR_VALUE');
      if (r.size === 4) dv.setFloat32(off, value, le);
      else if (r.size === 8) dv.setFloat64(off, value, le);
      else throw new ArgumentError(`${describeType(r)}: ${r.size}-byte floats are not supported`, 'ERR_VALUE');
      return;
    case 'ptr':
      writeInt(dv, off, 8, toBigInt(value, what), le);
      return;
    case 'array': {
      const esz = sizeof(r.element);
      if (isCharType(r.element) && (typeof value === 'string' || value instanceof Uint8Array)) {
        const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
        if (bytes.length > r.length) throw new ArgumentError(`${what}: ${bytes.length} bytes don't fit in char[${r.length}]`, 'ERR_VALUE');
        const dst = new Uint8Array(dv.buffer, dv.byteOffset + off, r.length);
        dst.fill(0);
        dst.set(bytes);
        return;
      }
      if (!Array.isArray(value) && !(ArrayBuffer.isView(value) && !(value instanceof DataView))) {
        throw new ArgumentError(`${what}: expected an array for ${describeType(r)}`, 'ERR_VALUE');
      }
      const arr = value as ArrayLike<unknown>;
      if (arr.length > r.length) throw new ArgumentError(`${what}: ${arr.length} elements don't fit in an array of ${r.length}`, 'ERR_VALUE');
      for (let i = 0; i < arr.length; i++) encodeValue(r.element, arr[i], dv, off + i * esz, le, `${what}[${i}]`);
      return;
    }
    case 'struct':
    case 'union': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new ArgumentError(`${what}: expected an object for ${describeType(r)}`, 'ERR_VALUE');
      }
      const obj = value as Record<string, unknown>;
      const known = new Set<string>();
      const visit = (st: Type, base: number) => {
        const s = resolve(st);
        if (s.kind !== 'struct' && s.kind !== 'union') return;
        for (const m of s.members) {
          if (m.name === '' && m.bitfieldSize === 0) {
            visit(m.type, base + m.bitOffset / 8);
            continue;
          }
          known.add(m.name);
          if (!(m.name in obj)) continue;
          if (m.bitfieldSize) writeBitfield(dv, base, m.bitOffset, m.bitfieldSize, toBigInt(obj[m.name], `${what}.${m.name}`), le);
          else encodeValue(m.type, obj[m.name], dv, base + m.bitOffset / 8, le, `${what}.${m.name}`);
        }
      };
      visit(r, off);
      for (const k of Object.keys(obj)) {
        if (!known.has(k)) throw new ArgumentError(`${what}: ${describeType(r)} has no member '${k}'`, 'ERR_VALUE');
      }
      return;
    }
    case 'var':
      encodeValue(r.type, value, dv, off, le, what);
      return;
    default:
      throw new ArgumentError(`${what}: can't encode a value of ${describeType(r)}`, 'ERR_VALUE');
  }
}
