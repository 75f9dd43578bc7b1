/**
 * `link show|list [id ID | pinned PATH]`, `link pin LINK PATH`, `link detach LINK`: BPF links
 * in bpftool's layout (bpftool 7.5's link.c: a header line `ID: TYPE  prog ID  `, then the
 * type's details on tab-indented lines), and with -j its JSON field names.
 */
import { BpfError } from '../errors.js';
import { ATTACH_TYPE_NAMES, LINK_TYPE_NAMES, errno, getFdById, objGet, openEach, objPin, linkDetach, progInfo, type FD } from '../sys/index.js';
import { readLinkInfo, type LinkInfo } from '../links/link.js';
import { ifnameOf } from '../links/netdev.js';
import { CliError, CliUsageError, isPrefix, jsonWriter, endJson, type CliContext } from './common.js';
import { progTypeName } from './show.js';

const PERF_TYPE_NAMES = ['hardware', 'software', 'tracepoint', 'hw-cache', 'raw', 'breakpoint'];
const SW_EVENT_NAMES = ['cpu-clock', 'task-clock', 'page-faults', 'context-switches', 'cpu-migrations', 'minor-faults', 'major-faults', 'alignment-faults', 'emulation-faults', 'dummy', 'bpf-output', 'cgroup-switches'];
const HW_EVENT_NAMES = ['cpu-cycles', 'instructions', 'cache-references', 'cache-misses', 'branch-instructions', 'branch-misses', 'bus-cycles', 'stalled-cycles-frontend', 'stalled-cycles-backend', 'ref-cycles'];
const HW_CACHE = ['L1-dcache', 'L1-icache', 'LLC', 'dTLB', 'iTLB', 'branch', 'node'];
const HW_CACHE_OP = ['load', 'store', 'prefetch'];
const HW_CACHE_RESULT = ['refs', 'misses'];
const CGROUP_ITER_ORDER = ['order_unspec', 'self_only', 'descendants_pre', 'descendants_post', 'ancestors_up'];
const NF_PROTO: Record<number, string> = { 1: 'inet', 2: 'ip', 3: 'arp', 5: 'netdev', 7: 'bridge', 10: 'ip6' };
const NF_INET_HOOK = ['prerouting', 'input', 'forward', 'output', 'postrouting'];

function attachTypeName(t: number): string {
  return ATTACH_TYPE_NAMES[t] ?? String(t);
}

function perfConfigName(type: number, config: bigint): string | undefined {
  const c = Number(config);
  if (type === 0) return HW_EVENT_NAMES[c];
  if (type === 1) return SW_EVENT_NAMES[c];
  if (type === 3) {
    const cache = HW_CACHE[c & 0xff];
    const op = HW_CACHE_OP[(c >> 8) & 0xff];
    const res = HW_CACHE_RESULT[c >> 16];
    return `${cache ?? c & 0xff}-${op ?? (c >> 8) & 0xff}-${res ?? c >> 16}`;
  }
  return undefined;
}

function ifindexText(ifindex: number): string {
  if (!ifindex) return '(detached)';
  const name = ifnameOf(ifindex);
  return name ? `${name}(${ifindex})` : '(unknown)';
}

const isIterMap = (t: string) => t === 'bpf_map_elem' || t === 'bpf_sk_storage_map';
const isIterTask = (t: string) => t === 'task' || t === 'task_file' || t === 'task_vma';

