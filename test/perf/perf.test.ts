/**
 * PerfBufferReader against records bpf_perf_event_output() writes (readers.bpf.c's pb_emit,
 * run with BPF_PROG_TEST_RUN on a chosen CPU): per-CPU rings, records wrapping the ring,
 * PERF_RECORD_LOST counted per CPU against the program's own drop counter, pause/resume,
 * overwritable rings, wakeup_events and watermark, waking, closing, aborting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, PerfBufferReader, type PerfRecord } from '../../src/index.js';
import { onlineCpus } from '../../src/sys/index.js';
import { kernelSkipReason } from '../helpers/kernel.js';
import { CFG, Producers, STAT, SeqTracker, checkRecord, readersSkipReason, spawnGetppid } from '../ringbuf/producer.js';
import { attachTracepoint } from '../../src/links/index.js';

const skip = kernelSkipReason() ?? readersSkipReason();
const cpus = onlineCpus();

/** Bytes a sample of `len` raw bytes takes in a perf ring: header 8 + u32 size + data, padded to 8. */
const footprint = (len: number) => Math.ceil((len + 12) / 8) * 8;

test('every record of every CPU, in order and intact, including records wrapping the ring', { skip }, () => {
  const p = new Producers(['pb_emit']);
  using reader = new PerfBufferReader(p.map('pb'), { pageCount: 1 });
  try {
    assert.deepEqual(
      reader.rings.map((r) => r.cpu),
      cpus,
    );
    assert.equal(reader.rings[0]!.size, 4096);
    p.lengths(16, 65);
    const perCpu = new Map<number, number[]>();
    let wrapped = 0;
    for (let round = 0; round < 150; round++) {
      for (const cpu of cpus) {
        p.emitPerf(23, cpu);
        const n = reader.drain((r) => {
          const ring = reader.rings.find((x) => x.cpu === r.cpu)!;
          // A record reassembled from both ends of the ring lies in the reader's scratch buffer.
          if (r.bytes !== ring.bytes) wrapped++;
          const list = perCpu.get(r.cpu) ?? [];
          list.push(checkRecord(r.data, true));
          perCpu.set(r.cpu, list);
        });
        assert.equal(n, 23);
      }
    }
    assert.equal(p.stat(STAT.DROPPED), 0);
    assert.equal(reader.lost(), 0);
    const all = [...perCpu.values()].flat().sort((a, b) => a - b);
    assert.equal(all.length, 150 * 23 * cpus.length);
    for (let i = 1; i < all.length; i++) assert.equal(all[i], all[i - 1]! + 1);
    for (const cpu of cpus) {
      assert.equal(perCpu.get(cpu)!.length, 150 * 23, `records of CPU ${cpu}`);
      assert.equal(p.stat(STAT.SENT_CPU + cpu), 150 * 23);
    }
    assert.ok(wrapped > 20, `${wrapped} records wrapped around the end of a ring`);
  } finally {
    reader.close();
    p.close();
  }
});

test('PERF_RECORD_LOST counted per CPU, equal to the drops the program counted; no torn record', { skip }, () => {
  const p = new Producers(['pb_emit']);
  const lostCalls: [number, number][] = [];
  using reader = new PerfBufferReader(p.map('pb'), { pageCount: 1, onLost: (cpu, n) => lostCalls.push([cpu, n]) });
  try {
    p.lengths(16, 65);
    const start = p.stat(STAT.SEQ);
    const seen = new SeqTracker(start);
    const burst = [700, 400];
    for (const [i, cpu] of cpus.entries()) {
      p.emitPerf(burst[i % 2]!, cpu); // ~40 KB / ~23 KB into 4 KB rings
      reader.drain((r) => seen.see(checkRecord(r.data, true)));
    }
    // The kernel writes the PERF_RECORD_LOST once there is room again: one more sample each.
    for (const cpu of cpus) p.emitPerf(1, cpu);
    reader.drain((r) => seen.see(checkRecord(r.data, true)));
    const attempted = p.stat(STAT.SEQ) - start;
    for (const cpu of cpus) {
      const dropped = p.stat(STAT.DROP_CPU + cpu);
      assert.ok(dropped > 100, `CPU ${cpu}: ${dropped} dropped`);
      assert.equal(reader.lost(cpu), dropped, `CPU ${cpu}: lost samples reported == drops counted by the program`);
      assert.equal(lostCalls.filter(([c]) => c === cpu).reduce((a, [, n]) => a + n, 0), dropped);
    }
    assert.equal(reader.lost(), p.stat(STAT.DROPPED));
    assert.equal(seen.received + reader.lost(), attempted);
    assert.equal(seen.gaps, reader.lost());
  } finally {
    reader.close();
    p.close();
  }
});

