/**
 * Running `ebpf-ts` and bpftool side by side on the same kernel objects.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';

export const cli = fileURLToPath(new URL('../../../bin/ebpf-ts.js', import.meta.url));
export const cliObject = fileURLToPath(new URL('../../../test/testdata/cli/cli.bpf.o', import.meta.url));
export const haveBpftool = spawnSync('bpftool', ['version']).status === 0;

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `ebpf-ts ARGS` in this process (main() with stdout and stderr captured): the commands
 * are synchronous, and this saves a Node start per command. `oursSpawned` runs the real binary.
 */
export async function ours(...args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const write = process.stdout.write;
  const error = console.error;
  const log = console.log;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
  console.error = (...a: unknown[]) => {
    stderr += a.join(' ') + '\n';
  };
  console.log = (...a: unknown[]) => {
    stdout += a.join(' ') + '\n';
  };
  let status: number;
  try {
    status = await main(args);
  } finally {
    process.stdout.write = write;
    console.error = error;
    console.log = log;
  }
  return { status, stdout, stderr };
}

export function oursSpawned(...args: string[]): Run {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
}

export function theirs(...args: string[]): Run {
  return spawnSync('bpftool', args, { encoding: 'utf8' });
}

/** stdout of a command that must succeed. */
export function ok(r: Run, what: string): string {
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Runs the same arguments through both tools; both must succeed. */
export async function both(...args: string[]): Promise<{ ours: string; theirs: string }> {
  return { ours: ok(await ours(...args), `ebpf-ts ${args.join(' ')}`), theirs: ok(theirs(...args), `bpftool ${args.join(' ')}`) };
}

/**
 * The one notation that differs between disassemblers of different ages: since Linux 6.9 the
 * verifier inlines per-CPU address computations as `mov r0, r0` with offset -1, which the
 * kernel's (and ebpf-ts's) disassembler prints `r0 = &(void __percpu *)(r0)` and bpftool 7.1,
 * older, prints `r0 = r0`. Both are mapped to the older text before comparing.
 */
export function normalizeDisasm(text: string): string {
  return text.replace(/r(\d+) = &\(void __percpu \*\)\(r(\d+)\)/g, 'r$1 = r$2');
}

/** load times are computed from the boot time, which can round to a neighbouring second. */
export function normalizeLoadTime(text: string): string {
  return text.replace(/loaded_at \S+/g, 'loaded_at T').replace(/"loaded_at": ?\d+/g, '"loaded_at":T');
}
