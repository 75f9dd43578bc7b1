/**
 * `bpf2ts [options] <name> <source.bpf.c | object.o> [-- <clang flags>]`: compiles a BPF C
 * program and writes `<name>.bpf.o` and `<name>.ts` (typed bindings, the object embedded).
 * Exit codes: 0 done, 1 failure (the reason on stderr; clang's diagnostics verbatim), 2 usage.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { EbpfError } from '../errors.js';
import { Spec, writeCHeader } from '../btf/index.js';
import { compile, CompileError, DEFAULT_CC, nativeTarget, type Target } from './compile.js';
import { Bpf2tsError } from './errors.js';
import { generateBindings } from './generate.js';

export const USAGE = `Usage: bpf2ts [options] <name> <source.bpf.c | object.o> [-- <clang flags>]

Compiles a BPF C program with clang and writes <name>.bpf.o and <name>.ts: TypeScript
bindings that embed the object and export open<Name>(), load<Name>(), and interfaces and codecs
for the map and record types. An object file (.o) is used as it is, without compiling.

Options:
  -o, --output-dir DIR   where to write the files (default: the source's directory)
  --cc CLANG             the compiler (default: $BPF2TS_CC, else ${DEFAULT_CC})
  --cflags "FLAGS"       more clang flags, split at spaces (flags after -- are passed as they are)
  --target T             bpfel, bpfeb or native (default native: this host's byte order, ${nativeTarget()})
  -I, --include DIR      an include directory (repeatable)
  --type NAME            also generate an interface and codec for type NAME (repeatable):
                         'event', 'struct event', a typedef name
  --ringbuf MAP=TYPE     records of ring buffer MAP are TYPE: maps.MAP decodes them (repeatable)
  --perf MAP=TYPE        samples of perf event array MAP are TYPE (repeatable)
  --import-from MODULE   module the bindings import the runtime from (default: ebpf-ts)
  --vmlinux-h            first write vmlinux.h next to the source, from the kernel's BTF
  --btf FILE             BTF for --vmlinux-h (default: /sys/kernel/btf/vmlinux)
  --keep-debug           keep the DWARF debug info in the object (default: strip it, keep BTF)
  -h, --help             this text

Names: programs, maps and variables are camelCased (handle_exec -> handleExec), types
PascalCased (struct event -> Event); a name already taken gets _2, _3... in the object's order.
Ring buffers carry no record type in BTF: bind one with --ringbuf MAP=TYPE (the struct must be
in BTF: used by a global or a map, e.g. \`const struct event *unused __attribute__((unused));\`).`;

export interface Bpf2tsOptions {
  name: string;
  /** A C source, or an object file (.o / ELF) to use as it is. */
  source: string;
  outputDir?: string;
  cc?: string;
  cflags?: string[];
  target?: Target;
  includeDirs?: string[];
  types?: string[];
  ringbuf?: [string, string][];
  perf?: [string, string][];
  importFrom?: string;
  vmlinuxHeader?: boolean;
  btf?: string;
  keepDebug?: boolean;
  /** The command line to write in the header (without the output directory). */
  command?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface Bpf2tsResult {
  objectPath: string;
  tsPath: string;
  vmlinuxPath?: string;
  warnings: string[];
  /** clang's warnings, verbatim. */
  diagnostics: string;
}

class UsageError extends Bpf2tsError {
  constructor(message: string) {
    super('ERR_BPF2TS_USAGE', message);
  }
}

function isElf(path: string): boolean {
  try {
    const b = readFileSync(path).subarray(0, 4);
    return b.length === 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
  } catch {
    return false;
  }
}

/** Runs bpf2ts: compile (unless given an object), write the object and the bindings. */
export function runBpf2ts(o: Bpf2tsOptions): Bpf2tsResult {
  const cwd = o.cwd ?? process.cwd();
  const srcPath = resolve(cwd, o.source);
  if (!existsSync(srcPath)) throw new UsageError(`${o.source}: no such file`);
  const outDir = resolve(cwd, o.outputDir ?? dirname(o.source));
  mkdirSync(outDir, { recursive: true });
  const objectPath = join(outDir, `${o.name}.bpf.o`);
  const tsPath = join(outDir, `${o.name}.ts`);
  let vmlinuxPath: string | undefined;
  let object: Uint8Array;
  let embed: Uint8Array | undefined;
  let diagnostics = '';
  if (isElf(srcPath)) {
    object = new Uint8Array(readFileSync(srcPath));
    if (realpathSync(srcPath) !== (existsSync(objectPath) ? realpathSync(objectPath) : objectPath)) copyFileSync(srcPath, objectPath);
  } else {
    if (o.vmlinuxHeader) {
      const btfPath = o.btf ?? '/sys/kernel/btf/vmlinux';
      vmlinuxPath = join(dirname(srcPath), 'vmlinux.h');
      writeFileSync(vmlinuxPath, writeCHeader(Spec.parse(readFileSync(btfPath)).types()));
    }
    const base = { source: o.source, cc: o.cc, includeDirs: o.includeDirs, cflags: o.cflags, keepDebug: o.keepDebug, cwd, env: o.env };
    const built = compile({ ...base, target: o.target });
    diagnostics = built.diagnostics;
    object = built.object;
    if (built.target !== nativeTarget()) {
      // The loader reads only objects of the host's byte order; names and layouts are the
      // same in both, so read them from a host-order build and embed the requested one.
      embed = built.object;
      object = compile({ ...base, target: 'native' }).object;
    }
    writeFileSync(objectPath, embed ?? object);
  }
  const { code, warnings } = generateBindings(object, {
    name: o.name,
    types: o.types,
    ringbuf: o.ringbuf,
    perf: o.perf,
    importFrom: o.importFrom,
    source: o.source,
    command: o.command,
    embed,
  });
  writeFileSync(tsPath, code);
  return { objectPath, tsPath, vmlinuxPath, warnings, diagnostics };
}

