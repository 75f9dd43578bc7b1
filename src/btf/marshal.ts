/**
 * Encoding types into a BTF blob for BPF_BTF_LOAD, with a fresh deduplicated string table,
 * sanitising the kinds an older kernel lacks the way libbpf's bpf_object__sanitize_btf does,
 * and the DATASEC fix-ups a loader applies before that (libbpf's btf_fixup_datasec).
 *
 * Type ids: the types given get ids 1..n (after the base's last id for split BTF) in the order
 * given; types they refer to that are not in the list are appended after them, in the order
 * they are first met. Sanitising never renumbers: each type keeps one record (libbpf's rule,
 * so func_info type ids stay valid); ENUM64 sanitising appends one INT placeholder at the end.
 */

import { ArgumentError, FormatError } from '../errors.js';
import { BTF_HEADER_LEN, BTF_MAGIC, BTF_VERSION, HOST_BYTE_ORDER, type ByteOrder } from './parse.js';
import { Spec } from './spec.js';
import { ALL_BTF_FEATURES, BTF_KIND, type BtfFeatures, type DatasecType, type Linkage, type Type } from './types.js';
import { describeType, forEachChild } from './util.js';

export interface MarshalOptions {
  /** What the target kernel supports; kinds it lacks are sanitised. Default: everything. */
  features?: BtfFeatures;
  /** Byte order of the output. Default: the host's. */
  byteOrder?: ByteOrder;
  /**
   * Encode split BTF on top of `base`: ids continue after the base's last id, string offsets
   * after the base's strings, and references to the base's own type objects keep their ids.
   * Default: the base of the Spec being marshalled, if any.
   */
  base?: Spec;
  /** More strings to put in the string table (file names and source lines for line_info). */
  extraStrings?: Iterable<string>;
}

export interface EncodedBtf {
  bytes: Uint8Array;
  /** The encoded types in id order (without void and the base's types). */
  types: Type[];
  /** Id of a type in the encoded BTF (0 for void). Throws ArgumentError for unknown types. */
  typeId(t: Type): number;
  /** Offset of a string in the encoded string table. Throws ArgumentError if it isn't there. */
  stringOffset(s: string): number;
}

const LINKAGE_NUMBER: Record<Linkage, number> = { static: 0, global: 1, extern: 2 };

const encoder = new TextEncoder();

class StringTable {
  readonly #offsets = new Map<string, number>();
  #bytes = new Uint8Array(4096);
  #len = 0;
  readonly #start: number;

  /**
   * `start`: the string offset of this table's first byte (the base's length for split BTF).
   * The table starts with a NUL byte even for split BTF, where '' is the base's offset 0:
   * pahole does the same for module BTF, and older libbpf/kernels insist on it.
   */
  constructor(start: number) {
    this.#start = start;
    this.#len = 1;
    this.#offsets.set('', 0);
  }

  add(s: string): number {
    const known = this.#offsets.get(s);
    if (known !== undefined) return known;
    if (s.includes('\0')) throw new ArgumentError(`BTF strings can't contain NUL characters: ${JSON.stringify(s)}`);
    const need = this.#len + s.length * 3 + 1;
    if (need > this.#bytes.length) {
      let size = this.#bytes.length * 2;
      while (size < need) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#bytes.subarray(0, this.#len));
      this.#bytes = grown;
    }
    const off = this.#start + this.#len;
    const { written } = encoder.encodeInto(s, this.#bytes.subarray(this.#len));
    this.#len += written + 1; // the byte after is already 0
    this.#offsets.set(s, off);
    return off;
  }

  lookup(s: string): number | undefined {
    return this.#offsets.get(s);
  }

  get bytes(): Uint8Array {
    return this.#bytes.subarray(0, this.#len);
  }
}

class Words {
  buf = new Uint32Array(1024);
  n = 0;
  push3(a: number, b: number, c: number): void {
    if (this.n + 3 > this.buf.length) this.grow(3);
    const buf = this.buf;
    buf[this.n] = a;
    buf[this.n + 1] = b;
    buf[this.n + 2] = c;
    this.n += 3;
  }
  push1(a: number): void {
    if (this.n + 1 > this.buf.length) this.grow(1);
    this.buf[this.n++] = a;
  }
  private grow(k: number): void {
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const grown = new Uint32Array(size);
    grown.set(this.buf.subarray(0, this.n));
    this.buf = grown;
  }
}

const info = (kind: number, vlen: number, kflag: boolean): number => ((kflag ? 0x80000000 : 0) | (kind << 24) | vlen) >>> 0;

function u32(v: number, what: string, t: Type): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ArgumentError(`${describeType(t)}: ${what} ${v} is not a 32-bit unsigned integer`);
  return v;
}

