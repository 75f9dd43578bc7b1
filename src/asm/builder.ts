/**
 * A small builder for hand-written BPF programs (tests, feature probes), in the spirit of the
 * kernel's BPF_MOV64_IMM()/BPF_JMP_IMM() macros (include/linux/filter.h).
 *
 * ```ts
 * const prog = new Assembler()
 *   .mov64Imm(R0, 0)
 *   .call('bpf_get_current_pid_tgid')
 *   .jmpImm('jeq', R0, 0, 'out')
 *   .mov64Imm(R0, 1)
 *   .label('out')
 *   .exit()
 *   .build();
 * ```
 */
import { ArgumentError } from '../errors.js';
import { HELPER_NAMES } from './helpers.js';
import { slotIndices, withImm64, type Instruction } from './instruction.js';
import {
  BPF_ADD,
  BPF_ALU,
  BPF_ALU64,
  BPF_AND,
  BPF_ARSH,
  BPF_ATOMIC,
  BPF_B,
  BPF_CALL,
  BPF_CMPXCHG,
  BPF_DIV,
  BPF_DW,
  BPF_END,
  BPF_EXIT,
  BPF_FETCH,
  BPF_H,
  BPF_JA,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JLE,
  BPF_JLT,
  BPF_JMP,
  BPF_JMP32,
  BPF_JNE,
  BPF_JSET,
  BPF_JSGE,
  BPF_JSGT,
  BPF_JSLE,
  BPF_JSLT,
  BPF_K,
  BPF_LDX,
  BPF_LSH,
  BPF_MEM,
  BPF_MEMSX,
  BPF_MOD,
  BPF_MOV,
  BPF_MUL,
  BPF_NEG,
  BPF_OR,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
  BPF_RSH,
  BPF_ST,
  BPF_STX,
  BPF_SUB,
  BPF_TO_BE,
  BPF_TO_LE,
  BPF_W,
  BPF_X,
  BPF_XCHG,
  BPF_XOR,
  LD_IMM64,
} from './opcodes.js';

/** Load/store width: byte, half word, word, double word. */
export type SizeName = 'b' | 'h' | 'w' | 'dw';
/** ALU operations; `sdiv`/`smod` are the signed forms (kernel 6.6+). */
export type AluOpName =
  | 'add' | 'sub' | 'mul' | 'div' | 'sdiv' | 'or' | 'and' | 'lsh' | 'rsh'
  | 'neg' | 'mod' | 'smod' | 'xor' | 'mov' | 'arsh';
/** Conditional jumps; the `s` forms compare signed. */
export type JmpOpName =
  | 'jeq' | 'jgt' | 'jge' | 'jset' | 'jne' | 'jsgt' | 'jsge' | 'jlt' | 'jle' | 'jslt' | 'jsle';
/** Atomic read-modify-write operations; `fetch_*`, `xchg` and `cmpxchg` need kernel 5.12+. */
export type AtomicOpName =
  | 'add' | 'or' | 'and' | 'xor'
  | 'fetch_add' | 'fetch_or' | 'fetch_and' | 'fetch_xor' | 'xchg' | 'cmpxchg';

export const SIZES: Readonly<Record<SizeName, number>> = { b: BPF_B, h: BPF_H, w: BPF_W, dw: BPF_DW };
export const ALU_OPS: Readonly<Record<AluOpName, number>> = {
  add: BPF_ADD, sub: BPF_SUB, mul: BPF_MUL, div: BPF_DIV, sdiv: BPF_DIV, or: BPF_OR, and: BPF_AND,
  lsh: BPF_LSH, rsh: BPF_RSH, neg: BPF_NEG, mod: BPF_MOD, smod: BPF_MOD, xor: BPF_XOR,
  mov: BPF_MOV, arsh: BPF_ARSH,
};
export const JMP_OPS: Readonly<Record<JmpOpName, number>> = {
  jeq: BPF_JEQ, jgt: BPF_JGT, jge: BPF_JGE, jset: BPF_JSET, jne: BPF_JNE, jsgt: BPF_JSGT,
  jsge: BPF_JSGE, jlt: BPF_JLT, jle: BPF_JLE, jslt: BPF_JSLT, jsle: BPF_JSLE,
};
export const ATOMIC_OPS: Readonly<Record<AtomicOpName, number>> = {
  add: BPF_ADD, or: BPF_OR, and: BPF_AND, xor: BPF_XOR,
  fetch_add: BPF_ADD | BPF_FETCH, fetch_or: BPF_OR | BPF_FETCH, fetch_and: BPF_AND | BPF_FETCH,
  fetch_xor: BPF_XOR | BPF_FETCH, xchg: BPF_XCHG, cmpxchg: BPF_CMPXCHG,
};

