/**
 * The BTF decoder behind Spec: header, the one framing pass over the type section, lazily
 * materialised type objects and the lazily built name index.
 *
 * How the laziness works:
 *  - Parsing reads the header, takes a Uint32Array of the type section in host byte order (a
 *    view of the input when it is little-endian and 4-byte aligned, else a copy) and makes one
 *    pass over the records to fill `offsets` (the word position of each type). Nothing else is
 *    decoded: no strings, no objects.
 *  - `lookup(id)` materialises a type object on first request and caches it by id. A
 *    materialised type has its scalar fields (id, kind, name, size, bits, linkage, ...) as own
 *    data properties; its references to other types (target, element, members, params, values,
 *    vars, proto, returnType, type) are accessors on the class prototype that decode the record
 *    on first access, resolve the referenced ids through `lookup` (which again only builds
 *    shallow objects) and cache the result. Assigning to a reference field replaces it.
 *    So touching one type costs O(its own record), never O(reachable graph).
 *  - The name index (hash of the bytes of each type's name -> chain of type indexes) is built
 *    on the first lookup by name; it compares string bytes and decodes no strings.
 *
 * Validation follows the same split: framing errors (header, section bounds, unknown kinds,
 * records running past the section) throw at parse time; bad type ids, bad string offsets and
 * bad linkage values throw a FormatError (code ERR_BTF) when the type holding them is
 * materialised or its reference field is first read.
 */

import type {
  ArrayType,
  DatasecType,
  DeclTagType,
  EnumType,
  EnumValue,
  FloatType,
  FuncParam,
  FuncProtoType,
  FuncType,
  FwdType,
  IntType,
  Linkage,
  Member,
  PointerType,
  RefType,
  StructType,
  Type,
  VarSecinfo,
  VarType,
} from './types.js';
import { BTF_KIND, VOID } from './types.js';
import { FormatError } from '../errors.js';
import { btfError, describeType, KIND_NAMES } from './util.js';

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
/** Size of the BTF header this library writes (and the minimum it reads). */
export const BTF_HEADER_LEN = 24;

export type ByteOrder = 'little' | 'big';

export const HOST_BYTE_ORDER: ByteOrder = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 'little' : 'big';

export interface BtfHeader {
  byteOrder: ByteOrder;
  version: number;
  flags: number;
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
}

/** Byte order of a blob starting with the BTF magic (0xeB9F), as the magic's bytes tell. */
export function detectByteOrder(bytes: Uint8Array, what = 'BTF'): ByteOrder {
  if (bytes.length < 2) throw new FormatError('ERR_BTF', `${what}: ${bytes.length} bytes, too short for a header`, 0);
  if (bytes[0] === 0x9f && bytes[1] === 0xeb) return 'little';
  if (bytes[0] === 0xeb && bytes[1] === 0x9f) return 'big';
  const magic = ((bytes[0]! << 8) | bytes[1]!).toString(16).padStart(4, '0');
  throw new FormatError('ERR_BTF', `${what}: bad magic 0x${magic} (want 0xeb9f in either byte order)`, 0);
}

/** Reads and checks the BTF header: magic, version, section bounds. */
export function parseBtfHeader(bytes: Uint8Array): BtfHeader {
  const byteOrder = detectByteOrder(bytes);
  if (bytes.length < BTF_HEADER_LEN) throw btfError(`BTF: ${bytes.length} bytes, too short for the ${BTF_HEADER_LEN}-byte header`, 0);
  const le = byteOrder === 'little';
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[2]!;
  const flags = bytes[3]!;
  const hdrLen = dv.getUint32(4, le);
  const typeOff = dv.getUint32(8, le);
  const typeLen = dv.getUint32(12, le);
  const strOff = dv.getUint32(16, le);
  const strLen = dv.getUint32(20, le);
  if (version !== BTF_VERSION) throw btfError(`BTF: unsupported version ${version}`, 2);
  if (hdrLen < BTF_HEADER_LEN) throw btfError(`BTF: header length ${hdrLen} is less than ${BTF_HEADER_LEN}`, 4);
  if (hdrLen > bytes.length) throw btfError(`BTF: header length ${hdrLen} runs past the end of the ${bytes.length}-byte blob`, 4);
  const avail = bytes.length - hdrLen;
  if (typeOff + typeLen > avail) {
    throw btfError(`BTF: type section [${typeOff}, +${typeLen}) runs past the end of the data (${avail} bytes after the header)`, 8);
  }
  if (strOff + strLen > avail) {
    throw btfError(`BTF: string section [${strOff}, +${strLen}) runs past the end of the data (${avail} bytes after the header)`, 16);
  }
  if (typeLen % 4 !== 0) throw btfError(`BTF: type section length ${typeLen} is not a multiple of 4`, 12);
  if (typeLen > 0 && strLen > 0 && typeOff < strOff + strLen && strOff < typeOff + typeLen) {
    throw btfError(`BTF: type section and string section overlap`, 8);
  }
  return { byteOrder, version, flags, hdrLen, typeOff, typeLen, strOff, strLen };
}

