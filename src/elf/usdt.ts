/**
 * USDT probes (SystemTap SDT, `DTRACE_PROBE` / `STAP_PROBE` from <sys/sdt.h>) read from a
 * binary's `.note.stapsdt` notes, with their argument specifications decoded. Pure: no
 * syscalls.
 *
 * Each note (owner "stapsdt", type 3) holds, in the file's byte order: the probe's address
 * (the `nop` the macro leaves), the link-time address of `.stapsdt.base`, the address of the
 * probe's semaphore (0 if none), then three NUL-terminated strings: provider, name, and the
 * arguments, e.g. `-4@%eax 8@-16(%rbp) 4@$42`. When the file was prelinked (or otherwise moved
 * after linking), the actual `.stapsdt.base` section address differs from the recorded one and
 * both addresses shift by the difference.
 */
import { FormatError } from '../errors.js';
import type { ElfFile } from './file.js';

const NT_STAPSDT = 3;

/** Where an argument's value is. */
export type UsdtArgLocation =
  /** A constant (`$42`). */
  | { kind: 'const'; value: bigint }
  /** A register's value (`%rax`, `%edi`). */
  | { kind: 'reg'; reg: string }
  /** Memory at register + offset (`-16(%rbp)`). */
  | { kind: 'deref'; reg: string; offset: bigint }
  /** Memory at base + index * scale + offset (`8(%rax,%rbx,4)`). */
  | { kind: 'sib'; reg: string; indexReg: string; scale: number; offset: bigint };

export interface UsdtArg {
  /** Size in bytes: 1, 2, 4 or 8. */
  size: number;
  signed: boolean;
  location: UsdtArgLocation;
  /** The spec as written in the note (`-4@%eax`). */
  text: string;
}

export interface UsdtProbe {
  provider: string;
  name: string;
  /** The probe's virtual address (after the .stapsdt.base adjustment). */
  address: bigint;
  /** The semaphore's virtual address, 0 if the probe has none. */
  semaphore: bigint;
  /** The link-time .stapsdt.base recorded in the note. */
  base: bigint;
  /** The argument specification string. */
  argsText: string;
  args: UsdtArg[];
  /** File offset of the probe address (what a uprobe attaches to); undefined when no segment maps it. */
  fileOffset: number | undefined;
  /** File offset of the semaphore (the uprobe ref_ctr_offset); 0 when there is none. */
  semaphoreOffset: number;
}

/** Every USDT probe of an executable or shared library (empty when it has no .note.stapsdt). */
export function readUsdtProbes(elf: ElfFile): UsdtProbe[] {
  const notesSection = elf.sectionByName('.note.stapsdt');
  if (!notesSection) return [];
  const baseSection = elf.sectionByName('.stapsdt.base');
  const le = elf.littleEndian;
  const out: UsdtProbe[] = [];
  for (const note of elf.notesIn(notesSection.index)) {
    if (note.name !== 'stapsdt' || note.type !== NT_STAPSDT) continue;
    const d = note.desc;
    if (d.length < 24 + 3) throw new FormatError('ERR_ELF', `USDT note of ${d.length} bytes is too short`, note.offset);
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    let address = v.getBigUint64(0, le);
    const base = v.getBigUint64(8, le);
    let semaphore = v.getBigUint64(16, le);
    const strings: string[] = [];
    let pos = 24;
    for (let i = 0; i < 3; i++) {
      const end = d.indexOf(0, pos);
      if (end < 0) throw new FormatError('ERR_ELF', 'USDT note strings are not NUL-terminated', note.offset);
      strings.push(new TextDecoder().decode(d.subarray(pos, end)));
      pos = end + 1;
    }
    if (baseSection && base !== 0n) {
      const delta = baseSection.addr - base;
      address += delta;
      if (semaphore !== 0n) semaphore += delta;
    }
    const [provider, name, argsText] = strings as [string, string, string];
    let semaphoreOffset = 0;
    if (semaphore !== 0n) {
      const off = elf.addressToFileOffset(semaphore);
      if (off === undefined) throw new FormatError('ERR_ELF', `USDT ${provider}:${name}: semaphore address 0x${semaphore.toString(16)} is not backed by the file`, note.offset);
      semaphoreOffset = off;
    }
    out.push({
      provider,
      name,
      address,
      semaphore,
      base,
      argsText,
      args: parseUsdtArgs(argsText, elf.machine),
      fileOffset: elf.addressToFileOffset(address),
      semaphoreOffset,
    });
  }
  return out;
}

const EM_X86_64 = 62;
const EM_AARCH64 = 183;

/**
 * Decodes an argument specification string (`-4@%eax 8@-16(%rbp) 4@$42`): x86-64 (AT&T
 * syntax) by default; arm64 specs (`8@x0`, `4@[sp, 12]`, `-4@[x1]`) with `machine` EM_AARCH64.
 * Throws FormatError for a spec it can't read.
 */
