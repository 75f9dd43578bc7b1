/**
 * Link: one attachment of a program to a hook, owned through a file descriptor.
 *
 * Most hooks attach through a BPF link (BPF_LINK_CREATE, 5.7+, or BPF_RAW_TRACEPOINT_OPEN):
 * the kernel keeps the program attached while the link's fd is open or the link is pinned,
 * and the link can be pinned, updated with another program (BPF_LINK_UPDATE), detached
 * (BPF_LINK_DETACH, 5.9+) and inspected (BPF_OBJ_GET_INFO_BY_FD). Older kernels and some hooks
 * attach without a BPF link (a perf event with PERF_EVENT_IOC_SET_BPF, BPF_PROG_ATTACH on a
 * cgroup, netlink for XDP and TC, SO_ATTACH_BPF on a socket); those attachments are Links too
 * (subclasses of LegacyLink): close() detaches, info() describes them, and pin() raises
 * NotSupportedError because there is no BPF link to pin.
 *
 * A Link does not keep the Program object alive: the kernel holds its own reference to the
 * program, so closing the Program after attaching leaves the attachment in place.
 */
import { ArgumentError, NotSupportedError } from '../errors.js';
import {
  BpfObject,
  FD,
  LINK_TYPE_NAMES,
  LinkType,
  Struct,
  getFdById,
  linkDetach,
  linkUpdate,
  listIds,
  openEach,
  objGet,
  objGetInfoByFd,
  readCString,
} from '../sys/index.js';
import type { Program } from '../programs/program.js';

/** BPF_F_REPLACE for BPF_LINK_UPDATE and BPF_PROG_ATTACH. */
const BPF_F_REPLACE = 1 << 2;

/** enum bpf_perf_event_type: what a perf_event link's perf event is. */
export const PERF_EVENT_LINK_TYPES = ['unspec', 'uprobe', 'uretprobe', 'kprobe', 'kretprobe', 'tracepoint', 'event'] as const;
export type PerfEventLinkType = (typeof PERF_EVENT_LINK_TYPES)[number];

/** What every link's info has. `id` is 0 for attachments that are not BPF links. */
export interface LinkInfoCommon {
  id: number;
  /** LinkType value (LinkType.UNSPEC for attachments that are not BPF links). */
  type: number;
  /** bpftool's name of the link type ('tracing', 'perf_event', 'xdp'...). */
  typeName: string;
  progId: number;
  /** False for attachments made without a BPF link (ioctl, netlink, BPF_PROG_ATTACH, setsockopt). */
  bpfLink: boolean;
}

/**
 * The type-specific part of struct bpf_link_info, decoded (layouts of Linux 6.18; a kernel
 * fills what it knows and leaves newer fields zero).
 */
export type LinkDetails =
  | { kind: 'raw_tracepoint'; tpName: string; cookie: bigint }
  | { kind: 'tracing'; attachType: number; targetObjId: number; targetBtfId: number; cookie: bigint }
  | { kind: 'cgroup'; cgroupId: bigint; attachType: number }
  | {
      kind: 'iter';
      targetName: string;
      mapId: number;
      cgroupId: bigint;
      order: number;
      tid: number;
      pid: number;
    }
  | { kind: 'netns'; netnsIno: number; attachType: number }
  | { kind: 'xdp'; ifindex: number }
  | { kind: 'struct_ops'; mapId: number }
  | { kind: 'netfilter'; pf: number; hooknum: number; priority: number; flags: number }
  | { kind: 'kprobe_multi'; count: number; flags: number; missed: bigint; addrs: bigint[]; cookies: bigint[] }
  | {
      kind: 'uprobe_multi';
      path: string;
      count: number;
      flags: number;
      pid: number;
      offsets: bigint[];
      refCtrOffsets: bigint[];
      cookies: bigint[];
    }
  | {
      kind: 'perf_event';
      eventType: PerfEventLinkType;
      /** Tracepoint name, kprobe function or uprobe binary path. */
      name: string;
      /** Probe offset (kprobe: into the function; uprobe: into the file). */
      offset: number;
      /** kprobe: the probed address (0 unless the caller may see kernel addresses). */
      addr: bigint;
      missed: bigint;
      refCtrOffset: bigint;
      /** For 'event': perf_event_attr type and config. */
      config: bigint;
      perfType: number;
      cookie: bigint;
    }
  | { kind: 'tcx'; ifindex: number; attachType: number }
  | { kind: 'netkit'; ifindex: number; attachType: number }
  | { kind: 'sockmap'; mapId: number; attachType: number }
  | { kind: 'unknown' };

export type LinkInfo = LinkInfoCommon & LinkDetails;

/** Offsets of struct bpf_link_info (the union starts at 16, 8-byte aligned). */
const INFO_SIZE = 64;

