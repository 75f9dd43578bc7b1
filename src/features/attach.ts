/**
 * What can actually attach on this kernel: BPF link kinds, kprobes, uprobes, fentry, BPF
 * cookies. Each probe is memoized per process. Link probes follow libbpf's technique: a trivial
 * program of the right type, BPF_LINK_CREATE with a target that can't exist, and the errno
 * says whether the kernel got as far as looking the target up (it knows the attach type) or
 * refused the attach type itself (EINVAL on kernels that predate it).
 */
import { existsSync } from 'node:fs';
import { NotSupportedError } from '../errors.js';
import { exit, mov64Imm, encodeInstructions } from '../asm/index.js';
import { loadKernelSpec } from '../btf/index.js';
import {
  AttachType,
  FD,
  ProgType,
  bpfCall,
  BPF_CMD,
  Struct,
  cString,
  errno,
  errnoName,
  progLoadRaw,
  rawTracepointOpen,
} from '../sys/index.js';
import { probePmu, hasProbeEvents, tracefsRoot } from '../links/tracefs.js';

const TRIVIAL = encodeInstructions([mov64Imm(0, 0), exit()]);

/** The outcome of an attach probe: whether it works, and why not. */
export interface AttachProbe {
  available: boolean;
  /** The kernel feature, as NotSupportedError names it ('kprobes (CONFIG_KPROBES)'). */
  feature?: string;
  /** What is missing, when unavailable (names the kernel feature or config). */
  reason?: string;
}

const cache = new Map<string, AttachProbe>();
function memo(key: string, probe: () => AttachProbe): AttachProbe {
  let r = cache.get(key);
  if (!r) {
    try {
      r = probe();
    } catch (e) {
      r = { available: false, reason: (e as Error).message };
    }
    cache.set(key, r);
  }
  return r;
}

/** Loads a trivial program for a probe; -errno when the kernel refuses it. */
function trivialProgram(progType: number, expectedAttachType = 0, attachBtfId = 0): FD | number {
  const { result } = progLoadRaw({ progType, insns: TRIVIAL, license: 'GPL', expectedAttachType, attachBtfId });
  return result >= 0 ? new FD(result, 'probe program') : result;
}

/** BPF_LINK_CREATE for a probe, returning the result or -errno; a link that got made is closed. */
function tryLinkCreate(progFd: number, targetFd: number, attachType: number, extra?: (s: Struct) => void): number {
  const a = new Struct(64).u32(0, progFd).u32(4, targetFd).u32(8, attachType);
  extra?.(a);
  const r = bpfCall(BPF_CMD.BPF_LINK_CREATE, a);
  if (r >= 0) new FD(r, 'probe link').close();
  return r;
}

/**
 * Probes a BPF link kind with a program of `progType` and a target that can't exist:
 * available when the kernel answers with one of `knownErrnos` (it looked the target up).
 */
function linkProbe(name: string, minKernel: string, progType: number, expectedAttachType: number, attachType: number, knownErrnos: number[], targetFd = 0x7fffffff, extra?: (s: Struct) => void): AttachProbe {
  return memo(`link:${name}`, () => {
    const prog = trivialProgram(progType, expectedAttachType);
    if (typeof prog === 'number') return { available: false, reason: `${name} links: the probe program didn't load (${errnoName(-prog)})` };
    try {
      const r = tryLinkCreate(prog.value, targetFd, attachType, extra);
      if (r >= 0 || knownErrnos.includes(-r)) return { available: true };
      return { available: false, feature: `${name} BPF links (Linux ${minKernel}+)`, reason: `${name} BPF links (Linux ${minKernel}+): BPF_LINK_CREATE said ${errnoName(-r)}` };
    } finally {
      prog.close();
    }
  });
}

/** perf_event BPF links (5.15+): tracepoints, kprobes, uprobes with BPF cookies. */
export function hasPerfEventLinks(): boolean {
  return linkProbe('perf_event', '5.15', ProgType.TRACEPOINT, 0, AttachType.PERF_EVENT, [errno.EBADF]).available;
}

/** TCX links (6.6+): TC programs without qdiscs. */
export function hasTcxLinks(): boolean {
  // tcx_link_attach looks the device up first: ENODEV for ifindex 0.
  return linkProbe('tcx', '6.6', ProgType.SCHED_CLS, 0, AttachType.TCX_INGRESS, [errno.ENODEV], 0).available;
}

/** cgroup BPF links (5.7+). */
export function hasCgroupLinks(): boolean {
  return linkProbe('cgroup', '5.7', ProgType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS, AttachType.CGROUP_INET_INGRESS, [errno.EBADF]).available;
}

/** netns links (5.8+): flow dissector, sk_lookup. */
export function hasNetnsLinks(): boolean {
  return linkProbe('netns', '5.8', ProgType.SK_LOOKUP, AttachType.SK_LOOKUP, AttachType.SK_LOOKUP, [errno.EBADF]).available;
}

