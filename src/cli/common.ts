/**
 * What the prog, map and btf commands share: output context, errors, bpftool's argument
 * grammar for naming objects (`id N`, `pinned PATH`, `tag T`, `name N`) and for bytes
 * (`[hex] 1 2 3`), and bpftool's hex layout.
 */
import { EbpfError, BpfError } from '../errors.js';
import { errno, getFdById, objGet, openEach, progInfo, mapInfo, FD } from '../sys/index.js';
import { bpfObjectKind } from '../programs/fd_kind.js';
import { fullProgramName } from '../programs/program.js';
import { JsonWriter } from './json_writer.js';

export interface CliContext {
  json: boolean;
  pretty: boolean;
  /** Writes to standard output as is. */
  out(text: string): void;
}

/** Wrong arguments: exit code 2 with the usage text. */
export class CliUsageError extends Error {}

/** A command that failed for a reason worth one line on stderr (exit code 1). */
export class CliError extends EbpfError {
  constructor(message: string, code = 'ERR_CLI') {
    super(code, message);
  }
}

/** bpftool's is_prefix: `show` accepts `sh`, `s`... */
export function isPrefix(word: string | undefined, full: string): boolean {
  return word !== undefined && word.length > 0 && full.startsWith(word);
}

/** A JSON writer for -j/-p output; `end()` adds bpftool's final newline. */
export function jsonWriter(ctx: CliContext): JsonWriter {
  return new JsonWriter(ctx.pretty);
}

export function endJson(ctx: CliContext, w: JsonWriter): void {
  ctx.out(w.take() + '\n');
}

/** `01 02 ff` (bpftool's fprint_hex with a " " separator). */
export function hexLine(bytes: Uint8Array, sep = ' '): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(sep);
}

function parseId(word: string | undefined, what: string): number {
  // strtoul(..., 0): decimal, 0x hex or 0 octal.
  if (word === undefined) throw new CliUsageError(`expected ${what} id`);
  const n = /^0x[0-9a-f]+$/i.test(word) ? parseInt(word, 16) : /^0[0-7]+$/.test(word) ? parseInt(word, 8) : /^\d+$/.test(word) ? Number(word) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new CliUsageError(`can't parse ${word} as ID`);
  return n;
}

const KIND_NAME = { prog: 'program', map: 'map', btf: 'BTF object', link: 'link' } as const;

/** Opens an object by id, with "no program with id N" for ids that don't exist. */
export function openById(kind: 'prog' | 'map' | 'btf', id: number): FD {
  try {
    return getFdById(kind, id);
  } catch (e) {
    if (e instanceof BpfError && e.errno === errno.ENOENT) throw new CliError(`no ${KIND_NAME[kind]} with id ${id}`, 'ENOENT');
    throw e;
  }
}

/** Opens a pinned object and checks that it is of the expected kind. */
export function openPinned(kind: 'prog' | 'map', path: string): FD {
  let fd: FD;
  try {
    fd = objGet(path);
  } catch (e) {
    if (e instanceof BpfError && e.errno === errno.ENOENT) throw new CliError(`nothing pinned at ${path}`, 'ENOENT');
    if (e instanceof BpfError && e.errno === errno.EPERM) throw new CliError(`${path} is not a BPF object pinned on bpffs (or access is denied)`, 'EPERM');
    throw e;
  }
  const actual = bpfObjectKind(fd.value);
  if (actual !== undefined && actual !== kind) {
    fd.close();
    throw new CliError(`${path} is a pinned ${KIND_NAME[actual]}, not a ${KIND_NAME[kind]}`, 'ERR_WRONG_KIND');
  }
  return fd;
}

export interface Parsed<T> {
  value: T;
  rest: string[];
}

/**
 * bpftool's PROG or MAP: `id N`, `pinned PATH`, `name NAME` (several objects may match),
 * and for programs `tag TAG`. Returns the open fds (the caller closes them) and the arguments
 * after the specifier.
 */
