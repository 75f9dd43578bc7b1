/**
 * `ebpf-ts prog ...`, as bpftool prints it (tools/bpf/bpftool/prog.c, xlated_dumper.c):
 *   prog { show | list } [PROG]
 *   prog dump xlated PROG [opcodes | linum]
 *   prog run PROG data_in FILE [data_out FILE [data_size_out L]] [ctx_in FILE [ctx_out FILE
 *            [ctx_size_out M]]] [repeat N]
 *   prog pin PROG FILE
 *   prog loadall OBJ PINDIR [pinmaps MAPDIR]
 * where PROG is `id N`, `pinned PATH`, `tag TAG` or `name NAME`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { formatInstruction, formatOpcodes, isLdImm64, type Instruction } from '../asm/index.js';
import type { Spec } from '../btf/index.js';
import { Program, type XlatedProgram, type ProgLineRecord } from '../programs/program.js';
import { loadBtfById } from '../programs/kernel_btf.js';
import { FD, objPin, progInfo } from '../sys/index.js';
import { typeOnly } from './btf_dumper.js';
import { CliError, CliUsageError, endJson, isPrefix, jsonWriter, parseObject, parseObjects, type CliContext } from './common.js';
import type { JsonWriter } from './json_writer.js';
import { loadKernelSymbols, type KernelSymbols } from './kallsyms.js';
import { loadall } from './loadall.js';
import { progHeaderJson, progHeaderPlain, showPrograms } from './show.js';

export function progCommand(args: string[], ctx: CliContext): number {
  const [command = 'show', ...rest] = args;
  if (command === 'loadall') return loadall(rest, { out: ctx.out, err: (t) => console.error(t) });
  if (isPrefix(command, 'show') || isPrefix(command, 'list')) return progShow(rest, ctx);
  if (isPrefix(command, 'dump')) return progDump(rest, ctx);
  if (isPrefix(command, 'run')) return progRun(rest, ctx);
  if (isPrefix(command, 'pin')) return pinCommand('prog', rest, ctx);
  throw new CliUsageError(`unknown prog command '${command}'`);
}

function progShow(args: string[], ctx: CliContext): number {
  let ids: number[] | undefined;
  if (args.length) {
    const { value: fds, rest } = parseObjects('prog', args);
    try {
      ids = fds.map((fd) => progInfo(fd.value).id);
    } finally {
      for (const fd of fds) fd.close();
    }
    if (rest.length) throw new CliUsageError(`unexpected argument '${rest[0]}'`);
  }
  const text = showPrograms(ctx.json, ids, ctx.pretty);
  ctx.out(ctx.json ? text + '\n' : text);
  return 0;
}

/** `prog pin` and `map pin`: pins the object at PATH (which must be on bpffs). */
export function pinCommand(kind: 'prog' | 'map', args: string[], ctx: CliContext): number {
  const { value: fd, rest } = parseObject(kind, args);
  try {
    const [path, ...extra] = rest;
    if (!path) throw new CliUsageError(`${kind} pin: expected a path`);
    if (extra.length) throw new CliUsageError(`unexpected argument '${extra[0]}'`);
    objPin(fd.value, path);
  } finally {
    fd.close();
  }
  if (ctx.json) ctx.out('null\n');
  return 0;
}

// ---------------------------------------------------------------------------------------------
// prog dump xlated

interface DumpOptions {
  opcodes: boolean;
  linum: boolean;
}

