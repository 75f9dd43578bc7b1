/**
 * `net [show|list] [dev IF]`, like `bpftool net`: per interface, the XDP program (netlink
 * RTM_GETLINK, which sees link and netlink attachments alike), TCX programs (BPF_PROG_QUERY),
 * and cls_bpf filters under clsact (netlink RTM_GETTFILTER); then the network namespace's flow
 * dissector and the netfilter links. Without the addon's socket calls (native/net.c), XDP comes
 * from XDP links only and cls_bpf filters are not listed.
 */
import { AttachType, getFdById, openEach, progInfo, progQuery, FD } from '../sys/index.js';
import { openSync, readdirSync } from 'node:fs';
import { haveSocketCalls } from '../sys/net.js';
import { TC_H_CLSACT, TC_H_MIN_EGRESS, TC_H_MIN_INGRESS, XDP_ATTACHED, netlinkListFilters, netlinkListLinks, tcHandle, type NetlinkLinkInfo } from '../sys/netlink.js';
import { fullProgramName } from '../programs/program.js';
import { readLinkInfo, type LinkInfo } from '../links/link.js';
import { ifindexOf } from '../links/netdev.js';
import { CliUsageError, isPrefix, jsonWriter, endJson, type CliContext } from './common.js';
import { linkPlain } from './link.js';

interface Dev {
  name: string;
  ifindex: number;
  xdp?: NetlinkLinkInfo['xdp'];
}

function devices(): Dev[] {
  if (haveSocketCalls()) return netlinkListLinks().map((l) => ({ name: l.name, ifindex: l.ifindex, xdp: l.xdp }));
  const out: Dev[] = [];
  for (const name of readdirSync('/sys/class/net')) {
    try {
      out.push({ name, ifindex: ifindexOf(name) });
    } catch {
      /* went away */
    }
  }
  return out.sort((a, b) => a.ifindex - b.ifindex);
}

function allLinks(): LinkInfo[] {
  const out: LinkInfo[] = [];
  for (using fd of openEach('link', true)) {
    try {
      out.push(readLinkInfo(fd.value));
    } catch {
      /* unreadable */
    }
  }
  return out;
}

function progName(id: number): string | undefined {
  try {
    const fd = getFdById('prog', id);
    try {
      const info = progInfo(fd.value);
      return info.name ? fullProgramName(fd.value, info) : undefined;
    } finally {
      fd.close();
    }
  } catch {
    return undefined;
  }
}

type Rec = Record<string, unknown>;

export interface NetReport {
  xdp: Rec[];
  tc: Rec[];
  flow_dissector: Rec[];
  netfilter: Rec[];
}

/** What `net show` prints, as bpftool's JSON records (in its field order). */
export function netReport(dev?: string): NetReport {
  const filter = dev !== undefined ? ifindexOf(dev) : undefined;
  const devs = devices().filter((d) => filter === undefined || d.ifindex === filter);
  const links = allLinks();
  const xdp: Rec[] = [];
  for (const d of devs) {
    if (d.xdp) {
      const x = d.xdp;
      if (x.attached === XDP_ATTACHED.NONE) continue;
      const r: Rec = { devname: d.name, ifindex: d.ifindex };
      if (x.attached === XDP_ATTACHED.MULTI) {
        const multi: Rec[] = [];
        if (x.skbProgId) multi.push({ mode: 'generic', id: x.skbProgId });
        if (x.drvProgId) multi.push({ mode: 'driver', id: x.drvProgId });
        if (x.hwProgId) multi.push({ mode: 'offload', id: x.hwProgId });
        r.multi_attachments = multi;
      } else {
        r.mode = x.attached === XDP_ATTACHED.DRV ? 'driver' : x.attached === XDP_ATTACHED.SKB ? 'generic' : 'offload';
        r.id = x.progId;
      }
      xdp.push(r);
    } else {
      for (const l of links) if (l.kind === 'xdp' && l.ifindex === d.ifindex) xdp.push({ devname: d.name, ifindex: d.ifindex, mode: 'link', id: l.progId });
    }
  }
  const tc: Rec[] = [];
  for (const d of devs) {
    for (const [attachType, kind] of [
      [AttachType.TCX_INGRESS, 'tcx/ingress'],
      [AttachType.TCX_EGRESS, 'tcx/egress'],
      [AttachType.NETKIT_PRIMARY, 'netkit/primary'],
      [AttachType.NETKIT_PEER, 'netkit/peer'],
    ] as const) {
      let q;
      try {
        q = progQuery(d.ifindex, attachType);
      } catch {
        continue; // no such hook on this device (or kernel)
      }
      q.progIds.forEach((id, i) => {
        const r: Rec = { devname: d.name, ifindex: d.ifindex, kind };
        const name = progName(id);
        if (name) r.name = name;
        r.prog_id = id;
        r.prog_flags = flagBits(q.progAttachFlags[i] ?? 0);
        r.link_id = q.linkIds[i] ?? 0;
        r.link_flags = [];
        tc.push(r);
      });
    }
    if (haveSocketCalls()) {
      for (const [parent, kind] of [
        [tcHandle(TC_H_CLSACT, TC_H_MIN_INGRESS), 'clsact/ingress'],
        [tcHandle(TC_H_CLSACT, TC_H_MIN_EGRESS), 'clsact/egress'],
      ] as const) {
        for (const f of netlinkListFilters(d.ifindex, parent)) {
          if (f.kind !== 'bpf') continue;
          const r: Rec = { devname: d.name, ifindex: d.ifindex, kind };
          if (f.name) r.name = f.name;
          if (f.progId) r.id = f.progId;
          tc.push(r);
        }
      }
    }
  }
  const flow: Rec[] = [];
  let ns: FD | undefined;
  try {
    ns = new FD(openSync('/proc/self/ns/net', 'r'), 'netns');
    const q = progQuery(ns.value, AttachType.FLOW_DISSECTOR);
    if (q.progIds[0]) flow.push({ id: q.progIds[0] });
  } catch {
    /* no flow dissector query on this kernel */
  } finally {
    ns?.close();
  }
  const netfilter = links
    .filter((l): l is LinkInfo & { kind: 'netfilter' } => l.kind === 'netfilter')
    .sort((a, b) => a.pf - b.pf || a.hooknum - b.hooknum || a.priority - b.priority || a.id - b.id)
    .map((l) => ({ pf: l.pf, hook: l.hooknum, prio: l.priority, flags: l.flags, id: l.progId, _link: l }));
  return { xdp, tc, flow_dissector: flow, netfilter };
}