/** The bpftool text of one link. */
export function linkPlain(info: LinkInfo, pinned: string[] = []): string {
  const typeName = LINK_TYPE_NAMES[info.type];
  let s = `${info.id}: ${typeName ? `${typeName}  ` : `type ${info.type}  `}`;
  s += info.kind === 'struct_ops' ? `map ${info.mapId}  ` : `prog ${info.progId}  `;
  const at = (t: number) => `attach_type ${attachTypeName(t)}  `;
  switch (info.kind) {
    case 'raw_tracepoint':
      s += `\n\ttp '${info.tpName}'  `;
      if (info.cookie) s += `cookie ${info.cookie}  `;
      break;
    case 'tracing': {
      let ptype = '';
      try {
        const fd = getFdById('prog', info.progId);
        try {
          ptype = progTypeName(progInfo(fd.value).type);
        } finally {
          fd.close();
        }
      } catch {
        ptype = '';
      }
      if (ptype) s += `\n\tprog_type ${ptype}  `;
      s += at(info.attachType);
      if (info.targetObjId || info.targetBtfId) s += `\n\ttarget_obj_id ${info.targetObjId}  target_btf_id ${info.targetBtfId}  `;
      if (info.cookie) s += `\n\tcookie ${info.cookie}  `;
      break;
    }
    case 'cgroup':
      s += `\n\tcgroup_id ${info.cgroupId}  ${at(info.attachType)}`;
      break;
    case 'iter':
      s += `target_name ${info.targetName}  `;
      if (isIterMap(info.targetName)) s += `map_id ${info.mapId}  `;
      else if (isIterTask(info.targetName)) {
        if (info.tid) s += `tid ${info.tid} `;
        else if (info.pid) s += `pid ${info.pid} `;
      }
      if (info.targetName === 'cgroup') s += `cgroup_id ${info.cgroupId}  order ${CGROUP_ITER_ORDER[info.order] ?? 'unknown'}  `;
      break;
    case 'netns':
      s += `\n\tnetns_ino ${info.netnsIno}  ${at(info.attachType)}`;
      break;
    case 'netfilter': {
      const pf = NF_PROTO[info.pf];
      s += pf ? `\n\t${pf}` : `\n\tpf: ${info.pf}`;
      const hook = [1, 2, 7, 10].includes(info.pf) ? NF_INET_HOOK[info.hooknum] : info.pf === 3 ? ['input', 'output'][info.hooknum] : undefined;
      s += hook ? ` ${hook}` : `, hook ${info.hooknum},`;
      s += ` prio ${info.priority}`;
      if (info.flags) s += ` flags 0x${info.flags.toString(16)}`;
      break;
    }
    case 'tcx':
    case 'netkit':
      s += `\n\tifindex ${ifindexText(info.ifindex)}  ${at(info.attachType)}`;
      break;
    case 'sockmap':
      s += `\n\tmap_id ${info.mapId}  ${at(info.attachType)}`;
      break;
    case 'xdp':
      s += `\n\tifindex ${ifindexText(info.ifindex)}  `;
      break;
    case 'kprobe_multi':
      if (info.count) {
        s += `\n\t${info.flags & 1 ? 'kretprobe.multi' : 'kprobe.multi'}  func_cnt ${info.count}  `;
        if (info.missed) s += `missed ${info.missed}  `;
      }
      break;
    case 'uprobe_multi':
      if (info.count) {
        s += `\n\t${info.flags & 1 ? 'uretprobe.multi' : 'uprobe.multi'}  path ${info.path}  func_cnt ${info.count}  `;
        if (info.pid) s += `pid ${info.pid}  `;
        s += `\n\t${'offset'.padEnd(16)}   ${'ref_ctr_offset'.padEnd(16)}   ${'cookies'.padEnd(16)}`;
        for (let i = 0; i < info.count; i++) {
          const h = (v: bigint | undefined) => (v ?? 0n).toString(16).padEnd(16);
          s += `\n\t0x${h(info.offsets[i])} 0x${h(info.refCtrOffsets[i])} 0x${h(info.cookies[i])}`;
        }
      }
      break;
    case 'perf_event':
      switch (info.eventType) {
        case 'event': {
          const t = PERF_TYPE_NAMES[info.perfType];
          s += `\n\tevent ${t ? `${t}:` : `${info.perfType} :`}${perfConfigName(info.perfType, info.config) ?? info.config}  `;
          if (info.cookie) s += `cookie ${info.cookie}  `;
          break;
        }
        case 'tracepoint':
          if (info.name) {
            s += `\n\ttracepoint ${info.name}  `;
            if (info.cookie) s += `cookie ${info.cookie}  `;
          }
          break;
        case 'kprobe':
        case 'kretprobe':
          if (info.name || info.addr) {
            s += `\n\t${info.eventType} `;
            if (info.addr) s += `${info.addr.toString(16)} `;
            s += info.name;
            if (info.offset) s += `+0x${info.offset.toString(16)}`;
            if (info.missed) s += `  missed ${info.missed}`;
            if (info.cookie) s += `  cookie ${info.cookie}`;
            s += '  ';
          }
          break;
        case 'uprobe':
        case 'uretprobe':
          if (info.name) {
            s += `\n\t${info.eventType} ${info.name}+${info.offset ? `0x${info.offset.toString(16)}` : '0'}  `;
            if (info.cookie) s += `cookie ${info.cookie}  `;
            if (info.refCtrOffset) s += `ref_ctr_offset 0x${info.refCtrOffset.toString(16)}  `;
          }
          break;
      }
      break;
  }
  for (const p of pinned) s += `\n\tpinned ${p}`;
  return s + '\n';
}