function progDump(args: string[], ctx: CliContext): number {
  const [mode, ...rest] = args;
  if (isPrefix(mode, 'jited')) throw new CliError('prog dump jited is not supported: ebpf-ts has no x86 disassembler; use prog dump xlated', 'ENOTSUP');
  if (!isPrefix(mode, 'xlated')) throw new CliUsageError(`expected 'xlated' or 'jited', got: ${mode ?? ''}`);
  const { value: fds, rest: tail } = parseObjects('prog', rest);
  try {
    const opts: DumpOptions = { opcodes: false, linum: false };
    let file: string | undefined;
    const [opt, value, ...extra] = tail;
    if (isPrefix(opt, 'file')) {
      if (!value) throw new CliUsageError('expected file path');
      if (fds.length > 1) throw new CliError('several programs matched');
      file = value;
      if (extra.length) throw new CliUsageError(`unexpected argument '${extra[0]}'`);
    } else {
      if (isPrefix(opt, 'opcodes')) opts.opcodes = true;
      else if (isPrefix(opt, 'linum')) opts.linum = true;
      else if (opt !== undefined) throw new CliUsageError(`unexpected argument '${opt}'`);
      if (value !== undefined) throw new CliUsageError(`unexpected argument '${value}'`);
    }
    const syms = file ? undefined : loadKernelSymbols();
    const many = fds.length > 1;
    const w = jsonWriter(ctx);
    if (ctx.json && many) w.startArray();
    let text = '';
    fds.forEach((fd, i) => {
      const prog = Program.fromFd(new FD(fd.release(), 'program'));
      fds[i] = prog.fd;
      const x = prog.xlated();
      if (file) {
        writeFileSync(file, x.bytes, { mode: 0o600 });
        if (ctx.json) w.null();
        return;
      }
      const info = prog.info();
      if (ctx.json && many) {
        w.startObject();
        for (const [k, v] of Object.entries(progHeaderJson(prog.fd.value, info))) w.name(k).value(v);
        w.name('insns');
      } else if (many) {
        text += progHeaderPlain(prog.fd.value, info);
      }
      const btf = x.btfId ? loadBtfById(x.btfId) : undefined;
      if (ctx.json) dumpXlatedJson(w, x, btf, syms!, opts);
      else text += dumpXlatedPlain(x, btf, syms!, opts);
      if (ctx.json && many) w.endObject();
      else if (many && i !== fds.length - 1) text += '\n';
    });
    if (ctx.json && many) w.endArray();
    if (ctx.json) endJson(ctx, w);
    else ctx.out(text);
    return 0;
  } finally {
    for (const fd of fds) fd.close();
  }
}

/** How bpftool names call targets and immediates in translated code (xlated_dumper.c). */
function xlatedFormat(x: XlatedProgram, syms: KernelSymbols) {
  const plus = (n: number) => (n >= 0 ? `+${n}` : `${n}`);
  return {
    callName: (insn: Instruction): string | undefined => {
      if (insn.src === 1) {
        // bpf-to-bpf: the kernel keeps the distance in `offset` and the callee's index in imm.
        const off = plus((insn.offset << 16) >> 16);
        if (!x.jitedKsyms.length) return off;
        const address = (insn.imm >>> 0) < x.jitedKsyms.length ? x.jitedKsyms[insn.imm >>> 0]! : BigInt.asUintN(64, syms.callBase + BigInt(insn.imm | 0));
        const name = syms.lookup(address);
        return name ? `${off}#${name}` : `${off}#0x${address.toString(16)}`;
      }
      // Helpers and kfuncs: imm is the function's address relative to __bpf_call_base.
      const address = BigInt.asUintN(64, syms.callBase + BigInt(insn.imm | 0));
      return syms.lookup(address) ?? `0x${address.toString(16)}`;
    },
    // Ids print unsigned, as bpftool's %u.
    mapName: (imm: number) => `id:${imm >>> 0}`,
  };
}

/**
 * The line_info record for slot i, as libbpf's bpf_prog_linfo__lfind(i, nrSkip) finds it: the
 * last record at or before i, searching from the nrSkip-th. bpftool advances nrSkip by one per
 * line printed, so a record can print more than once; this reproduces that.
 */
function lfind(lines: ProgLineRecord[], i: number, nrSkip: number): ProgLineRecord | undefined {
  if (nrSkip >= lines.length || i < lines[nrSkip]!.insnOff) return undefined;
  let k = nrSkip;
  while (k + 1 < lines.length && lines[k + 1]!.insnOff <= i) k++;
  return lines[k];
}

