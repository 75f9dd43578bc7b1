/**
 * XDP: a program on an interface's receive path.
 *
 * Attaches through an XDP BPF link (5.9+): the program stays attached while the link lives,
 * can't be replaced by another process by accident, and can be swapped with link.update().
 * Kernels before 5.9, `netlink: true`, and `replace` (which swaps a program attached without a
 * link) go through netlink (IFLA_XDP in RTM_SETLINK); that attachment is a NetlinkXdpLink, whose
 * close() removes the program only if it is still the one attached (XDP_FLAGS_REPLACE, 5.7+).
 *
 * Modes: 'native' runs in the driver (fastest; needs driver support: veth, virtio_net, mlx5,
 * i40e...), 'generic' after the stack allocates the skb (works on any device), 'offload' on
 * the NIC. Without a mode the kernel picks native when the driver supports it, else generic.
 */
import { ArgumentError } from '../errors.js';
import type { Program } from '../programs/program.js';
import { AttachType, ProgType, getFdById, linkCreate, type FD } from '../sys/index.js';
import { XdpFlags, netlinkGetLink, netlinkSetXdp } from '../sys/netlink.js';
import { hasXdpLinks } from '../features/attach.js';
import { LegacyLink, Link, progFd, type LinkDetails } from './link.js';
import { resolveIfindex } from './netdev.js';

export type XdpMode = 'generic' | 'native' | 'offload';

export interface XdpOptions {
  /** The interface, by index... */
  ifindex?: number;
  /** ...or by name. */
  iface?: string;
  /** Where the program runs (default: native if the driver can, else generic). */
  mode?: XdpMode;
  /**
   * Replace a program attached without a link (through netlink): `true` replaces whatever is
   * there, a Program only that program (XDP_FLAGS_REPLACE). Links are swapped with update().
   */
  replace?: boolean | Program;
  /** Attach through netlink even where XDP links exist. */
  netlink?: boolean;
}

export function xdpModeFlags(mode: XdpMode | undefined): number {
  switch (mode) {
    case undefined:
      return 0;
    case 'generic':
      return XdpFlags.SKB_MODE;
    case 'native':
      return XdpFlags.DRV_MODE;
    case 'offload':
      return XdpFlags.HW_MODE;
    default:
      throw new ArgumentError(`unknown XDP mode '${mode as string}' (generic, native or offload)`);
  }
}

/** An XDP program attached through netlink. close() detaches it if it is still the one attached. */
export class NetlinkXdpLink extends LegacyLink {
  readonly mechanism = 'xdp (netlink)';
  readonly ifindex: number;
  readonly mode: XdpMode | undefined;

  /** @internal `progRef`: the link's own fd of the program, what close() expects to find attached. */
  constructor(progRef: FD, progId: number, ifindex: number, mode: XdpMode | undefined) {
    const flags = xdpModeFlags(mode);
    const expectedFd = progRef.value;
    super(progRef, progId, () => {
      try {
        // Remove only our program: REPLACE with our fd as the expected one (5.7+).
        netlinkSetXdp(ifindex, -1, flags | XdpFlags.REPLACE, expectedFd);
      } catch (e) {
        // Gone already (the device, or someone replaced the program): nothing of ours to remove.
        const code = (e as { code?: string }).code;
        if (code !== 'EEXIST' && code !== 'ENODEV' && code !== 'EBUSY') throw e;
      }
    });
    this.ifindex = ifindex;
    this.mode = mode;
  }

  protected override details(): LinkDetails {
    return { kind: 'xdp', ifindex: this.ifindex };
  }
}

/**
 * Attaches an XDP program to an interface. EBUSY when a program is already attached (pass
 * `replace` to swap a netlink-attached one; update() a link-attached one).
 */
export function attachXdp(prog: Program, opts: XdpOptions): Link {
  const ifindex = resolveIfindex(opts, 'XDP');
  const what = `XDP on ${opts.iface ?? `ifindex ${ifindex}`}`;
  const fd = progFd(prog, what);
  if (prog.type !== ProgType.XDP) throw new ArgumentError(`${what}: program '${prog.name}' is a ${prog.typeName} program, not xdp`);
  const flags = xdpModeFlags(opts.mode);
  if (!opts.netlink && !opts.replace && hasXdpLinks()) {
    try {
      return new Link(linkCreate({ progFd: fd, targetFd: ifindex, attachType: AttachType.XDP, flags, what }));
    } catch (e) {
      if ((e as { code?: string }).code === 'EBUSY') {
        throw Object.assign(e as Error, {
          message: `${(e as Error).message}: another XDP program is attached to ${opts.iface ?? `ifindex ${ifindex}`} (detach it, or pass replace to swap a netlink-attached one)`,
        });
      }
      throw e;
    }
  }
  // netlink: IFLA_XDP_FD with the mode, UPDATE_IF_NOEXIST unless replacing.
  let nlFlags = flags;
  let expected: number | undefined;
  if (opts.replace && typeof opts.replace === 'object') {
    nlFlags |= XdpFlags.REPLACE;
    expected = opts.replace.fd.value;
  } else if (!opts.replace) {
    nlFlags |= XdpFlags.UPDATE_IF_NOEXIST;
  }
  // The link holds its own reference to the program: what close() compares against.
  const ref = getFdById('prog', prog.id);
  try {
    netlinkSetXdp(ifindex, ref.value, nlFlags, expected);
  } catch (e) {
    ref.close();
    throw e;
  }
  return new NetlinkXdpLink(ref, prog.id, ifindex, opts.mode);
}

export interface XdpAttachment {
  /** Program ids per mode; 0 when none. */
  progId: number;
  drvProgId: number;
  skbProgId: number;
  hwProgId: number;
  /** 'none' | 'driver' | 'generic' | 'offload' | 'multi' */
  attached: 'none' | 'driver' | 'generic' | 'offload' | 'multi';
}

/** What XDP program an interface runs, from netlink (sees link and netlink attachments alike). */
export function queryXdp(opts: { ifindex?: number; iface?: string }): XdpAttachment {
  const ifindex = resolveIfindex(opts, 'XDP query');
  const x = netlinkGetLink(ifindex).xdp;
  const names = ['none', 'driver', 'generic', 'offload', 'multi'] as const;
  return {
    progId: x?.progId ?? 0,
    drvProgId: x?.drvProgId ?? 0,
    skbProgId: x?.skbProgId ?? 0,
    hwProgId: x?.hwProgId ?? 0,
    attached: names[x?.attached ?? 0] ?? 'none',
  };
}
