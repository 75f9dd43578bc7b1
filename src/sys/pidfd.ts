/**
 * pidfds (pidfd_open(2), 5.3+): file descriptors that refer to a process. Task local storage
 * maps (BPF_MAP_TYPE_TASK_STORAGE) take one as the key of userspace lookups and updates.
 */
import { syscallError } from './errno.js';
import { FD } from './fd.js';
import { native } from './native.js';

/** Opens a pidfd for process `pid` (a thread group leader). */
export function pidfdOpen(pid: number, flags = 0): FD {
  const r = native.pidfdOpen(pid, flags);
  if (r < 0) throw syscallError('pidfd_open', -r, `pid ${pid}`);
  return new FD(r, `pidfd of ${pid}`);
}
