/**
 * Hand-assembled programs shared by kernel tests.
 */
import { BpfMap, Program, type ProgTypeName } from '../../src/index.js';
import { Assembler, R0, R1, R2, R10, atomic, type Instruction } from '../../src/asm/index.js';

/**
 * `key = 0; v = bpf_map_lookup_elem(&counts, &key); if (v) __sync_fetch_and_add(v, 1); return ret;`
 * counts must be an ARRAY (or HASH with key 0) of u32 -> u64.
 *
 * With `onlyTgid`, runs in other processes are not counted: tracing programs run for every task
 * that hits the hook (a perf event's pid only filters the samples it records, not the BPF
 * program), and other test files run at the same time as this one.
 */
export function counterInstructions(counts: BpfMap, ret = 0, onlyTgid?: number): Instruction[] {
  const a = new Assembler();
  if (onlyTgid !== undefined) {
    a.call('bpf_get_current_pid_tgid').alu64Imm('rsh', R0, 32).jmpImm('jne', R0, onlyTgid, 'out');
  }
  return a
    .stMem('w', R10, -4, 0)
    .mov64Reg(R2, R10)
    .alu64Imm('add', R2, -4)
    .ldMapFd(R1, counts.fd.value)
    .call('bpf_map_lookup_elem')
    .jmpImm('jeq', R0, 0, 'out')
    .mov64Imm(R1, 1)
    .emit(atomic('add', 'dw', R0, R1, 0))
    .label('out')
    .mov64Imm(R0, ret)
    .exit()
    .build();
}

/** Loads a program of `type` that counts its runs (in process `onlyTgid`, if given) in counts[0] and returns `ret`. */
export function counterProgram(type: ProgTypeName, counts: BpfMap, name: string, ret = 0, onlyTgid?: number): Program {
  return Program.load({ type, instructions: counterInstructions(counts, ret, onlyTgid), name });
}
