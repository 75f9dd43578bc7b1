/**
 * The BPF instruction, and its encoding to and from bytes.
 *
 * A BPF program is an array of 8-byte slots:
 *
 * ```
 *   byte 0    opcode
 *   byte 1    registers: dst and src, one nibble each (order depends on endianness, below)
 *   bytes 2-3 offset, signed 16-bit
 *   bytes 4-7 imm, signed 32-bit
 * ```
 *
 * One instruction, the 64-bit immediate load (`ld_imm64`, opcode 0x18), spans two slots: the
 * second slot carries the high 32 bits of the value in its `imm` and zeros elsewhere. Here it is
 * ONE {@link Instruction} whose `imm64` holds the whole value. Kernel jump offsets, call offsets
 * and the line/func info of BTF count slots, not instructions: use {@link slotIndices} (or
 * {@link slotCount}) to translate.
 */
import { FormatError } from '../errors.js';
import { LD_IMM64 } from './opcodes.js';

/** One BPF instruction (a ld_imm64 included: see `imm64`). */
export interface Instruction {
  /** The opcode byte: class | size | mode, or class | op | source. */
  opcode: number;
  /** Destination register, 0-10 (a nibble: 0-15 encode). */
  dst: number;
  /** Source register, or a pseudo value (`BPF_PSEUDO_*`) for ld_imm64 and call. */
  src: number;
  /** Signed 16-bit offset: memory displacement, or jump distance in slots. */
  offset: number;
  /**
   * Signed 32-bit immediate. For a ld_imm64 it mirrors the low 32 bits of `imm64` (as decoded);
   * `imm64` wins when the two disagree at encoding.
   */
  imm: number;
  /**
   * ld_imm64 only: the full 64-bit value, unsigned (0 .. 2^64-1; negative values are accepted at
   * encoding and taken modulo 2^64). The low half goes in the first slot's imm, the high half in
   * the second slot's imm. For BPF_PSEUDO_MAP_VALUE the low half is the map fd and the high
   * half the offset into the value. When absent on a ld_imm64, the value is `imm` as unsigned.
   */
  imm64?: bigint;
  /** Loader metadata: the label or function name that starts at this instruction. */
  symbol?: string;
  /**
   * Loader metadata: a symbol this instruction refers to (the target of a call or jump, the map
   * or function of a ld_imm64), to be resolved at link time. Not encoded.
   */
  reference?: string;
}

/** Options of {@link decodeInstructions} and {@link encodeInstructions}. */
export interface EncodingOptions {
  /** Byte order of the object (ELF `EI_DATA`). Default: true (little endian, `bpfel`). */
  littleEndian?: boolean;
}

/** Size of one instruction slot in bytes. */
export const INSN_SIZE = 8;

/** Whether an instruction is a 64-bit immediate load (two slots). */
export function isLdImm64(insn: Pick<Instruction, 'opcode'>): boolean {
  return insn.opcode === LD_IMM64;
}

/** Slots (8-byte units) an instruction occupies: 2 for ld_imm64, else 1. */
export function slotCount(insn: Pick<Instruction, 'opcode'>): 1 | 2 {
  return insn.opcode === LD_IMM64 ? 2 : 1;
}

/** Total slots of a program: its encoded size is this times 8. */
export function totalSlots(insns: readonly Pick<Instruction, 'opcode'>[]): number {
  let n = 0;
  for (const insn of insns) n += slotCount(insn);
  return n;
}

/**
 * The slot index at which each instruction starts: `result[i]` for instruction `i`, and one
 * more entry at the end, the total number of slots. A kernel jump from instruction `i` with
 * offset `off` lands on slot `result[i] + 1 + off`.
 */
export function slotIndices(insns: readonly Pick<Instruction, 'opcode'>[]): number[] {
  const out = new Array<number>(insns.length + 1);
  let slot = 0;
  for (let i = 0; i < insns.length; i++) {
    out[i] = slot;
    slot += slotCount(insns[i]!);
  }
  out[insns.length] = slot;
  return out;
}

/**
 * The inverse of {@link slotIndices}: a map from slot index to instruction index, for every
 * slot where an instruction starts (the second slot of a ld_imm64 is absent).
 */
export function instructionAtSlot(insns: readonly Pick<Instruction, 'opcode'>[]): Map<number, number> {
  const map = new Map<number, number>();
  let slot = 0;
  for (let i = 0; i < insns.length; i++) {
    map.set(slot, i);
    slot += slotCount(insns[i]!);
  }
  return map;
}