function flagBits(flags: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < 32; j++) if (flags & (1 << j)) out.push((1 << j) >>> 0);
  return out;
}

export function netPlain(r: NetReport): string {
  // bpftool: each section is "NAME:\n", its entries, then "\n".
  let s = 'xdp:\n';
  for (const x of r.xdp) {
    s += `${x.devname}(${x.ifindex})`;
    if (x.multi_attachments) for (const m of x.multi_attachments as Rec[]) s += ` ${m.mode} id ${m.id}`;
    else s += ` ${x.mode} id ${x.id}`;
    s += '\n';
  }
  s += '\ntc:\n';
  for (const t of r.tc) {
    s += `${t.devname}(${t.ifindex}) ${t.kind}`;
    if (t.name) s += ` ${t.name}`;
    if (t.prog_id !== undefined) {
      s += ` prog_id ${t.prog_id} `;
      const pf = t.prog_flags as number[];
      if (pf.length) s += `prog_flags ${pf.map((f) => `${f} `).join('')}`;
      if (t.link_id) s += `link_id ${t.link_id} `;
    } else if (t.id !== undefined) s += ` id ${t.id}`;
    s += '\n';
  }
  s += '\nflow_dissector:\n';
  for (const f of r.flow_dissector) s += `id ${f.id}`;
  s += '\nnetfilter:\n';
  for (const n of r.netfilter) {
    // bpftool's netfilter_dump_plain ("\n\tip input prio 0"), then " prog_id N".
    const line = linkPlain(n._link as LinkInfo);
    s += line.slice(line.indexOf('\n\t')).replace(/\n$/, '') + ` prog_id ${n.id}`;
  }
  return s + '\n';
}

/** Runs `net ...`. Returns the exit code. */
export function netCommand(args: string[], ctx: CliContext): number {
  const cmd = args[0] ?? 'show';
  if (isPrefix(cmd, 'help')) {
    ctx.out('Usage: ebpf-ts net { show | list } [dev INTERFACE]\n');
    return 0;
  }
  if (!isPrefix(cmd, 'show') && !isPrefix(cmd, 'list')) throw new CliUsageError(`unknown net command '${cmd}'`);
  let dev: string | undefined;
  if (args.length > 1) {
    if (!isPrefix(args[1], 'dev') || !args[2]) throw new CliUsageError(`expected 'dev INTERFACE', got '${args.slice(1).join(' ')}'`);
    dev = args[2];
  }
  const r = netReport(dev);
  if (ctx.json) {
    const w = jsonWriter(ctx);
    w.value([{ xdp: r.xdp, tc: r.tc, flow_dissector: r.flow_dissector, netfilter: r.netfilter.map(({ _link: _, ...rest }) => rest) }]);
    endJson(ctx, w);
  } else {
    ctx.out(netPlain(r));
  }
  return 0;
}
