/**
 * Helpers of the links tests: objects, triggers, the uprobe/USDT target binary, and checks
 * that what a test attached is gone afterwards (by id: other tests run concurrently).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CollectionSpec, loadCollection, type Collection, type CollectionOptions } from '../../src/index.js';
import { listIds } from '../../src/sys/index.js';

export const testdata = fileURLToPath(new URL('../../../test/testdata/links/', import.meta.url));

export function loadObject(name: string, constants: Record<string, unknown> = {}, options: CollectionOptions = {}): Collection {
  const spec = CollectionSpec.fromELF(readFileSync(join(testdata, `${name}.bpf.o`)));
  for (const [k, v] of Object.entries(constants)) spec.setConstant(k, v);
  return loadCollection(spec, options);
}

/** A .bss/.data variable of a collection, as a bigint. */
export function num(c: Collection, name: string): bigint {
  return BigInt(c.variable(name).get() as number | bigint);
}

/** Ids of this test's programs and links, to check they are gone when the test ends. */
export function idsOf(c: Collection): number[] {
  return [...c.programs.values()].map((p) => p.id);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
export const sleepMs = (ms: number): void => void Atomics.wait(sleeper, 0, 0, ms);

/**
 * Asserts that none of `progIds` is still loaded and none of `linkIds` still exists. The kernel
 * frees links and programs after an RCU grace period (raw tracepoint and tracing links defer
 * their release), so this waits up to two seconds for them to go.
 */
export function assertGone(progIds: number[], linkIds: number[] = []): void {
  const deadline = Date.now() + 2000;
  for (;;) {
    const progs = new Set(listIds('prog'));
    const links = new Set(listIds('link'));
    const left = [...progIds.filter((id) => progs.has(id)).map((id) => `program ${id}`), ...linkIds.filter((id) => links.has(id)).map((id) => `link ${id}`)];
    if (left.length === 0) return;
    if (Date.now() > deadline) assert.fail(`still in the kernel after close: ${left.join(', ')}`);
    sleepMs(20);
  }
}

/** Ids of links whose program is one of `progIds` (what a test leaves attached). */
export function linksOfPrograms(progIds: number[]): number[] {
  // bpftool 7.1 gives up when a link listed by GET_NEXT_ID is gone before it opens it, which
  // happens while other tests run: ask again.
  let out: { id: number; prog_id: number }[] = [];
  for (let attempt = 0; ; attempt++) {
    try {
      out = JSON.parse(execFileSync('bpftool', ['-j', 'link', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) || '[]') as typeof out;
      break;
    } catch (e) {
      if (attempt >= 9) throw e;
      sleepMs(50);
    }
  }
  const want = new Set(progIds);
  return out.filter((l) => want.has(l.prog_id)).map((l) => l.id);
}

/** Our tracefs probe events (group ebpf_ts) still registered: none should outlive a test. */
export function leftoverProbeEvents(): string[] {
  const out: string[] = [];
  for (const f of ['kprobe_events', 'uprobe_events']) {
    const p = `/sys/kernel/tracing/${f}`;
    if (!existsSync(p)) continue;
    for (const line of readFileSync(p, 'utf8').split('\n')) if (line.includes(`ebpf_ts/`) && line.includes(`_${process.pid}_`)) out.push(line);
  }
  return out;
}

/** Compiles test/testdata/links/uprobe_target.c into a temporary directory. */
export function buildTarget(): { path: string; dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-ts-uprobe-'));
  const path = join(dir, 'uprobe_target');
  execFileSync('gcc', ['-O2', '-g', '-o', path, join(testdata, 'uprobe_target.c')]);
  return { path, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TargetRun {
  pid: number;
  /** Tells the target to run its loop; resolves with its last line: gated count and sum. */
  go(): Promise<{ gated: number; sum: bigint }>;
  kill(): void;
}

/** Starts the target binary; it waits for go() before calling its probes `n` times. */
export async function startTarget(path: string, n: number): Promise<TargetRun> {
  const child: ChildProcessWithoutNullStreams = spawn(path, [String(n)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const lines: ((line: string) => void)[] = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      lines.shift()?.(line);
    }
  });
  const nextLine = () => new Promise<string>((resolve, reject) => {
    lines.push(resolve);
    child.once('error', reject);
  });
  const ready = await nextLine();
  const m = /^ready (\d+)$/.exec(ready);
  assert.ok(m, `target said '${ready}'`);
  return {
    pid: Number(m[1]),
    go: async () => {
      const done = nextLine();
      child.stdin.write('go\n');
      const line = await done;
      const d = /^done (\d+) (-?\d+)$/.exec(line);
      assert.ok(d, `target said '${line}'`);
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
      return { gated: Number(d[1]), sum: BigInt(d[2]!) };
    },
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
