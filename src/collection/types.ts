/**
 * The plain data of a CollectionSpec: programs, maps, externs and their metadata. Everything
 * here is kernel-independent and editable before load (libbpf's "open" phase).
 */
import type { Instruction } from '../asm/index.js';
import type { FuncType, Type } from '../btf/index.js';

/** What a ld_imm64 or call instruction refers to, resolved when the collection is loaded. */
export type Relocation =
  /** ld_imm64 of a map's fd (BPF_PSEUDO_MAP_FD). */
  | { kind: 'map'; map: string }
  /** ld_imm64 of an address in a map's value (BPF_PSEUDO_MAP_VALUE): global data. */
  | { kind: 'data'; map: string; offset: number }
  /** ld_imm64 of a .kconfig extern (an address in the .kconfig map's value). */
  | { kind: 'kconfig'; extern: string }
  /** ld_imm64 of a .ksyms extern: a BTF id (typed, BPF_PSEUDO_BTF_ID) or an address (untyped). */
  | { kind: 'ksym'; extern: string }
  /** call of a kernel function (kfunc, BPF_PSEUDO_KFUNC_CALL). */
  | { kind: 'kfunc'; extern: string };

/** A line_info record, attached to the instruction it describes. */
export interface InstructionLine {
  fileName: string;
  lineText: string;
  line: number;
  column: number;
}

/** A CO-RE relocation record (.BTF.ext), attached to the instruction it patches. */
export interface InstructionCore {
  /** Root type id in the object's BTF. */
  typeId: number;
  accessString: string;
  /** BPF_CORE_* */
  kind: number;
}

/**
 * An instruction of a program spec with the loader's metadata: the relocation to resolve at
 * load, the BTF FUNC of the function starting here (func_info), its line info, its CO-RE
 * relocation. func_info/line_info offsets are computed from these positions at load, so
 * inserting or removing instructions keeps them right.
 */
export interface ProgramInstruction extends Instruction {
  relocation?: Relocation;
  func?: FuncType;
  line?: InstructionLine;
  core?: InstructionCore;
}

export interface ProgramSpec {
  /** The function's symbol name: the key in CollectionSpec.programs, and the pin name. */
  name: string;
  /** The ELF section (`xdp`, `tracepoint/syscalls/sys_enter_execve`...). */
  sectionName: string;
  /** ProgType value. */
  type: number;
  /** AttachType value passed as expected_attach_type. */
  expectedAttachType: number;
  /** The section name's target part (`syscalls/sys_enter_execve`, `do_unlinkat`); '' if none. */
  attachTo: string;
  /** Whether the attach target's BTF id is looked up in kernel BTF at load (tp_btf, fentry, lsm, iter...). */
  attachBtf: boolean;
  /** BPF_PROG_LOAD prog_flags: ProgLoadFlags.SLEEPABLE, XDP_HAS_FRAGS... */
  flags: number;
  /** Loaded by loadCollection (libbpf's autoload; false for `SEC("?...")` programs). */
  autoload: boolean;
  /** The license section's string. */
  license: string;
  /** The `version` section's value (kern_version), 0 if absent. */
  kernelVersion: number;
  /**
   * The program with its subprograms appended in libbpf's order (depth first, each once),
   * BPF-to-BPF call offsets fixed. Map and extern references are left to load time.
   */
  instructions: ProgramInstruction[];
  /** The subprograms appended, in order. */
  subprograms: string[];
}

/** Where a map comes from. */
export type MapKind =
  /** A BTF-defined map in `.maps`. */
  | 'btf'
  /** A `struct bpf_map_def` in the legacy `maps` section. */
  | 'legacy'
  /** Global data: `.data`, `.data.*` */
  | 'data'
  /** Read-only global data: `.rodata`, `.rodata.*` (frozen after load). */
  | 'rodata'
  /** Zero-initialised global data: `.bss`, `.bss.*` */
  | 'bss'
  /** The `.kconfig` externs' values (filled at load, frozen). */
  | 'kconfig'
  /** The inner map template of a map-in-map. */
  | 'inner';

export type Pinning = 'none' | 'byName';

/** One initial slot of a map-in-map (a map name) or prog array (a program name). */
export interface MapSlot {
  index: number;
  target: string;
}

export interface MapSpec {
  /** The key in CollectionSpec.maps: the map's symbol name, or its section for global data (`.rodata`). */
  name: string;
  /** The name the kernel gets (at most 15 characters; libbpf's for internal maps: `globals.rodata`). */
  kernelName: string;
  kind: MapKind;
  /** MapType value. */
  type: number;
  keySize: number;
  valueSize: number;
  /** 0 for a PERF_EVENT_ARRAY means the number of possible CPUs, decided at load. */
  maxEntries: number;
  /**
   * map_flags. Global data maps have BPF_F_MMAPABLE when a variable of theirs is visible
   * (libbpf's rule); it is dropped at load on kernels without mmapable arrays.
   */
  flags: number;
  numaNode: number;
  mapExtra: bigint;
  pinning: Pinning;
  /** BTF key and value types from the object (undefined when the definition gave sizes only). */
  key?: Type;
  value?: Type;
  /** The inner map template of ARRAY_OF_MAPS / HASH_OF_MAPS. */
  innerMap?: MapSpec;
  /** Initial value of global data maps (valueSize bytes; edited by variables and setConstant). */
  contents?: Uint8Array;
  /** Initial slots of a map-in-map (map names) or prog array (program names). */
  slots: MapSlot[];
  /** BPF_MAP_FREEZE after initialising (.rodata, .kconfig). */
  freeze: boolean;
  /** The ELF section it was defined in. */
  sectionName: string;
}

export type KconfigType = 'bool' | 'tristate' | 'char' | 'int' | 'chars';

export interface ExternSpec {
  name: string;
  kind: 'kconfig' | 'ksym';
  /** `__weak`: unresolved is 0 (kconfig) / a missing ksym instead of an error. */
  weak: boolean;
  /** The extern's BTF VAR or FUNC. */
  btf: Type;
  /**
   * The declared type (typedefs and qualifiers followed): the value type of a kconfig extern;
   * for a ksym, the variable's type (void for an untyped ksym) or the function's prototype.
   */
  type: Type;
  /** kconfig: position and size of the value in the .kconfig map. */
  offset: number;
  size: number;
  align: number;
  kconfigType?: KconfigType;
  signed: boolean;
  /** ksym: a function (kfunc). */
  isFunction: boolean;
  /** ksym: typed (resolved through kernel BTF) rather than an address from kallsyms. */
  typed: boolean;
}
