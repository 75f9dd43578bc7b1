/**
 * Formatting through BTF the way bpftool does (tools/bpf/bpftool/btf_dumper.c): map keys and
 * values for `map dump|lookup`, and function signatures for `prog dump xlated`.
 *
 * The rules are bpftool's, quirks included, so output compares equal:
 *  - integers of 8, 16, 32, 64 bits as decimal numbers (64-bit ones with every digit);
 *    128-bit integers and every bitfield as hex (`0x5`), quoted in JSON;
 *  - `char` arrays holding a printable NUL-terminated string as a string, other arrays as arrays;
 *  - enums as the enumerator's name, or the number when none matches;
 *  - pointers as `%p` in text (`(nil)`, `0x...`), decimal in JSON;
 *  - `_Bool` as true/false; `char`-encoded integers as one-character strings;
 *  - structs and unions as objects (bitfields included), vars as `{name: value}`, datasecs as
 *    `{section: [vars]}`; kinds bpftool can't print (float, func...) as `(unsupported-kind`.
 * Host byte order (little-endian) is assumed, as bpftool reads memory directly.
 */
import type { ArrayType, EnumType, IntType, StructType, Type } from '../btf/index.js';
import { sizeof } from '../btf/index.js';
import { JsonWriter } from './json_writer.js';

export interface BtfDumpOptions {
  /** bpftool's is_plain_text: the text (not -j) layout of pointers, 128-bit values, chars. */
  plain: boolean;
}

const hex = (v: bigint) => v.toString(16);

function readUnsigned(data: Uint8Array, off: number, bytes: number): bigint {
  let v = 0n;
  for (let i = bytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[off + i] ?? 0);
  return v;
}

/** A 128-bit number as bpftool's btf_int128_print writes it. */
function int128(w: JsonWriter, value: bigint, plain: boolean): void {
  const upper = value >> 64n;
  const lower = value & 0xffffffffffffffffn;
  const text = upper === 0n ? `0x${hex(lower)}` : `0x${hex(upper)}${hex(lower).padStart(16, '0')}`;
  w.raw(plain ? text : `"${text}"`);
}

/** `nrBits` bits starting `bitOffset` bits (0..7) into data[off], printed as hex. */
function bitfield(w: JsonWriter, nrBits: number, bitOffset: number, data: Uint8Array, off: number, plain: boolean): void {
  const bytes = Math.min(16, Math.ceil((bitOffset + nrBits) / 8));
  const all = readUnsigned(data, off, bytes);
  const value = (all >> BigInt(bitOffset)) & ((1n << BigInt(nrBits)) - 1n);
  int128(w, value, plain);
}

function intBits(w: JsonWriter, t: IntType, bitOffset: number, data: Uint8Array, off: number, plain: boolean): void {
  const total = bitOffset + t.offset;
  bitfield(w, t.bits, total & 7, data, off + (total >> 3), plain);
}

/** isprint() in the C locale. */
const isPrint = (c: number) => c >= 0x20 && c <= 0x7e;

function dumpInt(w: JsonWriter, t: IntType, bitOffset: number, data: Uint8Array, off: number, plain: boolean): boolean {
  const nrBits = t.bits;
  if (bitOffset || t.offset || nrBits % 8) {
    intBits(w, t, bitOffset, data, off, plain);
    return true;
  }
  if (nrBits === 128) {
    int128(w, readUnsigned(data, off, 16), plain);
    return true;
  }
  const encoding = (t.signed ? 1 : 0) | (t.char ? 2 : 0) | (t.bool ? 4 : 0);
  const sized = nrBits === 8 || nrBits === 16 || nrBits === 32 || nrBits === 64;
  switch (encoding) {
    case 0:
    case 1: {
      if (!sized) {
        intBits(w, t, bitOffset, data, off, plain);
        return true;
      }
      const u = readUnsigned(data, off, nrBits / 8);
      w.raw(String(encoding === 1 ? BigInt.asIntN(nrBits, u) : u));
      return true;
    }
    case 2: {
      const c = data[off] ?? 0;
      if (isPrint(c)) w.raw(`"${String.fromCharCode(c)}"`);
      else if (plain) w.raw(`0x${c.toString(16)}`);
      else w.raw(`"\\u00${c.toString(16).padStart(2, '0')}"`);
      return true;
    }
    case 4:
      w.bool((data[off] ?? 0) !== 0);
      return true;
    default:
      return false;
  }
}

