/**
 * The addon's memory and readiness primitives against real kernel objects: an mmapable array
 * map read through mmap, and a ring buffer whose fd becomes readable when a BPF program writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, Program, MapFlags } from '../../src/index.js';
import { Assembler, R0, R1, R2, R3, R4, R10 } from '../../src/asm/index.js';
import { Mapping, PROT_READ, PROT_WRITE, FdPoller, POLL_READABLE, memlockLimit, removeMemlockLimit, setMemlockLimit, memlockAccountingByMemcg, pageSize } from '../../src/sys/index.js';
import { kernelSkipReason, readU32, u32 } from '../helpers/kernel.js';

const skip = kernelSkipReason();

test('mmap of a BPF_F_MMAPABLE array shares memory with the kernel; munmap detaches views', { skip }, () => {
  using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 512, flags: MapFlags.MMAPABLE });
  const mapping = Mapping.map(m.fd.value, 512 * 8, PROT_READ | PROT_WRITE, 0, 'array');
  const words = new Uint32Array(mapping.buffer);
  m.update(u32(3), new Uint8Array([0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0]));
  assert.equal(words[6], 0x12345678, 'a syscall write is visible in the mapping');
  words[10] = 0xcafe;
  assert.equal(readU32(m.lookup(u32(5))!), 0xcafe, 'a write through the mapping is visible to the syscall');
  mapping.unmap();
  assert.equal(words.length, 0, 'views are detached after unmap');
  mapping.unmap(); // idempotent
  assert.throws(() => mapping.buffer);
});

test('uv_poll wakes JS when a BPF program writes into a ring buffer', { skip }, async () => {
  using rb = BpfMap.create({ type: 'RINGBUF', keySize: 0, valueSize: 0, maxEntries: 4096 * 4 });
  // u64 v = 0x1122334455667788 on the stack; bpf_ringbuf_output(&rb, &v, 8, 0); return XDP_PASS
  const insns = new Assembler()
    .ldImm64(R1, 0x1122334455667788n)
    .stxMem('dw', R10, R1, -8)
    .ldMapFd(R1, rb.fd.value)
    .mov64Reg(R2, R10)
    .alu64Imm('add', R2, -8)
    .mov64Imm(R3, 8)
    .mov64Imm(R4, 0)
    .call('bpf_ringbuf_output')
    .mov64Imm(R0, 2)
    .exit()
    .build();
  using prog = Program.load({ type: 'XDP', instructions: insns, name: 'rb_out' });
  const ready = new Promise<number>((resolve, reject) => {
    const poller = new FdPoller(rb.fd.value, POLL_READABLE, (ev) => {
      poller.stop();
      resolve(ev);
    }, reject);
    setTimeout(() => {
      poller.stop();
      reject(new Error('no readiness within 5 s'));
    }, 5000).unref();
  });
  prog.testRun({ data: new Uint8Array(64) });
  assert.equal((await ready) & POLL_READABLE, POLL_READABLE);
  // The record is really there: producer position advanced past one 8-byte header + 8 bytes.
  const page = pageSize();
  const producer = Mapping.map(rb.fd.value, page, PROT_READ, page, 'producer page');
  try {
    const prodPos = Number(new BigUint64Array(producer.buffer)[0]);
    assert.equal(prodPos, 16);
  } finally {
    producer.unmap();
  }
});

test('memlock limit: a no-op on memcg-accounting kernels, setrlimit works', { skip }, () => {
  assert.equal(memlockAccountingByMemcg('5.10.0'), false);
  assert.equal(memlockAccountingByMemcg('5.11.3-foo'), true);
  assert.equal(memlockAccountingByMemcg('6.18.44'), true);
  const [soft, hard] = memlockLimit();
  assert.equal(removeMemlockLimit(), !memlockAccountingByMemcg(), 'only acts where the kernel needs it');
  // Lowering the soft limit and raising it back to the hard limit needs no privilege.
  const lower = hard === -1n ? 65536n : hard / 2n;
  setMemlockLimit(lower, hard);
  assert.equal(memlockLimit()[0], lower);
  setMemlockLimit(soft, hard);
  assert.deepEqual(memlockLimit(), [soft, hard]);
});

test('a worker thread has its own request buffer: concurrent map operations do not mix', { skip }, async () => {
  const { Worker } = await import('node:worker_threads');
  using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 2 });
  // The worker hammers key 1 with 9s while this thread hammers key 0 with 7s; a shared request
  // buffer would make one side read the other's key or value.
  const src = `
    const { workerData, parentPort } = require('node:worker_threads');
    import(workerData.url).then(({ BpfMap }) => {
      const m = BpfMap.fromId(workerData.id);
      const k = new Uint8Array([1, 0, 0, 0]), v = new Uint8Array([9, 0, 0, 0]), out = new Uint8Array(4);
      let bad = 0;
      for (let i = 0; i < 200000; i++) { m.update(k, v); m.lookupInto(k, out); if (out[0] !== 9) bad++; }
      m.close();
      parentPort.postMessage(bad);
    });`;
  const w = new Worker(src, { eval: true, workerData: { url: new URL('../../src/index.js', import.meta.url).href, id: m.id } });
  const done = new Promise<number>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  const k = u32(0);
  const v = new Uint8Array([7, 0, 0, 0]);
  const out = new Uint8Array(4);
  let bad = 0;
  for (let i = 0; i < 200000; i++) {
    m.update(k, v);
    m.lookupInto(k, out);
    if (out[0] !== 7) bad++;
  }
  assert.equal(bad, 0, 'main thread saw only its own values');
  assert.equal(await done, 0, 'worker saw only its own values');
});
