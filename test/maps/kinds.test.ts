/**
 * Every map kind through the typed API, on the kernel: values written are read back by the
 * kernel (lookups, and the kernel's own view through info and ids), and each kind's values
 * take the shape the kernel defines (fds, ifindexes, maps, programs, per-CPU arrays).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { closeSync, mkdirSync, openSync, readFileSync, rmdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  ArgumentError,
  BpfError,
  BpfMap,
  CollectionSpec,
  UpdateFlags,
  codecs,
  loadCollection,
  perCpuCodec,
  possibleCpuCount,
  type Collection,
  type FdLike,
  type Program,
} from '../../src/index.js';
import { pidfdOpen, perfEventOpen, mapInfo } from '../../src/sys/index.js';
import { counterProgram } from '../helpers/programs.js';
import { kernelSkipReason, uniqueName } from '../helpers/kernel.js';

const skip = kernelSkipReason();
const kindsObject = fileURLToPath(new URL('../../../test/testdata/maps/kinds.bpf.o', import.meta.url));

function loadKinds(): Collection {
  return loadCollection(CollectionSpec.fromELF(readFileSync(kindsObject)));
}

/** A connected TCP pair on loopback; the fds are the sockets' own (Node keeps them open). */
async function tcpPair(): Promise<{ client: net.Socket; server: net.Socket; fd: number; close(): void }> {
  let accepted!: net.Socket;
  const srv = net.createServer((s) => (accepted = s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const client = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => client.on('connect', r));
  while (!accepted) await new Promise((r) => setImmediate(r));
  const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
  assert.ok(fd > 0, 'the socket has an fd');
  return {
    client,
    server: accepted,
    fd,
    close() {
      client.destroy();
      accepted.destroy();
      srv.close();
    },
  };
}

function cgroup2Root(): string | undefined {
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[2] === 'cgroup2') return f[1];
  }
  return undefined;
}

test('hash, LRU hash and array with explicit codecs; maps without BTF ask for codecs', { skip }, () => {
  for (const type of ['HASH', 'LRU_HASH', 'ARRAY'] as const) {
    using m = BpfMap.create({ type, keySize: 4, valueSize: 8, maxEntries: 8, name: 't_kind' });
    assert.throws(() => m.typed(), (e: unknown) => e instanceof ArgumentError && e.code === 'ERR_NO_BTF' && /pass codecs/.test(e.message), type);
    const t = m.typed(codecs.u32, codecs.u64);
    t.set(3, 2n ** 63n + 1n);
    assert.equal(t.get(3), 2n ** 63n + 1n, type);
    // The raw bytes the kernel holds.
    assert.deepEqual(m.lookup(Uint8Array.of(3, 0, 0, 0)), Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0x80), type);
    if (type === 'ARRAY') {
      assert.equal(t.get(5), 0n, 'array slots exist, zero');
      assert.equal(t.get(8), undefined, 'out of range index: undefined');
    } else {
      assert.equal(t.get(5), undefined, 'a missing key is undefined');
      assert.equal(t.delete(3), true);
      assert.equal(t.get(3), undefined);
    }
  }
});

test('per-CPU hash, array and LRU hash: arrays of one value per possible CPU, slots rounded to 8 bytes', { skip }, () => {
  const ncpu = possibleCpuCount();
  for (const type of ['PERCPU_HASH', 'PERCPU_ARRAY', 'LRU_PERCPU_HASH'] as const) {
    using m = BpfMap.create({ type, keySize: 4, valueSize: 4, maxEntries: 4 });
    assert.throws(() => m.typed(codecs.u32, codecs.u32), (e: unknown) => e instanceof ArgumentError && /use perCpuCodec/.test(e.message));
    const t = m.typed(codecs.u32, perCpuCodec(codecs.u32));
    const values = Array.from({ length: ncpu }, (_, i) => 100 + i);
    t.set(1, values);
    assert.deepEqual(t.get(1), values, type);
    const raw = m.lookup(Uint8Array.of(1, 0, 0, 0))!;
    assert.equal(raw.length, 8 * ncpu);
    for (let c = 0; c < ncpu; c++) assert.equal(new DataView(raw.buffer).getUint32(8 * c, true), 100 + c, `${type}: CPU ${c} at ${8 * c}`);
    t.set(2, [7]);
    assert.deepEqual(t.get(2), [7, ...new Array(ncpu - 1).fill(0)], 'missing CPUs are zero');
    assert.throws(() => t.set(2, new Array(ncpu + 1).fill(1)), ArgumentError);
  }
  // From BTF: a per-CPU hash of structs gets a per-CPU struct codec by itself.
  using c = loadKinds();
  const owners = c.map('percpu_owners').typed<number, { cookie: bigint; seen: number; tag: string }[]>();
  owners.set(1, [{ cookie: 1n, seen: 2, tag: 'cpu0' }]);
  const got = owners.get(1)!;
  assert.equal(got.length, ncpu);
  assert.deepEqual(got[0], { cookie: 1n, seen: 2, tag: 'cpu0' });
  if (ncpu > 1) assert.deepEqual(got[1], { cookie: 0n, seen: 0, tag: '' });
});