test('a reader falling behind concurrent producers: lost samples per CPU equal the program\'s drops', { skip }, async () => {
  const p = new Producers(['tp_pb', 'pb_emit']);
  const reader = new PerfBufferReader(p.map('pb'), { pageCount: 1 });
  const link = attachTracepoint(p.program('tp_pb'), { group: 'syscalls', name: 'sys_enter_getppid' });
  try {
    p.lengths(16, 65);
    const start = p.stat(STAT.SEQ);
    const received = new Map<number, number>();
    const check = (r: PerfRecord) => {
      checkRecord(r.data, true);
      received.set(r.cpu, (received.get(r.cpu) ?? 0) + 1);
    };
    reader.start(check);
    const child = await spawnGetppid(20_000);
    p.set(CFG.TGID, child.pid);
    child.release();
    assert.equal(await child.exited, 0);
    p.set(CFG.TGID, 0);
    reader.stop();
    reader.drain(check);
    // Pending lost counts are written before the next sample of each CPU.
    for (const cpu of cpus) p.emitPerf(1, cpu);
    reader.drain(check);
    const attempted = p.stat(STAT.SEQ) - start;
    assert.equal(attempted, 20_000 + cpus.length);
    let total = 0;
    for (const cpu of cpus) {
      assert.equal(reader.lost(cpu), p.stat(STAT.DROP_CPU + cpu), `CPU ${cpu}: lost == program drops`);
      assert.equal((received.get(cpu) ?? 0) + reader.lost(cpu), p.stat(STAT.SENT_CPU + cpu) + p.stat(STAT.DROP_CPU + cpu));
      total += received.get(cpu) ?? 0;
    }
    assert.equal(total + reader.lost(), attempted);
    assert.ok(reader.lost() > 0, 'the one-page rings overflowed: the reader fell behind');
  } finally {
    link.close();
    reader.close();
    p.close();
  }
});

test('pause() makes output fail and count as lost; resume() restores it', { skip }, () => {
  const p = new Producers(['pb_emit']);
  using reader = new PerfBufferReader(p.map('pb'), { pageCount: 2 });
  try {
    p.lengths(32);
    const cpu = cpus[0]!;
    reader.pause();
    assert.equal(reader.paused, true);
    p.emitPerf(5, cpu);
    assert.equal(p.stat(STAT.DROP_CPU + cpu), 5);
    assert.equal(reader.drain(() => {}), 0);
    reader.resume();
    p.emitPerf(3, cpu);
    const got: number[] = [];
    reader.drain((r) => got.push(checkRecord(r.data, true)));
    assert.equal(got.length, 3);
    assert.equal(reader.lost(cpu), 5);
  } finally {
    reader.close();
    p.close();
  }
});

test('overwritable rings keep the newest records, delivered oldest first, each intact', { skip }, () => {
  const p = new Producers(['pb_emit']);
  using reader = new PerfBufferReader(p.map('pb'), { pageCount: 1, overwritable: true });
  try {
    const cpu = cpus[0]!;
    p.lengths(16, 65);
    p.emitPerf(500, cpu); // ~28 KB through a 4 KB ring
    const last = p.stat(STAT.SEQ) - 1;
    assert.equal(p.stat(STAT.DROP_CPU + cpu), 0, 'an overwritable ring never refuses');
    const got: number[] = [];
    let bytes = 0;
    reader.drain((r) => {
      assert.equal(r.cpu, cpu);
      got.push(checkRecord(r.data, true));
      bytes += footprint(r.u32(8));
    });
    assert.ok(got.length > 20, `${got.length} records survive`);
    assert.ok(bytes <= 4096 && bytes > 4096 - footprint(80), `${bytes} bytes of records`);
    assert.equal(got[got.length - 1], last, 'the newest record');
    for (let i = 1; i < got.length; i++) assert.equal(got[i], got[i - 1]! + 1);
    // Nothing new: nothing delivered again. Then only what is new.
    assert.equal(reader.drain(() => {}), 0);
    p.emitPerf(3, cpu);
    const again: number[] = [];
    reader.drain((r) => again.push(checkRecord(r.data, true)));
    assert.deepEqual(again, [last + 1, last + 2, last + 3]);
    assert.equal(reader.paused, false, 'drain resumes the output it paused');
    p.emitPerf(1, cpu);
    assert.equal(p.stat(STAT.DROP_CPU + cpu), 0);
  } finally {
    reader.close();
    p.close();
  }
});

