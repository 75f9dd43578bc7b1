/**
 * `ebpf-ts/asm`: BPF instructions. Encoding and decoding (either byte order), disassembly in
 * bpftool's notation, the helper function table, and a small builder for hand-written programs.
 * Pure: no syscalls.
 */
export * from './opcodes.js';
export {
  type Instruction,
  type EncodingOptions,
  INSN_SIZE,
  decodeInstructions,
  encodeInstructions,
  isLdImm64,
  slotCount,
  totalSlots,
  slotIndices,
  instructionAtSlot,
  imm64Of,
  withImm64,
} from './instruction.js';
export { type FormatOptions, type DisassembleOptions, formatInstruction, formatOpcodes, disassemble } from './disasm.js';
export { HELPER_NAMES, HELPER_MAX_ID } from './helpers.js';
export * from './builder.js';
