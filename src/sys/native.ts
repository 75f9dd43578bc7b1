/**
 * The native addon, loaded once. Only src/sys imports this module: everything above the
 * kernel layer goes through the typed functions of src/sys.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PollHandle {
  readonly __brand: 'PollHandle';
}

export interface NativeAddon {
  /** bpf(cmd, attr, size) on a caller-owned buffer: result, or -errno. */
  bpf(cmd: number, attr: ArrayBufferView | ArrayBuffer, size?: number): number;
  /** Registers the process's request buffer; returns its address. */
  setScratch(buffer: ArrayBuffer): bigint;
  /** bpf() with attr at the start of the registered request buffer, for the element operations:
   *  `cmd | size << 8` is read as a u32 at offset 240 of the buffer, and the result (or -errno)
   *  written as an i32 at 244. No arguments, no return value: the cheapest N-API call there is. */
  bpfRequest(): void;
  /** Address of a buffer's first byte (valid while the buffer is alive). */
  addressOf(view: ArrayBufferView | ArrayBuffer): bigint;
  perfEventOpen(attr: ArrayBufferView, pid: number, cpu: number, groupFd: number, flags: number): number;
  ioctl(fd: number, request: number | bigint, arg?: number | bigint | ArrayBufferView): number;
  close(fd: number): number;
  /** pidfd_open(pid, flags) (5.3+): an fd, or -errno. */
  pidfdOpen(pid: number, flags?: number): number;
  /** An external ArrayBuffer over the mapping, or -errno. */
  mmap(fd: number, length: number, prot: number, flags: number, offset: number): ArrayBuffer | number;
  /** Detaches the buffer, then unmaps it. Idempotent. */
  munmap(buffer: ArrayBuffer): number;
  setrlimit(resource: number, cur: number | bigint, max: number | bigint): number;
  getrlimit(resource: number): [bigint, bigint] | number;
  /** Watches fd readiness on the event loop (uv_poll_t); callback(status, events). */
  pollStart(fd: number, events: number, callback: (status: number, events: number) => void): PollHandle | number;
  pollStop(handle: PollHandle): void;
}

function findAddon(): string {
  // Compiled files live in dist/src/sys; the addon in build/Release at the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'build', 'Release', 'ebpf_native.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(
    'ebpf-ts: the native addon (build/Release/ebpf_native.node) is missing. ' +
      'Build it with `npm ci` or `npm run build` (needs python3, make and a C compiler).',
  );
}

const require = createRequire(import.meta.url);
export const native: NativeAddon = require(findAddon()) as NativeAddon;

// mmap(2) protection and flags (asm-generic, same on every architecture Linux BPF runs on).
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
// uv_poll events.
export const POLL_READABLE = 1;
export const POLL_WRITABLE = 2;
export const POLL_DISCONNECT = 4;
export const RLIMIT_MEMLOCK = 8;
