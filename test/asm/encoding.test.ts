// Encoding and decoding of BPF instructions: round trips over the program sections of real
// objects (both byte orders), slot accounting, malformed input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  decodeInstructions,
  encodeInstructions,
  formatInstruction,
  imm64Of,
  instructionAtSlot,
  isLdImm64,
  ldImm64,
  ldMapValue,
  mov64Reg,
  exit,
  slotCount,
  slotIndices,
  totalSlots,
  withImm64,
  BPF_PSEUDO_CALL,
  CALL,
  LD_IMM64,
  R1,
  R6,
  type Instruction,
} from '../../src/asm/index.js';
import { FormatError } from '../../src/errors.js';

// dist/test/asm/ -> repository root.
const dataDir = fileURLToPath(new URL('../../../test/testdata/asm/', import.meta.url));
const OBJCOPY = 'llvm-objcopy-19';
const OBJDUMP = 'llvm-objdump-19';
const have = (tool: string) => spawnSync(tool, ['--version']).status === 0;

/** The objects and their program sections (including .text, where subprograms live). */
const OBJECTS: Record<string, { sections: string[]; littleEndian: boolean }> = {
  'basic.bpf.o': { sections: ['.text', 'xdp', 'tracepoint/syscalls/sys_enter_execve'], littleEndian: true },
  'basic.bpfeb.o': { sections: ['.text', 'xdp', 'tracepoint/syscalls/sys_enter_execve'], littleEndian: false },
  'atomics.bpf.o': { sections: ['.text', 'xdp'], littleEndian: true },
  'v4.bpf.o': { sections: ['.text', 'xdp'], littleEndian: true },
};