function vlenOf(n: number, t: Type): number {
  if (n > 0xffff) throw new ArgumentError(`${describeType(t)}: ${n} members/values/params, BTF allows at most 65535`);
  return n;
}

/**
 * Encodes types (or a Spec's own types) as a BTF blob, sanitised for `options.features`.
 * Returns the blob with id and string-offset lookups for building func_info/line_info.
 */
export function encodeBtf(input: readonly Type[] | Spec, options: MarshalOptions = {}): EncodedBtf {
  const features = options.features ?? ALL_BTF_FEATURES;
  const base = options.base ?? (input instanceof Spec ? input.base : undefined);
  const firstId = base ? base.lastTypeId + 1 : 1;
  const given: readonly Type[] = input instanceof Spec ? [...input.types()] : input;

  // Phase 1: ids for the given types, then for what they reference.
  const list: Type[] = [];
  const ids = new Map<Type, number>();
  const inBase = (t: Type): boolean => base !== undefined && t.id > 0 && t.id < firstId && base.owns(t);
  const add = (t: Type): void => {
    if (t.kind === 'void' || ids.has(t) || inBase(t)) return;
    ids.set(t, firstId + list.length);
    list.push(t);
  };
  for (const t of given) {
    if (t.kind === 'void') throw new ArgumentError('void (id 0) is implicit and cannot be marshalled as a type');
    if (ids.has(t)) throw new ArgumentError(`${describeType(t)} appears twice in the list of types to marshal`);
    add(t);
  }
  for (let i = 0; i < list.length; i++) forEachChild(list[i]!, add);

  const idOf = (t: Type): number => {
    if (t.kind === 'void') return 0;
    const id = ids.get(t);
    if (id !== undefined) return id;
    if (inBase(t)) return t.id;
    throw new ArgumentError(`${describeType(t)} is not part of the encoded BTF`);
  };

  const needPlaceholder = !features.enum64 && list.some((t) => t.kind === 'enum64');
  const placeholderId = firstId + list.length;

  // Phase 2: records.
  const strings = new StringTable(base ? base.stringsEnd : 0);
  const w = new Words();
  for (const t of list) encodeType(t, w, strings, idOf, features, placeholderId);
  if (needPlaceholder) {
    w.push3(strings.add('enum64_placeholder'), info(BTF_KIND.INT, 0, false), 1);
    w.push1(8); // BTF_INT_ENC(0, 0, 8)
  }
  if (options.extraStrings) for (const s of options.extraStrings) strings.add(s);

  const bytes = assemble(w, strings.bytes, options.byteOrder ?? HOST_BYTE_ORDER);
  return {
    bytes,
    types: list,
    typeId: idOf,
    stringOffset(s: string): number {
      const off = strings.lookup(s);
      if (off === undefined) throw new ArgumentError(`string ${JSON.stringify(s)} is not in the encoded string table`);
      return off;
    },
  };
}

/** Encodes types (or a Spec's own types) as a BTF blob; see encodeBtf. */
export function marshalBtf(input: readonly Type[] | Spec, options: MarshalOptions = {}): Uint8Array {
  return encodeBtf(input, options).bytes;
}

function assemble(w: Words, strs: Uint8Array, byteOrder: ByteOrder): Uint8Array {
  const typeLen = w.n * 4;
  const out = new Uint8Array(BTF_HEADER_LEN + typeLen + strs.length);
  const dv = new DataView(out.buffer);
  const le = byteOrder === 'little';
  dv.setUint16(0, BTF_MAGIC, le);
  out[2] = BTF_VERSION;
  out[3] = 0;
  dv.setUint32(4, BTF_HEADER_LEN, le);
  dv.setUint32(8, 0, le);
  dv.setUint32(12, typeLen, le);
  dv.setUint32(16, typeLen, le);
  dv.setUint32(20, strs.length, le);
  if (byteOrder === HOST_BYTE_ORDER) {
    out.set(new Uint8Array(w.buf.buffer, 0, typeLen), BTF_HEADER_LEN);
  } else {
    for (let i = 0; i < w.n; i++) dv.setUint32(BTF_HEADER_LEN + i * 4, w.buf[i]!, le);
  }
  out.set(strs, BTF_HEADER_LEN + typeLen);
  return out;
}

