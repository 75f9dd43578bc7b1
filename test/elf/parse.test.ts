// Unit tests of src/elf on the fixtures in test/testdata/elf (sources and compile commands
// beside them): what the parser returns, and the FormatError each kind of damage raises.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { ArgumentError, FormatError } from '../../src/errors.js';
import {
  ELF64_SHDR_SIZE,
  ELF64_SYM_SIZE,
  ELFDATA2MSB,
  EM_BPF,
  EM_X86_64,
  ET_DYN,
  ET_REL,
  ElfFile,
  HOST_LITTLE_ENDIAN,
  NT_STAPSDT,
  PT_LOAD,
  R_BPF_64_32,
  R_BPF_64_64,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHF_WRITE,
  SHN_ABS,
  SHN_UNDEF,
  SHN_XINDEX,
  SHT_GROUP,
  SHT_NOBITS,
  SHT_NOTE,
  SHT_PROGBITS,
  SHT_REL,
  SHT_RELA,
  SHT_STRTAB,
  SHT_SYMTAB,
  STB_GLOBAL,
  STB_LOCAL,
  STB_WEAK,
  STT_FILE,
  STT_FUNC,
  STT_OBJECT,
  STT_SECTION,
  STV_HIDDEN,
} from '../../src/elf/index.js';

const dataDir = new URL('../../../test/testdata/elf/', import.meta.url);
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, dataDir)));

const mapsLE = fixture('maps.bpf.o');
const mapsBE = fixture('maps.bpfeb.o');
const xdp = fixture('xdp.bpf.o');
const usdt = fixture('usdt.x86_64.o');
const libver = fixture('libver.x86_64.so');

/** Asserts fn throws FormatError with code ERR_ELF and a message matching `re`. */
function assertElfError(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FormatError, `expected FormatError, got ${String(err)}`);
    assert.equal(err.code, 'ERR_ELF');
    assert.match(err.message, re);
    return true;
  });
}

/** A writable copy with little-endian header fields patched (the fixtures are LE except maps.bpfeb.o). */
function patched(bytes: Uint8Array, edit: (v: DataView, b: Uint8Array) => void): Uint8Array {
  const copy = bytes.slice();
  edit(new DataView(copy.buffer), copy);
  return copy;
}

function shoff(bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(40, true));
}
/** File offset of section header i of a little-endian fixture. */
function shdr(bytes: Uint8Array, i: number): number {
  return shoff(bytes) + i * ELF64_SHDR_SIZE;
}

test('ELF header of a little-endian BPF object', () => {
  const elf = ElfFile.parse(mapsLE);
  assert.equal(elf.littleEndian, true);
  assert.equal(elf.type, ET_REL);
  assert.equal(elf.machine, EM_BPF);
  assert.equal(elf.osabi, 0);
  assert.equal(elf.entry, 0n);
  assert.equal(elf.segments.length, 0);
  assert.equal(elf.sections.length, 34);
  assert.equal(elf.isNativeByteOrder, HOST_LITTLE_ENDIAN);
  assert.equal(elf.bytes, mapsLE);
});

test('sections: names, types, flags, data views', () => {
  const elf = ElfFile.parse(mapsLE);
  assert.equal(elf.sections[0]!.name, '');
  elf.sections.forEach((s, i) => assert.equal(s.index, i));

  const prog = elf.sectionByName('tracepoint/syscalls/sys_enter_execve')!;
  assert.equal(prog.type, SHT_PROGBITS);
  assert.ok(prog.hasFlags(SHF_ALLOC | SHF_EXECINSTR));
  assert.ok(!prog.hasFlags(SHF_WRITE));
  assert.equal(prog.size, 0xb8);
  assert.equal(prog.addralign, 8);
  const data = prog.data();
  assert.equal(data.length, prog.size);
  // A view, not a copy: same memory as the input.
  assert.equal(data.buffer, mapsLE.buffer);
  assert.equal(data.byteOffset, mapsLE.byteOffset + prog.offset);

  const bss = elf.sectionByName('.bss')!;
  assert.equal(bss.type, SHT_NOBITS);
  assert.equal(bss.size, 8);
  assert.equal(bss.data().length, 0, 'SHT_NOBITS has no file contents');
  assert.ok(bss.hasFlags(SHF_ALLOC | SHF_WRITE));

  const rodata = elf.sectionByName('.rodata')!;
  assert.deepEqual([...rodata.data()], [100, 0, 0, 0]); // min_pid = 100, little-endian
  assert.equal(new TextDecoder().decode(elf.sectionByName('license')!.data()), 'GPL\0');

  assert.equal(elf.sectionByName('.symtab')!.type, SHT_SYMTAB);
  assert.equal(elf.sectionByName('.strtab')!.type, SHT_STRTAB);
  assert.equal(elf.sectionByName('.rel.text')!.type, SHT_REL);
  assert.equal(elf.sectionByName('no such section'), undefined);
  assert.equal(elf.symbolTable, elf.sectionByName('.symtab'));
});