export function parseObjects(kind: 'prog' | 'map', args: string[]): Parsed<FD[]> {
  const [how, what, ...rest] = args;
  if (isPrefix(how, 'id')) return { value: [openById(kind, parseId(what, kind))], rest };
  if (isPrefix(how, 'pinned')) {
    if (!what) throw new CliUsageError('expected a path after pinned');
    return { value: [openPinned(kind, what)], rest };
  }
  if (isPrefix(how, 'name') || (kind === 'prog' && isPrefix(how, 'tag'))) {
    if (!what) throw new CliUsageError(`expected a ${how === 'tag' ? 'tag' : 'name'}`);
    const byTag = kind === 'prog' && isPrefix(how, 'tag') && !isPrefix(how, 'name');
    if (byTag && !/^[0-9a-f]{16}$/i.test(what)) throw new CliUsageError(`can't parse tag '${what}'`);
    const matches = (fd: FD): boolean => {
      if (kind !== 'prog') return mapInfo(fd.value).name === what;
      const info = progInfo(fd.value);
      // bpftool compares the full name (from BTF for 15-character kernel names).
      return byTag ? info.tag === what.toLowerCase() : (info.name.length === 15 ? fullProgramName(fd.value, info) : info.name) === what;
    };
    // As bpftool: an object that went away is skipped, any other failure to open or read one is
    // an error. Each fd is in `fds` from its opening, so that an error closes every one.
    const fds: FD[] = [];
    try {
      for (const fd of openEach(kind)) {
        fds.push(fd);
        if (!matches(fd)) fds.pop()!.close();
      }
    } catch (e) {
      for (const fd of fds) fd.close();
      throw e;
    }
    if (fds.length === 0) throw new CliError(`no ${KIND_NAME[kind]} ${byTag ? 'with tag' : 'named'} ${what}`, 'ENOENT');
    return { value: fds, rest };
  }
  throw new CliUsageError(`expected 'id', 'pinned'${kind === 'prog' ? ", 'tag'" : ''} or 'name', got: '${how ?? ''}'`);
}

/** Like parseObjects, for commands that act on exactly one object. */
export function parseObject(kind: 'prog' | 'map', args: string[]): Parsed<FD> {
  const { value, rest } = parseObjects(kind, args);
  if (value.length > 1) {
    for (const fd of value) fd.close();
    throw new CliError(`several ${KIND_NAME[kind]}s match; use 'id' or 'pinned'`);
  }
  return { value: value[0]!, rest };
}

/**
 * bpftool's parse_bytes: `[hex] B B B ...`, each byte decimal (or 0x.. / 0.. as strtoul with
 * base 0) or, after `hex`, hexadecimal. Stops at `n` bytes; fewer is an error that names the
 * sizes ("key is 4 bytes, got 3").
 */
export function parseBytes(args: string[], what: string, n: number): Parsed<Uint8Array> {
  let i = 0;
  let base = 0;
  if (isPrefix(args[0], 'hex')) {
    base = 16;
    i++;
  }
  const out = new Uint8Array(n);
  let count = 0;
  while (count < n && i < args.length) {
    const word = args[i]!;
    const v = parseByte(word, base);
    if (v === undefined) {
      if (/^[a-z_]+$/i.test(word)) break; // the next keyword: too few bytes
      throw new CliUsageError(`error parsing byte: ${word}`);
    }
    out[count++] = v;
    i++;
  }
  if (count !== n) throw new CliError(`${what} is ${n} byte${n === 1 ? '' : 's'}, got ${count}`, 'ERR_SIZE');
  return { value: out, rest: args.slice(i) };
}

function parseByte(word: string, base: number): number | undefined {
  let v: number;
  if (base === 16) v = /^(0x)?[0-9a-f]+$/i.test(word) ? parseInt(word.replace(/^0x/i, ''), 16) : NaN;
  else if (/^0x[0-9a-f]+$/i.test(word)) v = parseInt(word, 16);
  else if (/^0[0-7]*$/.test(word)) v = parseInt(word, 8);
  else if (/^[1-9]\d*$/.test(word)) v = Number(word);
  else v = NaN;
  // strtoul into an unsigned char keeps the low byte; bpftool accepts 256 as 0. Refuse it.
  if (!Number.isInteger(v) || v > 255) return undefined;
  return v;
}
