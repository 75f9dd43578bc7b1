// Cross-checks src/elf against llvm-readelf-19 on the fixtures (and, in system.test.ts, on
// system binaries): sections, symbols, relocations and program headers must agree field by
// field with what readelf prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync as exists, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import {
  ElfFile,
  PF_R,
  PF_W,
  PF_X,
  SHF_ALLOC,
  SHF_EXCLUDE,
  SHF_EXECINSTR,
  SHF_GROUP,
  SHF_INFO_LINK,
  SHF_LINK_ORDER,
  SHF_MERGE,
  SHF_STRINGS,
  SHF_TLS,
  SHF_WRITE,
  SHN_ABS,
  SHN_COMMON,
  SHN_UNDEF,
  type ElfSymbol,
} from '../../src/elf/index.js';

const READELF = 'llvm-readelf-19';

/** llvm-readelf's output, or undefined when it is not installed. */
function readelf(args: string[], file: string): string | undefined {
  try {
    return execFileSync(READELF, ['-W', ...args, file], { encoding: 'utf8', maxBuffer: 512 << 20 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

// llvm-readelf's names for section types (without the SHT_ prefix, some shortened).
const SECTION_TYPES: Record<string, number> = {
  NULL: 0, PROGBITS: 1, SYMTAB: 2, STRTAB: 3, RELA: 4, HASH: 5, DYNAMIC: 6, NOTE: 7, NOBITS: 8,
  REL: 9, DYNSYM: 11, INIT_ARRAY: 14, FINI_ARRAY: 15, PREINIT_ARRAY: 16, GROUP: 17,
  SYMTAB_SHNDX: 18, RELR: 19, LLVM_ADDRSIG: 0x6fff4c03, GNU_HASH: 0x6ffffff6, VERDEF: 0x6ffffffd,
  VERNEED: 0x6ffffffe, VERSYM: 0x6fffffff, X86_64_UNWIND: 0x70000001,
};
const SECTION_FLAGS: Record<string, number> = {
  W: SHF_WRITE, A: SHF_ALLOC, X: SHF_EXECINSTR, M: SHF_MERGE, S: SHF_STRINGS, I: SHF_INFO_LINK,
  L: SHF_LINK_ORDER, G: SHF_GROUP, T: SHF_TLS, E: SHF_EXCLUDE,
};
const SYMBOL_TYPES: Record<string, number> = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4, COMMON: 5, TLS: 6, IFUNC: 10 };
const SYMBOL_BINDS: Record<string, number> = { LOCAL: 0, GLOBAL: 1, WEAK: 2, UNIQUE: 10 };
const VISIBILITIES: Record<string, number> = { DEFAULT: 0, INTERNAL: 1, HIDDEN: 2, PROTECTED: 3 };
const SEGMENT_TYPES: Record<string, number> = {
  NULL: 0, LOAD: 1, DYNAMIC: 2, INTERP: 3, NOTE: 4, SHLIB: 5, PHDR: 6, TLS: 7,
  GNU_EH_FRAME: 0x6474e550, GNU_STACK: 0x6474e551, GNU_RELRO: 0x6474e552, GNU_PROPERTY: 0x6474e553,
};

interface ReadelfSection { index: number; name: string; type: number | undefined; addr: bigint; offset: number; size: number; entsize: number; flags: number; link: number; info: number; align: number }

function parseSections(out: string): ReadelfSection[] {
  const re = /^\s*\[\s*(\d+)\] (.*?)\s+(\S+)\s+([0-9a-f]{16}) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+) +([A-Za-z]*) +(\d+) +(\d+) +(\d+)$/;
  const sections: ReadelfSection[] = [];
  for (const line of out.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    let flags = 0;
    for (const c of m[8]!) flags |= SECTION_FLAGS[c] ?? 0;
    sections.push({
      index: Number(m[1]),
      name: m[2]!.trim(),
      type: SECTION_TYPES[m[3]!],
      addr: BigInt(`0x${m[4]}`),
      offset: parseInt(m[5]!, 16),
      size: parseInt(m[6]!, 16),
      entsize: parseInt(m[7]!, 16),
      flags: flags >>> 0,
      link: Number(m[9]),
      info: Number(m[10]),
      align: Number(m[11]),
    });
  }
  return sections;
}

interface ReadelfSymbol { table: string; index: number; value: bigint; size: number; type: number | undefined; bind: number | undefined; vis: number | undefined; ndx: number; name: string }

/** Symbols of every table readelf prints, keyed by table name ('.symtab', '.dynsym'). */
function parseSymbols(out: string): Map<string, ReadelfSymbol[]> {
  const tables = new Map<string, ReadelfSymbol[]>();
  let current: ReadelfSymbol[] | undefined;
  let table = '';
  const re = /^\s*(\d+): ([0-9a-f]+)\s+(\d+|0x[0-9a-f]+) (\S+)\s+(\S+)\s+(\S+)\s+(UND|ABS|COM|\d+) ?(.*)$/;
  for (const line of out.split('\n')) {
    const header = /^Symbol table '([^']+)'/.exec(line);
    if (header) {
      table = header[1]!;
      current = [];
      tables.set(table, current);
      continue;
    }
    const m = current && re.exec(line);
    if (!m) continue;
    const ndx = m[7] === 'UND' ? SHN_UNDEF : m[7] === 'ABS' ? SHN_ABS : m[7] === 'COM' ? SHN_COMMON : Number(m[7]);
    current!.push({
      table,
      index: Number(m[1]),
      value: BigInt(`0x${m[2]}`),
      size: Number(m[3]),
      type: SYMBOL_TYPES[m[4]!],
      bind: SYMBOL_BINDS[m[5]!],
      vis: VISIBILITIES[m[6]!],
      ndx,
      name: m[8]!,
    });
  }
  return tables;
}

