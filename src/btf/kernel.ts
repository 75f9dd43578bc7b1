/**
 * The running kernel's BTF: /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF, kernel 5.4+) and
 * the split BTF of loaded modules, /sys/kernel/btf/<module> (CONFIG_DEBUG_INFO_BTF_MODULES,
 * 5.11+). The only part of btf/ that touches the file system. Results are memoized for the
 * life of the process; flushKernelSpecs() forgets them (after loading a module, in tests).
 */

import { readdirSync, readFileSync } from 'node:fs';
import { NotSupportedError } from '../errors.js';
import { Spec } from './spec.js';
import { BtfNotFoundError } from './util.js';

/** Where the kernel exposes its BTF. */
export const KERNEL_BTF_DIR = '/sys/kernel/btf';

let vmlinux: Spec | undefined;
const modules = new Map<string, Spec>();

function isMissing(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The kernel's own BTF (memoized). Throws NotSupportedError when the kernel exposes none. */
export function loadKernelSpec(): Spec {
  if (vmlinux) return vmlinux;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(`${KERNEL_BTF_DIR}/vmlinux`);
  } catch (err) {
    if (isMissing(err)) {
      throw new NotSupportedError('kernel BTF (CONFIG_DEBUG_INFO_BTF)', `no kernel BTF: ${KERNEL_BTF_DIR}/vmlinux is missing`, { cause: err });
    }
    throw err;
  }
  vmlinux = Spec.parse(bytes);
  return vmlinux;
}

/**
 * The split BTF of kernel module `name` on top of vmlinux's (memoized). Throws
 * BtfNotFoundError when the module isn't loaded or has no BTF.
 */
export function loadKernelModuleSpec(name: string): Spec {
  const known = modules.get(name);
  if (known) return known;
  if (name === 'vmlinux') return loadKernelSpec();
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === '.' || name === '..') throw new BtfNotFoundError(`invalid kernel module name '${name}'`);
  const base = loadKernelSpec();
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(`${KERNEL_BTF_DIR}/${name}`);
  } catch (err) {
    if (isMissing(err)) throw new BtfNotFoundError(`no BTF for kernel module '${name}' (not loaded, or built without BTF)`);
    throw err;
  }
  const spec = Spec.parse(bytes, { base });
  modules.set(name, spec);
  return spec;
}

/** Names of the loaded kernel modules that have BTF (the entries of /sys/kernel/btf but vmlinux), sorted. */
export function listKernelModules(): string[] {
  try {
    return readdirSync(KERNEL_BTF_DIR)
      .filter((n) => n !== 'vmlinux')
      .sort();
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

/** Forgets the memoized kernel and module Specs. */
export function flushKernelSpecs(): void {
  vmlinux = undefined;
  modules.clear();
}
