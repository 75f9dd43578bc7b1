import { release } from 'node:os';
import { syscallError } from './errno.js';
import { RLIMIT_MEMLOCK, native } from './native.js';

/**
 * True when the kernel charges BPF memory to the memory cgroup instead of RLIMIT_MEMLOCK
 * (Linux 5.11+). libbpf probes this through a helper that arrived in the same release; the
 * version number says the same thing without loading a program.
 */
export function memlockAccountingByMemcg(kernelRelease = release()): boolean {
  const m = /^(\d+)\.(\d+)/.exec(kernelRelease);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > 5 || (major === 5 && minor >= 11);
}

/**
 * Makes sure RLIMIT_MEMLOCK won't make map creation fail with EPERM. Kernels before 5.11 charge
 * BPF map and program memory to it, and the usual 64 KiB default is far too small. On 5.11+
 * memory is accounted through memcg, so this does nothing and returns false. Otherwise it lifts
 * the limit to infinity (needs CAP_SYS_RESOURCE), or at least the soft limit to the hard one,
 * and returns true.
 */
export function removeMemlockLimit(): boolean {
  if (memlockAccountingByMemcg()) return false;
  if (native.setrlimit(RLIMIT_MEMLOCK, -1, -1) === 0) return true;
  const [, hard] = memlockLimit();
  const r = native.setrlimit(RLIMIT_MEMLOCK, hard, hard);
  if (r < 0) throw syscallError('setrlimit', -r, 'RLIMIT_MEMLOCK', 'raising the memlock limit needs root or CAP_SYS_RESOURCE');
  return true;
}

/** Sets RLIMIT_MEMLOCK; -1n means unlimited. Raising the hard limit needs CAP_SYS_RESOURCE. */
export function setMemlockLimit(soft: bigint, hard: bigint): void {
  const r = native.setrlimit(RLIMIT_MEMLOCK, soft, hard);
  if (r < 0) throw syscallError('setrlimit', -r, 'RLIMIT_MEMLOCK', 'raising the memlock limit needs root or CAP_SYS_RESOURCE');
}

/** The current RLIMIT_MEMLOCK as [soft, hard]; -1n means unlimited. */
export function memlockLimit(): [bigint, bigint] {
  const r = native.getrlimit(RLIMIT_MEMLOCK);
  if (typeof r === 'number') throw syscallError('getrlimit', -r, 'RLIMIT_MEMLOCK');
  return r;
}