/**
 * Reads and decodes a BPF link's info. Two calls: the first learns the type (and counts), the
 * second passes buffers for the strings and arrays the type has.
 */
export function readLinkInfo(fd: number): LinkInfo {
  const first = new Struct(INFO_SIZE);
  objGetInfoByFd(fd, first.bytes);
  const type = first.getU32(0);
  const common: LinkInfoCommon = {
    id: first.getU32(4),
    type,
    typeName: LINK_TYPE_NAMES[type] ?? `type ${type}`,
    progId: first.getU32(8),
    bpfLink: true,
  };
  const again = (fill: (s: Struct) => void): Struct => {
    const s = new Struct(INFO_SIZE);
    fill(s);
    objGetInfoByFd(fd, s.bytes);
    return s;
  };
  const s = first;
  switch (type) {
    case LinkType.RAW_TRACEPOINT: {
      const name = new Uint8Array(256);
      const t = again((x) => x.ptr(16, name).u32(24, name.length));
      return { ...common, kind: 'raw_tracepoint', tpName: readCString(name, 0, name.length), cookie: t.getU64(32) };
    }
    case LinkType.TRACING:
      return { ...common, kind: 'tracing', attachType: s.getU32(16), targetObjId: s.getU32(20), targetBtfId: s.getU32(24), cookie: s.getU64(32) };
    case LinkType.CGROUP:
      return { ...common, kind: 'cgroup', cgroupId: s.getU64(16), attachType: s.getU32(24) };
    case LinkType.ITER: {
      const name = new Uint8Array(256);
      const t = again((x) => x.ptr(16, name).u32(24, name.length));
      const targetName = readCString(name, 0, name.length);
      return {
        ...common,
        kind: 'iter',
        targetName,
        mapId: t.getU32(28),
        cgroupId: targetName === 'cgroup' ? t.getU64(32) : 0n,
        order: targetName === 'cgroup' ? t.getU32(40) : 0,
        tid: targetName.startsWith('task') ? t.getU32(32) : 0,
        pid: targetName.startsWith('task') ? t.getU32(36) : 0,
      };
    }
    case LinkType.NETNS:
      return { ...common, kind: 'netns', netnsIno: s.getU32(16), attachType: s.getU32(20) };
    case LinkType.XDP:
      return { ...common, kind: 'xdp', ifindex: s.getU32(16) };
    case LinkType.STRUCT_OPS:
      return { ...common, kind: 'struct_ops', mapId: s.getU32(16) };
    case LinkType.NETFILTER:
      return { ...common, kind: 'netfilter', pf: s.getU32(16), hooknum: s.getU32(20), priority: s.getI32(24), flags: s.getU32(28) };
    case LinkType.KPROBE_MULTI: {
      const count = s.getU32(24);
      const addrs = new BigUint64Array(count);
      const cookies = new BigUint64Array(count);
      const t = count ? again((x) => x.ptr(16, addrs).u32(24, count).ptr(40, cookies)) : s;
      return { ...common, kind: 'kprobe_multi', count, flags: t.getU32(28), missed: t.getU64(32), addrs: [...addrs], cookies: [...cookies] };
    }
    case LinkType.UPROBE_MULTI: {
      const count = s.getU32(52);
      const path = new Uint8Array(4096);
      const offsets = new BigUint64Array(count);
      const refs = new BigUint64Array(count);
      const cookies = new BigUint64Array(count);
      const t = again((x) => {
        x.ptr(16, path).u32(48, path.length);
        if (count) x.ptr(24, offsets).ptr(32, refs).ptr(40, cookies).u32(52, count);
      });
      return {
        ...common,
        kind: 'uprobe_multi',
        path: readCString(path, 0, path.length),
        count,
        flags: t.getU32(56),
        pid: t.getU32(60),
        offsets: [...offsets],
        refCtrOffsets: [...refs],
        cookies: [...cookies],
      };
    }
    case LinkType.PERF_EVENT:
      return { ...common, ...perfEventDetails(s, again) };
    case LinkType.TCX:
      return { ...common, kind: 'tcx', ifindex: s.getU32(16), attachType: s.getU32(20) };
    case LinkType.NETKIT:
      return { ...common, kind: 'netkit', ifindex: s.getU32(16), attachType: s.getU32(20) };
    case LinkType.SOCKMAP:
      return { ...common, kind: 'sockmap', mapId: s.getU32(16), attachType: s.getU32(20) };
    default:
      return { ...common, kind: 'unknown' };
  }
}

