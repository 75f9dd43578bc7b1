/**
 * Reading a BPF ELF object into the parts of a CollectionSpec, the way libbpf's
 * bpf_object__open does: programs from executable sections (one per global function symbol),
 * subprograms in .text, BTF-defined and legacy maps, global data sections as internal maps,
 * .kconfig/.ksyms externs, the relocations of every program section, func/line/CO-RE info from
 * .BTF.ext. Pure and deterministic: no kernel, no file system.
 */
import { FormatError } from '../errors.js';
import {
  EM_BPF,
  ET_REL,
  ElfFile,
  R_BPF_64_32,
  R_BPF_64_64,
  SHF_EXECINSTR,
  SHN_LORESERVE,
  SHN_UNDEF,
  SHT_NOBITS,
  SHT_PROGBITS,
  STB_GLOBAL,
  STB_LOCAL,
  STB_WEAK,
  STT_FUNC,
  STT_NOTYPE,
  STT_SECTION,
  STV_HIDDEN,
  STV_INTERNAL,
  type ElfSection,
  type ElfSymbol,
} from '../elf/index.js';
import {
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  CALL,
  LD_IMM64,
  decodeInstructions,
  slotIndices,
  type Instruction,
} from '../asm/index.js';
import {
  alignof,
  describeType,
  fixupDatasecs,
  parseObjectBtf,
  resolve,
  sizeof,
  type DatasecType,
  type FuncType,
  type IntType,
  type ObjectBtf,
  type Spec,
  type StructType,
  type Type,
  type VarType,
} from '../btf/index.js';
import { MapFlags, MapType, ProgLoadFlags } from '../sys/constants.js';
import { lookupSection, SecFlags } from './sections.js';
import { internalMapName } from './naming.js';
import type { ExternSpec, KconfigType, MapSpec, ProgramInstruction, ProgramSpec } from './types.js';

const PAGE_SIZE = 4096;
/**
 * Largest global data section accepted. SHT_NOBITS (.bss) sizes come from the header alone,
 * and the spec allocates the map's initial contents: a forged size must not make it allocate
 * without bound.
 */
export const MAX_DATA_SECTION_SIZE = 256 * 1024 * 1024;
/** Largest .kconfig map accepted (kconfig values are ints, bools and short strings). */
export const MAX_KCONFIG_SIZE = 64 * 1024;

export function elfError(message: string, offset?: number): FormatError {
  return new FormatError('ERR_ELF', message, offset);
}

/** A function of an executable section: an entry program, or a subprogram. */
interface Func {
  name: string;
  section: ElfSection;
  /** First and one-past-last slot in the section. */
  start: number;
  end: number;
  insns: ProgramInstruction[];
  /** Slot of each instruction relative to `start`. */
  slots: number[];
  /** Calls and function addresses to other functions: instruction index -> target. */
  calls: Map<number, { fn: Func; delta: number }>;
  entry: boolean;
  hidden: boolean;
}

/** The decoded instructions of one executable section. */
interface CodeSection {
  section: ElfSection;
  insns: ProgramInstruction[];
  /** slot -> instruction index */
  atSlot: Map<number, number>;
  slotOf: number[];
  funcs: Func[];
}

export interface VariableInfo {
  name: string;
  map: string;
  offset: number;
  size: number;
  type: Type;
  linkage: 'static' | 'global' | 'extern';
}

export interface ParsedObject {
  name: string;
  license: string;
  kernelVersion: number;
  btf: Spec | undefined;
  programs: ProgramSpec[];
  maps: MapSpec[];
  externs: ExternSpec[];
  variables: VariableInfo[];
}

const EXT_KIND_ORDER = { kconfig: 1, ksym: 2 } as const;

/** Parses a BPF object. Throws FormatError (ERR_ELF, ERR_BTF) for what libbpf would refuse. */
export function parseObject(bytes: Uint8Array, objectName: string): ParsedObject {
  return new ObjectReader(bytes, objectName).read();
}

class ObjectReader {
  readonly elf: ElfFile;
  readonly name: string;
  readonly le: boolean;
  btf: ObjectBtf | undefined;
  symbols: readonly ElfSymbol[] = [];
  license = '';
  kernelVersion = 0;
  text: ElfSection | undefined;
  mapsSection: ElfSection | undefined;
  legacyMapsSection: ElfSection | undefined;
  dataSections: { section: ElfSection; kind: 'data' | 'rodata' | 'bss' }[] = [];
  code = new Map<number, CodeSection>();
  maps: MapSpec[] = [];
  /** BTF maps by their offset in .maps; legacy maps by their offset in `maps`. */
  btfMapsByOffset = new Map<number, { spec: MapSpec; start: number; end: number; def: StructType }>();
  legacyMapsByOffset = new Map<number, MapSpec>();
  dataMapsBySection = new Map<number, MapSpec>();
  externs: ExternSpec[] = [];
  externsBySymbol = new Map<number, ExternSpec>();

  constructor(bytes: Uint8Array, name: string) {
    this.elf = ElfFile.parse(bytes);
    this.name = name;
    this.le = this.elf.littleEndian;
  }

