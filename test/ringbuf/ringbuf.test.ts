/**
 * RingBufferReader against records a BPF program writes (test/testdata/readers/readers.bpf.c,
 * run with BPF_PROG_TEST_RUN): order, content, wrap-around, discards, drops counted by the
 * program, several rings, every way of consuming, waking, closing and aborting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, RingBufferReader, type RingRecord } from '../../src/index.js';
import { btfCodec } from '../../src/btf/index.js';
import { kernelSkipReason } from '../helpers/kernel.js';
import { CFG, Producers, STAT, SeqTracker, checkRecord, readersSkipReason, spawnGetppid } from './producer.js';
import { attachTracepoint } from '../../src/links/index.js';

const skip = kernelSkipReason() ?? readersSkipReason();

/** Space a record of `len` bytes takes in the ring: 8-byte header, rounded up to 8. */
const footprint = (len: number) => Math.ceil((len + 8) / 8) * 8;

test('every record in order and intact through hundreds of wrap-arounds of a one-page ring', { skip }, () => {
  const p = new Producers(['rb_emit'], { rb: 4096 });
  using reader = new RingBufferReader(p.map('rb'));
  try {
    p.lengths(16, 65); // 16..80 bytes: footprints 24..88, so records end anywhere in the ring
    const seen = new SeqTracker(p.stat(STAT.SEQ));
    let crossedEnd = 0;
    const size = reader.rings[0]!.size;
    assert.equal(size, 4096);
    for (let round = 0; round < 400; round++) {
      p.emitRing(37);
      const n = reader.drain((r) => {
        seen.see(checkRecord(r.data));
        // Records that run past the end of the data area are read from its second mapping.
        if (r.offset + r.length > size) crossedEnd++;
      });
      assert.equal(n, 37);
      assert.equal(reader.available(), 0);
    }
    assert.equal(p.stat(STAT.DROPPED), 0);
    assert.equal(seen.received, 400 * 37);
    assert.equal(seen.gaps, 0);
    assert.ok(reader.rings[0]!.consumerPosition > 100 * size, `the ring wrapped ${Math.floor(reader.rings[0]!.consumerPosition / size)} times`);
    assert.ok(crossedEnd > 50, `${crossedEnd} records crossed the end of the ring`);
  } finally {
    reader.close();
    p.close();
  }
});

test('the kernel sees the consumer position the reader publishes, and available() matches its producer position', { skip }, () => {
  const p = new Producers(['rb_emit', 'rb_query'], { rb: 8192 });
  using reader = new RingBufferReader(p.map('rb'));
  try {
    p.lengths(20, 7);
    p.emitRing(50);
    const lengths: number[] = [];
    for (let s = p.stat(STAT.SEQ) - 50; s < p.stat(STAT.SEQ); s++) lengths.push(20 + (s % 7));
    const expectBytes = lengths.reduce((a, l) => a + footprint(l), 0);
    assert.equal(reader.available(), expectBytes);
    assert.equal(reader.available(0), expectBytes);
    p.program('rb_query').testRun({});
    assert.equal(p.stat(STAT.QUERY + 1), reader.rings[0]!.producerPosition, 'producer position');
    assert.equal(p.stat(STAT.QUERY + 2), expectBytes, 'kernel: available bytes');
    assert.equal(reader.drain(() => {}, 20), 20);
    p.program('rb_query').testRun({});
    assert.equal(p.stat(STAT.QUERY + 0), reader.rings[0]!.consumerPosition, 'consumer position after a partial drain');
    assert.equal(reader.drain(() => {}), 30);
    p.program('rb_query').testRun({});
    assert.equal(p.stat(STAT.QUERY + 0), expectBytes);
    assert.equal(p.stat(STAT.QUERY + 2), 0);
  } finally {
    reader.close();
    p.close();
  }
});

test('a consumer position past 2^32 reaches the kernel whole (one 64-bit store when the high word changes)', { skip }, () => {
  const p = new Producers(['rb_query'], { rb: 4096 });
  const reader = new RingBufferReader(p.map('rb'));
  try {
    // This ring is thrown away afterwards: a consumer position ahead of the producer makes
    // every reservation fail, which is all this test needs.
    const ring = reader.rings[0]!;
    for (const pos of [2 ** 32 - 8, 2 ** 32 + 16, 2 ** 32 + 24, 3 * 2 ** 32 + 8]) {
      ring.publish(pos);
      p.program('rb_query').testRun({});
      assert.equal(p.stat(STAT.QUERY + 0), pos);
    }
  } finally {
    reader.close();
    p.close();
  }
});