function perfEventDetails(first: Struct, again: (fill: (s: Struct) => void) => Struct): LinkDetails {
  const perfType = first.getU32(16);
  const eventType = PERF_EVENT_LINK_TYPES[perfType] ?? 'unspec';
  const name = new Uint8Array(4096);
  const base = { kind: 'perf_event' as const, eventType, name: '', offset: 0, addr: 0n, missed: 0n, refCtrOffset: 0n, config: 0n, perfType: 0, cookie: 0n };
  switch (eventType) {
    case 'uprobe':
    case 'uretprobe': {
      // uprobe: file_name@24, name_len@32, offset@36, cookie@40, ref_ctr_offset@48.
      const t = again((x) => x.ptr(24, name).u32(32, name.length));
      return { ...base, name: readCString(name, 0, name.length), offset: t.getU32(36), cookie: t.getU64(40), refCtrOffset: t.getU64(48) };
    }
    case 'kprobe':
    case 'kretprobe': {
      // kprobe: func_name@24, name_len@32, offset@36, addr@40, missed@48, cookie@56.
      const t = again((x) => x.ptr(24, name).u32(32, name.length));
      return { ...base, name: readCString(name, 0, name.length), offset: t.getU32(36), addr: t.getU64(40), missed: t.getU64(48), cookie: t.getU64(56) };
    }
    case 'tracepoint': {
      // tracepoint: tp_name@24, name_len@32, cookie@40.
      const t = again((x) => x.ptr(24, name).u32(32, name.length));
      return { ...base, name: readCString(name, 0, name.length), cookie: t.getU64(40) };
    }
    case 'event': {
      // event: config@24, type@32, cookie@40.
      return { ...base, config: first.getU64(24), perfType: first.getU32(32), cookie: first.getU64(40) };
    }
    default:
      return base;
  }
}

/** Subclasses of Link by link type, for fromFd (iter.ts registers IterLink). */
const linkClasses = new Map<number, (fd: FD) => Link>();

/** @internal Makes Link.fromFd return `make(fd)` for links of `type`. */
export function registerLinkClass(type: number, make: (fd: FD) => Link): void {
  linkClasses.set(type, make);
}

/** Something that can be detached: a Link, or a group of them. */
export interface Detachable {
  close(): void;
  [Symbol.dispose](): void;
}

export class Link extends BpfObject implements Detachable {
  #id: number | undefined;
  /** Run after the fd is closed (close the perf event, remove a tracefs probe...), last first. */
  readonly #cleanup: (() => void)[] = [];
  #closed = false;

  /**
   * Takes ownership of a BPF link fd. `cleanup` runs when the link is closed, after its fd
   * (attach functions use it for the perf event fd and tracefs probe events they made).
   */
  constructor(fd: FD, cleanup: (() => void)[] = []) {
    super(fd);
    this.#cleanup.push(...cleanup);
  }

  /**
   * Adopts a BPF link fd (from BPF_LINK_GET_FD_BY_ID, BPF_OBJ_GET...). Iterator links come
   * back as IterLink (so they can be read).
   */
  static fromFd(fd: FD): Link {
    let make: ((fd: FD) => Link) | undefined;
    if (linkClasses.size) {
      try {
        make = linkClasses.get(readLinkInfo(fd.value).type);
      } catch {
        make = undefined;
      }
    }
    return make ? make(fd) : new Link(fd);
  }

  /** Opens the link with this id (BPF_LINK_GET_FD_BY_ID, 5.8+). Closing it doesn't detach unless it was the last reference. */
  static fromId(id: number): Link {
    return Link.fromFd(getFdById('link', id));
  }

  /** Opens a link pinned on bpffs; unpin() then removes that pin. */
  static loadPinned(path: string): Link {
    return Link.fromFd(objGet(path)).pinnedFrom(path);
  }

  /** Ids of every BPF link on the system (5.8+). */
  static listIds(): number[] {
    return listIds('link');
  }

  /** Info of every BPF link on the system; links that go away meanwhile are skipped. */
  static list(): LinkInfo[] {
    const out: LinkInfo[] = [];
    for (using fd of openEach('link')) out.push(readLinkInfo(fd.value));
    return out;
  }

  /** False for attachments made without a BPF link (see LegacyLink). */
  get isBpfLink(): boolean {
    return true;
  }

  /** The link's id (0 for attachments that are not BPF links). */
  get id(): number {
    this.#id ??= this.info().id;
    return this.#id;
  }

  /** Type, program and the hook, decoded per link type. */
  info(): LinkInfo {
    return readLinkInfo(this.fd.value);
  }

  /**
   * Swaps the link's program for `program` atomically (BPF_LINK_UPDATE, 5.7+; not every link
   * type supports it: EOPNOTSUPP). With `expected`, fails (EPERM) unless the link still runs
   * that program (BPF_F_REPLACE).
   */
  update(program: Program, opts: { expected?: Program } = {}): void {
    if (opts.expected) linkUpdate(this.fd.value, program.fd.value, BPF_F_REPLACE, opts.expected.fd.value);
    else linkUpdate(this.fd.value, program.fd.value);
  }