/** sockmap links (6.10+): sk_msg and sk_skb programs on sockmaps. */
export function hasSockmapLinks(): boolean {
  return linkProbe('sockmap', '6.10', ProgType.SK_MSG, AttachType.SK_MSG_VERDICT, AttachType.SK_MSG_VERDICT, [errno.EBADF]).available;
}

/**
 * XDP links (5.9+). bpf_xdp_link_attach answers EINVAL for a missing device, as older kernels
 * do for the unknown attach type, so this asks kernel BTF for the link's type instead.
 */
export function hasXdpLinks(): boolean {
  return memo('link:xdp', () => {
    try {
      return loadKernelSpec().findType('struct', 'bpf_xdp_link')
        ? { available: true }
        : { available: false, reason: 'XDP BPF links (Linux 5.9+): kernel BTF has no struct bpf_xdp_link' };
    } catch {
      // No kernel BTF: assume links and let attaching fall back on EINVAL.
      return { available: true };
    }
  }).available;
}

/** kprobe.multi links (5.18+ with CONFIG_FPROBE). */
export function kprobeMultiProbe(): AttachProbe {
  return memo('link:kprobe_multi', () => {
    const prog = trivialProgram(ProgType.KPROBE, AttachType.TRACE_KPROBE_MULTI);
    if (typeof prog === 'number') return { available: false, reason: `kprobe.multi links (Linux 5.18+): the kernel refused a kprobe.multi program (${errnoName(-prog)})` };
    try {
      const sym = cString('__ebpf_ts_no_such_function');
      const syms = new BigUint64Array(1);
      const s = new Struct(8);
      s.ptr(0, sym);
      syms[0] = s.getU64(0);
      // kprobe_multi: flags@16 cnt@20 syms@24.
      const r = tryLinkCreate(prog.value, 0, AttachType.TRACE_KPROBE_MULTI, (a) => a.u32(20, 1).ptr(24, syms));
      void s;
      if (-r === errno.EOPNOTSUPP || -r === 524) {
        return { available: false, feature: 'kprobe.multi links (CONFIG_FPROBE)', reason: 'kprobe.multi links: the kernel has no fprobe (CONFIG_FPROBE)' };
      }
      if (-r === errno.EINVAL) return { available: false, reason: 'kprobe.multi links (Linux 5.18+): BPF_LINK_CREATE said EINVAL' };
      return { available: true };
    } finally {
      prog.close();
    }
  });
}

export function hasKprobeMultiLinks(): boolean {
  return kprobeMultiProbe().available;
}

/** uprobe.multi links (6.6+). */
export function hasUprobeMultiLinks(): boolean {
  return memo('link:uprobe_multi', () => {
    const prog = trivialProgram(ProgType.KPROBE, AttachType.TRACE_UPROBE_MULTI);
    if (typeof prog === 'number') return { available: false, reason: `uprobe.multi links (Linux 6.6+): the kernel refused a uprobe.multi program (${errnoName(-prog)})` };
    try {
      // As libbpf probes it: path "/" is not a regular file, so a kernel with uprobe.multi says EBADF.
      const path = cString('/');
      const offsets = new BigUint64Array(1);
      const r = tryLinkCreate(prog.value, 0, AttachType.TRACE_UPROBE_MULTI, (a) => a.ptr(16, path).ptr(24, offsets).u32(48, 1));
      if (r >= 0 || -r === errno.EBADF) return { available: true };
      return { available: false, reason: `uprobe.multi links (Linux 6.6+): BPF_LINK_CREATE said ${errnoName(-r)}` };
    } finally {
      prog.close();
    }
  }).available;
}

/** Kprobes: the kprobe PMU (4.17+) or tracefs kprobe_events. */
export function kprobeProbe(): AttachProbe {
  return memo('kprobe', () => {
    if (probePmu('kprobe') || hasProbeEvents('kprobe')) return { available: true };
    return {
      available: false,
      feature: 'kprobes (CONFIG_KPROBES)',
      reason: 'kprobes (CONFIG_KPROBES): no kprobe PMU (/sys/bus/event_source/devices/kprobe) and no kprobe_events in tracefs',
    };
  });
}

export function canAttachKprobe(): boolean {
  return kprobeProbe().available;
}

/** Uprobes: the uprobe PMU (4.17+) or tracefs uprobe_events. */
export function uprobeProbe(): AttachProbe {
  return memo('uprobe', () => {
    if (probePmu('uprobe') || hasProbeEvents('uprobe')) return { available: true };
    return {
      available: false,
      feature: 'uprobes (CONFIG_UPROBE_EVENTS)',
      reason: 'uprobes (CONFIG_UPROBE_EVENTS): no uprobe PMU (/sys/bus/event_source/devices/uprobe) and no uprobe_events in tracefs',
    };
  });
}

