/**
 * Tracepoints, raw tracepoints, and BTF-typed tracing programs (tp_btf, fentry, fexit,
 * fmod_ret, LSM).
 */
import { ArgumentError, BpfError, NotSupportedError } from '../errors.js';
import type { Program } from '../programs/program.js';
import { AttachType, ProgType, PERF_TYPE, linkCreate, perfEventOpen, rawTracepointOpen } from '../sys/index.js';
import { fentryProbe, lsmProbe, requireAttach } from '../features/attach.js';
import { Link, progFd } from './link.js';
import { attachToPerfEvent } from './perf_event.js';
import { tracepointId } from './tracefs.js';

export interface TracepointOptions {
  /** The tracepoint's group (`syscalls`, `sched`...): the directory under tracefs events/. */
  group: string;
  /** The tracepoint (`sys_enter_openat`, `sched_switch`...). */
  name: string;
  /** BPF cookie (bpf_get_attach_cookie; 5.15+). */
  cookie?: bigint | number;
  /** Attach with PERF_EVENT_IOC_SET_BPF rather than a BPF link (the pre-5.15 way). */
  forceIoctl?: boolean;
}

/**
 * Attaches a tracepoint program (section `tracepoint/<group>/<name>`): perf_event_open on the
 * tracepoint's id, then a perf_event BPF link (5.15+) or PERF_EVENT_IOC_SET_BPF. The program
 * runs for every task on every CPU that hits the tracepoint (filter by pid in the program).
 * NotSupportedError when tracefs is missing or the kernel has no such tracepoint.
 */
export function attachTracepoint(prog: Program, opts: TracepointOptions): Link {
  const what = `tracepoint ${opts.group}/${opts.name}`;
  progFd(prog, what);
  if (prog.type !== ProgType.TRACEPOINT) {
    throw new ArgumentError(`${what}: program '${prog.name}' is a ${prog.typeName} program; tracepoints take tracepoint programs`);
  }
  const id = tracepointId(opts.group, opts.name);
  // pid -1, cpu 0 as libbpf opens it: for BPF the event is a handle on the tracepoint, which
  // runs the program on every CPU and for every task.
  const perf = perfEventOpen({ type: PERF_TYPE.TRACEPOINT, config: id, samplePeriodOrFreq: 1, wakeup: 1 }, -1, 0, -1, undefined, what);
  return attachToPerfEvent(prog, perf, {
    cookie: opts.cookie,
    forceIoctl: opts.forceIoctl,
    what,
    details: {
      kind: 'perf_event',
      eventType: 'tracepoint',
      name: opts.name,
      offset: 0,
      addr: 0n,
      missed: 0n,
      refCtrOffset: 0n,
      config: 0n,
      perfType: PERF_TYPE.TRACEPOINT,
      cookie: 0n,
    },
  });
}

/** Parses `group/name` (or `group:name`, as bpftrace spells it). */
export function parseTracepoint(spec: string): { group: string; name: string } {
  const m = /^([^/:]+)[/:]([^/:]+)$/.exec(spec);
  if (!m) throw new ArgumentError(`invalid tracepoint '${spec}': expected 'group/name' (syscalls/sys_enter_openat)`);
  return { group: m[1]!, name: m[2]! };
}

export interface RawTracepointOptions {
  /** The raw tracepoint (`sys_enter`, `sched_switch`...): the tracepoint's name without its group. */
  name: string;
  /** BPF cookie (6.10+). */
  cookie?: bigint | number;
}

/**
 * Attaches a raw tracepoint program (section `raw_tp/<name>`, `raw_tracepoint/<name>`,
 * `raw_tp.w/<name>`) with BPF_RAW_TRACEPOINT_OPEN (4.17+): a raw_tracepoint BPF link.
 */
export function attachRawTracepoint(prog: Program, opts: RawTracepointOptions): Link {
  const fd = progFd(prog, `raw tracepoint ${opts.name}`);
  if (prog.type !== ProgType.RAW_TRACEPOINT && prog.type !== ProgType.RAW_TRACEPOINT_WRITABLE) {
    throw new ArgumentError(`raw tracepoint ${opts.name}: program '${prog.name}' is a ${prog.typeName} program, not raw_tracepoint`);
  }
  try {
    return new Link(rawTracepointOpen(opts.name, fd, BigInt(opts.cookie ?? 0)));
  } catch (e) {
    if (e instanceof BpfError && e.code === 'ENOENT') {
      throw new NotSupportedError(`raw tracepoint ${opts.name}`, `raw tracepoint ${opts.name}: this kernel has no such tracepoint`, { cause: e });
    }
    if (e instanceof BpfError && e.code === 'E2BIG' && opts.cookie) {
      throw new NotSupportedError('BPF cookies on raw tracepoints (Linux 6.10+)', undefined, { cause: e });
    }
    throw e;
  }
}

