/**
 * Programs on perf events: the common path of tracepoints, kprobes and uprobes (a perf event
 * for the hook, then the program on it), and perf_event programs on sampling events (software
 * CPU clock, hardware counters).
 *
 * Attaching uses a BPF link of type perf_event (BPF_LINK_CREATE with BPF_PERF_EVENT, 5.15+;
 * it carries a BPF cookie) and falls back to PERF_EVENT_IOC_SET_BPF on older kernels (no
 * cookie). Either way the perf event is enabled, and the Link owns it: closing the Link
 * closes the perf event. Kernel quirk (seen on 6.18): PERF_EVENT_IOC_DISABLE does not stop a
 * program attached to a tracepoint; only closing the perf event detaches it.
 */
import { NotSupportedError } from '../errors.js';
import type { Program } from '../programs/program.js';
import {
  AttachType,
  FD,
  PERF_COUNT_SW,
  PERF_EVENT_IOC_ENABLE,
  PERF_EVENT_IOC_SET_BPF,
  PERF_TYPE,
  PerfAttrFlags,
  ioctl,
  linkCreate,
  onlineCpus,
  perfEventOpen,
  type PerfEventAttr,
} from '../sys/index.js';
import { hasPerfEventLinks } from '../features/attach.js';
import { LegacyLink, Link, LinkGroup, closeQuietly, progFd, type LinkDetails } from './link.js';

export interface PerfEventAttachOptions {
  /** BPF cookie, read by the program with bpf_get_attach_cookie() (needs perf_event links, 5.15+). */
  cookie?: bigint | number;
  /** Use PERF_EVENT_IOC_SET_BPF even where BPF links exist (what kernels before 5.15 do). */
  forceIoctl?: boolean;
  /** Names the hook in errors and in info() of an ioctl attachment ('tracepoint syscalls/sys_enter_openat'). */
  what?: string;
  /** Run after the perf event is closed (removing a tracefs probe event). */
  cleanup?: (() => void)[];
  /** Describes an ioctl attachment in info() (the BPF link's own info says it otherwise). */
  details?: LinkDetails;
}

/** A program attached to a perf event with PERF_EVENT_IOC_SET_BPF (kernels before 5.15). */
export class PerfEventIoctlLink extends LegacyLink {
  readonly mechanism = 'perf_event (ioctl)';
  readonly #details: LinkDetails;

  /** @internal */
  constructor(perfFd: FD, progId: number, details: LinkDetails, cleanup: (() => void)[]) {
    // Only closing the perf event detaches: PERF_EVENT_IOC_DISABLE leaves tracepoint programs running.
    super(perfFd, progId, () => undefined, cleanup);
    this.#details = details;
  }

  protected override details(): LinkDetails {
    return this.#details;
  }
}

/**
 * Attaches `prog` to the open perf event `perf`, which the returned Link then owns (on failure
 * it is closed, and the cleanups run). Used by the tracepoint, kprobe and uprobe attaches; call
 * it directly for a perf event you opened yourself.
 */
export function attachToPerfEvent(prog: Program, perf: FD, opts: PerfEventAttachOptions = {}): Link {
  const fd = progFd(prog, opts.what ?? 'perf event');
  const cookie = BigInt(opts.cookie ?? 0);
  // Cleanups run last first: the perf event closes before a tracefs probe event is removed.
  const cleanup = [...(opts.cleanup ?? []), () => perf.close()];
  const fail = (e: unknown): never => {
    for (let i = cleanup.length - 1; i >= 0; i--) {
      try {
        cleanup[i]!();
      } catch {
        /* keep the first error */
      }
    }
    throw e;
  };
  let link: Link | undefined;
  if (!opts.forceIoctl && hasPerfEventLinks()) {
    try {
      const lfd = linkCreate({
        progFd: fd,
        targetFd: perf.value,
        attachType: AttachType.PERF_EVENT,
        extra: (a) => a.u64(16, cookie),
        what: `perf_event link${opts.what ? ` (${opts.what})` : ''}`,
      });
      link = new Link(lfd, cleanup);
    } catch (e) {
      fail(e);
    }
  }
  if (!link) {
    if (cookie !== 0n) {
      fail(new NotSupportedError('BPF cookies on perf events (perf_event links, Linux 5.15+)', `${opts.what ?? 'perf event'}: a BPF cookie needs perf_event BPF links (Linux 5.15+)`));
    }
    try {
      ioctl(perf.value, PERF_EVENT_IOC_SET_BPF, fd, `PERF_EVENT_IOC_SET_BPF${opts.what ? ` (${opts.what})` : ''}`);
    } catch (e) {
      fail(e);
    }
    link = new PerfEventIoctlLink(perf, prog.id, opts.details ?? { kind: 'unknown' }, cleanup.slice(0, -1));
  }
  try {
    ioctl(perf.value, PERF_EVENT_IOC_ENABLE, 0, `PERF_EVENT_IOC_ENABLE${opts.what ? ` (${opts.what})` : ''}`);
  } catch (e) {
    closeQuietly(link);
    throw e;
  }
  return link;
}