  read(): ParsedObject {
    const elf = this.elf;
    elf.assertNativeByteOrder('BPF object');
    if (elf.machine !== EM_BPF) throw elfError(`not a BPF object: e_machine is ${elf.machine}, expected ${EM_BPF} (EM_BPF)`);
    if (elf.type !== ET_REL) throw elfError(`not a relocatable BPF object: e_type is ${elf.type}, expected ${ET_REL} (ET_REL)`);
    if (!elf.symbolTable) throw elfError('the object has no symbol table (stripped?)');
    this.symbols = elf.symbols;

    this.classifySections();
    this.readBtf();
    this.collectExterns();
    this.fixupBtf();
    this.readLegacyMaps();
    this.readBtfMaps();
    this.readDataMaps();
    this.addKconfigMap();
    this.readCode();
    this.readRelocations();
    this.readBtfExt();
    const programs = this.linkPrograms();
    this.readMapSlots(programs);

    return {
      name: this.name,
      license: this.license,
      kernelVersion: this.kernelVersion,
      btf: this.btf?.spec,
      programs,
      maps: this.maps,
      externs: this.externs,
      variables: this.variables(),
    };
  }

  // ------------------------------------------------------------------ sections

  classifySections(): void {
    for (const s of this.elf.sections) {
      const name = s.name;
      if (name === 'license') {
        const d = s.data();
        const end = d.indexOf(0);
        this.license = new TextDecoder().decode(end < 0 ? d : d.subarray(0, end));
      } else if (name === 'version') {
        if (s.size !== 4) throw elfError(`section 'version' is ${s.size} bytes, expected 4`, s.offset);
        this.kernelVersion = new DataView(s.data().buffer, s.data().byteOffset, 4).getUint32(0, this.le);
      } else if (name === 'maps' && s.type === SHT_PROGBITS) {
        this.legacyMapsSection = s;
      } else if (name === '.maps') {
        this.mapsSection = s;
      } else if (s.type === SHT_PROGBITS && s.size > 0 && s.hasFlags(SHF_EXECINSTR)) {
        if (name === '.text') this.text = s;
        this.code.set(s.index, { section: s, insns: [], atSlot: new Map(), slotOf: [], funcs: [] });
      } else if (s.type === SHT_PROGBITS && s.size > 0 && (name === '.data' || name.startsWith('.data.'))) {
        this.dataSections.push({ section: s, kind: 'data' });
      } else if (s.type === SHT_PROGBITS && s.size > 0 && (name === '.rodata' || name.startsWith('.rodata.'))) {
        this.dataSections.push({ section: s, kind: 'rodata' });
      } else if (s.type === SHT_NOBITS && s.size > 0 && (name === '.bss' || name.startsWith('.bss.'))) {
        this.dataSections.push({ section: s, kind: 'bss' });
      }
    }
  }

  readBtf(): void {
    const btf = this.elf.sectionByName('.BTF');
    if (!btf) return;
    const ext = this.elf.sectionByName('.BTF.ext');
    this.btf = parseObjectBtf({ btf: btf.data(), btfExt: ext?.data() });
  }

  symbolsIn(section: ElfSection): ElfSymbol[] {
    return this.symbols.filter((s) => s.sectionIndex === section.index);
  }

  // ------------------------------------------------------------------ externs

  collectExterns(): void {
    const spec = this.btf?.spec;
    for (const sym of this.symbols) {
      if (sym.sectionIndex !== SHN_UNDEF || sym.type !== STT_NOTYPE) continue;
      if (sym.bind !== STB_GLOBAL && sym.bind !== STB_WEAK) continue;
      if (sym.name === '') continue;
      if (!spec) throw elfError(`extern '${sym.name}' needs BTF, but the object has no .BTF section (compile with -g)`);
      const btfType = spec.typesByName(sym.name).find((t) => t.kind === 'var' || t.kind === 'func');
      if (!btfType) throw new FormatError('ERR_BTF', `no BTF VAR or FUNC for extern '${sym.name}'`);
      if ((btfType.kind === 'var' || btfType.kind === 'func') && btfType.linkage !== 'extern') {
        throw new FormatError('ERR_BTF', `BTF ${describeType(btfType)} of extern '${sym.name}' is not extern`);
      }
      const sec = this.datasecOf(btfType);
      if (!sec) throw new FormatError('ERR_BTF', `extern '${sym.name}' is in no DATASEC`);
      const weak = sym.bind === STB_WEAK;
      let ext: ExternSpec;
      if (sec.name === '.kconfig') {
        if (btfType.kind !== 'var') throw new FormatError('ERR_BTF', `extern function '${sym.name}' can't be in .kconfig`);
        const type = btfType.type;
        const { kind, signed } = kconfigTypeOf(type);
        if (!kind) throw new FormatError('ERR_BTF', `extern (kconfig) '${sym.name}': type ${describeType(resolve(type))} is not supported`);
        ext = {
          name: sym.name,
          kind: 'kconfig',
          weak,
          btf: btfType,
          type: resolve(type),
          offset: 0,
          size: sizeof(type),
          align: alignof(type),
          kconfigType: kind,
          signed,
          isFunction: false,
          typed: false,
        };
      } else if (sec.name === '.ksyms') {
        const isFunction = btfType.kind === 'func';
        const type = btfType.kind === 'func' ? btfType.proto : resolve((btfType as VarType).type);
        ext = {
          name: sym.name,
          kind: 'ksym',
          weak,
          btf: btfType,
          type,
          offset: 0,
          size: 0,
          align: 0,
          signed: false,
          isFunction,
          typed: isFunction || type.kind !== 'void',
        };
      } else {
        throw new FormatError('ERR_BTF', `extern '${sym.name}' is in unknown section '${sec.name}' (only .kconfig and .ksyms are)`);
      }
      this.externs.push(ext);
      this.externsBySymbol.set(sym.index, ext);
    }
    // libbpf's order: kconfig before ksyms; kconfig by descending alignment, then ascending
    // size; then names. The .kconfig map's layout follows it.
    this.externs.sort((a, b) => {
      if (a.kind !== b.kind) return EXT_KIND_ORDER[a.kind] - EXT_KIND_ORDER[b.kind];
      if (a.kind === 'kconfig') {
        if (a.align !== b.align) return b.align - a.align;
        if (a.size !== b.size) return a.size - b.size;
      }
      return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    });
    let off = 0;
    for (const e of this.externs) {
      if (e.kind !== 'kconfig') continue;
      e.offset = Math.ceil(off / e.align) * e.align;
      off = e.offset + e.size;
    }
  }