export interface TracingOptions {
  /**
   * The program's expected attach type (AttachType.TRACE_FENTRY, TRACE_FEXIT, MODIFY_RETURN,
   * TRACE_RAW_TP, LSM_MAC). Needed only with a cookie (then BPF_LINK_CREATE is used); without
   * one, BPF_RAW_TRACEPOINT_OPEN attaches to the target the program was loaded for.
   */
  attachType?: number;
  /** BPF cookie (fentry/fexit/fmod_ret/LSM: 6.0+; tp_btf: 6.10+). */
  cookie?: bigint | number;
}

/**
 * Attaches a BTF-typed tracing program to the kernel function or tracepoint it was loaded for
 * (its attach_btf_id): tp_btf (5.5+), fentry, fexit (5.5+), fmod_ret (5.7+), LSM (5.7+). Gives
 * a tracing BPF link (raw_tracepoint for tp_btf).
 */
export function attachTracing(prog: Program, opts: TracingOptions = {}): Link {
  const fd = progFd(prog, `tracing program '${prog.name}'`);
  if (prog.type !== ProgType.TRACING && prog.type !== ProgType.LSM && prog.type !== ProgType.EXT) {
    throw new ArgumentError(`program '${prog.name}' is a ${prog.typeName} program: attachTracing takes tracing (tp_btf, fentry, fexit, fmod_ret), lsm or ext programs`);
  }
  if (opts.attachType === AttachType.TRACE_ITER) throw new ArgumentError(`program '${prog.name}' is an iterator: use attachIter`);
  const cookie = BigInt(opts.cookie ?? 0);
  try {
    if (cookie !== 0n) {
      if (opts.attachType === undefined) throw new ArgumentError(`program '${prog.name}': a cookie needs opts.attachType (BPF_LINK_CREATE must be told the program's attach type)`);
      // tracing: target_btf_id@16 (0: the program's own), cookie@24.
      return new Link(linkCreate({ progFd: fd, targetFd: 0, attachType: opts.attachType, extra: (a) => a.u64(24, cookie), what: `tracing link '${prog.name}'` }));
    }
    return new Link(rawTracepointOpen(null, fd));
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOTSUPP' || code === 'EOPNOTSUPP') {
      throw new NotSupportedError('BPF trampolines (fentry/fexit/fmod_ret/LSM)', `program '${prog.name}': the kernel can't attach it: ${(e as Error).message}`, { cause: e });
    }
    throw e;
  }
}

/** fentry on the kernel function the program was loaded for. NotSupportedError without BPF trampolines. */
export function attachFentry(prog: Program, opts: { cookie?: bigint | number } = {}): Link {
  requireAttach(fentryProbe(), `fentry program '${prog.name}'`);
  return attachTracing(prog, { ...opts, attachType: AttachType.TRACE_FENTRY });
}

/** fexit on the kernel function the program was loaded for. NotSupportedError without BPF trampolines. */
export function attachFexit(prog: Program, opts: { cookie?: bigint | number } = {}): Link {
  requireAttach(fentryProbe(), `fexit program '${prog.name}'`);
  return attachTracing(prog, { ...opts, attachType: AttachType.TRACE_FEXIT });
}

/** fmod_ret on the kernel function the program was loaded for (it must allow error injection). */
export function attachFmodRet(prog: Program, opts: { cookie?: bigint | number } = {}): Link {
  requireAttach(fentryProbe(), `fmod_ret program '${prog.name}'`);
  return attachTracing(prog, { ...opts, attachType: AttachType.MODIFY_RETURN });
}

/** An LSM program on the hook it was loaded for. NotSupportedError without the BPF LSM. */
export function attachLsm(prog: Program, opts: { cookie?: bigint | number } = {}): Link {
  requireAttach(lsmProbe(), `lsm program '${prog.name}'`);
  return attachTracing(prog, { ...opts, attachType: AttachType.LSM_MAC });
}

/** A tp_btf program on the tracepoint it was loaded for. */
export function attachTpBtf(prog: Program, opts: { cookie?: bigint | number } = {}): Link {
  return attachTracing(prog, { ...opts, attachType: AttachType.TRACE_RAW_TP });
}
