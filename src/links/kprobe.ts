/**
 * kprobes and kretprobes (one function), ksyscall (a syscall through its arch wrapper), and
 * kprobe.multi (many functions in one link).
 *
 * A kprobe is a perf event of the kprobe PMU (4.17+: perf_event_attr.type from
 * /sys/bus/event_source/devices/kprobe/type, config1 the function name, config2 the offset,
 * the retprobe config bit for a return probe); kernels without the PMU get a tracefs
 * kprobe_events probe instead, removed again when the link closes. Kernels built without
 * CONFIG_KPROBES have neither: NotSupportedError('kprobes (CONFIG_KPROBES)').
 */
import { readFileSync } from 'node:fs';
import { ArgumentError, NotSupportedError } from '../errors.js';
import type { Program } from '../programs/program.js';
import { AttachType, PERF_TYPE, ProgType, Struct, cString, linkCreate, perfEventOpen, type FD } from '../sys/index.js';
import { kprobeMultiProbe, kprobeProbe, requireAttach } from '../features/attach.js';
import { Link, progFd } from './link.js';
import { attachToPerfEvent } from './perf_event.js';
import { createProbeEvent, hasProbeEvents, probePmu } from './tracefs.js';

export interface KprobeOptions {
  /** The kernel function (`do_unlinkat`), as in /proc/kallsyms. Or give `address`. */
  symbol?: string;
  /** Offset into the function (kprobe only; must be an instruction boundary). */
  offset?: number;
  /** Absolute kernel address instead of a symbol (PMU only). */
  address?: bigint;
  /** A kretprobe: run when the function returns. */
  retprobe?: boolean;
  /** BPF cookie (bpf_get_attach_cookie; 5.15+). */
  cookie?: bigint | number;
  /** kretprobe maxactive: instances tracked at once (tracefs only; 0 = the kernel's default). */
  maxActive?: number;
  /** Use tracefs kprobe_events even when the PMU exists. */
  forceTracefs?: boolean;
  forceIoctl?: boolean;
}

const SYMBOL = /^[A-Za-z_.][\w.$]*(?::[\w.]+)?$/;

/**
 * Attaches a kprobe program to a kernel function's entry (or, with `retprobe`, its return).
 * NotSupportedError('kprobes (CONFIG_KPROBES)') on kernels without kprobes.
 */
export function attachKprobe(prog: Program, opts: KprobeOptions): Link {
  const kind = opts.retprobe ? ('kretprobe' as const) : ('kprobe' as const);
  const target = opts.symbol ?? (opts.address !== undefined ? `0x${opts.address.toString(16)}` : undefined);
  if (!target) throw new ArgumentError(`${kind}: give a symbol or an address`);
  if (opts.symbol !== undefined && !SYMBOL.test(opts.symbol)) throw new ArgumentError(`${kind}: invalid kernel symbol '${opts.symbol}'`);
  const what = `${kind} ${target}${opts.offset ? `+${opts.offset}` : ''}`;
  progFd(prog, what);
  if (prog.type !== ProgType.KPROBE) throw new ArgumentError(`${what}: program '${prog.name}' is a ${prog.typeName} program, not kprobe`);
  requireAttach(kprobeProbe(), what);
  const pmu = opts.forceTracefs ? undefined : probePmu('kprobe');
  const details = {
    kind: 'perf_event' as const,
    eventType: kind,
    name: opts.symbol ?? '',
    offset: opts.offset ?? 0,
    addr: opts.address ?? 0n,
    missed: 0n,
    refCtrOffset: 0n,
    config: 0n,
    perfType: 0,
    cookie: 0n,
  };
  let perf: FD;
  const cleanup: (() => void)[] = [];
  if (pmu) {
    perf = perfEventOpen(
      {
        type: pmu.type,
        config: opts.retprobe ? 1n << BigInt(pmu.retprobeBit) : 0n,
        // A symbol: config1 points to its name and config2 is the offset; an address: config1
        // is 0 and config2 the address.
        ...(opts.symbol !== undefined ? { config1String: opts.symbol, config2: opts.offset ?? 0 } : { config1: 0, config2: opts.address! }),
        samplePeriodOrFreq: 1,
        wakeup: 1,
      },
      -1,
      0,
      -1,
      undefined,
      what,
    );
  } else {
    if (!hasProbeEvents('kprobe')) requireAttach({ available: false, feature: 'kprobes (CONFIG_KPROBES)' }, what);
    if (opts.symbol === undefined) throw new NotSupportedError('kprobes on addresses through tracefs', `${what}: tracefs kprobe_events needs a symbol`);
    const ev = createProbeEvent('kprobe', `${opts.symbol}${opts.offset ? `+${opts.offset}` : ''}`, !!opts.retprobe, `${opts.symbol}_${opts.offset ?? 0}`, opts.maxActive);
    cleanup.push(ev.remove);
    try {
      perf = perfEventOpen({ type: PERF_TYPE.TRACEPOINT, config: ev.id, samplePeriodOrFreq: 1, wakeup: 1 }, -1, 0, -1, undefined, what);
    } catch (e) {
      ev.remove();
      throw e;
    }
  }
  return attachToPerfEvent(prog, perf, { cookie: opts.cookie, forceIoctl: opts.forceIoctl, what, cleanup, details });
}

/** A kretprobe: attachKprobe with `retprobe`. */
export function attachKretprobe(prog: Program, opts: Omit<KprobeOptions, 'retprobe'>): Link {
  return attachKprobe(prog, { ...opts, retprobe: true });
}