test('symbols of a BPF object', () => {
  const elf = ElfFile.parse(mapsLE);
  const syms = elf.symbols;
  assert.equal(syms.length, 24);
  assert.equal(syms[0]!.name, '');
  assert.equal(syms[0]!.sectionIndex, SHN_UNDEF);
  const byName = new Map(syms.map((s) => [s.name, s]));

  const file = byName.get('maps.bpf.c')!;
  assert.equal(file.type, STT_FILE);
  assert.equal(file.sectionIndex, SHN_ABS);

  const bump = byName.get('bump')!;
  assert.deepEqual(
    { type: bump.type, bind: bump.bind, value: bump.value, size: bump.size, section: elf.sections[bump.sectionIndex]!.name },
    { type: STT_FUNC, bind: STB_LOCAL, value: 0x78, size: 176, section: '.text' },
  );
  assert.equal(bump.value64, 0x78n);
  assert.equal(bump.version, undefined);

  const counts = byName.get('counts')!;
  assert.deepEqual(
    { type: counts.type, bind: counts.bind, value: counts.value, size: counts.size, section: elf.sections[counts.sectionIndex]!.name },
    { type: STT_OBJECT, bind: STB_GLOBAL, value: 0x20, size: 32, section: '.maps' },
  );
  assert.equal(elf.sections[byName.get('total_calls')!.sectionIndex]!.name, '.bss');
  assert.equal(byName.get('.text')!.type, STT_SECTION);
  assert.equal(elf.dynamicSymbols.length, 0);
  // Cached: the same array on every access.
  assert.equal(elf.symbols, syms);
});

test('relocations, grouped by the section they patch and sorted by offset', () => {
  const elf = ElfFile.parse(mapsLE);
  const prog = elf.sectionByName('tracepoint/syscalls/sys_enter_execve')!;
  const relocs = elf.relocationsFor(prog.index);
  const named = relocs.map((r) => [r.offset, elf.symbols[r.symbolIndex]!.name, r.type, r.addend]);
  assert.deepEqual(named, [
    [0x18, 'min_pid', R_BPF_64_64, 0],
    [0x40, '.text', R_BPF_64_32, 0],
    [0x48, 'total_calls', R_BPF_64_64, 0],
    [0x80, 'global_helper', R_BPF_64_32, 0],
  ]);
  // relocationsIn gives one relocation section's entries in file order.
  const relSection = elf.sections.find((s) => s.type === SHT_REL && s.info === prog.index)!;
  assert.deepEqual(elf.relocationsIn(relSection.index), relocs);
  assert.deepEqual(elf.relocationsFor(elf.sectionByName('.data')!.index), []);
  assert.deepEqual(elf.relocationsFor(9999), []);
  assert.throws(() => elf.relocationsIn(prog.index), ArgumentError);
  for (const s of elf.sections) {
    const r = elf.relocationsFor(s.index);
    for (let i = 1; i < r.length; i++) assert.ok(r[i - 1]!.offset <= r[i]!.offset);
  }
});

test('relocationsFor sorts entries that the file lists out of order', () => {
  const elf = ElfFile.parse(mapsLE);
  const rel = elf.sectionByName('.rel.text')!;
  const swapped = patched(mapsLE, (_, b) => {
    const first = b.slice(rel.offset, rel.offset + 16);
    b.copyWithin(rel.offset, rel.offset + 48, rel.offset + 64);
    b.set(first, rel.offset + 48);
  });
  const e2 = ElfFile.parse(swapped);
  const inFile = e2.relocationsIn(rel.index).map((r) => r.offset);
  assert.deepEqual(inFile, [0xf8, 0x40, 0xa0, 0x28]);
  assert.deepEqual(e2.relocationsFor(rel.info).map((r) => r.offset), [0x28, 0x40, 0xa0, 0xf8]);
  assert.deepEqual(e2.relocationsIn(rel.index).map((r) => r.offset), inFile, 'relocationsIn is not reordered');
});

