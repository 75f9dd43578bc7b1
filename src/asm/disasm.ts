/**
 * Disassembly in bpftool's notation (`bpftool prog dump xlated`), which is the kernel
 * verifier's notation (kernel/bpf/disasm.c) with bpftool's callbacks for calls and 64-bit
 * immediates (tools/bpf/bpftool/xlated_dumper.c). The text of every form follows the kernel's
 * as of Linux 6.18, including its oddities (`BUG_...` lines for invalid opcodes, `(null)` where
 * the kernel's string tables have a hole), so that output can be compared with bpftool's.
 *
 * ```
 *    0: (b7) r1 = 0
 *    1: (18) r2 = map[id:5]
 *    3: (85) call bpf_map_lookup_elem#1
 *    4: (55) if r0 != 0x0 goto pc+2
 *    5: (95) exit
 * ```
 */
import { HELPER_NAMES } from './helpers.js';
import { encodeInstructions, imm64Of, slotCount, type Instruction } from './instruction.js';
import {
  BPF_ABS,
  BPF_ADD,
  BPF_ADDR_SPACE_CAST,
  BPF_ALU,
  BPF_ALU64,
  BPF_AND,
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
  BPF_IMM,
  BPF_IND,
  BPF_JA,
  BPF_JCOND,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD,
  BPF_LDX,
  BPF_LOAD_ACQ,
  BPF_MAY_GOTO,
  BPF_MEM,
  BPF_MEMSX,
  BPF_MOD,
  BPF_MOV,
  BPF_NEG,
  BPF_NOSPEC,
  BPF_OR,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_IDX_VALUE,
  BPF_PSEUDO_MAP_VALUE,
  BPF_ST,
  BPF_STORE_REL,
  BPF_STX,
  BPF_TO_BE,
  BPF_W,
  BPF_X,
  BPF_XCHG,
  BPF_XOR,
  classOf,
  modeOf,
  opOf,
  sizeOf,
  sourceOf,
} from './opcodes.js';

/** How to name the things an instruction refers to. */
export interface FormatOptions {
  /**
   * Name of a helper function by id (for `call` with src 0). Default: the kernel's list
   * ({@link HELPER_NAMES}, e.g. 14 -> `bpf_get_current_pid_tgid`). Return undefined to fall
   * through to `callName`.
   */
  helperName?: (id: number) => string | undefined;
  /**
   * Name of a call's target when `helperName` gave none: kfuncs, bpf-to-bpf calls, unknown
   * helper ids. Like bpftool's `cb_call`: for a bpf-to-bpf call the result follows `call pc`
   * (bpftool prints `+5` or `+5#bpf_prog_..._name`), otherwise it precedes `#imm`. Return
   * undefined for the default (`call pc+5`, `call kernel-function#imm`, `call unknown#imm`).
   * When formatting the kernel's xlated code, note that the kernel moves a bpf-to-bpf call's
   * pc-relative offset into `offset` (and puts the subprogram's index in `imm`): pass
   * `(i) => i.src === 1 ? `${i.offset >= 0 ? '+' : ''}${i.offset}` : undefined` to print as bpftool.
   */
  callName?: (insn: Instruction) => string | undefined;
  /**
   * The text inside `map[...]` for a ld_imm64 of a map fd or map value (src 1 or 2), given the
   * first half's imm (a map id in the kernel's xlated code, a map fd before loading). Default:
   * `id:N`, as bpftool prints it.
   */
  mapName?: (imm: number, insn: Instruction) => string | undefined;
  /**
   * The whole right-hand side of a ld_imm64 (like the kernel's `cb_imm`). Return undefined for
   * the default: `map[id:N]`, `map[id:N][0]+OFF`, `map[idx:N]+OFF`, `subprog[+N]`, else `0x...`.
   */
  immName?: (insn: Instruction, value: bigint) => string | undefined;
}

/** Options of {@link disassemble}. */
export interface DisassembleOptions extends FormatOptions {
  /** Prefix each line with its slot index as bpftool does (`   0: `). Default: true. */
  lineNumbers?: boolean;
  /** After each instruction, a line with its raw bytes (`bpftool ... opcodes`). Default: false. */
  opcodes?: boolean;
  /** Byte order of the raw bytes printed with `opcodes`. Default: true. */
  littleEndian?: boolean;
  /** Print a `name:` line before each instruction that has a `symbol`. Default: false. */
  symbols?: boolean;
}

