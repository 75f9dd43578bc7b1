/**
 * BPF_OBJ_GET_INFO_BY_FD for maps, programs, links and BTF objects, decoded into objects.
 * Layouts (struct bpf_*_info, Linux 6.18) were checked against kernel BTF; fields a kernel
 * doesn't know come back zero, since it fills only what it has.
 */
import { Struct, readCString } from './attr.js';
import { objGetInfoByFd } from './bpf.js';

export interface MapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  ifindex: number;
  btfVmlinuxValueTypeId: number;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  mapExtra: bigint;
}

export function mapInfo(fd: number): MapInfo {
  const s = new Struct(104);
  objGetInfoByFd(fd, s.bytes);
  return {
    type: s.getU32(0),
    id: s.getU32(4),
    keySize: s.getU32(8),
    valueSize: s.getU32(12),
    maxEntries: s.getU32(16),
    flags: s.getU32(20),
    name: readCString(s.bytes, 24, 16),
    ifindex: s.getU32(40),
    btfVmlinuxValueTypeId: s.getU32(44),
    btfId: s.getU32(64),
    btfKeyTypeId: s.getU32(68),
    btfValueTypeId: s.getU32(72),
    mapExtra: s.getU64(80),
  };
}

export interface ProgInfo {
  type: number;
  id: number;
  /** The kernel's tag of the program: a hash of its instructions, as 16 hex digits. */
  tag: string;
  jitedProgLen: number;
  xlatedProgLen: number;
  /** Load time in ns since boot. */
  loadTime: bigint;
  createdByUid: number;
  mapIds: number[];
  name: string;
  ifindex: number;
  gplCompatible: boolean;
  btfId: number;
  nrFuncInfo: number;
  nrLineInfo: number;
  nrJitedKsyms: number;
  /** Only counted while BPF_ENABLE_STATS is on (or kernel.bpf_stats_enabled=1). */
  runTimeNs: bigint;
  runCnt: bigint;
  recursionMisses: bigint;
  verifiedInsns: number;
  attachBtfObjId: number;
  attachBtfId: number;
}

export interface ProgInfoExtras {
  /** Translated (post-verifier) instructions, 8 bytes each. */
  xlated?: Uint8Array;
  jited?: Uint8Array;
  /** func_info and line_info records of the translated program. */
  funcInfo?: Uint8Array;
  lineInfo?: Uint8Array;
  funcInfoRecSize?: number;
  lineInfoRecSize?: number;
}

/**
 * Program info. With `withData`, a second call fetches the translated instructions, map ids,
 * and func/line info (the kernel needs buffers sized from the first call's counts).
 */
export function progInfo(fd: number, opts: { xlated?: boolean; jited?: boolean; lineInfo?: boolean } = {}): ProgInfo & ProgInfoExtras {
  const s = new Struct(232);
  objGetInfoByFd(fd, s.bytes);
  const nrMapIds = s.getU32(52);
  const xlatedLen = s.getU32(20);
  const jitedLen = s.getU32(16);
  const nrFuncInfo = s.getU32(144);
  const nrLineInfo = s.getU32(148);
  const funcRec = s.getU32(132);
  const lineRec = s.getU32(172);
  const mapIds = new Uint32Array(nrMapIds);
  const extras: ProgInfoExtras = {};
  const s2 = new Struct(232);
  s2.u32(52, nrMapIds).ptr(56, mapIds);
  if (opts.xlated && xlatedLen) {
    extras.xlated = new Uint8Array(xlatedLen);
    s2.u32(20, xlatedLen).ptr(32, extras.xlated);
  }
  if (opts.jited && jitedLen) {
    extras.jited = new Uint8Array(jitedLen);
    s2.u32(16, jitedLen).ptr(24, extras.jited);
  }
  if (opts.lineInfo && (nrFuncInfo || nrLineInfo)) {
    extras.funcInfo = new Uint8Array(nrFuncInfo * funcRec);
    extras.lineInfo = new Uint8Array(nrLineInfo * lineRec);
    extras.funcInfoRecSize = funcRec;
    extras.lineInfoRecSize = lineRec;
    s2.u32(132, funcRec).ptr(136, extras.funcInfo).u32(144, nrFuncInfo);
    s2.u32(172, lineRec).ptr(152, extras.lineInfo).u32(148, nrLineInfo);
  }
  if (nrMapIds || extras.xlated || extras.jited || extras.funcInfo) objGetInfoByFd(fd, s2.bytes);
  const tag = Array.from(s.bytes.subarray(8, 16), (b) => b.toString(16).padStart(2, '0')).join('');
  return {
    type: s.getU32(0),
    id: s.getU32(4),
    tag,
    jitedProgLen: jitedLen,
    xlatedProgLen: xlatedLen,
    loadTime: s.getU64(40),
    createdByUid: s.getU32(48),
    mapIds: Array.from(mapIds.subarray(0, Math.min(nrMapIds, s2.getU32(52) || nrMapIds))),
    name: readCString(s.bytes, 64, 16),
    ifindex: s.getU32(80),
    gplCompatible: (s.getU32(84) & 1) === 1,
    btfId: s.getU32(128),
    nrFuncInfo,
    nrLineInfo,
    nrJitedKsyms: s.getU32(104),
    runTimeNs: s.getU64(192),
    runCnt: s.getU64(200),
    recursionMisses: s.getU64(208),
    verifiedInsns: s.getU32(216),
    attachBtfObjId: s.getU32(220),
    attachBtfId: s.getU32(224),
    ...extras,
  };
}

export interface LinkInfo {
  type: number;
  id: number;
  progId: number;
  /** The raw type-specific union (offset 16 on), for links/ to decode per link type. */
  raw: Uint8Array;
}

export function linkInfo(fd: number): LinkInfo {
  const s = new Struct(64);
  objGetInfoByFd(fd, s.bytes);
  return { type: s.getU32(0), id: s.getU32(4), progId: s.getU32(8), raw: s.bytes.slice(16) };
}

export interface BtfInfo {
  id: number;
  size: number;
  name: string;
  kernelBtf: boolean;
}

export function btfInfo(fd: number, withData = false): BtfInfo & { data?: Uint8Array } {
  const name = new Uint8Array(64);
  const s = new Struct(32).ptr(16, name).u32(24, name.length);
  objGetInfoByFd(fd, s.bytes);
  const size = s.getU32(8);
  const out: BtfInfo & { data?: Uint8Array } = {
    id: s.getU32(12),
    size,
    name: readCString(name, 0, name.length),
    kernelBtf: s.getU32(28) !== 0,
  };
  if (withData) {
    const data = new Uint8Array(size);
    const s2 = new Struct(32).ptr(0, data).u32(8, size);
    objGetInfoByFd(fd, s2.bytes);
    out.data = data;
  }
  return out;
}
