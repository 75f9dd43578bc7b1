/**
 * CO-RE, the type-level half: access specs, the type compatibility and matching rules, and the
 * values each relocation kind computes. Works on Type objects alone (parsed or hand-built);
 * candidate lookup by name, instruction patching and the public entry points are in core.ts.
 *
 * The algorithm is libbpf's (tools/lib/bpf/relo_core.c, also in the kernel as
 * kernel/bpf/relo_core.c), re-expressed over this library's type graph:
 *
 * - An access string ("0:1:2") indexes from a root type: the first number is an array index
 *   through the pointer (`p[0]`), then member indexes of structs/unions (anonymous members
 *   included) and array element indexes. The *raw* spec is those numbers; the *high-level*
 *   spec keeps only the meaningful steps: named members and array indexes.
 * - A local spec is matched against a candidate target type by member *names* (looking through
 *   anonymous members of the target), array bounds and field type compatibility; the target's
 *   raw spec and bit offset come out of the match.
 * - Values (offset, size, shifts, ...) are computed from the local spec (what the compiler
 *   assumed: checked against the instruction) and from the target spec (what gets patched in).
 */

import { EbpfError } from '../errors.js';
import {
  BPF_CORE_ENUMVAL_EXISTS,
  BPF_CORE_ENUMVAL_VALUE,
  BPF_CORE_FIELD_BYTE_OFFSET,
  BPF_CORE_FIELD_BYTE_SIZE,
  BPF_CORE_FIELD_EXISTS,
  BPF_CORE_FIELD_LSHIFT_U64,
  BPF_CORE_FIELD_RSHIFT_U64,
  BPF_CORE_FIELD_SIGNED,
  BPF_CORE_TYPE_EXISTS,
  BPF_CORE_TYPE_ID_LOCAL,
  BPF_CORE_TYPE_ID_TARGET,
  BPF_CORE_TYPE_MATCHES,
  BPF_CORE_TYPE_SIZE,
  CORE_RELO_KIND_NAMES,
} from './ext.js';
import type { ArrayType, EnumType, StructType, Type } from './types.js';
import { resolve, sizeof } from './util.js';

/** Longest access string / spec libbpf accepts (BPF_CORE_SPEC_MAX_LEN). */
export const CORE_SPEC_MAX_LEN = 64;

/** How deep the compatibility and matching rules recurse (libbpf: 32). */
export const CORE_MAX_DEPTH = 32;

/**
 * A CO-RE relocation could not be computed or applied. `code` tells the broad reason:
 *
 * - `ERR_CORE_SPEC`: the relocation record is malformed (bad access string, type id, kind, or
 *   a spec that doesn't fit the local types);
 * - `ERR_CORE_AMBIGUOUS`: several target candidates match with different results;
 * - `ERR_CORE_UNSUPPORTED`: something libbpf refuses too (anonymous local type, an array
 *   accessor for a bitfield-only kind, a bitfield no 64-bit load can read);
 * - `ERR_CORE_INSN`: the instruction at the relocation's offset can't take the value (wrong
 *   class, value out of range, or the value compiled in differs from the local result).
 */
export class CoreRelocationError extends EbpfError {
  /** Index of the relocation in the list given, when known. */
  readonly reloIndex: number | undefined;
  constructor(code: string, message: string, reloIndex?: number, options?: { cause?: unknown }) {
    super(code, message, options);
    this.reloIndex = reloIndex;
  }
}

// ---------------------------------------------------------------------------------------------
// Kinds
// ---------------------------------------------------------------------------------------------

/** The kind's name as libbpf prints it (`byte_off`, `type_exists`, ...), or `unknown(N)`. */
export function coreKindName(kind: number): string {
  return CORE_RELO_KIND_NAMES[kind] ?? `unknown(${kind})`;
}

/** FIELD_* kinds: the access string walks members and array elements. */
export function isFieldBasedKind(kind: number): boolean {
  return kind >= BPF_CORE_FIELD_BYTE_OFFSET && kind <= BPF_CORE_FIELD_RSHIFT_U64;
}

/** TYPE_* kinds: the access string is "0". */
export function isTypeBasedKind(kind: number): boolean {
  return (
    kind === BPF_CORE_TYPE_ID_LOCAL ||
    kind === BPF_CORE_TYPE_ID_TARGET ||
    kind === BPF_CORE_TYPE_EXISTS ||
    kind === BPF_CORE_TYPE_SIZE ||
    kind === BPF_CORE_TYPE_MATCHES
  );
}