  /**
   * Detaches the program while the link object (its fd and pins) stays valid, "defunct"
   * (BPF_LINK_DETACH, 5.9+; supported by cgroup, netns, xdp, tcx, netkit, netfilter,
   * struct_ops and sockmap links). close() is the usual way to detach.
   */
  detach(): void {
    linkDetach(this.fd.value);
  }

  /**
   * Closes the link's fd: the program is detached unless the link is pinned or another fd of
   * it is open (pin() makes it outlive this process). Then closes what the attach made for it
   * (the perf event, a tracefs probe). Idempotent.
   */
  override close(): void {
    if (this.#closed) return;
    this.#closed = true;
    let first: unknown;
    try {
      super.close();
    } catch (e) {
      first = e;
    }
    for (let i = this.#cleanup.length - 1; i >= 0; i--) {
      try {
        this.#cleanup[i]!();
      } catch (e) {
        first ??= e;
      }
    }
    this.#cleanup.length = 0;
    if (first) throw first;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** @internal Adds something to undo when the link is closed. */
  protected addCleanup(fn: () => void): void {
    this.#cleanup.push(fn);
  }
}

/**
 * An attachment made without a BPF link. close() undoes it (closes the perf event, detaches
 * with BPF_PROG_DETACH, removes the netlink filter, SO_DETACH_BPF...); it can't be pinned.
 * `fd` holds a reference to what keeps the attachment's identity (the perf event, or the
 * program itself).
 */
export abstract class LegacyLink extends Link {
  /** How the program is attached ('perf_event ioctl', 'netlink xdp', 'prog_attach', 'so_attach_bpf'). */
  abstract readonly mechanism: string;
  readonly #progId: number;

  readonly #detach: () => void;
  #detached = false;

  /**
   * `fd`: what the attachment holds on to (a perf event, or a reference to the program);
   * `detach` undoes the attachment and runs before that fd is closed; `cleanup` runs after.
   */
  protected constructor(fd: FD, progId: number, detach: () => void, cleanup: (() => void)[] = []) {
    super(fd, cleanup);
    this.#progId = progId;
    this.#detach = detach;
  }

  /** Detaches, then closes the fd and runs the cleanups. Idempotent. */
  override close(): void {
    let first: unknown;
    if (!this.#detached) {
      this.#detached = true;
      try {
        this.#detach();
      } catch (e) {
        first = e;
      }
    }
    try {
      super.close();
    } catch (e) {
      first ??= e;
    }
    if (first) throw first;
  }

  override get isBpfLink(): boolean {
    return false;
  }

  override get id(): number {
    return 0;
  }

  /** Describes the attachment (kind 'unknown' unless a subclass knows more). */
  override info(): LinkInfo {
    return { id: 0, type: LinkType.UNSPEC, typeName: this.mechanism, progId: this.#progId, bpfLink: false, ...this.details() };
  }

  protected details(): LinkDetails {
    return { kind: 'unknown' };
  }

  override pin(_path: string): void {
    throw new NotSupportedError(
      `BPF links for this hook`,
      `this attachment (${this.mechanism}) is not a BPF link and can't be pinned: the kernel attached it without one (older kernel or hook without link support)`,
    );
  }

  override update(_program: Program): void {
    throw new NotSupportedError(`BPF_LINK_UPDATE for ${this.mechanism}`, `this attachment (${this.mechanism}) can't swap its program: close it and attach again`);
  }

  override detach(): void {
    this.close();
  }
}

/**
 * Several links made by one attach call (a perf event per CPU, a uprobe per USDT call site):
 * closed together.
 */
export class LinkGroup implements Detachable {
  readonly links: Link[];
  #cleanup: (() => void)[];

  constructor(links: Link[], cleanup: (() => void)[] = []) {
    this.links = links;
    this.#cleanup = cleanup;
  }

  /** Closes every link, then runs the group's own cleanups; throws the first error after trying all. */
  close(): void {
    let first: unknown;
    for (let i = this.links.length - 1; i >= 0; i--) {
      try {
        this.links[i]!.close();
      } catch (e) {
        first ??= e;
      }
    }
    for (let i = this.#cleanup.length - 1; i >= 0; i--) {
      try {
        this.#cleanup[i]!();
      } catch (e) {
        first ??= e;
      }
    }
    this.#cleanup = [];
    if (first) throw first;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Closes what an attach made when a later step of it fails, keeping the original error. */
export function closeQuietly(...things: ({ close(): void } | undefined)[]): void {
  for (const t of things) {
    try {
      t?.close();
    } catch {
      /* the first error is the one worth reporting */
    }
  }
}

/** Checks the program looks loaded, for a clear error before the syscall. */
export function progFd(prog: Program, what: string): number {
  if (!prog || !prog.fd) throw new ArgumentError(`${what}: expected a loaded Program`);
  return prog.fd.value;
}