function lookup<T extends string>(table: Readonly<Record<T, number>>, name: T, what: string): number {
  const v = (table as Record<string, number>)[name];
  if (v === undefined) throw new ArgumentError(`unknown ${what} '${name}'`, 'ERR_ASM');
  return v;
}

const insn = (opcode: number, dst: number, src: number, offset: number, imm: number): Instruction => ({
  opcode, dst, src, offset, imm,
});

const signedOff = (op: AluOpName): number => (op === 'sdiv' || op === 'smod' ? 1 : 0);

// ---- ALU ----
export const alu64Imm = (op: AluOpName, dst: number, imm: number): Instruction =>
  insn(BPF_ALU64 | lookup(ALU_OPS, op, 'ALU op') | BPF_K, dst, 0, signedOff(op), imm);
export const alu64Reg = (op: AluOpName, dst: number, src: number): Instruction =>
  insn(BPF_ALU64 | lookup(ALU_OPS, op, 'ALU op') | BPF_X, dst, src, signedOff(op), 0);
export const alu32Imm = (op: AluOpName, dst: number, imm: number): Instruction =>
  insn(BPF_ALU | lookup(ALU_OPS, op, 'ALU op') | BPF_K, dst, 0, signedOff(op), imm);
export const alu32Reg = (op: AluOpName, dst: number, src: number): Instruction =>
  insn(BPF_ALU | lookup(ALU_OPS, op, 'ALU op') | BPF_X, dst, src, signedOff(op), 0);
export const mov64Imm = (dst: number, imm: number): Instruction => alu64Imm('mov', dst, imm);
export const mov64Reg = (dst: number, src: number): Instruction => alu64Reg('mov', dst, src);
export const mov32Imm = (dst: number, imm: number): Instruction => alu32Imm('mov', dst, imm);
export const mov32Reg = (dst: number, src: number): Instruction => alu32Reg('mov', dst, src);
/** Sign-extending move `dst = (s8|s16|s32)src` (kernel 6.6+). */
export const movsx64 = (dst: number, src: number, bits: 8 | 16 | 32): Instruction =>
  insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, bits, 0);
/** `dst = le16/le32/le64 dst` or `be...`: convert from host order to the given byte order. */
export const endian = (order: 'le' | 'be', dst: number, bits: 16 | 32 | 64): Instruction =>
  insn(BPF_ALU | BPF_END | (order === 'be' ? BPF_TO_BE : BPF_TO_LE), dst, 0, 0, bits);
/** Unconditional byte swap `dst = bswap16/32/64 dst` (kernel 6.6+). */
export const bswap = (dst: number, bits: 16 | 32 | 64): Instruction => insn(BPF_ALU64 | BPF_END, dst, 0, 0, bits);

// ---- Loads and stores ----
/** `dst = value` with a 64-bit immediate (a two-slot ld_imm64). */
export const ldImm64 = (dst: number, value: bigint | number): Instruction =>
  withImm64(insn(LD_IMM64, dst, 0, 0, 0), value);
/** `dst = map` by file descriptor (BPF_PSEUDO_MAP_FD). */
export const ldMapFd = (dst: number, fd: number): Instruction =>
  withImm64(insn(LD_IMM64, dst, BPF_PSEUDO_MAP_FD, 0, 0), fd >>> 0);
/** `dst = &value[0] + off` of an array map by fd (BPF_PSEUDO_MAP_VALUE). */
export const ldMapValue = (dst: number, fd: number, off: number): Instruction =>
  withImm64(insn(LD_IMM64, dst, BPF_PSEUDO_MAP_VALUE, 0, 0), (BigInt(off >>> 0) << 32n) | BigInt(fd >>> 0));
/** `dst = map` by name, left for the loader to resolve (`reference`); fd 0 until then. */
export const ldMapRef = (dst: number, mapName: string): Instruction => ({ ...ldMapFd(dst, 0), reference: mapName });
export const ldxMem = (size: SizeName, dst: number, src: number, off: number): Instruction =>
  insn(BPF_LDX | BPF_MEM | lookup(SIZES, size, 'size'), dst, src, off, 0);
/** Sign-extending load (kernel 6.6+); sizes b, h, w. */
export const ldxMemSx = (size: Exclude<SizeName, 'dw'>, dst: number, src: number, off: number): Instruction =>
  insn(BPF_LDX | BPF_MEMSX | lookup(SIZES, size, 'size'), dst, src, off, 0);
