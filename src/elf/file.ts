/**
 * ElfFile: a read-only view of an ELF64 file held in memory.
 *
 * `parse` reads and checks the file header, the section headers (with their names) and the
 * program headers, so a file whose structure is broken is refused at once. Symbols,
 * relocations, notes and symbol versions are read on first use and cached; those reads check
 * their own input and may throw FormatError too.
 */

import { ArgumentError } from '../errors.js';
import {
  EI_CLASS,
  EI_DATA,
  EI_NIDENT,
  EI_VERSION,
  ELF64_EHDR_SIZE,
  ELF64_PHDR_SIZE,
  ELF64_REL_SIZE,
  ELF64_RELA_SIZE,
  ELF64_SHDR_SIZE,
  ELF64_SYM_SIZE,
  ELFCLASS32,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFDATA2MSB,
  ELFMAG,
  ET_REL,
  EV_CURRENT,
  PN_XNUM,
  PT_LOAD,
  PT_NULL,
  SHF_LINK_ORDER,
  SHN_ABS,
  SHN_LORESERVE,
  SHN_UNDEF,
  SHN_XINDEX,
  SHT_DYNAMIC,
  SHT_DYNSYM,
  SHT_GNU_HASH,
  SHT_GNU_VERDEF,
  SHT_GNU_VERNEED,
  SHT_GNU_VERSYM,
  SHT_GROUP,
  SHT_HASH,
  SHT_NOBITS,
  SHT_NOTE,
  SHT_NULL,
  SHT_REL,
  SHT_RELA,
  SHT_STRTAB,
  SHT_SYMTAB,
  SHT_SYMTAB_SHNDX,
  STB_GLOBAL,
  STB_GNU_UNIQUE,
  STB_LOCAL,
  STB_WEAK,
  STT_FUNC,
  STT_GNU_IFUNC,
  STT_NOTYPE,
  STT_OBJECT,
  sectionTypeName,
} from './constants.js';
import { readNotes } from './notes.js';
import { ByteReader, StringTable, checkRange, fail, hex } from './reader.js';
import { readRelocations, sortedByOffset } from './relocations.js';
import { ElfSection, type SectionHeader } from './section.js';
import { SymbolTableReader } from './symbols.js';
import type { ElfNote, ElfRelocation, ElfSegment, ElfSymbol } from './types.js';