// Operator and type strings, indexed by the opcode field shifted down. `undefined` is a hole in
// the kernel's table, printed as glibc prints a NULL string.
const ALU_OPS = ['+=', '-=', '*=', '/=', '|=', '&=', '<<=', '>>=', 'neg', '%=', '^=', '=', 's>>=', 'endian'];
const JMP_OPS = ['jmp', '==', '>', '>=', '&', '!=', 's>', 's>=', 'call', 'exit', '<', '<=', 's<', 's<='];
const ATOMIC_NAMES: Record<number, string> = { [BPF_ADD]: 'add', [BPF_AND]: 'and', [BPF_OR]: 'or', [BPF_XOR]: 'xor' };
const MEM_TYPES: Record<number, string> = { [BPF_W]: 'u32', [BPF_H]: 'u16', [BPF_B]: 'u8', [BPF_DW]: 'u64' };
const MEMSX_TYPES: Record<number, string> = { [BPF_W]: 's32', [BPF_H]: 's16', [BPF_B]: 's8' };
const MOVSX_CASTS: Record<number, string> = { 8: '(s8)', 16: '(s16)', 32: '(s32)' };

const nul = (s: string | undefined): string => s ?? '(null)';
const hex2 = (n: number): string => (n & 0xff).toString(16).padStart(2, '0');
/** printf's `%+d`. */
const plus = (n: number): string => (n >= 0 ? `+${n}` : `${n}`);
const s16 = (n: number): number => (n << 16) >> 16;
const s32 = (n: number): number => n | 0;

/** The text of one instruction, without line number: e.g. `(b7) r1 = 0`. */
export function formatInstruction(insn: Instruction, options: FormatOptions = {}): string {
  const code = insn.opcode & 0xff;
  const head = `(${hex2(code)}) `;
  const cls = classOf(code);
  const dst = insn.dst;
  const src = insn.src;
  const off = s16(insn.offset);
  const imm = s32(insn.imm);
  const memType = MEM_TYPES[sizeOf(code)]!;
  const mem = (reg: number) => `(r${reg} ${plus(off)})`;

  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64: {
      const r = cls === BPF_ALU ? 'w' : 'r';
      const op = opOf(code);
      if (op === BPF_END) {
        if (cls === BPF_ALU64) return `${head}r${dst} = bswap${imm} r${dst}`;
        return `${head}r${dst} = ${sourceOf(code) === BPF_TO_BE ? 'be' : 'le'}${imm} r${dst}`;
      }
      if (op === BPF_NEG) return `${head}${r}${dst} = -${r}${dst}`;
      if (code === (BPF_ALU64 | BPF_MOV | BPF_X) && off === BPF_ADDR_SPACE_CAST) {
        return `${head}r${dst} = addr_space_cast(r${src}, ${(imm >>> 16) & 0xffff}, ${imm & 0xffff})`;
      }
      if (code === (BPF_ALU64 | BPF_MOV | BPF_X) && off === -1) {
        // Kernel-internal: resolves a per-CPU address (inlined bpf_get_smp_processor_id...).
        return `${head}r${dst} = &(void __percpu *)(r${src})`;
      }
      const signed = (op === BPF_DIV || op === BPF_MOD) && off === 1;
      const opText = signed ? `s${ALU_OPS[op >> 4]}` : nul(ALU_OPS[op >> 4]);
      if (sourceOf(code) === BPF_X) {
        const cast = op === BPF_MOV ? (MOVSX_CASTS[off] ?? '') : '';
        return `${head}${r}${dst} ${opText} ${cast}${r}${src}`;
      }
      return `${head}${r}${dst} ${opText} ${imm}`;
    }

    case BPF_STX: {
      const mode = modeOf(code);
      if (mode === BPF_MEM) return `${head}*(${memType} *)${mem(dst)} = r${src}`;
      if (mode !== BPF_ATOMIC) return `BUG_${hex2(code)}`;
      const bits = sizeOf(code) === BPF_DW ? '64' : '';
      const aluOp = imm & ~BPF_FETCH;
      if (ATOMIC_NAMES[imm] !== undefined) {
        return `${head}lock *(${memType} *)${mem(dst)} ${ALU_OPS[imm >> 4]} r${src}`;
      }
      if ((imm & BPF_FETCH) !== 0 && ATOMIC_NAMES[aluOp] !== undefined) {
        return `${head}r${src} = atomic${bits}_fetch_${ATOMIC_NAMES[aluOp]}((${memType} *)${mem(dst)}, r${src})`;
      }
      if (imm === BPF_CMPXCHG) return `${head}r0 = atomic${bits}_cmpxchg((${memType} *)${mem(dst)}, r0, r${src})`;
      if (imm === BPF_XCHG) return `${head}r${src} = atomic${bits}_xchg((${memType} *)${mem(dst)}, r${src})`;
      if (imm === BPF_LOAD_ACQ) return `${head}r${dst} = load_acquire((${memType} *)${mem(src)})`;
      if (imm === BPF_STORE_REL) return `${head}store_release((${memType} *)${mem(dst)}, r${src})`;
      return `BUG_${hex2(code)}`;
    }

    case BPF_ST: {
      const mode = modeOf(code);
      if (mode === BPF_MEM) return `${head}*(${memType} *)${mem(dst)} = ${imm}`;
      if (mode === BPF_NOSPEC) return `${head}nospec`;
      return `BUG_st_${hex2(code)}`;
    }

    case BPF_LDX: {
      const mode = modeOf(code);
      if (mode === BPF_MEM) return `${head}r${dst} = *(${memType} *)${mem(src)}`;
      if (mode === BPF_MEMSX) return `${head}r${dst} = *(${nul(MEMSX_TYPES[sizeOf(code)])} *)${mem(src)}`;
      return `BUG_ldx_${hex2(code)}`;
    }

    case BPF_LD: {
      const mode = modeOf(code);
      if (mode === BPF_ABS) return `${head}r0 = *(${memType} *)skb[${imm}]`;
      if (mode === BPF_IND) return `${head}r0 = *(${memType} *)skb[r${src} + ${imm}]`;
      if (mode === BPF_IMM && sizeOf(code) === BPF_DW) return `${head}r${dst} = ${formatImm64(insn, options)}`;
      return `BUG_ld_${hex2(code)}`;
    }

    default: {
      // BPF_JMP, BPF_JMP32
      const op = opOf(code);
      if (op === BPF_CALL) {
        const name = callTargetName(insn, options);
        return src === BPF_PSEUDO_CALL ? `${head}call pc${name}` : `${head}call ${name}#${imm}`;
      }
      if (code === (BPF_JMP | BPF_JA)) return `${head}goto pc${plus(off)}`;
      if (code === (BPF_JMP | BPF_JA | BPF_X)) return `${head}gotox r${dst}`;
      if (code === (BPF_JMP | BPF_JCOND) && src === BPF_MAY_GOTO) return `${head}may_goto pc${plus(off)}`;
      if (code === (BPF_JMP32 | BPF_JA)) return `${head}gotol pc${plus(imm)}`;
      if (code === (BPF_JMP | BPF_EXIT)) return `${head}exit`;
      const r = cls === BPF_JMP32 ? 'w' : 'r';
      const cmp = nul(JMP_OPS[op >> 4]);
      const rhs = sourceOf(code) === BPF_X ? `${r}${src}` : `0x${(imm >>> 0).toString(16)}`;
      return `${head}if ${r}${dst} ${cmp} ${rhs} goto pc${plus(off)}`;
    }
  }
}