export const stxMem = (size: SizeName, dst: number, src: number, off: number): Instruction =>
  insn(BPF_STX | BPF_MEM | lookup(SIZES, size, 'size'), dst, src, off, 0);
export const stMem = (size: SizeName, dst: number, off: number, imm: number): Instruction =>
  insn(BPF_ST | BPF_MEM | lookup(SIZES, size, 'size'), dst, 0, off, imm);
/** Atomic operation on `*(size *)(dst + off)` with `src`; sizes w and dw. */
export const atomic = (op: AtomicOpName, size: 'w' | 'dw', dst: number, src: number, off: number): Instruction =>
  insn(BPF_STX | BPF_ATOMIC | lookup(SIZES, size, 'size'), dst, src, off, lookup(ATOMIC_OPS, op, 'atomic op'));

// ---- Jumps and calls ----
export const jmpImm = (op: JmpOpName, dst: number, imm: number, off: number): Instruction =>
  insn(BPF_JMP | lookup(JMP_OPS, op, 'jump op') | BPF_K, dst, 0, off, imm);
export const jmpReg = (op: JmpOpName, dst: number, src: number, off: number): Instruction =>
  insn(BPF_JMP | lookup(JMP_OPS, op, 'jump op') | BPF_X, dst, src, off, 0);
export const jmp32Imm = (op: JmpOpName, dst: number, imm: number, off: number): Instruction =>
  insn(BPF_JMP32 | lookup(JMP_OPS, op, 'jump op') | BPF_K, dst, 0, off, imm);
export const jmp32Reg = (op: JmpOpName, dst: number, src: number, off: number): Instruction =>
  insn(BPF_JMP32 | lookup(JMP_OPS, op, 'jump op') | BPF_X, dst, src, off, 0);
/** `goto pc+off`. */
export const ja = (off: number): Instruction => insn(BPF_JMP | BPF_JA, 0, 0, off, 0);
/** `gotol pc+imm`: the long unconditional jump, 32-bit distance (kernel 6.6+). */
export const gotol = (imm: number): Instruction => insn(BPF_JMP32 | BPF_JA, 0, 0, 0, imm);
/** Call of a helper by id. */
export const call = (helperId: number): Instruction => insn(BPF_JMP | BPF_CALL, 0, 0, 0, helperId);
/** Call of a helper by name, with or without `bpf_`: `callHelper('map_lookup_elem')`. */
export const callHelper = (name: string): Instruction => call(helperId(name));
/** bpf-to-bpf call, `imm` slots after the next instruction. */
export const callRel = (imm: number): Instruction => insn(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, imm);
export const exit = (): Instruction => insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

let helperIds: Map<string, number> | undefined;

/** A helper's id from its name (`bpf_map_lookup_elem` or `map_lookup_elem`). Throws if unknown. */
export function helperId(name: string): number {
  helperIds ??= new Map(HELPER_NAMES.map((n, id) => [n, id]));
  const id = helperIds.get(name.startsWith('bpf_') ? name : `bpf_${name}`);
  if (id === undefined) throw new ArgumentError(`unknown BPF helper '${name}'`, 'ERR_ASM');
  return id;
}

/** A helper's name from its id (`bpf_...`), undefined if unknown. */
export function helperName(id: number): string | undefined {
  return HELPER_NAMES[id];
}

/** A jump target: a relative offset in slots, or a label. */
export type Target = number | string;

interface Pending {
  insn: Instruction;
  /** Label to resolve, and which field takes the distance. */
  label?: string;
  field?: 'offset' | 'imm';
}

/**
 * Builds a program instruction by instruction, with labels. A jump or call to a label gets its
 * distance in slots (a ld_imm64 counts 2), resolved by {@link build}; forward jumps are fine.
 * The first instruction after `.label(name)` gets `symbol: name`.
 */
export class Assembler {
  private readonly items: Pending[] = [];
  private readonly labels = new Map<string, number>();
  private pendingLabels: string[] = [];

  /** Appends instructions as they are. */
  emit(...insns: Instruction[]): this {
    for (const i of insns) this.push({ insn: { ...i } });
    return this;
  }

  /** Names the position of the next instruction. */
  label(name: string): this {
    if (this.labels.has(name)) throw new ArgumentError(`label '${name}' is defined twice`, 'ERR_ASM');
    this.labels.set(name, this.items.length);
    this.pendingLabels.push(name);
    return this;
  }