export function canAttachUprobe(): boolean {
  return uprobeProbe().available;
}

/** Tracepoints through perf events need tracefs for their ids. */
export function canAttachTracepoint(): boolean {
  return memo('tracepoint', () =>
    tracefsRoot() && existsSync(`${tracefsRoot()}/events`)
      ? { available: true }
      : { available: false, reason: 'tracefs (not mounted at /sys/kernel/tracing)' },
  ).available;
}

/**
 * fentry (and fexit, fmod_ret): BPF trampolines (5.5+, x86-64 and arm64 with
 * CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS). Probed as libbpf's users find out: load a fentry
 * program on a kernel function and attach it.
 */
export function fentryProbe(): AttachProbe {
  return memo('fentry', () => tracingProbe('fentry', AttachType.TRACE_FENTRY, ['bpf_fentry_test1', 'do_unlinkat', 'vfs_read']));
}

export function canAttachFentry(): boolean {
  return fentryProbe().available;
}

/** The BPF LSM (5.7+, CONFIG_BPF_LSM and "bpf" in the lsm= list). */
export function lsmProbe(): AttachProbe {
  return memo('lsm', () => {
    return tracingProbe('lsm', AttachType.LSM_MAC, ['bpf_lsm_file_open', 'bpf_lsm_bpf'], ProgType.LSM);
  });
}

export function canAttachLsm(): boolean {
  return lsmProbe().available;
}

function tracingProbe(name: string, attachType: number, targets: string[], progType: number = ProgType.TRACING): AttachProbe {
  const feature = name === 'lsm' ? 'BPF LSM (CONFIG_BPF_LSM)' : 'fentry/fexit (BPF trampolines)';
  let btfId = 0;
  let target = '';
  try {
    const spec = loadKernelSpec();
    for (const t of targets) {
      const f = spec.findType('func', t);
      if (f) {
        btfId = f.id;
        target = t;
        break;
      }
    }
  } catch (e) {
    return { available: false, feature, reason: `${name}: no kernel BTF (CONFIG_DEBUG_INFO_BTF): ${(e as Error).message}` };
  }
  if (!btfId) return { available: false, feature, reason: `${name}: none of ${targets.join(', ')} in kernel BTF` };
  const prog = trivialProgram(progType, attachType, btfId);
  if (typeof prog === 'number') {
    const why =
      -prog === errno.EPERM || -prog === 524 || -prog === errno.EOPNOTSUPP
        ? name === 'lsm'
          ? 'the kernel refuses BPF LSM programs (CONFIG_BPF_LSM, "bpf" in lsm=)'
          : 'the kernel refuses fentry/fexit programs (BPF trampolines: CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS, JIT support)'
        : `loading a ${name} program on ${target} failed`;
    return { available: false, feature, reason: `${name}: ${why} (BPF_PROG_LOAD: ${errnoName(-prog)})` };
  }
  try {
    rawTracepointOpen(null, prog.value).close();
    return { available: true };
  } catch (e) {
    return { available: false, feature, reason: `${name}: attaching to ${target} failed: ${(e as Error).message}` };
  } finally {
    prog.close();
  }
}

/** BPF cookies (bpf_get_attach_cookie): perf_event links (5.15+). */
export function hasBpfCookies(): boolean {
  return hasPerfEventLinks();
}

export interface AttachReport {
  [hook: string]: AttachProbe;
}

/** Every attach probe, for `feature probe`. */
export function probeAttach(): AttachReport {
  const links = (name: string, f: () => boolean): AttachProbe => {
    f();
    return cache.get(`link:${name}`)!;
  };
  return {
    tracepoint: (canAttachTracepoint(), cache.get('tracepoint')!),
    kprobe: kprobeProbe(),
    uprobe: uprobeProbe(),
    fentry: fentryProbe(),
    lsm: lsmProbe(),
    perf_event_link: links('perf_event', hasPerfEventLinks),
    kprobe_multi_link: kprobeMultiProbe(),
    uprobe_multi_link: links('uprobe_multi', hasUprobeMultiLinks),
    xdp_link: links('xdp', hasXdpLinks),
    tcx_link: links('tcx', hasTcxLinks),
    cgroup_link: links('cgroup', hasCgroupLinks),
    netns_link: links('netns', hasNetnsLinks),
    sockmap_link: links('sockmap', hasSockmapLinks),
  };
}

/** Throws NotSupportedError naming what is missing when `probe` is unavailable. */
export function requireAttach(probe: AttachProbe, what: string): void {
  if (!probe.available) throw new NotSupportedError(probe.feature ?? probe.reason ?? what, `${what}: not supported by this kernel: ${probe.reason ?? what}`);
}
