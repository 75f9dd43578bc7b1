/**
 * The `ringbuf_drain` and `ringbuf_tp` scenarios of ../shared/anchors (README: the protocol),
 * on the anchors' own ringbuf_producer.bpf.o (ANCHOR_BPF_DIR), loaded with our collection loader,
 * with the anchors' verification: `ok=1` only when every record is accounted for
 * (received == produced - dropped, gaps + trailing drops == dropped, nothing out of order or short).
 *
 * APIs measured (api=):
 *   view     RingBufferReader.drain(fn): fn gets the reused zero-copy record, and reads seq and
 *            pid from its DataView, as the C anchor reads its struct.
 *   decoded  RingBufferReader.drainDecoded(codec, fn): each record decoded into a JS object
 *            { seq, pid, cpu, comm } by a BTF codec. `struct anchor_event` is not in the
 *            anchors' objects' BTF (only reached through a void pointer), so the codec is built from
 *            the BTF of a companion object that declares it: test/testdata/readers/anchor_event.bpf.o
 *            (source beside it, same layout as anchors/bpf/common.h, committed and rebuilt by
 *            scripts/build-testdata.sh).
 *   (tp)     view through start(): the callback runs on every wakeup, from the event loop.
 *
 * Also shared with bench/perf.ts: loading a producer, filling, verifying, the tp driver.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { BpfMap, CollectionSpec, loadCollection, loadCollectionSpec, type Collection, type Program } from '../src/index.js';
import { btfCodec, type BtfCodec } from '../src/btf/index.js';
import { RingBufferReader, type RecordDecoder, type RingRecord } from '../src/ringbuf/index.js';
import { attachTracepoint as attachTracepointLink } from '../src/links/index.js';
import { emit, envNumber, now } from './common.js';

const TWO32 = 2 ** 32;
export const BATCH = 64; // records per XDP invocation (cfg[0]), as every anchor
const CFG_BATCH = 0;
const CFG_TARGET_TGID = 1;
const STAT_SEQ = 0;
const STAT_DROPPED = 1;
const STALL_S = 5;

/** ANCHOR_BPF_DIR, else the anchors' build in ../shared, else the copy bench/compare-anchors.sh builds. */
export function anchorBpfDir(): string {
  if (process.env.ANCHOR_BPF_DIR) return process.env.ANCHOR_BPF_DIR;
  const shared = new URL('../../../shared/anchors/build/bpf', import.meta.url).pathname;
  if (existsSync(shared)) return shared;
  return `${process.env.TMPDIR ?? '/tmp'}/ebpf-ts-anchors/build/bpf`;
}

export function anchorGen(): string {
  return process.env.ANCHOR_GEN ?? `${anchorBpfDir()}/../getpid_gen`;
}

/** The anchors' record check: next expected seq, gaps, out of order, short or wrong-pid records. */
export class Verifier {
  expected = 0;
  received = 0;
  gaps = 0;
  ooo = 0;
  bad = 0;
  lost = 0;
  wantPid = 0;

  check(seq: number, pid: number, size: number): void {
    if (size < 32) {
      this.bad++;
      return;
    }
    if (seq === this.expected) {
      this.expected++;
    } else if (seq > this.expected) {
      this.gaps += seq - this.expected;
      this.expected = seq + 1;
    } else {
      this.ooo++;
    }
    if (this.wantPid !== 0 && pid !== this.wantPid) this.bad++;
    this.received++;
  }
}

/** One anchors producer object with only `prog` loaded, and its cfg/stats/output maps. */
export class Producer {
  readonly collection: Collection;
  readonly prog: Program;
  readonly cfg: BpfMap;
  readonly stats: BpfMap;
  readonly out: BpfMap;
  readonly #key = new Uint8Array(4);
  readonly #val = new Uint8Array(8);

  constructor(file: string, prog: string, out: string) {
    const path = `${anchorBpfDir()}/${file}`;
    if (!existsSync(path)) throw new Error(`${path} is missing: build the anchors (bench/compare-anchors.sh does) or set ANCHOR_BPF_DIR`);
    const spec = CollectionSpec.fromELF(readFileSync(path), { name: file.replace(/\.bpf\.o$/, '') });
    for (const p of spec.programs.values()) p.autoload = p.name === prog;
    this.collection = loadCollection(spec);
    this.prog = this.collection.program(prog);
    this.cfg = this.collection.map('cfg');
    this.stats = this.collection.map('stats');
    this.out = this.collection.map(out);
  }

