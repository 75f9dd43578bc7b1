/**
 * Shared test helpers for kernel tests: environment checks and leak accounting.
 */
import { readdirSync, existsSync, mkdirSync } from 'node:fs';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

/** Number of open file descriptors of this process. */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Reason to skip kernel tests, or undefined when bpf() is usable here. */
export function kernelSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (!isRoot()) return 'needs root (bpf() with CAP_BPF/CAP_SYS_ADMIN)';
  return undefined;
}

/** Ensures bpffs is mounted at /sys/fs/bpf (CI mounts it; this is for local runs). */
export function ensureBpffs(): string {
  const dir = '/sys/fs/bpf';
  const mounts = execFileSync('cat', ['/proc/mounts'], { encoding: 'utf8' });
  if (!mounts.split('\n').some((l) => l.split(' ')[1] === dir && l.split(' ')[2] === 'bpf')) {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'bpf', 'bpf', dir]);
  }
  return dir;
}

/** A unique name for pins, namespaces and links made by one test. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
}

/** Ids of all BPF programs/maps/links on the system, via bpftool (an independent observer). */
export function bpftoolIds(kind: 'prog' | 'map' | 'link'): number[] {
  // bpftool 7.1 fails when an object listed by GET_NEXT_ID is gone before it opens it, which
  // happens while other tests run: ask again.
  for (let attempt = 0; ; attempt++) {
    try {
      const out = execFileSync('bpftool', ['-j', kind, 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      return (JSON.parse(out || '[]') as { id: number }[]).map((x) => x.id);
    } catch (e) {
      if (attempt >= 9) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
}

export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

export function u64(n: bigint | number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

export function readU64(b: Uint8Array, off = 0): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
}

export function readU32(b: Uint8Array, off = 0): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
}

/** getppid(2) n times: Node's process.ppid calls libc's getppid each time (a syscall tracepoint trigger). */
export function getppidTimes(n: number): void {
  let s = 0;
  for (let i = 0; i < n; i++) s += process.ppid;
  assert.ok(s > 0);
}
