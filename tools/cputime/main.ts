/**
 * `ebpf-ts cputime`: on-CPU time per process, top-like. The BPF program adds up, at every
 * sched_switch, how long the task leaving the CPU ran; every interval the tool walks the map's
 * keys (the processes that ran, not every possible PID), takes each entry out and prints a
 * table sorted by CPU time. A slice is counted when it ends (at the switch away), so a long
 * slice that spans two intervals lands in the second, which can then show a thread above 100%.
 */
import { possibleCpuCount } from '../../src/sys/index.js';
import { clockTime, nonNegativeInteger, positiveNumber, announceReady, reportEvery, runTool, type ToolDefinition, type ToolIO } from '../common.js';
import { loadCputime } from './cputime.js';

export const definition: ToolDefinition = {
  name: 'cputime',
  summary: 'On-CPU time per process, from the scheduler: a table sorted by CPU time, every interval.',
  options: [
    { long: 'pid', short: 'p', value: 'PID', help: 'this process only', parse: nonNegativeInteger('-p PID') },
    { long: 'interval', short: 'i', value: 'SECONDS', help: 'seconds between tables (default 1)', parse: positiveNumber('interval') },
    { long: 'top', short: 'n', value: 'N', help: 'print the N busiest processes (default 20; 0: all)', parse: nonNegativeInteger('-n N') },
    { long: 'json', help: 'print one JSON object per interval instead of a table' },
  ],
  examples: ['ebpf-ts cputime', 'ebpf-ts cputime -p 1234 -i 5', 'ebpf-ts cputime --json --duration 10'],
};

export interface CputimeRow {
  pid: number;
  comm: string;
  cpuNs: bigint;
  /** Share of one CPU over the interval, in percent (as top: a busy 2-thread process shows 200). */
  cpuPercent: number;
}

export async function run(argv: string[], io?: ToolIO): Promise<number> {
  return runTool(definition, 'tracing', argv, async (o, signal, out) => {
    const intervalS = (o.interval as number | undefined) ?? 1;
    const top = (o.top as number | undefined) ?? 20;
    const cpus = possibleCpuCount();
    using objs = loadCputime({ rodata: { targetTgid: (o.pid as number | undefined) ?? 0 } });
    objs.attachAll();
    const map = objs.maps.cputimes;
    let last = process.hrtime.bigint();

    const report = () => {
      const now = process.hrtime.bigint();
      const elapsedNs = Number(now - last);
      last = now;
      const rows: CputimeRow[] = [];
      // Walk the keys, taking each entry out: what a process runs after its entry is taken
      // lands in a fresh entry, counted in the next interval.
      for (const pid of [...map.keys()]) {
        const v = map.getAndDelete(pid);
        if (!v) continue;
        rows.push({ pid, comm: v.comm, cpuNs: v.ns, cpuPercent: (Number(v.ns) / elapsedNs) * 100 });
      }
      rows.sort((a, b) => (b.cpuNs > a.cpuNs ? 1 : b.cpuNs < a.cpuNs ? -1 : a.pid - b.pid));
      const shown = top > 0 ? rows.slice(0, top) : rows;
      const totalNs = rows.reduce((s, r) => s + r.cpuNs, 0n);
      if (o.json) {
        out.out(JSON.stringify({
          time: clockTime(),
          interval_s: Number((elapsedNs / 1e9).toFixed(3)),
          cpus,
          busy_percent: Number(((Number(totalNs) / (elapsedNs * cpus)) * 100).toFixed(2)),
          processes: shown.map((r) => ({ pid: r.pid, comm: r.comm, cpu_ns: Number(r.cpuNs), cpu_percent: Number(r.cpuPercent.toFixed(2)) })),
        }) + '\n');
        return;
      }
      let text = `\n${clockTime()}  interval ${(elapsedNs / 1e9).toFixed(2)}s, ${cpus} CPUs, ${((Number(totalNs) / (elapsedNs * cpus)) * 100).toFixed(1)}% busy\n`;
      text += `${'PID'.padStart(7)} ${'COMM'.padEnd(16)} ${'CPU(ms)'.padStart(10)} ${'%CPU'.padStart(7)}\n`;
      for (const r of shown) {
        text += `${String(r.pid).padStart(7)} ${r.comm.padEnd(16)} ${(Number(r.cpuNs) / 1e6).toFixed(2).padStart(10)} ${r.cpuPercent.toFixed(1).padStart(7)}\n`;
      }
      out.out(text);
    };

    announceReady(out, 'cputime', `counting on-CPU time, a table every ${intervalS}s`);
    // The last, partial interval too, unless it just began.
    await reportEvery(intervalS, signal, report, () => process.hrtime.bigint() - last > 100_000_000n);
  }, io);
}
