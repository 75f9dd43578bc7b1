/**
 * Runs a tool as users do (`node bin/ebpf-ts.js <tool> ...`, a child process), waits until it
 * says it is attached, and collects its output. Also finds the BPF objects the tool holds, from
 * /proc/<pid>/fdinfo, so a test can check that they are gone once the tool has exited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getFdById } from '../../src/sys/index.js';

/** The checkout: dist/test/tools -> ../../.. */
export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI = join(REPO, 'bin', 'ebpf-ts.js');

export interface RunningTool {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once the tool printed its "Ctrl-C to end" line (rejects if it exits first). */
  ready: Promise<void>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Sends SIGINT (Ctrl-C) and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Lines of stdout parsed as JSON (lines that aren't JSON are skipped). */
  json<T = Record<string, unknown>>(): T[];
}

export function startTool(tool: string, args: string[], opts: { uid?: number; gid?: number; timeoutMs?: number } = {}): RunningTool {
  const child = spawn(process.execPath, [CLI, tool, ...args], { stdio: ['ignore', 'pipe', 'pipe'], uid: opts.uid, gid: opts.gid, cwd: '/' });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${tool} not ready after ${opts.timeoutMs ?? 20000} ms; stderr: ${err}`)), opts.timeoutMs ?? 20000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (err.includes('Ctrl-C to end')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${tool} exited (${code}) before it was ready; stderr: ${err}`));
    });
  });
  ready.catch(() => {});
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    ready,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    json<T>() {
      const rows: T[] = [];
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          rows.push(JSON.parse(line) as T);
        } catch {
          // a line cut by the kill: not a row
        }
      }
      return rows;
    },
  };
}

/** Runs a tool to completion and returns its exit code and output. */
export async function runToolToEnd(tool: string, args: string[], opts: { uid?: number; gid?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const t = startTool(tool, args, opts);
  let stderr = '';
  t.child.stderr!.on('data', (d: string) => (stderr += d));
  const code = await t.exited;
  return { code, stdout: t.stdout(), stderr: t.stderr() || stderr };
}

/** The ids of the programs and links a process holds fds of (from /proc/<pid>/fdinfo). */
export function bpfObjectsOf(pid: number): { progs: number[]; links: number[] } {
  const progs = new Set<number>();
  const links = new Set<number>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return { progs: [], links: [] };
  }
  for (const fd of fds) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const link = /^link_id:\s*(\d+)/m.exec(text);
    if (link) links.add(Number(link[1]));
    const prog = /^prog_id:\s*(\d+)/m.exec(text);
    if (prog && !link) progs.add(Number(prog[1]));
  }
  return { progs: [...progs], links: [...links] };
}

/** Whether a program or link with this id still exists in the kernel. */
export function objectExists(kind: 'prog' | 'link', id: number): boolean {
  try {
    getFdById(kind, id).close();
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return false;
    throw e;
  }
}

/** Waits (polling) until `check` is true or `ms` pass; returns the last result. */
export async function eventually(check: () => boolean, ms = 5000, step = 50): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, step));
  }
  return check();
}

/** A unique marker for this test run. */
export function marker(what: string): string {
  return `ebpfts-${what}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}