/** ENUMVAL_* kinds: the access string is one enumerator index. */
export function isEnumValueBasedKind(kind: number): boolean {
  return kind === BPF_CORE_ENUMVAL_EXISTS || kind === BPF_CORE_ENUMVAL_VALUE;
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

const US = 0x5f; // '_'

/**
 * The name without its CO-RE flavour: everything from the last `X___Y` separator on is dropped,
 * where X and Y are not underscores (libbpf's bpf_core_essential_name_len). `task_struct___v2`
 * -> `task_struct`; `___GFP_DMA_BIT` and `a____b` stay as they are.
 */
export function coreEssentialName(name: string): string {
  for (let i = name.length - 5; i >= 0; i--) {
    if (
      name.charCodeAt(i) !== US &&
      name.charCodeAt(i + 1) === US &&
      name.charCodeAt(i + 2) === US &&
      name.charCodeAt(i + 3) === US &&
      name.charCodeAt(i + 4) !== US
    ) {
      return name.slice(0, i + 1);
    }
  }
  return name;
}

/** Whether `name` carries a flavour suffix (`coreEssentialName(name) !== name`). */
export function hasCoreFlavor(name: string): boolean {
  return coreEssentialName(name).length !== name.length;
}

/** Names equal up to flavours; an anonymous target only matches an anonymous local. */
function namesMatch(local: string, target: string): boolean {
  if (target === '') return local === '';
  return coreEssentialName(local) === coreEssentialName(target);
}

// ---------------------------------------------------------------------------------------------
// Compatibility rules
// ---------------------------------------------------------------------------------------------

function isEnum(t: Type): t is EnumType {
  return t.kind === 'enum' || t.kind === 'enum64';
}

function isComposite(t: Type): t is StructType {
  return t.kind === 'struct' || t.kind === 'union';
}

/** Same kind, with enum and enum64 counting as one (libbpf's btf_kind_core_compat). */
export function coreKindsCompatible(a: Type, b: Type): boolean {
  return a.kind === b.kind || (isEnum(a) && isEnum(b));
}

function tooDeep(what: string): CoreRelocationError {
  return new CoreRelocationError('ERR_CORE_SPEC', `${what}: types nest deeper than ${CORE_MAX_DEPTH} levels`);
}

/**
 * Type compatibility for type-based relocations (TYPE_EXISTS, TYPE_SIZE, TYPE_ID_TARGET), as
 * libbpf's bpf_core_types_are_compat. The caller has matched the root names already; beyond
 * that names are ignored. Qualifiers and typedefs are skipped (after a first check that the
 * unresolved kinds agree, so a typedef only matches a typedef):
 * structs, unions, enums (any size, enum ~ enum64), fwds and void are compatible with the same
 * kind; ints unless either is an old-style bitfield int (non-zero bit offset); pointers and
 * arrays if their targets are (array lengths ignored); function prototypes with as many
 * parameters, all compatible, and a compatible return type.
 */
export function coreTypesAreCompatible(local: Type, target: Type, level = CORE_MAX_DEPTH): boolean {
  if (!coreKindsCompatible(local, target)) return false;
  for (let depth = CORE_MAX_DEPTH; ; ) {
    if (--depth < 0) throw tooDeep('type compatibility');
    const l = resolve(local);
    const t = resolve(target);
    if (!coreKindsCompatible(l, t)) return false;
    switch (l.kind) {
      case 'void':
      case 'struct':
      case 'union':
      case 'enum':
      case 'enum64':
      case 'fwd':
        return true;
      case 'int':
        return l.offset === 0 && (t as typeof l).offset === 0;
      case 'ptr':
        local = l.target;
        target = (t as typeof l).target;
        continue;
      case 'array':
        local = l.element;
        target = (t as typeof l).element;
        continue;
      case 'func_proto': {
        const tp = t as typeof l;
        if (l.params.length !== tp.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (level <= 0) throw tooDeep('type compatibility');
          if (!coreTypesAreCompatible(resolve(l.params[i]!.type), resolve(tp.params[i]!.type), level - 1)) return false;
        }
        local = l.returnType;
        target = tp.returnType;
        continue;
      }
      default:
        return false;
    }
  }
}

/**
 * Compatibility of a local field's type with the target field of the same name, as libbpf's
 * bpf_core_fields_are_compat (qualifiers and typedefs skipped): any two structs/unions; any two
 * pointers; any two floats; fwds and enums (enum ~ enum64) whose names agree up to flavours or
 * of which one is anonymous; ints unless old-style bitfield ints; arrays with compatible
 * elements (lengths ignored). Nothing else.
 */
export function coreFieldsAreCompatible(local: Type, target: Type): boolean {
  for (let depth = CORE_MAX_DEPTH; ; ) {
    if (--depth < 0) throw tooDeep('field compatibility');
    const l = resolve(local);
    const t = resolve(target);
    if (isComposite(l) && isComposite(t)) return true;
    if (!coreKindsCompatible(l, t)) return false;
    switch (l.kind) {
      case 'ptr':
      case 'float':
        return true;
      case 'fwd':
      case 'enum':
      case 'enum64': {
        const ln = coreEssentialName(l.name);
        const tn = coreEssentialName(t.name);
        return ln === '' || tn === '' || ln === tn;
      }
      case 'int':
        return l.offset === 0 && (t as typeof l).offset === 0;
      case 'array':
        local = l.element;
        target = (t as typeof l).element;
        continue;
      default:
        return false;
    }
  }
}

/**
 * The TYPE_MATCHES relation, as libbpf's bpf_core_types_match (root names already matched by
 * the caller). Qualifiers and typedefs are skipped; then names must agree up to flavours
 * (anonymous matches anonymous only) and, per kind:
 * - ints: same size and signedness;
 * - enums (enum ~ enum64): same size, and every local enumerator name exists in the target;
 * - structs/unions: same kind, and every local member has a target member of the same name whose
 *   type matches; behind a pointer, only the kind is compared, and a struct/union also matches
 *   a fwd of the same kind;
 * - fwds: a fwd of the same kind (behind a pointer also the struct/union it declares);
 * - pointers: their targets match (which puts them "behind a pointer");
 * - arrays: same length, elements match;
 * - function prototypes: same number of parameters, each and the return type matching.
 */
export function coreTypesMatch(local: Type, target: Type, behindPtr = false, level = CORE_MAX_DEPTH): boolean {
  if (level <= 0) throw tooDeep('type match');
  for (let depth = CORE_MAX_DEPTH; ; ) {
    if (--depth < 0) throw tooDeep('type match');
    const l = resolve(local);
    const t = resolve(target);
    if (!namesMatch(l.name, t.name)) return false;
    switch (l.kind) {
      case 'void':
        return t.kind === 'void';
      case 'fwd':
        if (t.kind === 'fwd') return l.fwdKind === t.fwdKind;
        if (!behindPtr) return false;
        return (t.kind === 'struct' && l.fwdKind === 'struct') || (t.kind === 'union' && l.fwdKind === 'union');
      case 'enum':
      case 'enum64':
        return isEnum(t) && enumsMatch(l, t);
      case 'struct':
      case 'union':
        if (behindPtr) {
          if (l.kind === t.kind) return true;
          return t.kind === 'fwd' && (l.kind === 'union') === (t.fwdKind === 'union');
        }
        return l.kind === t.kind && compositesMatch(l, t as StructType, behindPtr, level);
      case 'int':
        return t.kind === 'int' && l.size === t.size && l.signed === t.signed;
      case 'ptr':
        if (t.kind !== 'ptr') return false;
        behindPtr = true;
        local = l.target;
        target = t.target;
        continue;
      case 'array':
        if (t.kind !== 'array' || l.length !== t.length) return false;
        local = l.element;
        target = t.element;
        continue;
      case 'func_proto': {
        if (t.kind !== 'func_proto' || l.params.length !== t.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (!coreTypesMatch(l.params[i]!.type, t.params[i]!.type, behindPtr, level - 1)) return false;
        }
        local = l.returnType;
        target = t.returnType;
        continue;
      }
      default:
        return false;
    }
  }
}

function enumsMatch(l: EnumType, t: EnumType): boolean {
  if (l.size !== t.size || l.values.length > t.values.length) return false;
  return l.values.every((lv) => t.values.some((tv) => namesMatch(lv.name, tv.name)));
}

function compositesMatch(l: StructType, t: StructType, behindPtr: boolean, level: number): boolean {
  if (l.members.length > t.members.length) return false;
  return l.members.every((lm) => t.members.some((tm) => namesMatch(lm.name, tm.name) && coreTypesMatch(lm.type, tm.type, behindPtr, level - 1)));
}

// ---------------------------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------------------------

/** One high-level step of a spec: a named member, or an array index (the root's included). */
export interface CoreAccessor {
  /**
   * For a named member: the struct/union holding it (after qualifiers and typedefs; an
   * anonymous inner struct when the member lives there). For an index: the element type
   * (after qualifiers and typedefs); for the first accessor, the resolved root type.
   */
  type: Type;
  /** Member index in `type`, or the array index. */
  index: number;
  /** The member's name; undefined for an array index. For ENUMVAL kinds: the enumerator's name. */
  name?: string;
}

/** An access spec resolved against one BTF (libbpf's struct bpf_core_spec). */
export interface CoreSpec {
  kind: number;
  /** The root type as the relocation names it (not resolved: may be a typedef). */
  root: Type;
  /** High-level spec: named members and array indexes only. Empty for type-based kinds. */
  accessors: CoreAccessor[];
  /** Low-level spec: one number per step, anonymous members included. */
  raw: number[];
  /** Bit offset of the field from the start of the root (field-based kinds). */
  bitOffset: number;
}

/** Parses "0:1:2" into numbers. Throws CoreRelocationError (ERR_CORE_SPEC) if malformed. */
export function parseAccessString(access: string): number[] {
  if (!/^\d+(:\d+)*$/.test(access)) {
    throw new CoreRelocationError('ERR_CORE_SPEC', `malformed access string ${JSON.stringify(access)} (expected numbers separated by ':')`);
  }
  const parts = access.split(':');
  if (parts.length > CORE_SPEC_MAX_LEN) {
    throw new CoreRelocationError('ERR_CORE_SPEC', `access string ${JSON.stringify(access)} has ${parts.length} steps (at most ${CORE_SPEC_MAX_LEN})`);
  }
  return parts.map((p) => {
    const n = Number(p);
    if (!Number.isSafeInteger(n) || n > 0x7fffffff) throw new CoreRelocationError('ERR_CORE_SPEC', `access index ${p} is out of range`);
    return n;
  });
}

function specError(message: string): CoreRelocationError {
  return new CoreRelocationError('ERR_CORE_SPEC', message);
}

/** sizeof, with the failure as a spec error. */
function sizeOrThrow(t: Type, what: string): number {
  try {
    return sizeof(t);
  } catch (err) {
    throw new CoreRelocationError('ERR_CORE_SPEC', `${what}: ${(err as Error).message}`, undefined, { cause: err });
  }
}

/** A flexible array: length 0, last member of the struct named by the previous accessor. */
function isFlexArray(prev: CoreAccessor | undefined, arr: ArrayType): boolean {
  if (!prev || prev.name === undefined || arr.length > 0) return false;
  const s = prev.type as StructType;
  return prev.index === s.members.length - 1;
}

function describeKind(t: Type): string {
  return t.kind === 'void' ? 'void' : t.kind;
}

/**
 * Resolves a relocation's access string against its local root type (libbpf's
 * bpf_core_parse_spec). Throws CoreRelocationError (ERR_CORE_SPEC) when the string doesn't fit.
 */
export function parseCoreSpec(root: Type, access: string, kind: number): CoreSpec {
  const spec: CoreSpec = { kind, root, accessors: [], raw: [], bitOffset: 0 };
  if (isTypeBasedKind(kind)) {
    if (access !== '0') throw specError(`type-based relocation <${coreKindName(kind)}> has access string ${JSON.stringify(access)}, expected "0"`);
    return spec;
  }
  if (!isFieldBasedKind(kind) && !isEnumValueBasedKind(kind)) throw specError(`unknown CO-RE relocation kind ${kind}`);
  const raw = parseAccessString(access);
  spec.raw = raw;
  let t = resolve(root);
  const first = raw[0]!;

  if (isEnumValueBasedKind(kind)) {
    if (!isEnum(t)) throw specError(`<${coreKindName(kind)}> relocation on [${root.id}] ${describeKind(root)} '${root.name}', which is not an enum`);
    if (raw.length > 1) throw specError(`<${coreKindName(kind)}> access string ${JSON.stringify(access)} has more than one index`);
    const v = t.values[first];
    if (!v) throw specError(`enumerator index ${first} is out of range: ${describeKind(t)} '${t.name}' has ${t.values.length} values`);
    spec.accessors.push({ type: t, index: first, name: v.name });
    return spec;
  }

  spec.accessors.push({ type: t, index: first });
  spec.bitOffset = first * sizeOrThrow(t, `access string ${access}`) * 8;
  for (let i = 1; i < raw.length; i++) {
    const idx = raw[i]!;
    t = resolve(t);
    if (isComposite(t)) {
      const m = t.members[idx];
      if (!m) throw specError(`access string ${access}: member index ${idx} is out of range (${describeKind(t)} '${t.name}' has ${t.members.length} members)`);
      spec.bitOffset += m.bitOffset;
      if (m.name !== '') spec.accessors.push({ type: t, index: idx, name: m.name });
      t = m.type;
    } else if (t.kind === 'array') {
      const elem = resolve(t.element);
      if (!isFlexArray(spec.accessors[spec.accessors.length - 1], t) && idx >= t.length) {
        throw specError(`access string ${access}: array index ${idx} is out of range (length ${t.length})`);
      }
      spec.accessors.push({ type: elem, index: idx });
      spec.bitOffset += idx * sizeOrThrow(elem, `access string ${access}`) * 8;
      t = elem;
    } else {
      throw specError(`access string ${access}: step ${i} reaches [${t.id}] ${describeKind(t)} '${t.name}', which has no members or elements`);
    }
  }
  return spec;
}

type MemberSearch = 'found' | 'incompatible' | 'none';

/**
 * Looks for the member named like the local accessor's inside `target` (through anonymous
 * struct/union members), extending `spec` as it goes (libbpf's bpf_core_match_member).
 */
function matchMember(local: CoreAccessor, target: Type, spec: CoreSpec, next: { type: Type }, depth: number): MemberSearch {
  if (depth > CORE_SPEC_MAX_LEN) throw tooDeep('member match');
  const t = resolve(target);
  if (!isComposite(t)) return 'none';
  const localMember = (local.type as StructType).members[local.index]!;
  for (let i = 0; i < t.members.length; i++) {
    const m = t.members[i]!;
    if (spec.raw.length >= CORE_SPEC_MAX_LEN) throw specError(`target spec longer than ${CORE_SPEC_MAX_LEN} steps`);
    spec.bitOffset += m.bitOffset;
    spec.raw.push(i);
    if (m.name === '') {
      const r = matchMember(local, m.type, spec, next, depth + 1);
      if (r !== 'none') return r;
    } else if (m.name === local.name) {
      spec.accessors.push({ type: t, index: i, name: m.name });
      next.type = m.type;
      if (coreFieldsAreCompatible(localMember.type, m.type)) return 'found';
      spec.accessors.pop();
      return 'incompatible';
    }
    spec.bitOffset -= m.bitOffset;
    spec.raw.pop();
  }
  return 'none';
}

/**
 * Matches a local spec against one candidate target type (libbpf's bpf_core_spec_match).
 * Returns the target spec, or undefined if the candidate doesn't match. `target` is the
 * candidate root (found by name; not resolved).
 */
export function matchCoreSpec(local: CoreSpec, target: Type): CoreSpec | undefined {
  const spec: CoreSpec = { kind: local.kind, root: target, accessors: [], raw: [], bitOffset: 0 };
  const kind = local.kind;
  if (isTypeBasedKind(kind)) {
    const ok = kind === BPF_CORE_TYPE_MATCHES ? coreTypesMatch(local.root, target) : coreTypesAreCompatible(local.root, target);
    return ok ? spec : undefined;
  }
  if (isEnumValueBasedKind(kind)) {
    const t = resolve(target);
    if (!isEnum(t)) return undefined;
    const want = coreEssentialName(local.accessors[0]!.name!);
    const i = t.values.findIndex((v) => coreEssentialName(v.name) === want);
    if (i < 0) return undefined;
    spec.accessors.push({ type: t, index: i, name: t.values[i]!.name });
    spec.raw.push(i);
    return spec;
  }
  let cur: Type = target;
  for (let i = 0; i < local.accessors.length; i++) {
    const la = local.accessors[i]!;
    let t = resolve(cur);
    if (la.name !== undefined) {
      const next = { type: t };
      if (matchMember(la, t, spec, next, 0) !== 'found') return undefined;
      cur = next.type;
      continue;
    }
    if (i > 0) {
      if (t.kind !== 'array') return undefined;
      if (!isFlexArray(spec.accessors[spec.accessors.length - 1], t) && la.index >= t.length) return undefined;
      t = resolve(t.element);
    }
    if (spec.raw.length >= CORE_SPEC_MAX_LEN) throw specError(`target spec longer than ${CORE_SPEC_MAX_LEN} steps`);
    spec.accessors.push({ type: t, index: la.index });
    spec.raw.push(la.index);
    spec.bitOffset += la.index * sizeOrThrow(t, 'target array element') * 8;
    cur = t;
  }
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

/**
 * A spec as libbpf's bpf_core_format_spec prints it:
 * `<byte_off> [42] struct task_struct.comm[3] (0:58:3 @ offset 1875)`,
 * `<enumval_value> [7] enum bpf_map_type::BPF_MAP_TYPE_ARRAY = 2`, `<type_size> [9] typedef u64`.
 */
export function formatCoreSpec(spec: CoreSpec): string {
  const r = spec.root;
  let s = `<${coreKindName(spec.kind)}> [${r.id}] ${describeKind(r)} ${r.name || '<anon>'}`;
  if (isTypeBasedKind(spec.kind)) return s;
  if (isEnumValueBasedKind(spec.kind)) {
    const t = resolve(r) as EnumType;
    const v = t.values[spec.raw[0]!];
    if (v) {
      const val = t.kind === 'enum' ? (t.signed ? BigInt.asIntN(32, v.value) : BigInt.asUintN(32, v.value)) : t.signed ? BigInt.asIntN(64, v.value) : BigInt.asUintN(64, v.value);
      s += `::${v.name} = ${val}`;
    }
    return s;
  }
  spec.accessors.forEach((a, i) => {
    if (a.name !== undefined) s += `.${a.name}`;
    else if (i > 0 || a.index > 0) s += `[${a.index}]`;
  });
  const off = spec.bitOffset % 8 ? `${Math.floor(spec.bitOffset / 8)}.${spec.bitOffset % 8}` : `${spec.bitOffset / 8}`;
  return `${s} (${spec.raw.join(':')} @ offset ${off})`;
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/** What one spec yields for a relocation kind. */
export interface CoreValue {
  /** The value (u64, as libbpf computes it). */
  value: bigint;
  /** Whether the instruction's current value must equal the local value before patching. */
  validate: boolean;
  /**
   * FIELD_BYTE_OFFSET on a non-bitfield field: the size of the memory access a direct load or
   * store of it makes (an array's element size); 0 otherwise.
   */
  memSize: number;
  /** The field type (qualifiers and typedefs skipped) `memSize` was taken from. */
  memType: Type | undefined;
  /** No value: the instruction has to be poisoned. */
  poison: boolean;
}

function value(v: bigint | number | boolean, validate = true): CoreValue {
  return { value: BigInt.asUintN(64, BigInt(v)), validate, memSize: 0, memType: undefined, poison: false };
}

const POISON: CoreValue = Object.freeze({ value: 0n, validate: true, memSize: 0, memType: undefined, poison: true });

function elementSize(t: Type): number {
  let e = resolve(t);
  for (let depth = 0; e.kind === 'array'; depth++) {
    if (depth > CORE_MAX_DEPTH) throw tooDeep('array element');
    e = resolve(e.element);
  }
  return sizeOrThrow(e, 'field size');
}

function unsupported(message: string): CoreRelocationError {
  return new CoreRelocationError('ERR_CORE_UNSUPPORTED', message);
}

/**
 * The value of a field-based relocation for one spec (libbpf's bpf_core_calc_field_relo);
 * `spec` undefined means the field wasn't found: 0 for FIELD_EXISTS, poison otherwise.
 */
export function coreFieldValue(kind: number, spec: CoreSpec | undefined, littleEndian = true): CoreValue {
  if (kind === BPF_CORE_FIELD_EXISTS) return value(spec ? 1 : 0);
  if (!spec) return POISON;
  const acc = spec.accessors[spec.accessors.length - 1]!;

  if (acc.name === undefined) {
    // An array element (or the root itself) is the field.
    if (kind === BPF_CORE_FIELD_BYTE_OFFSET) {
      return { value: BigInt(Math.floor(spec.bitOffset / 8)), validate: true, memSize: elementSize(acc.type), memType: acc.type, poison: false };
    }
    if (kind === BPF_CORE_FIELD_BYTE_SIZE) return value(sizeOrThrow(acc.type, 'field size'));
    throw unsupported(`<${coreKindName(kind)}> can't be applied to an array element access`);
  }

  const m = (acc.type as StructType).members[acc.index]!;
  const mt = resolve(m.type);
  const bitOff = spec.bitOffset;
  let bitSize = m.bitfieldSize;
  const bitfield = bitSize > 0;
  let byteOff: number;
  let byteSize: number;
  if (bitfield) {
    if (mt.kind !== 'int' && !isEnum(mt)) throw unsupported(`bitfield of kind ${mt.kind}`);
    byteSize = mt.size;
    if (byteSize <= 0) throw specError(`bitfield '${m.name}' has a type of size ${byteSize}`);
    byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    // The smallest load that holds the whole bitfield.
    while (bitOff + bitSize - byteOff * 8 > byteSize * 8) {
      if (byteSize >= 8) throw unsupported(`bitfield '${m.name}' (bits ${bitOff}..${bitOff + bitSize - 1}) can't be read with a 64-bit load`);
      byteSize *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    }
  } else {
    byteSize = sizeOrThrow(mt, `field '${m.name}'`);
    byteOff = Math.floor(bitOff / 8);
    bitSize = byteSize * 8;
  }
  // For bitfields the compiler may have picked another load size/offset: only signedness and
  // the right shift are unambiguous.
  switch (kind) {
    case BPF_CORE_FIELD_BYTE_OFFSET:
      if (bitfield) return value(byteOff, false);
      return { value: BigInt(byteOff), validate: true, memSize: elementSize(mt), memType: mt, poison: false };
    case BPF_CORE_FIELD_BYTE_SIZE:
      return value(byteSize, !bitfield);
    case BPF_CORE_FIELD_SIGNED:
      return value((isEnum(mt) && mt.signed) || (mt.kind === 'int' && mt.signed), true);
    case BPF_CORE_FIELD_LSHIFT_U64:
      return value(littleEndian ? 64 - (bitOff + bitSize - byteOff * 8) : (8 - byteSize) * 8 + (bitOff - byteOff * 8), !bitfield);
    case BPF_CORE_FIELD_RSHIFT_U64:
      return value(64 - bitSize, true);
    default:
      throw unsupported(`unrecognized CO-RE relocation kind ${kind}`);
  }
}

/**
 * The value of a type-based relocation (not TYPE_ID_LOCAL) for one spec; a missing target
 * yields 0 for every kind (libbpf's bpf_core_calc_type_relo).
 */
export function coreTypeValue(kind: number, spec: CoreSpec | undefined): CoreValue {
  if (!spec) return value(0);
  switch (kind) {
    case BPF_CORE_TYPE_ID_TARGET:
      // Type ids in the instruction may have changed when objects were linked: don't check.
      return value(spec.root.id, false);
    case BPF_CORE_TYPE_EXISTS:
    case BPF_CORE_TYPE_MATCHES:
      return value(1);
    case BPF_CORE_TYPE_SIZE:
      return value(sizeOrThrow(spec.root, 'type size'));
    default:
      throw unsupported(`unrecognized CO-RE relocation kind ${kind}`);
  }
}

/**
 * The value of an enum-value relocation for one spec. ENUMVAL_VALUE of a missing enumerator
 * poisons. A 32-bit enum's value is sign-extended to 64 bits, as libbpf does (btf_enum.val is
 * an s32), whatever the enum's signedness.
 */
export function coreEnumValue(kind: number, spec: CoreSpec | undefined): CoreValue {
  if (kind === BPF_CORE_ENUMVAL_EXISTS) return value(spec ? 1 : 0);
  if (kind !== BPF_CORE_ENUMVAL_VALUE) throw unsupported(`unrecognized CO-RE relocation kind ${kind}`);
  if (!spec) return POISON;
  const acc = spec.accessors[0]!;
  const t = acc.type as EnumType;
  const v = t.values[acc.index]!.value;
  return value(t.kind === 'enum' ? BigInt.asIntN(32, v) : BigInt.asUintN(64, v));
}

/** The value of any kind but TYPE_ID_LOCAL for one spec (undefined: no target). */
export function coreValue(kind: number, spec: CoreSpec | undefined, littleEndian = true): CoreValue {
  if (isFieldBasedKind(kind)) return coreFieldValue(kind, spec, littleEndian);
  if (isEnumValueBasedKind(kind)) return coreEnumValue(kind, spec);
  if (isTypeBasedKind(kind) && kind !== BPF_CORE_TYPE_ID_LOCAL) return coreTypeValue(kind, spec);
  throw unsupported(`unrecognized CO-RE relocation kind ${kind}`);
}

// ---------------------------------------------------------------------------------------------
// One relocation against its candidates
// ---------------------------------------------------------------------------------------------

/** A possible target type; `source` is whatever the caller wants back (the Spec it came from). */
export interface CoreCandidate<S = unknown> {
  type: Type;
  source?: S;
}

/** The outcome of one relocation (libbpf's struct bpf_core_relo_res, plus the specs). */
export interface CoreResolution<S = unknown> {
  kind: number;
  local: CoreSpec;
  /** The first matching candidate's spec; undefined when none matched (or TYPE_ID_LOCAL). */
  target: CoreSpec | undefined;
  /** The candidate `target` came from. */
  candidate: CoreCandidate<S> | undefined;
  /** The value compiled into the instruction (as libbpf computes it from the local types). */
  localValue: bigint;
  /** The value to patch in. */
  targetValue: bigint;
  /** No target: the instruction gets replaced by an invalid helper call. */
  poison: boolean;
  /** Whether the instruction's value must equal `localValue` before patching. */
  validate: boolean;
  /** Memory access size of a direct load/store of the field, local and target (0: n/a). */
  localMemSize: number;
  targetMemSize: number;
  /**
   * The field's size changed in a way a load/store size change can't follow (only unsigned
   * ints and pointers may be resized): an LDX/ST/STX at this relocation gets poisoned.
   */
  memSizeMismatch: boolean;
  /** The candidates that matched, in order (all agreeing on the result). */
  matched: CoreCandidate<S>[];
}

function isUnsignedInt(t: Type | undefined): boolean {
  // libbpf: btf_int_encoding(t) != BTF_INT_SIGNED, so char and bool count as unsigned.
  return t?.kind === 'int' && !(t.signed && !t.char && !t.bool);
}

function resolution<S>(kind: number, local: CoreSpec, target: CoreSpec | undefined, candidate: CoreCandidate<S> | undefined, littleEndian: boolean): CoreResolution<S> {
  const lv = coreValue(kind, local, littleEndian);
  const tv = coreValue(kind, target, littleEndian);
  let memSizeMismatch = false;
  if (isFieldBasedKind(kind) && !tv.poison && lv.memSize !== tv.memSize) {
    const a = lv.memType;
    const b = tv.memType;
    const ok = (a?.kind === 'ptr' && b?.kind === 'ptr') || (isUnsignedInt(a) && isUnsignedInt(b));
    memSizeMismatch = !ok;
  }
  return {
    kind,
    local,
    target,
    candidate,
    localValue: lv.value,
    targetValue: tv.poison ? 0n : tv.value,
    poison: tv.poison,
    validate: lv.validate,
    localMemSize: lv.memSize,
    targetMemSize: tv.poison ? 0 : tv.memSize,
    memSizeMismatch,
    matched: [],
  };
}

export interface ResolveOptions {
  /** Byte order of the target (for FIELD_LSHIFT_U64). Default: little endian. */
  littleEndian?: boolean;
}

/**
 * Resolves one relocation given its local root type, access string and the target candidates
 * (types whose names agree with the local root's up to flavours, in lookup order). Every
 * matching candidate must give the same bit offset and value, else CoreRelocationError
 * (ERR_CORE_AMBIGUOUS). No match: existence kinds give 0, TYPE_SIZE/TYPE_ID_TARGET 0, the
 * others are poisoned. TYPE_ID_LOCAL ignores candidates (its value is `localRoot.id`).
 */
export function resolveCoreRelocation<S>(
  kind: number,
  localRoot: Type,
  access: string,
  candidates: readonly CoreCandidate<S>[],
  options: ResolveOptions = {},
): CoreResolution<S> {
  const littleEndian = options.littleEndian ?? true;
  const local = parseCoreSpec(localRoot, access, kind);
  if (kind === BPF_CORE_TYPE_ID_LOCAL) {
    const id = BigInt(localRoot.id);
    return {
      kind,
      local,
      target: undefined,
      candidate: undefined,
      localValue: id,
      targetValue: id,
      poison: false,
      validate: false,
      localMemSize: 0,
      targetMemSize: 0,
      memSizeMismatch: false,
      matched: [],
    };
  }
  if (localRoot.name === '') throw unsupported(`<${coreKindName(kind)}> relocation on an anonymous type ([${localRoot.id}] ${describeKind(localRoot)}) is not supported`);

  let best: CoreResolution<S> | undefined;
  const matched: CoreCandidate<S>[] = [];
  for (const cand of candidates) {
    const spec = matchCoreSpec(local, cand.type);
    if (!spec) continue;
    const res = resolution(kind, local, spec, cand, littleEndian);
    if (!best) {
      best = res;
    } else if (spec.bitOffset !== best.target!.bitOffset) {
      throw new CoreRelocationError(
        'ERR_CORE_AMBIGUOUS',
        `field offset ambiguity: ${formatCoreSpec(spec)} and ${formatCoreSpec(best.target!)} resolve to different bit offsets (${spec.bitOffset} != ${best.target!.bitOffset})`,
      );
    } else if (res.poison !== best.poison || res.targetValue !== best.targetValue) {
      throw new CoreRelocationError(
        'ERR_CORE_AMBIGUOUS',
        `relocation decision ambiguity: ${formatCoreSpec(spec)} gives ${res.targetValue}, ${formatCoreSpec(best.target!)} gives ${best.targetValue}`,
      );
    }
    matched.push(cand);
  }
  const out = best ?? resolution<S>(kind, local, undefined, undefined, littleEndian);
  out.matched = matched;
  return out;
}