function dumpEnum(w: JsonWriter, t: EnumType, data: Uint8Array, off: number): boolean {
  if (t.kind === 'enum64') {
    const value = readUnsigned(data, off, 8);
    const found = t.values.find((e) => BigInt.asUintN(64, e.value) === value);
    if (found) w.string(found.name);
    else w.raw(String(BigInt.asIntN(64, value)));
    return true;
  }
  if (![1, 2, 4, 8].includes(t.size)) return false;
  // bpftool reads the value signed at the enum's size and compares with each enumerator's
  // 32-bit value, sign-extended.
  const value = BigInt.asIntN(t.size * 8, readUnsigned(data, off, t.size));
  const found = t.values.find((e) => BigInt.asIntN(32, e.value) === value);
  if (found) w.string(found.name);
  else w.raw(String(value));
  return true;
}

function elementIsChar(t: ArrayType): boolean {
  let e: Type = t.element;
  // Qualifiers are looked through, typedefs are not: a typedef of char is not a string.
  while (e.kind === 'const' || e.kind === 'volatile' || e.kind === 'restrict' || e.kind === 'type_tag') e = e.target;
  return e.kind === 'int' && e.size === 1 && (e.char || e.name === 'char');
}

/** bpftool's is_str_array: printable characters up to a NUL inside the array. */
function isStringArray(t: ArrayType, data: Uint8Array, off: number): boolean {
  if (!t.length || !elementIsChar(t)) return false;
  for (let i = 0; i < t.length; i++) {
    const c = data[off + i] ?? 0;
    if (c === 0) return true;
    if (c <= 0x1f || c >= 0x7f) return false;
  }
  return false;
}

function dumpArray(w: JsonWriter, t: ArrayType, data: Uint8Array, off: number, opts: BtfDumpOptions): boolean {
  if (isStringArray(t, data, off)) {
    const end = data.indexOf(0, off);
    w.string(String.fromCharCode(...data.subarray(off, end)));
    return true;
  }
  let size: number;
  try {
    size = sizeof(t.element);
  } catch {
    return false;
  }
  w.startArray();
  let ok = true;
  for (let i = 0; i < t.length && ok; i++) ok = dumpType(w, t.element, 0, data, off + i * size, opts);
  w.endArray();
  return ok;
}

function dumpStruct(w: JsonWriter, t: StructType, data: Uint8Array, off: number, opts: BtfDumpOptions): boolean {
  w.startObject();
  let ok = true;
  for (const m of t.members) {
    w.name(m.name);
    const at = off + (m.bitOffset >> 3);
    if (m.bitfieldSize) {
      bitfield(w, m.bitfieldSize, m.bitOffset & 7, data, at, opts.plain);
    } else {
      ok = dumpType(w, m.type, m.bitOffset & 7, data, at, opts);
      if (!ok) break;
    }
  }
  w.endObject();
  return ok;
}

