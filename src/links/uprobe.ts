/**
 * uprobes and uretprobes: programs on instructions of a binary or shared library, found by
 * symbol (.symtab, then .dynsym), by virtual address, or by file offset; optionally only in
 * one process, with a reference counter (USDT semaphores) the kernel increments while the
 * probe is attached.
 *
 * A uprobe is a perf event of the uprobe PMU (4.17+): config1 points to the binary's path,
 * config2 is the file offset, config's retprobe bit makes a uretprobe, and its upper 32 bits
 * carry ref_ctr_offset (4.20+). Without the PMU, tracefs uprobe_events is used.
 * uprobe.multi (6.6+) attaches many offsets of one binary in one BPF link.
 */
import { accessSync, constants as fsConstants, existsSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ArgumentError, NotSupportedError } from '../errors.js';
import { ElfFile } from '../elf/index.js';
import type { Program } from '../programs/program.js';
import { AttachType, PERF_TYPE, ProgType, cString, linkCreate, perfEventOpen, type FD } from '../sys/index.js';
import { requireAttach, uprobeProbe } from '../features/attach.js';
import { Link, progFd } from './link.js';
import { attachToPerfEvent } from './perf_event.js';
import { createProbeEvent, hasProbeEvents, probePmu } from './tracefs.js';

const MULTIARCH: Record<string, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', s390x: 's390x-linux-gnu', ppc64: 'powerpc64le-linux-gnu', riscv64: 'riscv64-linux-gnu' };

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The path of a binary or library named without a directory, as libbpf resolves it: a library
 * (`libc.so.6`, a name containing `.so`) in LD_LIBRARY_PATH and the system library directories,
 * or the file mapped by process `pid` whose name starts with it; an executable in PATH. A name
 * with a `/` is returned as is. Throws ArgumentError when nothing is found.
 */
export function resolveBinaryPath(name: string, pid?: number): string {
  if (name.includes('/')) {
    if (!existsSync(name)) throw new ArgumentError(`uprobe target '${name}': no such file`, 'ENOENT');
    return name;
  }
  if (pid !== undefined && pid > 0) {
    try {
      for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
        const path = line.split(/\s+/).slice(5).join(' ');
        if (!path.startsWith('/')) continue;
        const base = path.slice(path.lastIndexOf('/') + 1);
        if (base === name || base.startsWith(`${name}.`) || base.startsWith(`${name}-`)) return path;
      }
    } catch {
      /* the process went away: search the usual places */
    }
  }
  if (name.includes('.so')) {
    const arch = MULTIARCH[process.arch];
    const dirs = [
      ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
      ...(arch ? [`/lib/${arch}`, `/usr/lib/${arch}`] : []),
      '/lib64',
      '/usr/lib64',
      '/lib',
      '/usr/lib',
      '/usr/local/lib',
    ];
    for (const d of dirs) {
      const p = join(d, name);
      if (existsSync(p)) return p;
    }
    throw new ArgumentError(`uprobe target '${name}': library not found in LD_LIBRARY_PATH or the system library directories`, 'ENOENT');
  }
  for (const d of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const p = join(d, name);
    if (isExecutableFile(p)) return p;
  }
  throw new ArgumentError(`uprobe target '${name}': executable not found in PATH`, 'ENOENT');
}

const elfCache = new Map<string, { key: string; elf: ElfFile }>();

/** Parses (and caches, keyed by path, size and mtime) the ELF file at `path`. */
export function openElf(path: string): ElfFile {
  const st = statSync(path);
  const key = `${st.size}:${st.mtimeMs}:${st.ino}`;
  const hit = elfCache.get(path);
  if (hit && hit.key === key) return hit.elf;
  const elf = ElfFile.parse(new Uint8Array(readFileSync(path)));
  if (elfCache.size >= 8) elfCache.delete(elfCache.keys().next().value!);
  elfCache.set(path, { key, elf });
  return elf;
}

/**
 * The file offset a uprobe on `symbol` (+ `offset`) of `path` attaches to. Symbols are looked
 * up in .symtab then .dynsym (GNU versions allowed: `memcpy@@GLIBC_2.14`).
 */
