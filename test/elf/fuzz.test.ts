// Seeded mutation fuzzing of the ELF reader: every mutated fixture must either parse or raise
// FormatError with code 'ERR_ELF' (never a RangeError, TypeError or hang), and the lazily
// read parts (symbols, relocations, notes, versions, data views) must behave the same way.
//
//   FUZZ_SEED=1234 node --test dist/test/elf/fuzz.test.js      another seed
//   FUZZ_ITERATIONS=1000000 ...                                 a longer run
//   FUZZ_ONLY=5678 ...                                          replay one iteration
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { ArgumentError, FormatError } from '../../src/errors.js';
import { ElfFile, SHT_DYNSYM, SHT_GNU_VERDEF, SHT_GNU_VERSYM, SHT_NOTE, SHT_REL, SHT_RELA, SHT_STRTAB, SHT_SYMTAB } from '../../src/elf/index.js';

const DEFAULT_SEED = 0x5eed_e1f0;
const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) >>> 0 : DEFAULT_SEED;
const iterations = process.env.FUZZ_ITERATIONS ? Number(process.env.FUZZ_ITERATIONS) : 100_000;
const only = process.env.FUZZ_ONLY ? Number(process.env.FUZZ_ONLY) : undefined;

/** mulberry32: a tiny, well-mixed 32-bit PRNG; deterministic for a given seed. */
function mulberry32(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Random helpers over one PRNG stream. */
class Rng {
  readonly next: () => number;
  constructor(s: number) {
    this.next = mulberry32(s);
  }
  int(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  u64(): bigint {
    return (BigInt(this.next()) << 32n) | BigInt(this.next());
  }
}

interface Region { offset: number; size: number; entsize: number }
interface Fixture {
  name: string;
  bytes: Uint8Array;
  le: boolean;
  shoff: number;
  shnum: number;
  phoff: number;
  phnum: number;
  symtabs: Region[];
  rels: (Region & { rela: boolean })[];
  strtabs: Region[];
  notes: Region[];
  versions: Region[];
  symbolNames: string[];
}

const dataDir = new URL('../../../test/testdata/elf/', import.meta.url);
const fixtureNames = ['maps.bpf.o', 'maps.bpfeb.o', 'xdp.bpf.o', 'usdt.x86_64.o', 'libver.x86_64.so'];

function loadFixture(name: string): Fixture {
  const bytes = new Uint8Array(readFileSync(new URL(name, dataDir)));
  const elf = ElfFile.parse(bytes);
  const v = new DataView(bytes.buffer, bytes.byteOffset);
  const region = (s: { offset: number; size: number; entsize: number }) => ({ offset: s.offset, size: s.size, entsize: s.entsize });
  const of = (...types: number[]) => elf.sections.filter((s) => types.includes(s.type)).map(region);
  return {
    name,
    bytes,
    le: elf.littleEndian,
    shoff: Number(v.getBigUint64(40, elf.littleEndian)),
    shnum: elf.sections.length,
    phoff: Number(v.getBigUint64(32, elf.littleEndian)),
    phnum: elf.segments.length,
    symtabs: of(SHT_SYMTAB, SHT_DYNSYM),
    rels: elf.sections.filter((s) => s.type === SHT_REL || s.type === SHT_RELA).map((s) => ({ ...region(s), rela: s.type === SHT_RELA })),
    strtabs: of(SHT_STRTAB),
    notes: of(SHT_NOTE),
    versions: of(SHT_GNU_VERSYM, SHT_GNU_VERDEF),
    symbolNames: [
      ...new Set([...elf.symbols, ...elf.dynamicSymbols].filter((s) => s.name).map((s) => s.name)),
      'lookup@VER_1',
      'lookup@@VER_2',
      'no_such_symbol',
    ],
  };
}

/** Values that sit on the boundaries parsers get wrong, truncated to `width` bytes. */
function interesting(rng: Rng, width: number, fileLength: number): bigint {
  const candidates: bigint[] = [
    0n, 1n, 2n, 3n, 4n, 8n, 16n, 24n, 56n, 64n,
    BigInt(fileLength - 1), BigInt(fileLength), BigInt(fileLength + 1), BigInt(rng.int(fileLength)),
    0x7fn, 0x80n, 0xffn, 0xff00n, 0xfff1n, 0xfff2n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn,
    1n << 32n, (1n << 53n) - 1n, 1n << 53n, 1n << 63n, (1n << 64n) - 1n, (1n << 64n) - BigInt(fileLength),
    rng.u64(), BigInt(rng.next()), BigInt(rng.int(256)),
  ];
  return rng.pick(candidates) & ((1n << BigInt(width * 8)) - 1n);
}

function write(v: DataView, at: number, width: number, value: bigint, le: boolean): void {
  if (at < 0 || at + width > v.byteLength) return;
  if (width === 1) v.setUint8(at, Number(value));
  else if (width === 2) v.setUint16(at, Number(value), le);
  else if (width === 4) v.setUint32(at, Number(value), le);
  else v.setBigUint64(at, value, le);
}

const EHDR_FIELDS: [number, number][] = [[16, 2], [18, 2], [20, 4], [24, 8], [32, 8], [40, 8], [48, 4], [52, 2], [54, 2], [56, 2], [58, 2], [60, 2], [62, 2], [4, 1], [5, 1], [6, 1]];
const SHDR_FIELDS: [number, number][] = [[0, 4], [4, 4], [8, 8], [16, 8], [24, 8], [32, 8], [40, 4], [44, 4], [48, 8], [56, 8]];
const PHDR_FIELDS: [number, number][] = [[0, 4], [4, 4], [8, 8], [16, 8], [24, 8], [32, 8], [40, 8], [48, 8]];
const SYM_FIELDS: [number, number][] = [[0, 4], [4, 1], [5, 1], [6, 2], [8, 8], [16, 8]];
const REL_FIELDS: [number, number][] = [[0, 8], [8, 4], [12, 4], [8, 8]];
const NOTE_FIELDS: [number, number][] = [[0, 4], [4, 4], [8, 4]];

/**
 * Applies 1-3 random mutations to `buf` (a copy of the fixture) and returns the length to parse
 * (shorter when truncated) and a description for failure reports.
 */
function mutate(rng: Rng, f: Fixture, buf: Uint8Array): { length: number; what: string[] } {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const len = buf.length;
  let length = len;
  const what: string[] = [];
  const field = (base: number, fields: [number, number][], label: string) => {
    const [off, width] = rng.pick(fields);
    const value = interesting(rng, width, len);
    write(v, base + off, width, value, f.le);
    what.push(`${label}+${off}=${value}`);
  };
  const entry = (regions: Region[], entsize: number) => {
    const r = rng.pick(regions);
    const n = Math.max(1, Math.floor(r.size / (r.entsize || entsize)));
    return r.offset + rng.int(n) * (r.entsize || entsize);
  };
  const count = 1 + rng.int(3);
  for (let m = 0; m < count; m++) {
    switch (rng.int(12)) {
      case 0: {
        const flips = 1 + rng.int(4);
        for (let i = 0; i < flips; i++) {
          const at = rng.int(len);
          buf[at]! ^= 1 << rng.int(8);
          what.push(`flip@${at}`);
        }
        break;
      }
      case 1: {
        const at = rng.int(len);
        const n = 1 + rng.int(16);
        for (let i = at; i < Math.min(len, at + n); i++) buf[i] = rng.int(256);
        what.push(`random[${at}..+${n}]`);
        break;
      }
      case 2:
        length = rng.int(len);
        what.push(`truncate@${length}`);
        break;
      case 3:
        field(0, EHDR_FIELDS, 'ehdr');
        break;
      case 4:
      case 5: {
        const i = rng.int(f.shnum);
        field(f.shoff + i * 64, SHDR_FIELDS, `shdr[${i}]`);
        break;
      }
      case 6:
        if (f.symtabs.length) field(entry(f.symtabs, 24), SYM_FIELDS, 'sym');
        break;
      case 7:
        if (f.rels.length) field(entry(f.rels, 16), REL_FIELDS, 'rel');
        break;
      case 8:
        if (f.phnum) field(f.phoff + rng.int(f.phnum) * 56, PHDR_FIELDS, 'phdr');
        else field(0, [[56, 2], [32, 8], [54, 2]], 'ehdr-ph');
        break;
      case 9: {
        // Extended numbering: counts moved into section 0.
        write(v, 60, 2, rng.int(2) ? 0n : interesting(rng, 2, len), f.le);
        write(v, 62, 2, rng.int(2) ? 0xffffn : interesting(rng, 2, len), f.le);
        write(v, f.shoff + 32, 8, rng.int(2) ? BigInt(f.shnum) : interesting(rng, 8, len), f.le);
        write(v, f.shoff + 40, 4, interesting(rng, 4, len), f.le);
        write(v, f.shoff + 44, 4, interesting(rng, 4, len), f.le);
        what.push('xnum');
        break;
      }
      case 10: {
        const t = rng.pick(f.strtabs);
        const at = t.offset + rng.int(t.size);
        const n = 1 + rng.int(64);
        const fill = rng.pick([0, 0x41, 0xff, -1]);
        for (let i = at; i < Math.min(len, at + n); i++) buf[i] = fill < 0 ? rng.int(256) : fill;
        what.push(`strtab[${at}..+${n}]=${fill}`);
        break;
      }
      case 11: {
        if (f.notes.length && rng.int(2)) field(rng.pick(f.notes).offset, NOTE_FIELDS, 'note');
        else if (f.versions.length) {
          const r = rng.pick(f.versions);
          const at = r.offset + rng.int(r.size);
          const [, width] = rng.pick([[0, 1], [0, 2], [0, 4]] as [number, number][]);
          write(v, at, width, interesting(rng, width, len), f.le);
          what.push(`version@${at}`);
        } else buf[rng.int(len)] = rng.int(256);
        break;
      }
    }
  }
  return { length, what };
}

/** Errors the API may raise on purpose for a given file: FormatError, and for lookups ArgumentError. */
function allowed(err: unknown, lookup: boolean): boolean {
  if (err instanceof FormatError) return err.code === 'ERR_ELF';
  return lookup && err instanceof ArgumentError && (err.code === 'ERR_ELF_AMBIGUOUS_SYMBOL' || err.code === 'ERR_ELF_NO_FILE_OFFSET');
}

interface Stats { parsed: number; rejected: number; lazyErrors: number; maxMs: number; failures: string[] }

/**
 * Runs every lazy path of a parsed file; each group on its own so one error hides no other. A
 * group that fails must fail again when repeated: a half-filled cache must not turn a broken
 * file into one that reads as fine on the second try.
 */
function exercise(elf: ElfFile, f: Fixture, rng: Rng, stats: Stats, report: (err: unknown, where: string) => void): void {
  const step = (where: string, fn: () => void, lookup = false) => {
    try {
      fn();
      return;
    } catch (err) {
      if (!allowed(err, lookup)) return report(err, where);
      stats.lazyErrors++;
    }
    try {
      fn();
      report(new Error('succeeded when repeated after failing'), where);
    } catch (err) {
      if (!allowed(err, lookup)) report(err, `${where} (repeated)`);
    }
  };
  const sectionName = elf.sections.length ? rng.pick(elf.sections).name : '';
  const addresses = elf.segments.map((seg) => seg.vaddr + BigInt(rng.int(seg.filesz + 2)));
  const symbolName = rng.pick(f.symbolNames);
  step('sections', () => {
    let total = 0;
    for (const s of elf.sections) total += s.data().length + s.name.length;
    elf.sectionByName(sectionName);
    void total;
  });
  step('symbols', () => void elf.symbols.length);
  step('dynamicSymbols', () => void elf.dynamicSymbols.length);
  step('relocations', () => {
    for (const s of elf.sections) elf.relocationsFor(s.index);
  });
  step('notes', () => void elf.notes.length);
  step('addresses', () => {
    for (const a of addresses) elf.addressToFileOffset(a);
  });
  step('symbolFileOffset', () => void elf.symbolFileOffset(symbolName), true);
  step('byteOrder', () => elf.assertNativeByteOrder());
}

test('fuzz: mutated ELF files parse or raise FormatError ERR_ELF', (t) => {
  const fixtures = fixtureNames.map(loadFixture);
  const stats: Stats = { parsed: 0, rejected: 0, lazyErrors: 0, maxMs: 0, failures: [] };
  const scratch = new Map(fixtures.map((f) => [f.name, new Uint8Array(f.bytes.length)]));
  const started = performance.now();
  const first = only ?? 0;
  const last = only !== undefined ? only + 1 : iterations;

  for (let i = first; i < last; i++) {
    // Each iteration has its own stream, so one can be replayed alone (FUZZ_ONLY=i).
    const rng = new Rng((seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
    const f = fixtures[i % fixtures.length]!;
    const buf = scratch.get(f.name)!;
    buf.set(f.bytes);
    const { length, what } = mutate(rng, f, buf);
    const input = buf.subarray(0, length);
    const report = (err: unknown, where: string) => {
      if (stats.failures.length < 10) {
        const e = err as Error;
        stats.failures.push(`iteration ${i} (${f.name}: ${what.join(', ')}) in ${where}: ${e?.name}: ${e?.message}\n${e?.stack ?? ''}`);
      }
    };
    const t0 = performance.now();
    let elf: ElfFile | undefined;
    try {
      elf = ElfFile.parse(input);
      stats.parsed++;
    } catch (err) {
      stats.rejected++;
      if (!allowed(err, false)) report(err, 'parse');
    }
    if (elf) exercise(elf, f, rng, stats, report);
    const ms = performance.now() - t0;
    if (ms > stats.maxMs) stats.maxMs = ms;
    // A generous bound: a typical iteration takes tens of microseconds; this catches runaway loops.
    if (ms > 500) report(new Error(`took ${ms.toFixed(0)} ms`), 'timing');
  }

  const elapsed = (performance.now() - started) / 1000;
  t.diagnostic(`seed=${seed} (FUZZ_SEED to change) iterations=${last - first} parsed=${stats.parsed} rejected=${stats.rejected} lazy-errors=${stats.lazyErrors} slowest=${stats.maxMs.toFixed(2)}ms elapsed=${elapsed.toFixed(1)}s`);
  assert.deepEqual(stats.failures, [], `seed ${seed}: ${stats.failures.length} failures`);
  // The mutations must not be so destructive that nothing parses (then lazy paths go untested).
  if (only === undefined) assert.ok(stats.parsed > iterations / 10, `only ${stats.parsed} of ${iterations} mutated files parsed`);
});