  datasecOf(t: Type): DatasecType | undefined {
    const spec = this.btf?.spec;
    if (!spec) return undefined;
    for (const x of spec.types()) {
      if (x.kind === 'datasec' && x.vars.some((v) => v.type === t)) return x;
    }
    return undefined;
  }

  /**
   * What libbpf does to the object's BTF before loading it: extern DATASECs become loadable
   * (.kconfig vars at their offsets in the .kconfig map; .ksyms entries 4-byte ints, functions
   * replaced by a dummy var), clang's zero DATASEC sizes and offsets are filled from the ELF.
   */
  fixupBtf(): void {
    const spec = this.btf?.spec;
    if (!spec) return;
    let dummy: VarType | undefined;
    for (const t of spec.types()) {
      if (t.kind !== 'datasec') continue;
      if (t.name === '.ksyms') {
        const int32 = this.int32Type(spec);
        if (t.vars.some((v) => v.type.kind === 'func')) {
          dummy = { id: 0, kind: 'var', name: 'dummy_ksym', type: int32, linkage: 'global' };
        }
        t.vars.forEach((v, i) => {
          const vt = v.type;
          if (vt.kind === 'func') {
            for (const p of vt.proto.params) if (p.name === '' && p.type.kind !== 'void') p.name = 'dummy_ksym';
            vt.linkage = 'global';
            v.type = dummy!;
          } else if (vt.kind === 'var') {
            vt.linkage = 'global';
            vt.type = int32;
          }
          v.offset = i * 4;
          v.size = 4;
        });
        t.size = t.vars.length * 4;
      } else if (t.name === '.kconfig') {
        let end = 0;
        for (const v of t.vars) {
          const e = this.externs.find((x) => x.btf === v.type);
          if (!e) throw new FormatError('ERR_BTF', `.kconfig DATASEC: no extern for ${describeType(v.type)}`);
          (v.type as VarType).linkage = 'global';
          v.offset = e.offset;
          end = Math.max(end, e.offset + e.size);
        }
        t.size = this.externs.filter((e) => e.kind === 'kconfig').reduce((m, e) => Math.max(m, e.offset + e.size), end);
      }
    }
    const byName = (sec: string, name: string) => {
      const s = this.elf.sectionByName(sec);
      if (!s) return undefined;
      return this.symbols.find((x) => x.sectionIndex === s.index && x.name === name && x.bind !== STB_LOCAL);
    };
    fixupDatasecs(spec, {
      sectionSize: (name) => this.elf.sectionByName(name)?.size,
      symbolOffset: (sec, name) => byName(sec, name)?.value,
      symbolHidden: (sec, name) => {
        const v = byName(sec, name)?.visibility;
        return v === STV_HIDDEN || v === STV_INTERNAL;
      },
    });
  }

