// Disassembly in bpftool's notation. The expected strings are written by hand from the formats
// of the kernel's kernel/bpf/disasm.c (print_bpf_insn) and bpftool's xlated_dumper.c callbacks.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  Assembler,
  alu32Imm,
  alu32Reg,
  alu64Imm,
  alu64Reg,
  atomic,
  bswap,
  call,
  callRel,
  disassemble,
  endian,
  exit,
  formatInstruction,
  formatOpcodes,
  gotol,
  ja,
  jmp32Imm,
  jmp32Reg,
  jmpImm,
  jmpReg,
  ldImm64,
  ldMapFd,
  ldMapValue,
  ldxMem,
  ldxMemSx,
  mov32Imm,
  mov32Reg,
  mov64Imm,
  mov64Reg,
  movsx64,
  stMem,
  stxMem,
  withImm64,
  BPF_PSEUDO_BTF_ID,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE,
  LD_IMM64,
  R0,
  R1,
  R10,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R9,
  type Instruction,
} from '../../src/asm/index.js';

const I = (opcode: number, dst: number, src: number, offset: number, imm: number): Instruction => ({
  opcode, dst, src, offset, imm,
});
const ld64 = (dst: number, src: number, value: bigint): Instruction => withImm64(I(LD_IMM64, dst, src, 0, 0), value);