/** True on little-endian hosts (x86-64, arm64 as Linux runs it). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

export class ElfFile {
  /** The parsed input. Section data and note descriptors are views into it. */
  readonly bytes: Uint8Array;
  /** Byte order of the file (EI_DATA): true for ELFDATA2LSB. */
  readonly littleEndian: boolean;
  /** ELFOSABI_* (EI_OSABI). */
  readonly osabi: number;
  readonly abiVersion: number;
  /** ET_* (e_type): ET_REL for BPF objects. */
  readonly type: number;
  /** EM_* (e_machine): EM_BPF for BPF objects. */
  readonly machine: number;
  /** e_flags (machine-specific). */
  readonly flags: number;
  /** e_entry: the entry point's virtual address (0 for relocatable objects). */
  readonly entry: bigint;
  /** All sections, indexed by section number; [0] is the null section when there are any. */
  readonly sections: readonly ElfSection[];
  /** Program headers (empty for relocatable objects). */
  readonly segments: readonly ElfSegment[];
  /** Index of the section name table (e_shstrndx after extended numbering); 0 if none. */
  readonly shstrndx: number;

  readonly #r: ByteReader;
  #byName: Map<string, ElfSection> | undefined;
  #symbols: readonly ElfSymbol[] | undefined;
  #dynamicSymbols: readonly ElfSymbol[] | undefined;
  #symtabReader: SymbolTableReader | undefined;
  #dynsymReader: SymbolTableReader | undefined;
  readonly #relocsIn = new Map<number, readonly ElfRelocation[]>();
  readonly #relocsFor = new Map<number, readonly ElfRelocation[]>();
  #relocSectionsByTarget: Map<number, ElfSection[]> | undefined;
  #notes: readonly ElfNote[] | undefined;
  readonly #notesIn = new Map<number, readonly ElfNote[]>();

  private constructor(r: ByteReader, bytes: Uint8Array, fields: {
    osabi: number;
    abiVersion: number;
    type: number;
    machine: number;
    flags: number;
    entry: bigint;
    sections: ElfSection[];
    segments: ElfSegment[];
    shstrndx: number;
  }) {
    this.#r = r;
    this.bytes = bytes;
    this.littleEndian = r.le;
    this.osabi = fields.osabi;
    this.abiVersion = fields.abiVersion;
    this.type = fields.type;
    this.machine = fields.machine;
    this.flags = fields.flags;
    this.entry = fields.entry;
    this.sections = fields.sections;
    this.segments = fields.segments;
    this.shstrndx = fields.shstrndx;
  }

  /**
   * Parses an ELF64 file of either byte order. Throws FormatError (code 'ERR_ELF') when the
   * input is not ELF64 or its headers are inconsistent with it. The bytes are not copied: keep
   * them unchanged while the ElfFile is in use.
   */
  static parse(bytes: Uint8Array): ElfFile {
    if (!(bytes instanceof Uint8Array)) throw new ArgumentError('ElfFile.parse expects a Uint8Array');
    const len = bytes.byteLength;
    if (len < EI_NIDENT) fail(`file too short for an ELF identification: ${len} bytes`);
    for (let i = 0; i < ELFMAG.length; i++) {
      if (bytes[i] !== ELFMAG[i]) fail('not an ELF file (bad magic number)', 0);
    }
    const cls = bytes[EI_CLASS]!;
    if (cls === ELFCLASS32) fail('32-bit ELF (ELFCLASS32) is not supported: only ELF64 is', EI_CLASS);
    if (cls !== ELFCLASS64) fail(`invalid ELF class ${cls}`, EI_CLASS);
    const data = bytes[EI_DATA]!;
    if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) fail(`invalid ELF data encoding (byte order) ${data}`, EI_DATA);
    if (bytes[EI_VERSION] !== EV_CURRENT) fail(`unknown ELF version ${bytes[EI_VERSION]}`, EI_VERSION);
    if (len < ELF64_EHDR_SIZE) fail(`truncated ELF header: ${len} of ${ELF64_EHDR_SIZE} bytes`);

    const r = new ByteReader(bytes, data === ELFDATA2LSB);
    const phoff = r.u64(32, 'e_phoff');
    const shoff = r.u64(40, 'e_shoff');
    const phentsize = r.u16(54);
    let phnum = r.u16(56);
    const shentsize = r.u16(58);
    let shnum = r.u16(60);
    let shstrndx = r.u16(62);

    // Section header table. Files with 0xff00 or more sections keep the real count in
    // section 0's sh_size (e_shnum = 0) and the real e_shstrndx in its sh_link (SHN_XINDEX);
    // likewise e_phnum = PN_XNUM defers to its sh_info.
    if (shoff === 0) {
      if (shnum !== 0) fail(`e_shnum is ${shnum} but there is no section header table (e_shoff = 0)`, 60);
      if (shstrndx !== SHN_UNDEF) fail(`e_shstrndx is ${shstrndx} but there is no section header table (e_shoff = 0)`, 62);
    } else {
      if (shentsize !== ELF64_SHDR_SIZE) fail(`e_shentsize is ${shentsize}, expected ${ELF64_SHDR_SIZE}`, 58);
      checkRange(shoff, ELF64_SHDR_SIZE, len, 'section header table', 40);
      if (shnum === 0) {
        shnum = r.u64(shoff + 32, 'extended section count (sh_size of section 0)');
        if (shnum === 0) fail('e_shnum is 0 (extended numbering) but section 0 gives no section count', shoff + 32);
      }
      if (shnum > Math.floor((len - shoff) / ELF64_SHDR_SIZE)) {
        fail(`section header table of ${shnum} entries at offset ${shoff} extends past the end of the file (${len} bytes)`, 40);
      }
      if (shstrndx === SHN_XINDEX) {
        shstrndx = r.u32(shoff + 40);
      } else if (shstrndx >= SHN_LORESERVE) {
        fail(`e_shstrndx ${hex(shstrndx)} is a reserved section index`, 62);
      }
      if (shstrndx >= shnum) fail(`e_shstrndx ${shstrndx} is out of range (${shnum} sections)`, 62);
    }
    if (phnum === PN_XNUM) {
      if (shoff === 0) fail('e_phnum is PN_XNUM but there is no section 0 to hold the real count', 56);
      phnum = r.u32(shoff + 44);
    }

    const headers = readSectionHeaders(r, shoff, shnum);
    nameSections(r, headers, shoff, shstrndx);
    checkSectionLinks(headers);
    const sections = headers.map((h) => new ElfSection(h, r.bytes));
    const segments = phnum === 0 ? [] : readSegments(r, phoff, phnum, phentsize);

    return new ElfFile(r, bytes, {
      osabi: bytes[7]!,
      abiVersion: bytes[8]!,
      type: r.u16(16),
      machine: r.u16(18),
      flags: r.u32(48),
      entry: r.u64big(24),
      sections,
      segments,
      shstrndx,
    });
  }

  /** True when the file's byte order is the host's, so its contents can be used as they are. */
  get isNativeByteOrder(): boolean {
    return this.littleEndian === HOST_LITTLE_ENDIAN;
  }

  /**
   * Throws FormatError unless the file has the host's byte order. The kernel only runs BPF
   * programs of its own byte order, so a loader calls this before anything else.
   */
  assertNativeByteOrder(what = 'ELF file'): void {
    if (this.isNativeByteOrder) return;
    const file = this.littleEndian ? 'little-endian (ELFDATA2LSB)' : 'big-endian (ELFDATA2MSB)';
    const host = HOST_LITTLE_ENDIAN ? 'little-endian' : 'big-endian';
    const target = HOST_LITTLE_ENDIAN ? 'bpfel' : 'bpfeb';
    fail(`${what} is ${file} but this host is ${host}; compile it with clang -target ${target} (or -target bpf on this host)`, EI_DATA);
  }

  /** The first section called `name`, or undefined. */
  sectionByName(name: string): ElfSection | undefined {
    if (!this.#byName) {
      this.#byName = new Map();
      for (const s of this.sections) if (!this.#byName.has(s.name)) this.#byName.set(s.name, s);
    }
    return this.#byName.get(name);
  }

  /** The SHT_SYMTAB section, if any. */
  get symbolTable(): ElfSection | undefined {
    return this.sections.find((s) => s.type === SHT_SYMTAB);
  }

  /** The SHT_DYNSYM section, if any. */
  get dynamicSymbolTable(): ElfSection | undefined {
    return this.sections.find((s) => s.type === SHT_DYNSYM);
  }

  /** Entries of .symtab (empty when there is none, as in stripped binaries). Read on first use. */
  get symbols(): readonly ElfSymbol[] {
    this.#symbols ??= this.#symbolReader(false)?.all() ?? [];
    return this.#symbols;
  }

  /** Entries of .dynsym with their GNU versions (empty when there is none). Read on first use. */
  get dynamicSymbols(): readonly ElfSymbol[] {
    this.#dynamicSymbols ??= this.#symbolReader(true)?.all() ?? [];
    return this.#dynamicSymbols;
  }

  #symbolReader(dynamic: boolean): SymbolTableReader | undefined {
    if (dynamic) {
      const t = this.dynamicSymbolTable;
      return t && (this.#dynsymReader ??= new SymbolTableReader(this.#r, this.sections, t));
    }
    const t = this.symbolTable;
    return t && (this.#symtabReader ??= new SymbolTableReader(this.#r, this.sections, t));
  }

  /** Symbols called exactly `name`, without reading the whole table when it was not read yet. */
  #named(dynamic: boolean, name: string): ElfSymbol[] {
    const all = dynamic ? this.#dynamicSymbols : this.#symbols;
    if (all) return all.filter((s) => s.name === name);
    return this.#symbolReader(dynamic)?.named(name) ?? [];
  }

  /**
   * The entries of one SHT_REL/SHT_RELA section, in file order. The symbol indices refer to the
   * table the section links to (`sections[rel.link]`).
   */
  relocationsIn(relSectionIndex: number): readonly ElfRelocation[] {
    const s = this.sections[relSectionIndex];
    if (!s || (s.type !== SHT_REL && s.type !== SHT_RELA)) {
      throw new ArgumentError(`section ${relSectionIndex} is not a relocation section`);
    }
    let relocs = this.#relocsIn.get(relSectionIndex);
    if (!relocs) {
      relocs = readRelocations(this.#r, this.sections, s, this.type);
      this.#relocsIn.set(relSectionIndex, relocs);
    }
    return relocs;
  }

  /**
   * The relocations that patch section `sectionIndex` (from every SHT_REL/SHT_RELA section whose
   * sh_info names it), sorted by offset; an empty array when there are none. For a BPF object
   * the section index is that of a program section (`.text`, `xdp`...) or of .BTF/.BTF.ext.
   */
  relocationsFor(sectionIndex: number): readonly ElfRelocation[] {
    let result = this.#relocsFor.get(sectionIndex);
    if (result) return result;
    if (!this.#relocSectionsByTarget) {
      this.#relocSectionsByTarget = new Map();
      for (const s of this.sections) {
        // sh_info 0 marks dynamic relocations (.rela.dyn), which patch no particular section.
        if ((s.type !== SHT_REL && s.type !== SHT_RELA) || s.info === 0) continue;
        const list = this.#relocSectionsByTarget.get(s.info);
        if (list) list.push(s);
        else this.#relocSectionsByTarget.set(s.info, [s]);
      }
    }
    const rels = this.#relocSectionsByTarget.get(sectionIndex) ?? [];
    // Usually one section, already sorted: then the same (read-only) array serves both calls.
    result = sortedByOffset(rels.length === 1 ? this.relocationsIn(rels[0]!.index) : rels.flatMap((s) => this.relocationsIn(s.index)));
    this.#relocsFor.set(sectionIndex, result);
    return result;
  }

  /** Every note of every SHT_NOTE section, in file order. Read on first use. */
  get notes(): readonly ElfNote[] {
    this.#notes ??= this.sections.filter((s) => s.type === SHT_NOTE).flatMap((s) => this.notesIn(s.index));
    return this.#notes;
  }

  /** The notes of one SHT_NOTE section (e.g. `.note.stapsdt`), read on first use. */
  notesIn(sectionIndex: number): readonly ElfNote[] {
    const s = this.sections[sectionIndex];
    if (!s || s.type !== SHT_NOTE) throw new ArgumentError(`section ${sectionIndex} is not a note section`);
    let notes = this.#notesIn.get(sectionIndex);
    if (!notes) {
      notes = readNotes(this.#r, s);
      this.#notesIn.set(sectionIndex, notes);
    }
    return notes;
  }

  /**
   * The file offset a virtual address is loaded from, through the PT_LOAD segments; undefined
   * when no segment maps it from the file (an address in .bss, or a file without program
   * headers). This is what uprobe attachment and USDT probe addresses need.
   */
  addressToFileOffset(address: bigint | number): number | undefined {
    const a = BigInt(address);
    for (const seg of this.segments) {
      if (seg.type !== PT_LOAD || a < seg.vaddr) continue;
      const delta = a - seg.vaddr;
      if (delta < BigInt(seg.filesz)) return seg.offset + Number(delta);
    }
    return undefined;
  }

  /**
   * Finds the definition of a function or data symbol by name, searching .symtab then .dynsym.
   * `name` may carry a GNU version: `memcpy@@GLIBC_2.14` (that default version),
   * `memcpy@GLIBC_2.2.5` (that version, default or not). A bare name matches unversioned and
   * default-version symbols, falling back to non-default ones when there is nothing else.
   * Global definitions win over weak ones, and weak over local. Returns undefined when no
   * definition exists; throws ArgumentError when equally ranked definitions have different
   * addresses (say which one with a version).
   */
  resolveSymbol(name: string): ElfSymbol | undefined {
    const candidates: ElfSymbol[] = [];
    const defined = (s: ElfSymbol) =>
      s.sectionIndex !== SHN_UNDEF &&
      s.sectionIndex !== SHN_ABS &&
      (s.type === STT_FUNC || s.type === STT_GNU_IFUNC || s.type === STT_OBJECT || s.type === STT_NOTYPE);
    // .symtab names of versioned symbols are spelled with their version (`memcpy@GLIBC_2.2.5`),
    // so an exact match there covers both forms.
    for (const s of this.#named(false, name)) if (defined(s)) candidates.push(s);

    const at = name.indexOf('@');
    const base = at < 0 ? name : name.slice(0, at);
    const requireDefault = at >= 0 && name[at + 1] === '@';
    const version = at < 0 ? undefined : name.slice(at + (requireDefault ? 2 : 1));
    const hidden: ElfSymbol[] = [];
    for (const s of this.#named(true, base)) {
      if (!defined(s)) continue;
      if (version === undefined) {
        if (s.versionHidden) hidden.push(s);
        else candidates.push(s);
      } else if (s.version === version && !(requireDefault && s.versionHidden)) {
        candidates.push(s);
      }
    }
    const pool = candidates.length > 0 ? candidates : hidden;
    if (pool.length === 0) return undefined;

    const rank = (s: ElfSymbol) =>
      s.bind === STB_GLOBAL || s.bind === STB_GNU_UNIQUE ? 0 : s.bind === STB_WEAK ? 1 : s.bind === STB_LOCAL ? 2 : 3;
    const best = Math.min(...pool.map(rank));
    const top = pool.filter((s) => rank(s) === best);
    const first = top[0]!;
    const other = top.find((s) => s.value64 !== first.value64);
    if (other) {
      const describe = (s: ElfSymbol) => `${s.name}${s.version ? (s.versionHidden ? '@' : '@@') + s.version : ''} at ${hex(s.value64)}`;
      throw new ArgumentError(`symbol '${name}' is ambiguous: ${describe(first)} and ${describe(other)}`, 'ERR_ELF_AMBIGUOUS_SYMBOL');
    }
    return first;
  }

  /**
   * The file offset of a symbol's definition (what uprobes attach to), or undefined when the
   * file defines no such symbol (see resolveSymbol for name matching). In executables and
   * shared objects the address is mapped through the PT_LOAD segments, falling back to the
   * section headers for files without program headers; in relocatable objects the value is an
   * offset into the symbol's section. Throws ArgumentError (code 'ERR_ELF_NO_FILE_OFFSET') for a
   * symbol in memory the file does not hold (.bss), and (see resolveSymbol) for an ambiguous name.
   */
  symbolFileOffset(name: string): number | undefined {
    const sym = this.resolveSymbol(name);
    if (!sym) return undefined;
    const section = sym.sectionIndex < this.sections.length ? this.sections[sym.sectionIndex] : undefined;
    let offset: number | undefined;
    if (this.type === ET_REL) {
      if (section && section.type !== SHT_NOBITS && sym.value64 <= BigInt(section.size)) offset = section.offset + sym.value;
    } else {
      offset = this.addressToFileOffset(sym.value64);
      if (offset === undefined && this.segments.length === 0 && section && section.type !== SHT_NOBITS) {
        const delta = sym.value64 - section.addr;
        if (delta >= 0n && delta <= BigInt(section.size)) offset = section.offset + Number(delta);
      }
    }
    if (offset === undefined) {
      throw new ArgumentError(
        `symbol '${name}' (${hex(sym.value64)}) has no file offset: it is not backed by the file's contents (.bss?)`,
        'ERR_ELF_NO_FILE_OFFSET',
      );
    }
    return offset;
  }
}

/** Reads and range-checks every section header (names come after, from the name table). */
function readSectionHeaders(r: ByteReader, shoff: number, shnum: number): SectionHeader[] {
  const headers: SectionHeader[] = new Array(shnum);
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * ELF64_SHDR_SIZE;
    const type = r.u32(at + 4);
    const what = `section [${i}]`;
    const h: SectionHeader = {
      index: i,
      name: '',
      type,
      // sh_flags is 64-bit but defines no flag above bit 31: keep the low word (see ElfSection.flags).
      flags: r.u32(at + (r.le ? 8 : 12)),
      addr: r.u64big(at + 16),
      offset: r.u64(at + 24, `${what} sh_offset`),
      size: r.u64(at + 32, `${what} sh_size`),
      link: r.u32(at + 40),
      info: r.u32(at + 44),
      addralign: r.u64(at + 48, `${what} sh_addralign`),
      entsize: r.u64(at + 56, `${what} sh_entsize`),
    };
    // SHT_NULL headers describe no contents (section 0's fields may hold the extended counts);
    // SHT_NOBITS sections occupy memory, not file bytes.
    if (type !== SHT_NULL && type !== SHT_NOBITS) {
      checkRange(h.offset, h.size, r.length, `${what} (${sectionTypeName(type)}) contents`, at + 24);
    }
    headers[i] = h;
  }
  return headers;
}

function nameSections(r: ByteReader, headers: SectionHeader[], shoff: number, shstrndx: number): void {
  if (shstrndx === SHN_UNDEF || headers.length === 0) return; // no name table: every name is ''
  const t = headers[shstrndx]!;
  if (t.type !== SHT_STRTAB) fail(`e_shstrndx ${shstrndx} names a ${sectionTypeName(t.type)} section, not a string table`, 62);
  const names = new StringTable(r.bytes.subarray(t.offset, t.offset + t.size), t.offset, 'the section name table');
  for (const h of headers) {
    const nameOffset = r.u32(shoff + h.index * ELF64_SHDR_SIZE);
    // Section 0 is unnamed; ignore whatever its sh_name holds.
    if (h.index !== 0) h.name = names.get(nameOffset, `section [${h.index}] name`);
  }
}

/**
 * Checks the cross-references this reader follows: that links name sections that exist and
 * have the type the link implies, and that tables have the entry size the format fixes.
 */
function checkSectionLinks(headers: SectionHeader[]): void {
  const n = headers.length;
  const where = (h: SectionHeader) => `section [${h.index}] '${h.name}' (${sectionTypeName(h.type)})`;
  const linkTo = (h: SectionHeader, types: number[], optional = false) => {
    if (optional && h.link === 0) return;
    if (h.link >= n) fail(`${where(h)}: sh_link ${h.link} is not a section (${n} sections)`, h.offset);
    if (types.length && !types.includes(headers[h.link]!.type)) {
      fail(`${where(h)}: sh_link ${h.link} is a ${sectionTypeName(headers[h.link]!.type)} section, expected ${types.map(sectionTypeName).join(' or ')}`, h.offset);
    }
  };
  const entries = (h: SectionHeader, entsize: number) => {
    if (h.entsize !== entsize) fail(`${where(h)}: sh_entsize is ${h.entsize}, expected ${entsize}`, h.offset);
    if (h.size % entsize !== 0) fail(`${where(h)}: size ${h.size} is not a multiple of the entry size ${entsize}`, h.offset);
  };
  let symtabs = 0;
  let dynsyms = 0;
  for (const h of headers) {
    switch (h.type) {
      case SHT_SYMTAB:
      case SHT_DYNSYM:
        if (h.type === SHT_SYMTAB ? ++symtabs > 1 : ++dynsyms > 1) fail(`${where(h)}: more than one table of this type`, h.offset);
        entries(h, ELF64_SYM_SIZE);
        linkTo(h, [SHT_STRTAB]);
        break;
      case SHT_REL:
      case SHT_RELA:
        entries(h, h.type === SHT_REL ? ELF64_REL_SIZE : ELF64_RELA_SIZE);
        linkTo(h, [SHT_SYMTAB, SHT_DYNSYM], true);
        if (h.info >= n) fail(`${where(h)}: sh_info ${h.info} (the section it relocates) is not a section (${n} sections)`, h.offset);
        break;
      case SHT_SYMTAB_SHNDX:
        entries(h, 4);
        linkTo(h, [SHT_SYMTAB]);
        break;
      case SHT_GNU_VERSYM:
        entries(h, 2);
        linkTo(h, [SHT_DYNSYM]);
        break;
      case SHT_GNU_VERDEF:
      case SHT_GNU_VERNEED:
        linkTo(h, [SHT_STRTAB]);
        break;
      case SHT_HASH:
      case SHT_GNU_HASH:
      case SHT_GROUP:
        linkTo(h, [SHT_SYMTAB, SHT_DYNSYM]);
        break;
      case SHT_DYNAMIC:
        linkTo(h, [SHT_STRTAB]);
        break;
      default:
        if ((h.flags & SHF_LINK_ORDER) !== 0) linkTo(h, []);
    }
  }
}

function readSegments(r: ByteReader, phoff: number, phnum: number, phentsize: number): ElfSegment[] {
  if (phoff === 0) fail(`e_phnum is ${phnum} but there is no program header table (e_phoff = 0)`, 32);
  if (phentsize !== ELF64_PHDR_SIZE) fail(`e_phentsize is ${phentsize}, expected ${ELF64_PHDR_SIZE}`, 54);
  checkRange(phoff, phnum * ELF64_PHDR_SIZE, r.length, `program header table (${phnum} entries)`, 32);
  const segments: ElfSegment[] = new Array(phnum);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * ELF64_PHDR_SIZE;
    const what = `program header ${i}`;
    const seg: ElfSegment = {
      index: i,
      type: r.u32(at),
      flags: r.u32(at + 4),
      offset: r.u64(at + 8, `${what} p_offset`),
      vaddr: r.u64big(at + 16),
      paddr: r.u64big(at + 24),
      filesz: r.u64(at + 32, `${what} p_filesz`),
      memsz: r.u64(at + 40, `${what} p_memsz`),
      align: r.u64(at + 48, `${what} p_align`),
    };
    if (seg.type !== PT_NULL) checkRange(seg.offset, seg.filesz, r.length, `${what} contents`, at + 8);
    segments[i] = seg;
  }
  return segments;
}