export function parseUsdtArgs(text: string, machine = EM_X86_64): UsdtArg[] {
  const out: UsdtArg[] = [];
  const s = text.trim();
  if (s === '') return out;
  // Arguments are separated by spaces; arm64's `[sp, 12]` has one inside brackets.
  const parts: string[] = [];
  let cur = '';
  let depth = 0;
  for (const ch of s) {
    if (ch === '[' || ch === '(') depth++;
    if (ch === ']' || ch === ')') depth--;
    if (ch === ' ' && depth === 0) {
      if (cur) parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) parts.push(cur);
  for (const part of parts) out.push(parseOne(part, machine));
  return out;
}

function parseOne(spec: string, machine: number): UsdtArg {
  const at = spec.indexOf('@');
  if (at <= 0) throw new FormatError('ERR_USDT_ARG', `USDT argument '${spec}': expected SIZE@LOCATION`);
  const sz = Number(spec.slice(0, at));
  const size = Math.abs(sz);
  if (![1, 2, 4, 8].includes(size)) throw new FormatError('ERR_USDT_ARG', `USDT argument '${spec}': size ${sz} is not 1, 2, 4 or 8 (signed negative)`);
  const loc = spec.slice(at + 1);
  const location = machine === EM_AARCH64 ? parseArm64(loc, spec) : parseX86(loc, spec);
  return { size, signed: sz < 0, location, text: spec };
}

const num = (t: string, spec: string): bigint => {
  const m = /^([+-]?)(0x[0-9a-f]+|\d+)$/i.exec(t.trim());
  if (!m) throw new FormatError('ERR_USDT_ARG', `USDT argument '${spec}': '${t}' is not a number`);
  const v = BigInt(m[2]!);
  return m[1] === '-' ? -v : v;
};

function parseX86(loc: string, spec: string): UsdtArgLocation {
  let m: RegExpExecArray | null;
  if ((m = /^\$(.+)$/.exec(loc))) return { kind: 'const', value: num(m[1]!, spec) };
  if ((m = /^%(\w+)$/.exec(loc))) return { kind: 'reg', reg: x86Reg(m[1]!, spec) };
  if ((m = /^([+-]?(?:0x[0-9a-f]+|\d+))?\(%(\w+)\)$/i.exec(loc))) {
    return { kind: 'deref', reg: x86Reg(m[2]!, spec), offset: m[1] ? num(m[1], spec) : 0n };
  }
  if ((m = /^([+-]?(?:0x[0-9a-f]+|\d+))?\(%(\w+),%(\w+)(?:,(\d+))?\)$/i.exec(loc))) {
    const scale = m[4] ? Number(m[4]) : 1;
    if (![1, 2, 4, 8].includes(scale)) throw new FormatError('ERR_USDT_ARG', `USDT argument '${spec}': scale ${scale}`);
    return { kind: 'sib', reg: x86Reg(m[2]!, spec), indexReg: x86Reg(m[3]!, spec), scale, offset: m[1] ? num(m[1], spec) : 0n };
  }
  throw new FormatError('ERR_USDT_ARG', `USDT argument '${spec}': unrecognised x86-64 location '${loc}'`);
}

function parseArm64(loc: string, spec: string): UsdtArgLocation {
  let m: RegExpExecArray | null;
  if ((m = /^\[(\w+)(?:,\s*(-?\d+|-?0x[0-9a-f]+))?\]$/i.exec(loc))) return { kind: 'deref', reg: m[1]!, offset: m[2] ? num(m[2], spec) : 0n };
  if (/^-?(\d+|0x[0-9a-f]+)$/i.test(loc)) return { kind: 'const', value: num(loc, spec) };
  if ((m = /^(x\d+|w\d+|sp|xzr)$/.exec(loc))) return { kind: 'reg', reg: m[1]!.replace(/^w/, 'x') };
  throw new FormatError('ERR_USDT_ARG', `USDT argument '${spec}': unrecognised arm64 location '${loc}'`);
}

/** The 64-bit x86 register a register name (`eax`, `ax`, `al`, `r8d`...) is part of. */
const X86_ALIASES: Record<string, string> = {};
for (const [full, ...aliases] of [
  ['rax', 'eax', 'ax', 'al', 'ah'],
  ['rbx', 'ebx', 'bx', 'bl', 'bh'],
  ['rcx', 'ecx', 'cx', 'cl', 'ch'],
  ['rdx', 'edx', 'dx', 'dl', 'dh'],
  ['rsi', 'esi', 'si', 'sil'],
  ['rdi', 'edi', 'di', 'dil'],
  ['rbp', 'ebp', 'bp', 'bpl'],
  ['rsp', 'esp', 'sp', 'spl'],
  ['rip', 'eip', 'ip'],
] as const) {
  X86_ALIASES[full] = full;
  for (const a of aliases) X86_ALIASES[a] = full;
}
for (let i = 8; i <= 15; i++) for (const suffix of ['', 'd', 'w', 'b']) X86_ALIASES[`r${i}${suffix}`] = `r${i}`;

function x86Reg(name: string, spec: string): string {
  const r = X86_ALIASES[name.toLowerCase()];
  if (!r) throw new FormatError('ERR_USDT_ARG', `USDT argument '${spec}': unknown x86-64 register '%${name}'`);
  if (['ah', 'bh', 'ch', 'dh'].includes(name.toLowerCase())) {
    throw new FormatError('ERR_USDT_ARG', `USDT argument '${spec}': high-byte register '%${name}' is not supported`);
  }
  return r;
}

/** Offsets of x86-64 registers in struct pt_regs (what a BPF program on a uprobe reads). */
export const X86_64_PT_REGS_OFFSETS: Readonly<Record<string, number>> = {
  r15: 0,
  r14: 8,
  r13: 16,
  r12: 24,
  rbp: 32,
  rbx: 40,
  r11: 48,
  r10: 56,
  r9: 64,
  r8: 72,
  rax: 80,
  rcx: 88,
  rdx: 96,
  rsi: 104,
  rdi: 112,
  rip: 128,
  rsp: 152,
};

/** Offsets of arm64 registers in struct user_pt_regs (x0..x30, sp, pc). */
export const ARM64_PT_REGS_OFFSETS: Readonly<Record<string, number>> = Object.fromEntries([
  ...Array.from({ length: 31 }, (_, i) => [`x${i}`, i * 8] as const),
  ['sp', 31 * 8],
  ['pc', 32 * 8],
]);
