// The builder: instruction constructors and the Assembler's labels.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  Assembler,
  call,
  callHelper,
  disassemble,
  encodeInstructions,
  decodeInstructions,
  exit,
  helperId,
  helperName,
  ldMapRef,
  mov64Imm,
  slotIndices,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_MAP_FD,
  HELPER_MAX_ID,
  HELPER_NAMES,
  R0,
  R1,
  R2,
  R6,
} from '../../src/asm/index.js';
import { ArgumentError } from '../../src/errors.js';

test('forward and backward labels resolve to slot distances', () => {
  const insns = new Assembler()
    .mov64Imm(R0, 0) //                        slot 0
    .label('loop')
    .alu64Imm('add', R0, 1) //                 slot 1
    .jmpImm('jge', R0, 10, 'done') //          slot 2 -> 6: off 3
    .ldImm64(R1, 1n << 40n) //                 slots 3-4
    .jmpReg('jne', R0, R1, 'loop') //          slot 5 -> 1: off -5
    .label('done')
    .exit() //                                 slot 6
    .build();
  assert.deepEqual(slotIndices(insns), [0, 1, 2, 3, 5, 6, 7]);
  assert.equal(insns[2]!.offset, 3);
  assert.equal(insns[2]!.reference, 'done');
  assert.equal(insns[4]!.offset, -5);
  assert.equal(insns[1]!.symbol, 'loop');
  assert.equal(insns[5]!.symbol, 'done');
  assert.equal(
    disassemble(insns),
    [
      '   0: (b7) r0 = 0',
      '   1: (07) r0 += 1',
      '   2: (35) if r0 >= 0xa goto pc+3',
      '   3: (18) r1 = 0x10000000000',
      '   5: (5d) if r0 != r1 goto pc-5',
      '   6: (95) exit',
      '',
    ].join('\n'),
  );
});

test('ld_imm64 counts two slots in every jump form', () => {
  const insns = new Assembler()
    .ja('end')
    .ldImm64(R1, 1)
    .ldMapFd(R2, 3)
    .ldMapValue(R2, 3, 8)
    .jmp32Imm('jeq', R0, 1, 'end')
    .gotol('end')
    .label('end')
    .exit()
    .build();
  // ja at slot 0; end at slot 1 + 2 + 2 + 2 + 1 + 1 = 9.
  assert.equal(insns[0]!.offset, 8);
  assert.equal(insns[4]!.offset, 1);
  assert.equal(insns[5]!.imm, 0);
  assert.equal(insns[5]!.offset, 0);
  assert.deepEqual(slotIndices(insns), [0, 1, 3, 5, 7, 8, 9, 10]);
  // The encoding agrees: jumping `offset` slots from slot 0 lands on the exit.
  const bytes = encodeInstructions(insns);
  assert.equal(bytes[(1 + insns[0]!.offset) * 8], 0x95);
});

test('bpf-to-bpf calls to labels', () => {
  const insns = new Assembler()
    .mov64Imm(R1, 1)
    .callLabel('double')
    .exit()
    .label('double')
    .mov64Reg(R0, R1)
    .alu64Reg('add', R0, R1)
    .exit()
    .build();
  assert.equal(insns[1]!.src, BPF_PSEUDO_CALL);
  assert.equal(insns[1]!.imm, 1);
  assert.equal(insns[3]!.symbol, 'double');
  assert.match(disassemble(insns), /1: \(85\) call pc\+1\n/);
});

test('numeric targets pass through; emit copies instructions', () => {
  const original = mov64Imm(R6, 7);
  const insns = new Assembler().emit(original, call(14)).ja(-3).jmpImm('jeq', R0, 0, 1).exit().build();
  assert.equal(insns[2]!.offset, -3);
  assert.equal(insns[3]!.offset, 1);
  assert.equal(insns[3]!.reference, undefined);
  assert.notEqual(insns[0], original);
  assert.deepEqual(decodeInstructions(encodeInstructions(insns)), insns);
});

test('label errors', () => {
  const isAsmArg = (re: RegExp) => (err: unknown) =>
    err instanceof ArgumentError && err.code === 'ERR_ASM' && re.test(err.message);
  assert.throws(() => new Assembler().ja('nowhere').exit().build(), isAsmArg(/undefined label 'nowhere'/));
  assert.throws(() => new Assembler().label('a').exit().label('a'), isAsmArg(/defined twice/));
  assert.throws(() => new Assembler().exit().label('end').build(), isAsmArg(/not followed/));
  const far = new Assembler().ja('far');
  for (let i = 0; i < 0x8000; i++) far.mov64Imm(R0, 0);
  far.label('far').exit();
  assert.throws(() => far.build(), isAsmArg(/out of 16-bit range/));
  // gotol reaches that far.
  const long = new Assembler().gotol('far');
  for (let i = 0; i < 0x8000; i++) long.mov64Imm(R0, 0);
  assert.equal(long.label('far').exit().build()[0]!.imm, 0x8000);
});

test('helpers by name and id', () => {
  assert.equal(HELPER_NAMES.length, HELPER_MAX_ID + 1);
  assert.equal(HELPER_MAX_ID, 211);
  assert.equal(helperId('bpf_map_lookup_elem'), 1);
  assert.equal(helperId('get_current_pid_tgid'), 14);
  assert.equal(helperId('bpf_ringbuf_output'), 130);
  assert.equal(helperId('bpf_user_ringbuf_drain'), 209);
  assert.equal(helperName(131), 'bpf_ringbuf_reserve');
  assert.equal(helperName(5000), undefined);
  assert.deepEqual(callHelper('bpf_trace_printk'), call(6));
  assert.throws(() => callHelper('bpf_no_such_helper'), (e: unknown) => e instanceof ArgumentError && e.code === 'ERR_ASM');
  assert.deepEqual(new Assembler().call('ktime_get_ns').call(14).build(), [call(5), call(14)]);
});

test('ldMapRef leaves a reference for the loader', () => {
  const insn = ldMapRef(R1, 'counts');
  assert.equal(insn.src, BPF_PSEUDO_MAP_FD);
  assert.equal(insn.reference, 'counts');
  assert.equal(insn.imm64, 0n);
  assert.deepEqual(new Assembler().ldMapRef(R1, 'counts').exit().build(), [insn, exit()]);
});

test('unknown op names are refused', () => {
  assert.throws(
    () => new Assembler().alu64Imm('pow' as 'add', R0, 1),
    (e: unknown) => e instanceof ArgumentError && /unknown ALU op 'pow'/.test(e.message),
  );
});