test('LPM trie: struct keys, longest prefix match', { skip }, () => {
  using m = BpfMap.create({ type: 'LPM_TRIE', keySize: 8, valueSize: 4, maxEntries: 16, flags: 1 /* NO_PREALLOC */ });
  const key = codecs.struct<{ prefixlen: number; addr: Uint8Array }>({ prefixlen: { offset: 0, codec: codecs.u32 }, addr: { offset: 4, codec: codecs.bytes(4) } });
  const t = m.typed(key, codecs.u32);
  t.set({ prefixlen: 8, addr: Uint8Array.of(10, 0, 0, 0) }, 8);
  t.set({ prefixlen: 24, addr: Uint8Array.of(10, 1, 2, 0) }, 24);
  assert.equal(t.get({ prefixlen: 32, addr: Uint8Array.of(10, 1, 2, 3) }), 24);
  assert.equal(t.get({ prefixlen: 32, addr: Uint8Array.of(10, 9, 9, 9) }), 8);
  assert.equal(t.get({ prefixlen: 32, addr: Uint8Array.of(11, 0, 0, 1) }), undefined);
  assert.deepEqual([...t.keys()].map((k) => k.prefixlen).sort((a, b) => a - b), [8, 24]);
});

test('queue and stack: push, pop, peek; a full queue is E2BIG unless BPF_EXIST replaces the oldest', { skip }, () => {
  using q = BpfMap.create({ type: 'QUEUE', keySize: 0, valueSize: 8, maxEntries: 3 });
  using s = BpfMap.create({ type: 'STACK', keySize: 0, valueSize: 8, maxEntries: 3 });
  const tq = q.typed(undefined, codecs.u64);
  const ts = s.typed(undefined, codecs.u64);
  for (const v of [1n, 2n, 3n]) {
    tq.push(v);
    ts.push(v);
  }
  assert.equal(tq.peek(), 1n);
  assert.equal(ts.peek(), 3n);
  assert.throws(() => tq.push(4n), (e: unknown) => e instanceof BpfError && e.code === 'E2BIG');
  tq.push(4n, UpdateFlags.EXIST);
  assert.deepEqual([tq.pop(), tq.pop(), tq.pop(), tq.pop()], [2n, 3n, 4n, undefined], 'FIFO, the oldest replaced, then empty');
  assert.deepEqual([ts.pop(), ts.pop(), ts.pop(), ts.pop()], [3n, 2n, 1n, undefined], 'LIFO, then empty');
  assert.equal(tq.peek(), undefined);
  assert.throws(() => tq.get(0 as never), (e: unknown) => e instanceof ArgumentError && /no keys/.test(e.message));
  assert.throws(() => [...tq.keys()], ArgumentError);
});

test('bloom filter: pushed values are contained', { skip }, () => {
  using b = BpfMap.create({ type: 'BLOOM_FILTER', keySize: 0, valueSize: 4, maxEntries: 1000, mapExtra: 5n });
  const t = b.typed(undefined, codecs.u32);
  for (let i = 0; i < 10; i++) t.push(i * 7919);
  for (let i = 0; i < 10; i++) assert.equal(t.contains(i * 7919), true);
  // 10 values in a 1000-entry filter with 5 hashes: a false positive among 20 is ~1e-12 likely.
  const absent = Array.from({ length: 20 }, (_, i) => 1_000_003 + i).filter((v) => t.contains(v));
  assert.deepEqual(absent, []);
  assert.equal(b.contains(Uint8Array.of(0, 0, 0, 0)), true, 'raw contains (0 = 0 * 7919 was pushed)');
});

test('program array: values are Programs (set by fd, read back by id)', { skip }, () => {
  using counts = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
  using prog = counterProgram('XDP', counts, 'tail');
  using pa = BpfMap.create({ type: 'PROG_ARRAY', keySize: 4, valueSize: 4, maxEntries: 4 });
  const t = pa.typed<number, Program>();
  t.set(2, prog);
  using got = t.get(2)!;
  assert.equal(got.id, prog.id, 'the kernel returns the program id; the view opens it');
  assert.notEqual(got.fd.value, prog.fd.value, 'a new fd the caller owns');
  assert.equal(t.get(1), undefined, 'an empty slot');
  assert.equal(t.delete(2), true);
  assert.equal(t.get(2), undefined);
});