/** The 64-bit value of a ld_imm64, unsigned. */
export function imm64Of(insn: Instruction): bigint {
  if (insn.imm64 !== undefined) return BigInt.asUintN(64, insn.imm64);
  return BigInt(insn.imm >>> 0);
}

/** A copy of a ld_imm64 with a new 64-bit value, `imm` and `imm64` kept in step. */
export function withImm64(insn: Instruction, value: bigint | number): Instruction {
  const v = BigInt.asUintN(64, BigInt(value));
  return { ...insn, imm64: v, imm: Number(BigInt.asIntN(32, v)) };
}

/**
 * Decodes instructions from bytes (a program section of an ELF object, or the `xlated`
 * instructions the kernel returns). Throws a FormatError (code `ERR_ASM`) if the length is not a
 * multiple of 8, or a ld_imm64 lacks its second slot or has a malformed one.
 */
export function decodeInstructions(bytes: Uint8Array, opts: EncodingOptions = {}): Instruction[] {
  const le = opts.littleEndian ?? true;
  if (bytes.length % INSN_SIZE !== 0) {
    throw new FormatError(
      'ERR_ASM',
      `instruction bytes: length ${bytes.length} is not a multiple of ${INSN_SIZE}`,
      bytes.length - (bytes.length % INSN_SIZE),
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Instruction[] = [];
  for (let pos = 0; pos < bytes.length; pos += INSN_SIZE) {
    const opcode = view.getUint8(pos);
    const regs = view.getUint8(pos + 1);
    const insn: Instruction = {
      opcode,
      dst: le ? regs & 0x0f : regs >> 4,
      src: le ? regs >> 4 : regs & 0x0f,
      offset: view.getInt16(pos + 2, le),
      imm: view.getInt32(pos + 4, le),
    };
    if (opcode === LD_IMM64) {
      const next = pos + INSN_SIZE;
      if (next >= bytes.length) {
        throw new FormatError('ERR_ASM', `ld_imm64 at slot ${pos / INSN_SIZE} lacks its second half`, pos);
      }
      if (view.getUint8(next) !== 0 || view.getUint8(next + 1) !== 0 || view.getInt16(next + 2, le) !== 0) {
        throw new FormatError(
          'ERR_ASM',
          `ld_imm64 at slot ${pos / INSN_SIZE}: the second half must have zero opcode, registers and offset`,
          next,
        );
      }
      const hi = view.getUint32(next + 4, le);
      insn.imm64 = (BigInt(hi) << 32n) | BigInt(insn.imm >>> 0);
      pos = next;
    }
    out.push(insn);
  }
  return out;
}

function checkField(value: number, min: number, max: number, what: string, index: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new FormatError('ERR_ASM', `instruction ${index}: ${what} ${value} is out of range ${min}..${max}`);
  }
}

/**
 * Encodes instructions to bytes. `imm` may be given signed (-2^31 .. 2^31-1) or unsigned (up to
 * 2^32-1). Throws a FormatError (code `ERR_ASM`) for a field out of range.
 */
export function encodeInstructions(insns: readonly Instruction[], opts: EncodingOptions = {}): Uint8Array {
  const le = opts.littleEndian ?? true;
  const bytes = new Uint8Array(totalSlots(insns) * INSN_SIZE);
  const view = new DataView(bytes.buffer);
  let pos = 0;
  insns.forEach((insn, i) => {
    checkField(insn.opcode, 0, 0xff, 'opcode', i);
    checkField(insn.dst, 0, 15, 'dst register', i);
    checkField(insn.src, 0, 15, 'src register', i);
    checkField(insn.offset, -0x8000, 0x7fff, 'offset', i);
    view.setUint8(pos, insn.opcode);
    view.setUint8(pos + 1, le ? (insn.src << 4) | insn.dst : (insn.dst << 4) | insn.src);
    view.setInt16(pos + 2, insn.offset, le);
    if (insn.opcode === LD_IMM64) {
      if (insn.imm64 === undefined) checkField(insn.imm, -0x80000000, 0xffffffff, 'imm', i);
      const v = imm64Of(insn);
      view.setUint32(pos + 4, Number(v & 0xffffffffn), le);
      // Second slot: zero opcode, registers and offset; the high half in imm.
      view.setUint32(pos + 12, Number(v >> 32n), le);
      pos += 2 * INSN_SIZE;
    } else {
      checkField(insn.imm, -0x80000000, 0xffffffff, 'imm', i);
      view.setUint32(pos + 4, insn.imm >>> 0, le);
      pos += INSN_SIZE;
    }
  });
  return bytes;
}
