/**
 * CollectionSpec: everything a BPF object describes, before anything exists in the kernel
 * (libbpf's bpf_object after open, cilium/ebpf's CollectionSpec). Deterministic and editable:
 * change .rodata constants and other variables, map sizes and flags, pinning, which programs
 * autoload, then load it with loadCollection().
 */
import { readFileSync } from 'node:fs';
import { ArgumentError } from '../errors.js';
import { describeType, type Spec, type Type } from '../btf/index.js';
import { HOST_LITTLE_ENDIAN } from '../elf/index.js';
import { parseObject, type VariableInfo } from './elf.js';
import { objectNameFromPath } from './naming.js';
import type { ExternSpec, MapSpec, ProgramSpec } from './types.js';
import { decodeValue, encodeValue } from './values.js';

/** A global variable of a data section (.data, .rodata, .bss, custom ones), typed by its BTF VAR. */
export class VariableSpec {
  readonly name: string;
  /** The global data map (section) holding it: `.rodata`, `.data.custom`... */
  readonly mapName: string;
  readonly offset: number;
  readonly size: number;
  /** The variable's BTF type. */
  readonly type: Type;
  /** `static` for static and hidden variables (libbpf doesn't expose those through skeletons). */
  readonly linkage: 'static' | 'global' | 'extern';
  readonly #spec: CollectionSpec;

  constructor(spec: CollectionSpec, info: VariableInfo) {
    this.#spec = spec;
    this.name = info.name;
    this.mapName = info.map;
    this.offset = info.offset;
    this.size = info.size;
    this.type = info.type;
    this.linkage = info.linkage;
  }

  /** The map spec holding the variable. */
  get map(): MapSpec {
    const m = this.#spec.maps.get(this.mapName);
    if (!m || !m.contents) throw new ArgumentError(`variable '${this.name}': its map '${this.mapName}' is gone from the spec`);
    return m;
  }

  /** Whether the variable lives in a read-only section (.rodata*): a constant for the program. */
  get readOnly(): boolean {
    return this.map.kind === 'rodata';
  }

  /** The variable's bytes in the map spec's initial contents (a view: writes go to the spec). */
  bytes(): Uint8Array {
    return this.map.contents!.subarray(this.offset, this.offset + this.size);
  }

  /** The initial value, decoded through BTF. */
  get(): unknown {
    const c = this.map.contents!;
    return decodeValue(this.type, new DataView(c.buffer, c.byteOffset, c.byteLength), this.offset, HOST_LITTLE_ENDIAN);
  }

  /** Sets the initial value (encoded through BTF) the map will be created with. */
  set(value: unknown): void {
    const c = this.map.contents!;
    if (this.offset + this.size > c.length) throw new ArgumentError(`variable '${this.name}' lies outside its map's ${c.length} bytes`);
    encodeValue(this.type, value, new DataView(c.buffer, c.byteOffset, c.byteLength), this.offset, HOST_LITTLE_ENDIAN, `variable '${this.name}'`);
  }
}

export interface CollectionSpecOptions {
  /**
   * The object's name, the prefix of internal map names (`<name>.rodata`, as libbpf does). Default:
   * '' (the maps are then named after their sections alone).
   */
  name?: string;
}

export class CollectionSpec {
  /** The object's name (libbpf: the file name up to its first '.'). */
  readonly name: string;
  /** Entry programs by function name, in section order. */
  readonly programs: Map<string, ProgramSpec>;
  /** Maps by name: BTF and legacy maps by symbol name, global data maps by section name. */
  readonly maps: Map<string, MapSpec>;
  /** .kconfig and .ksyms externs by name. */
  readonly externs: Map<string, ExternSpec>;
  /** Global variables by name (the first one wins when two sections have a static of the same name). */
  readonly variables: Map<string, VariableSpec>;
  /** The object's BTF (with libbpf's fix-ups applied), or undefined without a .BTF section. */
  readonly btf: Spec | undefined;
  /** The `license` section. */
  readonly license: string;
  /** The `version` section (0 if absent). */
  readonly kernelVersion: number;