/** `len` bytes of `bytes` from `start` as host-order 32-bit words: a view when possible. */
export function wordsOf(bytes: Uint8Array, start: number, len: number, byteOrder: ByteOrder): Uint32Array {
  const abs = bytes.byteOffset + start;
  if (byteOrder === HOST_BYTE_ORDER && abs % 4 === 0) return new Uint32Array(bytes.buffer, abs, len >>> 2);
  const out = new Uint32Array(len >>> 2);
  if (byteOrder === HOST_BYTE_ORDER) {
    new Uint8Array(out.buffer).set(bytes.subarray(start, start + len));
    return out;
  }
  const dv = new DataView(bytes.buffer, abs, len);
  const le = byteOrder === 'little';
  for (let i = 0; i < out.length; i++) out[i] = dv.getUint32(i * 4, le);
  return out;
}

// Extra 32-bit words after the 3-word btf_type header, by kind: a fixed part, and per vlen item.
// 255 marks a kind this parser doesn't know.
const FIXED_WORDS = new Uint8Array(128).fill(255);
const VLEN_WORDS = new Uint8Array(128);
{
  const set = (k: number, fixed: number, per: number): void => {
    FIXED_WORDS[k] = fixed;
    VLEN_WORDS[k] = per;
  };
  set(BTF_KIND.INT, 1, 0);
  set(BTF_KIND.PTR, 0, 0);
  set(BTF_KIND.ARRAY, 3, 0);
  set(BTF_KIND.STRUCT, 0, 3);
  set(BTF_KIND.UNION, 0, 3);
  set(BTF_KIND.ENUM, 0, 2);
  set(BTF_KIND.FWD, 0, 0);
  set(BTF_KIND.TYPEDEF, 0, 0);
  set(BTF_KIND.VOLATILE, 0, 0);
  set(BTF_KIND.CONST, 0, 0);
  set(BTF_KIND.RESTRICT, 0, 0);
  set(BTF_KIND.FUNC, 0, 0);
  set(BTF_KIND.FUNC_PROTO, 0, 2);
  set(BTF_KIND.VAR, 1, 0);
  set(BTF_KIND.DATASEC, 0, 3);
  set(BTF_KIND.FLOAT, 0, 0);
  set(BTF_KIND.DECL_TAG, 1, 0);
  set(BTF_KIND.TYPE_TAG, 0, 0);
  set(BTF_KIND.ENUM64, 0, 3);
}

// btf_type.info: vlen in bits 0-15 (bits 16-23 must be zero in the kernel's current format and
// are the high vlen bits in libbpf's extended one, so reading 24 bits accepts both); kind in
// bits 24-28 (24-30 extended); kind_flag in bit 31.
const VLEN_MASK = 0xffffff;
const infoKind = (info: number): number => (info >>> 24) & 0x7f;

/** Highest type id BTF can express (BTF_MAX_TYPE). */
export const BTF_MAX_TYPE = 0xfffff;

const LINKAGES: readonly Linkage[] = ['static', 'global', 'extern'];

const utf8 = new TextDecoder('utf-8');

function decodeString(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= 48) {
    let s = '';
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c >= 0x80) return utf8.decode(buf.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8.decode(buf.subarray(start, end));
}

