/**
 * `ebpf-ts map ...`, as bpftool prints it (tools/bpf/bpftool/map.c):
 *   map { show | list } [MAP]
 *   map dump MAP
 *   map lookup MAP [key DATA]
 *   map getnext MAP [key DATA]
 *   map update MAP [key DATA] [value VALUE] [UPDATE_FLAGS]
 *   map delete MAP key DATA
 *   map pin MAP FILE
 * where MAP is `id N`, `pinned PATH` or `name NAME`; DATA is `[hex] BYTES`; VALUE is DATA,
 * or PROG (`id N` / `pinned PATH`) for program arrays and MAP for maps of maps; UPDATE_FLAGS
 * is `any`, `exist` or `noexist`.
 *
 * Entries are formatted through BTF when the map has BTF (bpftool's JSON-like text layout;
 * with -j, the raw bytes plus a `formatted` object), as hex otherwise.
 */
import type { Spec, Type } from '../btf/index.js';
import { loadKernelSpec } from '../btf/index.js';
import { BpfError } from '../errors.js';
import { loadBtfById } from '../programs/kernel_btf.js';
import {
  FD,
  MapType,
  PERCPU_MAP_TYPES,
  UpdateFlags,
  errno,
  mapDeleteElem,
  mapGetNextKey,
  mapInfo,
  mapLookupElem,
  mapUpdateElem,
  possibleCpuCount,
  type MapInfo,
} from '../sys/index.js';
import { dumpType } from './btf_dumper.js';
import { CliError, CliUsageError, endJson, hexLine, isPrefix, jsonWriter, parseBytes, parseObject, parseObjects, type CliContext } from './common.js';
import { JsonWriter } from './json_writer.js';
import { pinCommand } from './prog.js';
import { mapTypeName, showMaps } from './show.js';

export function mapCommand(args: string[], ctx: CliContext): number {
  const [command = 'show', ...rest] = args;
  if (isPrefix(command, 'show') || isPrefix(command, 'list')) return mapShow(rest, ctx);
  if (isPrefix(command, 'dump')) return mapDump(rest, ctx);
  if (isPrefix(command, 'lookup')) return mapLookup(rest, ctx);
  if (isPrefix(command, 'getnext')) return mapGetNext(rest, ctx);
  if (isPrefix(command, 'update')) return mapUpdate(rest, ctx);
  if (isPrefix(command, 'delete')) return mapDelete(rest, ctx);
  if (isPrefix(command, 'pin')) return pinCommand('map', rest, ctx);
  throw new CliUsageError(`unknown map command '${command}'`);
}

