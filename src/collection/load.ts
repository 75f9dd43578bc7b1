/**
 * Loading a CollectionSpec into the kernel, as libbpf's bpf_object__load does:
 *
 *  1. the object's BTF, sanitised for the running kernel (loading continues without BTF if the
 *     kernel refuses it, as libbpf does);
 *  2. maps, with their BTF key/value types: pinned by name (reusing a compatible pinned map,
 *     refusing an incompatible one), global data initialised (and .rodata/.kconfig frozen, then
 *     mmapped), .kconfig filled from the kernel's configuration, map-in-map slots set;
 *  3. externs resolved: .kconfig values, typed ksyms and kfuncs through kernel BTF, untyped
 *     ksyms through /proc/kallsyms;
 *  4. each program: CO-RE relocations against kernel BTF, map/data/extern references, then
 *     BPF_PROG_LOAD with func_info/line_info, license, kern_version, expected attach type,
 *     flags and the attach target's BTF id;
 *  5. prog array slots.
 *
 * Everything created is closed again (and pins made removed) when a step fails.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ArgumentError, BpfError, EbpfError, NotSupportedError, VerifierError } from '../errors.js';
import {
  BPF_PSEUDO_BTF_ID,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
  CALL,
  encodeInstructions,
  slotIndices,
} from '../asm/index.js';
import {
  encodeBtf,
  loadKernelModuleSpec,
  loadKernelSpec,
  listKernelModules,
  marshalFuncInfos,
  marshalLineInfos,
  resolve,
  type EncodedBtf,
  type Spec,
  type Type,
} from '../btf/index.js';
import { CoreRelocator, applyCoreRelocations, coreEssentialName, coreTypesAreCompatible, kernelCoreTargets } from '../btf/core.js';
import type { CoreRelo } from '../btf/ext.js';
import { BpfMap } from '../maps/map.js';
import { Program, type LoadLogOptions } from '../programs/program.js';
import {
  AttachType,
  FD,
  MapFlags,
  MapType,
  Mapping,
  ProgType,
  PROT_READ,
  PROT_WRITE,
  btfInfo,
  btfLoadRaw,
  openEach,
  mapUpdateElem,
  objGet,
  pageSize,
  possibleCpuCount,
  type MapInfo,
} from '../sys/index.js';
import { attachCollectionPrograms, type AttachAllOptions, type Attachment } from '../links/auto.js';
import { probeBtfFeatures, probeMmapableArrays } from './features.js';
import { lookupKallsyms, parseKconfig, readKernelConfig, runningKernelVersion, setKconfigNumber, setKconfigValue } from './kernel.js';
import type { CollectionSpec } from './spec.js';
import type { ExternSpec, MapSpec, ProgramInstruction, ProgramSpec } from './types.js';
import { decodeValue, encodeValue } from './values.js';

/** The default root of LIBBPF_PIN_BY_NAME pins, as libbpf's. */
export const DEFAULT_PIN_PATH = '/sys/fs/bpf';

/** libbpf poisons calls of unresolved weak kfuncs with this helper id plus the extern's index. */
export const POISON_CALL_KFUNC_BASE = 2002000000;

export interface CollectionOptions {
  /** Directory of LIBBPF_PIN_BY_NAME maps (default /sys/fs/bpf, libbpf's). Created if missing. */
  pinPath?: string;
  /**
   * Kconfig values that take precedence over the kernel's configuration (libbpf's `kconfig`
   * open option): `CONFIG_X=y` lines, or an object `{ CONFIG_X: 'y', CONFIG_HZ: 1000 }`.
   */
  kconfig?: string | Record<string, string | number | boolean>;
  /** Verifier log options for every program (see Program.load). */
  log?: LoadLogOptions;
  /**
   * Kernel BTF to resolve CO-RE relocations, typed ksyms, kfuncs and attach targets against
   * (default: /sys/kernel/btf/vmlinux and the modules' BTF). Kernel object fds for module BTF
   * are only available with the default.
   */
  kernelBtf?: Spec;
  /** Existing maps to use instead of creating those of the same name (must be compatible). */
  mapReplacements?: Record<string, BpfMap>;
}

/** A pinned map at a LIBBPF_PIN_BY_NAME path doesn't match the map the object defines. */
export class PinnedMapMismatchError extends EbpfError {
  readonly path: string;
  readonly map: string;
  constructor(map: string, path: string, differences: string[]) {
    super('ERR_PIN_MISMATCH', `map '${map}': can't reuse the map pinned at ${path}: ${differences.join(', ')}`);
    this.path = path;
    this.map = map;
  }
}

/** A global variable of a loaded collection, read and written through BTF. */
export interface CollectionVariable {
  readonly name: string;
  readonly type: Type;
  /** The current value (from the mmapped map, or a lookup when the map isn't mmapable). */
  get(): unknown;
  /** Writes the value (not possible for .rodata: frozen). */
  set(value: unknown): void;
  /** The variable's bytes: a live view of the mmapped map, else a copy. */
  bytes(): Uint8Array;
}