const CASES: [Instruction, string][] = [
  // ALU64
  [mov64Imm(R1, 0), '(b7) r1 = 0'],
  [mov64Imm(R0, -1), '(b7) r0 = -1'],
  [mov64Reg(R6, R1), '(bf) r6 = r1'],
  [alu64Imm('add', R1, -8), '(07) r1 += -8'],
  [alu64Reg('add', R0, R1), '(0f) r0 += r1'],
  [alu64Reg('sub', R2, R3), '(1f) r2 -= r3'],
  [alu64Imm('mul', R3, 3), '(27) r3 *= 3'],
  [alu64Reg('div', R1, R2), '(3f) r1 /= r2'],
  [alu64Reg('sdiv', R1, R2), '(3f) r1 s/= r2'],
  [alu64Imm('smod', R0, 13), '(97) r0 s%= 13'],
  [alu64Imm('or', R1, 4), '(47) r1 |= 4'],
  [alu64Imm('and', R0, 255), '(57) r0 &= 255'],
  [alu64Imm('lsh', R1, 13), '(67) r1 <<= 13'],
  [alu64Imm('rsh', R2, 32), '(77) r2 >>= 32'],
  [alu64Imm('neg', R4, 0), '(87) r4 = -r4'],
  [alu64Reg('mod', R5, R6), '(9f) r5 %= r6'],
  [alu64Reg('xor', R1, R3), '(af) r1 ^= r3'],
  [alu64Imm('arsh', R3, 56), '(c7) r3 s>>= 56'],
  [movsx64(R2, R1, 8), '(bf) r2 = (s8)r1'],
  [movsx64(R3, R2, 16), '(bf) r3 = (s16)r2'],
  [movsx64(R3, R1, 32), '(bf) r3 = (s32)r1'],
  [bswap(R1, 64), '(d7) r1 = bswap64 r1'],
  [bswap(R2, 16), '(d7) r2 = bswap16 r2'],
  [I(0xbf, 1, 2, 1, 0x10002), '(bf) r1 = addr_space_cast(r2, 1, 2)'],
  [I(0xbf, 0, 0, -1, 0), '(bf) r0 = &(void __percpu *)(r0)'],
  // ALU (32-bit)
  [mov32Imm(R1, 0), '(b4) w1 = 0'],
  [mov32Reg(R1, R2), '(bc) w1 = w2'],
  [I(0xbc, 1, 2, 8, 0), '(bc) w1 = (s8)w2'],
  [alu32Imm('add', R0, -1), '(04) w0 += -1'],
  [alu32Reg('sdiv', R3, R2), '(3c) w3 s/= w2'],
  [alu32Imm('smod', R0, 13), '(94) w0 s%= 13'],
  [alu32Imm('neg', R1, 0), '(84) w1 = -w1'],
  [alu32Imm('rsh', R3, 5), '(74) w3 >>= 5'],
  [endian('be', R0, 16), '(dc) r0 = be16 r0'],
  [endian('le', R2, 32), '(d4) r2 = le32 r2'],
  [endian('be', R1, 64), '(dc) r1 = be64 r1'],
  // LDX
  [ldxMem('w', R0, R1, 0), '(61) r0 = *(u32 *)(r1 +0)'],
  [ldxMem('dw', R2, R1, 8), '(79) r2 = *(u64 *)(r1 +8)'],
  [ldxMem('h', R1, R3, 12), '(69) r1 = *(u16 *)(r3 +12)'],
  [ldxMem('b', R3, R10, -16), '(71) r3 = *(u8 *)(r10 -16)'],
  [ldxMemSx('b', R1, R6, 0), '(91) r1 = *(s8 *)(r6 +0)'],
  [ldxMemSx('h', R9, R6, 2), '(89) r9 = *(s16 *)(r6 +2)'],
  [ldxMemSx('w', R2, R6, 4), '(81) r2 = *(s32 *)(r6 +4)'],
  // STX, ST
  [stxMem('dw', R10, R1, -8), '(7b) *(u64 *)(r10 -8) = r1'],
  [stxMem('b', R1, R2, 3), '(73) *(u8 *)(r1 +3) = r2'],
  [stxMem('w', R10, R1, -4), '(63) *(u32 *)(r10 -4) = r1'],
  [stMem('w', R10, -4, 0), '(62) *(u32 *)(r10 -4) = 0'],
  [stMem('h', R1, 2, -1), '(6a) *(u16 *)(r1 +2) = -1'],
  [stMem('dw', R10, -16, 7), '(7a) *(u64 *)(r10 -16) = 7'],
  [I(0xc2, 0, 0, 0, 0), '(c2) nospec'],
  // Atomics
  [atomic('add', 'w', R1, R2, 0), '(c3) lock *(u32 *)(r1 +0) += r2'],
  [atomic('or', 'dw', R0, R1, 8), '(db) lock *(u64 *)(r0 +8) |= r1'],
  [atomic('and', 'w', R0, R1, 16), '(c3) lock *(u32 *)(r0 +16) &= r1'],
  [atomic('xor', 'dw', R0, R1, -8), '(db) lock *(u64 *)(r0 -8) ^= r1'],
  [atomic('fetch_add', 'dw', R0, R2, 24), '(db) r2 = atomic64_fetch_add((u64 *)(r0 +24), r2)'],
  [atomic('fetch_or', 'w', R0, R1, 16), '(c3) r1 = atomic_fetch_or((u32 *)(r0 +16), r1)'],
  [atomic('fetch_and', 'dw', R1, R2, 0), '(db) r2 = atomic64_fetch_and((u64 *)(r1 +0), r2)'],
  [atomic('fetch_xor', 'w', R5, R3, 0), '(c3) r3 = atomic_fetch_xor((u32 *)(r5 +0), r3)'],
  [atomic('xchg', 'dw', R7, R9, 0), '(db) r9 = atomic64_xchg((u64 *)(r7 +0), r9)'],
  [atomic('xchg', 'w', R7, R9, 4), '(c3) r9 = atomic_xchg((u32 *)(r7 +4), r9)'],
  [atomic('cmpxchg', 'dw', R2, R9, 32), '(db) r0 = atomic64_cmpxchg((u64 *)(r2 +32), r0, r9)'],
  [atomic('cmpxchg', 'w', R5, R3, 0), '(c3) r0 = atomic_cmpxchg((u32 *)(r5 +0), r0, r3)'],
  [I(0xdb, 0, 1, 8, 0x100), '(db) r0 = load_acquire((u64 *)(r1 +8))'],
  [I(0xd3, 2, 10, -1, 0x100), '(d3) r2 = load_acquire((u8 *)(r10 -1))'],
  [I(0xc3, 1, 2, 0, 0x110), '(c3) store_release((u32 *)(r1 +0), r2)'],
  [I(0xcb, 1, 2, 2, 0x110), '(cb) store_release((u16 *)(r1 +2), r2)'],
  // LD: ld_imm64 and the legacy packet loads
  [ldMapFd(R1, 5), '(18) r1 = map[id:5]'],
  [ldMapValue(R1, 29, 0), '(18) r1 = map[id:29][0]+0'],
  [ldMapValue(R3, 30, 16), '(18) r3 = map[id:30][0]+16'],
  [ldImm64(R1, 0x1234567890n), '(18) r1 = 0x1234567890'],
  [ldImm64(R0, -1n), '(18) r0 = 0xffffffffffffffff'],
  [ldImm64(R2, 0), '(18) r2 = 0x0'],
  [ld64(R2, BPF_PSEUDO_FUNC, 7n), '(18) r2 = subprog[+7]'],
  [ld64(R2, BPF_PSEUDO_FUNC, 0xfffffff0n), '(18) r2 = subprog[-16]'],
  [ld64(R1, BPF_PSEUDO_MAP_IDX_VALUE, (8n << 32n) | 2n), '(18) r1 = map[idx:2]+8'],
  [ld64(R1, BPF_PSEUDO_MAP_IDX, 3n), '(18) r1 = 0x3'],
  [ld64(R1, BPF_PSEUDO_BTF_ID, 1234n), '(18) r1 = 0x4d2'],
  [I(0x20, 0, 0, 0, 12), '(20) r0 = *(u32 *)skb[12]'],
  [I(0x28, 0, 0, 0, 12), '(28) r0 = *(u16 *)skb[12]'],
  [I(0x50, 0, 7, 0, 2), '(50) r0 = *(u8 *)skb[r7 + 2]'],
  // JMP
  [ja(2), '(05) goto pc+2'],
  [ja(-3), '(05) goto pc-3'],
  [jmpImm('jne', R0, 0, 2), '(55) if r0 != 0x0 goto pc+2'],
  [jmpImm('jeq', R1, -1, 1), '(15) if r1 == 0xffffffff goto pc+1'],
  [jmpImm('jgt', R2, 100, 0), '(25) if r2 > 0x64 goto pc+0'],
  [jmpImm('jge', R2, 16, 3), '(35) if r2 >= 0x10 goto pc+3'],
  [jmpImm('jset', R1, 8, -5), '(45) if r1 & 0x8 goto pc-5'],
  [jmpImm('jsgt', R1, 3, 1), '(65) if r1 s> 0x3 goto pc+1'],
  [jmpImm('jsge', R1, -2, 1), '(75) if r1 s>= 0xfffffffe goto pc+1'],
  [jmpImm('jlt', R3, 10, 4), '(a5) if r3 < 0xa goto pc+4'],
  [jmpImm('jle', R3, 10, 4), '(b5) if r3 <= 0xa goto pc+4'],
  [jmpImm('jslt', R3, 0, 4), '(c5) if r3 s< 0x0 goto pc+4'],
  [jmpImm('jsle', R3, 0, -4), '(d5) if r3 s<= 0x0 goto pc-4'],
  [jmpReg('jgt', R1, R2, 34), '(2d) if r1 > r2 goto pc+34'],
  [jmpReg('jsgt', R2, R3, 22), '(6d) if r2 s> r3 goto pc+22'],
  [jmpReg('jeq', R1, R2, 1), '(1d) if r1 == r2 goto pc+1'],
  [jmpReg('jsle', R1, R2, 1), '(dd) if r1 s<= r2 goto pc+1'],
  // JMP32
  [jmp32Imm('jslt', R6, 64, 26), '(c6) if w6 s< 0x40 goto pc+26'],
  [jmp32Imm('jgt', R6, 9000, 25), '(26) if w6 > 0x2328 goto pc+25'],
  [jmp32Reg('jne', R1, R2, 0), '(5e) if w1 != w2 goto pc+0'],
  [gotol(70000), '(06) gotol pc+70000'],
  [gotol(-70000), '(06) gotol pc-70000'],
  [I(0xe5, 0, 0, 5, 0), '(e5) may_goto pc+5'],
  [I(0x0d, 3, 0, 0, 0), '(0d) gotox r3'],
  // Calls and exit
  [call(14), '(85) call bpf_get_current_pid_tgid#14'],
  [call(1), '(85) call bpf_map_lookup_elem#1'],
  [call(211), '(85) call bpf_cgrp_storage_delete#211'],
  [call(0), '(85) call bpf_unspec#0'],
  [call(999), '(85) call unknown#999'],
  [callRel(5), '(85) call pc+5'],
  [callRel(-20), '(85) call pc-20'],
  [I(0x85, 0, BPF_PSEUDO_KFUNC_CALL, 0, 12345), '(85) call kernel-function#12345'],
  [exit(), '(95) exit'],
  // Invalid opcodes print as the kernel's BUG lines.
  [I(0x03, 1, 2, 0, 0), 'BUG_03'],
  [I(0xdb, 1, 2, 0, 0x20), 'BUG_db'],
  [I(0x01, 1, 2, 0, 0), 'BUG_ldx_01'],
  [I(0x22, 1, 0, 0, 0), 'BUG_st_22'],
  [I(0x00, 1, 0, 0, 0), 'BUG_ld_00'],
];