  get(map: BpfMap, key: number): number {
    new DataView(this.#key.buffer).setUint32(0, key, true);
    map.lookupInto(this.#key, this.#val);
    const dv = new DataView(this.#val.buffer);
    return dv.getUint32(0, true) + dv.getUint32(4, true) * TWO32;
  }

  set(map: BpfMap, key: number, value: number): void {
    new DataView(this.#key.buffer).setUint32(0, key, true);
    const dv = new DataView(this.#val.buffer);
    dv.setUint32(0, value >>> 0, true);
    dv.setUint32(4, Math.floor(value / TWO32), true);
    map.update(this.#key, this.#val);
  }

  seq(): number {
    return this.get(this.stats, STAT_SEQ);
  }

  dropped(): number {
    return this.get(this.stats, STAT_DROPPED);
  }

  /**
   * Runs the XDP producer until it attempted `records` records: one BPF_PROG_TEST_RUN with a
   * large repeat (each XDP test run with repeat > 1 costs ~16 ms here, see the anchors' README),
   * the remainder recomputed from stats[0] after an EINTR.
   */
  fill(records: number): void {
    const pkt = new Uint8Array(64);
    const base = this.seq();
    let done = 0;
    while (done < records) {
      try {
        const r = this.prog.testRun({ data: pkt, repeat: Math.ceil((records - done) / BATCH) });
        if (r.retval !== 2) throw new Error(`unexpected XDP retval ${r.retval}`);
      } catch (err) {
        if ((err as { code?: string }).code !== 'EINTR') throw err;
      }
      done = this.seq() - base;
    }
  }

  close(): void {
    this.collection.close();
  }
}

/** The anchors' ok condition. */
export function verified(v: Verifier, start: number, produced: number, dropped: number): boolean {
  return v.received === produced - dropped && v.gaps + (start + produced - v.expected) === dropped && v.ooo === 0 && v.bad === 0;
}

/**
 * The drain scenarios' timed part, the same for both readers: `rounds` + 1 times, fill the buffer
 * in one BPF_PROG_TEST_RUN (untimed), then time `drainOnce` calls until every record produced and
 * not dropped went through the verifier; round 0 is the warm-up. Emits the line; true if verified.
 */
export function runDrainRounds(scenario: string, api: string, p: Producer, v: Verifier, start: number, fill: number, drainOnce: () => void): boolean {
  const rounds = envNumber('ANCHOR_DRAIN_ROUNDS', 4);
  let totalEvents = 0;
  let totalS = 0;
  let producedAll = 0;
  let droppedAll = 0;
  for (let round = 0; round <= rounds; round++) {
    const seq0 = p.seq();
    const drop0 = p.dropped();
    p.fill(fill);
    const produced = p.seq() - seq0;
    const dropped = p.dropped() - drop0;
    const target = v.received + produced - dropped;
    const t0 = now();
    let lastProgress = t0;
    while (v.received < target) {
      const before = v.received;
      drainOnce();
      if (v.received !== before) lastProgress = now();
      else if (now() - lastProgress > STALL_S) {
        console.error(`bench ${scenario}: stalled at ${v.received}/${target}`);
        break;
      }
    }
    const t1 = now();
    if (round > 0) {
      totalS += t1 - t0;
      totalEvents += produced - dropped;
    }
    producedAll += produced;
    droppedAll += dropped;
  }
  const ok = verified(v, start, producedAll, droppedAll);
  emit(`${scenario}_events_per_s`, totalEvents / totalS, api, ok, {
    events: totalEvents,
    dropped: droppedAll,
    gaps: v.gaps,
    lost: v.lost,
    ns_per_event: (totalS * 1e9) / totalEvents,
  });
  return ok;
}

/** Checks an anchors record in place (seq at 0 as two u32, pid at 8): the zero-copy path. */
export function checkRecordView(v: Verifier, r: { view: DataView; offset: number; length: number }): void {
  const dv = r.view;
  const o = r.offset;
  v.check(dv.getUint32(o, true) + dv.getUint32(o + 4, true) * TWO32, dv.getUint32(o + 8, true), r.length);
}

/** `struct anchor_event` as the BTF codec decodes it (u64 as bigint, u8[16] as a Uint8Array copy). */
export interface AnchorEvent {
  seq: bigint;
  pid: number;
  cpu: number;
  comm: Uint8Array;
}

/** The BTF codec of `struct anchor_event`, from the companion object's BTF (see the file comment). */
export function anchorEventCodec(): BtfCodec<AnchorEvent> {
  const obj = new URL('../../test/testdata/readers/anchor_event.bpf.o', import.meta.url).pathname;
  const btf = loadCollectionSpec(obj).btf;
  if (!btf) throw new Error(`${obj} has no BTF`);
  return btfCodec<AnchorEvent>(btf.typeByName('struct', 'anchor_event'));
}

const FILL_RB = 6144 * BATCH; // 393,216 records * 40 B = 15 MiB of the 16 MiB ring

type DrainApi = 'view' | 'decoded';

async function ringbufDrain(api: DrainApi, codec?: RecordDecoder<AnchorEvent>): Promise<boolean> {
  const p = new Producer('ringbuf_producer.bpf.o', 'xdp_ringbuf_testrun', 'events');
  const reader = new RingBufferReader(p.out);
  try {
    p.set(p.cfg, CFG_BATCH, BATCH);
    const v = new Verifier();
    const start = (v.expected = p.seq());
    const viewCb = (r: RingRecord): void => checkRecordView(v, r);
    const decodedCb = (e: AnchorEvent, r: RingRecord): void => {
      v.check(Number(e.seq), e.pid, r.length);
    };
    return runDrainRounds('ringbuf_drain', api, p, v, start, FILL_RB, () => {
      if (api === 'decoded') reader.drainDecoded(codec!, decodedCb);
      else reader.drain(viewCb);
    });
  } finally {
    reader.close();
    p.close();
  }
}

export async function ringbufDrainScenario(): Promise<boolean> {
  const view = await ringbufDrain('view');
  const decoded = await ringbufDrain('decoded', anchorEventCodec());
  return view && decoded;
}

/** What a tp run measured. */
export interface TpResult {
  ok: boolean;
  received: number;
  dropped: number;
  gaps: number;
  lost: number;
  seconds: number;
  cpuSeconds: number;
  genRate: number;
}

/**
 * The *_tp driver: attach the tracepoint program, start getpid_gen (waiting on stdin), put its
 * pid in cfg[1], release it, and consume until it has exited and every record it produced was
 * received or counted as dropped. `consume(state)` starts the reader and returns its stop
 * function; its record callback calls `state.progress()` when `v.received >= state.target`.
 */
export interface TpState {
  target: number;
  progress(): void;
}

export async function runTp(p: Producer, attach: () => { close(): void }, v: Verifier, consume: (state: TpState) => () => void): Promise<TpResult> {
  const events = envNumber('ANCHOR_TP_EVENTS', 1_000_000);
  const genCpu = process.env.ANCHOR_GEN_CPU ?? '1';
  const link = attach();
  let stopConsume: (() => void) | undefined;
  let watchdog: NodeJS.Timeout | undefined;
  try {
    const child = spawn(anchorGen(), [String(events), genCpu], { stdio: ['pipe', 'pipe', 'inherit'] });
    let genOut = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (genOut += s));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    const pid = child.pid!;
    p.set(p.cfg, CFG_TARGET_TGID, pid);
    const seq0 = p.seq();
    const drop0 = p.dropped();
    v.expected = seq0;
    v.wantPid = pid;
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const state: TpState = { target: Infinity, progress: () => finish() };
    stopConsume = consume(state);
    // The anchors' stall guard (a benchmark watchdog, not part of reading).
    let lastReceived = -1;
    watchdog = setInterval(() => {
      if (v.received === lastReceived) {
        console.error(`bench tp: stalled at ${v.received}`);
        finish();
      }
      lastReceived = v.received;
    }, STALL_S * 1000);
    const c0 = process.cpuUsage();
    const t0 = now();
    child.stdin.write('g');
    const code = await exited;
    const produced = p.seq() - seq0;
    const dropped = p.dropped() - drop0;
    state.target = produced - dropped;
    if (v.received >= state.target) finish();
    await finished;
    const t1 = now();
    const c1 = process.cpuUsage(c0);
    stopConsume();
    stopConsume = undefined;
    p.set(p.cfg, CFG_TARGET_TGID, 0);
    const m = /calls=(\d+) ns=(\d+)/.exec(genOut);
    const genRate = m && Number(m[2]) > 0 ? (Number(m[1]) * 1e9) / Number(m[2]) : 0;
    const ok =
      code === 0 &&
      produced === events &&
      v.received === produced - dropped &&
      v.gaps + (seq0 + produced - v.expected) === dropped &&
      v.ooo === 0 &&
      v.bad === 0;
    return { ok, received: v.received, dropped, gaps: v.gaps, lost: v.lost, seconds: t1 - t0, cpuSeconds: (c1.user + c1.system) / 1e6, genRate };
  } finally {
    clearInterval(watchdog);
    stopConsume?.();
    link.close();
  }
}

/**
 * Attaches a tracepoint program as the libbpf 1.1 anchor does: perf_event_open on the tracepoint,
 * then PERF_EVENT_IOC_SET_BPF (no BPF link), so that both sides pay the same attach path.
 */
export function attachTracepoint(prog: Program, group: string, name: string): { close(): void } {
  return attachTracepointLink(prog, { group, name, forceIoctl: true });
}

/** Emits a tp line in the anchors' format. */
export function emitTp(metric: string, api: string, r: TpResult): void {
  emit(metric, r.received / r.seconds, api, r.ok, {
    events: r.received,
    dropped: r.dropped,
    gaps: r.gaps,
    lost: r.lost,
    gen_calls_per_s: Math.round(r.genRate),
    cpu_ns_per_event: r.received ? (r.cpuSeconds * 1e9) / r.received : 0,
  });
}

export async function ringbufTpScenario(): Promise<boolean> {
  const p = new Producer('ringbuf_producer.bpf.o', 'tp_ringbuf_getpid', 'events');
  const reader = new RingBufferReader(p.out);
  try {
    const v = new Verifier();
    const r = await runTp(
      p,
      () => attachTracepoint(p.prog, 'syscalls', 'sys_enter_getpid'),
      v,
      (state) => {
        reader.start((rec) => {
          checkRecordView(v, rec);
          if (v.received >= state.target) state.progress();
        });
        return () => reader.stop();
      },
    );
    emitTp('ringbuf_tp_events_per_s', 'start', r);
    return r.ok;
  } finally {
    reader.close();
    p.close();
  }
}
