/**
 * TC: sched_cls programs on an interface's ingress or egress.
 *
 * On 6.6+ through TCX links (BPF_LINK_CREATE with BPF_TCX_INGRESS/EGRESS): no qdisc, several
 * programs in a defined order (before/after another program or link), swapped with update().
 * Older kernels (or `netlink: true`) get a direct-action cls_bpf filter under the clsact qdisc,
 * made with netlink as `tc filter add dev IF ingress bpf da` does; its Link (NetlinkTcLink)
 * deletes the filter on close. The clsact qdisc is created when missing, and removed again on
 * close only if this attach created it and no other filter remains under it.
 */
import { ArgumentError } from '../errors.js';
import type { Program } from '../programs/program.js';
import { AttachFlags, AttachType, ProgType, getFdById, linkCreate, progQuery, type FD } from '../sys/index.js';
import {
  TC_H_CLSACT,
  TC_H_MIN_EGRESS,
  TC_H_MIN_INGRESS,
  netlinkAddBpfFilter,
  netlinkAddClsact,
  netlinkDelClsact,
  netlinkDelFilter,
  netlinkListFilters,
  tcHandle,
  type TcFilterId,
} from '../sys/netlink.js';
import { hasTcxLinks } from '../features/attach.js';
import { LegacyLink, Link, progFd, type LinkDetails } from './link.js';
import { resolveIfindex } from './netdev.js';

export type TcDirection = 'ingress' | 'egress';

/** Where a TCX program goes relative to others: a program or link already attached there. */
export type TcAnchor = { program: Program } | { link: Link } | { programId: number } | { linkId: number };

export interface TcOptions {
  ifindex?: number;
  iface?: string;
  direction: TcDirection;
  /** TCX: run before this program/link (or first of all: `'first'`). */
  before?: TcAnchor | 'first';
  /** TCX: run after this program/link (or last of all: `'last'`, the default). */
  after?: TcAnchor | 'last';
  /** TCX: fail unless the hook's revision is still this (from queryTcx), against races. */
  expectedRevision?: bigint;
  /** Attach as a netlink cls_bpf filter even where TCX exists. */
  netlink?: boolean | { priority?: number; handle?: number; replace?: boolean };
}

function anchor(a: TcAnchor): { flags: number; relative: number } {
  if ('program' in a) return { flags: 0, relative: a.program.fd.value };
  if ('link' in a) return { flags: AttachFlags.LINK, relative: a.link.fd.value };
  if ('programId' in a) return { flags: AttachFlags.ID, relative: a.programId };
  return { flags: AttachFlags.ID | AttachFlags.LINK, relative: a.linkId };
}

/** A TC program attached as a cls_bpf filter through netlink. close() deletes the filter. */
export class NetlinkTcLink extends LegacyLink {
  readonly mechanism = 'tc (netlink cls_bpf)';
  readonly filter: TcFilterId;
  readonly direction: TcDirection;

  /** @internal */
  constructor(progRef: FD, progId: number, filter: TcFilterId, direction: TcDirection, createdQdisc: boolean) {
    super(progRef, progId, () => {
      try {
        netlinkDelFilter(filter);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code !== 'ENOENT' && code !== 'ENODEV' && code !== 'EINVAL') throw e;
        return;
      }
      if (createdQdisc) {
        const left = [...netlinkListFilters(filter.ifindex, tcHandle(TC_H_CLSACT, TC_H_MIN_INGRESS)), ...netlinkListFilters(filter.ifindex, tcHandle(TC_H_CLSACT, TC_H_MIN_EGRESS))];
        if (left.length === 0) netlinkDelClsact(filter.ifindex);
      }
    });
    this.filter = filter;
    this.direction = direction;
  }

  protected override details(): LinkDetails {
    return { kind: 'tcx', ifindex: this.filter.ifindex, attachType: this.direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS };
  }
}

/** Attaches a sched_cls program to an interface's ingress or egress. See TcOptions. */
export function attachTc(prog: Program, opts: TcOptions): Link {
  const ifindex = resolveIfindex(opts, 'TC');
  const what = `TC ${opts.direction} on ${opts.iface ?? `ifindex ${ifindex}`}`;
  const fd = progFd(prog, what);
  if (prog.type !== ProgType.SCHED_CLS) throw new ArgumentError(`${what}: program '${prog.name}' is a ${prog.typeName} program, not sched_cls`);
  if (opts.direction !== 'ingress' && opts.direction !== 'egress') throw new ArgumentError(`${what}: direction must be 'ingress' or 'egress'`);
  if (!opts.netlink && hasTcxLinks()) {
    let flags = 0;
    let relative = 0;
    if (opts.before !== undefined && opts.after !== undefined && opts.before !== 'first' && opts.after !== 'last') {
      throw new ArgumentError(`${what}: give before or after, not both`);
    }
    if (opts.before === 'first') flags |= AttachFlags.BEFORE;
    else if (opts.before) {
      const a = anchor(opts.before);
      flags |= AttachFlags.BEFORE | a.flags;
      relative = a.relative;
    } else if (opts.after && opts.after !== 'last') {
      const a = anchor(opts.after);
      flags |= AttachFlags.AFTER | a.flags;
      relative = a.relative;
    }
    return new Link(
      linkCreate({
        progFd: fd,
        targetFd: ifindex,
        attachType: opts.direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS,
        flags,
        // tcx: relative_fd/id@16, expected_revision@24.
        extra: (a) => a.u32(16, relative).u64(24, opts.expectedRevision ?? 0n),
        what,
      }),
    );
  }
  const nl = typeof opts.netlink === 'object' ? opts.netlink : {};
  const created = netlinkAddClsact(ifindex);
  const ref = getFdById('prog', prog.id);
  try {
    const parent = tcHandle(TC_H_CLSACT, opts.direction === 'ingress' ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
    const filter = netlinkAddBpfFilter({ ifindex, parent, handle: nl.handle ?? 0, priority: nl.priority ?? 0 }, ref.value, `${prog.name || 'prog'}:[${prog.id}]`, nl.replace);
    return new NetlinkTcLink(ref, prog.id, filter, opts.direction, created);
  } catch (e) {
    ref.close();
    if (created) {
      try {
        netlinkDelClsact(ifindex);
      } catch {
        /* keep the first error */
      }
    }
    throw e;
  }
}

export interface TcxQuery {
  progIds: number[];
  linkIds: number[];
  /** Changes with every attach and detach: pass to expectedRevision to attach only if nothing changed meanwhile. */
  revision: bigint;
}

/** The programs on an interface's TCX hook, in run order (BPF_PROG_QUERY, 6.6+). */
export function queryTcx(opts: { ifindex?: number; iface?: string; direction: TcDirection }): TcxQuery {
  const ifindex = resolveIfindex(opts, 'TCX query');
  const r = progQuery(ifindex, opts.direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS);
  return { progIds: r.progIds, linkIds: r.linkIds, revision: r.revision };
}
