/**
 * Kernel tests of the map layer: each map kind is created in the kernel and read back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, MapType, UpdateFlags, ArgumentError, BpfError, possibleCpuCount } from '../../src/index.js';
import { FD, mapInfo, openEach, requestBuffer } from '../../src/sys/index.js';
import { kernelSkipReason, openFdCount, readU32, readU64, u32, u64, bpftoolIds } from '../helpers/kernel.js';

const skip = kernelSkipReason();

test('hash map: update, lookup, delete, iterate', { skip }, () => {
  using m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 16, name: 't_hash' });
  for (let i = 0; i < 10; i++) m.update(u32(i), u64(BigInt(i) * 1000n));
  for (let i = 0; i < 10; i++) assert.equal(readU64(m.lookup(u32(i))!), BigInt(i) * 1000n);
  assert.equal(m.lookup(u32(99)), undefined, 'a missing key is undefined, not an exception');
  assert.equal(m.delete(u32(3)), true);
  assert.equal(m.delete(u32(3)), false);
  const keys = [...m.keys()].map((k) => readU32(k)).sort((a, b) => a - b);
  assert.deepEqual(keys, [0, 1, 2, 4, 5, 6, 7, 8, 9]);
  const sum = [...m.entries()].reduce((s, [, v]) => s + readU64(v), 0n);
  assert.equal(sum, 42000n);
  // The kernel's own view of the map, independently of our bookkeeping.
  const info = mapInfo(m.fd.value);
  assert.equal(info.type, MapType.HASH);
  assert.equal(info.keySize, 4);
  assert.equal(info.valueSize, 8);
  assert.equal(info.maxEntries, 16);
  assert.equal(info.name, 't_hash');
  assert.ok(bpftoolIds('map').includes(info.id), 'bpftool sees the map');
});

test('hash map: NOEXIST, EXIST and a full map are typed errors', { skip }, () => {
  using m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 2 });
  m.update(u32(1), u32(1), UpdateFlags.NOEXIST);
  assert.throws(() => m.update(u32(1), u32(2), UpdateFlags.NOEXIST), (e: unknown) => e instanceof BpfError && e.code === 'EEXIST');
  assert.throws(() => m.update(u32(7), u32(2), UpdateFlags.EXIST), (e: unknown) => e instanceof BpfError && e.code === 'ENOENT');
  m.update(u32(2), u32(2));
  assert.throws(
    () => m.update(u32(3), u32(3)),
    (e: unknown) => e instanceof BpfError && e.code === 'E2BIG' && /full/.test(e.message),
  );
  assert.equal(readU32(m.lookup(u32(1))!), 1, 'the failed NOEXIST update left the value alone');
});

test('values larger than the request buffer go by address, and small operations after them still work', { skip }, () => {
  // 24 KiB values: beyond the request buffer's value region, so the element calls point the
  // attr at the caller's buffers; the next small operation must point it back at the regions.
  const big = 24 * 1024;
  assert.ok(big > requestBuffer.max);
  using large = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: big, maxEntries: 4 });
  using small = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4 });
  const value = new Uint8Array(big);
  for (let i = 0; i < big; i++) value[i] = (i * 7) & 0xff;
  for (let k = 0; k < 3; k++) {
    value[0] = k;
    large.update(u32(k), value);
    small.update(u32(k), u64(BigInt(k) + 100n));
  }
  for (let k = 0; k < 3; k++) {
    const got = large.lookup(u32(k))!;
    assert.equal(got[0], k);
    assert.deepEqual(got.subarray(1), value.subarray(1));
    assert.equal(readU64(small.lookup(u32(k))!), BigInt(k) + 100n);
  }
  assert.equal(large.lookup(u32(9)), undefined);
  assert.equal(large.delete(u32(1)), true);
  assert.equal(readU64(small.lookup(u32(1))!), 101n);
  assert.deepEqual([...large.keys()].map((k) => readU32(k)).sort(), [0, 2]);
});

test('array map: every index exists and reads back', { skip }, () => {
  using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 8 });
  assert.equal(readU32(m.lookup(u32(5))!), 0, 'arrays are zero-initialised');
  m.update(u32(5), u32(0xdeadbeef));
  assert.equal(readU32(m.lookup(u32(5))!), 0xdeadbeef);
  assert.equal(m.lookup(u32(8)), undefined, 'out of range index');
  assert.throws(() => m.update(u32(8), u32(1)), (e: unknown) => e instanceof BpfError && e.code === 'E2BIG');
  assert.equal([...m.keys()].length, 8);
});

test('per-CPU hash and array: one 8-byte aligned slot per possible CPU', { skip }, () => {
  const ncpu = possibleCpuCount();
  for (const type of ['PERCPU_HASH', 'PERCPU_ARRAY', 'LRU_PERCPU_HASH'] as const) {
    using m = BpfMap.create({ type, keySize: 4, valueSize: 4, maxEntries: 4 });
    assert.equal(m.userValueSize, 8 * ncpu, `${type}: value size rounded to 8 per CPU`);
    const v = new Uint8Array(m.userValueSize);
    const dv = new DataView(v.buffer);
    for (let c = 0; c < ncpu; c++) dv.setUint32(c * 8, 100 + c, true);
    m.update(u32(1), v);
    const back = m.lookup(u32(1))!;
    for (let c = 0; c < ncpu; c++) assert.equal(readU32(back, c * 8), 100 + c, `${type} cpu ${c}`);
    assert.throws(() => m.update(u32(1), new Uint8Array(4)), (e: unknown) => e instanceof ArgumentError && e.code === 'ERR_VALUE_SIZE');
  }
});

test('LRU hash evicts instead of failing when full', { skip }, () => {
  using m = BpfMap.create({ type: 'LRU_HASH', keySize: 4, valueSize: 4, maxEntries: 64 });
  for (let i = 0; i < 1000; i++) m.update(u32(i), u32(i));
  const n = [...m.keys()].length;
  assert.ok(n > 0 && n <= 64 + 2 * possibleCpuCount() * 8, `LRU holds at most about max_entries (got ${n})`);
  assert.equal(readU32(m.lookup(u32(999))!), 999, 'the newest entry survives');
});

test('LPM trie: longest prefix match', { skip }, () => {
  // key: u32 prefixlen, then 4 bytes of IPv4 address (network order).
  using m = BpfMap.create({ type: 'LPM_TRIE', keySize: 8, valueSize: 4, maxEntries: 16, flags: 1 /* NO_PREALLOC */ });
  const key = (len: number, a: number, b: number, c: number, d: number) => new Uint8Array([len, 0, 0, 0, a, b, c, d]);
  m.update(key(8, 10, 0, 0, 0), u32(8));
  m.update(key(24, 10, 1, 2, 0), u32(24));
  assert.equal(readU32(m.lookup(key(32, 10, 1, 2, 3))!), 24);
  assert.equal(readU32(m.lookup(key(32, 10, 9, 9, 9))!), 8);
  assert.equal(m.lookup(key(32, 11, 0, 0, 1)), undefined);
});