  #int32: IntType | undefined;
  int32Type(spec: Spec): IntType {
    if (this.#int32) return this.#int32;
    for (const t of spec.types()) {
      if (t.kind === 'int' && t.bits === 32) return (this.#int32 = t);
    }
    return (this.#int32 = { id: 0, kind: 'int', name: 'int', size: 4, bits: 32, offset: 0, signed: true, char: false, bool: false });
  }

  // ------------------------------------------------------------------ maps

  readLegacyMaps(): void {
    const s = this.legacyMapsSection;
    if (!s) return;
    const syms = this.symbolsIn(s)
      .filter((x) => x.type !== STT_SECTION && x.name !== '')
      .sort((a, b) => a.value - b.value);
    if (syms.length === 0) return;
    const data = s.data();
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const defSize = Math.floor(data.length / syms.length);
    if (defSize < 16) throw elfError(`legacy 'maps' section: ${data.length} bytes for ${syms.length} maps`, s.offset);
    for (const sym of syms) {
      const at = sym.value;
      if (at + 16 > data.length) throw elfError(`legacy map '${sym.name}' runs past the end of the 'maps' section`, s.offset + at);
      const field = (i: number) => (i * 4 + 4 <= defSize && at + i * 4 + 4 <= data.length ? dv.getUint32(at + i * 4, this.le) : 0);
      const spec: MapSpec = {
        name: sym.name,
        kernelName: sym.name.slice(0, 15),
        kind: 'legacy',
        type: field(0),
        keySize: field(1),
        valueSize: field(2),
        maxEntries: field(3),
        flags: field(4),
        numaNode: 0,
        mapExtra: 0n,
        pinning: 'none',
        slots: [],
        freeze: false,
        sectionName: 'maps',
      };
      this.maps.push(spec);
      this.legacyMapsByOffset.set(at, spec);
    }
  }

  readBtfMaps(): void {
    const s = this.mapsSection;
    if (!s) return;
    const spec = this.btf?.spec;
    if (!spec) throw elfError("BTF-defined maps ('.maps') need BTF, but the object has no .BTF section (compile with -g)");
    const sec = spec.findType('datasec', '.maps');
    if (!sec) throw new FormatError('ERR_BTF', "DATASEC '.maps' not found");
    for (const vi of sec.vars) {
      const v = vi.type;
      if (v.kind !== 'var') throw new FormatError('ERR_BTF', `.maps: ${describeType(v)} is not a VAR`);
      if (!v.name) throw new FormatError('ERR_BTF', '.maps: a map has an empty name');
      if (v.linkage === 'extern') throw new FormatError('ERR_BTF', `map '${v.name}': extern maps are not supported`);
      if (vi.offset + vi.size > s.size) throw new FormatError('ERR_BTF', `map '${v.name}': BTF data is corrupted (past the end of .maps)`);
      const def = resolve(v.type);
      if (def.kind !== 'struct') throw new FormatError('ERR_BTF', `map '${v.name}': definition is ${describeType(def)}, expected a struct`);
      const map = this.parseMapDef(v.name, def, false);
      this.maps.push(map);
      this.btfMapsByOffset.set(vi.offset, { spec: map, start: vi.offset, end: vi.offset + vi.size, def });
    }
  }

  parseMapDef(name: string, def: StructType, inner: boolean): MapSpec {
    const bad = (msg: string): never => {
      throw new FormatError('ERR_BTF', `map '${name}': ${msg}`);
    };
    const intField = (m: { name: string; type: Type }): number => {
      const t = resolve(m.type);
      if (t.kind !== 'ptr') bad(`attr '${m.name}': expected PTR, got ${t.kind}`);
      const arr = (t as { target: Type }).target;
      if (arr.kind !== 'array') bad(`attr '${m.name}': expected ARRAY, got ${arr.kind}`);
      return (arr as { length: number }).length;
    };
    const spec: MapSpec = {
      name,
      kernelName: name.slice(0, 15),
      kind: inner ? 'inner' : 'btf',
      type: 0,
      keySize: 0,
      valueSize: 0,
      maxEntries: 0,
      flags: 0,
      numaNode: 0,
      mapExtra: 0n,
      pinning: 'none',
      slots: [],
      freeze: false,
      sectionName: '.maps',
    };
    const setSize = (what: 'keySize' | 'valueSize', size: number) => {
      if (spec[what] && spec[what] !== size) bad(`conflicting ${what === 'keySize' ? 'key' : 'value'} size ${spec[what]} != ${size}`);
      spec[what] = size;
    };
    def.members.forEach((m, i) => {
      switch (m.name) {
        case 'type':
          spec.type = intField(m);
          break;
        case 'max_entries':
          spec.maxEntries = intField(m);
          break;
        case 'map_flags':
          spec.flags = intField(m);
          break;
        case 'numa_node':
          spec.numaNode = intField(m);
          break;
        case 'key_size':
          setSize('keySize', intField(m));
          break;
        case 'value_size':
          setSize('valueSize', intField(m));
          break;
        case 'key':
        case 'value': {
          const t = resolve(m.type);
          if (t.kind !== 'ptr') bad(`${m.name} spec is not PTR: ${t.kind}`);
          const target = (t as { target: Type }).target;
          let size: number;
          try {
            size = sizeof(target);
          } catch {
            return bad(`can't determine ${m.name} size for ${describeType(target)}`);
          }
          setSize(m.name === 'key' ? 'keySize' : 'valueSize', size);
          spec[m.name] = target;
          break;
        }
        case 'values': {
          const mapInMap = spec.type === MapType.ARRAY_OF_MAPS || spec.type === MapType.HASH_OF_MAPS;
          const progArray = spec.type === MapType.PROG_ARRAY;
          if (inner) bad('multi-level inner maps are not supported');
          if (i !== def.members.length - 1) bad("'values' member should be last");
          if (!mapInMap && !progArray) bad("'values' needs a map-in-map or prog-array type");
          setSize('valueSize', 4);
          const arr = resolve(m.type);
          if (arr.kind !== 'array' || arr.length !== 0) bad("'values' spec is not a zero-sized array");
          const ptr = resolve((arr as { element: Type }).element);
          if (ptr.kind !== 'ptr') bad(`'values' element is ${ptr.kind}, expected a pointer`);
          const target = resolve((ptr as { target: Type }).target);
          if (progArray) {
            if (target.kind !== 'func_proto') bad(`prog-array value def is ${target.kind}, expected a function prototype`);
            break;
          }
          if (target.kind !== 'struct') bad(`map-in-map inner def is ${target.kind}, expected a struct`);
          spec.innerMap = this.parseMapDef(`${name}.inner`, target as StructType, true);
          break;
        }
        case 'pinning': {
          if (inner) bad("an inner map definition can't be pinned");
          const p = intField(m);
          if (p !== 0 && p !== 1) bad(`invalid pinning value ${p}`);
          spec.pinning = p === 1 ? 'byName' : 'none';
          break;
        }
        case 'map_extra': {
          const t = resolve(m.type);
          if (t.kind === 'ptr') spec.mapExtra = BigInt(intField(m));
          else if ((t.kind === 'enum' || t.kind === 'enum64') && t.values.length === 1) spec.mapExtra = BigInt.asUintN(64, t.values[0]!.value);
          else bad("attr 'map_extra': expected __uint or __ulong");
          break;
        }
        default:
          // libbpf ignores unknown fields unless in strict mode.
          break;
      }
    });
    if (spec.type === 0) bad("map type isn't specified");
    if (spec.type === MapType.RINGBUF || spec.type === MapType.USER_RINGBUF) spec.maxEntries = adjustRingbufSize(spec.maxEntries);
    return spec;
  }

  readDataMaps(): void {
    const spec = this.btf?.spec;
    for (const { section, kind } of this.dataSections) {
      if (section.size > MAX_DATA_SECTION_SIZE) {
        throw elfError(`section '${section.name}' is ${section.size} bytes, more than the ${MAX_DATA_SECTION_SIZE} accepted for global data`, section.offset);
      }
      const value = spec?.findType('datasec', section.name);
      // BPF_F_MMAPABLE when some variable is visible outside the object (libbpf's map_is_mmapable).
      const visible = value?.vars.some((v) => v.type.kind === 'var' && v.type.linkage !== 'static') ?? false;
      let flags = kind === 'rodata' ? MapFlags.RDONLY_PROG : 0;
      if (visible) flags |= MapFlags.MMAPABLE;
      const contents = new Uint8Array(section.size);
      if (kind !== 'bss') contents.set(section.data());
      const map: MapSpec = {
        name: section.name,
        kernelName: internalMapName(this.name, section.name),
        kind,
        type: MapType.ARRAY,
        keySize: 4,
        valueSize: section.size,
        maxEntries: 1,
        flags,
        numaNode: 0,
        mapExtra: 0n,
        pinning: 'none',
        value,
        contents,
        slots: [],
        freeze: kind === 'rodata',
        sectionName: section.name,
      };
      this.maps.push(map);
      this.dataMapsBySection.set(section.index, map);
    }
  }

  addKconfigMap(): void {
    const kc = this.externs.filter((e) => e.kind === 'kconfig');
    if (kc.length === 0) return;
    const size = Math.max(...kc.map((e) => e.offset + e.size));
    if (size > MAX_KCONFIG_SIZE) throw new FormatError('ERR_BTF', `.kconfig externs take ${size} bytes, more than the ${MAX_KCONFIG_SIZE} accepted`);
    const value = this.btf?.spec.findType('datasec', '.kconfig');
    this.maps.push({
      name: '.kconfig',
      kernelName: internalMapName(this.name, '.kconfig'),
      kind: 'kconfig',
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: size,
      maxEntries: 1,
      flags: MapFlags.RDONLY_PROG | (value ? MapFlags.MMAPABLE : 0),
      numaNode: 0,
      mapExtra: 0n,
      pinning: 'none',
      value,
      contents: new Uint8Array(size),
      slots: [],
      freeze: true,
      sectionName: '.kconfig',
    });
  }

  // ------------------------------------------------------------------ code

  readCode(): void {
    for (const cs of this.code.values()) {
      const s = cs.section;
      let insns: Instruction[];
      try {
        insns = decodeInstructions(s.data(), { littleEndian: this.le });
      } catch (err) {
        if (err instanceof FormatError) throw elfError(`section '${s.name}': ${err.message}`, s.offset);
        throw err;
      }
      cs.insns = insns;
      const slots = slotIndices(insns);
      cs.slotOf = slots;
      slots.forEach((slot, i) => {
        if (i < insns.length) cs.atSlot.set(slot, i);
      });
      const total = slots[insns.length]!;
      const syms = this.symbolsIn(s)
        .filter((x) => x.type === STT_FUNC)
        .sort((a, b) => a.value - b.value);
      const isText = s === this.text;
      for (const sym of syms) {
        if (sym.value % 8 !== 0) throw elfError(`function '${sym.name}' in '${s.name}' is at offset ${sym.value}, not a multiple of 8`);
        const start = sym.value / 8;
        const size = sym.size > 0 ? sym.size : (s.size - sym.value);
        const end = start + Math.floor(size / 8);
        if (end > total || !cs.atSlot.has(start)) throw elfError(`function '${sym.name}' crosses the end of section '${s.name}' or starts inside an instruction`);
        const first = cs.atSlot.get(start)!;
        let last = first;
        while (last < insns.length && slots[last]! < end) last++;
        const fn: Func = {
          name: sym.name,
          section: s,
          start,
          end,
          insns: insns.slice(first, last),
          slots: slots.slice(first, last).map((x) => x - start),
          calls: new Map(),
          entry: !isText && sym.bind !== STB_LOCAL,
          hidden: sym.visibility === STV_HIDDEN || sym.visibility === STV_INTERNAL,
        };
        if (fn.insns.length) fn.insns[0]!.symbol = sym.name;
        cs.funcs.push(fn);
      }
    }
  }

  funcAt(cs: CodeSection, slot: number): Func | undefined {
    return cs.funcs.find((f) => slot >= f.start && slot < f.end);
  }

  /** Attaches relocations to instructions, and resolves calls to their target functions. */
  readRelocations(): void {
    for (const cs of this.code.values()) {
      const s = cs.section;
      const relocated = new Set<number>();
      for (const rel of this.elf.relocationsFor(s.index)) {
        if (rel.offset % 8 !== 0) throw elfError(`relocation at offset ${rel.offset} of '${s.name}' is not on an instruction boundary`);
        const slot = rel.offset / 8;
        const idx = cs.atSlot.get(slot);
        if (idx === undefined) throw elfError(`relocation at offset ${rel.offset} of '${s.name}' points into the middle of an instruction`);
        const insn = cs.insns[idx]!;
        const sym = this.symbols[rel.symbolIndex];
        if (!sym) throw elfError(`relocation at offset ${rel.offset} of '${s.name}': no symbol ${rel.symbolIndex}`);
        const caller = this.funcAt(cs, slot);
        const where = `'${caller?.name ?? s.name}': relocation of insn ${slot} against '${sym.name}'`;
        if (insn.opcode !== CALL && insn.opcode !== LD_IMM64) throw elfError(`${where}: instruction opcode 0x${insn.opcode.toString(16)} is neither a call nor a ld_imm64`);
        if (rel.type !== R_BPF_64_64 && rel.type !== R_BPF_64_32) throw elfError(`${where}: unsupported relocation type ${rel.type}`);
        relocated.add(idx);

        const ext = this.externsBySymbol.get(sym.index);
        if (ext) {
          if (insn.opcode === CALL) {
            if (!ext.isFunction) throw elfError(`${where}: call of extern variable '${ext.name}'`);
            insn.relocation = { kind: 'kfunc', extern: ext.name };
          } else {
            insn.relocation = ext.kind === 'kconfig' ? { kind: 'kconfig', extern: ext.name } : { kind: 'ksym', extern: ext.name };
          }
          insn.reference = ext.name;
          continue;
        }
        if (insn.opcode === CALL) {
          if (insn.src !== BPF_PSEUDO_CALL) throw elfError(`${where}: relocated call is not a BPF-to-BPF call`);
          const target = this.code.get(sym.sectionIndex);
          if (!target) throw elfError(`${where}: call target is not in an executable section`);
          if (sym.value % 8 !== 0) throw elfError(`${where}: call target at offset ${sym.value}`);
          this.addCall(cs, idx, target, sym.value / 8 + insn.imm + 1, where);
          continue;
        }
        if (sym.sectionIndex === SHN_UNDEF || sym.sectionIndex >= SHN_LORESERVE) {
          throw elfError(`${where}: symbol in special section ${sym.sectionIndex}; forgot to initialise a global variable?`);
        }
        // ld_imm64 of a function's address (bpf_loop callbacks...).
        const code = this.code.get(sym.sectionIndex);
        if (code && (sym.type === STT_FUNC || sym.type === STT_SECTION)) {
          const byteOff = sym.value + insn.imm;
          if (byteOff % 8 !== 0) throw elfError(`${where}: function address at byte ${byteOff}`);
          insn.src = BPF_PSEUDO_FUNC;
          this.addCall(cs, idx, code, byteOff / 8, where);
          continue;
        }
        if (this.mapsSection && sym.sectionIndex === this.mapsSection.index) {
          const m = this.btfMapsByOffset.get(sym.value);
          if (!m) throw elfError(`${where}: no map at offset ${sym.value} of .maps`);
          insn.relocation = { kind: 'map', map: m.spec.name };
          insn.reference = m.spec.name;
          continue;
        }
        if (this.legacyMapsSection && sym.sectionIndex === this.legacyMapsSection.index) {
          const m = this.legacyMapsByOffset.get(sym.value);
          if (!m) throw elfError(`${where}: no map at offset ${sym.value} of 'maps'`);
          insn.relocation = { kind: 'map', map: m.name };
          insn.reference = m.name;
          continue;
        }
        const data = this.dataMapsBySection.get(sym.sectionIndex);
        if (data) {
          const offset = (insn.imm | 0) + sym.value;
          insn.relocation = { kind: 'data', map: data.name, offset };
          insn.reference = sym.type === STT_SECTION ? data.name : sym.name;
          continue;
        }
        const secName = this.elf.sections[sym.sectionIndex]?.name ?? String(sym.sectionIndex);
        throw elfError(`${where}: bad relocation against section '${secName}'`);
      }
      // BPF-to-BPF calls within one section need no relocation: the offset is relative.
      cs.insns.forEach((insn, idx) => {
        if (relocated.has(idx) || insn.opcode !== CALL || insn.src !== BPF_PSEUDO_CALL) return;
        const slot = cs.slotOf[idx]!;
        const caller = this.funcAt(cs, slot);
        this.addCall(cs, idx, cs, slot + insn.imm + 1, `'${caller?.name ?? cs.section.name}': call at insn ${slot}`);
      });
    }
  }

  addCall(from: CodeSection, idx: number, to: CodeSection, targetSlot: number, where: string): void {
    const caller = this.funcAt(from, from.slotOf[idx]!);
    const callee = this.funcAt(to, targetSlot);
    if (!caller) throw elfError(`${where}: the calling instruction is in no function`);
    if (!callee) throw elfError(`${where}: no function at instruction ${targetSlot} of '${to.section.name}'`);
    if (callee.entry) throw elfError(`${where}: calls entry program '${callee.name}'; subprograms must be in .text or static`);
    const local = idx - from.atSlot.get(caller.start)!;
    caller.calls.set(local, { fn: callee, delta: targetSlot - callee.start });
    from.insns[idx]!.reference = callee.name;
  }

  readBtfExt(): void {
    const ext = this.btf?.ext;
    const spec = this.btf?.spec;
    if (!ext || !spec) return;
    const sectionByName = new Map<string, CodeSection>();
    for (const cs of this.code.values()) sectionByName.set(cs.section.name, cs);
    const at = (secName: string, insnOffset: number, what: string): ProgramInstruction | undefined => {
      const cs = sectionByName.get(secName);
      if (!cs) return undefined; // libbpf ignores records of sections it doesn't load
      const idx = insnOffset % 8 === 0 ? cs.atSlot.get(insnOffset / 8) : undefined;
      if (idx === undefined) throw new FormatError('ERR_BTF', `.BTF.ext ${what} of '${secName}' at byte ${insnOffset} is not at an instruction`);
      return cs.insns[idx];
    };
    for (const [sec, infos] of ext.funcInfos) {
      for (const fi of infos) {
        const insn = at(sec, fi.insnOffset, 'func_info');
        if (!insn) continue;
        const t = spec.tryTypeById(fi.typeId);
        if (!t || t.kind !== 'func') throw new FormatError('ERR_BTF', `.BTF.ext func_info of '${sec}': type ${fi.typeId} is not a FUNC`);
        insn.func = t;
      }
    }
    for (const [sec, infos] of ext.lineInfos) {
      for (const li of infos) {
        const insn = at(sec, li.insnOffset, 'line_info');
        if (insn) insn.line = { fileName: li.fileName, lineText: li.lineText, line: li.line, column: li.column };
      }
    }
    for (const [sec, relos] of ext.coreRelos) {
      for (const r of relos) {
        const insn = at(sec, r.insnOffset, 'CO-RE relocation');
        if (insn) insn.core = { typeId: r.typeId, accessString: r.accessString, kind: r.kind };
      }
    }
    // Hidden global functions are static to the verifier (libbpf's mark_btf_static).
    for (const cs of this.code.values()) {
      for (const fn of cs.funcs) {
        if (!fn.hidden) continue;
        const f = fn.insns[0]?.func ?? spec.findType('func', fn.name);
        if (f && f.linkage === 'global') (f as FuncType).linkage = 'static';
      }
    }
  }

  // ------------------------------------------------------------------ linking

  /**
   * Each entry function becomes a program with the subprograms it calls appended, as libbpf's
   * bpf_object__reloc_code: instructions are scanned in order; the first call to a subprogram
   * not yet in the program appends it, and its own calls are processed (depth first) before
   * the scan resumes. Call offsets are then relative to where each subprogram landed.
   */
  linkPrograms(): ProgramSpec[] {
    const programs: ProgramSpec[] = [];
    const all = [...this.code.values()].sort((a, b) => a.section.index - b.section.index);
    for (const cs of all) {
      for (const fn of cs.funcs) {
        if (!fn.entry) continue;
        const { insns, subprograms } = linkFunction(fn);
        let sectionName = cs.section.name;
        let autoload = true;
        if (sectionName.startsWith('?')) {
          autoload = false;
          sectionName = sectionName.slice(1);
        }
        const info = lookupSection(sectionName);
        let flags = 0;
        if (info && info.def.flags & SecFlags.SLEEPABLE) flags |= ProgLoadFlags.SLEEPABLE;
        if (info && info.def.flags & SecFlags.XDP_FRAGS) flags |= ProgLoadFlags.XDP_HAS_FRAGS;
        programs.push({
          name: fn.name,
          sectionName: cs.section.name,
          type: info?.def.type ?? 0,
          expectedAttachType: info?.def.expectedAttachType ?? 0,
          attachTo: info?.attachTo ?? '',
          attachBtf: info ? (info.def.flags & SecFlags.ATTACH_BTF) !== 0 : false,
          flags,
          autoload,
          license: this.license,
          kernelVersion: this.kernelVersion,
          instructions: insns,
          subprograms,
        });
      }
    }
    return programs;
  }

  // ------------------------------------------------------------------ map-in-map and prog array slots

  readMapSlots(programs: ProgramSpec[]): void {
    const s = this.mapsSection;
    if (!s) return;
    const relocs = this.elf.relocationsFor(s.index);
    const ranges = [...this.btfMapsByOffset.values()];
    for (const rel of relocs) {
      const sym = this.symbols[rel.symbolIndex];
      if (!sym) throw elfError(`.maps relocation at ${rel.offset}: no symbol ${rel.symbolIndex}`);
      const m = ranges.find((r) => r.start <= rel.offset && rel.offset + 8 <= r.end);
      if (!m) throw elfError(`.maps relocation at ${rel.offset}: no map there (symbol '${sym.name}')`);
      const map = m.spec;
      const mapInMap = map.type === MapType.ARRAY_OF_MAPS || map.type === MapType.HASH_OF_MAPS;
      if (mapInMap) {
        if (sym.sectionIndex !== s.index) throw elfError(`map '${map.name}': initial value '${sym.name}' isn't a BTF-defined map`);
        if (map.type === MapType.HASH_OF_MAPS && map.keySize !== 4) throw elfError(`hash-of-maps '${map.name}' should have 4-byte keys`);
        if (!this.maps.some((x) => x.name === sym.name && x.kind === 'btf')) throw elfError(`map '${map.name}': '${sym.name}' isn't a valid map reference`);
      } else if (map.type === MapType.PROG_ARRAY) {
        const p = programs.find((x) => x.name === sym.name);
        if (!p) throw elfError(`map '${map.name}': '${sym.name}' isn't an entry-point program`);
      } else {
        throw elfError(`map '${map.name}': relocation in a map that is neither a map-in-map nor a prog array`);
      }
      const last = m.def.members[m.def.members.length - 1];
      if (!last || last.name !== 'values') throw elfError(`map '${map.name}': initial values without a 'values' member`);
      const moff = rel.offset - m.start - last.bitOffset / 8;
      if (moff < 0 || moff % 8 !== 0) throw elfError(`map '${map.name}': misplaced initial value at byte ${rel.offset - m.start}`);
      map.slots.push({ index: moff / 8, target: sym.name });
    }
  }

  // ------------------------------------------------------------------ variables

  variables(): VariableInfo[] {
    const out: VariableInfo[] = [];
    for (const map of this.maps) {
      if (map.kind !== 'data' && map.kind !== 'rodata' && map.kind !== 'bss') continue;
      const sec = map.value;
      if (!sec || sec.kind !== 'datasec') continue;
      for (const v of sec.vars) {
        if (v.type.kind !== 'var') continue;
        out.push({ name: v.type.name, map: map.name, offset: v.offset, size: v.size, type: v.type.type, linkage: v.type.linkage });
      }
    }
    return out;
  }
}

/** Links one entry function with its subprograms (see linkPrograms). */
function linkFunction(entry: Func): { insns: ProgramInstruction[]; subprograms: string[] } {
  const out: ProgramInstruction[] = [];
  const placed = new Map<Func, number>();
  const subprograms: string[] = [];
  let slots = 0;
  const append = (fn: Func): void => {
    const start = slots;
    const base = out.length;
    placed.set(fn, start);
    if (fn !== entry) subprograms.push(fn.name);
    for (const insn of fn.insns) {
      out.push({ ...insn });
      slots += insn.opcode === LD_IMM64 ? 2 : 1;
    }
    const calls = [...fn.calls.entries()].sort((a, b) => a[0] - b[0]);
    for (const [local, target] of calls) {
      if (!placed.has(target.fn)) append(target.fn);
      const at = out[base + local]!;
      const rel = placed.get(target.fn)! + target.delta - (start + fn.slots[local]!) - 1;
      at.imm = rel;
      if (at.opcode === LD_IMM64) at.imm64 = BigInt(rel >>> 0);
    }
  };
  append(entry);
  return { insns: out, subprograms };
}

function adjustRingbufSize(size: number): number {
  if (size === 0) return 0;
  if (size % PAGE_SIZE === 0 && isPow2(size / PAGE_SIZE)) return size;
  for (let mul = 1; mul * PAGE_SIZE <= 0xffffffff; mul *= 2) {
    if (mul * PAGE_SIZE > size) return mul * PAGE_SIZE;
  }
  return size;
}

function isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** libbpf's find_kcfg_type. */
function kconfigTypeOf(type: Type): { kind: KconfigType | undefined; signed: boolean } {
  const t = resolve(type);
  switch (t.kind) {
    case 'int':
      if (t.bool) return { kind: t.size === 1 ? 'bool' : undefined, signed: false };
      if (t.size === 1) return { kind: 'char', signed: t.signed };
      if (t.size < 1 || t.size > 8 || (t.size & (t.size - 1)) !== 0) return { kind: undefined, signed: false };
      return { kind: 'int', signed: t.signed };
    case 'enum':
    case 'enum64':
      if (t.name !== 'libbpf_tristate' || (t.kind === 'enum' && t.size !== 4)) return { kind: undefined, signed: false };
      return { kind: 'tristate', signed: false };
    case 'array':
      if (t.length === 0) return { kind: undefined, signed: false };
      return { kind: kconfigTypeOf(t.element).kind === 'char' ? 'chars' : undefined, signed: false };
    default:
      return { kind: undefined, signed: false };
  }
}
