/**
 * Kernel tests of program loading: hand-assembled programs, BPF_PROG_TEST_RUN, verifier errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, Program, VerifierError, BpfError, ArgumentError, ProgType } from '../../src/index.js';
import { Assembler, R0, R1, R2, mov64Imm, exit, type Instruction } from '../../src/asm/index.js';
import { FD } from '../../src/sys/index.js';
import { counterProgram } from '../helpers/programs.js';
import { kernelSkipReason, openFdCount, bpftoolIds, readU64, u32 } from '../helpers/kernel.js';
import { execFileSync } from 'node:child_process';

const skip = kernelSkipReason();

test('a hand-assembled socket filter runs with BPF_PROG_TEST_RUN and returns its value', { skip }, () => {
  using prog = Program.load({ type: 'SOCKET_FILTER', instructions: [mov64Imm(R0, 42), exit()], name: 'ret42' });
  const r = prog.testRun({ data: new Uint8Array(64) });
  assert.equal(r.retval, 42);
  const info = prog.info();
  assert.equal(info.type, ProgType.SOCKET_FILTER);
  assert.equal(info.name, 'ret42');
  assert.match(info.tag, /^[0-9a-f]{16}$/);
  // bpftool, an independent observer, sees the same program with the same tag.
  const shown = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(info.id)], { encoding: 'utf8' }));
  assert.equal(shown.tag, info.tag);
  assert.equal(shown.name, 'ret42');
  assert.equal(shown.type, 'socket_filter');
});

test('an XDP program counts its invocations in an array map', { skip }, () => {
  using counts = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1, name: 'counts' });
  using prog = counterProgram('XDP', counts, 'xdp_count', 2 /* XDP_PASS */);
  const r = prog.testRun({ data: new Uint8Array(64), repeat: 1000 });
  assert.equal(r.retval, 2, 'XDP_PASS');
  assert.equal(readU64(counts.lookup(u32(0))!), 1000n, 'the kernel ran it 1000 times');
  assert.ok(prog.info().mapIds.includes(counts.id), 'the program references the map');
});

test('a program the verifier rejects gives a VerifierError carrying the log', { skip }, () => {
  // Reads r2, which was never initialised: the verifier says "R2 !read_ok".
  const bad = new Assembler().mov64Reg(R0, R2).exit().build();
  assert.throws(
    () => Program.load({ type: 'SOCKET_FILTER', instructions: bad, name: 'bad' }),
    (e: unknown) => {
      assert.ok(e instanceof VerifierError, String(e));
      assert.equal(e.code, 'EACCES');
      assert.match(e.log, /R2 !read_ok/);
      assert.match(e.message, /verifier rejected program 'bad'/);
      assert.match(e.message, /R2 !read_ok/, 'the message carries the useful tail of the log');
      return true;
    },
  );
  // No exit at all: "last insn is not an exit or jmp".
  assert.throws(
    () => Program.load({ type: 'SOCKET_FILTER', instructions: [mov64Imm(R0, 0)] }),
    (e: unknown) => e instanceof VerifierError && /last insn is not an exit or jmp/.test(e.log),
  );
});

test('the log grows when the verifier needs more than the first buffer', { skip }, () => {
  // logLevel 2 logs every instruction; a 64-byte start forces several ENOSPC retries.
  const insns: Instruction[] = [];
  for (let i = 0; i < 200; i++) insns.push(mov64Imm(R0, i));
  insns.push(mov64Imm(R1, 0), { ...mov64Imm(R0, 0), opcode: 0xbf, src: 3 }, exit()); // r0 = r3: uninitialised
  assert.throws(
    () => Program.load({ type: 'SOCKET_FILTER', instructions: insns }, { logLevel: 2, logSize: 64 }),
    (e: unknown) => e instanceof VerifierError && e.log.length > 4096 && /R3 !read_ok/.test(e.log),
  );
});

test('bad program input gives typed errors', { skip }, () => {
  assert.throws(() => Program.load({ type: 'SOCKET_FILTER', instructions: new Uint8Array(12) }), (e: unknown) => e instanceof ArgumentError && e.code === 'ERR_INSNS');
  assert.throws(() => Program.load({ type: 'WHATEVER' as 'XDP', instructions: [exit()] }), (e: unknown) => e instanceof ArgumentError);
  assert.throws(
    () => Program.load({ type: 'SOCKET_FILTER', instructions: [mov64Imm(R0, 0), exit()], license: 'Proprietary', expectedAttachType: 0, flags: 1 << 30 }),
    (e: unknown) => e instanceof BpfError && e.code === 'EINVAL',
  );
});

test('pin, loadPinned and unpin a program', { skip }, () => {
  const path = `/sys/fs/bpf/ebpf_ts_test_${process.pid}`;
  using prog = Program.load({ type: 'SOCKET_FILTER', instructions: [mov64Imm(R0, 7), exit()], name: 'pinned' });
  prog.pin(path);
  try {
    using again = Program.loadPinned(path);
    assert.equal(again.id, prog.id);
    assert.equal(again.testRun({ data: new Uint8Array(16) }).retval, 7);
  } finally {
    prog.unpin();
  }
  assert.throws(() => Program.loadPinned(path), (e: unknown) => e instanceof BpfError && e.code === 'ENOENT');
});

test('program load/close cycles leak no descriptors and leave no programs', { skip }, () => {
  const before = openFdCount();
  const beforeObjects = FD.openCount;
  const progsBefore = new Set(bpftoolIds('prog'));
  for (let i = 0; i < 2000; i++) {
    const p = Program.load({ type: 'SOCKET_FILTER', instructions: [mov64Imm(R0, i), exit()] });
    p.close();
  }
  assert.equal(openFdCount(), before);
  assert.equal(FD.openCount, beforeObjects);
  const leftover = bpftoolIds('prog').filter((id) => !progsBefore.has(id));
  // Program teardown in the kernel is RCU-deferred; give it a moment before judging.
  if (leftover.length) execFileSync('sleep', ['0.5']);
  assert.deepEqual(bpftoolIds('prog').filter((id) => !progsBefore.has(id)), []);
});