test('array and hash of maps: values are BpfMaps (set by fd, read back by id)', { skip }, () => {
  using inner = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 2, name: 't_inner' });
  for (const type of ['ARRAY_OF_MAPS', 'HASH_OF_MAPS'] as const) {
    using outer = BpfMap.create({ type, keySize: 4, valueSize: 4, maxEntries: 4, innerMap: inner });
    const t = outer.typed<number, BpfMap>(codecs.u32);
    t.set(1, inner);
    using got = t.get(1)!;
    assert.equal(got.id, inner.id, type);
    assert.equal(got.name, 't_inner');
    got.typed(codecs.u32, codecs.u32).set(0, 77);
    assert.equal(inner.typed(codecs.u32, codecs.u32).get(0), 77, 'the same kernel map');
    assert.equal(t.get(3), undefined);
    assert.throws(() => t.set(2, 5 as never), (e: unknown) => e instanceof BpfError, 'a number that is not a map fd');
  }
});

test('devmap, devmap hash and cpumap: ifindexes and queue sizes, with the 8-byte struct values', { skip }, () => {
  using dm4 = BpfMap.create({ type: 'DEVMAP', keySize: 4, valueSize: 4, maxEntries: 4 });
  const t4 = dm4.typed();
  t4.set(0, 1); // lo
  assert.equal(t4.get(0), 1);
  using dm8 = BpfMap.create({ type: 'DEVMAP', keySize: 4, valueSize: 8, maxEntries: 4 });
  const t8 = dm8.typed();
  t8.set(1, { ifindex: 1 });
  assert.deepEqual(t8.get(1), { ifindex: 1, programId: 0 });
  using dh = BpfMap.create({ type: 'DEVMAP_HASH', keySize: 4, valueSize: 8, maxEntries: 4 });
  const th = dh.typed(codecs.u32);
  th.set(1000, { ifindex: 1 });
  assert.deepEqual(th.get(1000), { ifindex: 1, programId: 0 });
  assert.equal(th.get(1001), undefined);
  assert.throws(() => th.set(5, { ifindex: 999999 }), (e: unknown) => e instanceof BpfError, 'an ifindex that does not exist');
  using cm = BpfMap.create({ type: 'CPUMAP', keySize: 4, valueSize: 8, maxEntries: possibleCpuCount() });
  const tc = cm.typed();
  tc.set(0, { qsize: 192 });
  assert.deepEqual(tc.get(0), { qsize: 192, programId: 0 });
  assert.equal(tc.delete(0), true);
});

test('sockmap and sockhash take socket fds and give back socket cookies', { skip }, async () => {
  const pair = await tcpPair();
  try {
    using sm = BpfMap.create({ type: 'SOCKMAP', keySize: 4, valueSize: 8, maxEntries: 2 });
    using sh = BpfMap.create({ type: 'SOCKHASH', keySize: 4, valueSize: 8, maxEntries: 2 });
    const a = sm.typed();
    const b = sh.typed(codecs.u32);
    a.set(0, pair.fd);
    b.set(42, { fd: pair.fd });
    const cookie = a.get(0);
    assert.equal(typeof cookie, 'bigint');
    assert.ok((cookie as bigint) > 0n);
    assert.equal(b.get(42), cookie, 'the same socket, the same cookie');
    assert.equal(b.get(43), undefined);
    const file = openSync('/proc/self/stat', 'r');
    try {
      assert.throws(() => a.set(1, file), (e: unknown) => e instanceof BpfError, 'a file is not a socket');
    } finally {
      closeSync(file);
    }
    assert.equal(a.delete(0), true);
  } finally {
    pair.close();
  }
});

test('xskmap takes AF_XDP socket fds: other fds are refused', { skip }, async () => {
  // An XSK socket needs socket(AF_XDP) plus a UMEM and rings: nothing Node can create, so only
  // the refusal of a TCP socket and the empty lookups are checked here.
  using xm = BpfMap.create({ type: 'XSKMAP', keySize: 4, valueSize: 4, maxEntries: 2 });
  const t = xm.typed();
  const pair = await tcpPair();
  try {
    assert.throws(() => t.set(0, pair.fd), (e: unknown) => e instanceof BpfError && ['EOPNOTSUPP', 'ENOTSUP', 'ENOTSUPP', 'EINVAL', 'EBADF'].includes(e.code));
  } finally {
    pair.close();
  }
});