interface ReadelfRelocation { offset: number; symbol: number; type: number; addend: number }

/** Relocations keyed by relocation section name, in file order. */
function parseRelocations(out: string): Map<string, ReadelfRelocation[]> {
  const sections = new Map<string, ReadelfRelocation[]>();
  let current: ReadelfRelocation[] | undefined;
  // Offset, info, type, then: symbol value and name with a signed addend (RELA), symbol value
  // and name (REL), a bare addend (RELA without a symbol), or nothing (REL without a symbol).
  const re = /^([0-9a-f]{16})\s+([0-9a-f]{16}) \S+\s*(?:[0-9a-f]{16} .*? ([+-]) ([0-9a-f]+)|[0-9a-f]{16} .*|([0-9a-f]+))?$/;
  for (const line of out.split('\n')) {
    const header = /^Relocation section '([^']+)'/.exec(line);
    if (header) {
      current = [];
      sections.set(header[1]!, current);
      continue;
    }
    const m = current && re.exec(line);
    if (!m) continue;
    const info = BigInt(`0x${m[2]}`);
    const addend = m[4] !== undefined ? (m[3] === '-' ? -1 : 1) * parseInt(m[4], 16) : m[5] !== undefined ? parseInt(m[5], 16) : 0;
    current!.push({ offset: parseInt(m[1]!, 16), symbol: Number(info >> 32n), type: Number(info & 0xffffffffn), addend });
  }
  return sections;
}

interface ReadelfSegment { type: number | undefined; offset: number; vaddr: bigint; paddr: bigint; filesz: number; memsz: number; flags: number; align: number }

function parseSegments(out: string): ReadelfSegment[] {
  const re = /^\s+(\S+)\s+0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) ([RWE ]{3}) 0x([0-9a-f]+)$/;
  const segments: ReadelfSegment[] = [];
  for (const line of out.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const f = m[7]!;
    segments.push({
      type: SEGMENT_TYPES[m[1]!],
      offset: parseInt(m[2]!, 16),
      vaddr: BigInt(`0x${m[3]}`),
      paddr: BigInt(`0x${m[4]}`),
      filesz: parseInt(m[5]!, 16),
      memsz: parseInt(m[6]!, 16),
      flags: (f[0] === 'R' ? PF_R : 0) | (f[1] === 'W' ? PF_W : 0) | (f[2] === 'E' ? PF_X : 0),
      align: parseInt(m[8]!, 16),
    });
  }
  return segments;
}