test('input that is a view into a larger buffer (a pooled Buffer)', () => {
  const big = Buffer.concat([Buffer.alloc(13, 0xaa), Buffer.from(mapsLE), Buffer.alloc(7, 0xbb)]);
  const view = big.subarray(13, 13 + mapsLE.length);
  const elf = ElfFile.parse(view);
  const plain = ElfFile.parse(mapsLE);
  assert.deepEqual(elf.symbols, plain.symbols);
  assert.deepEqual([...elf.sectionByName('.rodata')!.data()], [...plain.sectionByName('.rodata')!.data()]);
  assert.equal(elf.bytes, view);
});

test('big-endian object (clang -target bpfeb) parses to the same structure', () => {
  const le = ElfFile.parse(mapsLE);
  const be = ElfFile.parse(mapsBE);
  assert.equal(be.littleEndian, false);
  assert.equal(mapsBE[5], ELFDATA2MSB);
  assert.equal(be.machine, EM_BPF);
  const shape = (e: ElfFile) => e.sections.map((s) => [s.name, s.type, s.flags, s.size, s.link, s.info, s.addralign, s.entsize]);
  assert.deepEqual(shape(be), shape(le));
  const syms = (e: ElfFile) => e.symbols.map((s) => [s.name, s.value, s.size, s.type, s.bind, s.sectionIndex]);
  assert.deepEqual(syms(be), syms(le));
  for (const s of le.sections) {
    assert.deepEqual(be.relocationsFor(s.index), le.relocationsFor(s.index), `relocations for ${s.name}`);
  }
  // The data really is big-endian: .rodata's min_pid = 100.
  assert.deepEqual([...be.sectionByName('.rodata')!.data()], [0, 0, 0, 100]);

  const foreign = HOST_LITTLE_ENDIAN ? be : le;
  const native = HOST_LITTLE_ENDIAN ? le : be;
  assert.equal(foreign.isNativeByteOrder, false);
  assertElfError(() => foreign.assertNativeByteOrder('maps.bpfeb.o'), /maps\.bpfeb\.o is big-endian .* -target bpfel/);
  native.assertNativeByteOrder();
});

test('a second BPF object: legacy maps section, .rodata relocations', () => {
  const elf = ElfFile.parse(xdp);
  const prog = elf.sectionByName('xdp')!;
  const names = elf.relocationsFor(prog.index).map((r) => elf.symbols[r.symbolIndex]!.name);
  assert.deepEqual(names, ['pkt_count', 'seen_bytes', '.rodata.cst16']);
  assert.equal(elf.sectionByName('maps')!.size, 20);
  assert.equal(elf.symbolFileOffset('count_packets'), prog.offset);
});

test('x86-64 object: SHT_RELA addends, COMDAT group, USDT notes', () => {
  const elf = ElfFile.parse(usdt);
  assert.equal(elf.machine, EM_X86_64);
  assert.equal(elf.type, ET_REL);
  const notes = elf.sectionByName('.note.stapsdt')!;
  assert.equal(notes.type, SHT_NOTE);
  const relocs = elf.relocationsFor(notes.index);
  assert.equal(elf.sections[elf.sections.find((s) => s.type === SHT_RELA && s.info === notes.index)!.index]!.type, SHT_RELA);
  assert.deepEqual(
    relocs.map((r) => [r.offset, elf.symbols[r.symbolIndex]!.name, r.addend]),
    [
      [0x14, '.text', 0],
      [0x1c, '_.stapsdt.base', 0],
      [0x24, 'fixture_request_semaphore', 0],
      [0x60, '.text', 6],
      [0x68, '_.stapsdt.base', 0],
    ],
  );
  assert.ok(elf.sections.some((s) => s.type === SHT_GROUP));
  const base = elf.symbols.find((s) => s.name === '_.stapsdt.base')!;
  assert.equal(base.bind, STB_WEAK);
  assert.equal(base.visibility, STV_HIDDEN);

  const probes = elf.notesIn(notes.index);
  assert.equal(probes.length, 2);
  const decode = (d: Uint8Array) => new TextDecoder().decode(d.subarray(24)).split('\0');
  assert.deepEqual(
    probes.map((n) => [n.name, n.type, n.desc.length, decode(n.desc).slice(0, 3)]),
    [
      ['stapsdt', NT_STAPSDT, 0x37, ['fixture', 'request__start', '-4@%edi']],
      ['stapsdt', NT_STAPSDT, 0x3e, ['fixture', 'request__done', '-4@%edi -4@%eax']],
    ],
  );
  assert.deepEqual(elf.notes, probes);
  assert.equal(probes[0]!.offset, notes.offset);
  assert.throws(() => elf.notesIn(0), ArgumentError);

  const text = elf.sectionByName('.text')!;
  assert.equal(elf.symbolFileOffset('handle_request'), text.offset);
  assert.equal(elf.symbolFileOffset('fixture_request_semaphore'), elf.sectionByName('.probes')!.offset);
  assert.equal(elf.symbolFileOffset('missing'), undefined);
  assert.throws(() => elf.symbolFileOffset('counter'), { code: 'ERR_ELF_NO_FILE_OFFSET' });
});