const encoder = new TextEncoder();

function fnv1a(buf: Uint8Array, start: number): number {
  let h = 0x811c9dc5;
  for (let i = start; ; i++) {
    const c = buf[i]!;
    if (c === 0) return h >>> 0;
    h = Math.imul(h ^ c, 0x01000193);
  }
}

/** The decoded state of one BTF blob (a Spec's internals). */
export class BtfData {
  readonly base: BtfData | undefined;
  readonly byteOrder: ByteOrder;
  /** The type section as host-order words. */
  readonly w: Uint32Array;
  /** Byte offset of the type section in the input, for error messages. */
  readonly typeSecStart: number;
  /** Word position in `w` of each of this blob's types, in id order. */
  readonly offsets: Uint32Array;
  /** Number of types in this blob (not counting void or the base's). */
  readonly count: number;
  /** Id of the first type of this blob: 1, or the base's last id + 1 for split BTF. */
  readonly firstId: number;
  /** The string section (a view of the input). */
  readonly strings: Uint8Array;
  readonly strSecStart: number;
  /** String offset where this blob's strings start (the base's string length for split BTF). */
  readonly strStart: number;

  #cache: (Type | undefined)[] | undefined;
  #nameHead: Int32Array | undefined;
  #nameNext: Int32Array | undefined;

  constructor(bytes: Uint8Array, base: BtfData | undefined) {
    const hdr = parseBtfHeader(bytes);
    if (base && base.byteOrder !== hdr.byteOrder) {
      throw btfError(`split BTF is ${hdr.byteOrder}-endian but its base is ${base.byteOrder}-endian`, 0);
    }
    this.base = base;
    this.byteOrder = hdr.byteOrder;
    this.typeSecStart = hdr.hdrLen + hdr.typeOff;
    this.strSecStart = hdr.hdrLen + hdr.strOff;
    this.strings = bytes.subarray(this.strSecStart, this.strSecStart + hdr.strLen);
    this.strStart = base ? base.strStart + base.strings.length : 0;
    this.firstId = base ? base.lastId + 1 : 1;

    const s = this.strings;
    if (!base) {
      if (s.length === 0 || s[0] !== 0) throw btfError('BTF: the string section must start with an empty string', this.strSecStart);
    }
    if (s.length > 0 && s[s.length - 1] !== 0) {
      throw btfError('BTF: the string section does not end with a NUL byte', this.strSecStart + s.length - 1);
    }

    const w = wordsOf(bytes, this.typeSecStart, hdr.typeLen, hdr.byteOrder);
    this.w = w;
    const n = w.length;
    // Each record has at least 3 words: the count of records is at most n / 3.
    const offsets = new Uint32Array(Math.floor(n / 3));
    let count = 0;
    let p = 0;
    while (p < n) {
      if (p + 3 > n) throw btfError(`BTF: truncated type record (id ${this.firstId + count})`, this.typeSecStart + p * 4);
      const info = w[p + 1]!;
      const kind = infoKind(info);
      const fixed = FIXED_WORDS[kind]!;
      if (fixed === 255) throw btfError(`BTF: type id ${this.firstId + count} has unknown kind ${kind}`, this.typeSecStart + p * 4 + 4);
      const next = p + 3 + fixed + (info & VLEN_MASK) * VLEN_WORDS[kind]!;
      if (next > n) {
        throw btfError(
          `BTF: type id ${this.firstId + count} (${KIND_NAMES[kind]}, vlen ${info & VLEN_MASK}) runs past the end of the type section`,
          this.typeSecStart + p * 4,
        );
      }
      offsets[count++] = p;
      p = next;
    }
    this.count = count;
    this.offsets = count === offsets.length ? offsets : offsets.slice(0, count);
    if (this.lastId > BTF_MAX_TYPE) throw btfError(`BTF: ${this.lastId} types exceed the maximum type id ${BTF_MAX_TYPE}`, this.typeSecStart);
  }

  get lastId(): number {
    return this.firstId + this.count - 1;
  }