/** A symbol's name as llvm-readelf prints it: dynamic symbols carry their version. */
function displayName(s: ElfSymbol): string {
  if (s.version === undefined) return s.name;
  return `${s.name}${s.versionHidden ? '@' : '@@'}${s.version}`;
}

/** Compares everything readelf -S -s -r -l shows with what ElfFile reads from `path`. */
function crossCheck(path: string, opts: { relocations?: boolean; symtab?: boolean } = {}): boolean {
  const symbols = opts.symtab === false ? '--dyn-syms' : '--symbols';
  const out = readelf(['--sections', symbols, ...(opts.relocations === false ? [] : ['--relocations']), '--program-headers'], path);
  if (out === undefined) return false;
  const elf = ElfFile.parse(new Uint8Array(readFileSync(path)));

  const sections = parseSections(out);
  assert.equal(elf.sections.length, sections.length, 'section count');
  for (const want of sections) {
    const got = elf.sections[want.index]!;
    const where = `section [${want.index}] ${want.name}`;
    assert.equal(got.name, want.name, where);
    if (want.type !== undefined) assert.equal(got.type, want.type, `${where} type`);
    assert.deepEqual(
      [got.addr, got.offset, got.size, got.entsize, got.link, got.info, got.addralign],
      [want.addr, want.offset, want.size, want.entsize, want.link, want.info, want.align],
      where,
    );
    // Only the flags readelf has letters for (others print as 'x', 'o', 'p').
    const known = Object.values(SECTION_FLAGS).reduce((a, b) => a | b, 0);
    assert.equal((got.flags & known) >>> 0, want.flags, `${where} flags`);
  }

  const tables = parseSymbols(out);
  for (const [table, list] of tables) {
    const ours = table === '.dynsym' ? elf.dynamicSymbols : elf.symbols;
    assert.equal(ours.length, list.length, `${table} symbol count`);
    for (const want of list) {
      const got = ours[want.index]!;
      const where = `${table} symbol ${want.index} (${want.name})`;
      // readelf shows unnamed section symbols by their section's name, as ElfFile does.
      assert.equal(table === '.dynsym' ? displayName(got) : got.name, want.name, where);
      assert.deepEqual([got.value64, got.size, got.type, got.bind, got.visibility], [want.value, want.size, want.type, want.bind, want.vis], where);
      if (want.ndx !== SHN_ABS && want.ndx !== SHN_COMMON) assert.equal(got.sectionIndex, want.ndx, `${where} section`);
      else assert.equal(got.sectionIndex, want.ndx, `${where} special section`);
    }
  }
  if (opts.symtab !== false) assert.equal(tables.has('.symtab'), elf.symbolTable !== undefined);

  if (opts.relocations !== false) {
    const relocs = parseRelocations(out);
    // readelf also lists SHT_RELR (packed relative relocations), which this reader leaves alone.
    for (const s of sections) if (s.type === 19) relocs.delete(s.name);
    const relSections = elf.sections.filter((s) => s.type === 4 || s.type === 9);
    assert.equal(relocs.size, relSections.length, 'relocation section count');
    for (const [name, list] of relocs) {
      const s = elf.sectionByName(name)!;
      const got = elf.relocationsIn(s.index).map((r) => ({ offset: r.offset, symbol: r.symbolIndex, type: r.type, addend: r.addend }));
      assert.deepEqual(got, list, `relocations in ${name}`);
    }
  }

  const segments = parseSegments(out);
  assert.equal(elf.segments.length, segments.length, 'program header count');
  segments.forEach((want, i) => {
    const got = elf.segments[i]!;
    if (want.type !== undefined) assert.equal(got.type, want.type, `segment ${i} type`);
    assert.deepEqual(
      [got.offset, got.vaddr, got.paddr, got.filesz, got.memsz, got.flags & 7, got.align],
      [want.offset, want.vaddr, want.paddr, want.filesz, want.memsz, want.flags, want.align],
      `segment ${i}`,
    );
  });
  return true;
}

