/**
 * CPU sets from sysfs. Per-CPU maps and perf buffers are sized by the *possible* CPUs
 * (cpu_possible_mask), not the online ones: hot-pluggable CPUs have slots too.
 */
import { readFileSync } from 'node:fs';
import { FormatError } from '../errors.js';

/** Parses a kernel CPU list such as "0-3,5,7-8". */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  const s = text.trim();
  if (s === '') return out;
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new FormatError('ERR_CPULIST', `malformed CPU list '${text.trim()}'`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi - lo > 1 << 16) throw new FormatError('ERR_CPULIST', `malformed CPU range '${part}'`);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

let possible: number[] | undefined;
/** The possible CPUs (/sys/devices/system/cpu/possible), memoized. */
export function possibleCpus(): number[] {
  possible ??= parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
  return possible;
}

/** Number of possible CPUs: the slot count of per-CPU map values. */
export function possibleCpuCount(): number {
  const cpus = possibleCpus();
  return cpus.length ? cpus[cpus.length - 1]! + 1 : 1;
}

/** The online CPUs, read fresh each time. */
export function onlineCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
}
