/**
 * Network namespace hooks: sk_lookup (5.9+; picks the socket for an incoming connection or
 * datagram, e.g. to serve many addresses or ports from one socket) and flow_dissector (4.20+).
 * Attached through netns BPF links (5.8+); flow dissectors fall back to BPF_PROG_ATTACH.
 */
import { openSync } from 'node:fs';
import { ArgumentError } from '../errors.js';
import type { Program } from '../programs/program.js';
import { AttachType, FD, ProgType, getFdById, linkCreate, progAttach } from '../sys/index.js';
import { hasNetnsLinks } from '../features/attach.js';
import { ProgAttachLink } from './cgroup.js';
import { Link, progFd } from './link.js';

export interface NetnsOptions {
  /**
   * The network namespace: a path to its nsfs file (`/proc/<pid>/ns/net`,
   * `/var/run/netns/<name>` for `ip netns` ones) or an open fd of it. Default: this process's.
   */
  netns?: string | number;
  /** Attach with BPF_PROG_ATTACH (flow dissector only) even where netns links exist. */
  legacy?: boolean;
}

/** Attaches an sk_lookup or flow_dissector program to a network namespace. */
export function attachNetns(prog: Program, opts: NetnsOptions = {}): Link {
  let attachType: number;
  if (prog.type === ProgType.SK_LOOKUP) attachType = AttachType.SK_LOOKUP;
  else if (prog.type === ProgType.FLOW_DISSECTOR) attachType = AttachType.FLOW_DISSECTOR;
  else throw new ArgumentError(`program '${prog.name}' is a ${prog.typeName} program: network namespaces take sk_lookup and flow_dissector programs`);
  const path = typeof opts.netns === 'number' ? undefined : (opts.netns ?? '/proc/self/ns/net');
  const what = `${prog.typeName} on netns ${path ?? `fd ${opts.netns}`}`;
  const fd = progFd(prog, what);
  let owned: FD | undefined;
  let nsFd: number;
  if (path !== undefined) {
    try {
      owned = new FD(openSync(path, 'r'), `netns ${path}`);
    } catch (e) {
      if (e instanceof ArgumentError) throw e;
      throw new ArgumentError(`${what}: can't open ${path} (${(e as NodeJS.ErrnoException).code})`, (e as NodeJS.ErrnoException).code);
    }
    nsFd = owned.value;
  } else nsFd = opts.netns as number;
  try {
    if (!opts.legacy && hasNetnsLinks()) {
      const link = new Link(linkCreate({ progFd: fd, targetFd: nsFd, attachType, what }));
      owned?.close();
      return link;
    }
    if (attachType !== AttachType.FLOW_DISSECTOR) throw new ArgumentError(`${what}: sk_lookup attaches only through netns links (5.9+)`);
    const ref = getFdById('prog', prog.id);
    try {
      progAttach({ targetFd: nsFd, progFd: ref.value, attachType });
    } catch (e) {
      ref.close();
      throw e;
    }
    return new ProgAttachLink(ref, prog.id, owned ?? nsFd, attachType, 'netns (prog_attach)');
  } catch (e) {
    owned?.close();
    throw e;
  }
}
