/**
 * Compiling BPF C with clang for bpf2ts: `clang -O2 -g -target bpfel|bpfeb`, then the DWARF
 * stripped (`llvm-strip -g`), which keeps .BTF and .BTF.ext (what the loader needs) and drops
 * the debug sections (most of the object's size).
 *
 * The object is deterministic for a given command line: clang runs in the caller's directory
 * with the source path as given, writes to stdout (clang-19's BTF type order was seen to depend
 * on the -o path), and `-fdebug-prefix-map` maps that directory to `.`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { arch, endianness, tmpdir } from 'node:os';
import { basename, delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { Bpf2tsError } from './errors.js';

export type Target = 'bpfel' | 'bpfeb' | 'native';

export interface CompileOptions {
  /** The BPF C source, as given on the command line (relative paths stay relative). */
  source: string;
  /** The compiler (default `$BPF2TS_CC`, else `clang-19`): a name looked up in PATH, or a path. */
  cc?: string;
  /** bpfel, bpfeb, or native (the host's byte order, the default). */
  target?: Target;
  /** Include directories (-I), before the system's multiarch directory. */
  includeDirs?: readonly string[];
  /** More clang flags (-DDEBUG, -mcpu=v3...). */
  cflags?: readonly string[];
  /** Keep the DWARF debug info (default: strip it, keeping BTF). */
  keepDebug?: boolean;
  /** Directory clang runs in (default process.cwd()). */
  cwd?: string;
  /** Environment (default process.env): PATH, BPF2TS_CC, BPF2TS_STRIP. */
  env?: NodeJS.ProcessEnv;
}

export interface CompileResult {
  /** The object's bytes. */
  object: Uint8Array;
  /** The clang-style target used. */
  target: 'bpfel' | 'bpfeb';
  /** What clang printed on stderr (warnings), verbatim. */
  diagnostics: string;
  /** The compiler and strip tool used. */
  cc: string;
  strip: string | undefined;
}

/** A compile failure: `diagnostics` holds clang's stderr as it printed it (file:line:col: error: ...). */
export class CompileError extends Bpf2tsError {
  readonly diagnostics: string;
  readonly exitCode: number | null;
  constructor(message: string, diagnostics: string, exitCode: number | null) {
    super('ERR_BPF2TS_COMPILE', message);
    this.diagnostics = diagnostics;
    this.exitCode = exitCode;
  }
}

export const DEFAULT_CC = 'clang-19';

/** `__TARGET_ARCH_<x>` for bpf_tracing.h's PT_REGS macros, from Node's arch names (as libbpf's Makefiles spell them). */
const TARGET_ARCH: Record<string, string> = {
  x64: 'x86',
  ia32: 'x86',
  arm64: 'arm64',
  arm: 'arm',
  s390x: 's390',
  ppc64: 'powerpc',
  riscv64: 'riscv',
  loong64: 'loongarch',
  mips: 'mips',
  mipsel: 'mips',
};

/** Debian's multiarch triplets: <asm/types.h>, which <linux/bpf.h> includes, lives there. */
const MULTIARCH: Record<string, string> = {
  x64: 'x86_64-linux-gnu',
  ia32: 'i386-linux-gnu',
  arm64: 'aarch64-linux-gnu',
  arm: 'arm-linux-gnueabihf',
  s390x: 's390x-linux-gnu',
  ppc64: 'powerpc64le-linux-gnu',
  riscv64: 'riscv64-linux-gnu',
  loong64: 'loongarch64-linux-gnu',
};

/** The byte order `native` means here. */
export function nativeTarget(): 'bpfel' | 'bpfeb' {
  return endianness() === 'LE' ? 'bpfel' : 'bpfeb';
}

