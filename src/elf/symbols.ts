/**
 * Symbol tables (SHT_SYMTAB, SHT_DYNSYM) and GNU symbol versions.
 */

import {
  ELF64_SYM_SIZE,
  SHN_LORESERVE,
  SHN_UNDEF,
  SHN_XINDEX,
  SHT_DYNSYM,
  SHT_GNU_VERDEF,
  SHT_GNU_VERNEED,
  SHT_GNU_VERSYM,
  SHT_SYMTAB_SHNDX,
  STT_SECTION,
  VERSYM_HIDDEN,
  VERSYM_VERSION,
  VER_NDX_GLOBAL,
} from './constants.js';
import { type ByteReader, StringTable, fail, hex } from './reader.js';
import type { ElfSection } from './section.js';
import type { ElfSymbol } from './types.js';

export function stringTableOf(sections: readonly ElfSection[], section: ElfSection): StringTable {
  // ElfFile.parse checked that `link` names an SHT_STRTAB section for every table using one.
  const strtab = sections[section.link]!;
  return new StringTable(strtab.data(), strtab.offset, `[${strtab.index}] ${strtab.name || '(unnamed)'}`);
}

const utf8 = new TextEncoder();

/** Version names by version index; `needed` for versions required from other files. */
type VersionNames = Map<number, { name: string; needed: boolean }>;

/**
 * Reads the entries of one symbol table (SHT_SYMTAB or SHT_DYNSYM; parse checked its entsize
 * is 24 and its size a multiple of it), all at once or only those with a given name: finding
 * one symbol in a large binary (node has 110,000) compares bytes and decodes no other name.
 */
export class SymbolTableReader {
  readonly count: number;
  readonly #r: ByteReader;
  readonly #sections: readonly ElfSection[];
  readonly #table: ElfSection;
  readonly #strings: StringTable;
  readonly #what: string;
  /** File offset of the SHT_SYMTAB_SHNDX entries, found when a symbol uses SHN_XINDEX. */
  #shndxOffset: number | undefined;
  /** GNU version names by index, for .dynsym; null when the table has no versions. */
  #versions: { versym: ElfSection; names: VersionNames } | null | undefined;

  constructor(r: ByteReader, sections: readonly ElfSection[], table: ElfSection) {
    this.#r = r;
    this.#sections = sections;
    this.#table = table;
    this.count = table.size / ELF64_SYM_SIZE;
    this.#strings = stringTableOf(sections, table);
    this.#what = `symbol of [${table.index}] ${table.name}`;
  }

