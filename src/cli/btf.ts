/**
 * `ebpf-ts btf dump file PATH [format c|ts|raw]`: the types of a BTF blob as a C header
 * (vmlinux.h, which clang compiles BPF programs against), TypeScript declarations, or bpftool's
 * raw listing. PATH is raw BTF (/sys/kernel/btf/vmlinux, a module's split BTF under
 * /sys/kernel/btf, a .btf file) or an ELF object with a .BTF section.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { FormatError } from '../errors.js';
import { ElfFile } from '../elf/index.js';
import { KERNEL_BTF_DIR, Spec, formatTypeRaw, loadKernelSpec, writeCHeader, writeTypeScript } from '../btf/index.js';

export class BtfUsageError extends Error {}

/** The Spec of a BTF file or of an ELF object's .BTF section. */
export function readBtfFile(path: string): Spec {
  const bytes = readFileSync(path);
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    const elf = ElfFile.parse(bytes);
    const s = elf.sectionByName('.BTF');
    if (!s) throw new FormatError('ERR_BTF', `${path}: ELF file without a .BTF section`);
    return Spec.parse(s.data());
  }
  const abs = resolvePath(path);
  // Module BTF is split BTF on top of vmlinux's, as bpftool assumes for /sys/kernel/btf/*.
  if (dirname(abs) === KERNEL_BTF_DIR && !abs.endsWith('/vmlinux')) return Spec.parse(bytes, { base: loadKernelSpec() });
  return Spec.parse(bytes);
}

/** Runs `btf dump file PATH [format FORMAT]` (the arguments after `btf`); returns the output. */
export function btfCommand(args: string[]): string {
  const [cmd, what, path, ...rest] = args;
  if (cmd !== 'dump') throw new BtfUsageError(`unknown btf command '${cmd ?? ''}' (expected 'dump')`);
  if (what !== 'file' || !path) throw new BtfUsageError('usage: btf dump file PATH [format c|ts|raw]');
  let format = 'raw';
  for (let i = 0; i < rest.length; i += 2) {
    if (rest[i] === 'format' && rest[i + 1]) format = rest[i + 1]!;
    else throw new BtfUsageError(`btf dump: unexpected argument '${rest[i]}'`);
  }
  const spec = readBtfFile(path);
  switch (format) {
    case 'c':
      return writeCHeader(spec.types());
    case 'ts':
      return writeTypeScript([...spec.types()]);
    case 'raw': {
      const lines: string[] = [];
      for (const t of spec.types()) lines.push(formatTypeRaw(t));
      return lines.join('\n') + '\n';
    }
    default:
      throw new BtfUsageError(`unknown format '${format}' (expected c, ts or raw)`);
  }
}