const dataDir = new URL('../../../test/testdata/elf/', import.meta.url);
const fixtures = ['maps.bpf.o', 'maps.bpfeb.o', 'xdp.bpf.o', 'usdt.x86_64.o', 'libver.x86_64.so'];

for (const name of fixtures) {
  test(`${name} agrees with ${READELF}`, (t) => {
    if (!crossCheck(fileURLToPath(new URL(name, dataDir)))) t.skip(`${READELF} is not installed`);
  });
}

// System binaries: an executable, the C library, node itself. Skipped where absent.

const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';

test(`/bin/true (dynamic symbols, relocations, program headers) agrees with ${READELF}`, (t) => {
  if (!exists('/bin/true')) return t.skip('no /bin/true');
  if (!crossCheck('/bin/true')) t.skip(`${READELF} is not installed`);
});

test(`libc agrees with ${READELF}`, (t) => {
  if (!exists(LIBC)) return t.skip(`no ${LIBC}`);
  if (!crossCheck(LIBC)) t.skip(`${READELF} is not installed`);
});

test(`node's own executable (sections, dynamic symbols, program headers) agrees with ${READELF}`, (t) => {
  // Its .symtab (over 100,000 entries) and relocations would make this slow, not better.
  if (!crossCheck(process.execPath, { symtab: false, relocations: false })) t.skip(`${READELF} is not installed`);
});

test('symbolFileOffset in libc matches readelf symbol values mapped through the program headers', (t) => {
  if (!exists(LIBC)) return t.skip(`no ${LIBC}`);
  const out = readelf(['--dyn-syms', '--program-headers'], LIBC);
  if (out === undefined) return t.skip(`${READELF} is not installed`);
  const dynsyms = parseSymbols(out).get('.dynsym')!;
  const loads = parseSegments(out).filter((s) => s.type === SEGMENT_TYPES.LOAD);
  const expected = (display: string): number => {
    const sym = dynsyms.find((s) => s.name === display);
    assert.ok(sym, `readelf lists ${display}`);
    const seg = loads.find((l) => sym.value >= l.vaddr && sym.value < l.vaddr + BigInt(l.filesz));
    assert.ok(seg, `a PT_LOAD segment holds ${display}`);
    return seg.offset + Number(sym.value - seg.vaddr);
  };
  const elf = ElfFile.parse(new Uint8Array(readFileSync(LIBC)));
  const checked: string[] = [];
  for (const name of ['malloc', 'free', 'printf', 'open', 'write', 'pthread_create', 'readline']) {
    // The default version of each: the one readelf prints with '@@'.
    const def = dynsyms.find((s) => s.name.startsWith(`${name}@@`));
    if (!def) {
      assert.equal(elf.symbolFileOffset(name), undefined, name);
      continue;
    }
    assert.equal(elf.symbolFileOffset(name), expected(def.name), name);
    assert.equal(elf.symbolFileOffset(def.name), expected(def.name), def.name);
    checked.push(def.name);
  }
  // Symbols with several versions: every explicitly versioned spelling resolves to its own.
  for (const s of dynsyms) {
    const m = /^(memcpy|realpath|sched_setaffinity)(@@?)(.+)$/.exec(s.name);
    if (!m || s.ndx === SHN_UNDEF) continue;
    assert.equal(elf.symbolFileOffset(s.name), expected(s.name), s.name);
    checked.push(s.name);
  }
  assert.ok(checked.length >= 4, `checked ${checked.join(', ')}`);
  t.diagnostic(`checked ${checked.join(', ')}`);
});

test('notes of /bin/true: the GNU build id matches readelf', (t) => {
  if (!exists('/bin/true')) return t.skip('no /bin/true');
  const out = readelf(['--notes'], '/bin/true');
  if (out === undefined) return t.skip(`${READELF} is not installed`);
  const want = /Build ID: ([0-9a-f]+)/.exec(out)?.[1];
  const elf = ElfFile.parse(new Uint8Array(readFileSync('/bin/true')));
  const note = elf.notes.find((n) => n.name === 'GNU' && n.type === 3);
  if (!want) return assert.equal(note, undefined);
  assert.ok(note);
  assert.equal(Buffer.from(note.desc).toString('hex'), want);
});