test('queue and stack: push, peek, pop', { skip }, () => {
  using q = BpfMap.create({ type: 'QUEUE', keySize: 0, valueSize: 4, maxEntries: 4 });
  using s = BpfMap.create({ type: 'STACK', keySize: 0, valueSize: 4, maxEntries: 4 });
  for (const v of [1, 2, 3]) {
    q.push(u32(v));
    s.push(u32(v));
  }
  assert.equal(readU32(q.peek()!), 1);
  assert.equal(readU32(s.peek()!), 3);
  assert.deepEqual([1, 2, 3].map(() => readU32(q.lookupAndDelete(null)!)), [1, 2, 3]);
  assert.deepEqual([1, 2, 3].map(() => readU32(s.lookupAndDelete(null)!)), [3, 2, 1]);
  assert.equal(q.lookupAndDelete(null), undefined, 'empty queue');
});

test('bloom filter: pushed values are found', { skip }, () => {
  using b = BpfMap.create({ type: 'BLOOM_FILTER', keySize: 0, valueSize: 4, maxEntries: 100, mapExtra: 3n });
  b.push(u32(42));
  assert.equal(b.contains(u32(42)), true, 'present value');
  // One value in a 100-entry filter with 3 hashes: a false positive for these is ~1e-9 likely.
  assert.deepEqual([43, 1000, 77777].filter((v) => b.contains(u32(v))), [], 'absent values');
});