function callTargetName(insn: Instruction, options: FormatOptions): string {
  const imm = s32(insn.imm);
  if (insn.src === 0 && imm >= 0) {
    const name = options.helperName ? options.helperName(imm) : HELPER_NAMES[imm];
    if (name !== undefined) return name;
  }
  const custom = options.callName?.(insn);
  if (custom !== undefined) return custom;
  if (insn.src === BPF_PSEUDO_CALL) return plus(imm);
  if (insn.src === BPF_PSEUDO_KFUNC_CALL) return 'kernel-function';
  return 'unknown';
}

function formatImm64(insn: Instruction, options: FormatOptions): string {
  const value = imm64Of(insn);
  const custom = options.immName?.(insn, value);
  if (custom !== undefined) return custom;
  const lo = Number(BigInt.asIntN(32, value));
  const hi = Number(BigInt.asIntN(32, value >> 32n));
  const map = () => options.mapName?.(lo, insn) ?? `id:${lo}`;
  switch (insn.src) {
    case BPF_PSEUDO_MAP_FD:
      return `map[${map()}]`;
    case BPF_PSEUDO_MAP_VALUE:
      return `map[${map()}][0]+${hi}`;
    case BPF_PSEUDO_MAP_IDX_VALUE:
      return `map[idx:${lo}]+${hi}`;
    case BPF_PSEUDO_FUNC:
      return `subprog[${plus(lo)}]`;
    default:
      return `0x${value.toString(16)}`;
  }
}

/** The raw bytes of an instruction as bpftool's `opcodes` prints them: `b7 01 00 00 ...`. */
export function formatOpcodes(insn: Instruction, littleEndian = true): string {
  return Array.from(encodeInstructions([insn], { littleEndian }), hex2).join(' ');
}

/**
 * A listing of a program, one line per instruction, each line ending in a newline, as
 * `bpftool prog dump xlated` prints it: line numbers are slot indices (right-aligned to 4), so
 * the line after a ld_imm64 is numbered 2 higher.
 */
export function disassemble(insns: readonly Instruction[], options: DisassembleOptions = {}): string {
  const lineNumbers = options.lineNumbers ?? true;
  let out = '';
  let slot = 0;
  for (const insn of insns) {
    if (options.symbols && insn.symbol !== undefined) out += `${insn.symbol}:\n`;
    if (lineNumbers) out += `${String(slot).padStart(4)}: `;
    out += formatInstruction(insn, options) + '\n';
    if (options.opcodes) out += `       ${formatOpcodes(insn, options.littleEndian ?? true)}\n`;
    slot += slotCount(insn);
  }
  return out;
}