export function uprobeOffset(path: string, symbol: string, offset = 0): number {
  const elf = openElf(path);
  const at = elf.symbolFileOffset(symbol);
  if (at === undefined) throw new ArgumentError(`uprobe: symbol '${symbol}' not found in ${path} (.symtab or .dynsym)`, 'ENOENT');
  return at + offset;
}

export interface UprobeOptions {
  /** The binary or shared library: a path, or a name resolved like libbpf (`libc.so.6`, `bash`). */
  binary: string;
  /** A function (or any symbol) in it. Or give `address` or `offset` alone. */
  symbol?: string;
  /** With `symbol`: bytes past its start. Without: the file offset itself. */
  offset?: number;
  /** A virtual address in the binary (as `nm` prints it), instead of a symbol. */
  address?: bigint | number;
  /** Only this process (default: every process that maps the file). */
  pid?: number;
  /** A uretprobe: run when the function returns. */
  retprobe?: boolean;
  /** BPF cookie (5.15+). */
  cookie?: bigint | number;
  /**
   * File offset of a 2-byte reference counter (a USDT semaphore) that the kernel increments
   * in every process while the probe is attached (4.20+).
   */
  refCtrOffset?: number;
  /** Use tracefs uprobe_events even when the PMU exists. */
  forceTracefs?: boolean;
  forceIoctl?: boolean;
}

/** Resolves the binary's path and the file offset of the probe. */
export function resolveUprobeTarget(opts: Pick<UprobeOptions, 'binary' | 'symbol' | 'offset' | 'address' | 'pid'>): { path: string; offset: number } {
  const path = resolveBinaryPath(opts.binary, opts.pid);
  let offset: number;
  if (opts.symbol !== undefined) offset = uprobeOffset(path, opts.symbol, opts.offset ?? 0);
  else if (opts.address !== undefined) {
    const o = openElf(path).addressToFileOffset(opts.address);
    if (o === undefined) throw new ArgumentError(`uprobe: address 0x${BigInt(opts.address).toString(16)} is not in a loadable segment of ${path}`);
    offset = o;
  } else if (opts.offset !== undefined) offset = opts.offset;
  else throw new ArgumentError(`uprobe on ${opts.binary}: give a symbol, an address or an offset`);
  return { path, offset };
}

/** Attaches a uprobe (or uretprobe) program. See UprobeOptions. */
export function attachUprobe(prog: Program, opts: UprobeOptions): Link {
  const kind = opts.retprobe ? ('uretprobe' as const) : ('uprobe' as const);
  const { path, offset } = resolveUprobeTarget(opts);
  const what = `${kind} ${path}:${opts.symbol ? `${opts.symbol}+` : ''}0x${offset.toString(16)}${opts.pid !== undefined ? ` pid ${opts.pid}` : ''}`;
  progFd(prog, what);
  if (prog.type !== ProgType.KPROBE) throw new ArgumentError(`${what}: program '${prog.name}' is a ${prog.typeName} program, not kprobe (uprobes run kprobe programs)`);
  requireAttach(uprobeProbe(), what);
  const pid = opts.pid ?? -1;
  const cpu = pid >= 0 ? -1 : 0;
  const refCtr = opts.refCtrOffset ?? 0;
  const pmu = opts.forceTracefs ? undefined : probePmu('uprobe');
  const details = {
    kind: 'perf_event' as const,
    eventType: kind,
    name: path,
    offset,
    addr: 0n,
    missed: 0n,
    refCtrOffset: BigInt(refCtr),
    config: 0n,
    perfType: 0,
    cookie: 0n,
  };
  const cleanup: (() => void)[] = [];
  let perf: FD;
  if (pmu) {
    const config = (opts.retprobe ? 1n << BigInt(pmu.retprobeBit) : 0n) | (BigInt(refCtr) << 32n);
    perf = perfEventOpen({ type: pmu.type, config, config1String: path, config2: offset, samplePeriodOrFreq: 1, wakeup: 1 }, pid, cpu, -1, undefined, what);
  } else {
    if (!hasProbeEvents('uprobe')) requireAttach({ available: false, feature: 'uprobes (CONFIG_UPROBE_EVENTS)' }, what);
    const target = `${path}:0x${offset.toString(16)}${refCtr ? `(0x${refCtr.toString(16)})` : ''}`;
    const ev = createProbeEvent('uprobe', target, !!opts.retprobe, `${path.slice(path.lastIndexOf('/') + 1)}_${offset.toString(16)}`);
    cleanup.push(ev.remove);
    try {
      perf = perfEventOpen({ type: PERF_TYPE.TRACEPOINT, config: ev.id, samplePeriodOrFreq: 1, wakeup: 1 }, pid, cpu, -1, undefined, what);
    } catch (e) {
      ev.remove();
      throw e;
    }
  }
  return attachToPerfEvent(prog, perf, { cookie: opts.cookie, forceIoctl: opts.forceIoctl, what, cleanup, details });
}

