/**
 * The ready tools, by the name `ebpf-ts <tool>` runs them under. Each module is imported only
 * when its tool runs.
 */
import type { ToolIO } from './common.js';

export type ToolRun = (argv: string[], io?: ToolIO) => Promise<number>;

export const TOOLS: Record<string, { summary: string; load: () => Promise<{ run: ToolRun }> }> = {
  hello: { summary: 'print a line for every exec, through bpf_printk and trace_pipe', load: () => import('./hello/main.js') },
  execsnoop: { summary: 'trace exec() calls: command, pid, ppid, return value, arguments', load: () => import('./execsnoop/main.js') },
  opensnoop: { summary: 'trace file opens: pid, command, fd or error, path', load: () => import('./opensnoop/main.js') },
  cputime: { summary: 'on-CPU time per process, top-like, from the scheduler', load: () => import('./cputime/main.js') },
  pktcount: { summary: 'count packets per source and ports on an interface, with XDP', load: () => import('./pktcount/main.js') },
  bashreadline: { summary: 'print the command lines typed into bash', load: () => import('./bashreadline/main.js') },
};
