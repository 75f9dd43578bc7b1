/**
 * Socket filters (SO_ATTACH_BPF, 3.19+): a socket_filter program on one socket decides how much
 * of each packet the socket receives (0: drop it). Also sk_reuseport programs, which pick the
 * socket of a SO_REUSEPORT group that gets a connection or datagram (SO_ATTACH_REUSEPORT_EBPF).
 * Neither is a BPF link: the Link returned detaches on close (SO_DETACH_BPF,
 * SO_DETACH_REUSEPORT_BPF 5.9+).
 */
import { ArgumentError } from '../errors.js';
import type { Program } from '../programs/program.js';
import { ProgType, getFdById, type FD } from '../sys/index.js';
import { SOL_SOCKET, SO_ATTACH_BPF, SO_ATTACH_REUSEPORT_EBPF, SO_DETACH_BPF, SO_DETACH_REUSEPORT_BPF, setsockoptInt } from '../sys/net.js';
import { LegacyLink, progFd, type Link } from './link.js';

/**
 * A socket: its fd, or a Node socket (net.Socket, net.Server, dgram.Socket) once it has one
 * (after bind/listen/connect), read from its libuv handle.
 */
export type SocketLike = number | { fd: number } | object;

/** The file descriptor of a socket given as a number, `{fd}`, or a Node socket object. */
export function socketFd(sock: SocketLike): number {
  if (typeof sock === 'number') return sock;
  const s = sock as { fd?: unknown };
  if (typeof s.fd === 'number' && s.fd >= 0) return s.fd;
  // dgram.Socket keeps its libuv handle in a symbol-keyed state object (its `_handle` getter
  // is deprecated, DEP0112); net.Socket and net.Server in `_handle`.
  let dgramState = false;
  for (const sym of Object.getOwnPropertySymbols(sock)) {
    const state = (sock as Record<symbol, unknown>)[sym] as { handle?: { fd?: unknown } } | undefined;
    if (!state || typeof state !== 'object' || !('handle' in state)) continue;
    dgramState = true;
    const fd = state.handle?.fd;
    if (typeof fd === 'number' && fd >= 0) return fd;
  }
  if (!dgramState) {
    const h = (sock as { _handle?: { fd?: unknown } })._handle?.fd;
    if (typeof h === 'number' && h >= 0) return h;
  }
  throw new ArgumentError('expected a socket fd, or a Node socket that has one (bind, listen or connect it first)');
}

/** A program attached to a socket with setsockopt; close() detaches it. */
export class SocketLink extends LegacyLink {
  readonly mechanism: string;
  readonly socketFd: number;

  /** @internal */
  constructor(progRef: FD, progId: number, fd: number, detachOpt: number, mechanism: string) {
    super(progRef, progId, () => {
      try {
        setsockoptInt(fd, SOL_SOCKET, detachOpt, 0, mechanism);
      } catch (e) {
        // EBADF: the socket is closed (which detached the program); ENOENT: nothing attached.
        const code = (e as { code?: string }).code;
        if (code !== 'EBADF' && code !== 'ENOENT' && code !== 'ENOTSOCK') throw e;
      }
    });
    this.socketFd = fd;
    this.mechanism = mechanism;
  }
}

/** Attaches a socket_filter program to a socket (SO_ATTACH_BPF). The socket must stay open. */
export function attachSocketFilter(prog: Program, socket: SocketLike): Link {
  const fd = socketFd(socket);
  progFd(prog, `socket filter on fd ${fd}`);
  if (prog.type !== ProgType.SOCKET_FILTER) throw new ArgumentError(`socket fd ${fd}: program '${prog.name}' is a ${prog.typeName} program, not socket_filter`);
  const ref = getFdById('prog', prog.id);
  try {
    setsockoptInt(fd, SOL_SOCKET, SO_ATTACH_BPF, ref.value, `SO_ATTACH_BPF on fd ${fd}`);
  } catch (e) {
    ref.close();
    throw e;
  }
  return new SocketLink(ref, prog.id, fd, SO_DETACH_BPF, 'socket filter (SO_ATTACH_BPF)');
}

/**
 * Attaches an sk_reuseport program to a SO_REUSEPORT group through one of its sockets
 * (SO_ATTACH_REUSEPORT_EBPF, 4.19+). close() detaches it (SO_DETACH_REUSEPORT_BPF, 5.9+).
 */
export function attachReuseport(prog: Program, socket: SocketLike): Link {
  const fd = socketFd(socket);
  progFd(prog, `sk_reuseport on fd ${fd}`);
  if (prog.type !== ProgType.SK_REUSEPORT && prog.type !== ProgType.SOCKET_FILTER) {
    throw new ArgumentError(`socket fd ${fd}: program '${prog.name}' is a ${prog.typeName} program, not sk_reuseport`);
  }
  const ref = getFdById('prog', prog.id);
  try {
    setsockoptInt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, ref.value, `SO_ATTACH_REUSEPORT_EBPF on fd ${fd}`);
  } catch (e) {
    ref.close();
    throw e;
  }
  return new SocketLink(ref, prog.id, fd, SO_DETACH_REUSEPORT_BPF, 'sk_reuseport (SO_ATTACH_REUSEPORT_EBPF)');
}
