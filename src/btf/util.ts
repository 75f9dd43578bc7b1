/**
 * Helpers over the BTF type model that need no Spec: resolving qualifiers and typedefs, sizes
 * and alignments (BPF target: 8-byte pointers), names, member lookup through anonymous
 * structs/unions, child traversal, shallow copies and bpftool's `format raw` text.
 *
 * Everything here works on any object satisfying the interfaces of types.ts, parsed or built
 * by hand. Malformed graphs (typedef cycles, a struct containing itself) can't loop forever:
 * every walk is bounded by MAX_RESOLVE_DEPTH and throws a FormatError (code ERR_BTF).
 */

import { EbpfError, FormatError } from '../errors.js';
import type {
  ArrayType,
  DatasecType,
  DeclTagType,
  EnumType,
  FloatType,
  FuncProtoType,
  FuncType,
  FwdType,
  IntType,
  Kind,
  Member,
  PointerType,
  RefType,
  StructType,
  Type,
  VarType,
  VoidType,
} from './types.js';

/** How deep resolve/sizeof/alignof/member lookup may follow type references (libbpf uses 32). */
export const MAX_RESOLVE_DEPTH = 32;

/** Size of a pointer on the BPF target. */
export const BPF_POINTER_SIZE = 8;

/** The kind names of types.ts indexed by the BTF_KIND_* number (0 is 'void', i.e. UNKN). */
export const KIND_NAMES: readonly Kind[] = Object.freeze([
  'void',
  'int',
  'ptr',
  'array',
  'struct',
  'union',
  'enum',
  'fwd',
  'typedef',
  'volatile',
  'const',
  'restrict',
  'func',
  'func_proto',
  'var',
  'datasec',
  'float',
  'decl_tag',
  'type_tag',
  'enum64',
] as Kind[]);

const KIND_NUMBERS: ReadonlyMap<Kind, number> = new Map(KIND_NAMES.map((k, i) => [k, i]));

/** BTF_KIND_* number of a kind name. */
export function kindNumber(kind: Kind): number {
  const n = KIND_NUMBERS.get(kind);
  if (n === undefined) throw new FormatError('ERR_BTF', `unknown BTF kind '${String(kind)}'`);
  return n;
}

/** A kind name as bpftool prints it: `STRUCT`, `FUNC_PROTO`, `UNKNOWN` for void. */
export function kindLabel(kind: Kind): string {
  return kind === 'void' ? 'UNKNOWN' : kind.toUpperCase();
}

/** The Type interface a kind name selects: `TypeOfKind<'struct'>` is StructType. */
export type TypeOfKind<K extends Kind> = K extends 'struct' | 'union'
  ? StructType
  : K extends 'enum' | 'enum64'
    ? EnumType
    : K extends RefType['kind']
      ? RefType
      : K extends 'void'
        ? VoidType
        : K extends 'int'
          ? IntType
          : K extends 'ptr'
            ? PointerType
            : K extends 'array'
              ? ArrayType
              : K extends 'fwd'
                ? FwdType
                : K extends 'func'
                  ? FuncType
                  : K extends 'func_proto'
                    ? FuncProtoType
                    : K extends 'var'
                      ? VarType
                      : K extends 'datasec'
                        ? DatasecType
                        : K extends 'float'
                          ? FloatType
                          : K extends 'decl_tag'
                            ? DeclTagType
                            : never;

/** A lookup found nothing: no type with that name or id, no such member, no kernel module BTF. */
export class BtfNotFoundError extends EbpfError {
  constructor(message: string) {
    super('ERR_BTF_NOT_FOUND', message);
  }
}

/** The error every malformed-BTF path throws. */
export function btfError(message: string, offset?: number): FormatError {
  return new FormatError('ERR_BTF', message, offset);
}

/** `[id] KIND 'name'`, for messages. */
export function describeType(t: Type): string {
  return `[${t.id}] ${kindLabel(t.kind)} '${t.name || '(anon)'}'`;
}

// ---------------------------------------------------------------------------------------------
// Qualifiers, typedefs, sizes
// ---------------------------------------------------------------------------------------------

function isModifier(t: Type): t is RefType {
  return t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag';
}

/** Whether `t` is a typedef or a qualifier (const, volatile, restrict, type_tag). */
export function isRefType(t: Type): t is RefType {
  return t.kind === 'typedef' || isModifier(t);
}

/** The type under typedefs and qualifiers (const, volatile, restrict, type_tag). */
export function resolve(t: Type): Type {
  for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
    if (!isRefType(t)) return t;
    t = t.target;
  }
  throw btfError(`type chain deeper than ${MAX_RESOLVE_DEPTH} (a typedef/qualifier cycle?) at ${describeType(t)}`);
}

