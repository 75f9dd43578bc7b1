/**
 * Which helper functions each program type may call, and the miscellaneous verifier features
 * bpftool reports, probed by loading tiny programs (memoized per process).
 *
 * A helper is probed as libbpf does: a program of the type that calls it and exits. The
 * verifier names a helper it doesn't know with "invalid func unknown#N", and one the program
 * type may not use with "unknown func bpf_x#N" or "program of this type cannot use helper";
 * any other outcome (the load succeeds, or the verifier objects to the arguments) means the
 * type may call it.
 */
import { alu64Imm, call, encodeInstructions, exit, gotol, jmp32Imm, jmpImm, mov64Imm, HELPER_NAMES, type Instruction } from '../asm/index.js';
import { FD, ProgType, progLoadRaw } from '../sys/index.js';
import { EXPECTED_ATTACH, probeProgramType, type ProbeResult } from './probe.js';

/** Program types whose programs need a BTF attach target to load: helpers can't be probed for them. */
const NEEDS_TARGET = new Set<number>([ProgType.TRACING, ProgType.EXT, ProgType.LSM, ProgType.STRUCT_OPS]);

/** Helpers that write to the kernel log when a program using them loads: bpftool skips them unless asked. */
export const NOISY_HELPERS: ReadonlySet<string> = new Set(['bpf_trace_printk', 'bpf_trace_vprintk', 'bpf_probe_write_user']);

const helperCache = new Map<string, ProbeResult | 'unknown'>();
const logBuf = new Uint8Array(4096);

function decode(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(end < 0 ? buf : buf.subarray(0, end));
}

/**
 * Whether programs of `progType` may call helper `helperId`: 'available', 'unavailable', or
 * 'unknown' when the program type can't be loaded without a target (tracing, ext, lsm,
 * struct_ops) or isn't supported at all.
 */
export function probeHelper(progType: number, helperId: number): ProbeResult | 'unknown' {
  const key = `${progType}:${helperId}`;
  const cached = helperCache.get(key);
  if (cached) return cached;
  let res: ProbeResult | 'unknown';
  if (NEEDS_TARGET.has(progType) || probeProgramType(progType) !== 'available') {
    res = 'unknown';
  } else {
    logBuf.fill(0, 0, 256);
    const { result } = progLoadRaw({
      progType,
      insns: encodeInstructions([call(helperId), exit()]),
      license: 'GPL',
      expectedAttachType: EXPECTED_ATTACH[progType] ?? 0,
      progFlags: progType === ProgType.SYSCALL ? 1 << 4 : 0,
      logLevel: 1,
      logBuf,
    });
    if (result >= 0) {
      new FD(result).close();
      res = 'available';
    } else {
      const log = decode(logBuf);
      res = /invalid func |unknown func |program of this type cannot use helper /.test(log) ? 'unavailable' : 'available';
    }
  }
  helperCache.set(key, res);
  return res;
}

/**
 * The helpers programs of `progType` may call, by name (bpftool's list for the type); undefined
 * when that can't be probed. `full` includes the helpers that write to the kernel log.
 */
export function supportedHelpers(progType: number, full = false): string[] | undefined {
  const out: string[] = [];
  for (let id = 1; id < HELPER_NAMES.length; id++) {
    const name = HELPER_NAMES[id];
    if (!name || (!full && NOISY_HELPERS.has(name))) continue;
    const r = probeHelper(progType, id);
    if (r === 'unknown') return undefined;
    if (r === 'available') out.push(name);
  }
  return out;
}

const miscCache = new Map<string, boolean>();

function loads(name: string, insns: Instruction[]): boolean {
  let r = miscCache.get(name);
  if (r === undefined) {
    const { result } = progLoadRaw({ progType: ProgType.SOCKET_FILTER, insns: encodeInstructions(insns), license: 'GPL' });
    if (result >= 0) new FD(result).close();
    r = result >= 0;
    miscCache.set(name, r);
  }
  return r;
}

/** Programs over 4096 instructions (5.3+, for privileged users). */
export function hasLargeInsnLimit(): boolean {
  return loads('large_insn_limit', [...Array.from({ length: 4096 }, () => mov64Imm(0, 1)), exit()]);
}

/** Bounded loops (5.3+). */
export function hasBoundedLoops(): boolean {
  return loads('bounded_loops', [mov64Imm(0, 10), alu64Imm('sub', 0, 1), jmpImm('jne', 0, 0, -2), exit()]);
}

/** ISA v2: JLT, JLE, JSLT, JSLE (4.14+). */
export function hasV2Isa(): boolean {
  return loads('v2', [mov64Imm(0, 0), jmpImm('jlt', 0, 0, 1), mov64Imm(0, 1), exit()]);
}

/** ISA v3: 32-bit jumps (5.1+). */
export function hasV3Isa(): boolean {
  return loads('v3', [mov64Imm(0, 0), jmp32Imm('jlt', 0, 0, 1), mov64Imm(0, 1), exit()]);
}

/** ISA v4: sign-extending loads and moves, gotol, bswap, sdiv/smod (6.6+). */
export function hasV4Isa(): boolean {
  return loads('v4', [mov64Imm(0, 0), jmp32Imm('jeq', 0, 1, 1), gotol(1), mov64Imm(0, 1), exit()]);
}