let syscallPrefix: string | null | undefined;

/**
 * The prefix of the kernel's syscall wrappers (`__x64_sys_`, `__arm64_sys_`...; 4.17+ with
 * CONFIG_ARCH_HAS_SYSCALL_WRAPPER), or '' when syscalls are plain `sys_*` functions. Read from
 * /proc/kallsyms, as libbpf decides it (it looks for the wrapper of bpf(2)).
 */
export function syscallWrapperPrefix(): string {
  if (syscallPrefix === undefined) {
    syscallPrefix = null;
    const prefixes = ['__x64_sys_', '__arm64_sys_', '__s390x_sys_', '__riscv_sys_', '__powerpc_sys_', '__ia32_sys_', '__se_sys_'];
    try {
      const text = readFileSync('/proc/kallsyms', 'utf8');
      for (const p of prefixes) {
        if (new RegExp(`^[0-9a-f]+ [tT] ${p}bpf$`, 'm').test(text)) {
          syscallPrefix = p;
          break;
        }
      }
    } catch {
      /* no kallsyms: plain names */
    }
  }
  return syscallPrefix ?? '';
}

/** The kernel function a syscall's kprobe attaches to: `openat` -> `__x64_sys_openat` (or `sys_openat`). */
export function syscallFunctionName(syscall: string): string {
  if (!/^\w+$/.test(syscall)) throw new ArgumentError(`invalid syscall name '${syscall}'`);
  const p = syscallWrapperPrefix();
  return p ? `${p}${syscall}` : `sys_${syscall}`;
}

export interface KsyscallOptions {
  /** The syscall's name (`openat`, `execve`). */
  syscall: string;
  /** A kretsyscall: run when the syscall returns. */
  retprobe?: boolean;
  cookie?: bigint | number;
}

/**
 * A kprobe on a syscall, by its name (sections `ksyscall/<name>`, `kretsyscall/<name>`),
 * through the architecture's wrapper. With the wrapper, arguments are read through the
 * pt_regs the wrapper gets (BPF_KSYSCALL in bpf_tracing.h does that).
 */
export function attachKsyscall(prog: Program, opts: KsyscallOptions): Link {
  requireAttach(kprobeProbe(), `ksyscall ${opts.syscall}`);
  return attachKprobe(prog, { symbol: syscallFunctionName(opts.syscall), retprobe: opts.retprobe, cookie: opts.cookie });
}

export interface KprobeMultiOptions {
  /** Kernel functions, by name. */
  symbols?: string[];
  /** A glob over available_filter_functions (`tcp_*`), as libbpf's kprobe.multi/<pattern>. */
  pattern?: string;
  /** Or absolute addresses. */
  addresses?: bigint[];
  /** One cookie per function. */
  cookies?: (bigint | number)[];
  retprobe?: boolean;
}

/** BPF_F_KPROBE_MULTI_RETURN */
const KPROBE_MULTI_RETURN = 1;

/** Kernel functions available to fprobe/ftrace matching a glob (from tracefs available_filter_functions). */
export function matchKernelFunctions(pattern: string): string[] {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  let text: string;
  try {
    text = readFileSync('/sys/kernel/tracing/available_filter_functions', 'utf8');
  } catch {
    text = readFileSync('/sys/kernel/debug/tracing/available_filter_functions', 'utf8');
  }
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const name = line.split(' ')[0];
    if (name && re.test(name)) out.add(name);
  }
  return [...out];
}

/**
 * kprobe.multi (5.18+, CONFIG_FPROBE): one link on many kernel functions. The program must be
 * loaded with expected attach type TRACE_KPROBE_MULTI (sections `kprobe.multi/...`).
 */
export function attachKprobeMulti(prog: Program, opts: KprobeMultiOptions): Link {
  const what = `kprobe.multi ${opts.pattern ?? (opts.symbols ?? []).slice(0, 3).join(',')}`;
  const fd = progFd(prog, what);
  requireAttach(kprobeMultiProbe(), what);
  const symbols = opts.pattern !== undefined ? matchKernelFunctions(opts.pattern) : opts.symbols;
  const count = symbols ? symbols.length : (opts.addresses?.length ?? 0);
  if (count === 0) throw new ArgumentError(`${what}: no functions to attach to`);
  if (opts.cookies && opts.cookies.length !== count) throw new ArgumentError(`${what}: ${opts.cookies.length} cookies for ${count} functions`);
  const keep = new Struct(8 * count);
  let syms: BigUint64Array | undefined;
  if (symbols) {
    syms = new BigUint64Array(count);
    symbols.forEach((name, i) => {
      keep.ptr(i * 8, cString(name));
      syms![i] = keep.view.getBigUint64(i * 8, true);
    });
  }
  const addrs = opts.addresses ? BigUint64Array.from(opts.addresses) : undefined;
  const cookies = opts.cookies ? BigUint64Array.from(opts.cookies, (c) => BigInt(c)) : undefined;
  const lfd = linkCreate({
    progFd: fd,
    targetFd: 0,
    attachType: AttachType.TRACE_KPROBE_MULTI,
    // kprobe_multi: flags@16 cnt@20 syms@24 addrs@32 cookies@40.
    extra: (a) => a.u32(16, opts.retprobe ? KPROBE_MULTI_RETURN : 0).u32(20, count).ptr(24, syms).ptr(32, addrs).ptr(40, cookies),
    what,
  });
  void keep;
  return new Link(lfd);
}
