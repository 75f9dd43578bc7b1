/**
 * The producers of test/testdata/readers/readers.bpf.c, driven by BPF_PROG_TEST_RUN, and the
 * check of the records they write: each record carries its sequence number, its own length and
 * a payload derived from the sequence number, so a torn or misplaced record cannot pass.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { loadCollection, loadCollectionSpec, type BpfMap, type Collection, type Program } from '../../src/index.js';
import { possibleCpuCount } from '../../src/sys/index.js';
import { u32, u64, readU64 } from '../helpers/kernel.js';

export const OBJ = new URL('../../../test/testdata/readers/readers.bpf.o', import.meta.url).pathname;

export const CFG = { COUNT: 0, LEN_MIN: 1, LEN_SPAN: 2, DISCARD_EVERY: 3, RING: 4, TGID: 5, MARKER: 6 } as const;
export const STAT = { SEQ: 0, DROPPED: 1, DISCARDED: 2, DROP_CPU: 8, SENT_CPU: 40, QUERY: 72 } as const;
/** BPF_F_TEST_RUN_ON_CPU */
const TEST_RUN_ON_CPU = 1;
const MULT = 0x9e3779b97f4a7c15n;
const MASK64 = (1n << 64n) - 1n;

export class Producers {
  readonly collection: Collection;
  readonly cfg: BpfMap;
  readonly stats: BpfMap;

  /** Loads the object with `programs` only; `sizes` overrides ring sizes (max_entries). */
  constructor(programs: string[], sizes: Record<string, number> = {}) {
    const spec = loadCollectionSpec(OBJ);
    for (const p of spec.programs.values()) p.autoload = programs.includes(p.name);
    for (const [name, size] of Object.entries(sizes)) spec.maps.get(name)!.maxEntries = size;
    this.collection = loadCollection(spec);
    this.cfg = this.collection.map('cfg');
    this.stats = this.collection.map('stats');
  }

  map(name: string): BpfMap {
    return this.collection.map(name);
  }

  program(name: string): Program {
    return this.collection.program(name);
  }

  set(key: number, value: number): void {
    this.cfg.update(u32(key), u64(value));
  }

  stat(key: number): number {
    return Number(readU64(this.stats.lookup(u32(key))!));
  }

  /** Record lengths: min + seq % span bytes (16..80). */
  lengths(min: number, span = 0): void {
    this.set(CFG.LEN_MIN, min);
    this.set(CFG.LEN_SPAN, span);
  }

  /** Runs rb_emit: `count` records into the ring(s) chosen by cfg. */
  emitRing(count: number): void {
    this.set(CFG.COUNT, count);
    this.program('rb_emit').testRun({});
  }

  /** Runs pb_emit on `cpu`: `count` records into that CPU's perf ring. */
  emitPerf(count: number, cpu: number): void {
    this.set(CFG.COUNT, count);
    this.program('pb_emit').testRun({ flags: TEST_RUN_ON_CPU, cpu });
  }

  close(): void {
    this.collection.close();
  }
}

/** The first `len` bytes of the record with sequence number `seq`, as the program writes it. */
export function expectedRecord(seq: number, len: number): Uint8Array {
  const full = new Uint8Array(80);
  const dv = new DataView(full.buffer);
  dv.setBigUint64(0, BigInt(seq), true);
  dv.setUint32(8, len, true);
  dv.setUint32(12, (seq ^ 0xa5a5a5a5) >>> 0, true);
  const w = (BigInt(seq) * MULT) & MASK64;
  for (let k = 0; k < 8; k++) dv.setBigUint64(16 + 8 * k, (w + BigInt(k)) & MASK64, true);
  return full.subarray(0, len);
}

/** Checks one record's bytes; returns its sequence number. `padded`: perf pads raw data to 8 bytes. */
export function checkRecord(data: Uint8Array, padded = false): number {
  assert.ok(data.length >= 16, `record of ${data.length} bytes`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const seq = Number(dv.getBigUint64(0, true));
  const len = dv.getUint32(8, true);
  if (padded) {
    // PERF_SAMPLE_RAW: u32 size + data, padded to a multiple of 8.
    assert.equal(data.length, Math.ceil((len + 4) / 8) * 8 - 4, `padded length of record ${seq} (len ${len})`);
  } else {
    assert.equal(data.length, len, `length of record ${seq}`);
  }
  assert.deepEqual(data.subarray(0, len), expectedRecord(seq, len), `content of record ${seq}`);
  return seq;
}

/** Sequence-number bookkeeping of a reader: received, gaps (drops), out of order. */
export class SeqTracker {
  expected: number;
  received = 0;
  gaps = 0;
  constructor(start: number) {
    this.expected = start;
  }
  see(seq: number): void {
    assert.ok(seq >= this.expected, `record ${seq} out of order (expected >= ${this.expected})`);
    this.gaps += seq - this.expected;
    this.expected = seq + 1;
    this.received++;
  }
}

export function readersSkipReason(): string | undefined {
  if (!existsSync(OBJ)) return `${OBJ} missing (bash scripts/build-testdata.sh test/testdata/readers)`;
  return undefined;
}

export const cpuCount = possibleCpuCount;

/**
 * A child process that makes `calls` getppid() syscalls (process.ppid) once released: a producer
 * on another CPU, concurrent with the reader (tp_rb/tp_pb filter on its tgid). `release()` starts
 * it; `exited` resolves with its exit code.
 */
export async function spawnGetppid(calls: number): Promise<{ pid: number; release(): void; exited: Promise<number | null> }> {
  const { spawn } = await import('node:child_process');
  const code = `process.stdin.once('data', () => { let s = 0; for (let i = 0; i < ${calls}; i++) s += process.ppid; process.exit(s > 0 ? 0 : 1); });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'ignore', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { pid: child.pid!, release: () => child.stdin.end('g'), exited };
}
