/**
 * Run-time statistics of BPF programs (run_cnt, run_time_ns in their info). The kernel counts
 * them only while statistics are on: system-wide with the sysctl kernel.bpf_stats_enabled, or
 * while some process holds an fd from BPF_ENABLE_STATS (Linux 5.8+). Counting costs a few ns
 * per program run, which is why it is off by default.
 *
 *   using stats = enableRunStats();
 *   ... run the programs ...
 *   prog.info().runCnt            // counted while `stats` was open
 */
import { readFileSync } from 'node:fs';
import { NotSupportedError, BpfError } from '../errors.js';
import { enableStats, errno, type FD } from '../sys/index.js';

/** BPF_STATS_RUN_TIME, the only kind of statistics the kernel has. */
const BPF_STATS_RUN_TIME = 0;

/** Statistics stay on until close() (or the end of a `using` scope). */
export class RunStats {
  readonly #fd: FD;

  /** @internal use {@link enableRunStats} */
  constructor(fd: FD) {
    this.#fd = fd;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  close(): void {
    this.#fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Turns on run-time statistics for every program until the returned handle is closed.
 * Several handles may be open at once; counting stops when the last is closed (unless the
 * sysctl kernel.bpf_stats_enabled is 1). Needs CAP_SYS_ADMIN and Linux 5.8+.
 */
export function enableRunStats(): RunStats {
  try {
    return new RunStats(enableStats(BPF_STATS_RUN_TIME));
  } catch (e) {
    // Kernels before 5.8 don't know the command: EINVAL.
    if (e instanceof BpfError && e.errno === errno.EINVAL) {
      throw new NotSupportedError('BPF_ENABLE_STATS (Linux 5.8+)', undefined, { cause: e });
    }
    throw e;
  }
}

/** Whether the sysctl kernel.bpf_stats_enabled keeps run-time statistics on for everyone. */
export function bpfStatsSysctlEnabled(): boolean {
  try {
    return readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}