function sectionBytes(obj: string, section: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'asm-test-'));
  try {
    const out = join(dir, 'section.bin');
    const r = spawnSync(OBJCOPY, ['-O', 'binary', `--only-section=${section}`, join(dataDir, obj), out], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `${OBJCOPY} failed: ${r.stderr}`);
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('round trip: encode(decode(x)) == x over program sections of real objects', { skip: !have(OBJCOPY) && `${OBJCOPY} not installed` }, () => {
  let total = 0;
  for (const [obj, { sections, littleEndian }] of Object.entries(OBJECTS)) {
    for (const section of sections) {
      const bytes = sectionBytes(obj, section);
      assert.ok(bytes.length > 0, `${obj} ${section} is empty`);
      const insns = decodeInstructions(bytes, { littleEndian });
      assert.equal(totalSlots(insns) * 8, bytes.length);
      assert.deepEqual(encodeInstructions(insns, { littleEndian }), bytes, `${obj} ${section}`);
      // And no instruction decodes to something the disassembler calls a bug.
      for (const insn of insns) assert.doesNotMatch(formatInstruction(insn), /BUG|null/, `${obj} ${section}`);
      total += insns.length;
    }
  }
  assert.ok(total > 300, `only ${total} instructions seen`);
});

test('the objects use the instructions they are meant to cover', { skip: !have(OBJCOPY) && `${OBJCOPY} not installed` }, () => {
  const text = (obj: string) =>
    OBJECTS[obj]!.sections.flatMap((s) => decodeInstructions(sectionBytes(obj, s)).map((i) => formatInstruction(i))).join('\n');
  const basic = text('basic.bpf.o');
  assert.match(basic, /\(18\) r1 = 0x0/); // ld_imm64 of a map, unrelocated
  assert.match(basic, /\(85\) call pc-?\d+/); // bpf-to-bpf call
  assert.match(basic, /\(dc\) r1 = be16 r1/);
  assert.match(basic, /\(85\) call bpf_map_lookup_elem#1/);
  const atomics = text('atomics.bpf.o');
  for (const re of [/lock \*\(u64 \*\)\(r0 \+0\) \+= r1/, /lock \*\(u32 \*\)/, /atomic64_fetch_add/, /atomic_fetch_or/, /atomic64_xchg/, /atomic64_cmpxchg/, /atomic_cmpxchg/, /\(bc\) w\d = w\d/, /\(c6\) if w6 s< 0x40/]) {
    assert.match(atomics, re);
  }
  const v4 = text('v4.bpf.o');
  for (const re of [/r1 s\/= r2/, /w3 s\/= w2/, /r0 s%= r2/, /w0 s%= 13/, /= \*\(s8 \*\)/, /= \*\(s16 \*\)/, /= \*\(s32 \*\)/, /= \(s8\)r1/, /= \(s16\)r2/, /= \(s32\)r1/, /bswap64/, /bswap32/, /bswap16/]) {
    assert.match(v4, re);
  }
});

test('big-endian objects decode to the same instructions as little-endian ones', { skip: !have(OBJCOPY) && `${OBJCOPY} not installed` }, () => {
  for (const section of OBJECTS['basic.bpf.o']!.sections) {
    const le = decodeInstructions(sectionBytes('basic.bpf.o', section), { littleEndian: true });
    const be = decodeInstructions(sectionBytes('basic.bpfeb.o', section), { littleEndian: false });
    // A byte swap compiles to `be16` on a little-endian target and `le16` on a big-endian one.
    const swapOrder = (i: Instruction): Instruction =>
      i.opcode === 0xd4 ? { ...i, opcode: 0xdc } : i.opcode === 0xdc ? { ...i, opcode: 0xd4 } : i;
    assert.deepEqual(be.map(swapOrder), le, section);
    // Decoding big-endian bytes as little-endian must not give the same thing.
    assert.notDeepEqual(decodeInstructions(sectionBytes('basic.bpfeb.o', section), { littleEndian: true }), le);
  }
});

test('slot indices agree with llvm-objdump', { skip: (!have(OBJCOPY) || !have(OBJDUMP)) && 'llvm tools not installed' }, () => {
  for (const [obj, { sections }] of Object.entries(OBJECTS)) {
    if (obj.includes('bpfeb')) continue;
    for (const section of sections) {
      const insns = decodeInstructions(sectionBytes(obj, section));
      const r = spawnSync(OBJDUMP, ['-d', '--no-show-raw-insn', `--section=${section}`, join(dataDir, obj)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const slots = [...r.stdout.matchAll(/^\s+(\d+):\t/gm)].map((m) => Number(m[1]));
      assert.deepEqual(slots, slotIndices(insns).slice(0, -1), `${obj} ${section}`);
    }
  }
});

test('register nibbles: LE is src<<4|dst, BE is dst<<4|src', () => {
  const insn = mov64Reg(R6, R1);
  assert.deepEqual([...encodeInstructions([insn])], [0xbf, 0x16, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...encodeInstructions([insn], { littleEndian: false })], [0xbf, 0x61, 0, 0, 0, 0, 0, 0]);
  const withFields: Instruction = { opcode: 0x07, dst: 1, src: 0, offset: -2, imm: -8 };
  assert.deepEqual([...encodeInstructions([withFields])], [0x07, 0x01, 0xfe, 0xff, 0xf8, 0xff, 0xff, 0xff]);
  assert.deepEqual([...encodeInstructions([withFields], { littleEndian: false })], [0x07, 0x10, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xf8]);
  for (const littleEndian of [true, false]) {
    assert.deepEqual(decodeInstructions(encodeInstructions([insn, withFields], { littleEndian }), { littleEndian }), [insn, withFields]);
  }
});

test('ld_imm64 is one instruction over two slots', () => {
  const bytes = Uint8Array.from([
    0x18, 0x01, 0, 0, 0x90, 0x78, 0x56, 0x34, 0, 0, 0, 0, 0x12, 0, 0, 0, // r1 = 0x1234567890
    0x95, 0, 0, 0, 0, 0, 0, 0,
  ]);
  const insns = decodeInstructions(bytes);
  assert.equal(insns.length, 2);
  assert.ok(isLdImm64(insns[0]!));
  assert.equal(insns[0]!.imm64, 0x1234567890n);
  assert.equal(insns[0]!.imm, 0x34567890);
  assert.equal(slotCount(insns[0]!), 2);
  assert.deepEqual(slotIndices(insns), [0, 2, 3]);
  assert.deepEqual([...instructionAtSlot(insns)], [[0, 0], [2, 1]]);
  assert.deepEqual(encodeInstructions(insns), bytes);

  // Unsigned 64-bit values, negative input taken modulo 2^64; imm mirrors the low half signed.
  const neg = ldImm64(R1, -1n);
  assert.equal(neg.imm64, 0xffffffffffffffffn);
  assert.equal(neg.imm, -1);
  assert.deepEqual(decodeInstructions(encodeInstructions([neg]))[0], { opcode: LD_IMM64, dst: 1, src: 0, offset: 0, imm: -1, imm64: 0xffffffffffffffffn });
  // Map value: fd in the low half, offset in the high half.
  const mv = ldMapValue(R1, 7, 16);
  assert.deepEqual([...encodeInstructions([mv])], [0x18, 0x21, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0]);
  // imm64 wins over imm; without imm64 the value is imm as unsigned.
  assert.equal(imm64Of({ opcode: LD_IMM64, dst: 0, src: 0, offset: 0, imm: -2 }), 0xfffffffen);
  assert.equal(imm64Of(withImm64(mv, 5)), 5n);
  assert.equal(withImm64(mv, 0x80000000n).imm, -0x80000000);
});

test('metadata (symbol, reference) is not encoded', () => {
  const insns: Instruction[] = [
    { opcode: CALL, dst: 0, src: BPF_PSEUDO_CALL, offset: 0, imm: 1, reference: 'sub' },
    { ...exit(), symbol: 'main' },
    { ...exit(), symbol: 'sub' },
  ];
  const back = decodeInstructions(encodeInstructions(insns));
  assert.deepEqual(back, insns.map(({ symbol: _s, reference: _r, ...rest }) => rest));
});

function assertAsmError(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FormatError, `expected a FormatError, got ${String(err)}`);
    assert.equal(err.code, 'ERR_ASM');
    assert.match(err.message, re);
    return true;
  });
}

test('malformed input raises FormatError ERR_ASM', () => {
  // Truncated: not a multiple of 8.
  assertAsmError(() => decodeInstructions(new Uint8Array(7)), /not a multiple of 8/);
  assertAsmError(() => decodeInstructions(new Uint8Array(17)), /not a multiple of 8/);
  // ld_imm64 without its second half.
  const lone = Uint8Array.from([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x18, 0x01, 0, 0, 1, 0, 0, 0]);
  assertAsmError(() => decodeInstructions(lone), /lacks its second half/);
  // ld_imm64 whose second slot is another instruction.
  const bad = Uint8Array.from([0x18, 0x01, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  assertAsmError(() => decodeInstructions(bad), /second half/);
  const err = (() => {
    try {
      decodeInstructions(bad);
    } catch (e) {
      return e as FormatError;
    }
    return undefined;
  })();
  assert.equal(err?.offset, 8);
  // Out-of-range fields at encoding.
  const base: Instruction = { opcode: 0xb7, dst: 0, src: 0, offset: 0, imm: 0 };
  assertAsmError(() => encodeInstructions([{ ...base, dst: 16 }]), /dst register/);
  assertAsmError(() => encodeInstructions([{ ...base, src: -1 }]), /src register/);
  assertAsmError(() => encodeInstructions([{ ...base, offset: 0x8000 }]), /offset/);
  assertAsmError(() => encodeInstructions([{ ...base, imm: 2 ** 32 }]), /imm/);
  assertAsmError(() => encodeInstructions([{ ...base, imm: 1.5 }]), /imm/);
  assertAsmError(() => encodeInstructions([{ ...base, opcode: 256 }]), /opcode/);
  // The unsigned spelling of a 32-bit immediate is accepted.
  assert.deepEqual(decodeInstructions(encodeInstructions([{ ...base, imm: 0xffffffff }]))[0]!.imm, -1);
});

test('decoding never throws anything but FormatError on random bytes', () => {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (let n = 0; n < 2000; n++) {
    const bytes = Uint8Array.from({ length: rand() % 64 }, rand);
    // Make ld_imm64 frequent.
    if (bytes.length >= 8 && rand() % 2) bytes[bytes.length - 8] = 0x18;
    try {
      const insns = decodeInstructions(bytes);
      assert.deepEqual(encodeInstructions(insns), bytes);
      for (const i of insns) formatInstruction(i);
    } catch (e) {
      assert.ok(e instanceof FormatError && e.code === 'ERR_ASM', String(e));
    }
  }
});

test('decode works on a view into a larger buffer', () => {
  const big = new Uint8Array(32);
  big.set([0xb7, 0x01, 0, 0, 5, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0], 8);
  const insns = decodeInstructions(big.subarray(8, 24));
  assert.deepEqual(insns.map((i) => formatInstruction(i)), ['(b7) r1 = 5', '(95) exit']);
  assert.equal(R6, 6);
});
