/**
 * BTF parsing benchmark: Spec.parse of /sys/kernel/btf/vmlinux, and parse + a lookup of
 * `struct task_struct` by name (which builds the name index).
 *
 *   node --expose-gc dist/bench/btf.js [--runs N]
 *
 * Each run parses a fresh Spec from the same bytes (the file is read once, outside the
 * timing). Prints, per metric, the median time and the median extra memory (V8 heap plus
 * ArrayBuffers, measured after a GC when --expose-gc is given):
 *
 *   anchor=ebpf-ts metric=btf_parse_vmlinux_ms value=<ms> api=Spec.parse runs=N heap_mb=<MB> types=<count> ok=1
 *
 * ok=1 only when the median time is <= 50 ms, the median extra memory <= 64 MB and the type
 * count (and task_struct's size) agree with `bpftool btf dump file /sys/kernel/btf/vmlinux`.
 */

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Spec } from '../src/btf/spec.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const MAX_MS = 50;
const MAX_MB = 64;

interface Sample {
  ms: number;
  mb: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const gc = (globalThis as { gc?: () => void }).gc;

function used(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function measure(runs: number, fn: () => unknown): { ms: number; mb: number; last: unknown } {
  const samples: Sample[] = [];
  let last: unknown;
  for (let i = 0; i < runs; i++) {
    last = undefined;
    gc?.();
    const before = used();
    const t0 = process.hrtime.bigint();
    const result = fn();
    const t1 = process.hrtime.bigint();
    const after = used();
    last = result; // kept alive until after the memory reading
    samples.push({ ms: Number(t1 - t0) / 1e6, mb: Math.max(0, after - before) / (1024 * 1024) });
  }
  return { ms: median(samples.map((s) => s.ms)), mb: median(samples.map((s) => s.mb)), last };
}

/** What bpftool says: the last type id and task_struct's size. */
function bpftoolFacts(): { lastId: number; taskStructSize: number } | undefined {
  const r = spawnSync('bpftool', ['btf', 'dump', 'file', VMLINUX, 'format', 'raw'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0 || !r.stdout) return undefined;
  let lastId = 0;
  let taskStructSize = -1;
  for (const m of r.stdout.matchAll(/^\[(\d+)\] (\w+) '([^']*)'(?: size=(\d+))?/gm)) {
    lastId = Number(m[1]);
    if (m[2] === 'STRUCT' && m[3] === 'task_struct' && taskStructSize < 0) taskStructSize = Number(m[4]);
  }
  return { lastId, taskStructSize };
}

export async function main(args: string[] = process.argv.slice(2)): Promise<string[]> {
  const i = args.indexOf('--runs');
  const runs = Math.max(1, Number(i >= 0 ? args[i + 1] : process.env.BTF_BENCH_RUNS ?? 15) || 15);
  const t0 = process.hrtime.bigint();
  const bytes = readFileSync(VMLINUX);
  const readMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const facts = bpftoolFacts();
  const note = gc ? '' : ' note=run_with_--expose-gc';

  const parse = measure(runs, () => Spec.parse(bytes));
  const spec = parse.last as Spec;
  const types = spec.lastTypeId;
  const countOk = facts !== undefined && facts.lastId === types;
  const parseOk = countOk && parse.ms <= MAX_MS && parse.mb <= MAX_MB;

  const lookup = measure(runs, () => {
    const s = Spec.parse(bytes);
    return [s, s.findType('struct', 'task_struct')];
  });
  const [, ts] = lookup.last as [Spec, { size: number } | undefined];
  const lookupOk = countOk && ts !== undefined && ts.size === facts!.taskStructSize && lookup.ms <= MAX_MS && lookup.mb <= MAX_MB;

  const fmt = (x: number) => x.toFixed(2);
  const lines = [
    `anchor=ebpf-ts metric=btf_parse_vmlinux_ms value=${fmt(parse.ms)} api=Spec.parse runs=${runs} heap_mb=${fmt(parse.mb)} types=${types} bytes=${bytes.length} read_ms=${fmt(readMs)}${note} ok=${parseOk ? 1 : 0}`,
    `anchor=ebpf-ts metric=btf_parse_lookup_ms value=${fmt(lookup.ms)} api=Spec.parse+findType runs=${runs} heap_mb=${fmt(lookup.mb)} types=${types} task_struct_size=${ts?.size ?? -1}${note} ok=${lookupOk ? 1 : 0}`,
  ];
  if (!facts) console.error('bench/btf: bpftool is not available, the type count is unverified (ok=0)');
  for (const l of lines) console.log(l);
  return lines;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (lines) => {
      if (lines.some((l) => l.endsWith('ok=0'))) process.exitCode = 1;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
