/**
 * cgroup hooks: cgroup_skb (ingress/egress), cgroup_sock (create/release/post_bind), sock_addr
 * (bind, connect, sendmsg, recvmsg, getpeername, getsockname for inet4/6 and unix), sock_ops,
 * device, sysctl, sockopt. A program on a cgroup v2 directory runs for the sockets (or
 * devices, sysctls) of every process in it and in its descendants.
 *
 * Attaches through a cgroup BPF link (5.7+; links are always "multi": they stack with other
 * programs) and falls back to BPF_PROG_ATTACH, whose flags decide how programs stack:
 * 'multi' (BPF_F_ALLOW_MULTI: several programs, all run), 'override' (BPF_F_ALLOW_OVERRIDE: one
 * program, which a descendant's replaces), or 'exclusive' (one, no overriding below).
 */
import { openSync, readFileSync } from 'node:fs';
import { ArgumentError } from '../errors.js';
import type { Program } from '../programs/program.js';
import { ATTACH_TYPE_NAMES, AttachFlags, AttachType, FD, ProgType, getFdById, linkCreate, progAttach, progDetach, progQuery } from '../sys/index.js';
import { hasCgroupLinks } from '../features/attach.js';
import { LegacyLink, Link, progFd, type LinkDetails } from './link.js';

/** Program types and the attach types they may use on cgroups. */
const CGROUP_ATTACH: Record<number, number[]> = {
  [ProgType.CGROUP_SKB]: [AttachType.CGROUP_INET_INGRESS, AttachType.CGROUP_INET_EGRESS],
  [ProgType.CGROUP_SOCK]: [AttachType.CGROUP_INET_SOCK_CREATE, AttachType.CGROUP_INET_SOCK_RELEASE, AttachType.CGROUP_INET4_POST_BIND, AttachType.CGROUP_INET6_POST_BIND],
  [ProgType.CGROUP_SOCK_ADDR]: [
    AttachType.CGROUP_INET4_BIND,
    AttachType.CGROUP_INET6_BIND,
    AttachType.CGROUP_INET4_CONNECT,
    AttachType.CGROUP_INET6_CONNECT,
    AttachType.CGROUP_UNIX_CONNECT,
    AttachType.CGROUP_UDP4_SENDMSG,
    AttachType.CGROUP_UDP6_SENDMSG,
    AttachType.CGROUP_UNIX_SENDMSG,
    AttachType.CGROUP_UDP4_RECVMSG,
    AttachType.CGROUP_UDP6_RECVMSG,
    AttachType.CGROUP_UNIX_RECVMSG,
    AttachType.CGROUP_INET4_GETPEERNAME,
    AttachType.CGROUP_INET6_GETPEERNAME,
    AttachType.CGROUP_UNIX_GETPEERNAME,
    AttachType.CGROUP_INET4_GETSOCKNAME,
    AttachType.CGROUP_INET6_GETSOCKNAME,
    AttachType.CGROUP_UNIX_GETSOCKNAME,
  ],
  [ProgType.SOCK_OPS]: [AttachType.CGROUP_SOCK_OPS],
  [ProgType.CGROUP_DEVICE]: [AttachType.CGROUP_DEVICE],
  [ProgType.CGROUP_SYSCTL]: [AttachType.CGROUP_SYSCTL],
  [ProgType.CGROUP_SOCKOPT]: [AttachType.CGROUP_GETSOCKOPT, AttachType.CGROUP_SETSOCKOPT],
  [ProgType.LSM]: [AttachType.LSM_CGROUP],
};

/**
 * An attach type given as a number, its bpftool name (`cgroup_inet_ingress`), its constant
 * name (`CGROUP_INET_INGRESS`), or libbpf's section suffix (`ingress`, `connect4`, `sock_create`).
 */