function encodeType(
  t: Type,
  w: Words,
  strings: StringTable,
  idOf: (t: Type) => number,
  f: BtfFeatures,
  placeholderId: number,
): void {
  const name = (): number => strings.add(t.name);
  switch (t.kind) {
    case 'void':
      throw new ArgumentError('void cannot be encoded');
    case 'int': {
      if (t.bits > 0xff || t.offset > 0xff || !Number.isInteger(t.bits) || !Number.isInteger(t.offset) || t.bits < 0 || t.offset < 0) {
        throw new ArgumentError(`${describeType(t)}: bits ${t.bits} / offset ${t.offset} out of range`);
      }
      const enc = (t.signed ? 1 : 0) | (t.char ? 2 : 0) | (t.bool ? 4 : 0);
      w.push3(name(), info(BTF_KIND.INT, 0, false), u32(t.size, 'size', t));
      w.push1(((enc << 24) | (t.offset << 16) | t.bits) >>> 0);
      return;
    }
    case 'ptr':
      w.push3(name(), info(BTF_KIND.PTR, 0, false), idOf(t.target));
      return;
    case 'array':
      w.push3(name(), info(BTF_KIND.ARRAY, 0, false), 0);
      w.push3(idOf(t.element), idOf(t.index), u32(t.length, 'length', t));
      return;
    case 'struct':
    case 'union': {
      const members = t.members;
      const kflag = members.some((m) => m.bitfieldSize !== 0);
      w.push3(name(), info(t.kind === 'struct' ? BTF_KIND.STRUCT : BTF_KIND.UNION, vlenOf(members.length, t), kflag), u32(t.size, 'size', t));
      for (const m of members) {
        let off = u32(m.bitOffset, `member '${m.name}' bit offset`, t);
        if (kflag) {
          if (off > 0xffffff || m.bitfieldSize > 0xff || m.bitfieldSize < 0) {
            throw new ArgumentError(`${describeType(t)}: member '${m.name}' bit offset ${off} / bitfield size ${m.bitfieldSize} out of range`);
          }
          off = ((m.bitfieldSize << 24) | off) >>> 0;
        }
        w.push3(strings.add(m.name), idOf(m.type), off);
      }
      return;
    }
    case 'enum': {
      const values = t.values;
      // Kernels without ENUM64 don't know signed enums either: the kind flag goes.
      w.push3(name(), info(BTF_KIND.ENUM, vlenOf(values.length, t), t.signed && f.enum64), u32(t.size, 'size', t));
      for (const v of values) {
        if (v.value < -0x80000000n || v.value > 0xffffffffn) throw new ArgumentError(`${describeType(t)}: value ${v.name} = ${v.value} does not fit in 32 bits`);
        w.push1(strings.add(v.name));
        w.push1(Number(BigInt.asUintN(32, v.value)));
      }
      return;
    }
    case 'enum64': {
      const values = t.values;
      for (const v of values) {
        if (v.value < -(1n << 63n) || v.value >= 1n << 64n) throw new ArgumentError(`${describeType(t)}: value ${v.name} = ${v.value} does not fit in 64 bits`);
      }
      if (!f.enum64) {
        // A union of the same size whose members are named like the enumerators.
        w.push3(name(), info(BTF_KIND.UNION, vlenOf(values.length, t), false), u32(t.size, 'size', t));
        for (const v of values) w.push3(strings.add(v.name), placeholderId, 0);
        return;
      }
      w.push3(name(), info(BTF_KIND.ENUM64, vlenOf(values.length, t), t.signed), u32(t.size, 'size', t));
      for (const v of values) {
        const u = BigInt.asUintN(64, v.value);
        w.push3(strings.add(v.name), Number(u & 0xffffffffn), Number(u >> 32n));
      }
      return;
    }
    case 'fwd':
      w.push3(name(), info(BTF_KIND.FWD, 0, t.fwdKind === 'union'), 0);
      return;
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
      w.push3(name(), info(BTF_KIND[t.kind.toUpperCase() as 'TYPEDEF' | 'VOLATILE' | 'CONST' | 'RESTRICT'], 0, false), idOf(t.target));
      return;
    case 'type_tag':
      if (!f.typeTag) w.push3(0, info(BTF_KIND.CONST, 0, false), idOf(t.target));
      else w.push3(name(), info(BTF_KIND.TYPE_TAG, 0, false), idOf(t.target));
      return;
    case 'func': {
      const proto = idOf(t.proto);
      if (!f.func) w.push3(name(), info(BTF_KIND.TYPEDEF, 0, false), proto);
      else if (!f.globalFunc) w.push3(name(), info(BTF_KIND.FUNC, 0, false), proto);
      else w.push3(name(), info(BTF_KIND.FUNC, LINKAGE_NUMBER[t.linkage] ?? badLinkage(t), false), proto);
      return;
    }
    case 'func_proto': {
      const params = t.params;
      if (!f.func) {
        // libbpf's trick: an ENUM whose values are the params (name, type id), size 4.
        w.push3(name(), info(BTF_KIND.ENUM, vlenOf(params.length, t), false), 4);
      } else {
        w.push3(name(), info(BTF_KIND.FUNC_PROTO, vlenOf(params.length, t), false), idOf(t.returnType));
      }
      for (const p of params) {
        w.push1(strings.add(p.name));
        w.push1(idOf(p.type));
      }
      return;
    }
    case 'var':
      if (!f.datasec) {
        w.push3(name(), info(BTF_KIND.INT, 0, false), 1);
        w.push1(8);
      } else {
        w.push3(name(), info(BTF_KIND.VAR, 0, false), idOf(t.type));
        w.push1(LINKAGE_NUMBER[t.linkage] ?? badLinkage(t));
      }
      return;
    case 'datasec': {
      const vars = t.vars;
      if (!f.datasec) {
        w.push3(strings.add(t.name.replace(/[.?]/g, '_')), info(BTF_KIND.STRUCT, vlenOf(vars.length, t), false), u32(t.size, 'size', t));
        for (const v of vars) w.push3(strings.add(v.type.name), idOf(v.type), (u32(v.offset, 'var offset', t) * 8) >>> 0);
        return;
      }
      const secName = !(f.qmarkDatasec ?? true) && t.name.startsWith('?') ? `_${t.name.slice(1)}` : t.name;
      w.push3(strings.add(secName), info(BTF_KIND.DATASEC, vlenOf(vars.length, t), false), u32(t.size, 'size', t));
      for (const v of vars) w.push3(idOf(v.type), u32(v.offset, 'var offset', t), u32(v.size, 'var size', t));
      return;
    }
    case 'float':
      if (!f.float) w.push3(0, info(BTF_KIND.STRUCT, 0, false), u32(t.size, 'size', t));
      else w.push3(name(), info(BTF_KIND.FLOAT, 0, false), u32(t.size, 'size', t));
      return;
    case 'decl_tag': {
      if (!f.declTag) {
        w.push3(name(), info(BTF_KIND.INT, 0, false), 1);
        w.push1(8);
        return;
      }
      const ci = t.componentIndex;
      if (!Number.isInteger(ci) || ci < -1 || ci > 0x7fffffff) throw new ArgumentError(`${describeType(t)}: component index ${ci} out of range`);
      w.push3(name(), info(BTF_KIND.DECL_TAG, 0, false), idOf(t.target));
      w.push1(ci >>> 0);
      return;
    }
  }
}