test(`formatInstruction: ${CASES.length} instructions in bpftool notation`, () => {
  const classes = new Set(CASES.map(([i]) => i.opcode & 7));
  assert.equal(classes.size, 8, 'every class is covered');
  for (const [insn, expected] of CASES) {
    assert.equal(formatInstruction(insn), expected, `opcode 0x${insn.opcode.toString(16)}`);
  }
});

test('formatInstruction: callbacks name helpers, calls, maps and immediates', () => {
  assert.equal(formatInstruction(call(14), { helperName: (id) => `h${id}` }), '(85) call h14#14');
  // A helper the table lacks goes to callName, like bpftool's kallsyms lookup.
  assert.equal(formatInstruction(call(999), { callName: () => 'bpf_new_thing' }), '(85) call bpf_new_thing#999');
  assert.equal(formatInstruction(call(14), { helperName: () => undefined, callName: () => 'x' }), '(85) call x#14');
  const kfunc = I(0x85, 0, BPF_PSEUDO_KFUNC_CALL, 0, 77);
  assert.equal(formatInstruction(kfunc, { callName: (i) => (i.imm === 77 ? 'bpf_rcu_read_lock' : undefined) }), '(85) call bpf_rcu_read_lock#77');
  // bpftool on the kernel's xlated code: the call offset is in `offset`, the subprogram in `imm`.
  const xlatedCall = I(0x85, 0, 1, 27, 1);
  const fromOffset = (i: Instruction) => (i.src === 1 ? `${i.offset >= 0 ? '+' : ''}${i.offset}` : undefined);
  assert.equal(formatInstruction(xlatedCall, { callName: fromOffset }), '(85) call pc+27');
  assert.equal(formatInstruction(callRel(3), { callName: () => '+3#bpf_prog_abc_sub' }), '(85) call pc+3#bpf_prog_abc_sub');
  // Maps by name.
  const names: Record<number, string> = { 5: 'events' };
  assert.equal(formatInstruction(ldMapFd(R1, 5), { mapName: (fd) => names[fd] }), '(18) r1 = map[events]');
  assert.equal(formatInstruction(ldMapValue(R1, 5, 8), { mapName: (fd) => names[fd] }), '(18) r1 = map[events][0]+8');
  assert.equal(formatInstruction(ldMapFd(R1, 6), { mapName: (fd) => names[fd] }), '(18) r1 = map[id:6]');
  assert.equal(formatInstruction(ldImm64(R1, 42), { immName: (_i, v) => `const ${v}` }), '(18) r1 = const 42');
  // A reference left for the loader does not change the notation.
  assert.equal(formatInstruction({ ...ldMapFd(R1, 0), reference: 'counts' }), '(18) r1 = map[id:0]');
});