/** Parses bpf2ts's command line. Throws a usage Bpf2tsError; undefined for --help. */
export function parseArgs(argv: string[]): Bpf2tsOptions | undefined {
  const positional: string[] = [];
  const o: Omit<Bpf2tsOptions, 'name' | 'source'> & { cflags: string[]; includeDirs: string[]; types: string[]; ringbuf: [string, string][]; perf: [string, string][] } = {
    cflags: [],
    includeDirs: [],
    types: [],
    ringbuf: [],
    perf: [],
  };
  const command: string[] = ['bpf2ts'];
  let i = 0;
  const value = (flag: string, inline: string | undefined): string => {
    if (inline !== undefined) return inline;
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  const binding = (flag: string, v: string): [string, string] => {
    const m = /^([^=]+)=(.+)$/.exec(v);
    if (!m) throw new UsageError(`${flag} expects MAP=TYPE (e.g. ${flag} events=event), got '${v}'`);
    return [m[1]!.trim(), m[2]!.trim()];
  };
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      o.cflags.push(...argv.slice(i + 1));
      command.push(...argv.slice(i));
      break;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const inline = eq > 0 ? a.slice(eq + 1) : undefined;
    const start = i;
    switch (flag) {
      case '-h':
      case '--help':
        return undefined;
      case '-o':
      case '--output-dir':
        o.outputDir = value(flag, inline);
        continue; // not in the header: where the files go doesn't change them
      case '--cc':
        o.cc = value(flag, inline);
        break;
      case '--cflags':
        o.cflags.push(...value(flag, inline).split(/\s+/).filter(Boolean));
        break;
      case '--target': {
        const t = value(flag, inline);
        if (t !== 'bpfel' && t !== 'bpfeb' && t !== 'native') throw new UsageError(`--target: '${t}' is not bpfel, bpfeb or native`);
        o.target = t;
        break;
      }
      case '-I':
      case '--include':
        o.includeDirs.push(value(flag, inline));
        break;
      case '--type':
        o.types.push(value(flag, inline));
        break;
      case '--ringbuf':
        o.ringbuf.push(binding(flag, value(flag, inline)));
        break;
      case '--perf':
        o.perf.push(binding(flag, value(flag, inline)));
        break;
      case '--import-from':
        o.importFrom = value(flag, inline);
        break;
      case '--vmlinux-h':
        o.vmlinuxHeader = true;
        break;
      case '--btf':
        o.btf = value(flag, inline);
        break;
      case '--keep-debug':
        o.keepDebug = true;
        break;
      default:
        if (/^-I./.test(a)) {
          o.includeDirs.push(a.slice(2));
          break;
        }
        if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option '${a}' (clang flags go after --)`);
        positional.push(a);
    }
    command.push(...argv.slice(start, i + 1).map(shellQuote));
  }
  if (positional.length !== 2) {
    throw new UsageError(positional.length < 2 ? 'expected <name> and <source.bpf.c>' : `unexpected argument '${positional[2]}'`);
  }
  const [name, source] = positional as [string, string];
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`<name> '${name}' must be a C identifier: it names open${name}() and ${name}.ts`);
  return { ...o, name, source, command: command.join(' ') };
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./=:,+@%-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** The command: returns the exit code. */
export function main(argv: string[], io: CliIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }): number {
  let options: Bpf2tsOptions | undefined;
  try {
    options = parseArgs(argv);
  } catch (err) {
    if (err instanceof Bpf2tsError) {
      io.stderr(`bpf2ts: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (!options) {
    io.stdout(USAGE + '\n');
    return 0;
  }
  try {
    const r = runBpf2ts(options);
    if (r.diagnostics) io.stderr(r.diagnostics);
    for (const w of r.warnings) io.stderr(`bpf2ts: warning: ${w}\n`);
    if (r.vmlinuxPath) io.stderr(`bpf2ts: wrote ${r.vmlinuxPath}\n`);
    io.stderr(`bpf2ts: wrote ${r.objectPath} and ${r.tsPath}\n`);
    return 0;
  } catch (err) {
    if (err instanceof CompileError) {
      // clang's own lines (file:line:col: error: ...), as it printed them.
      io.stderr(err.diagnostics);
      if (err.diagnostics && !err.diagnostics.endsWith('\n')) io.stderr('\n');
      io.stderr(`bpf2ts: ${err.message}\n`);
      return 1;
    }
    if (err instanceof UsageError) {
      io.stderr(`bpf2ts: ${err.message}\n`);
      return 2;
    }
    if (err instanceof EbpfError) {
      io.stderr(`bpf2ts: ${err.message}\n`);
      return 1;
    }
    if (err instanceof Error && 'code' in err && typeof (err as NodeJS.ErrnoException).path === 'string') {
      io.stderr(`bpf2ts: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

