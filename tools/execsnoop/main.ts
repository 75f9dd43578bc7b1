/**
 * `ebpf-ts execsnoop`: every exec on the system, as it happens, with the columns and flags of
 * the classic execsnoop (BCC, libbpf-tools). Events come through a ring buffer.
 */
import { closeSync, openSync } from 'node:fs';
import { ArgumentError } from '../../src/errors.js';
import { cgroup2Root } from '../../src/links/index.js';
import { aborted, clockTime, nonNegativeInteger, regex, announceReady, runTool, ToolUsageError, type ToolDefinition, type ToolIO } from '../common.js';
import { loadExecsnoop, type Event } from './execsnoop.js';

/** The BPF side reads at most this many arguments (TOTAL_MAX_ARGS in execsnoop.bpf.c). */
const TOTAL_MAX_ARGS = 60;
const DEFAULT_MAX_ARGS = 20;

export const definition: ToolDefinition = {
  name: 'execsnoop',
  summary: 'Trace exec() syscalls: one line per new program, with its arguments and return value.',
  options: [
    { long: 'time', short: 'T', help: 'include a time column (HH:MM:SS)' },
    { long: 'timestamp', short: 't', help: 'include a timestamp column (seconds since the start)' },
    { long: 'fails', short: 'x', help: 'include failed exec()s' },
    { long: 'uid', short: 'u', value: 'UID', help: 'trace this UID only', parse: nonNegativeInteger('-u UID') },
    { long: 'name', short: 'n', value: 'NAME', help: 'only commands whose name matches this regular expression', parse: regex('-n NAME') },
    { long: 'line', short: 'l', value: 'LINE', help: 'only commands whose arguments match this regular expression', parse: regex('-l LINE') },
    { long: 'print-uid', short: 'U', help: 'print the UID column' },
    { long: 'quote', short: 'q', help: 'put quotes around arguments' },
    { long: 'max-args', value: 'N', help: `read at most N arguments (default ${DEFAULT_MAX_ARGS}, at most ${TOTAL_MAX_ARGS})`, parse: maxArgs },
    { long: 'cgroup', short: 'c', value: 'PATH', help: 'trace this cgroup (v2 directory) only' },
    { long: 'json', help: 'print one JSON object per line instead of columns' },
  ],
  examples: [
    'ebpf-ts execsnoop                 # trace all exec()s',
    'ebpf-ts execsnoop -x -T           # include failed exec()s, with times',
    "ebpf-ts execsnoop -n '^ls$'       # only ls",
    'ebpf-ts execsnoop -c /sys/fs/cgroup/system.slice --json',
  ],
};

function maxArgs(text: string): number {
  const n = nonNegativeInteger('--max-args')(text);
  if (n < 1 || n > TOTAL_MAX_ARGS) throw new ToolUsageError(`--max-args must be between 1 and ${TOTAL_MAX_ARGS}, got ${n}`);
  return n;
}

/** The arguments of an event: NUL-separated strings, `args_size` bytes of `args`. */
export function splitArgs(event: Pick<Event, 'args' | 'args_size'>): string[] {
  const bytes = event.args.subarray(0, Math.min(event.args_size, event.args.length));
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0) {
      out.push(Buffer.from(bytes.buffer, bytes.byteOffset + start, i - start).toString('utf8'));
      start = i + 1;
    }
  }
  if (start < bytes.length) out.push(Buffer.from(bytes.buffer, bytes.byteOffset + start, bytes.length - start).toString('utf8'));
  return out;
}

function quoteArg(arg: string): string {
  return `"${arg.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export async function run(argv: string[], io?: ToolIO): Promise<number> {
  return runTool(definition, 'tracing', argv, async (o, signal, out) => {
    const max = (o['max-args'] as number | undefined) ?? DEFAULT_MAX_ARGS;
    const nameFilter = o.name as RegExp | undefined;
    const lineFilter = o.line as RegExp | undefined;
    const cgroupPath = o.cgroup as string | undefined;
    let cgroupFd: number | undefined;
    if (cgroupPath !== undefined) {
      try {
        cgroupFd = openSync(cgroupPath, 'r');
      } catch (e) {
        throw new ArgumentError(`cannot open cgroup '${cgroupPath}': ${(e as Error).message}`, (e as NodeJS.ErrnoException).code);
      }
    }
    try {
      using objs = loadExecsnoop({
        rodata: {
          ignoreFailed: !o.fails,
          targetUid: (o.uid as number | undefined) ?? 0xffffffff,
          maxArgs: max,
          filterCgroup: cgroupFd !== undefined,
        },
      });
      if (cgroupFd !== undefined) {
        const key = new Uint8Array(4);
        const value = new Uint8Array(new Uint32Array([cgroupFd]).buffer);
        try {
          objs.maps.cgroupMap.update(key, value);
        } catch (e) {
          // The kernel takes only cgroup v2 directories (EBADF otherwise).
          if ((e as { code?: string }).code !== 'EBADF') throw e;
          const root = cgroup2Root();
          throw new ArgumentError(`'${cgroupPath}' is not a cgroup v2 directory${root ? ` (cgroup v2 is mounted at ${root})` : ' (no cgroup v2 hierarchy is mounted)'}`, 'EBADF');
        }
      }
      objs.attachAll();
      using reader = objs.maps.events.reader();
      const started = process.hrtime.bigint();
      if (!o.json) {
        let header = '';
        if (o.time) header += 'TIME'.padEnd(9);
        if (o.timestamp) header += 'TIME(s)'.padEnd(9);
        if (o['print-uid']) header += 'UID'.padEnd(7);
        header += `${'PCOMM'.padEnd(16)} ${'PID'.padEnd(7)} ${'PPID'.padEnd(7)} RET ARGS\n`;
        out.out(header);
      }
      const print = (e: Event) => {
        if (nameFilter && !nameFilter.test(e.comm)) return;
        const args = splitArgs(e);
        const line = args.join(' ');
        if (lineFilter && !lineFilter.test(line)) return;
        const truncated = e.args_count === max + 1;
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        if (o.json) {
          const rec: Record<string, unknown> = {};
          if (o.time) rec.time = clockTime();
          if (o.timestamp) rec.timestamp = Number(seconds.toFixed(3));
          Object.assign(rec, { uid: e.uid, pcomm: e.comm, pid: e.pid, ppid: e.ppid, ret: e.retval, args, truncated });
          out.out(JSON.stringify(rec) + '\n');
          return;
        }
        let row = '';
        if (o.time) row += clockTime().padEnd(9);
        if (o.timestamp) row += seconds.toFixed(3).padEnd(9);
        if (o['print-uid']) row += String(e.uid).padEnd(7);
        const shown = o.quote ? args.map(quoteArg).join(' ') : line;
        row += `${e.comm.padEnd(16)} ${String(e.pid).padEnd(7)} ${String(e.ppid).padEnd(7)} ${String(e.retval).padStart(3)} ${shown}${truncated ? ' ...' : ''}\n`;
        out.out(row);
      };
      reader.start(print, { signal });
      announceReady(out, 'execsnoop', 'tracing exec()s');
      await aborted(signal);
      // Whatever arrived before the stop is still printed.
      reader.drain(print);
    } finally {
      if (cgroupFd !== undefined) closeSync(cgroupFd);
    }
  }, io);
}
