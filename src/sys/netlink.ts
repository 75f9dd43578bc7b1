/**
 * rtnetlink, for what BPF links don't cover: XDP on kernels before 5.9 (or to replace a
 * netlink-attached program), TC programs as cls_bpf filters under a clsact qdisc before TCX
 * (6.6), and listing what is attached to each interface (`net`). Messages are built and parsed
 * here byte by byte (struct nlmsghdr, ifinfomsg, tcmsg and their attributes, in host byte
 * order as netlink uses it); the socket calls come from native/net.c.
 */
import { EbpfError } from '../errors.js';
import { errnoName, syscallError } from './errno.js';
import type { FD } from './fd.js';
import { AF_NETLINK, SOCK_RAW, bind, recvRaw, sendto, setsockoptInt, socket } from './net.js';

const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
const NETLINK_EXT_ACK = 11;

export const NLM_F = { REQUEST: 1, MULTI: 2, ACK: 4, ECHO: 8, ROOT: 0x100, MATCH: 0x200, DUMP: 0x300, REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400 } as const;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLMSG_HDRLEN = 16;
const NLA_F_NESTED = 1 << 15;
const NLMSGERR_ATTR_MSG = 1;

export const RTM = {
  NEWLINK: 16,
  GETLINK: 18,
  SETLINK: 19,
  NEWQDISC: 36,
  DELQDISC: 37,
  GETQDISC: 38,
  NEWTFILTER: 44,
  DELTFILTER: 45,
  GETTFILTER: 46,
} as const;

/** IFLA_* attributes used here. */
export const IFLA = { IFNAME: 3, XDP: 43 } as const;
/** IFLA_XDP_* (nested in IFLA_XDP). */
export const IFLA_XDP = { FD: 1, ATTACHED: 2, FLAGS: 3, PROG_ID: 4, DRV_PROG_ID: 5, SKB_PROG_ID: 6, HW_PROG_ID: 7, EXPECTED_FD: 8 } as const;
/** XDP_ATTACHED_* */
export const XDP_ATTACHED = { NONE: 0, DRV: 1, SKB: 2, HW: 3, MULTI: 4 } as const;
/** XDP_FLAGS_* (netlink and XDP links). */
export const XdpFlags = { UPDATE_IF_NOEXIST: 1, SKB_MODE: 2, DRV_MODE: 4, HW_MODE: 8, REPLACE: 16 } as const;

/** TCA_* and TCA_BPF_* attributes. */
export const TCA = { KIND: 1, OPTIONS: 2, CHAIN: 11 } as const;
export const TCA_BPF = { ACT: 1, CLASSID: 3, FD: 6, NAME: 7, FLAGS: 8, FLAGS_GEN: 9, TAG: 10, ID: 11 } as const;
export const TCA_BPF_FLAG_ACT_DIRECT = 1;

/** tc handles: the clsact qdisc and its two hooks. */
export const TC_H_CLSACT = 0xfffffff1;
export const TC_H_MIN_INGRESS = 0xfff2;
export const TC_H_MIN_EGRESS = 0xfff3;
export const tcHandle = (major: number, minor: number): number => ((major & 0xffff0000) | (minor & 0xffff)) >>> 0;
/** ETH_P_ALL in network byte order, as tcm_info's protocol half wants it. */
export const ETH_P_ALL_BE = 0x0300;

/** A netlink attribute, parsed: type (without NLA_F_NESTED and byte-order flags) and payload. */
export interface NlAttr {
  type: number;
  data: Uint8Array;
}

export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  /** The payload after the 16-byte header. */
  body: Uint8Array;
}

/** Builds a netlink message: header, fixed part, then attributes (nested ones too). */
export class NlBuilder {
  #parts: number[] = [];
  #nest: number[] = [];

  constructor(fixed: Uint8Array) {
    this.#bytes(fixed);
  }

  #bytes(b: Uint8Array): void {
    for (const x of b) this.#parts.push(x);
    while (this.#parts.length % 4) this.#parts.push(0);
  }