test('discarded records are skipped and their space reclaimed', { skip }, () => {
  const p = new Producers(['rb_emit'], { rb: 4096 });
  using reader = new RingBufferReader(p.map('rb'));
  try {
    p.lengths(40);
    p.set(CFG.DISCARD_EVERY, 3);
    const start = p.stat(STAT.SEQ);
    const got: number[] = [];
    for (let round = 0; round < 100; round++) {
      p.emitRing(30);
      reader.drain((r) => got.push(checkRecord(r.data)));
    }
    assert.equal(p.stat(STAT.DROPPED), 0);
    assert.equal(p.stat(STAT.DISCARDED), 1000);
    assert.equal(got.length, 2000);
    const expected = [];
    for (let s = start; s < start + 3000; s++) if (s % 3 !== 0) expected.push(s);
    assert.deepEqual(got, expected);
    assert.equal(reader.available(), 0, 'trailing discarded records are consumed too');
  } finally {
    reader.close();
    p.close();
  }
});

test('a burst larger than the ring: drops counted exactly by the program, no torn record', { skip }, () => {
  const p = new Producers(['rb_emit'], { rb: 4096 });
  using reader = new RingBufferReader(p.map('rb'));
  try {
    p.lengths(16, 65);
    const start = p.stat(STAT.SEQ);
    let received = 0;
    const seen = new SeqTracker(start);
    for (let round = 0; round < 5; round++) {
      p.emitRing(1000); // ~52 KB into a 4 KB ring
      received += reader.drain((r) => seen.see(checkRecord(r.data)));
    }
    const attempted = p.stat(STAT.SEQ) - start;
    const dropped = p.stat(STAT.DROPPED);
    assert.equal(attempted, 5000);
    assert.ok(dropped > 4000, `${dropped} dropped`);
    assert.equal(received + dropped, attempted);
    // Drops are the gaps in the sequence, plus those after the last record received.
    assert.equal(seen.gaps + (start + attempted - seen.expected), dropped);
  } finally {
    reader.close();
    p.close();
  }
});

test('a reader falling behind a concurrent producer on another CPU: exact drop count, no torn record', { skip }, async () => {
  const p = new Producers(['tp_rb'], { rb: 4096 });
  const reader = new RingBufferReader(p.map('rb'));
  const link = attachTracepoint(p.program('tp_rb'), { group: 'syscalls', name: 'sys_enter_getppid' });
  try {
    p.lengths(16, 65);
    const start = p.stat(STAT.SEQ);
    const seen = new SeqTracker(start);
    reader.start((r) => seen.see(checkRecord(r.data)));
    const child = await spawnGetppid(30_000);
    p.set(CFG.TGID, child.pid);
    child.release();
    assert.equal(await child.exited, 0);
    p.set(CFG.TGID, 0);
    reader.stop();
    reader.drain((r) => seen.see(checkRecord(r.data)));
    const attempted = p.stat(STAT.SEQ) - start;
    const dropped = p.stat(STAT.DROPPED);
    assert.equal(attempted, 30_000);
    assert.ok(dropped > 0, 'the 4 KiB ring overflowed: the reader fell behind');
    assert.equal(seen.received + dropped, attempted, `received ${seen.received} + dropped ${dropped}`);
    assert.equal(seen.gaps + (start + attempted - seen.expected), dropped);
  } finally {
    link.close();
    reader.close();
    p.close();
  }
});

test('several rings in one reader (ring_buffer__add): records tagged with their ring', { skip }, () => {
  const p = new Producers(['rb_emit'], { rb: 4096, rb2: 16384 });
  using reader = new RingBufferReader(p.map('rb'));
  try {
    assert.equal(reader.add(p.map('rb2')), 1);
    assert.deepEqual(
      reader.rings.map((r) => [r.index, r.name, r.size]),
      [
        [0, 'rb', 4096],
        [1, 'rb2', 16384],
      ],
    );
    p.lengths(24, 9);
    p.set(CFG.RING, 2); // odd seq -> rb2, even -> rb
    const perRing = [new SeqTracker(-1), new SeqTracker(-1)];
    for (let round = 0; round < 50; round++) {
      p.emitRing(40);
      reader.drain((r) => {
        const seq = checkRecord(r.data);
        assert.equal(r.ring, seq & 1, `record ${seq} in ring ${r.ring}`);
        perRing[r.ring]!.received++;
        assert.ok(seq > perRing[r.ring]!.expected, 'in order within a ring');
        perRing[r.ring]!.expected = seq;
      });
    }
    assert.equal(p.stat(STAT.DROPPED), 0);
    assert.equal(perRing[0]!.received, 1000);
    assert.equal(perRing[1]!.received, 1000);
    // A ring given by its fd number works the same.
    using byFd = new RingBufferReader(p.map('rb2').fd.value);
    assert.equal(byFd.rings[0]!.size, 16384);
  } finally {
    reader.close();
    p.close();
  }
});

