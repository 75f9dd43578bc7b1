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
import { BATCH, Producer, Verifier, anchorEventCodec, attachTracepoint, checkRecordView, emitTp, runDrainRounds, runTp, type AnchorEvent } from './ringbuf.js';

const PERF_PAGES = 4096; // 16 MiB per CPU
const FILL_PERF = 5120 * BATCH; // 327,680 records * 48 B = 15 MiB of 16 MiB

async function perfDrain(api: 'view' | 'decoded', codec?: RecordDecoder<AnchorEvent>): Promise<boolean> {
  const p = new Producer('perfbuf_producer.bpf.o', 'xdp_perf_testrun', 'pevents');
  const v = new Verifier();
  let reader: PerfBufferReader | undefined;
  try {
    reader = new PerfBufferReader(p.out, { pageCount: PERF_PAGES, onLost: (_cpu, n) => (v.lost += n) });
    p.set(p.cfg, 0, BATCH);
    const start = (v.expected = p.seq());
    const viewCb = (r: PerfRecord): void => checkRecordView(v, r);
    const decodedCb = (e: AnchorEvent, r: PerfRecord): void => v.check(Number(e.seq), e.pid, r.length);
    return runDrainRounds('perf_drain', api, p, v, start, FILL_PERF, () => {
      if (api === 'decoded') reader!.drainDecoded(codec!, decodedCb);
      else reader!.drain(viewCb);
    });
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
          checkRecordView(v, rec);
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
