/**
 * BPF opcode constants, named as in the kernel's uapi headers (linux/bpf_common.h, linux/bpf.h),
 * and the functions that take an opcode apart.
 *
 * An opcode byte is `class | size | mode` for loads and stores, and `class | op | source` for
 * ALU and jump instructions. See Documentation/bpf/standardization/instruction-set.rst.
 */

// ---- Instruction classes (the low 3 bits) ----
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
/** Jumps that compare the low 32 bits of their operands. Needs kernel 5.1+ (`-mcpu=v3`). */
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

// ---- Load/store sizes (bits 3-4) ----
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;

// ---- Load/store modes (bits 5-7) ----
export const BPF_IMM = 0x00;
/** Legacy packet access (socket filters): `r0 = *(size *)skb[imm]`. */
export const BPF_ABS = 0x20;
/** Legacy packet access: `r0 = *(size *)skb[src + imm]`. */
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
/** Sign-extending load (LDX only). Needs kernel 6.6+ (`-mcpu=v4`). */
export const BPF_MEMSX = 0x80;
/** Atomic operation (STX only); which one is in `imm`. */
export const BPF_ATOMIC = 0xc0;
/** Legacy name of BPF_ATOMIC (with imm = BPF_ADD it is the old `xadd`). */
export const BPF_XADD = 0xc0;
/** Kernel-internal speculation barrier (BPF_ST | BPF_NOSPEC): shows in `xlated` dumps only. */
export const BPF_NOSPEC = 0xc0;

// ---- Source operand (bit 3 of ALU/JMP) ----
/** The operand is the 32-bit immediate. */
export const BPF_K = 0x00;
/** The operand is the source register. */
export const BPF_X = 0x08;
/** BPF_END: convert to little endian (ALU class). */
export const BPF_TO_LE = 0x00;
/** BPF_END: convert to big endian (ALU class). */
export const BPF_TO_BE = 0x08;

// ---- ALU operations (bits 4-7) ----
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
/** Unsigned division; signed (`s/=`) when `offset` is 1 (kernel 6.6+, `-mcpu=v4`). */
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
/** Unsigned modulo; signed (`s%=`) when `offset` is 1 (kernel 6.6+, `-mcpu=v4`). */
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
/**
 * Move. With BPF_X and `offset` 8, 16 or 32 it is MOVSX, a sign-extending move (kernel 6.6+).
 * ALU64 | MOV | X with `offset` 1 is the arena `addr_space_cast` (kernel 6.9+).
 */
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
/**
 * Byte swap. In the ALU class, `BPF_TO_LE`/`BPF_TO_BE` in the source bit choose the target byte
 * order (`le16`, `be32`, ...); in the ALU64 class it is an unconditional `bswap` (kernel 6.6+).
 * The width in bits (16, 32, 64) is in `imm`.
 */
export const BPF_END = 0xd0;

/** `offset` value that turns DIV/MOD into their signed forms. */
export const BPF_OFF_SIGNED = 1;
/** `offset` value of ALU64 | MOV | X that makes it an `addr_space_cast`. */
export const BPF_ADDR_SPACE_CAST = 1;

// ---- Jump operations (bits 4-7) ----
/** Unconditional jump. In JMP32 (`gotol`), the target is in `imm` instead of `offset` (kernel 6.6+). */
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;
/** Conditional pseudo jumps (`may_goto` when src is BPF_MAY_GOTO). Kernel 6.9+. */
export const BPF_JCOND = 0xe0;
export const BPF_MAY_GOTO = 0;

// ---- Atomic operations (in `imm` of STX | ATOMIC) ----
/** Flag: the old value is returned in the source register. */
export const BPF_FETCH = 0x01;
/** Atomic exchange (always fetches). Kernel 5.12+. */
export const BPF_XCHG = 0xe0 | BPF_FETCH;
/** Compare and exchange with r0 (always fetches into r0). Kernel 5.12+. */
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;
/** Load-acquire: `dst = load_acquire(src + off)`. Kernel 6.15+. */
export const BPF_LOAD_ACQ = 0x100;
/** Store-release: `store_release(dst + off, src)`. Kernel 6.15+. */
export const BPF_STORE_REL = 0x110;

// ---- Pseudo source registers ----
/** ld_imm64: `imm` is a map fd (after loading: the map's address). */
export const BPF_PSEUDO_MAP_FD = 1;
/** ld_imm64: first `imm` is a map fd, second `imm` an offset into its value (global data). */
export const BPF_PSEUDO_MAP_VALUE = 2;
/** ld_imm64: `imm` is the kernel BTF id of a variable (ksym). */
export const BPF_PSEUDO_BTF_ID = 3;
/** ld_imm64: `imm` is the pc-relative offset of a function (callbacks). */
export const BPF_PSEUDO_FUNC = 4;
/** ld_imm64: `imm` is an index into the fd_array given at load time. */
export const BPF_PSEUDO_MAP_IDX = 5;
/** ld_imm64: like MAP_VALUE, with an fd_array index. */
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;
/** call: `imm` is the pc-relative offset of a BPF function (bpf-to-bpf call). */
export const BPF_PSEUDO_CALL = 1;
/** call: `imm` is the BTF id of a kernel function (kfunc). */
export const BPF_PSEUDO_KFUNC_CALL = 2;

// ---- Whole opcodes worth a name ----
/** The first half of a 64-bit immediate load (two slots). */
export const LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW; // 0x18
export const CALL = BPF_JMP | BPF_CALL; // 0x85
export const EXIT = BPF_JMP | BPF_EXIT; // 0x95

// ---- Registers ----
export const R0 = 0;
export const R1 = 1;
export const R2 = 2;
export const R3 = 3;
export const R4 = 4;
export const R5 = 5;
export const R6 = 6;
export const R7 = 7;
export const R8 = 8;
export const R9 = 9;
/** The read-only frame pointer. */
export const R10 = 10;
/** Alias of R10. */
export const RFP = 10;

// ---- Taking an opcode apart ----
export const classOf = (opcode: number): number => opcode & 0x07;
export const sizeOf = (opcode: number): number => opcode & 0x18;
export const modeOf = (opcode: number): number => opcode & 0xe0;
export const opOf = (opcode: number): number => opcode & 0xf0;
export const sourceOf = (opcode: number): number => opcode & 0x08;

/** Bytes moved by a load/store of this opcode's size. */
export function sizeBytes(opcode: number): 1 | 2 | 4 | 8 {
  switch (sizeOf(opcode)) {
    case BPF_B:
      return 1;
    case BPF_H:
      return 2;
    case BPF_W:
      return 4;
    default:
      return 8;
  }
}

export const isAluClass = (opcode: number): boolean => {
  const c = classOf(opcode);
  return c === BPF_ALU || c === BPF_ALU64;
};
export const isJumpClass = (opcode: number): boolean => {
  const c = classOf(opcode);
  return c === BPF_JMP || c === BPF_JMP32;
};
