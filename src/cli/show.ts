/**
 * `prog show|list` and `map show|list` in bpftool's text layout, or JSON with bpftool's field
 * names (`-j`). Layout as bpftool 7.x prints it (tools/bpf/bpftool/prog.c, map.c).
 */
import { readFileSync } from 'node:fs';
import { MAP_TYPE_NAMES, PROG_TYPE_NAMES, getFdById, listIds, mapInfo, progInfo, type FD, type MapInfo, type ProgInfo } from '../sys/index.js';
import { fullProgramName } from '../programs/program.js';
import { JsonWriter } from './json_writer.js';

/** The fields of /proc/self/fdinfo/<fd> ("memlock", "frozen"...), as bpftool reads them. */
export function readFdinfo(fd: number): Map<string, string> {
  const fields = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  } catch {
    return fields;
  }
  for (const m of text.matchAll(/^([\w-]+):\s*(\S+)/gm)) fields.set(m[1]!, m[2]!);
  return fields;
}

let bootEpochCache: number | undefined;
/** Wall-clock time of boot in seconds, read once: load times are nanoseconds since boot. */
function bootEpoch(): number {
  bootEpochCache ??= Date.now() / 1000 - Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return bootEpochCache;
}

/** Load time (ns since boot) as bpftool's ISO-like local time `2026-11-22T00:35:48+0000`. */
export function formatBootTime(ns: bigint): { text: string; epoch: number } {
  const epoch = Math.floor(bootEpoch() + Number(ns) / 1e9);
  const d = new Date(epoch * 1000);
  const off = -d.getTimezoneOffset();
  const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');
  const local = new Date(epoch * 1000 + off * 60000);
  const text =
    `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T` +
    `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}` +
    `${off >= 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
  return { text, epoch };
}

export function progTypeName(t: number): string {
  return PROG_TYPE_NAMES[t] || `type ${t}`;
}
export function mapTypeName(t: number): string {
  return MAP_TYPE_NAMES[t] || `type ${t}`;
}

/** The first line of `prog show` (bpftool's print_prog_header_plain), with its newline. */
export function progHeaderPlain(fd: number, info: ProgInfo): string {
  let s = `${info.id}: ${progTypeName(info.type)}  `;
  if (info.name) s += `name ${fullProgramName(fd, info)}  `;
  s += `tag ${info.tag}`;
  if (info.gplCompatible) s += '  gpl';
  if (info.runTimeNs) s += ` run_time_ns ${info.runTimeNs} run_cnt ${info.runCnt}`;
  if (info.recursionMisses) s += ` recursion_misses ${info.recursionMisses}`;
  return s + '\n';
}

/** The header fields of `prog show -j` (bpftool's print_prog_header_json). */
export function progHeaderJson(fd: number, info: ProgInfo): Record<string, unknown> {
  const o: Record<string, unknown> = { id: info.id, type: progTypeName(info.type) };
  if (info.name) o.name = fullProgramName(fd, info);
  o.tag = info.tag;
  o.gpl_compatible = info.gplCompatible;
  if (info.runTimeNs) {
    o.run_time_ns = info.runTimeNs;
    o.run_cnt = info.runCnt;
  }
  if (info.recursionMisses) o.recursion_misses = info.recursionMisses;
  return o;
}

export function progPlain(fd: number, info: ProgInfo): string {
  let s = progHeaderPlain(fd, info);
  if (info.loadTime) s += `\tloaded_at ${formatBootTime(info.loadTime).text}  uid ${info.createdByUid}\n`;
  s += `\txlated ${info.xlatedProgLen}B`;
  s += info.jitedProgLen ? `  jited ${info.jitedProgLen}B` : '  not jited';
  const memlock = readFdinfo(fd).get('memlock');
  if (memlock) s += `  memlock ${memlock}B`;
  if (info.mapIds.length) s += `  map_ids ${info.mapIds.join(',')}`;
  s += '\n';
  if (info.btfId) s += `\tbtf_id ${info.btfId}\n`;
  return s;
}

export function progJson(fd: number, info: ProgInfo): Record<string, unknown> {
  const o = progHeaderJson(fd, info);
  if (info.loadTime) {
    o.loaded_at = formatBootTime(info.loadTime).epoch;
    o.uid = info.createdByUid;
  }
  o.bytes_xlated = info.xlatedProgLen;
  o.jited = info.jitedProgLen > 0;
  if (info.jitedProgLen) o.bytes_jited = info.jitedProgLen;
  const memlock = readFdinfo(fd).get('memlock');
  if (memlock) o.bytes_memlock = Number(memlock);
  if (info.mapIds.length) o.map_ids = info.mapIds;
  if (info.btfId) o.btf_id = info.btfId;
  return o;
}

export function mapPlain(fd: number, info: MapInfo): string {
  let s = `${info.id}: ${mapTypeName(info.type)}  `;
  if (info.name) s += `name ${info.name}  `;
  s += `flags 0x${info.flags.toString(16)}`;
  s += '\n';
  s += `\tkey ${info.keySize}B  value ${info.valueSize}B  max_entries ${info.maxEntries}`;
  const fdinfo = readFdinfo(fd);
  const memlock = fdinfo.get('memlock');
  if (memlock) s += `  memlock ${memlock}B`;
  s += '\n';
  if (fdinfo.get('frozen') === '1') s += '\tfrozen\n';
  if (info.btfId) s += `\tbtf_id ${info.btfId}\n`;
  return s;
}

export function mapJson(fd: number, info: MapInfo): Record<string, unknown> {
  const o: Record<string, unknown> = { id: info.id, type: mapTypeName(info.type) };
  if (info.name) o.name = info.name;
  o.flags = info.flags;
  o.bytes_key = info.keySize;
  o.bytes_value = info.valueSize;
  o.max_entries = info.maxEntries;
  const fdinfo = readFdinfo(fd);
  const memlock = fdinfo.get('memlock');
  if (memlock) o.bytes_memlock = Number(memlock);
  o.frozen = Number(fdinfo.get('frozen') ?? 0);
  if (info.btfId) o.btf_id = info.btfId;
  return o;
}

/** Opens every object of a kind (skipping ones that vanish meanwhile) and formats it. */
export function showAll<T>(kind: 'prog' | 'map', ids: number[] | undefined, fmt: (fd: FD) => T): T[] {
  const out: T[] = [];
  for (const id of ids ?? listIds(kind)) {
    let fd: FD;
    try {
      fd = getFdById(kind, id);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT' && !ids) continue; // went away
      throw e;
    }
    try {
      out.push(fmt(fd));
    } finally {
      fd.close();
    }
  }
  return out;
}

/**
 * `prog show` of the given programs (all when `ids` is undefined). JSON output is bpftool's:
 * an array when listing everything, one object for a single `id`/`pinned` program.
 */
export function showPrograms(json: boolean, ids?: number[], pretty = false): string {
  if (json) return jsonList(showAll('prog', ids, (fd) => progJson(fd.value, progInfo(fd.value))), ids, pretty);
  return showAll('prog', ids, (fd) => progPlain(fd.value, progInfo(fd.value))).join('');
}

export function showMaps(json: boolean, ids?: number[], pretty = false): string {
  if (json) return jsonList(showAll('map', ids, (fd) => mapJson(fd.value, mapInfo(fd.value))), ids, pretty);
  return showAll('map', ids, (fd) => mapPlain(fd.value, mapInfo(fd.value))).join('');
}

/** bpftool prints one object for `show id N`, an array otherwise; no trailing newline here. */
function jsonList(objects: Record<string, unknown>[], ids: number[] | undefined, pretty: boolean): string {
  const w = new JsonWriter(pretty);
  w.value(ids?.length === 1 ? objects[0] : objects);
  return w.text;
}
