/**
 * Auto-attach from section names, by libbpf's conventions (its `attach_fn`s):
 *
 *   tracepoint/<group>/<name>, tp/<group>/<name>      attachTracepoint
 *   raw_tracepoint/<name>, raw_tp/<name> (.w, .s)     attachRawTracepoint
 *   tp_btf/<name>, fentry/, fexit/, fmod_ret/, lsm/    attachTracing (the target was fixed at load)
 *   iter/<target>                                     attachIter
 *   kprobe/<func>[+<offset>], kretprobe/<func>        attachKprobe
 *   ksyscall/<syscall>, kretsyscall/<syscall>         attachKsyscall
 *   kprobe.multi/<glob>, kretprobe.multi/<glob>       attachKprobeMulti
 *   uprobe/<binary>:<func>[+<offset>] (uretprobe, .s) attachUprobe
 *   uprobe.multi/<binary>:<glob>                      attachUprobeMulti
 *   usdt/<binary>:<provider>:<name>                   attachUsdt
 *
 * Sections without a target (`kprobe`, `uprobe`, `tp`...) and hooks that need one the section
 * can't name (xdp, tc, cgroup, socket filters, perf_event, sk_*, freplace, struct_ops) are
 * skipped, as libbpf skips them, unless the options give the interface or cgroup for them.
 */
import { EbpfError } from '../errors.js';
import { ProgType, AttachType } from '../sys/index.js';
import type { Program } from '../programs/program.js';
import type { ProgramSpec } from '../collection/types.js';
import { attachCgroup } from './cgroup.js';
import { attachIter } from './iter.js';
import { attachKprobe, attachKprobeMulti, attachKsyscall } from './kprobe.js';
import { closeQuietly, type Link, type LinkGroup } from './link.js';
import { attachTc } from './tc.js';
import { attachFentry, attachFexit, attachFmodRet, attachLsm, attachRawTracepoint, attachTpBtf, attachTracepoint, parseTracepoint } from './tracing.js';
import { attachUprobe, attachUprobeMulti, openElf, resolveBinaryPath } from './uprobe.js';
import { attachUsdt } from './usdt.js';
import { attachXdp, type XdpMode } from './xdp.js';

export type Attachment = Link | LinkGroup;

export interface AttachAllOptions {
  /** Attach xdp programs and tc/tcx ingress/egress programs to this interface (not done otherwise). */
  iface?: string;
  ifindex?: number;
  xdpMode?: XdpMode;
  /** Attach cgroup programs (cgroup_skb/ingress, cgroup/connect4...) to this cgroup v2 directory. */
  cgroup?: string;
  /** Only in this process: uprobes and USDT probes. */
  pid?: number;
  /** Programs (by name) to leave unattached. */
  skip?: string[];
}

/** The prefix of a section name before its first '/', without libbpf's '?' marker. */
function kindOf(section: string): { kind: string; target: string } {
  const s = section.startsWith('?') ? section.slice(1) : section;
  const slash = s.indexOf('/');
  return slash < 0 ? { kind: s, target: '' } : { kind: s.slice(0, slash), target: s.slice(slash + 1) };
}