test('async iteration wakes on new records, holds each record until the loop continues, and releases on break', { skip }, async () => {
  const p = new Producers(['rb_emit'], { rb: 4096 });
  const reader = new RingBufferReader(p.map('rb'));
  try {
    p.lengths(32);
    const start = p.stat(STAT.SEQ);
    const got: number[] = [];
    let first: RingRecord | undefined;
    const consumer = (async () => {
      for await (const r of reader) {
        first ??= r;
        got.push(checkRecord(r.data));
        // The record's space stays taken while the loop body runs.
        assert.ok(reader.available() >= 40);
        if (got.length === 10) break;
      }
    })();
    // The iterator is now waiting on the ring's fd; the records arrive later, from the kernel.
    await new Promise((r) => setImmediate(r));
    assert.equal(got.length, 0);
    p.emitRing(4);
    await new Promise((r) => setTimeout(r, 5));
    p.emitRing(6);
    await consumer;
    assert.deepEqual(
      got,
      Array.from({ length: 10 }, (_, i) => start + i),
    );
    assert.equal(reader.available(), 0, 'break released the last record');
    assert.throws(() => first!.data, { code: 'ERR_RECORD_RELEASED' });
    // A new consumer may start after the iterator ended.
    p.emitRing(2);
    assert.equal(reader.drain(() => {}), 2);
  } finally {
    reader.close();
    p.close();
  }
});

test('close() ends an iterator and a wait() that are waiting', { skip }, async () => {
  const p = new Producers([], { rb: 4096 });
  const reader = new RingBufferReader(p.map('rb'));
  try {
    const got: unknown[] = [];
    const iterating = (async () => {
      for await (const r of reader) got.push(r);
      return 'ended';
    })();
    await new Promise((r) => setImmediate(r));
    reader.close();
    assert.equal(await iterating, 'ended');
    assert.equal(got.length, 0);
    assert.equal(await reader.wait(), false);
    assert.throws(() => reader.drain(() => {}), { code: 'EBADF' });
    assert.equal(reader.available(), 0);
  } finally {
    reader.close();
    p.close();
  }
  // A wait() pending when another reader closes resolves false.
  const q = new Producers([], { rb: 4096 });
  const r2 = new RingBufferReader(q.map('rb'));
  const waiting = r2.wait();
  setImmediate(() => r2.close());
  assert.equal(await waiting, false);
  q.close();
});

test('AbortSignal rejects a waiting iterator and wait(), and stops start()', { skip }, async () => {
  const p = new Producers(['rb_emit'], { rb: 4096 });
  const reader = new RingBufferReader(p.map('rb'));
  try {
    const ac = new AbortController();
    const iterating = (async () => {
      for await (const _ of reader.records({ signal: ac.signal })) {
        // nothing arrives
      }
    })();
    await new Promise((r) => setImmediate(r));
    ac.abort();
    await assert.rejects(iterating, { name: 'AbortError' });

    const ac2 = new AbortController();
    const waiting = reader.wait({ signal: ac2.signal });
    ac2.abort(new Error('enough'));
    await assert.rejects(waiting, /enough/);
    await assert.rejects(reader.wait({ signal: AbortSignal.abort() }), { name: 'AbortError' });

    // start() with a signal: aborting stops delivery; records stay in the ring for the next consumer.
    p.lengths(16);
    const ac3 = new AbortController();
    let delivered = 0;
    let onFirst: () => void;
    const firstDelivery = new Promise<void>((r) => (onFirst = r));
    reader.start(
      () => {
        delivered++;
        onFirst();
      },
      { signal: ac3.signal },
    );
    p.emitRing(3);
    await firstDelivery;
    assert.equal(delivered, 3);
    ac3.abort();
    p.emitRing(2);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(delivered, 3);
    assert.equal(reader.drain(() => {}), 2);
  } finally {
    reader.close();
    p.close();
  }
});

test('start(): records delivered from the event loop as the kernel wakes the reader', { skip }, async () => {
  const p = new Producers(['rb_emit'], { rb: 4096 });
  const reader = new RingBufferReader(p.map('rb'));
  try {
    p.lengths(16, 65);
    const start = p.stat(STAT.SEQ);
    const seen = new SeqTracker(start);
    let done: () => void;
    const all = new Promise<void>((r) => (done = r));
    reader.start((r) => {
      seen.see(checkRecord(r.data));
      if (seen.received === 300) done();
    });
    assert.throws(() => reader.records(), { code: 'ERR_READER_BUSY' });
    for (let i = 0; i < 10; i++) {
      p.emitRing(30);
      await new Promise((r) => setImmediate(r));
    }
    await all;
    reader.stop();
    assert.equal(seen.gaps, 0);
    assert.equal(p.stat(STAT.DROPPED), 0);
  } finally {
    reader.close();
    p.close();
  }
});