/** A uretprobe: attachUprobe with `retprobe`. */
export function attachUretprobe(prog: Program, opts: Omit<UprobeOptions, 'retprobe'>): Link {
  return attachUprobe(prog, { ...opts, retprobe: true });
}

export interface UprobeMultiOptions {
  binary: string;
  /** Symbols in the binary; or give `offsets` (file offsets). */
  symbols?: string[];
  offsets?: number[];
  refCtrOffsets?: number[];
  cookies?: (bigint | number)[];
  pid?: number;
  retprobe?: boolean;
}

/** BPF_F_UPROBE_MULTI_RETURN */
const UPROBE_MULTI_RETURN = 1;

/**
 * uprobe.multi (6.6+): one uprobe_multi BPF link on many offsets of one binary. The program
 * must be loaded with expected attach type TRACE_UPROBE_MULTI (sections `uprobe.multi/...`).
 */
export function attachUprobeMulti(prog: Program, opts: UprobeMultiOptions): Link {
  const path = resolveBinaryPath(opts.binary, opts.pid);
  const what = `uprobe.multi ${path}`;
  const fd = progFd(prog, what);
  const offsets = opts.symbols ? opts.symbols.map((s) => uprobeOffset(path, s)) : (opts.offsets ?? []);
  const n = offsets.length;
  if (n === 0) throw new ArgumentError(`${what}: no offsets`);
  for (const [name, arr] of [['cookies', opts.cookies], ['refCtrOffsets', opts.refCtrOffsets]] as const) {
    if (arr && arr.length !== n) throw new ArgumentError(`${what}: ${arr.length} ${name} for ${n} offsets`);
  }
  const p = cString(path);
  const offs = BigUint64Array.from(offsets, (o) => BigInt(o));
  const refs = opts.refCtrOffsets ? BigUint64Array.from(opts.refCtrOffsets, (o) => BigInt(o)) : undefined;
  const cookies = opts.cookies ? BigUint64Array.from(opts.cookies, (c) => BigInt(c)) : undefined;
  try {
    return new Link(
      linkCreate({
        progFd: fd,
        targetFd: 0,
        attachType: AttachType.TRACE_UPROBE_MULTI,
        // uprobe_multi: path@16 offsets@24 ref_ctr_offsets@32 cookies@40 cnt@48 flags@52 pid@56.
        extra: (a) =>
          a
            .ptr(16, p)
            .ptr(24, offs)
            .ptr(32, refs)
            .ptr(40, cookies)
            .u32(48, n)
            .u32(52, opts.retprobe ? UPROBE_MULTI_RETURN : 0)
            .u32(56, opts.pid && opts.pid > 0 ? opts.pid : 0),
        what,
      }),
    );
  } catch (e) {
    if ((e as { code?: string }).code === 'EINVAL' && prog.type === ProgType.KPROBE) {
      throw new NotSupportedError('uprobe.multi links (Linux 6.6+)', `${what}: the kernel refused it (EINVAL): it needs Linux 6.6+ and a program loaded for TRACE_UPROBE_MULTI`, { cause: e });
    }
    throw e;
  }
}