test('shared library: program headers, dynamic symbols with versions, file offsets', () => {
  const elf = ElfFile.parse(libver);
  assert.equal(elf.type, ET_DYN);
  assert.deepEqual(
    elf.segments.filter((s) => s.type === PT_LOAD).map((s) => [s.offset, s.vaddr, s.filesz, s.memsz, s.align]),
    [
      [0, 0n, 0x3e4, 0x3e4, 0x1000],
      [0xf20, 0x1f20n, 0xf0, 0x2f0, 0x1000],
    ],
  );
  const dyn = elf.dynamicSymbols.map((s) => `${s.name}${s.version ? (s.versionHidden ? '@' : '@@') + s.version : ''}`);
  assert.deepEqual(dyn, ['', 'VER_1@@VER_1', 'table@@VER_1', 'VER_2@@VER_2', 'scratch@@VER_1', 'lookup@@VER_2', 'lookup@VER_1', 'answer@@VER_1']);

  // .data is at vaddr 0x2000, file offset 0x1000.
  assert.equal(elf.symbolFileOffset('table'), 0x1000);
  assert.equal(elf.addressToFileOffset(0x2000n), 0x1000);
  assert.equal(elf.addressToFileOffset(0x2010), undefined, '.bss is not in the file');
  assert.equal(elf.addressToFileOffset(0x10_0000), undefined);
  assert.equal(elf.symbolFileOffset('lookup'), 0x350, 'a bare name takes the default version');
  assert.equal(elf.symbolFileOffset('lookup@@VER_2'), 0x350);
  assert.equal(elf.symbolFileOffset('lookup@VER_1'), 0x340);
  assert.equal(elf.symbolFileOffset('lookup@VER_2'), 0x350);
  assert.equal(elf.symbolFileOffset('lookup@@VER_1'), undefined, 'VER_1 is not the default version');
  assert.equal(elf.symbolFileOffset('lookup@VER_3'), undefined);
  assert.equal(elf.symbolFileOffset('answer'), 0x360);
  assert.equal(elf.dynamicSymbols.find((s) => s.name === 'answer')!.version, 'VER_1');
  assert.equal(elf.resolveSymbol('answer')!.value64, 0x360n);
  assert.throws(() => elf.symbolFileOffset('scratch'), { code: 'ERR_ELF_NO_FILE_OFFSET' });
  // The unstripped .symtab also has the local definitions.
  assert.ok(elf.symbols.some((s) => s.name === 'lookup_v1'));
  assert.equal(elf.symbolFileOffset('lookup_v1'), 0x340);
});

test('extended section numbering (e_shnum = 0, e_shstrndx = SHN_XINDEX) is followed', () => {
  const plain = ElfFile.parse(mapsLE);
  const ext = patched(mapsLE, (v) => {
    v.setUint16(60, 0, true); // e_shnum
    v.setUint16(62, SHN_XINDEX, true); // e_shstrndx
    v.setBigUint64(shdr(mapsLE, 0) + 32, BigInt(plain.sections.length), true); // section 0 sh_size
    v.setUint32(shdr(mapsLE, 0) + 40, plain.shstrndx, true); // section 0 sh_link
  });
  const elf = ElfFile.parse(ext);
  assert.equal(elf.shstrndx, plain.shstrndx);
  assert.deepEqual(elf.sections.map((s) => s.name), plain.sections.map((s) => s.name));
  assert.equal(elf.sections[0]!.size, plain.sections.length);

  assertElfError(() => ElfFile.parse(patched(ext, (v) => v.setBigUint64(shdr(mapsLE, 0) + 32, 1n << 40n, true))), /section header table of \d+ entries .* past the end/);
  assertElfError(() => ElfFile.parse(patched(ext, (v) => v.setBigUint64(shdr(mapsLE, 0) + 32, 0n, true))), /gives no section count/);
  assertElfError(() => ElfFile.parse(patched(ext, (v) => v.setUint32(shdr(mapsLE, 0) + 40, 999, true))), /e_shstrndx 999 is out of range/);
});