/** The bpftool JSON object of one link (field order as bpftool writes them). */
export function linkJson(info: LinkInfo, pinned: string[] = []): Record<string, unknown> {
  const typeName = LINK_TYPE_NAMES[info.type];
  const o: Record<string, unknown> = { id: info.id, type: typeName ?? info.type, prog_id: info.progId };
  const at = (t: number) => ATTACH_TYPE_NAMES[t] ?? t;
  const ifx = (ifindex: number) => {
    o.devname = ifindex ? (ifnameOf(ifindex) ?? '(unknown)') : '(detached)';
    o.ifindex = ifindex;
  };
  switch (info.kind) {
    case 'raw_tracepoint':
      o.tp_name = info.tpName;
      o.cookie = info.cookie;
      break;
    case 'tracing': {
      try {
        const fd = getFdById('prog', info.progId);
        try {
          o.prog_type = progTypeName(progInfo(fd.value).type);
        } finally {
          fd.close();
        }
      } catch {
        /* the program went away */
      }
      o.attach_type = at(info.attachType);
      o.target_obj_id = info.targetObjId;
      o.target_btf_id = info.targetBtfId;
      o.cookie = info.cookie;
      break;
    }
    case 'cgroup':
      o.cgroup_id = info.cgroupId;
      o.attach_type = at(info.attachType);
      break;
    case 'iter':
      o.target_name = info.targetName;
      if (isIterMap(info.targetName)) o.map_id = info.mapId;
      else if (isIterTask(info.targetName)) {
        if (info.tid) o.tid = info.tid;
        else if (info.pid) o.pid = info.pid;
      }
      if (info.targetName === 'cgroup') {
        o.cgroup_id = info.cgroupId;
        o.order = CGROUP_ITER_ORDER[info.order] ?? 'unknown';
      }
      break;
    case 'netns':
      o.netns_ino = info.netnsIno;
      o.attach_type = at(info.attachType);
      break;
    case 'netfilter':
      o.pf = info.pf;
      o.hook = info.hooknum;
      o.prio = info.priority;
      o.flags = info.flags;
      break;
    case 'tcx':
    case 'netkit':
      ifx(info.ifindex);
      o.attach_type = at(info.attachType);
      break;
    case 'sockmap':
      o.map_id = info.mapId;
      o.attach_type = at(info.attachType);
      break;
    case 'xdp':
      ifx(info.ifindex);
      break;
    case 'struct_ops':
      o.map_id = info.mapId;
      break;
    case 'kprobe_multi':
      o.retprobe = (info.flags & 1) !== 0;
      o.func_cnt = info.count;
      o.missed = info.missed;
      o.funcs = info.addrs.map((addr, i) => ({ addr, cookie: info.cookies[i] ?? 0n }));
      break;
    case 'uprobe_multi':
      o.retprobe = (info.flags & 1) !== 0;
      o.path = info.path;
      o.func_cnt = info.count;
      o.pid = info.pid;
      o.funcs = info.offsets.map((offset, i) => ({ offset, ref_ctr_offset: info.refCtrOffsets[i] ?? 0n, cookie: info.cookies[i] ?? 0n }));
      break;
    case 'perf_event':
      switch (info.eventType) {
        case 'event': {
          o.event_type = PERF_TYPE_NAMES[info.perfType] ?? info.perfType;
          o.event_config = perfConfigName(info.perfType, info.config) ?? info.config;
          o.cookie = info.cookie;
          break;
        }
        case 'tracepoint':
          o.tracepoint = info.name;
          o.cookie = info.cookie;
          break;
        case 'kprobe':
        case 'kretprobe':
          o.retprobe = info.eventType === 'kretprobe';
          o.addr = info.addr;
          o.func = info.name;
          o.offset = info.offset;
          o.missed = info.missed;
          o.cookie = info.cookie;
          break;
        case 'uprobe':
        case 'uretprobe':
          o.retprobe = info.eventType === 'uretprobe';
          o.file = info.name;
          o.offset = info.offset;
          o.cookie = info.cookie;
          o.ref_ctr_offset = info.refCtrOffset;
          break;
      }
      break;
  }
  if (pinned.length) o.pinned = pinned;
  return o;
}