/** The type under qualifiers (const, volatile, restrict, type_tag), keeping typedefs. */
export function skipQualifiers(t: Type): Type {
  for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
    if (!isModifier(t)) return t;
    t = t.target;
  }
  throw btfError(`qualifier chain deeper than ${MAX_RESOLVE_DEPTH} at ${describeType(t)}`);
}

/**
 * Size in bytes of a value of type `t` (BPF target: pointers are 8 bytes). Follows typedefs,
 * qualifiers and vars; arrays multiply. Throws FormatError for types without a size (void, fwd,
 * func, func_proto, decl_tag) and for sizes beyond 2^32 - 1 (as libbpf's btf__resolve_size).
 */
export function sizeof(t: Type): number {
  let mult = 1;
  for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
    let size: number;
    switch (t.kind) {
      case 'int':
      case 'enum':
      case 'enum64':
      case 'struct':
      case 'union':
      case 'datasec':
      case 'float':
        size = t.size;
        break;
      case 'ptr':
        size = BPF_POINTER_SIZE;
        break;
      case 'typedef':
      case 'const':
      case 'volatile':
      case 'restrict':
      case 'type_tag':
        t = t.target;
        continue;
      case 'var':
        t = t.type;
        continue;
      case 'array':
        mult *= t.length;
        if (mult > 0xffffffff) throw btfError(`array size overflows 32 bits at ${describeType(t)}`);
        t = t.element;
        continue;
      default:
        throw btfError(`type has no size: ${describeType(t)}`);
    }
    const total = mult * size;
    if (total > 0xffffffff) throw btfError(`size overflows 32 bits at ${describeType(t)}`);
    return total;
  }
  throw btfError(`type chain deeper than ${MAX_RESOLVE_DEPTH} while computing a size`);
}

/**
 * Alignment in bytes of type `t` on the BPF target, as libbpf's btf__align_of: scalars align
 * on min(size, 8); a struct or union on its strictest member, or 1 if it is packed (a member
 * at an offset not a multiple of its alignment, or a size not a multiple of it).
 */
export function alignof(t: Type): number {
  return alignofDepth(t, 0);
}