/** Walks the program as bpftool's dump_xlated_*: func prototypes, source lines, instructions. */
function walkXlated(
  x: XlatedProgram,
  btf: Spec | undefined,
  visit: (slot: number, insn: Instruction, proto: string | undefined, line: ProgLineRecord | undefined) => void,
): void {
  let funcIdx = 0;
  let nrSkip = 0;
  let slot = 0;
  const lines = btf ? x.lineInfo : [];
  for (const insn of x.instructions) {
    let proto: string | undefined;
    const rec = btf ? x.funcInfo[funcIdx] : undefined;
    if (rec && rec.insnOff === slot) {
      const t = btf!.tryTypeById(rec.typeId);
      proto = t ? typeOnly(t) : '';
      funcIdx++;
    }
    const line = lines.length ? lfind(lines, slot, nrSkip) : undefined;
    if (line) nrSkip++;
    visit(slot, insn, proto || undefined, line);
    slot += isLdImm64(insn) ? 2 : 1;
  }
}

function sourceLine(btf: Spec, l: ProgLineRecord): string | undefined {
  try {
    return btf.stringAt(l.lineOff).replace(/^\s+/, '');
  } catch {
    return undefined;
  }
}

function fileName(btf: Spec, l: ProgLineRecord): string | undefined {
  try {
    return btf.stringAt(l.fileNameOff);
  } catch {
    return undefined;
  }
}

/** `prog dump xlated` text. */
export function dumpXlatedPlain(x: XlatedProgram, btf: Spec | undefined, syms: KernelSymbols, opts: DumpOptions): string {
  const fmt = xlatedFormat(x, syms);
  let out = '';
  walkXlated(x, btf, (slot, insn, proto, line) => {
    if (proto) out += `${proto}:\n`;
    if (line && btf) {
      const src = sourceLine(btf, line);
      if (src !== undefined) {
        out += opts.linum
          ? `; ${src} [file:${fileName(btf, line) ?? ''} line_num:${line.line} line_col:${line.column}]\n`
          : `; ${src}\n`;
      }
    }
    out += `${String(slot).padStart(4)}: ${formatInstruction(insn, fmt)}\n`;
    if (opts.opcodes) out += `       ${formatOpcodes(insn)}\n`;
  });
  return out;
}

/** `prog dump xlated` with -j: bpftool's objects (`proto`, `src`, `file`, `line_num`, `line_col`, `disasm`, `opcodes`). */
export function dumpXlatedJson(w: JsonWriter, x: XlatedProgram, btf: Spec | undefined, syms: KernelSymbols, opts: DumpOptions): void {
  const fmt = xlatedFormat(x, syms);
  const hex = (n: number) => `"0x${n.toString(16)}"`;
  w.startArray();
  walkXlated(x, btf, (slot, insn, proto, line) => {
    w.startObject();
    if (proto) w.stringField('proto', proto);
    if (line && btf) {
      const src = sourceLine(btf, line);
      if (src !== undefined) w.stringField('src', src);
      if (opts.linum) {
        const file = fileName(btf, line);
        if (file !== undefined) w.stringField('file', file);
        if (line.line) w.numberField('line_num', line.line);
        if (line.column) w.numberField('line_col', line.column);
      }
    }
    w.stringField('disasm', formatInstruction(insn, fmt));
    if (opts.opcodes) {
      const bytes = x.bytes.subarray(slot * 8, slot * 8 + (isLdImm64(insn) ? 16 : 8));
      w.name('opcodes').startObject();
      w.name('code').raw(`"0x${bytes[0]!.toString(16).padStart(2, '0')}"`);
      w.name('src_reg').raw(hex(bytes[1]! >> 4));
      w.name('dst_reg').raw(hex(bytes[1]! & 0xf));
      w.name('off').hexBytes(bytes.subarray(2, 4));
      // A 16-byte instruction's imm field runs on through the second half (bpftool prints 12 bytes).
      w.name('imm').hexBytes(bytes.subarray(4, isLdImm64(insn) ? 16 : 8));
      w.endObject();
    }
    w.endObject();
  });
  w.endArray();
}

// ---------------------------------------------------------------------------------------------
// prog run

/** bpftool's default output buffer size for data_out and ctx_out. */
const RUN_DEFAULT_SIZE = 32 * 1024;

function readInput(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path === '-' ? 0 : path));
  } catch (e) {
    throw new CliError(`failed to open ${path}: ${(e as Error).message}`, (e as NodeJS.ErrnoException).code ?? 'EIO');
  }
}

