/**
 * Probes of what the running kernel supports, memoized per process.
 *
 * A program type is available when a minimal program of that type (`r0 = 0; exit`) loads; a map
 * type when a minimal map of it can be created, with the attributes each type insists on (as
 * libbpf's probes do). Types that can't be created without more context (a BTF id of a kernel
 * function or struct) are probed for the kernel knowing the type at all: the kernel answers
 * EINVAL for an unknown type before it looks at the rest of the attributes.
 */
import { NotSupportedError } from '../errors.js';
import { exit, mov64Imm, encodeInstructions } from '../asm/index.js';
import {
  MAP_TYPE_NAMES,
  MapFlags,
  MapType,
  PROG_TYPE_NAMES,
  ProgType,
  btfLoadRaw,
  mapCreate,
  progLoadRaw,
  FD,
  type MapCreateAttr,
} from '../sys/index.js';

export type ProbeResult = 'available' | 'unavailable';

const progCache = new Map<number, ProbeResult>();
const mapCache = new Map<number, ProbeResult>();

const TRIVIAL = encodeInstructions([mov64Imm(0, 0), exit()]);

/** Program types that need an attach target's BTF id to load at all. */
const NEEDS_BTF_ID = new Set<number>([ProgType.TRACING, ProgType.EXT, ProgType.LSM, ProgType.STRUCT_OPS]);

/** Expected attach types some program types require at load time. */
export const EXPECTED_ATTACH: Partial<Record<number, number>> = {
  [ProgType.CGROUP_SOCK_ADDR]: 10, // BPF_CGROUP_INET4_CONNECT
  [ProgType.SK_LOOKUP]: 36, // BPF_SK_LOOKUP
  [ProgType.NETFILTER]: 45, // BPF_NETFILTER
  [ProgType.CGROUP_SOCKOPT]: 21, // BPF_CGROUP_GETSOCKOPT
};

export function probeProgramType(type: number): ProbeResult {
  const cached = progCache.get(type);
  if (cached) return cached;
  const { result } = progLoadRaw({
    progType: type,
    insns: TRIVIAL,
    license: 'GPL',
    expectedAttachType: EXPECTED_ATTACH[type] ?? 0,
    progFlags: type === ProgType.SYSCALL ? 1 << 4 /* sleepable */ : 0,
  });
  let res: ProbeResult;
  if (result >= 0) {
    new FD(result).close();
    res = 'available';
  } else if (NEEDS_BTF_ID.has(type)) {
    // As libbpf probes them: with attach_btf_id 1 (never a function or struct_ops type) a kernel
    // that supports the type gets as far as checking the target and says so in the log
    // ("attach_btf_id 1 is not a function" / "... is not a supported struct"). A kernel that
    // refuses the type outright (EPERM here for tracing when fentry is unavailable, EINVAL for an
    // unknown type) logs nothing of the kind.
    const log = new Uint8Array(4096);
    progLoadRaw({ progType: type, insns: TRIVIAL, license: 'GPL', logLevel: 1, logBuf: log, attachBtfId: 1 });
    const text = new TextDecoder().decode(log.subarray(0, Math.max(0, log.indexOf(0))));
    res = /attach_btf_id 1 is not a/.test(text) ? 'available' : 'unavailable';
  } else {
    res = 'unavailable';
  }
  progCache.set(type, res);
  return res;
}

/** A tiny BTF blob: [1] int (4 bytes, signed), [2] long long (8 bytes, signed). For storage maps. */
function tinyBtf(): Uint8Array {
  const strings = new TextEncoder().encode('\0int\0long long\0');
  const types = new DataView(new ArrayBuffer(2 * 16));
  // BTF_KIND_INT: name_off, info (kind 1 << 24), size, then the int encoding (signed, bits).
  types.setUint32(0, 1, true);
  types.setUint32(4, 1 << 24, true);
  types.setUint32(8, 4, true);
  types.setUint32(12, (1 << 24) | 32, true);
  types.setUint32(16, 5, true);
  types.setUint32(20, 1 << 24, true);
  types.setUint32(24, 8, true);
  types.setUint32(28, (1 << 24) | 64, true);
  const hdr = new DataView(new ArrayBuffer(24));
  hdr.setUint16(0, 0xeb9f, true);
  hdr.setUint8(2, 1);
  hdr.setUint32(4, 24, true);
  hdr.setUint32(8, 0, true);
  hdr.setUint32(12, types.byteLength, true);
  hdr.setUint32(16, types.byteLength, true);
  hdr.setUint32(20, strings.length, true);
  const out = new Uint8Array(24 + types.byteLength + strings.length);
  out.set(new Uint8Array(hdr.buffer), 0);
  out.set(new Uint8Array(types.buffer), 24);
  out.set(strings, 24 + types.byteLength);
  return out;
}