  private constructor(init: {
    name: string;
    programs: ProgramSpec[];
    maps: MapSpec[];
    externs: ExternSpec[];
    variables: VariableInfo[];
    btf: Spec | undefined;
    license: string;
    kernelVersion: number;
  }) {
    this.name = init.name;
    this.programs = new Map(init.programs.map((p) => [p.name, p]));
    this.maps = new Map(init.maps.map((m) => [m.name, m]));
    this.externs = new Map(init.externs.map((e) => [e.name, e]));
    this.variables = new Map();
    for (const v of init.variables) if (!this.variables.has(v.name)) this.variables.set(v.name, new VariableSpec(this, v));
    this.btf = init.btf;
    this.license = init.license;
    this.kernelVersion = init.kernelVersion;
  }

  /**
   * Parses a BPF ELF object (clang -target bpf). Pure: no kernel needed, the same bytes always
   * give the same spec. Throws FormatError for malformed or unsupported objects.
   */
  static fromELF(bytes: Uint8Array, options: CollectionSpecOptions = {}): CollectionSpec {
    if (!(bytes instanceof Uint8Array)) throw new ArgumentError('CollectionSpec.fromELF expects a Uint8Array');
    // Copy: the spec keeps views of the bytes (BTF, section contents), and callers reuse buffers.
    const own = Uint8Array.from(bytes);
    const parsed = parseObject(own, options.name ?? '');
    return new CollectionSpec(parsed);
  }

  /** The program spec called `name`; throws ArgumentError if there is none. */
  program(name: string): ProgramSpec {
    const p = this.programs.get(name);
    if (!p) throw new ArgumentError(`no program '${name}' in the collection (have: ${[...this.programs.keys()].join(', ') || 'none'})`);
    return p;
  }

  /** The map spec called `name`; throws ArgumentError if there is none. */
  map(name: string): MapSpec {
    const m = this.maps.get(name);
    if (!m) throw new ArgumentError(`no map '${name}' in the collection (have: ${[...this.maps.keys()].join(', ') || 'none'})`);
    return m;
  }

  /** The variable called `name`; throws ArgumentError if there is none. */
  variable(name: string): VariableSpec {
    const v = this.variables.get(name);
    if (!v) throw new ArgumentError(`no global variable '${name}' in the collection`);
    return v;
  }

  /**
   * Sets a constant of a read-only section (.rodata, .rodata.*) before load, typed by its
   * BTF VAR: numbers/bigints for integers, strings for char arrays, objects for structs...
   * (see values.ts). Throws ArgumentError for unknown names, non-constants and values that
   * don't fit the type.
   */
  setConstant(name: string, value: unknown): void {
    const v = this.variable(name);
    if (!v.readOnly) throw new ArgumentError(`variable '${name}' is in '${v.mapName}', not a read-only section: use variable('${name}').set()`);
    v.set(value);
  }

  /** Sets several constants: `spec.setConstants({ min_pid: 100, verbose: true })`. */
  setConstants(values: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(values)) this.setConstant(k, v);
  }

  /** The .rodata constants' initial values by name, decoded through BTF. */
  get constants(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const v of this.variables.values()) if (v.readOnly) out[v.name] = v.get();
    return out;
  }

  /** A one-line summary per program and map, for debugging. */
  describe(): string {
    const lines: string[] = [];
    for (const p of this.programs.values()) {
      lines.push(`program ${p.name}: section ${p.sectionName}, type ${p.type}, ${p.instructions.length} insns${p.subprograms.length ? `, subprograms ${p.subprograms.join(', ')}` : ''}`);
    }
    for (const m of this.maps.values()) {
      lines.push(`map ${m.name} (${m.kernelName}): type ${m.type}, key ${m.keySize}${m.key ? ` ${describeType(m.key)}` : ''}, value ${m.valueSize}, max ${m.maxEntries}, flags 0x${m.flags.toString(16)}`);
    }
    return lines.join('\n');
  }
}

/** Reads and parses a BPF object file; the object's name comes from the file name, as libbpf's. */
export function loadCollectionSpec(path: string): CollectionSpec {
  return CollectionSpec.fromELF(readFileSync(path), { name: objectNameFromPath(path) });
}