test('symbols with SHN_XINDEX take their section from SHT_SYMTAB_SHNDX', () => {
  const elf = ElfFile.parse(mapsLE);
  const sym = elf.symbols.find((s) => s.name === 'on_execve')!;
  const at = elf.symbolTable!.offset + sym.index * ELF64_SYM_SIZE;
  const bad = patched(mapsLE, (v) => v.setUint16(at + 6, SHN_XINDEX, true));
  assertElfError(() => ElfFile.parse(bad).symbols, /uses SHN_XINDEX but has no SHT_SYMTAB_SHNDX/);
});

test('malformed headers raise FormatError ERR_ELF saying what is wrong', () => {
  const elf = ElfFile.parse(mapsLE);
  const symtab = elf.symbolTable!;
  const text = elf.sectionByName('.text')!;
  const relText = elf.sectionByName('.rel.text')!;
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty input', new Uint8Array(0), /too short/],
    ['not ELF', new TextEncoder().encode('#!/bin/sh\necho hello world\n'), /not an ELF file/],
    ['ELFCLASS32', patched(mapsLE, (_, b) => (b[4] = 1)), /ELFCLASS32.*not supported/],
    ['bad class', patched(mapsLE, (_, b) => (b[4] = 9)), /invalid ELF class 9/],
    ['bad byte order', patched(mapsLE, (_, b) => (b[5] = 3)), /invalid ELF data encoding/],
    ['bad version', patched(mapsLE, (_, b) => (b[6] = 2)), /unknown ELF version/],
    ['truncated header', mapsLE.subarray(0, 40), /truncated ELF header: 40 of 64 bytes/],
    ['truncated before the section headers', mapsLE.subarray(0, shoff(mapsLE) + 100), /section header table.*past the end/],
    ['e_shoff past the end', patched(mapsLE, (v) => v.setBigUint64(40, 1n << 40n, true)), /section header table starts at 1099511627776, past the end/],
    ['e_shoff too large', patched(mapsLE, (v) => v.setBigUint64(40, 1n << 63n, true)), /e_shoff 0x8000000000000000 is too large/],
    ['absurd e_shnum', patched(mapsLE, (v) => v.setUint16(60, 0xfeff, true)), /section header table of 65279 entries/],
    ['e_shentsize', patched(mapsLE, (v) => v.setUint16(58, 40, true)), /e_shentsize is 40, expected 64/],
    ['e_shstrndx out of range', patched(mapsLE, (v) => v.setUint16(62, 200, true)), /e_shstrndx 200 is out of range \(34 sections\)/],
    ['e_shstrndx reserved', patched(mapsLE, (v) => v.setUint16(62, 0xff10, true)), /e_shstrndx 0xff10 is a reserved section index/],
    ['e_shstrndx not a string table', patched(mapsLE, (v) => v.setUint16(62, text.index, true)), /names a SHT_PROGBITS section, not a string table/],
    ['sh_offset past the end', patched(mapsLE, (v) => v.setBigUint64(shdr(mapsLE, text.index) + 24, 1n << 32n, true)), /section \[2\] \(SHT_PROGBITS\) contents starts at 4294967296, past the end/],
    ['sh_size past the end', patched(mapsLE, (v) => v.setBigUint64(shdr(mapsLE, text.index) + 32, 0x10000n, true)), /section \[2\] \(SHT_PROGBITS\) contents \(65536 bytes at offset 64\) extends past the end/],
    // offset + size overflows 2^53 (and 2^64 in C): must still be caught, not wrap.
    ['sh_offset + sh_size overflow', patched(mapsLE, (v) => {
      v.setBigUint64(shdr(mapsLE, text.index) + 24, 100n, true);
      v.setBigUint64(shdr(mapsLE, text.index) + 32, (1n << 53n) - 1n, true);
    }), /extends past the end/],
    ['sh_size too large', patched(mapsLE, (v) => v.setBigUint64(shdr(mapsLE, text.index) + 32, 0xffff_ffff_ffff_fff0n, true)), /sh_size 0xfffffffffffffff0 is too large/],
    ['symtab link to a missing section', patched(mapsLE, (v) => v.setUint32(shdr(mapsLE, symtab.index) + 40, 99, true)), /\.symtab' \(SHT_SYMTAB\): sh_link 99 is not a section \(34 sections\)/],
    ['symtab link to a non-string table', patched(mapsLE, (v) => v.setUint32(shdr(mapsLE, symtab.index) + 40, text.index, true)), /sh_link 2 is a SHT_PROGBITS section, expected SHT_STRTAB/],
    ['symtab entsize', patched(mapsLE, (v) => v.setBigUint64(shdr(mapsLE, symtab.index) + 56, 16n, true)), /sh_entsize is 16, expected 24/],
    ['symtab size not a multiple', patched(mapsLE, (v) => v.setBigUint64(shdr(mapsLE, symtab.index) + 32, 25n, true)), /size 25 is not a multiple of the entry size 24/],
    ['rel info out of range', patched(mapsLE, (v) => v.setUint32(shdr(mapsLE, relText.index) + 44, 77, true)), /sh_info 77 \(the section it relocates\) is not a section/],
    ['rel link to a non-symbol table', patched(mapsLE, (v) => v.setUint32(shdr(mapsLE, relText.index) + 40, text.index, true)), /expected SHT_SYMTAB or SHT_DYNSYM/],
    ['section name outside the string table', patched(mapsLE, (v) => v.setUint32(shdr(mapsLE, text.index), 0x7fff_0000, true)), /section \[2\] name: name offset 2147418112 is outside string table/],
    ['unterminated section name', patched(mapsLE, (_, b) => {
      const s = elf.sections[elf.shstrndx]!;
      b.fill(0x41, s.offset, s.offset + s.size);
    }), /is not NUL-terminated/],
    ['program headers without a table', patched(mapsLE, (v) => v.setUint16(56, 3, true)), /e_phnum is 3 but there is no program header table/],
    ['program header table past the end', patched(mapsLE, (v) => {
      v.setUint16(56, 3, true);
      v.setBigUint64(32, BigInt(mapsLE.length - 10), true);
      v.setUint16(54, 56, true);
    }), /program header table \(3 entries\).*extends past the end/],
  ];
  for (const [what, bytes, re] of cases) {
    assert.doesNotThrow(() => {
      assertElfError(() => ElfFile.parse(bytes), re);
    }, what);
  }
  assert.throws(() => ElfFile.parse('ELF' as unknown as Uint8Array), ArgumentError);
});