function mapAttrFor(type: number): MapCreateAttr {
  const base: MapCreateAttr = { mapType: type, keySize: 4, valueSize: 8, maxEntries: 1 };
  switch (type) {
    case MapType.LPM_TRIE:
      return { ...base, keySize: 8, mapFlags: MapFlags.NO_PREALLOC };
    case MapType.PERF_EVENT_ARRAY:
    case MapType.CGROUP_ARRAY:
    case MapType.PROG_ARRAY:
    case MapType.DEVMAP:
    case MapType.DEVMAP_HASH:
    case MapType.CPUMAP:
    case MapType.XSKMAP:
    case MapType.SOCKMAP:
    case MapType.SOCKHASH:
    case MapType.REUSEPORT_SOCKARRAY:
    case MapType.ARRAY_OF_MAPS:
    case MapType.HASH_OF_MAPS:
      return { ...base, valueSize: 4 };
    case MapType.CGROUP_STORAGE:
    case MapType.PERCPU_CGROUP_STORAGE:
      return { ...base, keySize: 16, maxEntries: 0 };
    case MapType.QUEUE:
    case MapType.STACK:
    case MapType.BLOOM_FILTER:
      return { ...base, keySize: 0 };
    case MapType.RINGBUF:
    case MapType.USER_RINGBUF:
      return { ...base, keySize: 0, valueSize: 0, maxEntries: 4096 };
    case MapType.ARENA:
      return { ...base, keySize: 0, valueSize: 0, maxEntries: 1, mapFlags: MapFlags.MMAPABLE | MapFlags.NO_PREALLOC };
    case MapType.SK_STORAGE:
    case MapType.INODE_STORAGE:
    case MapType.TASK_STORAGE:
    case MapType.CGRP_STORAGE:
      return { ...base, maxEntries: 0, mapFlags: MapFlags.NO_PREALLOC, btfKeyTypeId: 1, btfValueTypeId: 2 };
    default:
      return base;
  }
}

export function probeMapType(type: number): ProbeResult {
  const cached = mapCache.get(type);
  if (cached) return cached;
  const attr = mapAttrFor(type);
  const cleanup: FD[] = [];
  let res: ProbeResult = 'unavailable';
  try {
    if (type === MapType.ARRAY_OF_MAPS || type === MapType.HASH_OF_MAPS) {
      const inner = mapCreate({ mapType: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
      cleanup.push(inner);
      attr.innerMapFd = inner.value;
    }
    if (attr.btfKeyTypeId) {
      const { result } = btfLoadRaw(tinyBtf());
      if (result < 0) throw new Error('BTF load failed');
      const btf = new FD(result, 'probe btf');
      cleanup.push(btf);
      attr.btfFd = btf.value;
    }
    if (type === MapType.STRUCT_OPS) {
      // As libbpf probes it: value type id 1 is never a struct_ops type, so a kernel that knows
      // the map type (5.6+) refuses it with ENOTSUPP; one that doesn't says EINVAL first.
      try {
        mapCreate({ ...attr, btfVmlinuxValueTypeId: 1 }).close();
        res = 'available';
      } catch (e) {
        res = (e as { code?: string }).code === 'ENOTSUPP' ? 'available' : 'unavailable';
      }
    } else {
      mapCreate(attr).close();
      res = 'available';
    }
  } catch {
    res = 'unavailable';
  } finally {
    for (const fd of cleanup) fd.close();
  }
  mapCache.set(type, res);
  return res;
}

export interface FeatureReport {
  programTypes: Record<string, ProbeResult>;
  mapTypes: Record<string, ProbeResult>;
}

/** Probes every program and map type this library knows. */
export function probeAll(): FeatureReport {
  const programTypes: Record<string, ProbeResult> = {};
  const mapTypes: Record<string, ProbeResult> = {};
  for (let t = 1; t < PROG_TYPE_NAMES.length; t++) if (PROG_TYPE_NAMES[t]) programTypes[PROG_TYPE_NAMES[t]!] = probeProgramType(t);
  for (let t = 1; t < MAP_TYPE_NAMES.length; t++) if (MAP_TYPE_NAMES[t]) mapTypes[MAP_TYPE_NAMES[t]!] = probeMapType(t);
  return { programTypes, mapTypes };
}

/** Throws NotSupportedError when the kernel can't load programs of `type`. */
export function requireProgramType(type: number): void {
  if (probeProgramType(type) !== 'available') {
    throw new NotSupportedError(`BPF_PROG_TYPE_${(PROG_TYPE_NAMES[type] ?? String(type)).toUpperCase()}`);
  }
}

/** Throws NotSupportedError when the kernel can't create maps of `type`. */
export function requireMapType(type: number): void {
  if (probeMapType(type) !== 'available') {
    throw new NotSupportedError(`BPF_MAP_TYPE_${(MAP_TYPE_NAMES[type] ?? String(type)).toUpperCase()}`);
  }
}