function badLinkage(t: Type & { linkage: Linkage }): never {
  throw new ArgumentError(`${describeType(t)}: unknown linkage '${String(t.linkage)}'`);
}

// ---------------------------------------------------------------------------------------------
// DATASEC fix-up before load
// ---------------------------------------------------------------------------------------------

export interface DatasecFixupSource {
  /** Size of the ELF section `name` (`.data`, `.rodata.str1.1`, ...), undefined if absent. */
  sectionSize(name: string): number | undefined;
  /** Value (offset in its section) of the global symbol `varName` of section `secName`. */
  symbolOffset(secName: string, varName: string): number | undefined;
  /** Whether that symbol has STV_HIDDEN or STV_INTERNAL visibility: its VAR becomes static. */
  symbolHidden?(secName: string, varName: string): boolean;
}

/** Sections whose DATASECs libbpf fills itself (externs): only their var order is fixed. */
const EXTERN_SECTIONS = new Set(['.kconfig', '.ksyms']);

/**
 * Fills in what clang leaves out of an object's DATASECs, as libbpf does before loading: a
 * DATASEC of size 0 gets its ELF section's size and its global VARs the offsets of their
 * symbols; globals with hidden visibility become static; the vars are then sorted by offset.
 * Mutates the types. Throws FormatError (ERR_BTF) when a section or symbol can't be found.
 */
export function fixupDatasecs(types: Iterable<Type> | Spec, source: DatasecFixupSource): void {
  for (const t of types) if (t.kind === 'datasec') fixupDatasec(t, source);
}

/** fixupDatasecs for one DATASEC. */
export function fixupDatasec(t: DatasecType, source: DatasecFixupSource): void {
  const sec = t.name;
  if (!EXTERN_SECTIONS.has(sec)) {
    let fixOffsets = false;
    if (t.size === 0) {
      const size = source.sectionSize(sec);
      if (!size) throw new FormatError('ERR_BTF', `DATASEC '${sec}': can't find the size of ELF section '${sec}'`);
      t.size = size;
      fixOffsets = true;
    }
    for (const v of t.vars) {
      const vt = v.type;
      if (vt.kind !== 'var') throw new FormatError('ERR_BTF', `DATASEC '${sec}': ${describeType(vt)} is not a VAR`);
      if (vt.linkage === 'static' || vt.linkage === 'extern') continue;
      const off = source.symbolOffset(sec, vt.name);
      if (off === undefined) throw new FormatError('ERR_BTF', `DATASEC '${sec}': no ELF symbol for VAR '${vt.name}'`);
      if (fixOffsets) v.offset = off;
      if (source.symbolHidden?.(sec, vt.name)) vt.linkage = 'static';
    }
  }
  t.vars.sort((a, b) => a.offset - b.offset);
}