/** libbpf's btf__resolve_type: through typedefs, qualifiers and vars. */
function resolveType(t: Type): Type {
  for (let depth = 0; depth < 32; depth++) {
    if (t.kind === 'typedef' || t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag') t = t.target;
    else if (t.kind === 'var') t = t.type;
    else return t;
  }
  return t;
}

/**
 * Writes the value of type `t` found at data[off] (bpftool's btf_dumper_type). Returns false
 * where bpftool's returns an error (it stops the enclosing struct or array there).
 */
export function dumpType(w: JsonWriter, t: Type, bitOffset: number, data: Uint8Array, off: number, opts: BtfDumpOptions): boolean {
  switch (t.kind) {
    case 'int':
      return dumpInt(w, t, bitOffset, data, off, opts.plain);
    case 'struct':
    case 'union':
      return dumpStruct(w, t, data, off, opts);
    case 'array':
      return dumpArray(w, t, data, off, opts);
    case 'enum':
    case 'enum64':
      return dumpEnum(w, t, data, off);
    case 'ptr': {
      const value = readUnsigned(data, off, 8);
      if (opts.plain) w.raw(value === 0n ? '(nil)' : `0x${hex(value)}`);
      else w.raw(String(value));
      return true;
    }
    case 'void':
      w.raw('(unknown)');
      return true;
    case 'fwd':
      w.raw('(fwd-kind-invalid)');
      return false;
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
      return dumpType(w, resolveType(t), bitOffset, data, off, opts);
    case 'var': {
      w.startObject();
      w.name(t.name);
      const ok = dumpType(w, t.type, bitOffset, data, off, opts);
      w.endObject();
      return ok;
    }
    case 'datasec': {
      w.startObject();
      w.name(t.name);
      w.startArray();
      let ok = true;
      for (const v of t.vars) {
        ok = dumpType(w, v.type, 0, data, off + v.offset, opts);
        if (!ok) break;
      }
      w.endArray();
      w.endObject();
      return ok;
    }
    default:
      w.raw('(unsupported-kind');
      return false;
  }
}

/**
 * A type as C-like text the way bpftool's btf_dumper_type_only writes it, for function
 * prototypes in `prog dump xlated`: `int cli_xdp(struct xdp_md * ctx)`. Empty when bpftool's
 * would fail (a kind it can't name, or more than 1023 characters).
 */
export function typeOnly(t: Type): string {
  const out = typeText(t, '');
  return out === undefined || out.length >= 1024 ? '' : out;
}

function typeText(t: Type, sig: string): string | undefined {
  switch (t.kind) {
    case 'void':
      return sig + 'void ';
    case 'int':
    case 'typedef':
    case 'float':
      return `${sig}${t.name} `;
    case 'struct':
      return `${sig}struct ${t.name} `;
    case 'union':
      return `${sig}union ${t.name} `;
    case 'enum':
    case 'enum64':
      return `${sig}enum ${t.name} `;
    case 'array': {
      const s = typeText(t.element, sig);
      return s === undefined ? undefined : `${s}[${t.length}]`;
    }
    case 'ptr': {
      const s = typeText(t.target, sig);
      return s === undefined ? undefined : `${s}* `;
    }
    case 'fwd':
      return `${sig}${t.fwdKind} ${t.name} `;
    case 'volatile':
    case 'const':
    case 'restrict':
      return typeText(t.target, `${sig}${t.kind} `);
    case 'func_proto':
      return funcText(t, undefined, sig);
    case 'func':
      return funcText(t.proto, t.name, sig);
    case 'var': {
      const s = typeText(t.type, t.linkage === 'static' ? `${sig}static ` : sig);
      return s === undefined ? undefined : `${s} ${t.name}`;
    }
    case 'datasec':
      return `${sig}section ("${t.name}") `;
    default:
      return undefined;
  }
}

function funcText(proto: Extract<Type, { kind: 'func_proto' }>, name: string | undefined, sig: string): string | undefined {
  let s = typeText(proto.returnType, sig);
  if (s === undefined) return undefined;
  s += name !== undefined ? `${name}(` : '(';
  proto.params.forEach((p, i) => {
    if (s === undefined) return;
    if (i) s += ', ';
    if (p.type.kind === 'void') {
      s += '...';
      return;
    }
    s = typeText(p.type, s);
    if (s === undefined) return;
    if (p.name) s += p.name;
    // An unnamed parameter: drop the space after its type, as bpftool does.
    else if (s.endsWith(' ')) s = s.slice(0, -1);
  });
  return s === undefined ? undefined : s + ')';
}