  /** Byte offset in the input of word `pos` of the type section. */
  at(pos: number): number {
    return this.typeSecStart + pos * 4;
  }

  /** Kind number of type `id` without materialising it; -1 for an id out of range. */
  kindNumberOf(id: number): number {
    if (id === 0) return 0;
    if (id < this.firstId) return this.base ? this.base.kindNumberOf(id) : -1;
    const idx = id - this.firstId;
    if (!(idx < this.count)) return -1;
    return infoKind(this.w[this.offsets[idx]! + 1]!);
  }

  /** The type with this id (0 is VOID), materialised on first use; undefined if out of range. */
  lookup(id: number): Type | undefined {
    if (id === 0) return VOID;
    if (id < this.firstId) return this.base?.lookup(id);
    const idx = id - this.firstId;
    if (!(idx < this.count)) return undefined;
    const cache = (this.#cache ??= new Array<Type | undefined>(this.count));
    return (cache[idx] ??= this.materialise(id, this.offsets[idx]!));
  }

  /** Resolves the type id stored at word `pos` of type `owner`'s record. */
  ref(pos: number, owner: number): Type {
    const id = this.w[pos]!;
    const t = this.lookup(id);
    if (t === undefined) {
      throw btfError(`BTF: type [${owner}] refers to type id ${id}, but the last id is ${this.lastId}`, this.at(pos));
    }
    return t;
  }

  /** The string at a string offset (offsets below strStart belong to the base). */
  stringAt(off: number): string {
    if (!Number.isInteger(off) || off < 0) throw btfError(`BTF: bad string offset ${off}`);
    if (off < this.strStart) {
      if (this.base) return this.base.stringAt(off);
    } else {
      const local = off - this.strStart;
      const s = this.strings;
      if (local < s.length) return decodeString(s, local, s.indexOf(0, local));
    }
    throw btfError(`BTF: string offset ${off} is out of range (string section ends at ${this.strStart + this.strings.length})`);
  }

  /** The string at word `pos` of type `owner`'s record. */
  str(pos: number, owner: number): string {
    const off = this.w[pos]!;
    if (off === 0) return '';
    if (off >= this.strStart && off - this.strStart < this.strings.length) {
      const local = off - this.strStart;
      return decodeString(this.strings, local, this.strings.indexOf(0, local));
    }
    if (off < this.strStart && this.base) return this.base.stringAt(off);
    throw btfError(
      `BTF: type [${owner}] has string offset ${off}, beyond the string section (${this.strStart + this.strings.length} bytes)`,
      this.at(pos),
    );
  }

  /** The data holding string offset `off` and the offset local to its string section, or undefined. */
  private strOwner(off: number): BtfData | undefined {
    let d: BtfData | undefined = this;
    while (d && off < d.strStart) d = d.base;
    if (!d || off - d.strStart >= d.strings.length) return undefined;
    return d;
  }

  // -------------------------------------------------------------------------------------------
  // Name index
  // -------------------------------------------------------------------------------------------

  private buildNameIndex(): void {
    const n = this.count;
    let size = 16;
    while (size < n * 2) size *= 2;
    const mask = size - 1;
    const head = new Int32Array(size).fill(-1);
    const next = new Int32Array(n);
    const w = this.w;
    const offsets = this.offsets;
    const own = this.strings;
    const strStart = this.strStart;
    // Chains are built backwards so that walking one yields ascending ids.
    for (let i = n - 1; i >= 0; i--) {
      const off = w[offsets[i]!]!;
      if (off === 0) continue;
      let h: number;
      const local = off - strStart;
      if (local >= 0 && local < own.length) {
        h = fnv1a(own, local);
      } else {
        const d = this.strOwner(off);
        if (!d) throw btfError(`BTF: type [${this.firstId + i}] has string offset ${off}, beyond the string section`, this.at(offsets[i]!));
        h = fnv1a(d.strings, off - d.strStart);
      }
      const b = h & mask;
      next[i] = head[b]!;
      head[b] = i;
    }
    this.#nameHead = head;
    this.#nameNext = next;
  }

  /** Ids of this blob's own types named exactly `name` (UTF-8 bytes compared), ascending. */
  ownIdsByName(name: string, out: number[]): void {
    if (name === '' || this.count === 0) return;
    if (!this.#nameHead) this.buildNameIndex();
    const head = this.#nameHead!;
    const next = this.#nameNext!;
    const q = encoder.encode(name);
    let h = 0x811c9dc5;
    for (let i = 0; i < q.length; i++) h = Math.imul(h ^ q[i]!, 0x01000193);
    const w = this.w;
    for (let i = head[(h >>> 0) & (head.length - 1)]!; i >= 0; i = next[i]!) {
      const d = this.strOwner(w[this.offsets[i]!]!)!;
      const s = d.strings;
      let j = w[this.offsets[i]!]! - d.strStart;
      let k = 0;
      while (k < q.length && s[j] === q[k]) {
        j++;
        k++;
      }
      if (k === q.length && s[j] === 0) out.push(this.firstId + i);
    }
  }

  /** Ids of all types named `name`, base types first. */
  idsByName(name: string, out: number[] = []): number[] {
    this.base?.idsByName(name, out);
    this.ownIdsByName(name, out);
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Materialisation
  // -------------------------------------------------------------------------------------------

  private materialise(id: number, p: number): Type {
    const w = this.w;
    const info = w[p + 1]!;
    const kind = infoKind(info);
    const vlen = info & VLEN_MASK;
    const kflag = info >>> 31 === 1;
    const name = this.str(p, id);
    switch (kind) {
      case BTF_KIND.INT: {
        const enc = w[p + 3]!;
        const encoding = (enc >>> 24) & 0x0f;
        return new BtfInt(id, name, w[p + 2]!, enc & 0xff, (enc >>> 16) & 0xff, encoding);
      }
      case BTF_KIND.PTR:
        return new BtfPtr(this, id, name, p);
      case BTF_KIND.ARRAY:
        return new BtfArray(this, id, name, p);
      case BTF_KIND.STRUCT:
      case BTF_KIND.UNION:
        return new BtfStruct(this, id, kind === BTF_KIND.STRUCT ? 'struct' : 'union', name, p, vlen, kflag);
      case BTF_KIND.ENUM:
      case BTF_KIND.ENUM64:
        return new BtfEnum(this, id, kind === BTF_KIND.ENUM ? 'enum' : 'enum64', name, p, vlen, kflag);
      case BTF_KIND.FWD:
        return new BtfFwd(id, name, kflag ? 'union' : 'struct');
      case BTF_KIND.TYPEDEF:
      case BTF_KIND.VOLATILE:
      case BTF_KIND.CONST:
      case BTF_KIND.RESTRICT:
      case BTF_KIND.TYPE_TAG:
        return new BtfRef(this, id, KIND_NAMES[kind] as RefType['kind'], name, p);
      case BTF_KIND.FUNC: {
        const linkage = LINKAGES[vlen];
        if (!linkage) throw btfError(`BTF: func [${id}] '${name}' has unknown linkage ${vlen}`, this.at(p + 1));
        return new BtfFunc(this, id, name, p, linkage);
      }
      case BTF_KIND.FUNC_PROTO:
        return new BtfFuncProto(this, id, name, p, vlen);
      case BTF_KIND.VAR: {
        const l = w[p + 3]!;
        const linkage = LINKAGES[l];
        if (!linkage) throw btfError(`BTF: var [${id}] '${name}' has unknown linkage ${l}`, this.at(p + 3));
        return new BtfVar(this, id, name, p, linkage);
      }
      case BTF_KIND.DATASEC:
        return new BtfDatasec(this, id, name, p, vlen);
      case BTF_KIND.FLOAT:
        return new BtfFloat(id, name, w[p + 2]!);
      case BTF_KIND.DECL_TAG:
        return new BtfDeclTag(this, id, name, p);
      default:
        // The framing pass rejected unknown kinds already.
        throw btfError(`BTF: type [${id}] has unknown kind ${kind}`, this.at(p + 1));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Type classes. Scalars are own data properties; references are prototype accessors decoded on
// first read (see the file comment). Private fields keep the decoder state out of sight of
// Object.keys, console.log and assert.deepEqual.
// ---------------------------------------------------------------------------------------------

const inspectSymbol = Symbol.for('nodejs.util.inspect.custom');

/** What console.log shows: the fields, with referenced types as `[id] KIND 'name'`. */
function inspectType(this: Type): unknown {
  const show = (t: Type): string => describeType(t);
  const out: Record<string, unknown> = { id: this.id, kind: this.kind, name: this.name };
  try {
    switch (this.kind) {
      case 'ptr':
      case 'typedef':
      case 'const':
      case 'volatile':
      case 'restrict':
      case 'type_tag':
        out.target = show(this.target);
        break;
      case 'decl_tag':
        out.target = show(this.target);
        out.componentIndex = this.componentIndex;
        break;
      case 'array':
        out.element = show(this.element);
        out.index = show(this.index);
        out.length = this.length;
        break;
      case 'struct':
      case 'union':
        out.size = this.size;
        out.members = this.members.map((m) => ({ ...m, type: show(m.type) }));
        break;
      case 'enum':
      case 'enum64':
        out.size = this.size;
        out.signed = this.signed;
        out.values = this.values;
        break;
      case 'func_proto':
        out.returnType = show(this.returnType);
        out.params = this.params.map((p) => ({ name: p.name, type: show(p.type) }));
        break;
      case 'func':
        out.proto = show(this.proto);
        out.linkage = this.linkage;
        break;
      case 'var':
        out.type = show(this.type);
        out.linkage = this.linkage;
        break;
      case 'datasec':
        out.size = this.size;
        out.vars = this.vars.map((v) => ({ ...v, type: show(v.type) }));
        break;
      default:
        return { ...this };
    }
  } catch (err) {
    out.error = String(err);
  }
  return out;
}

class BtfInt implements IntType {
  id: number;
  kind = 'int' as const;
  name: string;
  size: number;
  bits: number;
  offset: number;
  signed: boolean;
  char: boolean;
  bool: boolean;
  constructor(id: number, name: string, size: number, bits: number, offset: number, encoding: number) {
    this.id = id;
    this.name = name;
    this.size = size;
    this.bits = bits;
    this.offset = offset;
    this.signed = (encoding & 1) !== 0;
    this.char = (encoding & 2) !== 0;
    this.bool = (encoding & 4) !== 0;
  }
}

class BtfFwd implements FwdType {
  id: number;
  kind = 'fwd' as const;
  name: string;
  fwdKind: 'struct' | 'union';
  constructor(id: number, name: string, fwdKind: 'struct' | 'union') {
    this.id = id;
    this.name = name;
    this.fwdKind = fwdKind;
  }
}

class BtfFloat implements FloatType {
  id: number;
  kind = 'float' as const;
  name: string;
  size: number;
  constructor(id: number, name: string, size: number) {
    this.id = id;
    this.name = name;
    this.size = size;
  }
}

class BtfPtr implements PointerType {
  id: number;
  kind = 'ptr' as const;
  name: string;
  #d: BtfData;
  #p: number;
  #target: Type | undefined;
  constructor(d: BtfData, id: number, name: string, p: number) {
    this.id = id;
    this.name = name;
    this.#d = d;
    this.#p = p;
  }
  get target(): Type {
    return (this.#target ??= this.#d.ref(this.#p + 2, this.id));
  }
  set target(t: Type) {
    this.#target = t;
  }
}

class BtfRef implements RefType {
  id: number;
  kind: RefType['kind'];
  name: string;
  #d: BtfData;
  #p: number;
  #target: Type | undefined;
  constructor(d: BtfData, id: number, kind: RefType['kind'], name: string, p: number) {
    this.id = id;
    this.kind = kind;
    this.name = name;
    this.#d = d;
    this.#p = p;
  }
  get target(): Type {
    return (this.#target ??= this.#d.ref(this.#p + 2, this.id));
  }
  set target(t: Type) {
    this.#target = t;
  }
}

class BtfDeclTag implements DeclTagType {
  id: number;
  kind = 'decl_tag' as const;
  name: string;
  componentIndex: number;
  #d: BtfData;
  #p: number;
  #target: Type | undefined;
  constructor(d: BtfData, id: number, name: string, p: number) {
    this.id = id;
    this.name = name;
    this.componentIndex = d.w[p + 3]! | 0;
    this.#d = d;
    this.#p = p;
  }
  get target(): Type {
    return (this.#target ??= this.#d.ref(this.#p + 2, this.id));
  }
  set target(t: Type) {
    this.#target = t;
  }
}

class BtfArray implements ArrayType {
  id: number;
  kind = 'array' as const;
  name: string;
  length: number;
  #d: BtfData;
  #p: number;
  #element: Type | undefined;
  #index: Type | undefined;
  constructor(d: BtfData, id: number, name: string, p: number) {
    this.id = id;
    this.name = name;
    this.length = d.w[p + 5]!;
    this.#d = d;
    this.#p = p;
  }
  get element(): Type {
    return (this.#element ??= this.#d.ref(this.#p + 3, this.id));
  }
  set element(t: Type) {
    this.#element = t;
  }
  get index(): Type {
    return (this.#index ??= this.#d.ref(this.#p + 4, this.id));
  }
  set index(t: Type) {
    this.#index = t;
  }
}

class BtfStruct implements StructType {
  id: number;
  kind: 'struct' | 'union';
  name: string;
  size: number;
  #d: BtfData;
  #p: number;
  #vlen: number;
  #kflag: boolean;
  #members: Member[] | undefined;
  constructor(d: BtfData, id: number, kind: 'struct' | 'union', name: string, p: number, vlen: number, kflag: boolean) {
    this.id = id;
    this.kind = kind;
    this.name = name;
    this.size = d.w[p + 2]!;
    this.#d = d;
    this.#p = p;
    this.#vlen = vlen;
    this.#kflag = kflag;
  }
  get members(): Member[] {
    if (this.#members) return this.#members;
    const d = this.#d;
    const w = d.w;
    const n = this.#vlen;
    const kflag = this.#kflag;
    const out = new Array<Member>(n);
    for (let i = 0, q = this.#p + 3; i < n; i++, q += 3) {
      const off = w[q + 2]!;
      out[i] = {
        name: d.str(q, this.id),
        type: d.ref(q + 1, this.id),
        bitOffset: kflag ? off & 0xffffff : off,
        bitfieldSize: kflag ? off >>> 24 : 0,
      };
    }
    return (this.#members = out);
  }
  set members(m: Member[]) {
    this.#members = m;
  }
}

class BtfEnum implements EnumType {
  id: number;
  kind: 'enum' | 'enum64';
  name: string;
  size: number;
  signed: boolean;
  #d: BtfData;
  #p: number;
  #vlen: number;
  #values: EnumValue[] | undefined;
  constructor(d: BtfData, id: number, kind: 'enum' | 'enum64', name: string, p: number, vlen: number, kflag: boolean) {
    this.id = id;
    this.kind = kind;
    this.name = name;
    this.size = d.w[p + 2]!;
    this.signed = kflag;
    this.#d = d;
    this.#p = p;
    this.#vlen = vlen;
  }
  get values(): EnumValue[] {
    if (this.#values) return this.#values;
    const d = this.#d;
    const w = d.w;
    const n = this.#vlen;
    const out = new Array<EnumValue>(n);
    if (this.kind === 'enum') {
      for (let i = 0, q = this.#p + 3; i < n; i++, q += 2) {
        const v = w[q + 1]!;
        out[i] = { name: d.str(q, this.id), value: BigInt(this.signed ? v | 0 : v) };
      }
    } else {
      for (let i = 0, q = this.#p + 3; i < n; i++, q += 3) {
        const lo = w[q + 1]!;
        const hi = w[q + 2]!;
        let value: bigint;
        if (hi === 0) value = BigInt(lo);
        else if (this.signed && hi === 0xffffffff && lo >= 0x80000000) value = BigInt(lo | 0);
        else {
          value = (BigInt(hi) << 32n) | BigInt(lo);
          if (this.signed) value = BigInt.asIntN(64, value);
        }
        out[i] = { name: d.str(q, this.id), value };
      }
    }
    return (this.#values = out);
  }
  set values(v: EnumValue[]) {
    this.#values = v;
  }
}

class BtfFuncProto implements FuncProtoType {
  id: number;
  kind = 'func_proto' as const;
  name: string;
  #d: BtfData;
  #p: number;
  #vlen: number;
  #returnType: Type | undefined;
  #params: FuncParam[] | undefined;
  constructor(d: BtfData, id: number, name: string, p: number, vlen: number) {
    this.id = id;
    this.name = name;
    this.#d = d;
    this.#p = p;
    this.#vlen = vlen;
  }
  get returnType(): Type {
    return (this.#returnType ??= this.#d.ref(this.#p + 2, this.id));
  }
  set returnType(t: Type) {
    this.#returnType = t;
  }
  get params(): FuncParam[] {
    if (this.#params) return this.#params;
    const d = this.#d;
    const n = this.#vlen;
    const out = new Array<FuncParam>(n);
    for (let i = 0, q = this.#p + 3; i < n; i++, q += 2) out[i] = { name: d.str(q, this.id), type: d.ref(q + 1, this.id) };
    return (this.#params = out);
  }
  set params(p: FuncParam[]) {
    this.#params = p;
  }
}

class BtfFunc implements FuncType {
  id: number;
  kind = 'func' as const;
  name: string;
  linkage: Linkage;
  #d: BtfData;
  #p: number;
  #proto: FuncProtoType | undefined;
  constructor(d: BtfData, id: number, name: string, p: number, linkage: Linkage) {
    this.id = id;
    this.name = name;
    this.linkage = linkage;
    this.#d = d;
    this.#p = p;
  }
  get proto(): FuncProtoType {
    if (this.#proto) return this.#proto;
    const t = this.#d.ref(this.#p + 2, this.id);
    if (t.kind !== 'func_proto') {
      throw btfError(`BTF: func [${this.id}] '${this.name}' refers to ${describeType(t)}, not a func_proto`, this.#d.at(this.#p + 2));
    }
    return (this.#proto = t);
  }
  set proto(t: FuncProtoType) {
    this.#proto = t;
  }
}

class BtfVar implements VarType {
  id: number;
  kind = 'var' as const;
  name: string;
  linkage: Linkage;
  #d: BtfData;
  #p: number;
  #type: Type | undefined;
  constructor(d: BtfData, id: number, name: string, p: number, linkage: Linkage) {
    this.id = id;
    this.name = name;
    this.linkage = linkage;
    this.#d = d;
    this.#p = p;
  }
  get type(): Type {
    return (this.#type ??= this.#d.ref(this.#p + 2, this.id));
  }
  set type(t: Type) {
    this.#type = t;
  }
}

class BtfDatasec implements DatasecType {
  id: number;
  kind = 'datasec' as const;
  name: string;
  size: number;
  #d: BtfData;
  #p: number;
  #vlen: number;
  #vars: VarSecinfo[] | undefined;
  constructor(d: BtfData, id: number, name: string, p: number, vlen: number) {
    this.id = id;
    this.name = name;
    this.size = d.w[p + 2]!;
    this.#d = d;
    this.#p = p;
    this.#vlen = vlen;
  }
  get vars(): VarSecinfo[] {
    if (this.#vars) return this.#vars;
    const d = this.#d;
    const w = d.w;
    const n = this.#vlen;
    const out = new Array<VarSecinfo>(n);
    for (let i = 0, q = this.#p + 3; i < n; i++, q += 3) out[i] = { type: d.ref(q, this.id), offset: w[q + 1]!, size: w[q + 2]! };
    return (this.#vars = out);
  }
  set vars(v: VarSecinfo[]) {
    this.#vars = v;
  }
}

for (const cls of [BtfInt, BtfFwd, BtfFloat, BtfPtr, BtfRef, BtfDeclTag, BtfArray, BtfStruct, BtfEnum, BtfFuncProto, BtfFunc, BtfVar, BtfDatasec]) {
  Object.defineProperty(cls.prototype, inspectSymbol, { value: inspectType, enumerable: false, writable: true, configurable: true });
}