function mapShow(args: string[], ctx: CliContext): number {
  let ids: number[] | undefined;
  if (args.length) {
    const { value: fds, rest } = parseObjects('map', args);
    try {
      ids = fds.map((fd) => mapInfo(fd.value).id);
    } finally {
      for (const fd of fds) fd.close();
    }
    if (rest.length) throw new CliUsageError(`unexpected argument '${rest[0]}'`);
  }
  const text = showMaps(ctx.json, ids, ctx.pretty);
  ctx.out(ctx.json ? text + '\n' : text);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// helpers

const isPerCpu = (info: MapInfo) => PERCPU_MAP_TYPES.has(info.type);
const isMapOfMaps = (info: MapInfo) => info.type === MapType.ARRAY_OF_MAPS || info.type === MapType.HASH_OF_MAPS;
const isProgArray = (info: MapInfo) => info.type === MapType.PROG_ARRAY;

/** Bytes of a value as userspace reads it: one 8-byte aligned slot per possible CPU for per-CPU maps. */
function userValueSize(info: MapInfo): number {
  return isPerCpu(info) ? Math.ceil(info.valueSize / 8) * 8 * possibleCpuCount() : info.valueSize;
}

/** glibc's strerror text, which bpftool prints for failed lookups. */
const STRERROR: Record<number, string> = {
  [errno.EPERM]: 'Operation not permitted',
  [errno.ENOENT]: 'No such file or directory',
  [errno.E2BIG]: 'Argument list too long',
  [errno.EBADF]: 'Bad file descriptor',
  [errno.EAGAIN]: 'Resource temporarily unavailable',
  [errno.ENOMEM]: 'Cannot allocate memory',
  [errno.EACCES]: 'Permission denied',
  [errno.EFAULT]: 'Bad address',
  [errno.EBUSY]: 'Device or resource busy',
  [errno.EEXIST]: 'File exists',
  [errno.EINVAL]: 'Invalid argument',
  [errno.ENOSPC]: 'No space left on device',
  [errno.ERANGE]: 'Numerical result out of range',
  [errno.EOPNOTSUPP]: 'Operation not supported',
  524: 'Unknown error 524',
};
const strerror = (e: number) => STRERROR[e] ?? `Unknown error ${e}`;

interface KvBtf {
  spec: Spec;
  key: Type | undefined;
  value: Type;
}

/** The BTF types of a map's key and value (bpftool's get_map_kv_btf), if it has them. */
function mapKvBtf(info: MapInfo): KvBtf | undefined {
  let spec: Spec;
  let valueId: number;
  if (info.btfVmlinuxValueTypeId) {
    spec = loadKernelSpec();
    valueId = info.btfVmlinuxValueTypeId;
  } else if (info.btfValueTypeId) {
    spec = loadBtfById(info.btfId);
    valueId = info.btfValueTypeId;
  } else {
    return undefined;
  }
  const key = info.btfKeyTypeId ? spec.typeById(info.btfKeyTypeId) : undefined;
  return { spec, key, value: spec.typeById(valueId) };
}

/** bpftool's do_dump_btf: `{"key": ..., "value": ...}` or `"values": [{"cpu": N, "value": ...}]`. */
function dumpBtfEntry(w: JsonWriter, info: MapInfo, btf: KvBtf, key: Uint8Array, value: Uint8Array, plain: boolean): void {
  const opts = { plain };
  w.startObject();
  if (btf.key) {
    w.name('key');
    if (!dumpType(w, btf.key, 0, key, 0, opts)) {
      w.endObject();
      return;
    }
  }
  if (!isPerCpu(info)) {
    w.name('value');
    dumpType(w, btf.value, 0, value, 0, opts);
  } else {
    w.name('values').startArray();
    const step = Math.ceil(info.valueSize / 8) * 8;
    const n = possibleCpuCount();
    for (let cpu = 0; cpu < n; cpu++) {
      w.startObject().numberField('cpu', cpu).name('value');
      const ok = dumpType(w, btf.value, 0, value, cpu * step, opts);
      w.endObject();
      if (!ok) break;
    }
    w.endArray();
  }
  w.endObject();
}

/** bpftool's print_entry_json: raw bytes, plus `formatted` when the map has BTF. */
function entryJson(w: JsonWriter, info: MapInfo, btf: KvBtf | undefined, key: Uint8Array, value: Uint8Array): void {
  w.startObject();
  w.name('key').hexBytes(key);
  if (!isPerCpu(info)) {
    w.name('value').hexBytes(value.subarray(0, info.valueSize));
  } else {
    const step = Math.ceil(info.valueSize / 8) * 8;
    w.name('values').startArray();
    for (let cpu = 0, n = possibleCpuCount(); cpu < n; cpu++) {
      w.startObject().numberField('cpu', cpu).name('value').hexBytes(value.subarray(cpu * step, cpu * step + info.valueSize)).endObject();
    }
    w.endArray();
  }
  if (btf) {
    w.name('formatted');
    dumpBtfEntry(w, info, btf, key, value, false);
  }
  w.endObject();
}

/** bpftool's print_entry_plain: `key: 01 00 00 00  value: 05 00 ...`, wrapping long ones. */
function entryPlain(info: MapInfo, key: Uint8Array, value: Uint8Array): string {
  let s = '';
  if (!isPerCpu(info)) {
    const breakNames = info.keySize > 16 || info.valueSize > 16;
    const singleLine = info.keySize + info.valueSize <= 24 && !breakNames;
    if (info.keySize) s += `key:${breakNames ? '\n' : ' '}${hexWrapped(key)}${singleLine ? '  ' : '\n'}`;
    if (info.valueSize) s += `value:${breakNames ? '\n' : ' '}${hexWrapped(value.subarray(0, info.valueSize))}`;
    return s + '\n';
  }
  if (info.keySize) s += `key:\n${hexWrapped(key)}\n`;
  const step = Math.ceil(info.valueSize / 8) * 8;
  if (info.valueSize) {
    for (let cpu = 0, n = possibleCpuCount(); cpu < n; cpu++) {
      s += `value (CPU ${String(cpu).padStart(2, '0')}):${info.valueSize > 16 ? '\n' : ' '}${hexWrapped(value.subarray(cpu * step, cpu * step + info.valueSize))}\n`;
    }
  }
  return s;
}

/**
 * bpftool's fprint_hex with " ": bytes separated by spaces, two spaces after every 8th byte
 * and a new line after every 16th.
 */
function hexWrapped(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i) s += i % 16 === 0 ? '\n' : i % 8 === 0 ? '  ' : ' ';
    s += bytes[i]!.toString(16).padStart(2, '0');
  }
  return s;
}