  all(): ElfSymbol[] {
    const out: ElfSymbol[] = new Array(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.at(i);
    return out;
  }

  /**
   * The entries whose st_name is `name`, read fully; others are only compared, not decoded.
   * (Unnamed section symbols, which `at` names after their section, are not matched.)
   */
  named(name: string): ElfSymbol[] {
    const bytes = utf8.encode(name);
    const out: ElfSymbol[] = [];
    const base = this.#table.offset;
    for (let i = 0; i < this.count; i++) {
      if (this.#strings.equals(this.#r.u32(base + i * ELF64_SYM_SIZE), bytes)) out.push(this.at(i));
    }
    return out;
  }

  /** Entry i (0 <= i < count). */
  at(i: number): ElfSymbol {
    const r = this.#r;
    const off = this.#table.offset + i * ELF64_SYM_SIZE;
    const info = r.u8(off + 4);
    const other = r.u8(off + 5);
    let shndx = r.u16(off + 6);
    if (shndx === SHN_XINDEX) {
      shndx = r.u32(this.#shndxTable() + i * 4);
      if (shndx >= this.#sections.length) {
        fail(`${this.#what} ${i}: extended section index ${shndx} is out of range (${this.#sections.length} sections)`, off);
      }
    } else if (shndx !== SHN_UNDEF && shndx < SHN_LORESERVE && shndx >= this.#sections.length) {
      fail(`${this.#what} ${i}: section index ${shndx} is out of range (${this.#sections.length} sections)`, off + 6);
    }
    const size = r.u64lossy(off + 16);
    if (size > Number.MAX_SAFE_INTEGER) fail(`${this.#what} ${i}: st_size ${hex(r.u64big(off + 16))} is too large`, off + 16);
    let version: string | undefined;
    let versionHidden = false;
    const versions = this.#versions === undefined ? this.#readVersions() : this.#versions;
    if (versions) {
      const v = r.u16(versions.versym.offset + i * 2);
      const ndx = v & VERSYM_VERSION;
      // 0 is "local" and 1 "global, unversioned": neither names a version.
      if (ndx > VER_NDX_GLOBAL) {
        const entry = versions.names.get(ndx);
        if (entry === undefined) fail(`${this.#what} ${i}: version index ${ndx} is not defined by any version section`, versions.versym.offset + i * 2);
        version = entry.name;
        // A version needed from another file (.gnu.version_r) is never this file's default
        // definition, even for a symbol it holds a copy of (COPY-relocated data like stdout).
        versionHidden = (v & VERSYM_HIDDEN) !== 0 || entry.needed;
      }
    }
    const type = info & 0xf;
    const nameOffset = r.u32(off);
    // Section symbols are usually unnamed: they go by their section's name (as readelf shows
    // them, and as relocation processing wants them).
    const name =
      nameOffset === 0 && type === STT_SECTION && shndx !== SHN_UNDEF && shndx < this.#sections.length
        ? this.#sections[shndx]!.name
        : this.#strings.get(nameOffset, this.#what, i);
    return {
      index: i,
      name,
      value: r.u64lossy(off + 8),
      value64: r.u64big(off + 8),
      size,
      type,
      bind: info >> 4,
      visibility: other & 0x3,
      other,
      sectionIndex: shndx,
      version,
      versionHidden,
    };
  }

  #shndxTable(): number {
    if (this.#shndxOffset !== undefined) return this.#shndxOffset;
    const table = this.#table;
    const s = this.#sections.find((x) => x.type === SHT_SYMTAB_SHNDX && x.link === table.index);
    if (!s) fail(`symbol table [${table.index}] ${table.name} uses SHN_XINDEX but has no SHT_SYMTAB_SHNDX section`, table.offset);
    // parse checked the section lies in the file; it needs one 32-bit entry per symbol.
    if (s.size < this.count * 4) {
      fail(`SHT_SYMTAB_SHNDX section [${s.index}] has ${s.size / 4} entries for ${this.count} symbols`, s.offset);
    }
    return (this.#shndxOffset = s.offset);
  }

  /**
   * Version names for a .dynsym table: .gnu.version holds one u16 per symbol, an index into the
   * names that .gnu.version_d (definitions) and .gnu.version_r (needs) give.
   */
  #readVersions(): { versym: ElfSection; names: VersionNames } | null {
    // Cached only once read without error, so a broken version section fails every read.
    const table = this.#table;
    const versym = table.type === SHT_DYNSYM ? this.#sections.find((s) => s.type === SHT_GNU_VERSYM && s.link === table.index) : undefined;
    if (!versym) return (this.#versions = null);
    if (versym.size < this.count * 2) {
      fail(`.gnu.version has ${versym.size / 2} entries for ${this.count} dynamic symbols`, versym.offset);
    }
    const names: VersionNames = new Map();
    for (const s of this.#sections) {
      if (s.type === SHT_GNU_VERDEF) readVerdef(this.#r, this.#sections, s, names);
      else if (s.type === SHT_GNU_VERNEED) readVerneed(this.#r, this.#sections, s, names);
    }
    return (this.#versions = { versym, names });
  }
}

// Verdef and verneed are linked lists inside their section: each entry gives the byte
// distance to the next (0 ends the list). The distances are unsigned, so every step moves
// forward and the walks end within the section's size even if the counts lie.

function readVerdef(r: ByteReader, sections: readonly ElfSection[], s: ElfSection, names: VersionNames): void {
  const strings = stringTableOf(sections, s);
  let pos = 0;
  for (let n = 0; n < s.info; n++) {
    if (pos > s.size - 20) fail(`version definition ${n} of [${s.index}] ${s.name} is past the end of the section`, s.offset + pos);
    const at = s.offset + pos;
    if (r.u16(at) !== 1) fail(`version definition ${n} of [${s.index}] ${s.name} has unknown vd_version ${r.u16(at)}`, at);
    const ndx = r.u16(at + 4) & VERSYM_VERSION;
    const cnt = r.u16(at + 6);
    const aux = r.u32(at + 12);
    const next = r.u32(at + 16);
    if (cnt > 0) {
      // The first auxiliary entry names the version; the others name its parents.
      if (aux > s.size - pos || s.size - pos - aux < 8) fail(`version definition ${n} of [${s.index}] ${s.name}: vd_aux ${aux} is out of range`, at + 12);
      names.set(ndx, { name: strings.get(r.u32(at + aux), 'version definition', n), needed: false });
    }
    if (next === 0) break;
    if (next > s.size - pos) fail(`version definition ${n} of [${s.index}] ${s.name}: vd_next ${next} is out of range`, at + 16);
    pos += next;
  }
}

function readVerneed(r: ByteReader, sections: readonly ElfSection[], s: ElfSection, names: VersionNames): void {
  const strings = stringTableOf(sections, s);
  let pos = 0;
  for (let n = 0; n < s.info; n++) {
    if (pos > s.size - 16) fail(`version need ${n} of [${s.index}] ${s.name} is past the end of the section`, s.offset + pos);
    const at = s.offset + pos;
    if (r.u16(at) !== 1) fail(`version need ${n} of [${s.index}] ${s.name} has unknown vn_version ${r.u16(at)}`, at);
    const cnt = r.u16(at + 2);
    let aux = r.u32(at + 8);
    const next = r.u32(at + 12);
    let auxPos = pos;
    for (let k = 0; k < cnt; k++) {
      if (aux > s.size - auxPos || s.size - auxPos - aux < 16) fail(`version need ${n} of [${s.index}] ${s.name}: auxiliary entry ${k} is out of range`, at);
      auxPos += aux;
      const a = s.offset + auxPos;
      names.set(r.u16(a + 6) & VERSYM_VERSION, { name: strings.get(r.u32(a + 8), 'version need', n), needed: true });
      aux = r.u32(a + 12);
      if (aux === 0) break;
    }
    if (next === 0) break;
    if (next > s.size - pos) fail(`version need ${n} of [${s.index}] ${s.name}: vn_next ${next} is out of range`, at + 12);
    pos += next;
  }
}
