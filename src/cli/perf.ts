/**
 * `perf [show|list]`, like `bpftool perf`: every process's file descriptors that hold a BPF
 * program on a perf event (tracepoint, kprobe, uprobe) or a raw tracepoint, found with
 * BPF_TASK_FD_QUERY. Only descriptors that are perf events or BPF links are queried (their
 * /proc/PID/fd link says `anon_inode:[perf_event]` or `anon_inode:bpf_link`), which spares
 * a syscall per descriptor of every process.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { taskFdQuery } from '../sys/index.js';
import { CliUsageError, isPrefix, jsonWriter, endJson, type CliContext } from './common.js';

/** enum bpf_task_fd_type */
const FD_TYPES = ['raw_tracepoint', 'tracepoint', 'kprobe', 'kretprobe', 'uprobe', 'uretprobe'] as const;

export interface PerfAttachment {
  pid: number;
  fd: number;
  progId: number;
  fdType: (typeof FD_TYPES)[number] | `type ${number}`;
  /** Tracepoint name, kprobe function or uprobe path. */
  name: string;
  probeOffset: bigint;
  probeAddr: bigint;
}

const numeric = (names: string[]) => names.filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);

/** Every (pid, fd) with a BPF program on a perf event or raw tracepoint; `pid` narrows to one process. */
export function listPerfAttachments(pid?: number): PerfAttachment[] {
  const out: PerfAttachment[] = [];
  let pids: number[];
  try {
    pids = pid !== undefined ? [pid] : numeric(readdirSync('/proc'));
  } catch {
    return out;
  }
  for (const p of pids) {
    let fds: number[];
    try {
      fds = numeric(readdirSync(`/proc/${p}/fd`));
    } catch {
      continue; // gone, or a kernel thread
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${p}/fd/${fd}`);
      } catch {
        continue;
      }
      if (target !== 'anon_inode:[perf_event]' && target !== 'anon_inode:bpf_link') continue;
      try {
        const q = taskFdQuery(p, fd);
        out.push({ pid: p, fd, progId: q.progId, fdType: FD_TYPES[q.fdType] ?? `type ${q.fdType}`, name: q.name, probeOffset: q.probeOffset, probeAddr: q.probeAddr });
      } catch {
        /* no program on it, or another kind of link */
      }
    }
  }
  return out;
}

export function perfPlain(a: PerfAttachment): string {
  let s = `pid ${a.pid}  fd ${a.fd}: prog_id ${a.progId}  `;
  switch (a.fdType) {
    case 'raw_tracepoint':
    case 'tracepoint':
      s += `${a.fdType}  ${a.name}`;
      break;
    case 'kprobe':
    case 'kretprobe':
      s += a.name ? `${a.fdType}  func ${a.name}  offset ${a.probeOffset}` : `${a.fdType}  addr ${a.probeAddr}`;
      break;
    case 'uprobe':
    case 'uretprobe':
      s += `${a.fdType}  filename ${a.name}  offset ${a.probeOffset}`;
      break;
    default:
      return '';
  }
  return s + '\n';
}

export function perfJson(a: PerfAttachment): Record<string, unknown> {
  const o: Record<string, unknown> = { pid: a.pid, fd: a.fd, prog_id: a.progId };
  switch (a.fdType) {
    case 'raw_tracepoint':
    case 'tracepoint':
      o.fd_type = a.fdType;
      o.tracepoint = a.name;
      break;
    case 'kprobe':
    case 'kretprobe':
      o.fd_type = a.fdType;
      if (a.name) {
        o.func = a.name;
        o.offset = a.probeOffset;
      } else o.addr = a.probeAddr;
      break;
    case 'uprobe':
    case 'uretprobe':
      o.fd_type = a.fdType;
      o.filename = a.name;
      o.offset = a.probeOffset;
      break;
  }
  return o;
}

/** Runs `perf ...`. Returns the exit code. */
export function perfCommand(args: string[], ctx: CliContext): number {
  const cmd = args[0] ?? 'show';
  if (!isPrefix(cmd, 'show') && !isPrefix(cmd, 'list')) {
    if (isPrefix(cmd, 'help')) {
      ctx.out('Usage: ebpf-ts perf { show | list } [pid PID]\n');
      return 0;
    }
    throw new CliUsageError(`unknown perf command '${cmd}'`);
  }
  let pid: number | undefined;
  if (args.length > 1) {
    if (!isPrefix(args[1], 'pid') || !args[2] || !/^\d+$/.test(args[2])) throw new CliUsageError(`expected 'pid PID', got '${args.slice(1).join(' ')}'`);
    pid = Number(args[2]);
  }
  const all = listPerfAttachments(pid);
  if (ctx.json) {
    const w = jsonWriter(ctx);
    w.startArray();
    for (const a of all) w.value(perfJson(a));
    w.endArray();
    endJson(ctx, w);
  } else {
    ctx.out(all.map(perfPlain).join(''));
  }
  return 0;
}
