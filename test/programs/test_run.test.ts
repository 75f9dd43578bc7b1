/**
 * Program.testRun (BPF_PROG_TEST_RUN) with each option the kernel offers: packet in and out,
 * context in and out, repeat, duration, RUN_ON_CPU with a cpu, XDP live frames with a batch
 * size, and the errors for what a program type can't do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfError, BpfMap, NotSupportedError, Program, TestRunFlags, loadCollection, loadCollectionSpec } from '../../src/index.js';
import { Assembler, R0, R1, R2, exit, mov64Imm } from '../../src/asm/index.js';
import { possibleCpus } from '../../src/sys/index.js';
import { counterProgram } from '../helpers/programs.js';
import { kernelSkipReason, readU64, u32 } from '../helpers/kernel.js';
import { fileURLToPath } from 'node:url';

const skip = kernelSkipReason();
const cliObject = fileURLToPath(new URL('../../../test/testdata/cli/cli.bpf.o', import.meta.url));

/** struct __sk_buff offsets (include/uapi/linux/bpf.h). */
const SKB = { len: 0, mark: 8, priority: 32, cb0: 48, size: 192 };

test('data in and out: the packet the program rewrote, sized to what it returned', { skip }, () => {
  using col = loadCollection(loadCollectionSpec(cliObject));
  const prog = col.program('cli_xdp');
  const packet = Uint8Array.from({ length: 64 }, (_, i) => i + 1);
  const r = prog.testRun({ data: packet });
  assert.equal(r.retval, 2, 'XDP_PASS');
  assert.equal(r.dataSizeOut, 64);
  assert.equal(r.dataOut!.length, 64);
  assert.equal(r.dataOut![0], 0xab, 'the program wrote the first byte');
  assert.deepEqual(r.dataOut!.subarray(1), packet.subarray(1));
  assert.equal(packet[0], 1, 'the input is not modified');
  // The program counted the run in its .bss and in the counts array.
  assert.equal(readU64(col.map('counts').lookup(u32(0))!), 1n);

  // No data out when asked for none.
  assert.equal(prog.testRun({ data: packet, dataOutSize: 0 }).dataOut, undefined);
  // A data out buffer smaller than the packet: ENOSPC, saying which size to raise.
  assert.throws(
    () => prog.testRun({ data: packet, dataOutSize: 16 }),
    (e: unknown) => e instanceof BpfError && e.code === 'ENOSPC' && /dataOutSize is 16/.test(e.message),
  );
});

test('context in and out: __sk_buff fields the program reads and writes', { skip }, () => {
  // r0 = skb->mark + skb->priority; skb->cb[0] = 0x1234; return r0
  const insns = new Assembler()
    .ldxMem('w', R0, R1, SKB.mark)
    .ldxMem('w', R2, R1, SKB.priority)
    .alu64Reg('add', R0, R2)
    .stMem('w', R1, SKB.cb0, 0x1234)
    .exit()
    .build();
  using prog = Program.load({ type: 'SCHED_CLS', instructions: insns, name: 'ctx_prog' });
  const ctx = new Uint8Array(SKB.size);
  const v = new DataView(ctx.buffer);
  v.setUint32(SKB.mark, 40, true);
  v.setUint32(SKB.priority, 2, true);
  const r = prog.testRun({ data: new Uint8Array(64), ctx, ctxOutSize: SKB.size });
  assert.equal(r.retval, 42, 'mark + priority from the context in');
  assert.equal(r.ctxSizeOut, SKB.size);
  const out = new DataView(r.ctxOut!.buffer, r.ctxOut!.byteOffset);
  assert.equal(out.getUint32(SKB.cb0, true), 0x1234, 'cb[0] as the program wrote it');
  assert.equal(out.getUint32(SKB.mark, true), 40);
  assert.equal(out.getUint32(SKB.priority, true), 2);

  // A context field the kernel doesn't let userspace set (len) is refused, with a hint.
  v.setUint32(SKB.len, 5, true);
  assert.throws(
    () => prog.testRun({ data: new Uint8Array(64), ctx }),
    (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && /the context/.test(e.message),
  );
});

test('repeat runs the program N times and reports the average duration', { skip }, () => {
  using counts = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1, name: 'rep_counts' });
  using prog = counterProgram('XDP', counts, 'rep_prog', 1 /* XDP_DROP */);
  const r = prog.testRun({ data: new Uint8Array(64), repeat: 1000 });
  assert.equal(r.retval, 1);
  assert.equal(readU64(counts.lookup(u32(0))!), 1000n);
  assert.ok(Number.isInteger(r.duration) && r.duration >= 0 && r.duration < 1e7, `duration ${r.duration} ns`);
});

test('RUN_ON_CPU: a raw tracepoint program runs on the cpu asked for', { skip }, () => {
  const insns = new Assembler().call('bpf_get_smp_processor_id').exit().build();
  using prog = Program.load({ type: 'RAW_TRACEPOINT', instructions: insns, name: 'cpu_prog' });
  for (const cpu of possibleCpus()) {
    // The context is the tracepoint's arguments (u64 each); this program reads none.
    const r = prog.testRun({ ctx: new Uint8Array(8), cpu });
    assert.equal(r.retval, cpu);
  }
  // Setting the flag explicitly is the same.
  assert.equal(prog.testRun({ ctx: new Uint8Array(8), flags: TestRunFlags.RUN_ON_CPU, cpu: 0 }).retval, 0);
  // Raw tracepoints take a context, not a packet: EINVAL, and the error says so.
  assert.throws(
    () => prog.testRun({ data: new Uint8Array(64) }),
    (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && /raw tracepoint programs take a context, not data/.test(e.message),
  );
});

test('XDP live frames: repeat with a batch size sends real frames through the program', { skip }, () => {
  using counts = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1, name: 'live_counts' });
  // XDP_DROP: the frames go nowhere after the program.
  using prog = counterProgram('XDP', counts, 'live_prog', 1);
  const packet = new Uint8Array(64);
  packet.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5]); // broadcast, local experimental ethertype
  prog.testRun({ data: packet, repeat: 10, flags: TestRunFlags.XDP_LIVE_FRAMES, batchSize: 4, dataOutSize: 0 });
  assert.equal(readU64(counts.lookup(u32(0))!), 10n, 'ten frames ran');
});

test('program types without test run support: NotSupportedError naming the type', { skip }, () => {
  using prog = Program.load({ type: 'TRACEPOINT', instructions: [mov64Imm(R0, 0), exit()], name: 'tp_prog' });
  assert.throws(
    () => prog.testRun({ ctx: new Uint8Array(8) }),
    (e: unknown) => e instanceof NotSupportedError && /BPF_PROG_TEST_RUN for tracepoint programs/.test(e.feature) && /can't test-run tracepoint programs/.test(e.message),
  );
  // A packet shorter than an Ethernet header: EINVAL with the reason.
  using sock = Program.load({ type: 'SOCKET_FILTER', instructions: [mov64Imm(R0, 0), exit()], name: 'short_pkt' });
  assert.throws(
    () => sock.testRun({ data: new Uint8Array(5) }),
    (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && /at least 14/.test(e.message),
  );
});
