/**
 * `ebpf-ts opensnoop`: file opens as they happen, with the columns and flags of the classic
 * opensnoop (BCC, libbpf-tools). Events come through a perf buffer. The openat/openat2 syscall
 * tracepoints are used, or a kprobe on do_sys_openat2 where the kernel has kprobes.
 */
import { isAbsolute, join } from 'node:path';
import { canAttachKprobe } from '../../src/features/index.js';
import type { PerfBufferReader } from '../../src/perf/index.js';
import { aborted, clockTime, nonNegativeInteger, positiveNumber, announceReady, runTool, type ToolDefinition, type ToolIO } from '../common.js';
import { openOpensnoop, type Event } from './opensnoop.js';

export const definition: ToolDefinition = {
  name: 'opensnoop',
  summary: 'Trace open() family syscalls: one line per file opened, with the result.',
  options: [
    { long: 'timestamp', short: 'T', help: 'include a time column (HH:MM:SS)' },
    { long: 'print-uid', short: 'U', help: 'print the UID column' },
    { long: 'failed', short: 'x', help: 'only failed opens' },
    { long: 'pid', short: 'p', value: 'PID', help: 'trace this process only', parse: nonNegativeInteger('-p PID') },
    { long: 'tid', short: 't', value: 'TID', help: 'trace this thread only', parse: nonNegativeInteger('-t TID') },
    { long: 'uid', short: 'u', value: 'UID', help: 'trace this UID only', parse: nonNegativeInteger('-u UID') },
    { long: 'run-for', short: 'd', value: 'DURATION', help: 'trace for DURATION seconds (same as --duration)', parse: positiveNumber('run-for'), dest: 'duration' },
    { long: 'name', short: 'n', value: 'NAME', help: 'only processes whose name contains NAME' },
    { long: 'extended-fields', short: 'e', help: 'show the open flags (octal)' },
    { long: 'full-path', short: 'F', help: 'show relative paths joined to the process\'s working directory' },
    { long: 'tracepoints', help: 'use the syscall tracepoints even where kprobes work' },
    { long: 'json', help: 'print one JSON object per line instead of columns' },
  ],
  examples: [
    'ebpf-ts opensnoop              # trace all opens',
    'ebpf-ts opensnoop -x -p 181    # failed opens of process 181',
    'ebpf-ts opensnoop -T -e -F     # with times, flags and full paths',
  ],
};

/** CWD_DEPTH in opensnoop.bpf.c: cwd_depth above it means the directory was deeper. */
const CWD_DEPTH = 16;

/**
 * -F: a relative name joined to the opener's working directory, which the BPF program read
 * (innermost component first) when the open returned: the process may be gone by now. Paths
 * deeper than the program reads start with '...'.
 */
export function fullPath(e: Pick<Event, 'fname' | 'cwd' | 'cwd_depth'>): string {
  if (isAbsolute(e.fname)) return e.fname;
  const deeper = e.cwd_depth > CWD_DEPTH;
  const parts = e.cwd.slice(0, Math.min(e.cwd_depth, CWD_DEPTH)).reverse();
  const dir = (deeper ? '...' : '') + '/' + parts.join('/');
  return e.fname === '' ? dir : join(dir, e.fname);
}

export async function run(argv: string[], io?: ToolIO): Promise<number> {
  return runTool(definition, 'tracing', argv, async (o, signal, out) => {
    const spec = openOpensnoop();
    Object.assign(spec.rodata, {
      fullPath: !!o['full-path'],
      targetTgid: (o.pid as number | undefined) ?? 0,
      targetPid: (o.tid as number | undefined) ?? 0,
      targetUid: (o.uid as number | undefined) ?? 0xffffffff,
      targetFailed: !!o.failed,
    });
    // One hook or the other: kprobes on do_sys_openat2 see open(), openat() and openat2() at
    // once; the tracepoints need one pair per syscall.
    const useKprobe = !o.tracepoints && canAttachKprobe();
    spec.programs.kprobeDoSysOpenat2.autoload = useKprobe;
    spec.programs.kretprobeDoSysOpenat2.autoload = useKprobe;
    for (const p of [
      spec.programs.tracepointSyscallsSysEnterOpenat,
      spec.programs.tracepointSyscallsSysExitOpenat,
      spec.programs.tracepointSyscallsSysEnterOpenat2,
      spec.programs.tracepointSyscallsSysExitOpenat2,
    ]) p.autoload = !useKprobe;
    using objs = spec.load();
    objs.attachAll();
    using reader = objs.maps.events.reader();
    const name = o.name as string | undefined;
    if (!o.json) {
      let header = '';
      if (o.timestamp) header += 'TIME'.padEnd(9);
      if (o['print-uid']) header += 'UID'.padEnd(8);
      header += `${'PID'.padEnd(7)}${'COMM'.padEnd(17)}${'FD'.padStart(3)} ${'ERR'.padStart(3)} `;
      if (o['extended-fields']) header += 'FLAGS'.padEnd(9);
      out.out(header + 'PATH\n');
    }
    const print = (e: Event) => {
      if (name !== undefined && !e.comm.includes(name)) return;
      const fd = e.ret >= 0 ? e.ret : -1;
      const err = e.ret >= 0 ? 0 : -e.ret;
      const path = o['full-path'] ? fullPath(e) : e.fname;
      if (o.json) {
        const rec: Record<string, unknown> = {};
        if (o.timestamp) rec.time = clockTime();
        Object.assign(rec, { uid: e.uid, pid: e.pid, tid: e.tid, comm: e.comm, fd, err, flags: e.flags, mode: e.mode, path });
        out.out(JSON.stringify(rec) + '\n');
        return;
      }
      let row = '';
      if (o.timestamp) row += clockTime().padEnd(9);
      if (o['print-uid']) row += String(e.uid).padEnd(8);
      row += `${String(e.pid).padEnd(7)}${e.comm.padEnd(17)}${String(fd).padStart(3)} ${String(err).padStart(3)} `;
      if (o['extended-fields']) row += (e.flags >>> 0).toString(8).padStart(8, '0') + ' ';
      out.out(row + path + '\n');
    };
    reader.start(print, { signal });
    announceReady(out, 'opensnoop', `tracing opens (${useKprobe ? 'kprobe do_sys_openat2' : 'openat/openat2 tracepoints'})`);
    await aborted(signal);
    reader.drain(print);
    const lost = (reader.reader as unknown as PerfBufferReader).lost();
    if (lost > 0) out.err(`opensnoop: lost ${lost} events (the perf buffer was full)\n`);
  }, io);
}
