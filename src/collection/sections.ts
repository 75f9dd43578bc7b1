/**
 * Program types from ELF section names, by libbpf's conventions (libbpf.c `section_defs`).
 *
 * A definition matches a section name in one of three ways, as in libbpf:
 *  - `"xdp"`: the exact name only;
 *  - `"kprobe+"`: the exact name `kprobe` or `kprobe/<anything>` (the part after the slash is
 *    the attach target: a function, a tracepoint, a binary and symbol...);
 *  - `"tc/"` style (a trailing slash): any name starting with it.
 * The first matching definition wins, so more specific names come first (`xdp.frags/devmap`
 * before `xdp.frags` before `xdp`). Pure: no kernel needed.
 */
import { AttachType, ProgType } from '../sys/constants.js';

/** Flags of a section definition (libbpf's SEC_* flags that matter for loading). */
export const SecFlags = {
  NONE: 0,
  /** BPF_F_SLEEPABLE at load (`.s` sections, `syscall`). */
  SLEEPABLE: 1 << 0,
  /** BPF_F_XDP_HAS_FRAGS at load (`xdp.frags`). */
  XDP_FRAGS: 1 << 1,
  /** The attach target is a kernel BTF id found at load (tp_btf, fentry, lsm, iter...). */
  ATTACH_BTF: 1 << 2,
  /** USDT: libbpf switches to uprobe_multi when the kernel has it (an attach-time matter here). */
  USDT: 1 << 3,
} as const;

export interface SectionDef {
  /** The section name pattern, libbpf's spelling (`kprobe+`, `xdp`, `cgroup/connect4`). */
  readonly pattern: string;
  readonly type: number;
  readonly expectedAttachType: number;
  readonly flags: number;
}

const A = AttachType;
const P = ProgType;
const F = SecFlags;

function def(pattern: string, type: number, expectedAttachType: number, flags: number = F.NONE): SectionDef {
  return Object.freeze({ pattern, type, expectedAttachType, flags });
}

/**
 * libbpf's table, in libbpf's order (latest libbpf; BPF_TRACE_* attach types this project
 * doesn't know yet are left out). Attach types libbpf sets only for attaching
 * (SEC_ATTACHABLE) are given too: libbpf passes them as expected_attach_type at load.
 */