test('batch update, lookup and delete', { skip }, () => {
  using m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 1024 });
  const n = 1000;
  const keys = new Uint8Array(n * 4);
  const values = new Uint8Array(n * 8);
  const kv = new DataView(keys.buffer);
  const vv = new DataView(values.buffer);
  for (let i = 0; i < n; i++) {
    kv.setUint32(i * 4, i, true);
    vv.setBigUint64(i * 8, BigInt(i * 3), true);
  }
  assert.equal(m.batchUpdate(keys, values, n), n);
  const ko = new Uint8Array(1024 * 4);
  const vo = new Uint8Array(1024 * 8);
  for (const chunkSize of [1024, 7]) {
    const got = m.batchLookup(ko, vo, { chunkSize });
    assert.equal(got, n, `chunk ${chunkSize}`);
    let sum = 0n;
    for (let i = 0; i < got; i++) {
      const k = new DataView(ko.buffer).getUint32(i * 4, true);
      const v = new DataView(vo.buffer).getBigUint64(i * 8, true);
      assert.equal(v, BigInt(k * 3));
      sum += v;
    }
    assert.equal(sum, BigInt((3 * n * (n - 1)) / 2));
  }
  assert.equal(m.batchDelete(keys, 500), 500);
  assert.equal([...m.keys()].length, 500);
});

test('freeze makes a map read-only for userspace', { skip }, () => {
  using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
  m.update(u32(0), u32(7));
  m.freeze();
  assert.throws(() => m.update(u32(0), u32(8)), (e: unknown) => e instanceof BpfError && e.code === 'EPERM');
  assert.equal(readU32(m.lookup(u32(0))!), 7);
});

test('bad input gives typed errors before or from the syscall', { skip }, () => {
  using m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4, name: 'sizes' });
  assert.throws(
    () => m.lookup(new Uint8Array(3)),
    (e: unknown) => e instanceof ArgumentError && e.code === 'ERR_KEY_SIZE' && /4-byte keys, got 3/.test(e.message),
  );
  assert.throws(() => m.update(u32(1), new Uint8Array(4)), (e: unknown) => e instanceof ArgumentError && e.code === 'ERR_VALUE_SIZE');
  assert.throws(() => BpfMap.create({ type: 'NOPE' as 'HASH', keySize: 4, valueSize: 4, maxEntries: 1 }), (e: unknown) => e instanceof ArgumentError && e.code === 'ERR_MAP_TYPE');
  assert.throws(
    () => BpfMap.create({ type: 250, keySize: 4, valueSize: 4, maxEntries: 1 }),
    (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && e.command === 'BPF_MAP_CREATE',
  );
  assert.throws(
    () => BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 0 }),
    (e: unknown) => e instanceof BpfError && e.code === 'EINVAL',
  );
  const closed = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
  closed.close();
  closed.close(); // idempotent
  assert.throws(() => closed.lookup(u32(0)), (e: unknown) => e instanceof ArgumentError && e.code === 'EBADF' && /closed/.test(e.message));
});

test('10,000 map create/close cycles leak no descriptors', { skip }, () => {
  const before = openFdCount();
  const beforeObjects = FD.openCount;
  for (let i = 0; i < 10_000; i++) {
    const m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    m.close();
  }
  assert.equal(openFdCount(), before);
  assert.equal(FD.openCount, beforeObjects);
});

test('a dropped map is closed by the finalizer safety net', { skip: skip ?? (typeof global.gc !== 'function' ? 'run node with --expose-gc' : undefined) }, async () => {
  const before = openFdCount();
  (() => {
    for (let i = 0; i < 100; i++) BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
  })();
  for (let i = 0; i < 10 && openFdCount() > before; i++) {
    global.gc!();
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(openFdCount(), before);
});

test('openEach opens every map on the system, ours among them, and leaves no descriptor open', { skip }, () => {
  using mine = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1, name: 'open_each' });
  const before = openFdCount();
  const ids: number[] = [];
  for (using fd of openEach('map')) ids.push(mapInfo(fd.value).id);
  assert.ok(ids.includes(mine.id), `map ${mine.id} among ${ids.length} opened`);
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'in id order');
  assert.equal(openFdCount(), before);
});