  attr(type: number, data: Uint8Array): this {
    const hdr = new DataView(new ArrayBuffer(4));
    hdr.setUint16(0, 4 + data.length, true);
    hdr.setUint16(2, type, true);
    this.#parts.push(...new Uint8Array(hdr.buffer), ...data);
    while (this.#parts.length % 4) this.#parts.push(0);
    return this;
  }

  u32(type: number, v: number): this {
    return this.attr(type, new Uint8Array(Uint32Array.of(v >>> 0).buffer));
  }
  i32(type: number, v: number): this {
    return this.attr(type, new Uint8Array(Int32Array.of(v).buffer));
  }
  str(type: number, s: string): this {
    const enc = new TextEncoder().encode(s);
    const b = new Uint8Array(enc.length + 1);
    b.set(enc);
    return this.attr(type, b);
  }

  begin(type: number): this {
    this.#nest.push(this.#parts.length);
    this.#parts.push(0, 0, 0, 0);
    const at = this.#parts.length - 4;
    this.#parts[at + 2] = type & 0xff;
    this.#parts[at + 3] = ((type | NLA_F_NESTED) >> 8) & 0xff;
    return this;
  }

  end(): this {
    const at = this.#nest.pop()!;
    const len = this.#parts.length - at;
    this.#parts[at] = len & 0xff;
    this.#parts[at + 1] = (len >> 8) & 0xff;
    return this;
  }

  /** The message with its header. */
  message(type: number, flags: number, seq: number): Uint8Array {
    const out = new Uint8Array(NLMSG_HDRLEN + this.#parts.length);
    const v = new DataView(out.buffer);
    v.setUint32(0, out.length, true);
    v.setUint16(4, type, true);
    v.setUint16(6, flags, true);
    v.setUint32(8, seq, true);
    v.setUint32(12, 0, true);
    out.set(this.#parts, NLMSG_HDRLEN);
    return out;
  }
}

/** Parses the attributes in `b` (a message's payload after its fixed part, or a nested attribute). */
export function parseAttrs(b: Uint8Array): NlAttr[] {
  const out: NlAttr[] = [];
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let off = 0;
  while (off + 4 <= b.length) {
    const len = v.getUint16(off, true);
    const type = v.getUint16(off + 2, true) & 0x3fff;
    if (len < 4 || off + len > b.length) break;
    out.push({ type, data: b.subarray(off + 4, off + len) });
    off += (len + 3) & ~3;
  }
  return out;
}

export const attrU32 = (a: NlAttr | undefined): number | undefined => (a && a.data.length >= 4 ? new DataView(a.data.buffer, a.data.byteOffset).getUint32(0, true) : undefined);
export const attrU8 = (a: NlAttr | undefined): number | undefined => (a && a.data.length >= 1 ? a.data[0] : undefined);
export const attrStr = (a: NlAttr | undefined): string | undefined => {
  if (!a) return undefined;
  const nul = a.data.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? a.data : a.data.subarray(0, nul));
};

/** A netlink error (nlmsgerr) with the kernel's extended ack message when it gave one. */
export class NetlinkError extends EbpfError {
  readonly errno: number;
  /** The kernel's explanation (extended ack), e.g. "Native and generic XDP can't be active at the same time.". */
  readonly extack: string | undefined;
  constructor(errno: number, what: string, extack: string | undefined) {
    const code = errnoName(errno);
    super(code, `netlink ${what}: ${syscallError('netlink', errno).message.replace(/^netlink: /, '')}${extack ? `: ${extack}` : ''}`);
    this.errno = errno;
    this.extack = extack;
  }
}

let seqCounter = Math.floor(Math.random() * 0x7fffffff);

/** A NETLINK_ROUTE socket; requests are synchronous (rtnetlink answers before sendto returns). */
export class RtNetlink {
  readonly fd: FD;
  readonly #buf = new Uint8Array(64 * 1024);

  constructor() {
    this.fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, 'rtnetlink socket');
    try {
      const sa = new Uint8Array(12);
      new DataView(sa.buffer).setUint16(0, AF_NETLINK, true);
      bind(this.fd.value, sa, 'rtnetlink socket');
      try {
        setsockoptInt(this.fd.value, SOL_NETLINK, NETLINK_EXT_ACK, 1, 'NETLINK_EXT_ACK');
      } catch {
        /* extended acks are 4.12+: errors are just shorter without them */
      }
    } catch (e) {
      this.fd.close();
      throw e;
    }
  }

  /**
   * Sends a request and collects the replies: every message up to NLMSG_DONE for dumps, or the
   * ACK (or echoed object) for changes. A negative ACK throws NetlinkError.
   */
  request(type: number, flags: number, body: NlBuilder, what: string): NlMessage[] {
    const seq = ++seqCounter >>> 0;
    const dump = (flags & NLM_F.DUMP) === NLM_F.DUMP;
    const msg = body.message(type, flags | NLM_F.REQUEST | (dump ? 0 : NLM_F.ACK), seq);
    const sa = new Uint8Array(12);
    new DataView(sa.buffer).setUint16(0, AF_NETLINK, true);
    sendto(this.fd.value, msg, 0, sa, `netlink ${what}`);
    const out: NlMessage[] = [];
    for (;;) {
      const n = recvRaw(this.fd.value, this.#buf, 0);
      if (n < 0) throw syscallError('recv', -n, `netlink ${what}`);
      const v = new DataView(this.#buf.buffer, 0, n);
      let off = 0;
      let finished = false;
      while (off + NLMSG_HDRLEN <= n) {
        const len = v.getUint32(off, true);
        if (len < NLMSG_HDRLEN || off + len > n) break;
        const mtype = v.getUint16(off + 4, true);
        const mflags = v.getUint16(off + 6, true);
        const mseq = v.getUint32(off + 8, true);
        const bodyBytes = this.#buf.slice(off + NLMSG_HDRLEN, off + len);
        off += (len + 3) & ~3;
        if (mseq !== seq) continue; // a stale reply to an earlier request
        if (mtype === NLMSG_DONE) {
          finished = true;
          continue;
        }
        if (mtype === NLMSG_ERROR) {
          const err = -new DataView(bodyBytes.buffer).getInt32(0, true);
          if (err !== 0) {
            // With extended acks, TLVs follow the (capped) original message.
            let extack: string | undefined;
            const origLen = new DataView(bodyBytes.buffer).getUint32(4, true);
            const capped = (mflags & 0x100) !== 0; // NLM_F_CAPPED
            const tlvAt = 4 + (capped ? NLMSG_HDRLEN : (origLen + 3) & ~3);
            if ((mflags & 0x200) !== 0 && tlvAt < bodyBytes.length) {
              extack = attrStr(parseAttrs(bodyBytes.subarray(tlvAt)).find((a) => a.type === NLMSGERR_ATTR_MSG));
            }
            throw new NetlinkError(err, what, extack);
          }
          finished = true; // the ACK
          continue;
        }
        // An object (a dump's part, or an echoed one before the ACK).
        out.push({ type: mtype, flags: mflags, seq: mseq, body: bodyBytes });
      }
      if (finished) return out;
    }
  }

  close(): void {
    this.fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** struct ifinfomsg (16 bytes). */
export function ifinfomsg(ifindex: number, family = 0): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint8(0, family);
  v.setInt32(4, ifindex, true);
  return b;
}

/** struct tcmsg (20 bytes). */
export function tcmsg(ifindex: number, handle: number, parent: number, info: number): Uint8Array {
  const b = new Uint8Array(20);
  const v = new DataView(b.buffer);
  v.setInt32(4, ifindex, true);
  v.setUint32(8, handle >>> 0, true);
  v.setUint32(12, parent >>> 0, true);
  v.setUint32(16, info >>> 0, true);
  return b;
}

/** Runs `fn` with a fresh rtnetlink socket, closed afterwards. */
export function withRtNetlink<T>(fn: (nl: RtNetlink) => T): T {
  const nl = new RtNetlink();
  try {
    return fn(nl);
  } finally {
    nl.close();
  }
}

// ---------------------------------------------------------------- XDP

/**
 * Sets (fd >= 0) or removes (fd -1) the XDP program of an interface (IFLA_XDP in RTM_SETLINK).
 * `flags`: XdpFlags (mode, UPDATE_IF_NOEXIST, REPLACE with `expectedFd`).
 */
export function netlinkSetXdp(ifindex: number, fd: number, flags: number, expectedFd?: number): void {
  withRtNetlink((nl) => {
    const b = new NlBuilder(ifinfomsg(ifindex)).begin(IFLA.XDP).i32(IFLA_XDP.FD, fd);
    if (flags) b.u32(IFLA_XDP.FLAGS, flags);
    if (expectedFd !== undefined) b.i32(IFLA_XDP.EXPECTED_FD, expectedFd);
    b.end();
    nl.request(RTM.SETLINK, 0, b, `set XDP program on ifindex ${ifindex}`);
  });
}

export interface NetlinkXdpInfo {
  /** XDP_ATTACHED_* */
  attached: number;
  progId: number;
  drvProgId: number;
  skbProgId: number;
  hwProgId: number;
}

export interface NetlinkLinkInfo {
  ifindex: number;
  name: string;
  xdp: NetlinkXdpInfo | undefined;
}

function parseLink(m: NlMessage): NetlinkLinkInfo {
  const v = new DataView(m.body.buffer, m.body.byteOffset);
  const ifindex = v.getInt32(4, true);
  const attrs = parseAttrs(m.body.subarray(16));
  const name = attrStr(attrs.find((a) => a.type === IFLA.IFNAME)) ?? '';
  const x = attrs.find((a) => a.type === IFLA.XDP);
  let xdp: NetlinkXdpInfo | undefined;
  if (x) {
    const xs = parseAttrs(x.data);
    const get = (t: number) => xs.find((a) => a.type === t);
    xdp = {
      attached: attrU8(get(IFLA_XDP.ATTACHED)) ?? 0,
      progId: attrU32(get(IFLA_XDP.PROG_ID)) ?? 0,
      drvProgId: attrU32(get(IFLA_XDP.DRV_PROG_ID)) ?? 0,
      skbProgId: attrU32(get(IFLA_XDP.SKB_PROG_ID)) ?? 0,
      hwProgId: attrU32(get(IFLA_XDP.HW_PROG_ID)) ?? 0,
    };
  }
  return { ifindex, name, xdp };
}

/** Every interface of this network namespace, with its XDP state (RTM_GETLINK dump). */
export function netlinkListLinks(): NetlinkLinkInfo[] {
  return withRtNetlink((nl) => nl.request(RTM.GETLINK, NLM_F.DUMP, new NlBuilder(ifinfomsg(0)), 'list interfaces').filter((m) => m.type === RTM.NEWLINK).map(parseLink));
}

/** One interface (RTM_GETLINK). */
export function netlinkGetLink(ifindex: number): NetlinkLinkInfo {
  const msgs = withRtNetlink((nl) => nl.request(RTM.GETLINK, 0, new NlBuilder(ifinfomsg(ifindex)), `get ifindex ${ifindex}`));
  const m = msgs.find((x) => x.type === RTM.NEWLINK);
  if (!m) throw new NetlinkError(19 /* ENODEV */, `get ifindex ${ifindex}`, 'no reply');
  return parseLink(m);
}

// ---------------------------------------------------------------- TC (clsact + cls_bpf)

/** Adds the clsact qdisc to an interface. Returns false when it was already there (EEXIST). */
export function netlinkAddClsact(ifindex: number): boolean {
  try {
    withRtNetlink((nl) =>
      nl.request(RTM.NEWQDISC, NLM_F.CREATE | NLM_F.EXCL, new NlBuilder(tcmsg(ifindex, tcHandle(TC_H_CLSACT, 0), TC_H_CLSACT, 0)).str(TCA.KIND, 'clsact'), `add clsact qdisc on ifindex ${ifindex}`),
    );
    return true;
  } catch (e) {
    if (e instanceof NetlinkError && e.code === 'EEXIST') return false;
    throw e;
  }
}

/** Removes the clsact qdisc (and every filter under it). */
export function netlinkDelClsact(ifindex: number): void {
  withRtNetlink((nl) => nl.request(RTM.DELQDISC, 0, new NlBuilder(tcmsg(ifindex, tcHandle(TC_H_CLSACT, 0), TC_H_CLSACT, 0)).str(TCA.KIND, 'clsact'), `delete clsact qdisc on ifindex ${ifindex}`));
}

export interface TcFilterId {
  ifindex: number;
  /** TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS or TC_H_MIN_EGRESS). */
  parent: number;
  handle: number;
  priority: number;
}

/**
 * Adds a direct-action cls_bpf filter running program `progFd` (RTM_NEWTFILTER, protocol all).
 * handle and priority 0 let the kernel choose; the filter created is echoed back, so the ids
 * returned are the ones to delete it by. `replace` replaces a filter with the same handle and
 * priority instead of failing with EEXIST.
 */
export function netlinkAddBpfFilter(f: TcFilterId, progFd: number, name: string, replace = false): TcFilterId {
  return withRtNetlink((nl) => {
    const b = new NlBuilder(tcmsg(f.ifindex, f.handle, f.parent, tcHandle(f.priority << 16, ETH_P_ALL_BE)))
      .str(TCA.KIND, 'bpf')
      .begin(TCA.OPTIONS)
      .u32(TCA_BPF.FD, progFd)
      .str(TCA_BPF.NAME, name)
      .u32(TCA_BPF.FLAGS, TCA_BPF_FLAG_ACT_DIRECT)
      .end();
    const msgs = nl.request(RTM.NEWTFILTER, NLM_F.CREATE | NLM_F.ECHO | (replace ? NLM_F.REPLACE : NLM_F.EXCL), b, `add bpf filter on ifindex ${f.ifindex}`);
    const echoed = msgs.find((m) => m.type === RTM.NEWTFILTER);
    if (!echoed) return f;
    const v = new DataView(echoed.body.buffer, echoed.body.byteOffset);
    return { ifindex: f.ifindex, parent: f.parent, handle: v.getUint32(8, true), priority: v.getUint32(16, true) >>> 16 };
  });
}

/** Deletes the filter `f` (RTM_DELTFILTER by parent, handle and priority). */
export function netlinkDelFilter(f: TcFilterId): void {
  withRtNetlink((nl) =>
    nl.request(RTM.DELTFILTER, 0, new NlBuilder(tcmsg(f.ifindex, f.handle, f.parent, tcHandle(f.priority << 16, ETH_P_ALL_BE))).str(TCA.KIND, 'bpf'), `delete filter on ifindex ${f.ifindex}`),
  );
}

export interface TcBpfFilter extends TcFilterId {
  kind: string;
  progId: number;
  name: string;
  directAction: boolean;
  tag: string;
}

/** The filters under one clsact hook of an interface (RTM_GETTFILTER dump); cls_bpf ones have progId. */
export function netlinkListFilters(ifindex: number, parent: number): TcBpfFilter[] {
  let msgs: NlMessage[];
  try {
    msgs = withRtNetlink((nl) => nl.request(RTM.GETTFILTER, NLM_F.DUMP, new NlBuilder(tcmsg(ifindex, 0, parent, 0)), `list filters on ifindex ${ifindex}`));
  } catch (e) {
    // No clsact qdisc: nothing to list.
    if (e instanceof NetlinkError && (e.code === 'EINVAL' || e.code === 'ENOENT')) return [];
    throw e;
  }
  const out: TcBpfFilter[] = [];
  for (const m of msgs) {
    if (m.type !== RTM.NEWTFILTER) continue;
    const v = new DataView(m.body.buffer, m.body.byteOffset);
    const attrs = parseAttrs(m.body.subarray(20));
    const kind = attrStr(attrs.find((a) => a.type === TCA.KIND)) ?? '';
    const opts = attrs.find((a) => a.type === TCA.OPTIONS);
    if (!opts) continue; // the per-priority chain head, not a filter
    const o = parseAttrs(opts.data);
    const tag = o.find((a) => a.type === TCA_BPF.TAG);
    out.push({
      ifindex,
      parent: v.getUint32(12, true),
      handle: v.getUint32(8, true),
      priority: v.getUint32(16, true) >>> 16,
      kind,
      progId: attrU32(o.find((a) => a.type === TCA_BPF.ID)) ?? 0,
      name: attrStr(o.find((a) => a.type === TCA_BPF.NAME)) ?? '',
      directAction: ((attrU32(o.find((a) => a.type === TCA_BPF.FLAGS)) ?? 0) & TCA_BPF_FLAG_ACT_DIRECT) !== 0,
      tag: tag ? Array.from(tag.data, (x) => x.toString(16).padStart(2, '0')).join('') : '',
    });
  }
  return out;
}