test('malformed tables raise FormatError when they are read', () => {
  const elf = ElfFile.parse(mapsLE);
  const symtab = elf.symbolTable!;
  const prog = elf.sectionByName('tracepoint/syscalls/sys_enter_execve')!;
  const rel = elf.sections.find((s) => s.type === SHT_REL && s.info === prog.index)!;
  const sym = (i: number) => symtab.offset + i * ELF64_SYM_SIZE;

  const badName = ElfFile.parse(patched(mapsLE, (v) => v.setUint32(sym(5), 0xffffff, true)));
  assertElfError(() => badName.symbols, /symbol of \[33\] \.symtab 5: name offset 16777215 is outside string table/);
  const badShndx = ElfFile.parse(patched(mapsLE, (v) => v.setUint16(sym(5) + 6, 1000, true)));
  assertElfError(() => badShndx.symbols, /symbol of \[33\] \.symtab 5: section index 1000 is out of range \(34 sections\)/);
  const badSize = ElfFile.parse(patched(mapsLE, (v) => v.setBigUint64(sym(5) + 16, 1n << 60n, true)));
  assertElfError(() => badSize.symbols, /st_size 0x1000000000000000 is too large/);

  const badSym = ElfFile.parse(patched(mapsLE, (v) => v.setUint32(rel.offset + 12, 500, true)));
  assertElfError(() => badSym.relocationsFor(prog.index), /refers to symbol 500, but the symbol table has 24 entries/);
  const badOffset = ElfFile.parse(patched(mapsLE, (v) => v.setBigUint64(rel.offset, 0x10000n, true)));
  assertElfError(() => badOffset.relocationsFor(prog.index), /patches offset 65536, past the end of \[4\] tracepoint\/syscalls\/sys_enter_execve \(184 bytes\)/);
  const hugeOffset = ElfFile.parse(patched(mapsLE, (v) => v.setBigUint64(rel.offset, 1n << 62n, true)));
  assertElfError(() => hugeOffset.relocationsFor(prog.index), /r_offset 0x4000000000000000 is too large/);
});