const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Map types whose BTF key/value types libbpf doesn't pass to the kernel (it refuses them). */
const NO_BTF_TYPES = new Set<number>([
  MapType.PERF_EVENT_ARRAY,
  MapType.CGROUP_ARRAY,
  MapType.STACK_TRACE,
  MapType.ARRAY_OF_MAPS,
  MapType.HASH_OF_MAPS,
  MapType.DEVMAP,
  MapType.DEVMAP_HASH,
  MapType.CPUMAP,
  MapType.XSKMAP,
  MapType.SOCKMAP,
  MapType.SOCKHASH,
  MapType.QUEUE,
  MapType.STACK,
  MapType.ARENA,
]);

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, le);
  return b;
}

/** A loaded collection: its programs and maps, each owning its fd. */
export class Collection {
  readonly spec: CollectionSpec;
  readonly programs: Map<string, Program>;
  readonly maps: Map<string, BpfMap>;
  /**
   * The instructions each program was loaded with: linked, CO-RE relocated, map fds and extern
   * values filled in (libbpf's bpf_program__insns after load).
   */
  readonly instructions: Map<string, ProgramInstruction[]>;
  /**
   * Why the object's BTF isn't loaded, when the kernel refused it (the collection then has no
   * BTF: maps without key/value types, programs without func/line info); else undefined.
   */
  btfLoadError: string | undefined;
  readonly #mappings: Map<string, Mapping>;
  readonly #owned: { close(): void }[];
  #closed = false;

  /** @internal use loadCollection() */
  constructor(
    spec: CollectionSpec,
    programs: Map<string, Program>,
    maps: Map<string, BpfMap>,
    instructions: Map<string, ProgramInstruction[]>,
    mappings: Map<string, Mapping>,
    owned: { close(): void }[],
  ) {
    this.spec = spec;
    this.programs = programs;
    this.maps = maps;
    this.instructions = instructions;
    this.#mappings = mappings;
    this.#owned = owned;
  }

  /** The program called `name`; throws ArgumentError if it wasn't loaded. */
  program(name: string): Program {
    const p = this.programs.get(name);
    if (!p) throw new ArgumentError(`no program '${name}' in the collection (loaded: ${[...this.programs.keys()].join(', ') || 'none'})`);
    return p;
  }

  /** The map called `name` (`.rodata`, `.bss`... for global data); throws ArgumentError if none. */
  map(name: string): BpfMap {
    const m = this.maps.get(name);
    if (!m) throw new ArgumentError(`no map '${name}' in the collection (have: ${[...this.maps.keys()].join(', ') || 'none'})`);
    return m;
  }

  /**
   * A live view of a global data map's value (`.bss`, `.data`, `.rodata`, `.data.custom`...)
   * through mmap: what programs write shows here at once, and (except for frozen .rodata)
   * writes here are what programs read. Throws ArgumentError when the map isn't mmapped (not
   * global data, no visible variable, or a kernel without mmapable arrays).
   */
  globalData(name: string): Uint8Array {
    const mapping = this.#mappings.get(name);
    const map = this.map(name);
    if (!mapping) throw new ArgumentError(`map '${name}' is not an mmapped global data map`);
    return new Uint8Array(mapping.buffer, 0, map.valueSize);
  }

  /** A global variable (typed by BTF) of the loaded collection. */
  variable(name: string): CollectionVariable {
    const v = this.spec.variable(name);
    const map = this.map(v.mapName);
    const mapping = this.#mappings.get(v.mapName);
    const readOnly = v.readOnly;
    const read = (): Uint8Array => {
      if (mapping) return new Uint8Array(mapping.buffer, 0, map.valueSize);
      const out = map.lookup(u32(0));
      if (!out) throw new ArgumentError(`map '${v.mapName}' has no value`);
      return out;
    };
    return {
      name: v.name,
      type: v.type,
      get: () => {
        const b = read();
        return decodeValue(v.type, new DataView(b.buffer, b.byteOffset, b.byteLength), v.offset, le);
      },
      set: (value: unknown) => {
        if (readOnly) throw new ArgumentError(`variable '${name}' is in frozen read-only map '${v.mapName}'`);
        if (mapping) {
          const b = new Uint8Array(mapping.buffer, 0, map.valueSize);
          encodeValue(v.type, value, new DataView(b.buffer, b.byteOffset, b.byteLength), v.offset, le, `variable '${name}'`);
          return;
        }
        const b = read();
        encodeValue(v.type, value, new DataView(b.buffer, b.byteOffset, b.byteLength), v.offset, le, `variable '${name}'`);
        map.update(u32(0), b);
      },
      bytes: () => read().subarray(v.offset, v.offset + v.size),
    };
  }

