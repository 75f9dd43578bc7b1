/**
 * CO-RE (Compile Once - Run Everywhere) relocations: adjusting a BPF object's instructions to
 * the kernel it is loaded into, from the `.BTF.ext` CO-RE records clang emits for
 * `__builtin_preserve_access_index`, `__builtin_preserve_field_info`, `__builtin_btf_type_id`,
 * `__builtin_preserve_type_info` and `__builtin_preserve_enum_value` (libbpf's BPF_CORE_READ,
 * bpf_core_field_exists, bpf_core_type_size, ... are built on them).
 *
 * Pure: the target BTF comes in as Specs (see {@link kernelCoreTargets} for the running
 * kernel's). Two steps, as libbpf does them (bpf_core_calc_relo_insn, then bpf_core_patch_insn):
 *
 * 1. {@link computeCoreRelocations}: for each record, the local spec, the target candidates
 *    (types named like the local root up to `___flavour` suffixes; vmlinux first, module BTF
 *    only if vmlinux has none), the matching candidates, and the local and target values.
 * 2. {@link applyCoreRelocations}: patches the instructions (ALU/ALU64 imm, LDX/ST/STX offset and
 *    access size, ld_imm64 value), after checking each still holds the local value, and
 *    poisons those without a target: they become `call 0xbad2310`, which the verifier reports
 *    as `invalid func unknown#195896080` if (and only if) the instruction is reachable.
 *
 * The type-level rules (spec parsing, matching, compatibility, values) live in core_match.ts.
 */

import { ArgumentError, FormatError } from '../errors.js';
import { BPF_ALU, BPF_ALU64, BPF_B, BPF_CALL, BPF_DW, BPF_H, BPF_JMP, BPF_K, BPF_LD, BPF_LDX, BPF_ST, BPF_STX, BPF_W, LD_IMM64, classOf, modeOf, sizeBytes, sourceOf } from '../asm/opcodes.js';
import { imm64Of, instructionAtSlot, totalSlots, type Instruction } from '../asm/instruction.js';
import {
  CoreRelocationError,
  coreEssentialName,
  coreKindName,
  coreKindsCompatible,
  formatCoreSpec,
  hasCoreFlavor,
  resolveCoreRelocation,
  type CoreCandidate,
  type CoreResolution,
} from './core_match.js';
import { BPF_CORE_TYPE_ID_LOCAL, type CoreRelo } from './ext.js';
import { listKernelModules, loadKernelModuleSpec, loadKernelSpec } from './kernel.js';
import type { Spec } from './spec.js';
import type { Type } from './types.js';
import { BtfNotFoundError } from './util.js';

export * from './core_match.js';

/** The helper id poisoned instructions call: `invalid func unknown#195896080` ("bad relo"). */
export const CORE_POISON_HELPER = 0xbad2310;

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

/** vmlinux BTF and (optionally, lazily) the split BTF of kernel modules. */
export interface CoreTargetSet {
  vmlinux: Spec | (() => Spec);
  /** Searched only for local types vmlinux has no candidate for; called at most once. */
  modules?: readonly Spec[] | (() => readonly Spec[]);
}

/**
 * Where candidates are looked for: a list whose first Spec is vmlinux (or whatever BTF takes
 * its place) and the rest module BTF; a function returning such a list (called once, when a
 * relocation first needs candidates); or a {@link CoreTargetSet}.
 */
export type CoreTargets = readonly Spec[] | (() => readonly Spec[]) | CoreTargetSet;

/** The running kernel's BTF as CO-RE targets: vmlinux, then the loaded modules' BTF (lazily). */
export function kernelCoreTargets(): CoreTargetSet {
  return {
    vmlinux: () => loadKernelSpec(),
    modules: () => {
      const out: Spec[] = [];
      for (const name of listKernelModules()) {
        try {
          out.push(loadKernelModuleSpec(name));
        } catch (err) {
          if (!(err instanceof BtfNotFoundError)) throw err; // unloaded since listed
        }
      }
      return out;
    },
  };
}

class TargetResolver {
  readonly #targets: CoreTargets;
  #main: Spec | undefined;
  #modules: readonly Spec[] | undefined;
  #list: readonly Spec[] | undefined;

  constructor(targets: CoreTargets) {
    this.#targets = targets;
  }