test('malformed notes raise FormatError', () => {
  const elf = ElfFile.parse(usdt);
  const notes = elf.sectionByName('.note.stapsdt')!;
  const bad = ElfFile.parse(patched(usdt, (v) => v.setUint32(notes.offset, 0x1000, true)));
  assertElfError(() => bad.notes, /note name \(4096 bytes\) runs past the end of \[3\] \.note\.stapsdt/);
  const badDesc = ElfFile.parse(patched(usdt, (v) => v.setUint32(notes.offset + 4, 0xffff_fff0, true)));
  assertElfError(() => badDesc.notes, /note descriptor \(4294967280 bytes\) runs past the end/);
});

test('a forged string table whose names overlap costs linear time', () => {
  // 20,000 symbols whose names are successive suffixes of one 400 KB string: decoding each on
  // its own would be quadratic (8 GB of characters).
  const n = 20_000;
  const strLen = 400_000;
  const bytes = buildObject(n, strLen, (i) => 1 + i * 20);
  const t0 = performance.now();
  const syms = ElfFile.parse(bytes).symbols;
  const ms = performance.now() - t0;
  assert.equal(syms.length, n);
  assert.equal(syms[1]!.name.length, strLen - 20);
  assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
});

/**
 * A minimal little-endian ET_REL file: null section, .strtab (one long name), .symtab with
 * `count` symbols named at nameOffset(i), .shstrtab.
 */
function buildObject(count: number, nameLength: number, nameOffset: (i: number) => number): Uint8Array {
  const shstr = new TextEncoder().encode('\0.strtab\0.symtab\0.shstrtab\0');
  const strtabSize = nameLength + 2;
  const strtabOff = 64;
  const symtabOff = strtabOff + strtabSize + ((8 - (strtabSize % 8)) % 8);
  const shstrOff = symtabOff + count * ELF64_SYM_SIZE;
  const shOff = shstrOff + shstr.length + ((8 - (shstr.length % 8)) % 8);
  const b = new Uint8Array(shOff + 4 * ELF64_SHDR_SIZE);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  v.setUint16(16, ET_REL, true);
  v.setUint16(18, EM_BPF, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(40, BigInt(shOff), true);
  v.setUint16(52, 64, true);
  v.setUint16(58, ELF64_SHDR_SIZE, true);
  v.setUint16(60, 4, true);
  v.setUint16(62, 3, true);
  b.fill(0x61, strtabOff + 1, strtabOff + 1 + nameLength); // 'aaaa...'
  for (let i = 0; i < count; i++) v.setUint32(symtabOff + i * ELF64_SYM_SIZE, i === 0 ? 0 : nameOffset(i), true);
  b.set(shstr, shstrOff);
  const section = (i: number, name: number, type: number, off: number, size: number, link = 0, entsize = 0) => {
    const at = shOff + i * ELF64_SHDR_SIZE;
    v.setUint32(at, name, true);
    v.setUint32(at + 4, type, true);
    v.setBigUint64(at + 24, BigInt(off), true);
    v.setBigUint64(at + 32, BigInt(size), true);
    v.setUint32(at + 40, link, true);
    v.setBigUint64(at + 56, BigInt(entsize), true);
  };
  section(1, 1, SHT_STRTAB, strtabOff, strtabSize);
  section(2, 9, SHT_SYMTAB, symtabOff, count * ELF64_SYM_SIZE, 1, ELF64_SYM_SIZE);
  section(3, 17, SHT_STRTAB, shstrOff, shstr.length);
  return b;
}

test('parsing a BPF object is fast', () => {
  // Warm up, then time: the bar is "well under a millisecond" for a typical object.
  for (let i = 0; i < 200; i++) ElfFile.parse(mapsLE).symbols;
  const runs = 500;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const elf = ElfFile.parse(mapsLE);
    void elf.symbols;
    for (const s of elf.sections) elf.relocationsFor(s.index);
  }
  const perParse = (performance.now() - t0) / runs;
  assert.ok(perParse < 0.5, `${perParse.toFixed(3)} ms per parse`);
});