function alignofDepth(t: Type, depth: number): number {
  for (; depth <= MAX_RESOLVE_DEPTH; depth++) {
    switch (t.kind) {
      case 'int':
      case 'enum':
      case 'enum64':
      case 'float':
        return Math.max(1, Math.min(BPF_POINTER_SIZE, t.size));
      case 'ptr':
        return BPF_POINTER_SIZE;
      case 'typedef':
      case 'const':
      case 'volatile':
      case 'restrict':
      case 'type_tag':
        t = t.target;
        continue;
      case 'var':
        t = t.type;
        continue;
      case 'array':
        t = t.element;
        continue;
      case 'struct':
      case 'union': {
        let max = 1;
        for (const m of t.members) {
          const a = alignofDepth(m.type, depth + 1);
          if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return 1; // packed
          if (a > max) max = a;
        }
        if (t.size % max !== 0) return 1;
        return max;
      }
      default:
        throw btfError(`type has no alignment: ${describeType(t)}`);
    }
  }
  throw btfError(`type nesting deeper than ${MAX_RESOLVE_DEPTH} while computing an alignment`);
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/**
 * The name as C spells it where a type is used: `struct task_struct`, `union bpf_attr`,
 * `enum pid_type` (also for enum64 and fwd), plain names otherwise; '' for anonymous types.
 */
export function qualifiedName(t: Type): string {
  if (!t.name) return '';
  switch (t.kind) {
    case 'struct':
    case 'union':
      return `${t.kind} ${t.name}`;
    case 'enum':
    case 'enum64':
      return `enum ${t.name}`;
    case 'fwd':
      return `${t.fwdKind} ${t.name}`;
    default:
      return t.name;
  }
}

/** A name without its CO-RE flavour suffix: `task_struct___v2` -> `task_struct`. */
export function essentialName(name: string): string {
  const i = name.lastIndexOf('___');
  return i > 0 ? name.slice(0, i) : name;
}

// ---------------------------------------------------------------------------------------------
// Members
// ---------------------------------------------------------------------------------------------

/** A member found by name, with its offset from the start of the outermost struct. */
export interface MemberLocation {
  member: Member;
  /** Bit offset from the start of the struct the lookup started from. */
  bitOffset: number;
  /** The chain of members followed, outermost first (anonymous members included). */
  path: Member[];
}

function compositeOf(t: Type): StructType | undefined {
  const r = resolve(t);
  return r.kind === 'struct' || r.kind === 'union' ? r : undefined;
}

/**
 * The members of a struct or union with anonymous struct/union members replaced by their own
 * members (recursively), offsets made relative to `t`. What C code sees as `t.name`.
 */
export function flattenMembers(t: StructType): Member[] {
  const out: Member[] = [];
  const walk = (s: StructType, base: number, depth: number): void => {
    if (depth > MAX_RESOLVE_DEPTH) throw btfError(`anonymous member nesting deeper than ${MAX_RESOLVE_DEPTH} in ${describeType(t)}`);
    for (const m of s.members) {
      const inner = m.name === '' ? compositeOf(m.type) : undefined;
      if (inner) walk(inner, base + m.bitOffset, depth + 1);
      else out.push({ name: m.name, type: m.type, bitOffset: base + m.bitOffset, bitfieldSize: m.bitfieldSize });
    }
  };
  walk(t, 0, 0);
  return out;
}

/**
 * Finds a member by name inside a struct or union, looking through anonymous struct/union
 * members as C does. `path` is a name or a dotted path (`"a.b.c"`, or an array of names)
 * that descends into named struct/union members (through typedefs and qualifiers).
 * Returns undefined when a name is missing; throws FormatError on malformed nesting.
 */
export function findMember(t: Type, path: string | readonly string[]): MemberLocation | undefined {
  const names = typeof path === 'string' ? path.split('.') : path;
  let current: Type = t;
  let bitOffset = 0;
  const chain: Member[] = [];
  for (const name of names) {
    const s = compositeOf(current);
    if (!s) return undefined;
    const found = findDirect(s, name, 0);
    if (!found) return undefined;
    bitOffset += found.bitOffset;
    chain.push(...found.path);
    current = found.member.type;
  }
  const member = chain[chain.length - 1];
  if (!member) return undefined;
  return { member, bitOffset, path: chain };
}

function findDirect(s: StructType, name: string, depth: number): MemberLocation | undefined {
  if (depth > MAX_RESOLVE_DEPTH) throw btfError(`anonymous member nesting deeper than ${MAX_RESOLVE_DEPTH} in ${describeType(s)}`);
  for (const m of s.members) {
    if (m.name === name && name !== '') return { member: m, bitOffset: m.bitOffset, path: [m] };
  }
  for (const m of s.members) {
    if (m.name !== '') continue;
    const inner = compositeOf(m.type);
    if (!inner) continue;
    const found = findDirect(inner, name, depth + 1);
    if (found) return { member: found.member, bitOffset: m.bitOffset + found.bitOffset, path: [m, ...found.path] };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Traversal and copies
// ---------------------------------------------------------------------------------------------

/** Calls `fn` for every type `t` refers to directly, in encoding order. */
export function forEachChild(t: Type, fn: (child: Type) => void): void {
  switch (t.kind) {
    case 'ptr':
    case 'typedef':
    case 'const':
    case 'volatile':
    case 'restrict':
    case 'type_tag':
    case 'decl_tag':
      fn(t.target);
      break;
    case 'array':
      fn(t.element);
      fn(t.index);
      break;
    case 'struct':
    case 'union':
      for (const m of t.members) fn(m.type);
      break;
    case 'func_proto':
      fn(t.returnType);
      for (const p of t.params) fn(p.type);
      break;
    case 'func':
      fn(t.proto);
      break;
    case 'var':
      fn(t.type);
      break;
    case 'datasec':
      for (const v of t.vars) fn(v.type);
      break;
    default:
      break;
  }
}

/**
 * A shallow copy of `t` as a plain object: the same fields, fresh member/param/value/var
 * arrays (with fresh element objects), references to the same other types. Parsed types keep
 * their reference fields behind accessors, which object spread (`{...t}`) does not copy; use
 * this instead.
 */
export function copyType<T extends Type>(t: T): T {
  const base = { id: t.id, kind: t.kind, name: t.name };
  let out: Type;
  switch (t.kind) {
    case 'void':
      out = { ...base, kind: 'void' };
      break;
    case 'int':
      out = { ...base, kind: 'int', size: t.size, bits: t.bits, offset: t.offset, signed: t.signed, char: t.char, bool: t.bool };
      break;
    case 'ptr':
      out = { ...base, kind: 'ptr', target: t.target };
      break;
    case 'array':
      out = { ...base, kind: 'array', element: t.element, index: t.index, length: t.length };
      break;
    case 'struct':
    case 'union':
      out = { ...base, kind: t.kind, size: t.size, members: t.members.map((m) => ({ ...m })) };
      break;
    case 'enum':
    case 'enum64':
      out = { ...base, kind: t.kind, size: t.size, signed: t.signed, values: t.values.map((v) => ({ ...v })) };
      break;
    case 'fwd':
      out = { ...base, kind: 'fwd', fwdKind: t.fwdKind };
      break;
    case 'typedef':
    case 'const':
    case 'volatile':
    case 'restrict':
    case 'type_tag':
      out = { ...base, kind: t.kind, target: t.target };
      break;
    case 'func_proto':
      out = { ...base, kind: 'func_proto', returnType: t.returnType, params: t.params.map((p) => ({ ...p })) };
      break;
    case 'func':
      out = { ...base, kind: 'func', proto: t.proto, linkage: t.linkage };
      break;
    case 'var':
      out = { ...base, kind: 'var', type: t.type, linkage: t.linkage };
      break;
    case 'datasec':
      out = { ...base, kind: 'datasec', size: t.size, vars: t.vars.map((v) => ({ ...v })) };
      break;
    case 'float':
      out = { ...base, kind: 'float', size: t.size };
      break;
    case 'decl_tag':
      out = { ...base, kind: 'decl_tag', target: t.target, componentIndex: t.componentIndex };
      break;
  }
  return out as T;
}

// ---------------------------------------------------------------------------------------------
// bpftool `btf dump ... format raw`
// ---------------------------------------------------------------------------------------------

const LINKAGE_LABEL: Record<string, string> = { static: 'static', global: 'global', extern: 'extern' };

function q(name: string): string {
  return `'${name === '' ? '(anon)' : name}'`;
}

/**
 * One type as `bpftool btf dump ... format raw` prints it (bpftool 7.x), without the final
 * newline; member, value, parameter and var lines follow on lines starting with a tab.
 * `idOf` maps referenced types to ids (default: their `id` field).
 */
export function formatTypeRaw(t: Type, idOf: (t: Type) => number = (x) => x.id): string {
  const head = `[${idOf(t)}] ${kindLabel(t.kind)} ${q(t.name)}`;
  switch (t.kind) {
    case 'void':
      return head;
    case 'int': {
      const enc = (t.signed ? 1 : 0) | (t.char ? 2 : 0) | (t.bool ? 4 : 0);
      const encStr = enc === 0 ? '(none)' : enc === 1 ? 'SIGNED' : enc === 2 ? 'CHAR' : enc === 4 ? 'BOOL' : 'UNKN';
      return `${head} size=${t.size} bits_offset=${t.offset} nr_bits=${t.bits} encoding=${encStr}`;
    }
    case 'ptr':
    case 'typedef':
    case 'const':
    case 'volatile':
    case 'restrict':
    case 'type_tag':
      return `${head} type_id=${idOf(t.target)}`;
    case 'array':
      return `${head} type_id=${idOf(t.element)} index_type_id=${idOf(t.index)} nr_elems=${t.length}`;
    case 'struct':
    case 'union': {
      let s = `${head} size=${t.size} vlen=${t.members.length}`;
      for (const m of t.members) {
        s += `\n\t${q(m.name)} type_id=${idOf(m.type)} bits_offset=${m.bitOffset}`;
        if (m.bitfieldSize) s += ` bitfield_size=${m.bitfieldSize}`;
      }
      return s;
    }
    case 'enum':
    case 'enum64': {
      let s = `${head} encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`;
      for (const v of t.values) {
        if (t.kind === 'enum') {
          const val = t.signed ? BigInt.asIntN(32, v.value) : BigInt.asUintN(32, v.value);
          s += `\n\t${q(v.name)} val=${val}`;
        } else {
          const val = t.signed ? BigInt.asIntN(64, v.value) : BigInt.asUintN(64, v.value);
          s += `\n\t${q(v.name)} val=${val}${t.signed ? 'LL' : 'ULL'}`;
        }
      }
      return s;
    }
    case 'fwd':
      return `${head} fwd_kind=${t.fwdKind}`;
    case 'func':
      return `${head} type_id=${idOf(t.proto)} linkage=${LINKAGE_LABEL[t.linkage] ?? '(unknown)'}`;
    case 'func_proto': {
      let s = `${head} ret_type_id=${idOf(t.returnType)} vlen=${t.params.length}`;
      for (const p of t.params) s += `\n\t${q(p.name)} type_id=${idOf(p.type)}`;
      return s;
    }
    case 'var':
      return `${head} type_id=${idOf(t.type)}, linkage=${LINKAGE_LABEL[t.linkage] ?? '(unknown)'}`;
    case 'datasec': {
      let s = `${head} size=${t.size} vlen=${t.vars.length}`;
      for (const v of t.vars) {
        s += `\n\ttype_id=${idOf(v.type)} offset=${v.offset} size=${v.size} (${kindLabel(v.type.kind)} ${q(v.type.name)})`;
      }
      return s;
    }
    case 'float':
      return `${head} size=${t.size}`;
    case 'decl_tag':
      return `${head} type_id=${idOf(t.target)} component_idx=${t.componentIndex}`;
  }
}
