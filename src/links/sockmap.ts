/**
 * sk_msg and sk_skb programs on a sockmap or sockhash: they run on the sockets in the map
 * (sk_msg on sendmsg, sk_skb stream parser/verdict on received data) and can redirect data
 * between them. Attached through sockmap BPF links (6.10+), else BPF_PROG_ATTACH on the map.
 */
import { ArgumentError } from '../errors.js';
import type { Program } from '../programs/program.js';
import { ATTACH_TYPE_NAMES, AttachType, ProgType, getFdById, linkCreate, progAttach, type FD } from '../sys/index.js';
import { hasSockmapLinks } from '../features/attach.js';
import { ProgAttachLink, attachTypeOf } from './cgroup.js';
import { Link, progFd } from './link.js';

export interface SockmapOptions {
  /** The sockmap or sockhash. */
  map: { fd: FD };
  /**
   * SK_MSG_VERDICT (sk_msg), SK_SKB_STREAM_PARSER, SK_SKB_STREAM_VERDICT or SK_SKB_VERDICT
   * (sk_skb). Default: sk_msg_verdict for sk_msg programs; required for sk_skb.
   */
  attachType?: number | string;
  legacy?: boolean;
}

const ALLOWED: Record<number, number[]> = {
  [ProgType.SK_MSG]: [AttachType.SK_MSG_VERDICT],
  [ProgType.SK_SKB]: [AttachType.SK_SKB_STREAM_PARSER, AttachType.SK_SKB_STREAM_VERDICT, AttachType.SK_SKB_VERDICT],
};

/** Attaches an sk_msg or sk_skb program to a sockmap/sockhash. */
export function attachSockmap(prog: Program, opts: SockmapOptions): Link {
  const allowed = ALLOWED[prog.type];
  if (!allowed) throw new ArgumentError(`program '${prog.name}' is a ${prog.typeName} program: sockmaps take sk_msg and sk_skb programs`);
  const attachType = opts.attachType !== undefined ? attachTypeOf(opts.attachType) : allowed.length === 1 ? allowed[0]! : undefined;
  if (attachType === undefined || !allowed.includes(attachType)) {
    throw new ArgumentError(`program '${prog.name}' (${prog.typeName}) needs an attachType: one of ${allowed.map((a) => ATTACH_TYPE_NAMES[a]).join(', ')}`);
  }
  const what = `${ATTACH_TYPE_NAMES[attachType]} on map fd ${opts.map.fd.value}`;
  const fd = progFd(prog, what);
  if (!opts.legacy && hasSockmapLinks()) {
    return new Link(linkCreate({ progFd: fd, targetFd: opts.map.fd.value, attachType, what }));
  }
  const ref = getFdById('prog', prog.id);
  try {
    progAttach({ targetFd: opts.map.fd.value, progFd: ref.value, attachType });
  } catch (e) {
    ref.close();
    throw e;
  }
  // The map must stay open while attached this way; the link refers to it by fd.
  return new ProgAttachLink(ref, prog.id, opts.map.fd.value, attachType, 'sockmap (prog_attach)');
}