export const SECTION_DEFS: readonly SectionDef[] = Object.freeze([
  def('socket', P.SOCKET_FILTER, 0),
  def('sk_reuseport/migrate', P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE),
  def('sk_reuseport', P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT),
  def('kprobe+', P.KPROBE, 0),
  def('uprobe+', P.KPROBE, 0),
  def('uprobe.s+', P.KPROBE, 0, F.SLEEPABLE),
  def('kretprobe+', P.KPROBE, 0),
  def('uretprobe+', P.KPROBE, 0),
  def('uretprobe.s+', P.KPROBE, 0, F.SLEEPABLE),
  def('kprobe.multi+', P.KPROBE, A.TRACE_KPROBE_MULTI),
  def('kretprobe.multi+', P.KPROBE, A.TRACE_KPROBE_MULTI),
  def('kprobe.session+', P.KPROBE, A.TRACE_KPROBE_SESSION),
  def('uprobe.multi+', P.KPROBE, A.TRACE_UPROBE_MULTI),
  def('uretprobe.multi+', P.KPROBE, A.TRACE_UPROBE_MULTI),
  def('uprobe.session+', P.KPROBE, A.TRACE_UPROBE_SESSION),
  def('uprobe.multi.s+', P.KPROBE, A.TRACE_UPROBE_MULTI, F.SLEEPABLE),
  def('uretprobe.multi.s+', P.KPROBE, A.TRACE_UPROBE_MULTI, F.SLEEPABLE),
  def('uprobe.session.s+', P.KPROBE, A.TRACE_UPROBE_SESSION, F.SLEEPABLE),
  def('ksyscall+', P.KPROBE, 0),
  def('kretsyscall+', P.KPROBE, 0),
  def('usdt+', P.KPROBE, 0, F.USDT),
  def('usdt.s+', P.KPROBE, 0, F.USDT | F.SLEEPABLE),
  def('tc/ingress', P.SCHED_CLS, A.TCX_INGRESS),
  def('tc/egress', P.SCHED_CLS, A.TCX_EGRESS),
  def('tcx/ingress', P.SCHED_CLS, A.TCX_INGRESS),
  def('tcx/egress', P.SCHED_CLS, A.TCX_EGRESS),
  def('tc', P.SCHED_CLS, 0),
  def('classifier', P.SCHED_CLS, 0),
  def('action', P.SCHED_ACT, 0),
  def('netkit/primary', P.SCHED_CLS, A.NETKIT_PRIMARY),
  def('netkit/peer', P.SCHED_CLS, A.NETKIT_PEER),
  def('tracepoint+', P.TRACEPOINT, 0),
  def('tp+', P.TRACEPOINT, 0),
  def('tracepoint.s+', P.TRACEPOINT, 0, F.SLEEPABLE),
  def('tp.s+', P.TRACEPOINT, 0, F.SLEEPABLE),
  def('raw_tracepoint+', P.RAW_TRACEPOINT, 0),
  def('raw_tp+', P.RAW_TRACEPOINT, 0),
  def('raw_tracepoint.s+', P.RAW_TRACEPOINT, 0, F.SLEEPABLE),
  def('raw_tp.s+', P.RAW_TRACEPOINT, 0, F.SLEEPABLE),
  def('raw_tracepoint.w+', P.RAW_TRACEPOINT_WRITABLE, 0),
  def('raw_tp.w+', P.RAW_TRACEPOINT_WRITABLE, 0),
  def('tp_btf+', P.TRACING, A.TRACE_RAW_TP, F.ATTACH_BTF),
  def('tp_btf.s+', P.TRACING, A.TRACE_RAW_TP, F.ATTACH_BTF | F.SLEEPABLE),
  def('fentry+', P.TRACING, A.TRACE_FENTRY, F.ATTACH_BTF),
  def('fmod_ret+', P.TRACING, A.MODIFY_RETURN, F.ATTACH_BTF),
  def('fexit+', P.TRACING, A.TRACE_FEXIT, F.ATTACH_BTF),
  def('fentry.s+', P.TRACING, A.TRACE_FENTRY, F.ATTACH_BTF | F.SLEEPABLE),
  def('fmod_ret.s+', P.TRACING, A.MODIFY_RETURN, F.ATTACH_BTF | F.SLEEPABLE),
  def('fexit.s+', P.TRACING, A.TRACE_FEXIT, F.ATTACH_BTF | F.SLEEPABLE),
  def('freplace+', P.EXT, 0, F.ATTACH_BTF),
  def('lsm+', P.LSM, A.LSM_MAC, F.ATTACH_BTF),
  def('lsm.s+', P.LSM, A.LSM_MAC, F.ATTACH_BTF | F.SLEEPABLE),
  def('lsm_cgroup+', P.LSM, A.LSM_CGROUP, F.ATTACH_BTF),
  def('iter+', P.TRACING, A.TRACE_ITER, F.ATTACH_BTF),
  def('iter.s+', P.TRACING, A.TRACE_ITER, F.ATTACH_BTF | F.SLEEPABLE),
  def('syscall', P.SYSCALL, 0, F.SLEEPABLE),
  def('xdp.frags/devmap', P.XDP, A.XDP_DEVMAP, F.XDP_FRAGS),
  def('xdp/devmap', P.XDP, A.XDP_DEVMAP),
  def('xdp.frags/cpumap', P.XDP, A.XDP_CPUMAP, F.XDP_FRAGS),
  def('xdp/cpumap', P.XDP, A.XDP_CPUMAP),
  def('xdp.frags', P.XDP, A.XDP, F.XDP_FRAGS),
  def('xdp', P.XDP, A.XDP),
  def('perf_event', P.PERF_EVENT, 0),
  def('lwt_in', P.LWT_IN, 0),
  def('lwt_out', P.LWT_OUT, 0),
  def('lwt_xmit', P.LWT_XMIT, 0),
  def('lwt_seg6local', P.LWT_SEG6LOCAL, 0),
  def('sockops', P.SOCK_OPS, A.CGROUP_SOCK_OPS),
  def('sk_skb/stream_parser', P.SK_SKB, A.SK_SKB_STREAM_PARSER),
  def('sk_skb/stream_verdict', P.SK_SKB, A.SK_SKB_STREAM_VERDICT),
  def('sk_skb/verdict', P.SK_SKB, A.SK_SKB_VERDICT),
  def('sk_skb', P.SK_SKB, 0),
  def('sk_msg', P.SK_MSG, A.SK_MSG_VERDICT),
  def('lirc_mode2', P.LIRC_MODE2, A.LIRC_MODE2),
  def('flow_dissector', P.FLOW_DISSECTOR, A.FLOW_DISSECTOR),
  def('cgroup_skb/ingress', P.CGROUP_SKB, A.CGROUP_INET_INGRESS),
  def('cgroup_skb/egress', P.CGROUP_SKB, A.CGROUP_INET_EGRESS),
  def('cgroup/skb', P.CGROUP_SKB, 0),
  def('cgroup/sock_create', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE),
  def('cgroup/sock_release', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE),
  def('cgroup/sock', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE),
  def('cgroup/post_bind4', P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND),
  def('cgroup/post_bind6', P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND),
  def('cgroup/bind4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND),
  def('cgroup/bind6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND),
  def('cgroup/connect4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT),
  def('cgroup/connect6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT),
  def('cgroup/connect_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT),
  def('cgroup/sendmsg4', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG),
  def('cgroup/sendmsg6', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG),
  def('cgroup/sendmsg_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG),
  def('cgroup/recvmsg4', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG),
  def('cgroup/recvmsg6', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG),
  def('cgroup/recvmsg_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG),
  def('cgroup/getpeername4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME),
  def('cgroup/getpeername6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME),
  def('cgroup/getpeername_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME),
  def('cgroup/getsockname4', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME),
  def('cgroup/getsockname6', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME),
  def('cgroup/getsockname_unix', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME),
  def('cgroup/sysctl', P.CGROUP_SYSCTL, A.CGROUP_SYSCTL),
  def('cgroup/getsockopt', P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT),
  def('cgroup/setsockopt', P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT),
  def('cgroup/dev', P.CGROUP_DEVICE, A.CGROUP_DEVICE),
  def('struct_ops+', P.STRUCT_OPS, 0),
  def('struct_ops.s+', P.STRUCT_OPS, 0, F.SLEEPABLE),
  def('sk_lookup', P.SK_LOOKUP, A.SK_LOOKUP),
  def('netfilter', P.NETFILTER, A.NETFILTER),
]);

/** Whether `pattern` (libbpf's notation) matches section name `name`. */
export function sectionMatches(pattern: string, name: string): boolean {
  const last = pattern[pattern.length - 1];
  if (last === '/') return name.startsWith(pattern);
  if (last === '+') {
    const base = pattern.slice(0, -1);
    if (!name.startsWith(base)) return false;
    return name.length === base.length || name[base.length] === '/';
  }
  return name === pattern;
}

export interface SectionInfo {
  def: SectionDef;
  /** What follows the definition's prefix and its '/': `syscalls/sys_enter_execve`, `do_unlinkat`; '' if nothing. */
  attachTo: string;
}

/**
 * The definition for a program section name, or undefined when libbpf wouldn't know the
 * section (a program there still loads if the caller says its type). A leading `?` (libbpf's
 * "don't autoload" marker) is not part of the name matched.
 */
export function lookupSection(sectionName: string): SectionInfo | undefined {
  const name = sectionName.startsWith('?') ? sectionName.slice(1) : sectionName;
  for (const d of SECTION_DEFS) {
    if (!sectionMatches(d.pattern, name)) continue;
    const base = d.pattern.endsWith('+') ? d.pattern.slice(0, -1) : d.pattern;
    let attachTo = name.slice(base.length);
    if (attachTo.startsWith('/')) attachTo = attachTo.slice(1);
    return { def: d, attachTo };
  }
  return undefined;
}