/** bpftool's print_entry_error (a lookup that failed during a dump). */
function entryError(info: MapInfo, key: Uint8Array, e: number, w: JsonWriter | undefined, json: boolean): string {
  // For program arrays and maps of maps a missing value means an empty slot: nothing to print.
  if ((isMapOfMaps(info) || isProgArray(info)) && e === errno.ENOENT) return '';
  if (json && w) {
    w.startObject().name('key').hexBytes(key).name('value').startObject().stringField('error', strerror(e)).endObject().endObject();
    return '';
  }
  const msg = e === errno.ENOENT ? '<no entry>' : e === errno.ENOSPC && info.type === MapType.REUSEPORT_SOCKARRAY ? '<cannot read>' : strerror(e);
  const breakNames = info.keySize > 16 || msg.length > 16;
  const singleLine = info.keySize + msg.length <= 24 && !breakNames;
  return `key:${breakNames ? '\n' : ' '}${hexWrapped(key)}${singleLine ? '  ' : '\n'}value:${breakNames ? '\n' : ' '}${msg}\n`;
}

function lookup(fd: number, key: Uint8Array | null, value: Uint8Array): number {
  try {
    return mapLookupElem(fd, key, value) ? 0 : errno.ENOENT;
  } catch (e) {
    if (e instanceof BpfError) return e.errno;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// map dump

function mapDump(args: string[], ctx: CliContext): number {
  const { value: fds, rest } = parseObjects('map', args);
  try {
    if (rest.length) throw new CliUsageError(`unexpected argument '${rest[0]}'`);
    const infos = fds.map((fd) => mapInfo(fd.value));
    const many = fds.length > 1;
    // Text output goes through a pretty JSON writer when every map has BTF, as bpftool's.
    const w = ctx.json ? jsonWriter(ctx) : infos.every((i) => i.btfId) ? new JsonWriter(true) : undefined;
    let out = '';
    const flush = () => {
      if (w) out += w.take();
    };
    if (w && many) w.startArray();
    fds.forEach((fd, i) => {
      const info = infos[i]!;
      const btf = w ? mapKvBtf(info) : undefined;
      if (w && many) {
        w.startObject();
        w.numberField('id', info.id).stringField('type', mapTypeName(info.type));
        if (info.name) w.stringField('name', info.name);
        w.name('flags').raw(String(info.flags | 0));
        w.name('elements');
      } else if (many) {
        out += `${info.id}: ${mapTypeName(info.type)}  ${info.name ? `name ${info.name}  ` : ''}flags 0x${info.flags.toString(16)}\n`;
      }
      if (w) w.startArray();
      const key = new Uint8Array(info.keySize);
      const value = new Uint8Array(userValueSize(info));
      let count = 0;
      let prev: Uint8Array | null = null;
      for (;;) {
        let more: boolean;
        try {
          more = mapGetNextKey(fd.value, prev, key);
        } catch (e) {
          flush();
          const hint = info.type === MapType.QUEUE || info.type === MapType.STACK ? `: ${mapTypeName(info.type)} maps have no keys to walk; 'map lookup' peeks at the next value` : '';
          throw new CliError(`can't get next key of map ${info.id} (${mapTypeName(info.type)}): ${(e as Error).message}${hint}`);
        }
        if (!more) break;
        const err = lookup(fd.value, key, value);
        if (err) {
          flush();
          out += entryError(info, key, err, w, ctx.json);
        } else {
          count++;
          if (ctx.json) entryJson(w!, info, btf, key, value);
          else if (w && btf) dumpBtfEntry(w, info, btf, key, value, true);
          else {
            flush();
            out += entryPlain(info, key, value);
          }
        }
        prev = prev ?? new Uint8Array(info.keySize);
        prev.set(key);
      }
      if (w) {
        w.endArray();
        if (many) w.endObject();
      } else {
        out += `Found ${count} element${count !== 1 ? 's' : ''}\n`;
      }
      if (!w && many && i !== fds.length - 1) out += '\n';
    });
    if (w && many) w.endArray();
    flush();
    ctx.out(w ? out + '\n' : out);
    return 0;
  } finally {
    for (const fd of fds) fd.close();
  }
}

// ---------------------------------------------------------------------------------------------
// lookup, getnext, update, delete

/** Parses `key DATA` for a map with `keySize`-byte keys. */
function parseKey(args: string[], keySize: number): { key: Uint8Array | null; rest: string[] } {
  if (!args.length) {
    if (keySize) throw new CliUsageError('did not find key');
    return { key: null, rest: [] };
  }
  if (!isPrefix(args[0], 'key')) throw new CliUsageError(`expected key, got: ${args[0]}`);
  if (!keySize) throw new CliUsageError('unnecessary key');
  const { value, rest } = parseBytes(args.slice(1), 'key', keySize);
  return { key: value, rest };
}

function mapLookup(args: string[], ctx: CliContext): number {
  const { value: fd, rest } = parseObject('map', args);
  try {
    const info = mapInfo(fd.value);
    const { key, rest: extra } = parseKey(rest, info.keySize);
    if (extra.length) throw new CliUsageError(`unexpected argument '${extra[0]}'`);
    const value = new Uint8Array(userValueSize(info));
    const err = lookup(fd.value, key, value);
    const keyBytes = key ?? new Uint8Array(0);
    if (err === errno.ENOENT) {
      ctx.out(ctx.json ? 'null\n' : `key:\n${hexWrapped(keyBytes)}\n\nNot found\n`);
      // bpftool exits with an error here too; the key's absence is the answer, so say so.
      return 1;
    }
    if (err) throw new CliError(`lookup failed: ${strerror(err)}`, 'ERR_LOOKUP');
    const btf = mapKvBtf(info);
    if (ctx.json) {
      const w = jsonWriter(ctx);
      entryJson(w, info, btf, keyBytes, value);
      endJson(ctx, w);
    } else if (btf) {
      const w = new JsonWriter(true);
      dumpBtfEntry(w, info, btf, keyBytes, value, true);
      ctx.out(w.take() + '\n');
    } else {
      ctx.out(entryPlain(info, keyBytes, value));
    }
    return 0;
  } finally {
    fd.close();
  }
}

function mapGetNext(args: string[], ctx: CliContext): number {
  const { value: fd, rest } = parseObject('map', args);
  try {
    const info = mapInfo(fd.value);
    const { key, rest: extra } = rest.length ? parseKey(rest, info.keySize) : { key: null, rest: [] };
    if (extra.length) throw new CliUsageError(`unexpected argument '${extra[0]}'`);
    const next = new Uint8Array(info.keySize);
    let found: boolean;
    try {
      found = mapGetNextKey(fd.value, key, next);
    } catch (e) {
      throw new CliError(`can't get next key: ${e instanceof BpfError ? strerror(e.errno) : (e as Error).message}`);
    }
    if (!found) throw new CliError(key ? 'can\'t get next key: no key after this one (it is the last)' : 'can\'t get next key: the map is empty', 'ENOENT');
    if (ctx.json) {
      const w = jsonWriter(ctx).startObject();
      if (key) w.name('key').hexBytes(key);
      else w.nullField('key');
      w.name('next_key').hexBytes(next).endObject();
      endJson(ctx, w);
    } else {
      ctx.out(`${key ? `key:\n${hexWrapped(key)}\n` : 'key: None\n'}next key:\n${hexWrapped(next)}\n`);
    }
    return 0;
  } finally {
    fd.close();
  }
}

function mapDelete(args: string[], ctx: CliContext): number {
  const { value: fd, rest } = parseObject('map', args);
  try {
    const info = mapInfo(fd.value);
    const { key, rest: extra } = parseKey(rest, info.keySize);
    if (extra.length) throw new CliUsageError(`unexpected argument '${extra[0]}'`);
    let deleted: boolean;
    try {
      deleted = mapDeleteElem(fd.value, key ?? new Uint8Array(0));
    } catch (e) {
      throw new CliError(`delete failed: ${e instanceof BpfError ? strerror(e.errno) : (e as Error).message}`);
    }
    if (!deleted) throw new CliError(`delete failed: no entry with key ${hexLine(key ?? new Uint8Array(0))}`, 'ENOENT');
    if (ctx.json) ctx.out('null\n');
    return 0;
  } finally {
    fd.close();
  }
}

function mapUpdate(args: string[], ctx: CliContext): number {
  const { value: fd, rest } = parseObject('map', args);
  const valueFds: FD[] = [];
  try {
    const info = mapInfo(fd.value);
    let key: Uint8Array | null = null;
    let value: Uint8Array | undefined;
    let flags: number | undefined;
    let a = rest;
    while (a.length) {
      const word = a[0]!;
      if (isPrefix(word, 'key')) {
        if (key) throw new CliUsageError('duplicate key');
        if (!info.keySize) throw new CliUsageError('unnecessary key');
        const r = parseBytes(a.slice(1), 'key', info.keySize);
        key = r.value;
        a = r.rest;
      } else if (isPrefix(word, 'value')) {
        if (value) throw new CliUsageError('duplicate value');
        if (!info.valueSize) throw new CliUsageError('unnecessary value');
        if (isMapOfMaps(info) || isProgArray(info)) {
          // The value is the fd of a map (map of maps) or program (program array).
          const kind = isProgArray(info) ? 'prog' : 'map';
          const r = parseObject(kind, a.slice(1));
          valueFds.push(r.value);
          value = new Uint8Array(4);
          new DataView(value.buffer).setUint32(0, r.value.value, true);
          a = r.rest;
        } else {
          const r = parseBytes(a.slice(1), 'value', info.valueSize);
          value = new Uint8Array(userValueSize(info));
          // A per-CPU map gets the same value on every CPU, as bpftool's fill_per_cpu_value.
          const step = Math.ceil(info.valueSize / 8) * 8;
          for (let off = 0; off < value.length; off += step) value.set(r.value, off);
          a = r.rest;
        }
      } else if (isPrefix(word, 'any') || isPrefix(word, 'noexist') || isPrefix(word, 'exist')) {
        if (flags !== undefined) throw new CliUsageError(`flags specified multiple times: ${word}`);
        flags = isPrefix(word, 'any') ? UpdateFlags.ANY : isPrefix(word, 'noexist') ? UpdateFlags.NOEXIST : UpdateFlags.EXIST;
        a = a.slice(1);
      } else {
        throw new CliUsageError(`expected key or value, got: ${word}`);
      }
    }
    if (info.keySize && !key) throw new CliUsageError('did not find key');
    if (info.valueSize && !value) throw new CliUsageError('did not find value');
    try {
      mapUpdateElem(fd.value, key, value ?? new Uint8Array(0), flags ?? UpdateFlags.ANY);
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      const why = e.errno === errno.EEXIST ? ': the key exists (noexist)' : e.errno === errno.ENOENT ? ': no such key (exist)' : e.errno === errno.E2BIG ? ': the map is full' : '';
      throw new CliError(`update failed: ${strerror(e.errno)}${why}`, e.code);
    }
    if (ctx.json) ctx.out('null\n');
    return 0;
  } finally {
    for (const f of valueFds) f.close();
    fd.close();
  }
}
