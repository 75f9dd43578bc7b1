/**
 * Socket calls of the native addon (native/net.c): for netlink and for socket options such as
 * SO_ATTACH_BPF. An addon built without native/net.c lacks them: every function here then
 * throws NotSupportedError naming what to rebuild.
 */
import { NotSupportedError } from '../errors.js';
import { syscallError } from './errno.js';
import { FD } from './fd.js';
import { native } from './native.js';

interface NetNative {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: ArrayBufferView): number;
  sendto(fd: number, buf: ArrayBufferView, flags: number, addr: ArrayBufferView | null): number;
  recv(fd: number, buf: ArrayBufferView, flags: number): number;
  setsockopt(fd: number, level: number, name: number, value: ArrayBufferView): number;
  getsockopt(fd: number, level: number, name: number, buf: ArrayBufferView): number;
  getsockname(fd: number, buf: ArrayBufferView): number;
}

const net = native as unknown as Partial<NetNative>;

/** Whether the addon has the socket calls (built with native/net.c). */
export function haveSocketCalls(): boolean {
  return typeof net.socket === 'function' && typeof net.setsockopt === 'function';
}

function calls(what: string): NetNative {
  if (!haveSocketCalls()) {
    throw new NotSupportedError(
      'socket calls in the native addon (native/net.c)',
      `${what} needs the addon's socket calls, and this build of it has none: rebuild it with native/net.c (npm run build)`,
    );
  }
  return net as NetNative;
}

export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOL_SOCKET = 1;
export const SO_ATTACH_FILTER = 26;
export const SO_DETACH_FILTER = 27;
/** SO_DETACH_BPF is SO_DETACH_FILTER: one socket has one filter, classic or eBPF. */
export const SO_DETACH_BPF = SO_DETACH_FILTER;
export const SO_ATTACH_BPF = 50;
export const SO_ATTACH_REUSEPORT_EBPF = 52;
export const SO_DETACH_REUSEPORT_BPF = 68;
export const MSG_DONTWAIT = 0x40;

/** socket(2), close-on-exec. */
export function socket(domain: number, type: number, protocol: number, what = 'socket'): FD {
  const r = calls(what).socket(domain, type, protocol);
  if (r < 0) throw syscallError('socket', -r, what);
  return new FD(r, what);
}

export function bind(fd: number, addr: Uint8Array, what = 'bind'): void {
  const r = calls(what).bind(fd, addr);
  if (r < 0) throw syscallError('bind', -r, what);
}

/** sendto(2); addr null for connected sockets. Returns the bytes sent. */
export function sendto(fd: number, buf: Uint8Array, flags = 0, addr: Uint8Array | null = null, what = 'sendto'): number {
  const r = calls(what).sendto(fd, buf, flags, addr);
  if (r < 0) throw syscallError('sendto', -r, what);
  return r;
}

/** recv(2) into `buf`; returns the bytes received, or -errno (EAGAIN with MSG_DONTWAIT) without throwing. */
export function recvRaw(fd: number, buf: Uint8Array, flags = 0): number {
  return calls('recv').recv(fd, buf, flags);
}

export function setsockopt(fd: number, level: number, name: number, value: Uint8Array, what = 'setsockopt'): void {
  const r = calls(what).setsockopt(fd, level, name, value);
  if (r < 0) throw syscallError('setsockopt', -r, what);
}

/** setsockopt with an int value. */
export function setsockoptInt(fd: number, level: number, name: number, value: number, what = 'setsockopt'): void {
  // An int in host byte order.
  setsockopt(fd, level, name, new Uint8Array(Int32Array.of(value).buffer), what);
}

/** getsockopt(2) into `buf`; returns the option's length. */
export function getsockopt(fd: number, level: number, name: number, buf: Uint8Array, what = 'getsockopt'): number {
  const r = calls(what).getsockopt(fd, level, name, buf);
  if (r < 0) throw syscallError('getsockopt', -r, what);
  return r;
}

export function getsockname(fd: number, buf: Uint8Array, what = 'getsockname'): number {
  const r = calls(what).getsockname(fd, buf);
  if (r < 0) throw syscallError('getsockname', -r, what);
  return r;
}