  mov64Imm(dst: number, imm: number): this { return this.emit(mov64Imm(dst, imm)); }
  mov64Reg(dst: number, src: number): this { return this.emit(mov64Reg(dst, src)); }
  mov32Imm(dst: number, imm: number): this { return this.emit(mov32Imm(dst, imm)); }
  mov32Reg(dst: number, src: number): this { return this.emit(mov32Reg(dst, src)); }
  alu64Imm(op: AluOpName, dst: number, imm: number): this { return this.emit(alu64Imm(op, dst, imm)); }
  alu64Reg(op: AluOpName, dst: number, src: number): this { return this.emit(alu64Reg(op, dst, src)); }
  alu32Imm(op: AluOpName, dst: number, imm: number): this { return this.emit(alu32Imm(op, dst, imm)); }
  alu32Reg(op: AluOpName, dst: number, src: number): this { return this.emit(alu32Reg(op, dst, src)); }
  ldImm64(dst: number, value: bigint | number): this { return this.emit(ldImm64(dst, value)); }
  ldMapFd(dst: number, fd: number): this { return this.emit(ldMapFd(dst, fd)); }
  ldMapValue(dst: number, fd: number, off: number): this { return this.emit(ldMapValue(dst, fd, off)); }
  ldMapRef(dst: number, mapName: string): this { return this.emit(ldMapRef(dst, mapName)); }
  ldxMem(size: SizeName, dst: number, src: number, off: number): this { return this.emit(ldxMem(size, dst, src, off)); }
  stxMem(size: SizeName, dst: number, src: number, off: number): this { return this.emit(stxMem(size, dst, src, off)); }
  stMem(size: SizeName, dst: number, off: number, imm: number): this { return this.emit(stMem(size, dst, off, imm)); }
  exit(): this { return this.emit(exit()); }

  jmpImm(op: JmpOpName, dst: number, imm: number, target: Target): this {
    return this.jump(jmpImm(op, dst, imm, 0), target, 'offset');
  }
  jmpReg(op: JmpOpName, dst: number, src: number, target: Target): this {
    return this.jump(jmpReg(op, dst, src, 0), target, 'offset');
  }
  jmp32Imm(op: JmpOpName, dst: number, imm: number, target: Target): this {
    return this.jump(jmp32Imm(op, dst, imm, 0), target, 'offset');
  }
  jmp32Reg(op: JmpOpName, dst: number, src: number, target: Target): this {
    return this.jump(jmp32Reg(op, dst, src, 0), target, 'offset');
  }
  ja(target: Target): this {
    return this.jump(ja(0), target, 'offset');
  }
  gotol(target: Target): this {
    return this.jump(gotol(0), target, 'imm');
  }
  /** Helper call by id or name. */
  call(helper: number | string): this {
    return this.emit(typeof helper === 'number' ? call(helper) : callHelper(helper));
  }
  /** bpf-to-bpf call of the function at a label (or a relative distance in slots). */
  callLabel(target: Target): this {
    return this.jump(callRel(0), target, 'imm');
  }

  /** Resolves labels and returns the instructions. Throws ArgumentError (`ERR_ASM`) on a bad label. */
  build(): Instruction[] {
    if (this.pendingLabels.length) {
      throw new ArgumentError(`label '${this.pendingLabels[0]}' is not followed by an instruction`, 'ERR_ASM');
    }
    const insns = this.items.map((p) => ({ ...p.insn }));
    const slots = slotIndices(insns);
    this.items.forEach((p, i) => {
      if (p.label === undefined) return;
      const at = this.labels.get(p.label);
      if (at === undefined) throw new ArgumentError(`undefined label '${p.label}'`, 'ERR_ASM');
      const distance = slots[at]! - (slots[i]! + 1);
      if (p.field === 'offset' && (distance < -0x8000 || distance > 0x7fff)) {
        throw new ArgumentError(`jump to '${p.label}' is out of 16-bit range (${distance} slots)`, 'ERR_ASM');
      }
      insns[i]![p.field!] = distance;
      insns[i]!.reference = p.label;
    });
    return insns;
  }

  private jump(i: Instruction, target: Target, field: 'offset' | 'imm'): this {
    if (typeof target === 'number') {
      i[field] = target;
      return this.push({ insn: i });
    }
    return this.push({ insn: i, label: target, field });
  }

  private push(p: Pending): this {
    if (this.pendingLabels.length) {
      p.insn.symbol = this.pendingLabels[0];
      this.pendingLabels = [];
    }
    this.items.push(p);
    return this;
  }
}