  /**
   * Attaches every loaded program whose section name names a target, by libbpf's auto-attach
   * rules (tracepoint/..., raw_tp/..., kprobe/..., uprobe/..., usdt/..., iter/..., fentry/...);
   * xdp, tc and cgroup programs too when `options` give the interface or cgroup. Programs
   * without an auto-attach target are skipped. Returns the attachments by program name; the
   * collection owns them and closes them (first) when it is closed. An error names the program
   * and its section, and what was attached before it is detached again.
   */
  attachAll(options: AttachAllOptions = {}): Map<string, Attachment> {
    if (this.#closed) throw new ArgumentError('the collection is closed');
    const attached = attachCollectionPrograms(this, options);
    for (const a of attached.values()) this.#owned.push(a);
    return attached;
  }

  /** Unmaps global data, closes every program and map (pins stay). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeAll(this.#owned);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function closeAll(owned: { close(): void }[]): void {
  let first: unknown;
  for (let i = owned.length - 1; i >= 0; i--) {
    try {
      owned[i]!.close();
    } catch (e) {
      first ??= e;
    }
  }
  owned.length = 0;
  if (first) throw first;
}

/**
 * Creates the collection's maps and loads its programs (those with `autoload`). On failure,
 * everything created so far is closed, pins made are removed, and the error is thrown: a
 * VerifierError for a rejected program, NotSupportedError for what the kernel lacks (an attach
 * target, a kernel symbol, CO-RE targets...), PinnedMapMismatchError, BpfError.
 */
export function loadCollection(spec: CollectionSpec, options: CollectionOptions = {}): Collection {
  return new Loader(spec, options).load();
}

interface ResolvedKsym {
  btfId: number;
  /** fd of the module BTF object holding it; 0 for vmlinux. */
  objFd: number;
  /** Index of that fd in fd_array (kfunc calls), 0 for vmlinux. */
  fdIndex: number;
  address: bigint;
  resolved: boolean;
}

class Loader {
  readonly spec: CollectionSpec;
  readonly options: CollectionOptions;
  readonly owned: { close(): void }[] = [];
  readonly pinned: string[] = [];
  readonly maps = new Map<string, BpfMap>();
  readonly mappings = new Map<string, Mapping>();
  readonly programs = new Map<string, Program>();
  readonly instructions = new Map<string, ProgramInstruction[]>();
  btfFd: FD | undefined;
  encoded: EncodedBtf | undefined;
  btfLoadError: string | undefined;
  ksyms = new Map<string, ResolvedKsym>();
  fdArray: number[] = [];
  moduleBtfFds = new Map<string, FD>();
  #kernelSpec: Spec | undefined;

  constructor(spec: CollectionSpec, options: CollectionOptions) {
    this.spec = spec;
    this.options = options;
  }

  get toLoad(): ProgramSpec[] {
    return [...this.spec.programs.values()].filter((p) => p.autoload);
  }

  kernelSpec(): Spec {
    this.#kernelSpec ??= this.options.kernelBtf ?? loadKernelSpec();
    return this.#kernelSpec;
  }

  load(): Collection {
    try {
      this.loadBtf();
      this.createMaps();
      this.fillMapSlots();
      this.resolveKsyms();
      const core = this.coreRelocator();
      for (const p of this.toLoad) this.loadProgram(p, core);
      this.fillProgArrays();
    } catch (err) {
      this.abort();
      throw err;
    }
    // The BTF object stays referenced by the maps and programs that use it.
    if (this.btfFd) this.btfFd.close();
    for (const fd of this.moduleBtfFds.values()) fd.close();
    const c = new Collection(this.spec, this.programs, this.maps, this.instructions, this.mappings, this.owned);
    c.btfLoadError = this.btfLoadError;
    return c;
  }

  abort(): void {
    for (const path of this.pinned) {
      try {
        rmSync(path, { force: true });
      } catch {
        /* best effort */
      }
    }
    try {
      closeAll(this.owned);
    } catch {
      /* the original error matters more */
    }
    this.btfFd?.close();
    for (const fd of this.moduleBtfFds.values()) fd.close();
  }

  own<T extends { close(): void }>(x: T): T {
    this.owned.push(x);
    return x;
  }

  // ------------------------------------------------------------------ BTF

  loadBtf(): void {
    const btf = this.spec.btf;
    if (!btf) return;
    const strings = new Set<string>();
    for (const p of this.toLoad) {
      for (const insn of p.instructions) {
        if (insn.line) {
          strings.add(insn.line.fileName);
          strings.add(insn.line.lineText);
        }
      }
    }
    const encoded = encodeBtf(btf, { features: probeBtfFeatures(), extraStrings: strings });
    const { result } = btfLoadRaw(encoded.bytes);
    if (result >= 0) {
      this.btfFd = new FD(result, 'object BTF');
      this.encoded = encoded;
      return;
    }
    // As libbpf: BTF is optional; remember why it failed, for errors that need it later.
    const log = new Uint8Array(1 << 20);
    btfLoadRaw(encoded.bytes, log, 1);
    const end = log.indexOf(0);
    const text = new TextDecoder().decode(log.subarray(0, end < 0 ? log.length : end)).trim();
    this.btfLoadError = `BPF_BTF_LOAD failed (errno ${-result})${text ? `: ${text.split('\n').slice(-3).join(' / ')}` : ''}`;
  }

  typeId(t: Type | undefined): number {
    if (!t || !this.encoded) return 0;
    return this.encoded.typeId(t);
  }

  // ------------------------------------------------------------------ maps

  createMaps(): void {
    const pinRoot = this.options.pinPath ?? DEFAULT_PIN_PATH;
    for (const ms of this.spec.maps.values()) {
      const replacement = this.options.mapReplacements?.[ms.name];
      if (replacement) {
        const diff = this.incompatibilities(ms, replacement.info());
        if (diff.length) throw new ArgumentError(`map '${ms.name}': the replacement map is incompatible: ${diff.join(', ')}`);
        this.maps.set(ms.name, replacement);
        continue;
      }
      if (ms.pinning === 'byName') {
        const path = join(pinRoot, ms.name);
        const existing = this.openPinned(path);
        if (existing) {
          this.own(existing);
          const diff = this.incompatibilities(ms, existing.info());
          if (diff.length) throw new PinnedMapMismatchError(ms.name, path, diff);
          if (ms.key || ms.value) existing.setBtfTypes({ key: ms.key, value: ms.value });
          this.maps.set(ms.name, existing);
          this.mapData(ms, existing);
          continue;
        }
        const map = this.createMap(ms);
        mkdirSync(pinRoot, { recursive: true });
        map.pin(path);
        this.pinned.push(path);
        continue;
      }
      this.createMap(ms);
    }
  }

  openPinned(path: string): BpfMap | undefined {
    try {
      return BpfMap.fromFd(objGet(path));
    } catch (err) {
      if (err instanceof BpfError && err.code === 'ENOENT') return undefined;
      throw err;
    }
  }

  createFlags(ms: MapSpec): number {
    let flags = ms.flags;
    if (!probeMmapableArrays()) flags &= ~MapFlags.MMAPABLE;
    return flags;
  }

  maxEntries(ms: MapSpec): number {
    return ms.type === MapType.PERF_EVENT_ARRAY && ms.maxEntries === 0 ? possibleCpuCount() : ms.maxEntries;
  }

  /** What differs between the map spec and an existing map (libbpf's map_is_reuse_compat). */
  incompatibilities(ms: MapSpec, info: MapInfo): string[] {
    const out: string[] = [];
    let flags = info.flags;
    if (ms.type === MapType.DEVMAP || ms.type === MapType.DEVMAP_HASH) flags &= ~MapFlags.RDONLY_PROG;
    const want = { type: ms.type, key_size: ms.keySize, value_size: ms.valueSize, max_entries: this.maxEntries(ms), map_flags: this.createFlags(ms) };
    const have = { type: info.type, key_size: info.keySize, value_size: info.valueSize, max_entries: info.maxEntries, map_flags: flags };
    for (const k of Object.keys(want) as (keyof typeof want)[]) {
      if (want[k] !== have[k]) out.push(`${k} ${have[k]} (pinned) != ${want[k]} (object)`);
    }
    if (info.mapExtra !== ms.mapExtra) out.push(`map_extra ${info.mapExtra} (pinned) != ${ms.mapExtra} (object)`);
    return out;
  }

  createMap(ms: MapSpec): BpfMap {
    const map = this.createMapOnly(ms);
    // The object's key/value types give map.typed() its codecs (even when the kernel didn't take the BTF).
    if (ms.key || ms.value) map.setBtfTypes({ key: ms.key, value: ms.value });
    this.own(map);
    this.maps.set(ms.name, map);
    if (ms.contents) this.initData(ms, map);
    return map;
  }

  createMapOnly(ms: MapSpec): BpfMap {
    const mapInMap = ms.type === MapType.ARRAY_OF_MAPS || ms.type === MapType.HASH_OF_MAPS;
    let inner: BpfMap | undefined;
    if (mapInMap) {
      if (!ms.innerMap) throw new ArgumentError(`map '${ms.name}': a map-in-map needs an inner map definition (__array(values, struct {...}))`);
      inner = this.createMapOnly(ms.innerMap);
    }
    try {
      const base = {
        type: ms.type,
        keySize: ms.keySize,
        valueSize: ms.valueSize,
        maxEntries: this.maxEntries(ms),
        flags: this.createFlags(ms),
        name: ms.kernelName,
        numaNode: ms.numaNode,
        mapExtra: ms.mapExtra,
        innerMap: inner,
      };
      const withBtf = this.btfFd && !NO_BTF_TYPES.has(ms.type) && (ms.key || ms.value);
      if (!withBtf) return BpfMap.create(base);
      try {
        return BpfMap.create({ ...base, btf: { fd: this.btfFd!.value, keyTypeId: this.typeId(ms.key), valueTypeId: this.typeId(ms.value) } });
      } catch (err) {
        // libbpf retries without BTF: old kernels refuse BTF for some map types.
        if (!(err instanceof BpfError)) throw err;
        return BpfMap.create(base);
      }
    } finally {
      inner?.close();
    }
  }

  /** Global data: initial contents, freeze, mmap. */
  initData(ms: MapSpec, map: BpfMap): void {
    const contents = ms.kind === 'kconfig' ? this.kconfigContents(ms) : ms.contents!;
    mapUpdateElem(map.fd.value, u32(0), contents, 0);
    if (ms.freeze) map.freeze();
    this.mapData(ms, map);
  }

  mapData(ms: MapSpec, map: BpfMap): void {
    if (!ms.contents || !(this.createFlags(ms) & MapFlags.MMAPABLE)) return;
    const page = pageSize();
    const len = Math.ceil(Math.max(1, Math.ceil(ms.valueSize / 8) * 8) / page) * page;
    const prot = ms.flags & MapFlags.RDONLY_PROG || ms.freeze ? PROT_READ : PROT_READ | PROT_WRITE;
    const mapping = Mapping.map(map.fd.value, len, prot, 0, `map '${ms.name}'`);
    this.own({ close: () => mapping.unmap() });
    this.mappings.set(ms.name, mapping);
  }

  fillMapSlots(): void {
    for (const ms of this.spec.maps.values()) {
      if (ms.slots.length === 0 || ms.type === MapType.PROG_ARRAY) continue;
      const map = this.maps.get(ms.name)!;
      for (const slot of ms.slots) {
        const target = this.maps.get(slot.target);
        if (!target) throw new ArgumentError(`map '${ms.name}': slot ${slot.index} refers to unknown map '${slot.target}'`);
        map.update(u32(slot.index), u32(target.fd.value));
      }
    }
  }

  fillProgArrays(): void {
    for (const ms of this.spec.maps.values()) {
      if (ms.slots.length === 0 || ms.type !== MapType.PROG_ARRAY) continue;
      const map = this.maps.get(ms.name)!;
      for (const slot of ms.slots) {
        const prog = this.programs.get(slot.target);
        if (!prog) throw new ArgumentError(`prog array '${ms.name}': slot ${slot.index} refers to program '${slot.target}', which is not loaded`);
        map.update(u32(slot.index), u32(prog.fd.value));
      }
    }
  }

  // ------------------------------------------------------------------ externs

  kconfigContents(ms: MapSpec): Uint8Array {
    const out = new Uint8Array(ms.valueSize);
    const dv = new DataView(out.buffer);
    const externs = [...this.spec.externs.values()].filter((e) => e.kind === 'kconfig');
    const set = new Set<string>();
    const apply = (values: Map<string, string>) => {
      for (const e of externs) {
        if (set.has(e.name)) continue;
        const v = values.get(e.name);
        if (v === undefined) continue;
        setKconfigValue(e, v, dv, le);
        set.add(e.name);
      }
    };
    const extra = this.options.kconfig;
    if (extra !== undefined) {
      if (typeof extra === 'string') apply(parseKconfig(extra));
      else apply(new Map(Object.entries(extra).map(([k, v]) => [k, v === true ? 'y' : v === false ? 'n' : String(v)])));
    }
    for (const e of externs) {
      if (set.has(e.name) || e.name.startsWith('CONFIG_')) continue;
      let value: bigint;
      if (e.name === 'LINUX_KERNEL_VERSION') value = BigInt(runningKernelVersion());
      else if (e.name === 'LINUX_HAS_BPF_COOKIE') value = BigInt(runningKernelVersion() >= 0x050f00 ? 1 : 0);
      else if (e.name === 'LINUX_HAS_SYSCALL_WRAPPER') value = lookupKallsyms(['__x64_sys_bpf', '__arm64_sys_bpf', '__s390x_sys_bpf']).size > 0 ? 1n : 0n;
      else if (e.name.startsWith('LINUX_') && e.weak) continue;
      else throw new ArgumentError(`extern (kconfig) '${e.name}': unrecognized virtual extern (only CONFIG_* and libbpf's LINUX_* ones are known)`, 'ERR_KCONFIG');
      setKconfigNumber(e, value, dv, le);
      set.add(e.name);
    }
    if (externs.some((e) => e.name.startsWith('CONFIG_') && !set.has(e.name))) {
      let text: string | undefined;
      try {
        text = readKernelConfig();
      } catch (err) {
        // Fine if every missing one is weak.
        if (externs.some((e) => !set.has(e.name) && !e.weak)) throw err;
      }
      if (text !== undefined) apply(parseKconfig(text));
    }
    for (const e of externs) {
      if (!set.has(e.name) && !e.weak) throw new NotSupportedError(`kernel config ${e.name}`, `extern '${e.name}' (strong): not set in the kernel's configuration`);
    }
    return out;
  }

  resolveKsyms(): void {
    const externs = [...this.spec.externs.values()].filter((e) => e.kind === 'ksym');
    if (externs.length === 0) return;
    const untyped = externs.filter((e) => !e.typed).map((e) => e.name);
    const kallsyms = lookupKallsyms(untyped);
    for (const e of externs) {
      if (!e.typed) {
        const found = kallsyms.get(e.name) ?? [];
        const addrs = [...new Set(found.map((f) => f.address))];
        if (addrs.length > 1) throw new ArgumentError(`extern (ksym) '${e.name}': resolution is ambiguous: ${addrs.map((a) => `0x${a.toString(16)}`).join(' or ')}`);
        if (addrs.length === 0 && !e.weak) throw new NotSupportedError(`kernel symbol ${e.name}`, `extern (ksym) '${e.name}': not found in /proc/kallsyms`);
        this.ksyms.set(e.name, { btfId: 0, objFd: 0, fdIndex: 0, address: addrs[0] ?? 0n, resolved: addrs.length === 1 });
        continue;
      }
      const r = this.findKernelBtf(e.isFunction ? coreEssentialName(e.name) : e.name, e.isFunction ? 'func' : 'var');
      if (!r) {
        if (e.weak) {
          this.ksyms.set(e.name, { btfId: 0, objFd: 0, fdIndex: 0, address: 0n, resolved: false });
          continue;
        }
        throw new NotSupportedError(`kernel ${e.isFunction ? 'function' : 'variable'} ${e.name}`, `extern (${e.isFunction ? 'func' : 'var'} ksym) '${e.name}': not found in kernel or module BTF`);
      }
      const target = r.type;
      const local = e.type;
      const targetType = target.kind === 'func' ? target.proto : target.kind === 'var' ? resolve(target.type) : target;
      if (!coreTypesAreCompatible(resolve(local), resolve(targetType))) {
        if (e.isFunction && e.weak) {
          this.ksyms.set(e.name, { btfId: 0, objFd: 0, fdIndex: 0, address: 0n, resolved: false });
          continue;
        }
        throw new ArgumentError(`extern (ksym) '${e.name}': type incompatible with the kernel's ${target.kind} [${target.id}] in ${r.module}`, 'ERR_KSYM');
      }
      let objFd = 0;
      let fdIndex = 0;
      if (r.module !== 'vmlinux') {
        objFd = this.moduleBtfFd(r.module).value;
        if (e.isFunction) {
          if (this.fdArray.length === 0) this.fdArray.push(0); // index 0 can't be used
          fdIndex = this.fdArray.indexOf(objFd);
          if (fdIndex < 0) {
            fdIndex = this.fdArray.length;
            this.fdArray.push(objFd);
          }
        }
      }
      this.ksyms.set(e.name, { btfId: target.id, objFd, fdIndex, address: 0n, resolved: true });
    }
  }

  /** A kernel BTF type by name and kind: vmlinux first, then the modules'. */
  findKernelBtf(name: string, kind: 'func' | 'var' | 'typedef', module?: string): { type: Type; module: string } | undefined {
    if (module === undefined || module === 'vmlinux') {
      const t = this.kernelSpec().findType(kind, name);
      if (t) return { type: t, module: 'vmlinux' };
      if (module === 'vmlinux' || this.options.kernelBtf) return undefined;
    }
    for (const m of module ? [module] : listKernelModules()) {
      let spec: Spec;
      try {
        spec = loadKernelModuleSpec(m);
      } catch {
        continue;
      }
      for (const id of spec.typeIdsByName(name)) {
        if (id < spec.firstTypeId) continue;
        const t = spec.typeById(id);
        if (t.kind === kind) return { type: t, module: m };
      }
    }
    return undefined;
  }

  moduleBtfFd(module: string): FD {
    const known = this.moduleBtfFds.get(module);
    if (known) return known;
    for (const fd of openEach('btf', true)) {
      const info = btfInfo(fd.value);
      if (info.kernelBtf && info.name === module) {
        this.moduleBtfFds.set(module, fd);
        return fd;
      }
      fd.close();
    }
    throw new NotSupportedError(`BTF of kernel module ${module}`, `no kernel BTF object for module '${module}'`);
  }

  // ------------------------------------------------------------------ programs

  coreRelocator(): CoreRelocator | undefined {
    const needs = this.toLoad.some((p) => p.instructions.some((i) => i.core));
    if (!needs) return undefined;
    if (!this.spec.btf) throw new NotSupportedError('CO-RE relocations', 'CO-RE relocations need the object\'s BTF');
    const targets = this.options.kernelBtf ? [this.options.kernelBtf] : kernelCoreTargets();
    return new CoreRelocator(this.spec.btf, targets, { localTypeId: (t) => (this.encoded ? this.encoded.typeId(t) : t.id) });
  }

  loadProgram(p: ProgramSpec, core: CoreRelocator | undefined): void {
    if (!p.type) throw new ArgumentError(`program '${p.name}': unknown program type for section '${p.sectionName}'; set spec.programs.get('${p.name}').type`);
    if (p.type === ProgType.STRUCT_OPS) {
      throw new NotSupportedError('struct_ops', `program '${p.name}': struct_ops programs (and their .struct_ops maps) aren't supported by loadCollection yet`);
    }
    let insns: ProgramInstruction[] = p.instructions.map((i) => ({ ...i }));
    if (core) insns = this.applyCore(p, insns, core);
    this.resolveReferences(p, insns);

    const slots = slotIndices(insns);
    let btf: Parameters<typeof Program.load>[0]['btf'];
    if (this.btfFd && this.encoded) {
      const funcs = insns.flatMap((i, k) => (i.func ? [{ insn: slots[k]!, typeId: this.encoded!.typeId(i.func) }] : []));
      const lines = insns.flatMap((i, k) => (i.line ? [{ insn: slots[k]!, ...i.line }] : []));
      btf = { fd: this.btfFd.value };
      if (funcs.length && funcs[0]!.insn === 0) {
        btf.funcInfo = marshalFuncInfos(funcs);
        btf.funcInfoRecSize = 8;
        btf.funcInfoCount = funcs.length;
        if (lines.length) {
          btf.lineInfo = marshalLineInfos(lines, (s) => this.encoded!.stringOffset(s));
          btf.lineInfoRecSize = 16;
          btf.lineInfoCount = lines.length;
        }
      }
    }
    let attachBtfId = 0;
    let attachBtfObjFd = 0;
    if (p.attachBtf) ({ attachBtfId, attachBtfObjFd } = this.attachTarget(p));

    const opts: Parameters<typeof Program.load>[0] = {
        type: p.type,
        instructions: encodeInstructions(insns),
        license: p.license,
        name: p.name,
        expectedAttachType: p.expectedAttachType,
        flags: p.flags,
        kernelVersion: p.kernelVersion,
        btf,
        attachBtfId,
        attachBtfObjFd,
        fdArray: this.fdArray.length ? Int32Array.from(this.fdArray) : undefined,
    };
    let prog: Program;
    try {
      prog = Program.load(opts, this.options.log);
    } catch (err) {
      // Program.load asks for a verifier log only after EACCES/EINVAL; the verifier also
      // explains other refusals (ENOENT for a kernel symbol without an address, E2BIG...).
      if (!(err instanceof BpfError) || err instanceof VerifierError || this.options.log?.logLevel) throw err;
      if (err.code === 'EPERM' && p.attachBtf && process.getuid?.() === 0) {
        throw new NotSupportedError(
          `BPF_PROG_TYPE ${p.type} attach ${p.expectedAttachType} programs`,
          `program '${p.name}' (section '${p.sectionName}'): the kernel refused to load it with EPERM although this process is root: ` +
            'this kernel lacks BPF trampolines (fentry/fexit/fmod_ret) or doesn\'t run the BPF LSM',
          { cause: err },
        );
      }
      try {
        prog = Program.load(opts, { logLevel: 1 });
      } catch (again) {
        if (again instanceof VerifierError && again.log.trim() !== '') throw again;
        throw err;
      }
    }
    this.own(prog);
    this.programs.set(p.name, prog);
    this.instructions.set(p.name, insns);
    this.bindRodata(prog);
  }

  /**
   * libbpf binds every .rodata* map to every program it loads (BPF_PROG_BIND_MAP, 5.10+), so
   * that tools find an object's read-only data (bpftool's metadata) from any of its programs;
   * failures are only warnings there, and ignored here.
   */
  bindRodata(prog: Program): void {
    for (const ms of this.spec.maps.values()) {
      if (ms.kind !== 'rodata') continue;
      const map = this.maps.get(ms.name);
      if (!map) continue;
      try {
        prog.bindMap(map.fd.value);
      } catch (err) {
        if (!(err instanceof BpfError)) throw err;
      }
    }
  }

  applyCore(p: ProgramSpec, insns: ProgramInstruction[], core: CoreRelocator): ProgramInstruction[] {
    const slots = slotIndices(insns);
    const relos: CoreRelo[] = [];
    insns.forEach((i, k) => {
      if (i.core) relos.push({ insnOffset: slots[k]! * 8, typeId: i.core.typeId, accessString: i.core.accessString, kind: i.core.kind });
    });
    if (relos.length === 0) return insns;
    const meta = new Map<ProgramInstruction, Pick<ProgramInstruction, 'func' | 'line'>>();
    for (const i of insns) if (i.func || i.line) meta.set(i, { func: i.func, line: i.line });
    const results = core.compute(relos, { section: p.name });
    applyCoreRelocations(insns, results, { section: p.name });
    // Poisoning replaces an instruction's fields: keep its func/line info.
    for (const [i, m] of meta) {
      if (m.func && !i.func) i.func = m.func;
      if (m.line && !i.line) i.line = m.line;
    }
    return insns;
  }

  resolveReferences(p: ProgramSpec, insns: ProgramInstruction[]): void {
    const externIndex = [...this.spec.externs.keys()];
    for (const insn of insns) {
      const r = insn.relocation;
      if (!r) continue;
      switch (r.kind) {
        case 'map': {
          const fd = this.mapFd(p, r.map);
          insn.src = BPF_PSEUDO_MAP_FD;
          insn.imm = fd;
          insn.imm64 = BigInt(fd);
          break;
        }
        case 'data': {
          const fd = this.mapFd(p, r.map);
          insn.src = BPF_PSEUDO_MAP_VALUE;
          insn.imm = fd;
          insn.imm64 = (BigInt(r.offset >>> 0) << 32n) | BigInt(fd);
          break;
        }
        case 'kconfig': {
          const ext = this.extern(p, r.extern);
          const fd = this.mapFd(p, '.kconfig');
          insn.src = BPF_PSEUDO_MAP_VALUE;
          insn.imm = fd;
          insn.imm64 = (BigInt(ext.offset) << 32n) | BigInt(fd);
          break;
        }
        case 'ksym': {
          const ext = this.extern(p, r.extern);
          const k = this.ksyms.get(ext.name)!;
          if (ext.typed && k.resolved) {
            insn.src = BPF_PSEUDO_BTF_ID;
            insn.imm = k.btfId;
            insn.imm64 = (BigInt(k.objFd) << 32n) | BigInt(k.btfId);
          } else {
            insn.src = 0;
            insn.imm64 = k.address;
            insn.imm = Number(BigInt.asIntN(32, k.address));
          }
          break;
        }
        case 'kfunc': {
          const ext = this.extern(p, r.extern);
          const k = this.ksyms.get(ext.name)!;
          if (insn.opcode !== CALL) throw new ArgumentError(`program '${p.name}': kfunc '${ext.name}' referenced by a non-call instruction`);
          if (k.resolved) {
            insn.src = BPF_PSEUDO_KFUNC_CALL;
            insn.imm = k.btfId;
            insn.offset = k.fdIndex;
          } else {
            // Unresolved weak kfunc: a call the verifier rejects only if reachable (libbpf's poison).
            insn.src = 0;
            insn.dst = 0;
            insn.offset = 0;
            insn.imm = POISON_CALL_KFUNC_BASE + externIndex.indexOf(ext.name);
          }
          break;
        }
      }
    }
  }

  mapFd(p: ProgramSpec, name: string): number {
    const m = this.maps.get(name);
    if (!m) throw new ArgumentError(`program '${p.name}' references map '${name}', which the collection doesn't have`);
    return m.fd.value;
  }

  extern(p: ProgramSpec, name: string): ExternSpec {
    const e = this.spec.externs.get(name);
    if (!e) throw new ArgumentError(`program '${p.name}' references extern '${name}', which the collection doesn't have`);
    return e;
  }

  /** The kernel BTF id of the program's attach target (libbpf's libbpf_find_attach_btf_id). */
  attachTarget(p: ProgramSpec): { attachBtfId: number; attachBtfObjFd: number } {
    if (p.type === ProgType.EXT) {
      throw new NotSupportedError('freplace programs', `program '${p.name}': freplace needs a target BPF program, which loadCollection doesn't take yet`);
    }
    if (!p.attachTo) throw new ArgumentError(`program '${p.name}': section '${p.sectionName}' names no attach target`);
    let module: string | undefined;
    let name = p.attachTo;
    const colon = name.indexOf(':');
    if (colon >= 0) {
      module = name.slice(0, colon);
      name = name.slice(colon + 1);
    }
    let prefix = '';
    let kind: 'func' | 'typedef' = 'func';
    switch (p.expectedAttachType) {
      case AttachType.TRACE_RAW_TP:
        prefix = 'btf_trace_';
        kind = 'typedef';
        break;
      case AttachType.LSM_MAC:
      case AttachType.LSM_CGROUP:
        prefix = 'bpf_lsm_';
        break;
      case AttachType.TRACE_ITER:
        prefix = 'bpf_iter_';
        break;
    }
    const found = this.findKernelBtf(prefix + name, kind, module);
    if (!found) {
      throw new NotSupportedError(
        `attach target ${name}`,
        `program '${p.name}': attach target '${name}' (BTF ${kind} '${prefix}${name}') not found in the kernel's BTF${module ? ` (module ${module})` : ''}`,
      );
    }
    return { attachBtfId: found.type.id, attachBtfObjFd: found.module === 'vmlinux' ? 0 : this.moduleBtfFd(found.module).value };
  }
}
