/**
 * perf_event_open(2) and the perf ioctls that BPF attachment uses.
 */
import { Struct, cString } from './attr.js';
import { syscallError } from './errno.js';
import { FD } from './fd.js';
import { native } from './native.js';

export const PERF_TYPE = { HARDWARE: 0, SOFTWARE: 1, TRACEPOINT: 2, HW_CACHE: 3, RAW: 4, BREAKPOINT: 5 } as const;
export const PERF_COUNT_SW = { CPU_CLOCK: 0, TASK_CLOCK: 1, PAGE_FAULTS: 2, CONTEXT_SWITCHES: 3, BPF_OUTPUT: 10 } as const;
export const PERF_SAMPLE_RAW = 1 << 10;
export const PERF_FLAG_FD_CLOEXEC = 1 << 3;

// _IO('$', n) and _IOW('$', n, u32): '$' = 0x24.
export const PERF_EVENT_IOC_ENABLE = 0x2400;
export const PERF_EVENT_IOC_DISABLE = 0x2401;
export const PERF_EVENT_IOC_SET_BPF = 0x40042408;
export const PERF_EVENT_IOC_PAUSE_OUTPUT = 0x40042409;

/** perf_event_attr flag bits (the bitfield word at offset 40). */
export const PerfAttrFlags = {
  DISABLED: 1n << 0n,
  INHERIT: 1n << 1n,
  EXCLUDE_KERNEL: 1n << 5n,
  EXCLUDE_HV: 1n << 6n,
  FREQ: 1n << 10n,
  WATERMARK: 1n << 14n,
  WRITE_BACKWARD: 1n << 27n,
} as const;

export interface PerfEventAttr {
  type: number;
  config: bigint | number;
  samplePeriodOrFreq?: bigint | number;
  sampleType?: bigint | number;
  /** The flags word (PerfAttrFlags). */
  flags?: bigint;
  /** wakeup_events, or wakeup_watermark in bytes when flags has WATERMARK. */
  wakeup?: number;
  /** kprobe/uprobe PMUs: config1 holds a pointer to the function name or path... */
  config1String?: string;
  config1?: bigint | number;
  /** ...and config2 the probe offset or address. */
  config2?: bigint | number;
  /** uprobe ref_ctr_offset rides in config's upper 32 bits on the uprobe PMU. */
}

/** sizeof(struct perf_event_attr) as of PERF_ATTR_SIZE_VER8 (kernel 6.3). */
const PERF_ATTR_SIZE = 136;

/** perf_event_open(2). pid -1 and cpu N: all processes on CPU N; pid P, cpu -1: P on any CPU. */
export function perfEventOpen(attr: PerfEventAttr, pid: number, cpu: number, groupFd = -1, flags = PERF_FLAG_FD_CLOEXEC, what = 'perf event'): FD {
  const s = new Struct(PERF_ATTR_SIZE)
    .u32(0, attr.type)
    .u32(4, PERF_ATTR_SIZE)
    .u64(8, attr.config)
    .u64(16, attr.samplePeriodOrFreq ?? 0)
    .u64(24, attr.sampleType ?? 0)
    .u64(40, attr.flags ?? 0n)
    .u32(48, attr.wakeup ?? 0)
    .u64(64, attr.config2 ?? 0);
  // Struct.ptr keeps the string referenced until the call returns.
  if (attr.config1String !== undefined) {
    s.ptr(56, cString(attr.config1String));
  } else {
    s.u64(56, attr.config1 ?? 0);
  }
  const r = native.perfEventOpen(s.bytes, pid, cpu, groupFd, flags);
  if (r < 0) throw syscallError('perf_event_open', -r, what);
  return new FD(r, what);
}

/** ioctl(2) returning the result or throwing a SyscallError. */
export function ioctl(fd: number, request: number, arg: number | bigint | ArrayBufferView = 0, what = 'ioctl'): number {
  const r = native.ioctl(fd, request, arg);
  if (r < 0) throw syscallError('ioctl', -r, what);
  return r;
}
