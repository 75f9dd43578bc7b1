/**
 * struct_ops (5.6+; links 6.4+): a struct_ops map (a kernel ops table such as
 * tcp_congestion_ops, filled with BPF programs) registered with the kernel through a
 * struct_ops BPF link. The map must be created with BPF_F_LINK (libbpf: SEC(".struct_ops.link")).
 */
import { NotSupportedError } from '../errors.js';
import { AttachType, linkCreate, linkUpdate, type FD } from '../sys/index.js';
import { Link } from './link.js';

/** Registers a struct_ops map's ops through a BPF link; closing it unregisters them. */
export function attachStructOps(map: { fd: FD; name?: string }): Link {
  try {
    // struct_ops links put the map fd where other links have the program fd.
    return new Link(linkCreate({ progFd: map.fd.value, targetFd: 0, attachType: AttachType.STRUCT_OPS, what: `struct_ops map '${map.name ?? ''}'` }));
  } catch (e) {
    if ((e as { code?: string }).code === 'EINVAL') {
      throw new NotSupportedError('struct_ops links (Linux 6.4+)', `struct_ops map '${map.name ?? ''}': BPF_LINK_CREATE refused it (EINVAL): it needs Linux 6.4+ and a map created with BPF_F_LINK`, { cause: e });
    }
    throw e;
  }
}

/** Swaps the ops of a struct_ops link for another struct_ops map's (BPF_LINK_UPDATE with a map, 6.4+). */
export function updateStructOps(link: Link, map: { fd: FD }, expected?: { fd: FD }): void {
  linkUpdate(link.fd.value, map.fd.value, expected ? 1 << 2 : 0, expected?.fd.value ?? 0);
}
