/**
 * BTF objects loaded in the kernel, read back by id (what `bpftool btf dump id N` reads): a
 * program's or map's BTF, with its source lines and function prototypes.
 */
import { Spec, loadKernelSpec } from '../btf/index.js';
import { errno, getFdById, btfInfo, listIds, type BtfInfo } from '../sys/index.js';
import { BpfError } from '../errors.js';

/** Ids of every BTF object in the kernel (vmlinux, modules, and those programs loaded). */
export function listBtfIds(): number[] {
  return listIds('btf');
}

/** Metadata of the BTF object `id` (name, size, whether it is the kernel's own). */
export function btfInfoById(id: number): BtfInfo {
  using fd = openBtf(id);
  return btfInfo(fd.value);
}

/**
 * Parses the BTF object `id` from the kernel. Kernel module BTF is split BTF on top of
 * vmlinux, so it is parsed with vmlinux as its base.
 */
export function loadBtfById(id: number): Spec {
  using fd = openBtf(id);
  const info = btfInfo(fd.value, true);
  const base = info.kernelBtf && info.name !== 'vmlinux' ? loadKernelSpec() : undefined;
  return Spec.parse(info.data!, base ? { base } : {});
}

function openBtf(id: number) {
  try {
    return getFdById('btf', id);
  } catch (e) {
    if (e instanceof BpfError && e.errno === errno.ENOENT) {
      throw new BpfError(e.command, e.errno, e.code, `no BTF object with id ${id}`, { cause: e });
    }
    throw e;
  }
}