/** `id ID` or `pinned PATH` (bpftool's link_parse_fd). */
function parseLink(args: string[]): { fd: FD; rest: string[] } {
  const [how, what, ...rest] = args;
  if (isPrefix(how, 'id')) {
    if (!what || !/^(0x[0-9a-f]+|\d+)$/i.test(what)) throw new CliUsageError(`can't parse ${what ?? ''} as ID`);
    const id = Number(what);
    try {
      return { fd: getFdById('link', id), rest };
    } catch (e) {
      if (e instanceof BpfError && e.errno === errno.ENOENT) throw new CliError(`failed to get link with ID ${id}: No such file or directory`, 'ENOENT');
      throw e;
    }
  }
  if (isPrefix(how, 'pinned')) {
    if (!what) throw new CliUsageError('expected a path after pinned');
    return { fd: objGet(what), rest };
  }
  throw new CliUsageError(`expected 'id' or 'pinned', got: '${how ?? ''}'?`);
}

/** Runs `link ...`. Returns the exit code. */
export function linkCommand(args: string[], ctx: CliContext): number {
  const cmd = args[0] ?? 'show';
  if (isPrefix(cmd, 'show') || isPrefix(cmd, 'list')) {
    let infos: LinkInfo[] = [];
    if (args.length > 1) {
      const { fd, rest } = parseLink(args.slice(1));
      if (rest.length) throw new CliUsageError(`unexpected '${rest.join(' ')}'`);
      try {
        infos = [readLinkInfo(fd.value)];
      } finally {
        fd.close();
      }
    } else {
      for (using fd of openEach('link')) infos.push(readLinkInfo(fd.value));
    }
    if (ctx.json) {
      const w = jsonWriter(ctx);
      if (args.length > 1) w.value(linkJson(infos[0]!));
      else {
        w.startArray();
        for (const i of infos) w.value(linkJson(i));
        w.endArray();
      }
      endJson(ctx, w);
    } else {
      ctx.out(infos.map((i) => linkPlain(i)).join(''));
    }
    return 0;
  }
  if (isPrefix(cmd, 'pin')) {
    const { fd, rest } = parseLink(args.slice(1));
    try {
      if (!rest[0]) throw new CliUsageError('expected a path to pin the link at');
      objPin(fd.value, rest[0]);
    } finally {
      fd.close();
    }
    if (ctx.json) ctx.out('null\n');
    return 0;
  }
  if (isPrefix(cmd, 'detach')) {
    const { fd } = parseLink(args.slice(1));
    try {
      linkDetach(fd.value);
    } finally {
      fd.close();
    }
    if (ctx.json) ctx.out('null\n');
    return 0;
  }
  if (isPrefix(cmd, 'help')) {
    ctx.out('Usage: ebpf-ts link { show | list } [LINK]\n       ebpf-ts link pin LINK PATH\n       ebpf-ts link detach LINK\n       LINK := { id LINK_ID | pinned PATH }\n');
    return 0;
  }
  throw new CliUsageError(`unknown link command '${cmd}'`);
}