/** Looks a command up in PATH (or checks a path); returns its path or undefined. */
export function which(cmd: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const isFile = (p: string) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (cmd.includes('/')) return isFile(cmd) ? cmd : undefined;
  for (const dir of (env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    if (isFile(p)) return p;
  }
  return undefined;
}

/** The Debian package that provides a clang named like `cc` (clang-19 -> clang-19). */
function clangPackage(cc: string): string {
  const m = /^clang(-\d+)?$/.exec(basename(cc));
  return m ? `clang${m[1] ?? ''}` : 'clang-19';
}

/** Finds the compiler; Bpf2tsError naming the Debian package when it is missing. */
export function findCompiler(options: { cc?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const env = options.env ?? process.env;
  const cc = options.cc ?? (env['BPF2TS_CC'] || DEFAULT_CC);
  const found = which(cc, env);
  if (found) return found;
  const how = options.cc ? ' (given with --cc)' : env['BPF2TS_CC'] ? ' (from $BPF2TS_CC)' : '';
  throw new Bpf2tsError('ERR_BPF2TS_CC', `${cc} not found${how}: install the Debian package ${clangPackage(cc)} (apt-get install ${clangPackage(cc)}), or pass --cc with the clang to use`);
}

/**
 * Finds llvm-strip (or llvm-objcopy) matching the compiler: `$BPF2TS_STRIP`; beside the
 * compiler's real path (/usr/lib/llvm-19/bin/llvm-strip for /usr/bin/clang-19); with the
 * compiler's version suffix in PATH (llvm-strip-19); then unversioned.
 */
export function findStrip(cc: string, env: NodeJS.ProcessEnv = process.env): { path: string; args: string[] } {
  const flavour = (p: string) => (basename(p).startsWith('llvm-objcopy') ? ['--strip-debug'] : ['-g']);
  const fromEnv = env['BPF2TS_STRIP'];
  if (fromEnv) {
    const p = which(fromEnv, env);
    if (!p) throw new Bpf2tsError('ERR_BPF2TS_CC', `${fromEnv} (from $BPF2TS_STRIP) not found`);
    return { path: p, args: flavour(p) };
  }
  const suffix = /^clang(-\d+)?$/.exec(basename(cc))?.[1] ?? '';
  const candidates: string[] = [];
  try {
    const real = realpathSync(cc);
    candidates.push(join(dirname(real), 'llvm-strip'), join(dirname(real), 'llvm-objcopy'));
  } catch {
    // a compiler that vanished: the PATH lookups below decide
  }
  candidates.push(join(dirname(cc), `llvm-strip${suffix}`), join(dirname(cc), `llvm-objcopy${suffix}`));
  for (const c of candidates) if (existsSync(c)) return { path: c, args: flavour(c) };
  for (const name of [`llvm-strip${suffix}`, `llvm-objcopy${suffix}`, 'llvm-strip', 'llvm-objcopy']) {
    const p = which(name, env);
    if (p) return { path: p, args: flavour(p) };
  }
  const pkg = suffix ? `llvm${suffix}` : 'llvm-19';
  throw new Bpf2tsError('ERR_BPF2TS_CC', `llvm-strip${suffix} not found (needed to strip DWARF from the object, keeping BTF): install the Debian package ${pkg}, or set BPF2TS_STRIP`);
}

/** The clang command line for a source (exported for tests and --verbose). */
export function clangArgs(options: CompileOptions, target: 'bpfel' | 'bpfeb', cwd: string): string[] {
  const archName = TARGET_ARCH[arch()] ?? 'x86';
  const args = ['-O2', '-g', '-target', target, `-D__TARGET_ARCH_${archName}`, `-fdebug-prefix-map=${cwd}=.`];
  for (const dir of options.includeDirs ?? []) args.push(`-I${dir}`);
  const multiarch = MULTIARCH[arch()];
  if (multiarch && existsSync(`/usr/include/${multiarch}`)) args.push(`-I/usr/include/${multiarch}`);
  args.push(...(options.cflags ?? []));
  args.push('-c', options.source, '-o', '-');
  return args;
}

/** Compiles a BPF C source; throws CompileError (with clang's diagnostics) when clang fails. */
export function compile(options: CompileOptions): CompileResult {
  const env = options.env ?? process.env;
  const cc = findCompiler({ cc: options.cc, env });
  const target = !options.target || options.target === 'native' ? nativeTarget() : options.target;
  if (target !== 'bpfel' && target !== 'bpfeb') throw new Bpf2tsError('ERR_BPF2TS_USAGE', `unknown target '${String(target)}': bpfel, bpfeb or native`);
  const cwd = options.cwd ?? process.cwd();
  const src = isAbsolute(options.source) ? options.source : resolve(cwd, options.source);
  if (!existsSync(src)) throw new Bpf2tsError('ERR_BPF2TS_USAGE', `${options.source}: no such file`);
  const strip = options.keepDebug ? undefined : findStrip(cc, env);
  const r = spawnSync(cc, clangArgs(options, target, cwd), { cwd, env, maxBuffer: 1 << 30, encoding: 'buffer' });
  if (r.error) throw new Bpf2tsError('ERR_BPF2TS_CC', `running ${cc}: ${r.error.message}`);
  const diagnostics = r.stderr.toString('utf8');
  if (r.status !== 0) {
    throw new CompileError(`${basename(cc)} failed to compile ${options.source} (exit ${r.status ?? r.signal})`, diagnostics, r.status);
  }
  let object = new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
  if (strip) {
    const dir = mkdtempSync(join(tmpdir(), 'bpf2ts-'));
    try {
      const raw = join(dir, 'raw.o');
      const out = join(dir, 'stripped.o');
      writeFileSync(raw, object);
      const s = spawnSync(strip.path, [...strip.args, raw, '-o', out], { env, encoding: 'utf8' });
      if (s.error || s.status !== 0) {
        throw new Bpf2tsError('ERR_BPF2TS_CC', `${strip.path} failed: ${s.error?.message ?? s.stderr.trim()}`);
      }
      object = new Uint8Array(readFileSync(out));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { object: Uint8Array.from(object), target, diagnostics, cc, strip: strip?.path };
}