/** Resolves when `reader.start()` has delivered `n` records in total; `count()` is how many so far. */
function collector(reader: PerfBufferReader, n: number): { done: Promise<PerfRecord[]>; count(): number } {
  const got: PerfRecord[] = [];
  let resolve: (v: PerfRecord[]) => void;
  const done = new Promise<PerfRecord[]>((r) => (resolve = r));
  reader.start((r) => {
    checkRecord(r.data, true);
    got.push(r);
    if (got.length === n) resolve(got);
  });
  return { done, count: () => got.length };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
const immediate = () => new Promise((r) => setImmediate(r));
/** Two check phases: past the reader's look at the rings after registering its pollers. */
const settled = async () => {
  await immediate();
  await immediate();
};

test('wakeupEvents: the reader is woken every N samples', { skip }, async () => {
  const p = new Producers(['pb_emit']);
  const reader = new PerfBufferReader(p.map('pb'), { pageCount: 2, wakeupEvents: 4 });
  try {
    p.lengths(24);
    const cpu = cpus[0]!;
    const c = collector(reader, 4);
    await settled(); // the reader looks at the rings once its pollers are registered: let that pass
    p.emitPerf(3, cpu);
    await tick(30);
    assert.equal(c.count(), 0, 'three samples: no wakeup yet');
    assert.equal(reader.available(cpu), 3 * footprint(24), 'the three samples are there');
    p.emitPerf(1, cpu);
    assert.equal((await c.done).length, 4);
  } finally {
    reader.close();
    p.close();
  }
});

test('watermark: the reader is woken once that many bytes are pending', { skip }, async () => {
  const p = new Producers(['pb_emit']);
  const reader = new PerfBufferReader(p.map('pb'), { pageCount: 2, watermark: 200 });
  try {
    p.lengths(52); // 64-byte samples
    const cpu = cpus[0]!;
    const c = collector(reader, 4);
    await settled();
    p.emitPerf(3, cpu); // 192 bytes
    await tick(30);
    assert.equal(c.count(), 0, '192 bytes: below the watermark');
    p.emitPerf(1, cpu); // 256 bytes
    assert.equal((await c.done).length, 4);
    assert.throws(() => new PerfBufferReader(p.map('pb'), { wakeupEvents: 2, watermark: 64 }), { code: 'ERR_INVALID_ARG' });
  } finally {
    reader.close();
    p.close();
  }
});

test('async iteration wakes on samples of any CPU; close() and abort end waiting', { skip }, async () => {
  const p = new Producers(['pb_emit']);
  const reader = new PerfBufferReader(p.map('pb'), { pageCount: 1 });
  try {
    p.lengths(16, 65);
    const start = p.stat(STAT.SEQ);
    const got: [number, number][] = [];
    const consumer = (async () => {
      for await (const r of reader) {
        got.push([r.cpu, checkRecord(r.data, true)]);
        if (got.length === 2 * cpus.length) break;
      }
    })();
    await new Promise((r) => setImmediate(r));
    for (const cpu of cpus) {
      p.emitPerf(2, cpu);
      await tick(2);
    }
    await consumer;
    assert.deepEqual(
      got.map(([, s]) => s).sort((a, b) => a - b),
      Array.from({ length: 2 * cpus.length }, (_, i) => start + i),
    );
    for (const [cpu, seq] of got) assert.equal(cpu, cpus[Math.floor((seq - start) / 2)]);
    assert.equal(reader.available(), 0);

    const ac = new AbortController();
    const aborted = (async () => {
      for await (const _ of reader.records({ signal: ac.signal })) {
        // nothing arrives
      }
    })();
    await new Promise((r) => setImmediate(r));
    ac.abort();
    await assert.rejects(aborted, { name: 'AbortError' });

    const closed = (async () => {
      let n = 0;
      for await (const _ of reader) n++;
      return n;
    })();
    await new Promise((r) => setImmediate(r));
    reader.close();
    assert.equal(await closed, 0);
  } finally {
    reader.close();
    p.close();
  }
});

test('lost-sample notices in async iteration with { lost: true }', { skip }, async () => {
  const p = new Producers(['pb_emit']);
  const reader = new PerfBufferReader(p.map('pb'), { pageCount: 1 });
  try {
    p.lengths(64);
    const cpu = cpus[0]!;
    p.emitPerf(200, cpu);
    const drops = p.stat(STAT.DROP_CPU + cpu);
    let samples = 0;
    let lost = 0;
    const consumer = (async () => {
      for await (const r of reader.records({ lost: true })) {
        if (r.lost > 0) {
          assert.equal(r.cpu, cpu);
          assert.equal(r.length, 0);
          lost += r.lost;
        } else {
          checkRecord(r.data, true);
          samples++;
          if (lost > 0) break;
        }
      }
    })();
    // The iterator gives a record's space back when it moves on: once the ring is empty, it is
    // waiting, and one more sample brings the lost notice (written first, now that there is room).
    while (reader.available() > 0) await tick(1);
    p.emitPerf(1, cpu);
    await consumer;
    assert.equal(lost, drops);
    assert.equal(samples + lost, 201);
  } finally {
    reader.close();
    p.close();
  }
});

test('close() takes the events out of the map: output then fails in the program', { skip }, () => {
  const p = new Producers(['pb_emit']);
  try {
    const reader = new PerfBufferReader(p.map('pb'), { pageCount: 1 });
    p.lengths(16);
    p.emitPerf(1, cpus[0]!);
    assert.equal(reader.drain(() => {}), 1);
    reader.close();
    reader.close();
    p.emitPerf(2, cpus[0]!);
    assert.equal(p.stat(STAT.DROP_CPU + cpus[0]!), 2);
    using array = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    assert.throws(() => new PerfBufferReader(array), { code: 'ERR_MAP_TYPE' });
    assert.throws(() => new PerfBufferReader(p.map('pb'), { pageCount: 3 }), { code: 'ERR_INVALID_ARG' });
  } finally {
    p.close();
  }
});
