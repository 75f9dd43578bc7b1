// Shared by the BTF tests: paths, a tiny ELF64 section/symbol reader (the real one lives in
// src/elf, written separately; the BTF tests don't depend on it), running bpftool, comparing
// specs through bpftool's raw format.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Spec } from '../../src/btf/spec.js';
import { formatTypeRaw } from '../../src/btf/util.js';
import type { Type } from '../../src/btf/types.js';

/** test/testdata/btf/<name> (tests run from dist/test/btf). */
export function testdata(name: string): string {
  return fileURLToPath(new URL(`../../../test/testdata/btf/${name}`, import.meta.url));
}

export interface ElfSection {
  name: string;
  data: Uint8Array;
  size: number;
  index: number;
}

export interface ElfSymbol {
  name: string;
  value: number;
  size: number;
  shndx: number;
  bind: number;
  type: number;
  visibility: number;
}

export interface TinyElf {
  sections: ElfSection[];
  symbols: ElfSymbol[];
  section(name: string): ElfSection | undefined;
}

/** Just enough of ELF64 (either byte order) to find sections and symbols of a BPF object. */
export function readElf(bytes: Uint8Array): TinyElf {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, false) !== 0x7f454c46) throw new Error('not ELF');
  if (bytes[4] !== 2) throw new Error('not ELF64');
  const le = bytes[5] === 1;
  const shoff = Number(dv.getBigUint64(0x28, le));
  const shentsize = dv.getUint16(0x3a, le);
  const shnum = dv.getUint16(0x3c, le);
  const shstrndx = dv.getUint16(0x3e, le);
  const hdr = (i: number) => {
    const o = shoff + i * shentsize;
    return {
      name: dv.getUint32(o, le),
      type: dv.getUint32(o + 4, le),
      offset: Number(dv.getBigUint64(o + 0x18, le)),
      size: Number(dv.getBigUint64(o + 0x20, le)),
      link: dv.getUint32(o + 0x28, le),
    };
  };
  const cstr = (data: Uint8Array, off: number): string => {
    const end = data.indexOf(0, off);
    return new TextDecoder().decode(data.subarray(off, end));
  };
  const shstr = hdr(shstrndx);
  const shstrData = bytes.subarray(shstr.offset, shstr.offset + shstr.size);
  const sections: ElfSection[] = [];
  const symbols: ElfSymbol[] = [];
  for (let i = 0; i < shnum; i++) {
    const h = hdr(i);
    const data = h.type === 8 /* NOBITS */ ? new Uint8Array(0) : bytes.subarray(h.offset, h.offset + h.size);
    sections.push({ name: cstr(shstrData, h.name), data, size: h.size, index: i });
  }
  for (let i = 0; i < shnum; i++) {
    const h = hdr(i);
    if (h.type !== 2 /* SYMTAB */) continue;
    const strs = sections[h.link]!.data;
    for (let o = h.offset + 24; o + 24 <= h.offset + h.size; o += 24) {
      const info = bytes[o + 4]!;
      symbols.push({
        name: cstr(strs, dv.getUint32(o, le)),
        value: Number(dv.getBigUint64(o + 8, le)),
        size: Number(dv.getBigUint64(o + 16, le)),
        shndx: dv.getUint16(o + 6, le),
        bind: info >> 4,
        type: info & 0xf,
        visibility: bytes[o + 5]! & 3,
      });
    }
  }
  return { sections, symbols, section: (name) => sections.find((s) => s.name === name) };
}

/** The .BTF and .BTF.ext section bytes of an object file in testdata. */
export function objectSections(name: string): { btf: Uint8Array; btfExt: Uint8Array | undefined; elf: TinyElf } {
  const elf = readElf(new Uint8Array(readFileSync(testdata(name)))); // a plain Uint8Array: Buffer#slice doesn't copy
  const btf = elf.section('.BTF');
  if (!btf) throw new Error(`${name}: no .BTF`);
  return { btf: btf.data, btfExt: elf.section('.BTF.ext')?.data, elf };
}

/** Runs a tool; undefined when it isn't installed or fails. */
export function run(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  if (r.error || r.status !== 0) return undefined;
  return r.stdout;
}

let bpftoolOk: boolean | undefined;
export function haveBpftool(): boolean {
  return (bpftoolOk ??= run('bpftool', ['version']) !== undefined);
}

/** `bpftool btf dump file PATH format raw` (with `-B BASE` for split BTF). */
export function bpftoolRaw(path: string, base?: string): string | undefined {
  return run('bpftool', [...(base ? ['-B', base] : []), 'btf', 'dump', 'file', path, 'format', 'raw']);
}

/** A Spec's own types in bpftool's raw format, one line per type (+ member lines). */
export function rawDump(types: Iterable<Type>, idOf?: (t: Type) => number): string {
  const parts: string[] = [];
  for (const t of types) parts.push(formatTypeRaw(t, idOf));
  return parts.join('\n') + '\n';
}

/** Compares two dumps line by line, reporting the first difference. */
export function firstDifference(a: string, b: string): string | undefined {
  if (a === b) return undefined;
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return `line ${i + 1}:\n  ours:     ${la[i]}\n  expected: ${lb[i]}`;
  }
  return 'differs';
}

/** The own types of a Spec, as an array. */
export function ownTypes(spec: Spec): Type[] {
  return [...spec.types()];
}

/** mulberry32: a small seeded PRNG. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