export function attachTypeOf(t: number | string): number {
  if (typeof t === 'number') return t;
  const lower = t.toLowerCase().replace(/^bpf_/, '');
  let i = ATTACH_TYPE_NAMES.indexOf(lower);
  if (i < 0) i = ATTACH_TYPE_NAMES.indexOf(`cgroup_${lower}`);
  if (i < 0) i = ATTACH_TYPE_NAMES.indexOf(`cgroup_inet_${lower}`);
  if (i < 0) {
    const m = /^(bind|connect|post_bind|getpeername|getsockname)([46])$/.exec(lower) ?? /^(sendmsg|recvmsg)([46])$/.exec(lower);
    if (m) i = ATTACH_TYPE_NAMES.indexOf(m[1] === 'sendmsg' || m[1] === 'recvmsg' ? `cgroup_udp${m[2]}_${m[1]}` : `cgroup_inet${m[2]}_${m[1]}`);
    const u = /^(connect|sendmsg|recvmsg|getpeername|getsockname)_unix$/.exec(lower);
    if (u) i = ATTACH_TYPE_NAMES.indexOf(`cgroup_unix_${u[1]}`);
  }
  if (i < 0) throw new ArgumentError(`unknown attach type '${t}'`);
  return i;
}

let cgroup2: string | null | undefined;

/**
 * Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup on unified systems,
 * /sys/fs/cgroup/unified on hybrid ones), from /proc/mounts; undefined when it isn't.
 */
export function cgroup2Root(): string | undefined {
  if (cgroup2 === undefined) {
    cgroup2 = null;
    try {
      for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
        const f = line.split(' ');
        if (f[2] === 'cgroup2') {
          cgroup2 = f[1]!;
          break;
        }
      }
    } catch {
      /* no /proc */
    }
  }
  return cgroup2 ?? undefined;
}

export type CgroupAttachMode = 'multi' | 'override' | 'exclusive';

export interface CgroupOptions {
  /** The cgroup v2 directory (`/sys/fs/cgroup/my.slice`), or an open fd of it (not closed here). */
  cgroup: string | number;
  /**
   * The hook (see attachTypeOf for spellings). May be left out for program types with one
   * hook (sock_ops, device, sysctl).
   */
  attachType?: number | string;
  /** Attach with BPF_PROG_ATTACH even where cgroup links exist. */
  legacy?: boolean;
  /** BPF_PROG_ATTACH only: how programs on this cgroup and its descendants stack (default 'multi'). */
  mode?: CgroupAttachMode;
  /** BPF_PROG_ATTACH with 'multi': replace this program (BPF_F_REPLACE, 5.6+) instead of adding. */
  replace?: Program;
}

/** A program attached with BPF_PROG_ATTACH (cgroups, sockmaps, netns). close() detaches it. */
export class ProgAttachLink extends LegacyLink {
  readonly mechanism: string;
  readonly attachType: number;
  readonly #target: FD | number;

  /**
   * @internal `target`: the fd attached to (an FD this link owns and closes, or a number the
   * caller keeps open); `progRef`: the link's own fd of the program, for BPF_PROG_DETACH.
   */
  constructor(progRef: FD, progId: number, target: FD | number, attachType: number, mechanism: string) {
    const targetFd = typeof target === 'number' ? target : target.value;
    const ownedTarget = typeof target === 'number' ? undefined : target;
    super(
      progRef,
      progId,
      () => {
        try {
          progDetach(targetFd, attachType, progRef.value);
        } catch (e) {
          // ENOENT: detached already (by someone else, or the cgroup is gone).
          if ((e as { code?: string }).code !== 'ENOENT') throw e;
        }
      },
      ownedTarget ? [() => ownedTarget.close()] : [],
    );
    this.#target = target;
    this.attachType = attachType;
    this.mechanism = mechanism;
  }

  protected override details(): LinkDetails {
    return { kind: 'unknown' };
  }

  /** The fd of what the program is attached to. */
  get targetFd(): number {
    return typeof this.#target === 'number' ? this.#target : this.#target.value;
  }
}

/** A cgroup attachment through BPF_PROG_ATTACH. */
export class CgroupProgAttachLink extends ProgAttachLink {
  readonly cgroupPath: string | undefined;

  /** @internal */
  constructor(progRef: FD, progId: number, target: FD | number, attachType: number, cgroupPath: string | undefined) {
    super(progRef, progId, target, attachType, 'cgroup (prog_attach)');
    this.cgroupPath = cgroupPath;
  }

  protected override details(): LinkDetails {
    return { kind: 'cgroup', cgroupId: 0n, attachType: this.attachType };
  }
}