export interface PerfEventOptions {
  /** perf_event_attr.type: PERF_TYPE.SOFTWARE (default), HARDWARE, ... */
  type?: number;
  /** perf_event_attr.config: PERF_COUNT_SW.CPU_CLOCK (default), ... */
  config?: bigint | number;
  /** Sample every N events (for CPU_CLOCK: every N nanoseconds). */
  samplePeriod?: bigint | number;
  /** Or sample N times per second (default 99 when neither is given). */
  sampleFrequency?: number;
  /** Only this process (default: every process on the CPU). */
  pid?: number;
  /** The CPU to sample on; with `pid` alone, -1 (any CPU). */
  cpu?: number;
  /** Count child tasks too (perf's inherit bit; only with `pid`). */
  inherit?: boolean;
  cookie?: bigint | number;
  forceIoctl?: boolean;
}

/**
 * Attaches a perf_event program to one sampling perf event: the program runs on each sample
 * (bpf_perf_event_data gives the registers and sample period). With neither `pid` nor `cpu`,
 * samples CPU 0; see attachPerfEventAllCpus for every CPU.
 */
export function attachPerfEvent(prog: Program, opts: PerfEventOptions = {}): Link {
  const pid = opts.pid ?? -1;
  const cpu = opts.cpu ?? (pid >= 0 ? -1 : 0);
  let flags = 0n;
  const freq = opts.samplePeriod === undefined;
  if (freq) flags |= PerfAttrFlags.FREQ;
  if (opts.inherit) flags |= PerfAttrFlags.INHERIT;
  const attr: PerfEventAttr = {
    type: opts.type ?? PERF_TYPE.SOFTWARE,
    config: opts.config ?? PERF_COUNT_SW.CPU_CLOCK,
    samplePeriodOrFreq: freq ? (opts.sampleFrequency ?? 99) : opts.samplePeriod!,
    flags,
  };
  const what = `perf event type ${attr.type} config ${attr.config} on ${pid >= 0 ? `pid ${pid}` : `cpu ${cpu}`}`;
  const perf = perfEventOpen(attr, pid, cpu, -1, undefined, what);
  return attachToPerfEvent(prog, perf, {
    cookie: opts.cookie,
    forceIoctl: opts.forceIoctl,
    what,
    details: {
      kind: 'perf_event',
      eventType: 'event',
      name: '',
      offset: 0,
      addr: 0n,
      missed: 0n,
      refCtrOffset: 0n,
      config: BigInt(attr.config),
      perfType: attr.type,
      cookie: 0n,
    },
  });
}

/** attachPerfEvent on every online CPU (system-wide sampling, like `perf record -a`). */
export function attachPerfEventAllCpus(prog: Program, opts: Omit<PerfEventOptions, 'cpu' | 'pid' | 'inherit'> = {}): LinkGroup {
  const links: Link[] = [];
  try {
    for (const cpu of onlineCpus()) links.push(attachPerfEvent(prog, { ...opts, cpu }));
  } catch (e) {
    closeQuietly(...links);
    throw e;
  }
  return new LinkGroup(links);
}
