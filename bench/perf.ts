/**
 * The `perf_drain` and `perf_tp` scenarios of ../shared/anchors on the anchors' own
 * perfbuf_producer.bpf.o, with the anchors' verification (see bench/ringbuf.ts): 16 MiB (4096
 * pages) per CPU, wakeup_events = 1 (libbpf's and cilium/ebpf's default), PERF_RECORD_LOST
 * counted as `lost`.
 *
 * APIs (api=): view (PerfBufferReader.drain, zero-copy record), decoded (drainDecoded with the
 * BTF codec of struct anchor_event, see bench/ringbuf.ts), start (tp: callback per wakeup).
 */
import { PerfBufferReader, type PerfRecord } from '../src/perf/index.js';
import type { RecordDecoder } from '../src/ringbuf/index.js';
import { emit, envNumber, now } from './common.js';
import { BATCH, Producer, Verifier, anchorEventCodec, attachTracepoint, emitTp, runTp, verified, type AnchorEvent } from './ringbuf.js';

const TWO32 = 2 ** 32;
const PERF_PAGES = 4096; // 16 MiB per CPU
const FILL_PERF = 5120 * BATCH; // 327,680 records * 48 B = 15 MiB of 16 MiB
const STALL_S = 5;

async function perfDrain(api: 'view' | 'decoded', codec?: RecordDecoder<AnchorEvent>): Promise<boolean> {
  const rounds = envNumber('ANCHOR_DRAIN_ROUNDS', 4);
  const p = new Producer('perfbuf_producer.bpf.o', 'xdp_perf_testrun', 'pevents');
  const v = new Verifier();
  let reader: PerfBufferReader | undefined;
  try {
    reader = new PerfBufferReader(p.out, { pageCount: PERF_PAGES, onLost: (_cpu, n) => (v.lost += n) });
    p.set(p.cfg, 0, BATCH);
    const start = (v.expected = p.seq());
    const viewCb = (r: PerfRecord): void => {
      const dv = r.view;
      const o = r.offset;
      v.check(dv.getUint32(o, true) + dv.getUint32(o + 4, true) * TWO32, dv.getUint32(o + 8, true), r.length);
    };
    const decodedCb = (e: AnchorEvent, r: PerfRecord): void => v.check(Number(e.seq), e.pid, r.length);
    let totalEvents = 0;
    let totalS = 0;
    let producedAll = 0;
    let droppedAll = 0;
    for (let round = 0; round <= rounds; round++) {
      const seq0 = p.seq();
      const drop0 = p.dropped();
      p.fill(FILL_PERF);
      const produced = p.seq() - seq0;
      const dropped = p.dropped() - drop0;
      const target = v.received + produced - dropped;
      const t0 = now();
      let lastProgress = t0;
      while (v.received < target) {
        const before = v.received;
        if (api === 'decoded') reader.drainDecoded(codec!, decodedCb);
        else reader.drain(viewCb);
        if (v.received !== before) lastProgress = now();
        else if (now() - lastProgress > STALL_S) {
          console.error(`bench perf_drain: stalled at ${v.received}/${target}`);
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
    emit('perf_drain_events_per_s', totalEvents / totalS, api, ok, {
      events: totalEvents,
      dropped: droppedAll,
      gaps: v.gaps,
      lost: v.lost,
      ns_per_event: (totalS * 1e9) / totalEvents,
    });
    return ok;
  } finally {
    reader?.close();
    p.close();
  }
}

export async function perfDrainScenario(): Promise<boolean> {
  const view = await perfDrain('view');
  const decoded = await perfDrain('decoded', anchorEventCodec());
  return view && decoded;
}

export async function perfTpScenario(): Promise<boolean> {
  const p = new Producer('perfbuf_producer.bpf.o', 'tp_perf_getpid', 'pevents');
  const v = new Verifier();
  let reader: PerfBufferReader | undefined;
  try {
    reader = new PerfBufferReader(p.out, { pageCount: PERF_PAGES, onLost: (_cpu, n) => (v.lost += n) });
    const rd = reader;
    const r = await runTp(
      p,
      () => attachTracepoint(p.prog, 'syscalls', 'sys_enter_getpid'),
      v,
      (state) => {
        rd.start((rec) => {
          const dv = rec.view;
          const o = rec.offset;
          v.check(dv.getUint32(o, true) + dv.getUint32(o + 4, true) * TWO32, dv.getUint32(o + 8, true), rec.length);
          if (v.received >= state.target) state.progress();
        });
        return () => rd.stop();
      },
    );
    emitTp('perf_tp_events_per_s', 'start', r);
    return r.ok;
  } finally {
    reader?.close();
    p.close();
  }
}