function openCgroup(cgroup: string | number, what: string): { fd: number; owned?: FD } {
  if (typeof cgroup === 'number') return { fd: cgroup };
  let n: number;
  try {
    n = openSync(cgroup, 'r');
  } catch (e) {
    throw new ArgumentError(`${what}: can't open cgroup directory '${cgroup}' (${(e as NodeJS.ErrnoException).code})`, (e as NodeJS.ErrnoException).code);
  }
  const owned = new FD(n, `cgroup ${cgroup}`);
  return { fd: owned.value, owned };
}

/** Attaches a cgroup program to a cgroup v2 directory. See CgroupOptions. */
export function attachCgroup(prog: Program, opts: CgroupOptions): Link {
  const allowed = CGROUP_ATTACH[prog.type];
  const where = typeof opts.cgroup === 'string' ? opts.cgroup : `cgroup fd ${opts.cgroup}`;
  if (!allowed) throw new ArgumentError(`cgroup ${where}: program '${prog.name}' is a ${prog.typeName} program, which doesn't attach to cgroups`);
  let attachType: number;
  // A Program that knows the expected attach type it was loaded with lends it as the default.
  const loadedFor = (prog as unknown as { expectedAttachType?: number }).expectedAttachType;
  if (opts.attachType !== undefined) attachType = attachTypeOf(opts.attachType);
  else if (allowed.length === 1) attachType = allowed[0]!;
  else if (loadedFor && allowed.includes(loadedFor)) attachType = loadedFor;
  else throw new ArgumentError(`cgroup ${where}: program '${prog.name}' (${prog.typeName}) needs an attachType: one of ${allowed.map((a) => ATTACH_TYPE_NAMES[a]).join(', ')}`);
  if (!allowed.includes(attachType)) {
    throw new ArgumentError(`cgroup ${where}: attach type ${ATTACH_TYPE_NAMES[attachType] ?? attachType} doesn't take ${prog.typeName} programs (${allowed.map((a) => ATTACH_TYPE_NAMES[a]).join(', ')})`);
  }
  const what = `cgroup ${where} ${ATTACH_TYPE_NAMES[attachType]}`;
  const fd = progFd(prog, what);
  const cg = openCgroup(opts.cgroup, what);
  try {
    if (!opts.legacy && !opts.replace && (opts.mode === undefined || opts.mode === 'multi') && hasCgroupLinks()) {
      const link = new Link(linkCreate({ progFd: fd, targetFd: cg.fd, attachType, what }));
      cg.owned?.close();
      return link;
    }
    const mode = opts.mode ?? 'multi';
    let flags = mode === 'multi' ? AttachFlags.ALLOW_MULTI : mode === 'override' ? AttachFlags.ALLOW_OVERRIDE : 0;
    if (opts.replace) {
      if (mode !== 'multi') throw new ArgumentError(`${what}: replace needs mode 'multi'`);
      flags |= AttachFlags.REPLACE;
    }
    const ref = getFdById('prog', prog.id);
    try {
      progAttach({ targetFd: cg.fd, progFd: ref.value, attachType, flags, replaceProgFd: opts.replace?.fd.value ?? 0 });
    } catch (e) {
      ref.close();
      throw e;
    }
    return new CgroupProgAttachLink(ref, prog.id, cg.owned ?? cg.fd, attachType, typeof opts.cgroup === 'string' ? opts.cgroup : undefined);
  } catch (e) {
    cg.owned?.close();
    throw e;
  }
}

export interface CgroupQuery {
  /** BPF_F_ALLOW_* of the cgroup's legacy attachments. */
  attachFlags: number;
  progIds: number[];
  /** Links (6.6+ fills these). */
  linkIds: number[];
  revision: bigint;
}

/**
 * The programs attached to a cgroup at one hook (BPF_PROG_QUERY). `effective`: those that
 * run there, inherited ones included (BPF_F_QUERY_EFFECTIVE).
 */
export function queryCgroup(cgroup: string | number, attachType: number | string, opts: { effective?: boolean } = {}): CgroupQuery {
  const t = attachTypeOf(attachType);
  const cg = openCgroup(cgroup, 'cgroup query');
  try {
    const r = progQuery(cg.fd, t, opts.effective ? 1 : 0);
    return { attachFlags: r.attachFlags, progIds: r.progIds, linkIds: r.linkIds, revision: r.revision };
  } finally {
    cg.owned?.close();
  }
}