test('a callback that throws: its record is consumed, the error propagates, the next drain goes on', { skip }, async () => {
  const p = new Producers(['rb_emit'], { rb: 4096 });
  using reader = new RingBufferReader(p.map('rb'));
  try {
    p.lengths(16);
    const start = p.stat(STAT.SEQ);
    p.emitRing(5);
    const seen: number[] = [];
    assert.throws(
      () =>
        reader.drain((r) => {
          seen.push(checkRecord(r.data));
          if (seen.length === 2) throw new Error('boom');
        }),
      /boom/,
    );
    reader.drain((r) => seen.push(checkRecord(r.data)));
    assert.deepEqual(seen, [start, start + 1, start + 2, start + 3, start + 4]);
    p.emitRing(1);
    assert.throws(() => reader.drain(() => reader.drain(() => {})), { code: 'ERR_READER_BUSY' });

    // start() with onError: the error is reported, reading continues.
    const errors: unknown[] = [];
    let count = 0;
    let done: () => void;
    const finished = new Promise<void>((r) => (done = r));
    reader.start(
      () => {
        if (++count === 1) throw new Error('first');
        if (count === 4) done();
      },
      { onError: (e) => errors.push(e) },
    );
    p.emitRing(4);
    await finished;
    reader.stop();
    assert.equal(errors.length, 1);
  } finally {
    reader.close();
    p.close();
  }
});

test('records decoded through BTF: drainDecoded() and decoded()', { skip }, async () => {
  const p = new Producers(['rb_emit'], { rb: 4096 });
  const reader = new RingBufferReader(p.map('rb'));
  try {
    const btf = p.collection.spec.btf!;
    const codec = btfCodec<{ seq: bigint; len: number; check: number; words: bigint[] }>(btf.typeByName('struct', 'rec'));
    assert.equal(codec.size, 80);
    p.lengths(80); // whole structs
    const start = p.stat(STAT.SEQ);
    p.emitRing(3);
    const values: { seq: bigint; len: number; check: number; words: bigint[] }[] = [];
    assert.equal(reader.drainDecoded(codec, (v) => values.push(v)), 3);
    for (let i = 0; i < 3; i++) {
      const seq = BigInt(start + i);
      assert.equal(values[i]!.seq, seq);
      assert.equal(values[i]!.len, 80);
      assert.equal(values[i]!.check, (Number(seq) ^ 0xa5a5a5a5) >>> 0);
      const w = (seq * 0x9e3779b97f4a7c15n) & ((1n << 64n) - 1n);
      assert.deepEqual(values[i]!.words, Array.from({ length: 8 }, (_, k) => (w + BigInt(k)) & ((1n << 64n) - 1n)));
    }
    // A record shorter than the type decodes as if zeros followed it, never reading the bytes
    // beside it in the ring (programs send structs cut after their used part).
    p.lengths(40);
    p.emitRing(2);
    const short: { len: number; words: bigint[] }[] = [];
    reader.drainDecoded(codec, (v) => short.push(v));
    assert.equal(short.length, 2);
    assert.equal(short[0]!.len, 40);
    assert.deepEqual(short[0]!.words.slice(3), [0n, 0n, 0n, 0n, 0n], 'bytes 40..80 read as zeros, not the next record');
    p.lengths(80);
    p.emitRing(2);
    const it = reader.decoded(codec);
    const a = await it.next();
    const b = await it.next();
    assert.equal((a.value as { seq: bigint }).seq + 1n, (b.value as { seq: bigint }).seq);
    await it.return();
  } finally {
    reader.close();
    p.close();
  }
});

test('record helpers and copies; arguments checked', { skip }, () => {
  const p = new Producers(['rb_emit'], { rb: 4096 });
  using reader = new RingBufferReader([p.map('rb')]);
  try {
    p.lengths(80);
    const start = p.stat(STAT.SEQ);
    p.emitRing(2);
    const copies: Uint8Array[] = [];
    reader.drain((r) => {
      assert.equal(r.u64(0), r.length === 80 ? Number(r.bigU64(0)) : -1);
      assert.equal(r.u32(8), 80);
      assert.equal(r.u32(12), (r.u32(0) ^ 0xa5a5a5a5) >>> 0);
      assert.equal(r.u16(8), 80);
      assert.equal(r.u8(8), 80);
      copies.push(r.copy());
    });
    assert.equal(checkRecord(copies[0]!), start);
    assert.equal(checkRecord(copies[1]!), start + 1);
    using array = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    assert.throws(() => new RingBufferReader(array), { code: 'ERR_MAP_TYPE' });
  } finally {
    reader.close();
    p.close();
  }
});