test('perf event array: set with perf event fds (the perf reader\'s source)', { skip }, () => {
  using pa = BpfMap.create({ type: 'PERF_EVENT_ARRAY', keySize: 4, valueSize: 4, maxEntries: possibleCpuCount() });
  // PERF_TYPE_SOFTWARE / PERF_COUNT_SW_BPF_OUTPUT on CPU 0.
  using ev = perfEventOpen({ type: 1, config: 10, samplePeriodOrFreq: 1, sampleType: 1 << 10 }, -1, 0);
  const t = pa.typed();
  t.set(0, ev);
  // Userspace can't read perf event fds back: the kernel refuses the lookup.
  assert.throws(() => t.get(0), (e: unknown) => e instanceof BpfError);
  assert.equal(t.delete(0), true);
  using rb = BpfMap.create({ type: 'RINGBUF', keySize: 0, valueSize: 0, maxEntries: 4096 * 4 });
  assert.equal(mapInfo(rb.fd.value).maxEntries, 16384, 'a ring buffer for the ring buffer reader');
  assert.throws(() => rb.typed(), (e: unknown) => e instanceof ArgumentError && /ring buffer/.test(e.message));
});

test('local storages: task (pidfd), socket (socket fd), inode (file fd), cgroup (cgroup fd)', { skip }, async () => {
  using c = loadKinds();
  type Owner = { cookie: bigint; seen: number; tag: string };
  // task storage (5.11+) keyed by a pidfd
  {
    const t = c.map('task_store').typed<FdLike, Owner>();
    using pidfd = pidfdOpen(process.pid);
    assert.equal(t.get(pidfd), undefined, 'nothing stored yet');
    t.set(pidfd, { cookie: 7n, seen: 1, tag: 'me' });
    assert.deepEqual(t.get(pidfd), { cookie: 7n, seen: 1, tag: 'me' });
    assert.throws(() => t.set(pidfd, { cookie: 8n, seen: 1, tag: 'x' }, UpdateFlags.NOEXIST), (e: unknown) => e instanceof BpfError && e.code === 'EEXIST');
    assert.equal(t.delete(pidfd), true);
    assert.equal(t.get(pidfd), undefined);
    assert.throws(() => [...t.keys()], (e: unknown) => e instanceof BpfError, 'local storages have no key iteration');
  }
  // socket storage (5.2+) keyed by a socket fd
  const pair = await tcpPair();
  try {
    const s = c.map('sk_store').typed<number, Owner>();
    s.set(pair.fd, { cookie: 1n, seen: 2, tag: 'sock' });
    assert.deepEqual(s.get(pair.fd), { cookie: 1n, seen: 2, tag: 'sock' });
  } finally {
    pair.close();
  }
  // inode storage (5.10+, BPF LSM) keyed by the fd of any file
  {
    const fd = openSync(kindsObject, 'r');
    try {
      const s = c.map('inode_store').typed<number, Owner>();
      try {
        s.set(fd, { cookie: 3n, seen: 4, tag: 'file' });
        assert.deepEqual(s.get(fd), { cookie: 3n, seen: 4, tag: 'file' });
      } catch (e) {
        // Without the BPF LSM active (lsm=...,bpf) inodes have no storage blob: EBADF.
        assert.ok(e instanceof BpfError && e.code === 'EBADF', String(e));
      }
    } finally {
      closeSync(fd);
    }
  }
  // cgroup storage (6.2+) keyed by a cgroup v2 directory fd
  const root = cgroup2Root();
  if (root) {
    const dir = `${root}/${uniqueName('ebpf_ts_cgrp')}`;
    mkdirSync(dir);
    const fd = openSync(dir, 'r');
    try {
      const s = c.map('cgrp_store').typed<number, Owner>();
      s.set(fd, { cookie: 5n, seen: 6, tag: 'cgroup' });
      assert.deepEqual(s.get(fd), { cookie: 5n, seen: 6, tag: 'cgroup' });
      assert.equal(s.delete(fd), true);
      // A cgroup array (bpf_current_task_under_cgroup) takes the same kind of fd as its values.
      using ca = BpfMap.create({ type: 'CGROUP_ARRAY', keySize: 4, valueSize: 4, maxEntries: 2 });
      const cat = ca.typed();
      cat.set(1, fd);
      const file = openSync('/proc/self/stat', 'r');
      try {
        assert.throws(() => cat.set(0, file), (e: unknown) => e instanceof BpfError, 'not a cgroup');
      } finally {
        closeSync(file);
      }
      assert.equal(cat.delete(1), true);
    } finally {
      closeSync(fd);
      rmdirSync(dir);
    }
  }
});