test('formatInstruction accepts imm given unsigned and offsets out of int16 form', () => {
  assert.equal(formatInstruction(I(0xb7, 1, 0, 0, 0xffffffff)), '(b7) r1 = -1');
  assert.equal(formatInstruction(I(0x15, 1, 0, 0xffff, 0xffffffff)), '(15) if r1 == 0xffffffff goto pc-1');
});

test('disassemble: slot line numbers and raw opcodes, as bpftool prints them', () => {
  const prog = new Assembler()
    .mov64Imm(R1, 0)
    .stxMem('w', R10, R1, -4)
    .mov64Reg(R2, R10)
    .alu64Imm('add', R2, -4)
    .ldMapFd(R1, 29)
    .call('bpf_map_lookup_elem')
    .jmpImm('jeq', R0, 0, 'out')
    .ldImm64(R1, 0x1234567890n)
    .label('out')
    .exit()
    .build();
  assert.equal(
    disassemble(prog),
    [
      '   0: (b7) r1 = 0',
      '   1: (63) *(u32 *)(r10 -4) = r1',
      '   2: (bf) r2 = r10',
      '   3: (07) r2 += -4',
      '   4: (18) r1 = map[id:29]',
      '   6: (85) call bpf_map_lookup_elem#1',
      '   7: (15) if r0 == 0x0 goto pc+2',
      '   8: (18) r1 = 0x1234567890',
      '  10: (95) exit',
      '',
    ].join('\n'),
  );
  assert.equal(
    disassemble(prog.slice(3, 5), { opcodes: true }),
    [
      '   0: (07) r2 += -4',
      '       07 02 00 00 fc ff ff ff',
      '   1: (18) r1 = map[id:29]',
      '       18 11 00 00 1d 00 00 00 00 00 00 00 00 00 00 00',
      '',
    ].join('\n'),
  );
  assert.equal(
    disassemble(prog.slice(3, 4), { opcodes: true, littleEndian: false, lineNumbers: false }),
    '(07) r2 += -4\n       07 20 00 00 ff ff ff fc\n',
  );
  assert.equal(formatOpcodes(exit()), '95 00 00 00 00 00 00 00');
  assert.equal(
    disassemble(prog.slice(8), { symbols: true }),
    'out:\n   0: (95) exit\n',
  );
  assert.equal(disassemble([]), '');
});
