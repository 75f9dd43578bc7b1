/**
 * errno -> typed errors with messages that say what to do.
 */
import { constants } from 'node:os';
import { BpfError, SyscallError } from '../errors.js';
import { BPF_CMD_NAMES } from './constants.js';

const ERRNO_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  // Several names share a number (EWOULDBLOCK = EAGAIN, EDEADLOCK = EDEADLK): keep the first.
  if (!ERRNO_NAMES.has(value)) ERRNO_NAMES.set(value, name);
}
// Kernel-internal errnos that leak out of bpf(2) and that libc has no name for.
ERRNO_NAMES.set(524, 'ENOTSUPP');

export const errno = constants.errno;

export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

const DESCRIPTIONS: Record<string, string> = {
  EPERM: 'operation not permitted',
  EACCES: 'permission denied',
  ENOENT: 'no such entry',
  EEXIST: 'entry exists',
  EINVAL: 'invalid argument',
  E2BIG: 'argument list too long',
  ENOSPC: 'no space left',
  ENOMEM: 'out of memory',
  EBADF: 'bad file descriptor',
  EFAULT: 'bad address',
  EBUSY: 'resource busy',
  EAGAIN: 'try again',
  EOPNOTSUPP: 'operation not supported',
  ENOTSUPP: 'operation not supported',
  ENOTSUP: 'operation not supported',
  EINTR: 'interrupted system call',
  ESRCH: 'no such process',
  ENODEV: 'no such device',
  ENXIO: 'no such device or address',
  ERANGE: 'result out of range',
  EOVERFLOW: 'value too large',
};

/** What an EPERM from bpf() usually means, and how to fix it. */
export const EPERM_HINT =
  'bpf() needs root, or CAP_BPF plus CAP_PERFMON (tracing) / CAP_NET_ADMIN (networking) on Linux 5.8+; ' +
  'on kernels before 5.11 map memory is also charged to RLIMIT_MEMLOCK: call removeMemlockLimit() first';

function hint(command: string, code: string): string | undefined {
  switch (code) {
    case 'EPERM':
      // As root the usual causes are gone; what remains is the kernel refusing this kind of
      // object (lockdown, an LSM, or a feature such as fentry being unavailable).
      return process.getuid?.() === 0
        ? 'refused although running as root: kernel lockdown, an LSM, or a feature this kernel disables for this program or map type'
        : EPERM_HINT;
    case 'EBADF':
      return 'the file descriptor is closed or not a BPF object of the right kind';
    case 'E2BIG':
      if (command === 'BPF_MAP_UPDATE_ELEM') return 'the map is full (max_entries reached)';
      if (command === 'BPF_PROG_LOAD') return 'the program is too large for this kernel';
      return 'an attribute is larger than this kernel knows: a newer kernel feature may be needed';
    case 'EEXIST':
      if (command === 'BPF_MAP_UPDATE_ELEM') return 'the key exists and the update used NOEXIST';
      if (command === 'BPF_OBJ_PIN') return 'the pin path is taken: unpin it or choose another path';
      break;
    case 'ENOENT':
      if (command.startsWith('BPF_MAP')) return 'the key does not exist';
      if (command === 'BPF_OBJ_GET' || command === 'BPF_OBJ_PIN') return 'no such path (is bpffs mounted at /sys/fs/bpf?)';
      break;
    case 'EINVAL':
      if (command === 'BPF_MAP_CREATE') return 'the kernel refused the map attributes (type, sizes, flags or max_entries)';
      break;
    case 'ENOTSUPP':
    case 'EOPNOTSUPP':
      return 'this kernel or this object does not support the operation';
  }
  return undefined;
}

/** Builds the error for a failed bpf() command. `context` names the object (map 'counts'...). */
export function bpfError(cmd: number, errnoValue: number, context?: string): BpfError {
  const command = BPF_CMD_NAMES[cmd] ?? `bpf command ${cmd}`;
  const code = errnoName(errnoValue);
  const what = DESCRIPTIONS[code] ?? code;
  const h = hint(command, code);
  const msg = `${command}${context ? ` (${context})` : ''}: ${what} (${code})${h ? `: ${h}` : ''}`;
  return new BpfError(command, errnoValue, code, msg);
}

export function syscallError(syscall: string, errnoValue: number, context?: string, extra?: string): SyscallError {
  const code = errnoName(errnoValue);
  const what = DESCRIPTIONS[code] ?? code;
  const h = code === 'EPERM' || code === 'EACCES' ? 'needs root, or CAP_PERFMON/CAP_SYS_ADMIN' : undefined;
  const msg = `${syscall}${context ? ` (${context})` : ''}: ${what} (${code})${extra ? `: ${extra}` : h ? `: ${h}` : ''}`;
  return new SyscallError(syscall, errnoValue, code, msg);
}