  #fromList(): readonly Spec[] {
    if (!this.#list) {
      const t = this.#targets;
      this.#list = typeof t === 'function' ? t() : (t as readonly Spec[]);
      if (this.#list.length === 0) throw new ArgumentError('CO-RE: no target BTF given (the first target must be vmlinux or its stand-in)');
    }
    return this.#list;
  }

  main(): Spec {
    if (this.#main) return this.#main;
    const t = this.#targets;
    if (typeof t === 'function' || Array.isArray(t)) this.#main = this.#fromList()[0]!;
    else {
      const v = (t as CoreTargetSet).vmlinux;
      this.#main = typeof v === 'function' ? v() : v;
    }
    return this.#main;
  }

  modules(): readonly Spec[] {
    if (this.#modules) return this.#modules;
    const t = this.#targets;
    if (typeof t === 'function' || Array.isArray(t)) this.#modules = this.#fromList().slice(1);
    else {
      const m = (t as CoreTargetSet).modules;
      this.#modules = typeof m === 'function' ? m() : (m ?? []);
    }
    return this.#modules;
  }
}

// Names with a flavour suffix, per Spec (own string table; the base's separately).
const flavoredNamesCache = new WeakMap<Spec, string[]>();
// Essential name -> ids of the Spec's own types whose names carry a flavour.
const flavoredIndexCache = new WeakMap<Spec, Map<string, number[]>>();

function ownFlavoredNames(spec: Spec): string[] {
  let names = flavoredNamesCache.get(spec);
  if (names) return names;
  names = [];
  const start = spec.base ? spec.base.stringsEnd : 0;
  const end = spec.stringsEnd;
  let ok = true;
  for (let off = start; off < end; ) {
    const s = spec.stringAt(off);
    if (s.includes('\ufffd')) {
      ok = false; // not valid UTF-8: byte lengths can't be recovered from the string
      break;
    }
    if (hasCoreFlavor(s)) names.push(s);
    off += utf8Length(s) + 1;
  }
  if (!ok) {
    const set = new Set<string>();
    for (const t of spec.types()) if (hasCoreFlavor(t.name)) set.add(t.name);
    names = [...set];
  }
  flavoredNamesCache.set(spec, names);
  return names;
}

/** Bytes of `s` in UTF-8, without encoding it. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      n += 4; // a surrogate pair
      i++;
    } else n += 3;
  }
  return n;
}

/** The Spec's own types with flavoured names, by essential name. */
function flavoredIndex(spec: Spec): Map<string, number[]> {
  let index = flavoredIndexCache.get(spec);
  if (index) return index;
  index = new Map();
  const names = new Set(ownFlavoredNames(spec));
  // Split BTF may name its types with strings of the base's string table.
  for (let b = spec.base; b; b = b.base) for (const n of ownFlavoredNames(b)) names.add(n);
  for (const name of names) {
    for (const id of spec.typeIdsByName(name)) {
      if (id < spec.firstTypeId) continue;
      const ess = coreEssentialName(name);
      let ids = index.get(ess);
      if (!ids) index.set(ess, (ids = []));
      ids.push(id);
    }
  }
  flavoredIndexCache.set(spec, index);
  return index;
}

/**
 * Candidates for `local` among `spec`'s own types (libbpf's bpf_core_add_cands): same kind (enum
 * and enum64 alike) and the same essential name, in id order.
 */
export function findCoreCandidates(spec: Spec, local: Type): CoreCandidate<Spec>[] {
  if (local.name === '') return [];
  const ess = coreEssentialName(local.name);
  const ids = new Set<number>();
  for (const id of spec.typeIdsByName(ess)) if (id >= spec.firstTypeId) ids.add(id);
  for (const id of flavoredIndex(spec).get(ess) ?? []) ids.add(id);
  const out: CoreCandidate<Spec>[] = [];
  for (const id of [...ids].sort((a, b) => a - b)) {
    const t = spec.typeById(id);
    if (t.name !== '' && coreKindsCompatible(t, local) && coreEssentialName(t.name) === ess) out.push({ type: t, source: spec });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Computing
// ---------------------------------------------------------------------------------------------

export interface CoreRelocationOptions {
  /**
   * Byte order of the target, for FIELD_LSHIFT_U64. Default: the local Spec's (an object only
   * loads on a kernel of its own byte order).
   */
  littleEndian?: boolean;
  /**
   * TYPE_ID_LOCAL: the id the local type has in the BTF loaded with the program, when the
   * loader renumbers types (sanitising, deduplicating). Default: its id in the local Spec.
   */
  localTypeId?: (type: Type) => number;
  /** Named in error messages: the ELF section or program the records belong to. */
  section?: string;
}

/** One computed relocation: {@link CoreResolution} plus where it came from and what to print. */
export interface CoreRelocationResult extends CoreResolution<Spec> {
  /** Position of the record in the list given to compute. */
  index: number;
  relo: CoreRelo;
  /** libbpf's name of the kind: `byte_off`, `field_exists`, `enumval_value`... */
  kindName: string;
  /** Instruction slot in the ELF section: relo.insnOffset / 8. */
  slot: number;
  /** The local spec as libbpf prints it: `<byte_off> [5] struct task_struct.pid (0:57 @ offset 2456)`. */
  description: string;
  /** The (first) matching target spec, same format; undefined if none matched. */
  targetDescription: string | undefined;
  /** BTF the target type was found in (vmlinux or a module); undefined if none matched. */
  targetSpec: Spec | undefined;
  /** Id of the target root type in `targetSpec` (for TYPE_ID_LOCAL: the local id). */
  targetTypeId: number | undefined;
}

function where(relo: CoreRelo, index: number, section: string | undefined): string {
  const at = relo.insnOffset % 8 === 0 ? `insn ${relo.insnOffset / 8}` : `byte offset ${relo.insnOffset}`;
  return `CO-RE relocation #${index} <${coreKindName(relo.kind)}> at ${at}${section ? ` of '${section}'` : ''}`;
}

/**
 * Adds which relocation failed to engine errors and to malformed-BTF errors (keeping their
 * code); anything else (no kernel BTF, a bad argument) passes through unchanged.
 */
function rethrow(err: unknown, prefix: string, index: number): never {
  if (err instanceof CoreRelocationError || err instanceof FormatError) {
    throw new CoreRelocationError(err.code, `${prefix}: ${err.message}`, index, { cause: err });
  }
  throw err;
}

/**
 * Computes CO-RE relocations against one set of targets, keeping libbpf's per-object candidate
 * cache: the candidates of a local type are looked up once, and after a relocation matched
 * some of them only those stay candidates for the following relocations of that type (so, as
 * with libbpf, results can depend on record order; feed sections in .BTF.ext order). Use one
 * relocator for all the sections of an object.
 */
export class CoreRelocator {
  readonly local: Spec;
  readonly #targets: TargetResolver;
  readonly #options: CoreRelocationOptions;
  readonly #cache = new Map<number, CoreCandidate<Spec>[]>();

  constructor(local: Spec, targets: CoreTargets, options: CoreRelocationOptions = {}) {
    this.local = local;
    this.#targets = new TargetResolver(targets);
    this.#options = options;
  }

  /** The (current) candidates of a local type: vmlinux's, else the modules'. */
  candidates(local: Type): CoreCandidate<Spec>[] {
    let c = this.#cache.get(local.id);
    if (c) return c;
    c = findCoreCandidates(this.#targets.main(), local);
    if (c.length === 0) for (const m of this.#targets.modules()) c.push(...findCoreCandidates(m, local));
    this.#cache.set(local.id, c);
    return c;
  }

  /** Computes the given records (indexes in results count from `firstIndex`). */
  compute(relos: readonly CoreRelo[], options: { section?: string; firstIndex?: number } = {}): CoreRelocationResult[] {
    const section = options.section ?? this.#options.section;
    const littleEndian = this.#options.littleEndian ?? this.local.byteOrder === 'little';
    return relos.map((relo, i) => {
      const index = (options.firstIndex ?? 0) + i;
      const prefix = where(relo, index, section);
      if (!Number.isInteger(relo.insnOffset) || relo.insnOffset % 8 !== 0) {
        throw new CoreRelocationError('ERR_CORE_SPEC', `${prefix}: instruction offset ${relo.insnOffset} is not a multiple of 8`, index);
      }
      const root = this.local.tryTypeById(relo.typeId);
      if (!root) throw new CoreRelocationError('ERR_CORE_SPEC', `${prefix}: no local BTF type with id ${relo.typeId}`, index);
      const label = `${prefix} ([${root.id}] ${root.kind} ${root.name || '<anon>'} + ${relo.accessString})`;
      let res: CoreResolution<Spec>;
      try {
        const cands = relo.kind === BPF_CORE_TYPE_ID_LOCAL || root.name === '' ? [] : this.candidates(root);
        res = resolveCoreRelocation(relo.kind, root, relo.accessString, cands, { littleEndian });
        if (res.matched.length > 0) this.#cache.set(root.id, res.matched);
      } catch (err) {
        rethrow(err, label, index);
      }
      let targetTypeId = res.candidate?.type.id;
      if (relo.kind === BPF_CORE_TYPE_ID_LOCAL) {
        const id = this.#options.localTypeId ? this.#options.localTypeId(root) : root.id;
        res.localValue = BigInt(root.id);
        res.targetValue = BigInt(id);
        targetTypeId = id;
      }
      return {
        ...res,
        index,
        relo,
        kindName: coreKindName(relo.kind),
        slot: relo.insnOffset / 8,
        description: formatCoreSpec(res.local),
        targetDescription: res.target ? formatCoreSpec(res.target) : undefined,
        targetSpec: res.candidate?.source,
        targetTypeId,
      };
    });
  }
}

/**
 * Computes CO-RE relocations: `relos` (the records of one ELF section, from
 * parseBtfExt(...).coreRelos) against `targets`, with `local` the object's .BTF. Pass
 * `options.relocator` to share the candidate cache across sections, as libbpf does per object.
 * Throws CoreRelocationError for malformed records, ambiguous candidates and the relocations
 * libbpf refuses; missing targets are not errors (see `poison` in the results).
 */
export function computeCoreRelocations(
  local: Spec,
  relos: readonly CoreRelo[],
  targets: CoreTargets,
  options: CoreRelocationOptions & { relocator?: CoreRelocator } = {},
): CoreRelocationResult[] {
  const r = options.relocator ?? new CoreRelocator(local, targets, options);
  return r.compute(relos, { section: options.section });
}

// ---------------------------------------------------------------------------------------------
// Applying
// ---------------------------------------------------------------------------------------------

export interface ApplyCoreOptions {
  /**
   * Slot (8-byte unit) of the section at which `insns[0]` sits, when `insns` is one program
   * cut from a section holding several. Default 0.
   */
  startSlot?: number;
  /** Skip results whose slot is outside `insns` (other programs of the section). Default: throw. */
  skipOutOfRange?: boolean;
  /** Named in error messages. */
  section?: string;
}

/** What applying one relocation did. */
export interface AppliedCoreRelocation {
  result: CoreRelocationResult;
  /** Index in `insns` of the patched instruction, as it was before any poisoned ld_imm64 split. */
  insnIndex: number;
  /** A copy of the instruction before patching. */
  before: Instruction;
  /** The instruction was replaced by `call 0xbad2310` (no target, or a field size change a load can't follow). */
  poisoned: boolean;
}

/** An instruction the verifier rejects with `invalid func unknown#195896080` if reached. */
export function corePoisonInstruction(symbol?: string): Instruction {
  const insn: Instruction = { opcode: BPF_JMP | BPF_CALL, dst: 0, src: 0, offset: 0, imm: CORE_POISON_HELPER };
  if (symbol !== undefined) insn.symbol = symbol;
  return insn;
}

function bytesToSize(n: number): number | undefined {
  switch (n) {
    case 1:
      return BPF_B;
    case 2:
      return BPF_H;
    case 4:
      return BPF_W;
    case 8:
      return BPF_DW;
    default:
      return undefined;
  }
}

function poisonInPlace(insn: Instruction): void {
  const symbol = insn.symbol;
  for (const k of Object.keys(insn)) delete (insn as unknown as Record<string, unknown>)[k];
  Object.assign(insn, corePoisonInstruction(symbol));
}

/**
 * Patches `insns` (the decoded instructions of the section, or of one program of it with
 * `startSlot`) with computed relocations, in place. Instruction objects are modified; a
 * poisoned ld_imm64 becomes two poisoned calls (both of its slots, as libbpf does), which makes
 * `insns` one element longer for each: slot positions, and so jump offsets, don't change, but
 * instruction indexes after it do. Throws CoreRelocationError (ERR_CORE_INSN) when an
 * instruction can't take its relocation or doesn't hold the local value the relocation expects.
 */
export function applyCoreRelocations(insns: Instruction[], results: readonly CoreRelocationResult[], options: ApplyCoreOptions = {}): AppliedCoreRelocation[] {
  const startSlot = options.startSlot ?? 0;
  const bySlot = instructionAtSlot(insns);
  const total = totalSlots(insns);
  const applied: AppliedCoreRelocation[] = [];
  const splits: number[] = [];
  for (const res of results) {
    const prefix = where(res.relo, res.index, options.section);
    const fail = (msg: string): never => {
      throw new CoreRelocationError('ERR_CORE_INSN', `${prefix} (${res.description}): ${msg}`, res.index);
    };
    const slot = res.slot - startSlot;
    const idx = bySlot.get(slot);
    if (idx === undefined) {
      const inside = slot >= 0 && slot < total;
      if (!inside && options.skipOutOfRange) continue;
      fail(inside ? `slot ${res.slot} is the second half of a ld_imm64` : `slot ${res.slot} is outside the ${total} slots given (from slot ${startSlot})`);
    }
    const insn = insns[idx!]!;
    const before = { ...insn };
    let poisoned = res.poison;
    if (!poisoned) poisoned = patch(insn, res, fail);
    if (poisoned) {
      if (insn.opcode === LD_IMM64) splits.push(idx!);
      poisonInPlace(insn);
    }
    applied.push({ result: res, insnIndex: idx!, before, poisoned });
  }
  // A poisoned ld_imm64 keeps its two slots: a second poisoned call goes after the first.
  for (const i of splits.sort((a, b) => b - a)) insns.splice(i + 1, 0, corePoisonInstruction());
  return applied;
}

/** Patches one instruction; returns true when it must be poisoned instead. */
function patch(insn: Instruction, res: CoreRelocationResult, fail: (msg: string) => never): boolean {
  const cls = classOf(insn.opcode);
  const exp = `expected ${res.localValue} (-> ${res.targetValue})`;
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64: {
      if (sourceOf(insn.opcode) !== BPF_K) fail(`instruction (opcode 0x${insn.opcode.toString(16)}) takes a register operand, not an immediate`);
      const cur = BigInt.asUintN(64, BigInt(insn.imm | 0));
      if (res.validate && cur !== res.localValue) fail(`unexpected ALU/ALU64 imm ${insn.imm | 0}, ${exp}`);
      insn.imm = Number(BigInt.asIntN(32, res.targetValue));
      return false;
    }
    case BPF_LDX:
    case BPF_ST:
    case BPF_STX: {
      const cur = BigInt.asUintN(64, BigInt(insn.offset));
      if (res.validate && cur !== res.localValue) fail(`unexpected LDX/ST/STX offset ${insn.offset}, ${exp}`);
      if (res.targetValue > 0x7fffn) fail(`LDX/ST/STX offset ${res.targetValue} doesn't fit in 16 bits`);
      if (res.memSizeMismatch) return true; // libbpf: "accesses field incorrectly"
      insn.offset = Number(res.targetValue);
      if (res.targetMemSize !== res.localMemSize) {
        const size = sizeBytes(insn.opcode);
        if (size !== res.localMemSize) fail(`LDX/ST/STX accesses ${size} bytes, expected ${res.localMemSize}`);
        const code = bytesToSize(res.targetMemSize);
        if (code === undefined) fail(`LDX/ST/STX can't access ${res.targetMemSize} bytes`);
        insn.opcode = modeOf(insn.opcode) | code! | cls;
      }
      return false;
    }
    case BPF_LD: {
      if (insn.opcode !== LD_IMM64 || insn.src !== 0 || insn.offset !== 0) {
        fail(`ld_imm64 with src ${insn.src} and offset ${insn.offset} (opcode 0x${insn.opcode.toString(16)}) has an unexpected form`);
      }
      const cur = imm64Of(insn);
      if (res.validate && cur !== res.localValue) fail(`unexpected ld_imm64 value ${cur}, ${exp}`);
      insn.imm64 = res.targetValue;
      insn.imm = Number(BigInt.asIntN(32, res.targetValue));
      return false;
    }
    default:
      return fail(`can't relocate instruction: opcode 0x${insn.opcode.toString(16)}, dst r${insn.dst}, src r${insn.src}, off ${insn.offset}, imm ${insn.imm}`);
  }
}
