import { readlinkSync } from 'node:fs';

export type BpfObjectKind = 'prog' | 'map' | 'link' | 'btf';

/**
 * What kind of BPF object an fd refers to, from its anon inode name (`anon_inode:bpf-prog`, `bpf-map`, `bpf_link`, `btf`),
 * as bpftool's get_fd_type reads it. Undefined for other files or when /proc is unavailable.
 * Pinned paths can hold any kind, so opening one as a program checks this first.
 */
export function bpfObjectKind(fd: number): BpfObjectKind | undefined {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
  // The kernel names them bpf-prog, bpf-map, bpf_link and btf.
  const m = /^anon_inode:(?:bpf[-_](prog|map|link)|(btf))$/.exec(target);
  return m ? ((m[1] ?? m[2]) as BpfObjectKind) : undefined;
}
