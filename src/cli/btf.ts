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
import { loadBtfById } from '../programs/kernel_btf.js';
import { btfInfo, mapInfo, openEach, progInfo, type FD } from '../sys/index.js';
import { openById } from './common.js';
import { JsonWriter } from './json_writer.js';

export class BtfUsageError extends Error {}

/**
 * The order in which libbpf's hashmap (hashmap__append, then hashmap__for_each_key_entry)
 * gives back the values stored under one key, which is the order bpftool prints a BTF
 * object's prog_ids and map_ids in. Entries go to the head of their bucket's chain, and each
 * time the table grows (to 4 buckets, then doubling when (size + 1) * 4 / 3 exceeds the
 * capacity) every chain is rebuilt the same way, which reverses it.
 */
export function libbpfHashmapOrder(pairs: readonly (readonly [number, number])[]): Map<number, number[]> {
  const lists = new Map<number, number[]>();
  let cap = 0;
  let size = 0;
  for (const [key, value] of pairs) {
    if (cap === 0 || Math.floor(((size + 1) * 4) / 3) > cap) {
      cap = cap ? cap * 2 : 4;
      for (const l of lists.values()) l.reverse();
    }
    let l = lists.get(key);
    if (!l) lists.set(key, (l = []));
    l.unshift(value);
    size++;
  }
  return lists;
}

/** Which programs and maps use which BTF object, in bpftool's order. */
function btfUsers(): { progs: Map<number, number[]>; maps: Map<number, number[]> } {
  const collect = (kind: 'prog' | 'map') => {
    const pairs: [number, number][] = [];
    for (using fd of openEach(kind)) {
      const { id, btfId } = kind === 'prog' ? progInfo(fd.value) : mapInfo(fd.value);
      if (btfId) pairs.push([btfId, id]);
    }
    return libbpfHashmapOrder(pairs);
  };
  return { progs: collect('prog'), maps: collect('map') };
}

/** `btf show [id N]`: bpftool's layout (`7: name <anon>  size 1054B  prog_ids 5  map_ids 3`), or -j objects. */
export function btfShow(args: string[], json: boolean, pretty = false): string {
  let only: number | undefined;
  if (args.length) {
    if (args[0] !== 'id' || !args[1] || !/^\d+$/.test(args[1]) || args.length > 2) throw new BtfUsageError(`expected 'id ID', got: '${args.join(' ')}'`);
    only = Number(args[1]);
  }
  const users = btfUsers();
  const w = new JsonWriter(pretty);
  let text = '';
  const show = (fd: FD) => {
    const info = btfInfo(fd.value);
    const progs = users.progs.get(info.id) ?? [];
    const maps = users.maps.get(info.id) ?? [];
    if (json) {
      w.startObject().numberField('id', info.id).numberField('size', info.size);
      w.name('prog_ids').value(progs).name('map_ids').value(maps);
      w.boolField('kernel', info.kernelBtf);
      if (info.name) w.stringField('name', info.name);
      w.endObject();
    } else {
      text += `${info.id}: `;
      text += info.kernelBtf ? `name [${info.name}]  ` : info.name ? `name ${info.name}  ` : 'name <anon>  ';
      text += `size ${info.size}B`;
      if (progs.length) text += `  prog_ids ${progs.join(',')}`;
      if (maps.length) text += `  map_ids ${maps.join(',')}`;
      text += '\n';
    }
  };
  if (only !== undefined) {
    using fd = openById('btf', only);
    show(fd);
  } else {
    if (json) w.startArray();
    for (using fd of openEach('btf')) show(fd);
    if (json) w.endArray();
  }
  return json ? w.take() + '\n' : text;
}

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

/**
 * Runs `btf dump file PATH|id ID [format FORMAT]` or `btf show|list [id ID]` (the arguments
 * after `btf`); returns the output.
 */
export function btfCommand(args: string[], opts: { json?: boolean; pretty?: boolean } = {}): string {
  const [cmd, what, path, ...rest] = args;
  if (cmd === undefined || cmd === 'show' || cmd === 'list') return btfShow(args.slice(1), opts.json ?? false, opts.pretty ?? false);
  if (cmd !== 'dump') throw new BtfUsageError(`unknown btf command '${cmd}' (expected 'dump', 'show' or 'list')`);
  if ((what !== 'file' && what !== 'id') || !path) throw new BtfUsageError('usage: btf dump { file PATH | id ID } [format c|ts|raw]');
  if (what === 'id' && !/^\d+$/.test(path)) throw new BtfUsageError(`can't parse ${path} as ID`);
  let format = 'raw';
  for (let i = 0; i < rest.length; i += 2) {
    if (rest[i] === 'format' && rest[i + 1]) format = rest[i + 1]!;
    else throw new BtfUsageError(`btf dump: unexpected argument '${rest[i]}'`);
  }
  const spec = what === 'id' ? loadBtfById(Number(path)) : readBtfFile(path);
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