/** bpftool's hex_print: `0000000\t0102 0304 ...  | ........ ........`. */
export function hexDump(data: Uint8Array): string {
  let out = '';
  for (let i = 0; i < data.length; i += 16) {
    out += `${i.toString(16).padStart(7, '0')}\t`;
    let j = i;
    for (; j < i + 16 && j < data.length; j++) out += data[j]!.toString(16).padStart(2, '0') + (j % 2 ? ' ' : '');
    for (; j < i + 16; j++) out += '  ' + (j % 2 ? ' ' : '');
    out += '| ';
    for (j = i; j < i + 16 && j < data.length; j++) {
      const c = data[j]!;
      out += (c < 0x20 || c > 0x7e ? '.' : String.fromCharCode(c)) + (j === i + 7 ? ' ' : '');
    }
    out += '\n';
  }
  return out;
}

function parseSize(word: string | undefined, what: string): number {
  const n = word === undefined ? NaN : /^0x[0-9a-f]+$/i.test(word) ? parseInt(word, 16) : /^\d+$/.test(word) ? Number(word) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new CliUsageError(`can't parse ${word ?? '(nothing)'} as ${what}`);
  return n;
}

function progRun(args: string[], ctx: CliContext): number {
  const { value: fd, rest } = parseObject('prog', args);
  using prog = Program.fromFd(fd);
  const files: Record<string, string | undefined> = {};
  let dataSizeOut = 0;
  let ctxSizeOut = 0;
  let repeat = 1;
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i]!;
    const value = rest[i + 1];
    if (value === undefined) throw new CliUsageError(`expected a value after '${key}'`);
    const choice = ['data_in', 'data_out', 'data_size_out', 'ctx_in', 'ctx_out', 'ctx_size_out', 'repeat'].filter((k) => isPrefix(key, k));
    if (choice.length !== 1) {
      throw new CliUsageError(
        choice.length ? `ambiguous prefix: '${key}' could be ${choice.join(' or ')}` : `expected no more arguments, 'data_in', 'data_out', 'data_size_out', 'ctx_in', 'ctx_out', 'ctx_size_out' or 'repeat', got: '${key}'?`,
      );
    }
    switch (choice[0]) {
      case 'data_size_out':
        dataSizeOut = parseSize(value, 'output data size');
        break;
      case 'ctx_size_out':
        ctxSizeOut = parseSize(value, 'output context size');
        break;
      case 'repeat':
        repeat = parseSize(value, 'repeat number');
        break;
      default:
        files[choice[0]!] = value;
    }
  }
  if (files.data_in === '-' && files.ctx_in === '-') throw new CliUsageError('cannot use standard input for both data_in and ctx_in');
  const data = files.data_in !== undefined ? readInput(files.data_in) : undefined;
  const ctxIn = files.ctx_in !== undefined ? readInput(files.ctx_in) : undefined;
  const r = prog.testRun({
    data,
    dataOutSize: data ? dataSizeOut || RUN_DEFAULT_SIZE : 0,
    ctx: ctxIn,
    ctxOutSize: ctxIn ? ctxSizeOut || RUN_DEFAULT_SIZE : 0,
    repeat,
  });
  const w = jsonWriter(ctx);
  let text = '';
  if (ctx.json) w.startObject();
  const emit = (bytes: Uint8Array | undefined, size: number, file: string | undefined, key: string) => {
    if (!bytes || !size || file === undefined) return;
    if (file === '-') {
      if (ctx.json) w.name(key).decimalBytes(bytes);
      else text += hexDump(bytes);
    } else {
      writeFileSync(file, bytes);
    }
  };
  emit(r.dataOut, r.dataSizeOut, files.data_out, 'data_out');
  emit(r.ctxOut, r.ctxSizeOut, files.ctx_out, 'ctx_out');
  if (ctx.json) {
    w.numberField('retval', r.retval).numberField('duration', r.duration).endObject();
    endJson(ctx, w);
  } else {
    ctx.out(`${text}Return value: ${r.retval}, duration${repeat > 1 ? ' (average)' : ''}: ${r.duration}ns\n`);
  }
  return 0;
}