/** `func`, `func+off` or a number: a symbol with an offset, or a plain offset. */
function symbolAndOffset(text: string): { symbol?: string; offset: number } {
  const m = /^([^+]+?)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(text);
  if (m && /^(0x[0-9a-f]+|\d+)$/i.test(m[1]!) && m[2] === undefined) return { offset: Number(m[1]) };
  if (!m) throw new EbpfError('ERR_SECTION', `can't parse '${text}' as function[+offset]`);
  return { symbol: m[1]!, offset: m[2] ? Number(m[2]) : 0 };
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

/**
 * Attaches one program by its section name. Returns undefined when libbpf wouldn't auto-attach
 * it (and the options don't say where).
 */
export function autoAttach(spec: ProgramSpec, prog: Program, opts: AttachAllOptions = {}): Attachment | undefined {
  const { kind, target } = kindOf(spec.sectionName);
  const base = kind.replace(/\.(s|w)$/, '');
  switch (base) {
    case 'tracepoint':
    case 'tp':
      return target ? attachTracepoint(prog, parseTracepoint(target)) : undefined;
    case 'raw_tracepoint':
    case 'raw_tp':
      return target ? attachRawTracepoint(prog, { name: target }) : undefined;
    case 'tp_btf':
      return attachTpBtf(prog);
    case 'fentry':
      return attachFentry(prog);
    case 'fexit':
      return attachFexit(prog);
    case 'fmod_ret':
      return attachFmodRet(prog);
    case 'lsm':
      return attachLsm(prog);
    case 'iter':
      return attachIter(prog);
    case 'kprobe':
    case 'kretprobe': {
      if (!target) return undefined;
      const { symbol, offset } = symbolAndOffset(target);
      return attachKprobe(prog, symbol !== undefined ? { symbol, offset, retprobe: base === 'kretprobe' } : { address: BigInt(offset), retprobe: base === 'kretprobe' });
    }
    case 'ksyscall':
    case 'kretsyscall':
      return target ? attachKsyscall(prog, { syscall: target, retprobe: base === 'kretsyscall' }) : undefined;
    case 'kprobe.multi':
    case 'kretprobe.multi':
      return target ? attachKprobeMulti(prog, { pattern: target, retprobe: base === 'kretprobe.multi' }) : undefined;
    case 'uprobe':
    case 'uretprobe': {
      if (!target) return undefined;
      const colon = target.lastIndexOf(':');
      if (colon <= 0) throw new EbpfError('ERR_SECTION', `expected ${base}/<binary>:<function>[+<offset>]`);
      const { symbol, offset } = symbolAndOffset(target.slice(colon + 1));
      return attachUprobe(prog, { binary: target.slice(0, colon), symbol, offset, pid: opts.pid, retprobe: base === 'uretprobe' });
    }
    case 'uprobe.multi':
    case 'uretprobe.multi': {
      if (!target) return undefined;
      const colon = target.lastIndexOf(':');
      if (colon <= 0) throw new EbpfError('ERR_SECTION', `expected ${base}/<binary>:<pattern>`);
      const path = resolveBinaryPath(target.slice(0, colon), opts.pid);
      const re = globToRegExp(target.slice(colon + 1));
      const elf = openElf(path);
      const names = [...new Set([...elf.symbols, ...elf.dynamicSymbols].filter((s) => s.type === 2 /* STT_FUNC */ && s.sectionIndex !== 0 && re.test(s.name)).map((s) => s.name))];
      return attachUprobeMulti(prog, { binary: path, symbols: names, pid: opts.pid, retprobe: base === 'uretprobe.multi' });
    }
    case 'usdt': {
      if (!target) return undefined;
      const parts = target.split(':');
      if (parts.length < 3) throw new EbpfError('ERR_SECTION', 'expected usdt/<binary>:<provider>:<name>');
      const name = parts.pop()!;
      const provider = parts.pop()!;
      return attachUsdt(prog, { binary: parts.join(':'), provider, name, pid: opts.pid });
    }
    case 'xdp':
      if (spec.expectedAttachType !== AttachType.XDP && spec.expectedAttachType !== 0) return undefined; // devmap/cpumap programs
      return opts.iface !== undefined || opts.ifindex !== undefined ? attachXdp(prog, { iface: opts.iface, ifindex: opts.ifindex, mode: opts.xdpMode }) : undefined;
    case 'tc':
    case 'tcx': {
      if (opts.iface === undefined && opts.ifindex === undefined) return undefined;
      const direction = spec.expectedAttachType === AttachType.TCX_INGRESS ? 'ingress' : spec.expectedAttachType === AttachType.TCX_EGRESS ? 'egress' : undefined;
      return direction ? attachTc(prog, { iface: opts.iface, ifindex: opts.ifindex, direction }) : undefined;
    }
    default:
      if (opts.cgroup !== undefined && isCgroupProgram(prog.type) && spec.expectedAttachType !== 0) {
        return attachCgroup(prog, { cgroup: opts.cgroup, attachType: spec.expectedAttachType });
      }
      if (opts.cgroup !== undefined && prog.type === ProgType.CGROUP_SKB && kind === 'cgroup_skb') {
        return attachCgroup(prog, { cgroup: opts.cgroup, attachType: target === 'egress' ? AttachType.CGROUP_INET_EGRESS : AttachType.CGROUP_INET_INGRESS });
      }
      return undefined;
  }
}

function isCgroupProgram(type: number): boolean {
  return (
    type === ProgType.CGROUP_SKB ||
    type === ProgType.CGROUP_SOCK ||
    type === ProgType.CGROUP_SOCK_ADDR ||
    type === ProgType.SOCK_OPS ||
    type === ProgType.CGROUP_DEVICE ||
    type === ProgType.CGROUP_SYSCTL ||
    type === ProgType.CGROUP_SOCKOPT
  );
}

/** What attachAll needs of a collection: its loaded programs and their specs. */
export interface AttachableCollection {
  readonly programs: ReadonlyMap<string, Program>;
  readonly spec: { readonly programs: ReadonlyMap<string, ProgramSpec> | Map<string, ProgramSpec> };
}

/**
 * Attaches every loaded program of a collection that its section name (or the options) gives a
 * target, in the collection's order. Returns the attachments by program name. When one fails,
 * those made so far are closed and the error (its message prefixed with the program and
 * section) is thrown.
 */
export function attachCollectionPrograms(coll: AttachableCollection, opts: AttachAllOptions = {}): Map<string, Attachment> {
  const out = new Map<string, Attachment>();
  try {
    for (const [name, prog] of coll.programs) {
      if (opts.skip?.includes(name)) continue;
      const spec = coll.spec.programs.get(name);
      if (!spec) continue;
      let a: Attachment | undefined;
      try {
        a = autoAttach(spec, prog, opts);
      } catch (e) {
        if (e instanceof Error) e.message = `program '${name}' (SEC("${spec.sectionName}")): ${e.message}`;
        throw e;
      }
      if (a) out.set(name, a);
    }
  } catch (e) {
    closeQuietly(...[...out.values()].reverse());
    throw e;
  }
  return out;
}

