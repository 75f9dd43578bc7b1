/**
 * One function per bpf(2) command. Thin and typed: they take raw numbers and byte buffers,
 * return results or FDs, and throw BpfError with a helpful message. The policy (retries,
 * verifier logs, codecs) lives in the layers above.
 *
 * The element commands (lookup, update, delete, next key) are the hot path: they use the
 * request buffer registered once with the addon (attr, key, value and next-key regions), so a
 * call crosses N-API with no arguments at all (the command and result travel in the buffer).
 * The raw API copies keys and values in and out of it; typed maps encode and decode in place
 * (`requestBuffer`). Larger keys or values fall back to passing the caller's buffers by address.
 */
import { Struct, cString } from './attr.js';
import { BPF_CMD } from './constants.js';
import { bpfError, errno } from './errno.js';
import { FD } from './fd.js';
import { HOST_LITTLE_ENDIAN } from '../elf/file.js';
import { native } from './native.js';

const ENOENT = errno.ENOENT;
const EINTR = errno.EINTR;
const EAGAIN = errno.EAGAIN;

/** Calls bpf() on a Struct; retries EINTR/EAGAIN as libbpf does for PROG_LOAD and friends. */
export function bpfCall(cmd: number, attr: Struct, size = attr.bytes.length, retryAgain = false): number {
  for (let attempt = 0; ; attempt++) {
    const r = native.bpf(cmd, attr.bytes, size);
    if (r >= 0) return r;
    if (-r === EINTR || (retryAgain && -r === EAGAIN && attempt < 5)) continue;
    return r;
  }
}

function check(cmd: number, r: number, context?: string): number {
  if (r < 0) throw bpfError(cmd, -r, context);
  return r;
}

function fdResult(cmd: number, r: number, what: string): FD {
  return new FD(check(cmd, r, what), what);
}

// ---------------------------------------------------------------- request buffer (hot path)

/**
 * Layout of the registered request buffer: attr first, then key, value and next-key areas. A
 * const enum, so that tsc writes the offsets in place in the hot functions (see Word).
 */
const enum Region {
  Size = 1 << 16,
  Key = 256,
  Max = (Size - Key) / 3, // each of key, value and next key
  Value = Key + Max,
  Next = Value + Max,
}

const scratch = new ArrayBuffer(Region.Size);
const scratchU8 = new Uint8Array(scratch);
const scratchU32 = new Uint32Array(scratch);
const scratchBase = native.setScratch(scratch);
const scratchI32 = new Int32Array(scratch);
/**
 * bpfRequest's command and result words (offsets 240 and 244: after the largest attr, before the
 * key area). The numbers of the hot path are const enums: tsc writes them in place, where a
 * module constant is a context load with a TDZ check in the bytecode, which V8's inlining
 * budget counts (see Layout).
 */
const enum Word {
  Op = 240 >> 2,
  Result = 244 >> 2,
}
/** Bound once: a property load per call is measurable at ~400 ns per syscall. */
const bpfRequest = native.bpfRequest;
/**
 * bpf() on the request buffer for the element operations, whose attr {map_fd, key,
 * value|next_key, flags} (32 bytes) is at the buffer's start: its pointers are rewritten (out of
 * line) only when `layout` differs from the previous request's (see Layout); fd, flags and the
 * command go in and the result comes out through the buffer, so the addon call takes no
 * arguments and makes no N-API calls. Flags' high word stays 0.
 */
function elemCall(fd: number, flags: number, packed: number, layout: Layout): number {
  if (layout !== currentLayout) useLayout(layout);
  const a = scratchU32;
  a[0] = fd;
  a[6] = flags >>> 0;
  a[Word.Op] = packed;
  bpfRequest();
  return scratchI32[Word.Result]!;
}
// Addresses as two u32 halves, so the hot path writes pointers without BigInt arithmetic.
const half = (addr: bigint): [number, number] => [Number(addr & 0xffffffffn), Number(addr >> 32n)];
const [KEY_LO, KEY_HI] = half(scratchBase + BigInt(Region.Key));
const [VALUE_LO, VALUE_HI] = half(scratchBase + BigInt(Region.Value));
const [NEXT_LO, NEXT_HI] = half(scratchBase + BigInt(Region.Next));

/**
 * The element attr's pointer fields depend only on which of the key, value and next-key regions
 * the command uses: its layout. The hot path compares one number and rewrites the pointers
 * (out of line) only when the layout differs from the previous call's. Layouts index
 * LAYOUT_POINTERS; Layout.Caller marks pointers into a caller's buffers (large keys or values),
 * which the next request always replaces.
 *
 * Why this shape: V8 inlines a hot call chain only up to a cumulative bytecode budget (920
 * bytes in V8 11, and a function already compiled counts with everything it inlined, times
 * 1.2). With the pointer writes inline, `BpfMap.update` exceeded it, and the fd getter and the
 * attr writes stayed out-of-line calls in callers' loops: ~10-20 ns per operation (measured).
 * For the same reason error paths and rare cases here and in the layers above live in
 * functions of their own.
 */
const enum Layout {
  KeyValue,
  NoKeyValue,
  KeyNext,
  NoKeyNext,
  KeyOnly,
  Caller,
}
const LAYOUT_POINTERS: readonly (readonly [number, number, number, number])[] = [
  [KEY_LO, KEY_HI, VALUE_LO, VALUE_HI],
  [0, 0, VALUE_LO, VALUE_HI],
  [KEY_LO, KEY_HI, NEXT_LO, NEXT_HI],
  [0, 0, NEXT_LO, NEXT_HI],
  [KEY_LO, KEY_HI, 0, 0],
];
let currentLayout: Layout = Layout.Caller;
function useLayout(layout: Layout): void {
  const p = LAYOUT_POINTERS[layout]!;
  setPointers(p[0], p[1], p[2], p[3]);
  currentLayout = layout;
}
function setPointers(keyLo: number, keyHi: number, valLo: number, valHi: number): void {
  const a = scratchU32;
  a[1] = 0;
  a[2] = keyLo;
  a[3] = keyHi;
  a[4] = valLo;
  a[5] = valHi;
  a[7] = 0;
}
/** Points the attr at caller buffers, for one request. */
function useCallerBuffers(keyLo: number, keyHi: number, valLo: number, valHi: number): void {
  setPointers(keyLo, keyHi, valLo, valHi);
  currentLayout = Layout.Caller;
}

function addrHalves(buf: Uint8Array | null): [number, number] {
  return buf && buf.byteLength ? half(native.addressOf(buf)) : [0, 0];
}

/**
 * Copies between caller buffers and the request buffer. TypedArray.set is a builtin call whose
 * fixed cost (~20 ns) dominates for the 4- and 8-byte keys and values maps usually have, so
 * small copies are plain loops that V8 compiles to a few moves. The regions start 8-byte
 * aligned, so 4- and 8-byte keys and values (most maps) move as u32 words of the request
 * buffer, assembled from or split into the caller's bytes (the word value is the bytes in host
 * order, as the typed array reads): measured 4.2 against 7.5 ns for an 8-byte copy out, 6.3
 * against 11 ns for a 4- and an 8-byte copy in, than byte loops. Other sizes out of line, to
 * keep the bytecode V8's inlining budget counts small (see Layout).
 */
const enum Copy {
  SmallMax = 64,
}
const HOST_LE = HOST_LITTLE_ENDIAN;
function toScratch(src: Uint8Array, off: number): void {
  const n = src.length;
  if (HOST_LE && (n === 4 || n === 8)) {
    for (let i = 0; i < n; i += 4) scratchU32[(off + i) >> 2] = src[i]! | (src[i + 1]! << 8) | (src[i + 2]! << 16) | (src[i + 3]! << 24);
  } else {
    toScratchOther(src, off);
  }
}
function toScratchOther(src: Uint8Array, off: number): void {
  const n = src.length;
  if (n <= Copy.SmallMax) {
    for (let i = 0; i < n; i++) scratchU8[off + i] = src[i]!;
  } else {
    scratchU8.set(src, off);
  }
}
function fromScratch(dst: Uint8Array, off: number): void {
  const n = dst.length;
  if (HOST_LE && (n === 4 || n === 8)) {
    for (let i = 0; i < n; i += 4) {
      const x = scratchU32[(off + i) >> 2]!;
      dst[i] = x;
      dst[i + 1] = x >>> 8;
      dst[i + 2] = x >>> 16;
      dst[i + 3] = x >>> 24;
    }
  } else {
    fromScratchOther(dst, off);
  }
}
function fromScratchOther(dst: Uint8Array, off: number): void {
  const n = dst.length;
  if (n <= Copy.SmallMax) {
    for (let i = 0; i < n; i++) dst[i] = scratchU8[off + i]!;
  } else {
    dst.set(scratchU8.subarray(off, off + n));
  }
}

// ---------------------------------------------------------------- request buffer regions

/**
 * The request buffer's key, value and next-key regions, for callers that encode keys and
 * decode values in place (typed maps: a codec writes the key straight into `bytes` at `key`,
 * and reads the value from `bytes` at `value` after the call), so an element operation copies
 * nothing. Each region holds up to `max` bytes. The contents are only valid until the next
 * element operation of this thread.
 */
export const requestBuffer = Object.freeze({ bytes: scratchU8, key: Region.Key, value: Region.Value, nextKey: Region.Next, max: Region.Max });

/** bpfRequest's op word for each element command: `cmd | attr size << 8` (BPF_CMD numbers, a fixed ABI). */
const enum Packed {
  Lookup = 1 | (32 << 8), // BPF_MAP_LOOKUP_ELEM
  Update = 2 | (32 << 8), // BPF_MAP_UPDATE_ELEM
  Delete = 3 | (32 << 8), // BPF_MAP_DELETE_ELEM
  NextKey = 4 | (32 << 8), // BPF_MAP_GET_NEXT_KEY
  LookupAndDelete = 21 | (32 << 8), // BPF_MAP_LOOKUP_AND_DELETE_ELEM
}

/**
 * BPF_MAP_LOOKUP_ELEM of the key in the request buffer's key region (none when `keyless`:
 * queue/stack peek, bloom filter check) into its value region. False when the key doesn't exist.
 */
export function requestLookup(fd: number, flags: number, keyless = false): boolean {
  const r = elemCall(fd, flags, Packed.Lookup, keyless ? Layout.NoKeyValue : Layout.KeyValue);
  return r >= 0 || notFound(BPF_CMD.BPF_MAP_LOOKUP_ELEM, r);
}

/** BPF_MAP_UPDATE_ELEM of the request buffer's key and value regions (no key when `keyless`: push). */
export function requestUpdate(fd: number, flags: number, keyless = false): void {
  const r = elemCall(fd, flags, Packed.Update, keyless ? Layout.NoKeyValue : Layout.KeyValue);
  if (r < 0) updateFailed(r);
}

/** BPF_MAP_DELETE_ELEM of the request buffer's key. False when it didn't exist. */
export function requestDelete(fd: number, flags = 0): boolean {
  const r = elemCall(fd, flags, Packed.Delete, Layout.KeyOnly);
  return r >= 0 || notFound(BPF_CMD.BPF_MAP_DELETE_ELEM, r);
}

/**
 * BPF_MAP_GET_NEXT_KEY after the request buffer's key (the first key when `first`) into its
 * next-key region. False at the end of the map.
 */
export function requestNextKey(fd: number, first: boolean): boolean {
  const r = elemCall(fd, 0, Packed.NextKey, first ? Layout.NoKeyNext : Layout.KeyNext);
  return nextFound(r);
}

/**
 * BPF_MAP_LOOKUP_AND_DELETE_ELEM of the request buffer's key (none when `keyless`: queue/stack
 * pop) into its value region. False when there was nothing to take.
 */
export function requestLookupAndDelete(fd: number, flags: number, keyless = false): boolean {
  const r = elemCall(fd, flags, Packed.LookupAndDelete, keyless ? Layout.NoKeyValue : Layout.KeyValue);
  return r >= 0 || notFound(BPF_CMD.BPF_MAP_LOOKUP_AND_DELETE_ELEM, r);
}

/**
 * A failed element operation: false for ENOENT (a missing key is a result), else the error.
 * Out of line, so that the hot functions above stay small enough for V8 to inline whole.
 */
function updateFailed(r: number): never {
  throw bpfError(BPF_CMD.BPF_MAP_UPDATE_ELEM, -r);
}

function notFound(cmd: number, r: number): false {
  if (r === -ENOENT) return false;
  throw bpfError(cmd, -r);
}

/**
 * The end of a key walk: true for a next key, false at the end (ENOENT), else the error thrown.
 * Unlike notFound(), both comparisons run on every call, so V8 has type feedback for them by
 * the time it compiles a long walk: a branch first taken at the walk's end (its closing ENOENT)
 * would throw the compiled walk away, and the next walk would start in the interpreter. (For
 * lookups, this form costs ~15 ns a call in lost inlining: measured.)
 */
function nextFound(r: number): boolean {
  const end = r === -ENOENT;
  if (r < 0 && !end) throw bpfError(BPF_CMD.BPF_MAP_GET_NEXT_KEY, -r);
  return !end;
}

/**
 * BPF_MAP_LOOKUP_ELEM into `value`. Returns false when the key doesn't exist (ENOENT), so a
 * missing key is a result, not an exception. Flags: BPF_F_LOCK.
 */
export function mapLookupElem(fd: number, key: Uint8Array | null, value: Uint8Array, flags = 0): boolean {
  if (value.length > Region.Max || (key !== null && key.length > Region.Max)) return mapLookupLarge(fd, key, value, flags);
  const keyless = key === null;
  if (!keyless) toScratch(key, Region.Key);
  if (!requestLookup(fd, flags, keyless)) return false;
  fromScratch(value, Region.Value);
  return true;
}

/** BPF_MAP_UPDATE_ELEM. Flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK. */
export function mapUpdateElem(fd: number, key: Uint8Array | null, value: Uint8Array, flags = 0): void {
  if (value.length > Region.Max || (key !== null && key.length > Region.Max)) return mapUpdateLarge(fd, key, value, flags);
  toScratch(value, Region.Value);
  const keyless = key === null;
  if (!keyless) toScratch(key, Region.Key);
  requestUpdate(fd, flags, keyless);
}

/** BPF_MAP_DELETE_ELEM. Returns false when the key didn't exist. */
export function mapDeleteElem(fd: number, key: Uint8Array, flags = 0): boolean {
  if (key.length > Region.Max) return mapDeleteLarge(fd, key, flags);
  toScratch(key, Region.Key);
  return requestDelete(fd, flags);
}

/**
 * BPF_MAP_GET_NEXT_KEY: the key after `key` (the first key when `key` is null) into `next`.
 * Returns false at the end of the map. If `key` was deleted meanwhile, the kernel restarts
 * from the first key for hash maps (documented behaviour since 4.12).
 */
export function mapGetNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): boolean {
  if (next.length > Region.Max) return mapGetNextKeyLarge(fd, key, next);
  const first = key === null;
  if (!first) toScratch(key, Region.Key);
  if (!requestNextKey(fd, first)) return false;
  fromScratch(next, Region.Next);
  return true;
}

// Keys or values larger than the request buffer's regions: the caller's buffers by address.
// (Kept out of the functions above so that those stay small enough for V8 to inline.)

function mapLookupLarge(fd: number, key: Uint8Array | null, value: Uint8Array, flags: number): boolean {
  const [kl, kh] = addrHalves(key);
  const [vl, vh] = addrHalves(value);
  useCallerBuffers(kl, kh, vl, vh);
  const r = elemCall(fd, flags, Packed.Lookup, Layout.Caller);
  return r >= 0 || notFound(BPF_CMD.BPF_MAP_LOOKUP_ELEM, r);
}

function mapUpdateLarge(fd: number, key: Uint8Array | null, value: Uint8Array, flags: number): void {
  const [kl, kh] = addrHalves(key);
  const [vl, vh] = addrHalves(value);
  useCallerBuffers(kl, kh, vl, vh);
  const r = elemCall(fd, flags, Packed.Update, Layout.Caller);
  if (r < 0) updateFailed(r);
}

function mapDeleteLarge(fd: number, key: Uint8Array, flags: number): boolean {
  const [kl, kh] = addrHalves(key);
  useCallerBuffers(kl, kh, 0, 0);
  const r = elemCall(fd, flags, Packed.Delete, Layout.Caller);
  return r >= 0 || notFound(BPF_CMD.BPF_MAP_DELETE_ELEM, r);
}

function mapGetNextKeyLarge(fd: number, key: Uint8Array | null, next: Uint8Array): boolean {
  const [kl, kh] = addrHalves(key);
  const [nl, nh] = addrHalves(next);
  useCallerBuffers(kl, kh, nl, nh);
  const r = elemCall(fd, 0, Packed.NextKey, Layout.Caller);
  return nextFound(r);
}

/**
 * BPF_MAP_LOOKUP_AND_DELETE_ELEM (4.20+ for queues and stacks, where key is null; 5.14+ for
 * hash maps). Returns false when there was nothing to take.
 */
export function mapLookupAndDeleteElem(fd: number, key: Uint8Array | null, value: Uint8Array, flags = 0): boolean {
  const a = new Struct(32).u32(0, fd).ptr(8, key).ptr(16, value).u64(24, flags);
  const r = bpfCall(BPF_CMD.BPF_MAP_LOOKUP_AND_DELETE_ELEM, a);
  return r >= 0 || notFound(BPF_CMD.BPF_MAP_LOOKUP_AND_DELETE_ELEM, r);
}

/** BPF_MAP_FREEZE (5.2+): userspace can no longer write the map. */
export function mapFreeze(fd: number): void {
  check(BPF_CMD.BPF_MAP_FREEZE, bpfCall(BPF_CMD.BPF_MAP_FREEZE, new Struct(4).u32(0, fd)));
}

// ---------------------------------------------------------------- batch operations (5.6+)

export interface BatchResult {
  /** Elements processed by this call. */
  count: number;
  /** True when the kernel reported the end of the map (ENOENT). */
  done: boolean;
}

/**
 * BPF_MAP_LOOKUP_BATCH / LOOKUP_AND_DELETE_BATCH: up to `count` entries after the cursor
 * `inBatch` (null to start) into `keys`/`values`; the next cursor is written to `outBatch`.
 * ENOENT with a partial count marks the end, as the kernel reports it.
 */
export function mapLookupBatch(
  fd: number,
  inBatch: Uint8Array | null,
  outBatch: Uint8Array,
  keys: Uint8Array,
  values: Uint8Array,
  count: number,
  opts: { elemFlags?: number; andDelete?: boolean } = {},
): BatchResult {
  const cmd = opts.andDelete ? BPF_CMD.BPF_MAP_LOOKUP_AND_DELETE_BATCH : BPF_CMD.BPF_MAP_LOOKUP_BATCH;
  const a = new Struct(56)
    .ptr(0, inBatch)
    .ptr(8, outBatch)
    .ptr(16, keys)
    .ptr(24, values)
    .u32(32, count)
    .u32(36, fd)
    .u64(40, opts.elemFlags ?? 0);
  const r = bpfCall(cmd, a);
  const n = a.getU32(32);
  if (r >= 0) return { count: n, done: false };
  if (-r === ENOENT) return { count: n, done: true };
  throw bpfError(cmd, -r);
}

/** BPF_MAP_UPDATE_BATCH: `count` keys and values packed back to back. Returns how many were written. */
export function mapUpdateBatch(fd: number, keys: Uint8Array, values: Uint8Array, count: number, elemFlags = 0): number {
  const a = new Struct(56).ptr(16, keys).ptr(24, values).u32(32, count).u32(36, fd).u64(40, elemFlags);
  const r = bpfCall(BPF_CMD.BPF_MAP_UPDATE_BATCH, a);
  if (r < 0) {
    const err = bpfError(BPF_CMD.BPF_MAP_UPDATE_BATCH, -r, `${a.getU32(32)} of ${count} written`);
    throw err;
  }
  return a.getU32(32);
}

/** BPF_MAP_DELETE_BATCH. Returns how many were deleted; a missing key stops the batch with ENOENT. */
export function mapDeleteBatch(fd: number, keys: Uint8Array, count: number, elemFlags = 0): number {
  const a = new Struct(56).ptr(16, keys).u32(32, count).u32(36, fd).u64(40, elemFlags);
  const r = bpfCall(BPF_CMD.BPF_MAP_DELETE_BATCH, a);
  if (r < 0) throw bpfError(BPF_CMD.BPF_MAP_DELETE_BATCH, -r, `${a.getU32(32)} of ${count} deleted`);
  return a.getU32(32);
}

// ---------------------------------------------------------------- maps

export interface MapCreateAttr {
  mapType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags?: number;
  innerMapFd?: number;
  numaNode?: number;
  /** At most 15 characters survive (BPF_OBJ_NAME_LEN is 16 with the NUL). */
  name?: string;
  ifindex?: number;
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  btfVmlinuxValueTypeId?: number;
  mapExtra?: bigint;
  valueTypeBtfObjFd?: number;
  tokenFd?: number;
}

export function mapCreate(attr: MapCreateAttr): FD {
  const a = new Struct(80)
    .u32(0, attr.mapType)
    .u32(4, attr.keySize)
    .u32(8, attr.valueSize)
    .u32(12, attr.maxEntries)
    .u32(16, attr.mapFlags ?? 0)
    .u32(20, attr.innerMapFd ?? 0)
    .u32(24, attr.numaNode ?? 0)
    .cstr(28, 16, attr.name ?? '')
    .u32(44, attr.ifindex ?? 0)
    .u32(48, attr.btfFd ?? 0)
    .u32(52, attr.btfKeyTypeId ?? 0)
    .u32(56, attr.btfValueTypeId ?? 0)
    .u32(60, attr.btfVmlinuxValueTypeId ?? 0)
    .u64(64, attr.mapExtra ?? 0n)
    .i32(72, attr.valueTypeBtfObjFd ?? 0)
    .i32(76, attr.tokenFd ?? 0);
  const size = attr.valueTypeBtfObjFd || attr.tokenFd ? 80 : 72;
  const what = `map '${attr.name ?? ''}'`;
  return fdResult(BPF_CMD.BPF_MAP_CREATE, bpfCall(BPF_CMD.BPF_MAP_CREATE, a, size, true), what);
}

// ---------------------------------------------------------------- programs

export interface ProgLoadAttr {
  progType: number;
  /** Encoded instructions (8 bytes each). */
  insns: Uint8Array;
  license: string;
  logLevel?: number;
  logBuf?: Uint8Array;
  kernVersion?: number;
  progFlags?: number;
  name?: string;
  ifindex?: number;
  expectedAttachType?: number;
  progBtfFd?: number;
  funcInfoRecSize?: number;
  funcInfo?: Uint8Array;
  funcInfoCnt?: number;
  lineInfoRecSize?: number;
  lineInfo?: Uint8Array;
  lineInfoCnt?: number;
  attachBtfId?: number;
  /** attach_prog_fd (freplace, fentry on a BPF program) or attach_btf_obj_fd (module BTF). */
  attachBtfObjFd?: number;
  fdArray?: Int32Array;
  tokenFd?: number;
}

export interface ProgLoadResult {
  /** The program's fd, or -errno when the load failed. */
  result: number;
  /** log_true_size (6.4+): the log size the verifier needed, 0 when unknown. */
  logTrueSize: number;
}

/**
 * BPF_PROG_LOAD, returning -errno instead of throwing: the caller decides about retries with
 * a log, growing the log on ENOSPC, and building a VerifierError.
 */
export function progLoadRaw(attr: ProgLoadAttr): ProgLoadResult {
  const license = cString(attr.license);
  const a = new Struct(152)
    .u32(0, attr.progType)
    .u32(4, attr.insns.byteLength / 8)
    .ptr(8, attr.insns)
    .ptr(16, license)
    .u32(24, attr.logLevel ?? 0)
    .u32(28, attr.logBuf ? attr.logBuf.byteLength : 0)
    .ptr(32, attr.logBuf)
    .u32(40, attr.kernVersion ?? 0)
    .u32(44, attr.progFlags ?? 0)
    .cstr(48, 16, attr.name ?? '')
    .u32(64, attr.ifindex ?? 0)
    .u32(68, attr.expectedAttachType ?? 0)
    .u32(72, attr.progBtfFd ?? 0)
    .u32(76, attr.funcInfoRecSize ?? 0)
    .ptr(80, attr.funcInfo)
    .u32(88, attr.funcInfoCnt ?? 0)
    .u32(92, attr.lineInfoRecSize ?? 0)
    .ptr(96, attr.lineInfo)
    .u32(104, attr.lineInfoCnt ?? 0)
    .u32(108, attr.attachBtfId ?? 0)
    .u32(112, attr.attachBtfObjFd ?? 0)
    .ptr(120, attr.fdArray)
    .i32(144, attr.tokenFd ?? 0);
  // Pass the kernel the size of what we filled: up to log_true_size (6.4+) when tokens aren't
  // used. Older kernels reject a larger attr with E2BIG only if the extra bytes are non-zero.
  const size = attr.tokenFd ? 148 : 144;
  const r = bpfCall(BPF_CMD.BPF_PROG_LOAD, a, size, true);
  return { result: r, logTrueSize: a.getU32(140) };
}

export interface TestRunAttr {
  progFd: number;
  dataIn?: Uint8Array;
  /** Receives the packet after the run; its length is the capacity. */
  dataOut?: Uint8Array;
  ctxIn?: Uint8Array;
  ctxOut?: Uint8Array;
  repeat?: number;
  flags?: number;
  cpu?: number;
  batchSize?: number;
}

export interface TestRunResult {
  retval: number;
  /** Average run time per repetition, in nanoseconds. */
  duration: number;
  dataSizeOut: number;
  ctxSizeOut: number;
}

/** BPF_PROG_TEST_RUN (4.12+; ctx 5.2+; flags and cpu 5.10+; batch_size 5.18+). */
export function progTestRun(attr: TestRunAttr): TestRunResult {
  const a = new Struct(80)
    .u32(0, attr.progFd)
    .u32(8, attr.dataIn?.byteLength ?? 0)
    .u32(12, attr.dataOut?.byteLength ?? 0)
    .ptr(16, attr.dataIn)
    .ptr(24, attr.dataOut)
    .u32(32, attr.repeat ?? 0)
    .u32(40, attr.ctxIn?.byteLength ?? 0)
    .u32(44, attr.ctxOut?.byteLength ?? 0)
    .ptr(48, attr.ctxIn)
    .ptr(56, attr.ctxOut)
    .u32(64, attr.flags ?? 0)
    .u32(68, attr.cpu ?? 0)
    .u32(72, attr.batchSize ?? 0);
  check(BPF_CMD.BPF_PROG_TEST_RUN, bpfCall(BPF_CMD.BPF_PROG_TEST_RUN, a), `program fd ${attr.progFd}`);
  return { retval: a.getU32(4), duration: a.getU32(36), dataSizeOut: a.getU32(12), ctxSizeOut: a.getU32(44) };
}

// ---------------------------------------------------------------- pinning

/** BPF_OBJ_PIN: pins an object at a path on bpffs. */
export function objPin(fd: number, path: string): void {
  const p = cString(path);
  const r = bpfCall(BPF_CMD.BPF_OBJ_PIN, new Struct(16).ptr(0, p).u32(8, fd));
  check(BPF_CMD.BPF_OBJ_PIN, r, path);
}

/** BPF_OBJ_GET: opens a pinned object. fileFlags: BPF_F_RDONLY / BPF_F_WRONLY. */
export function objGet(path: string, fileFlags = 0): FD {
  const p = cString(path);
  const r = bpfCall(BPF_CMD.BPF_OBJ_GET, new Struct(16).ptr(0, p).u32(12, fileFlags));
  return fdResult(BPF_CMD.BPF_OBJ_GET, r, path);
}

// ---------------------------------------------------------------- ids and info

type IdCommand = 'prog' | 'map' | 'link' | 'btf';
const NEXT_ID_CMD: Record<IdCommand, number> = {
  prog: BPF_CMD.BPF_PROG_GET_NEXT_ID,
  map: BPF_CMD.BPF_MAP_GET_NEXT_ID,
  link: BPF_CMD.BPF_LINK_GET_NEXT_ID,
  btf: BPF_CMD.BPF_BTF_GET_NEXT_ID,
};
const FD_BY_ID_CMD: Record<IdCommand, number> = {
  prog: BPF_CMD.BPF_PROG_GET_FD_BY_ID,
  map: BPF_CMD.BPF_MAP_GET_FD_BY_ID,
  link: BPF_CMD.BPF_LINK_GET_FD_BY_ID,
  btf: BPF_CMD.BPF_BTF_GET_FD_BY_ID,
};

/** *_GET_NEXT_ID: the next id after `start` (0 for the first), or undefined at the end. */
export function getNextId(kind: IdCommand, start: number): number | undefined {
  const a = new Struct(8).u32(0, start);
  const r = bpfCall(NEXT_ID_CMD[kind], a);
  if (r < 0) {
    if (-r === ENOENT) return undefined;
    throw bpfError(NEXT_ID_CMD[kind], -r);
  }
  return a.getU32(4);
}

/** Every id of a kind on the system, in ascending order. */
export function listIds(kind: IdCommand): number[] {
  const ids: number[] = [];
  for (let id = getNextId(kind, 0); id !== undefined; id = getNextId(kind, id)) ids.push(id);
  return ids;
}

/** *_GET_FD_BY_ID. ENOENT means the object went away (ids are not reused quickly, but objects die). */
export function getFdById(kind: IdCommand, id: number, openFlags = 0): FD {
  const a = new Struct(12).u32(0, id).u32(8, openFlags);
  return fdResult(FD_BY_ID_CMD[kind], bpfCall(FD_BY_ID_CMD[kind], a), `${kind} id ${id}`);
}

/**
 * Each object of `kind` on the system, opened, in id order (the caller closes each FD). One that
 * goes away between the listing and its opening (ENOENT) is skipped and any other failure thrown,
 * unless `skipFailures`: then every object that can't be opened is skipped.
 */
export function* openEach(kind: IdCommand, skipFailures = false): Generator<FD> {
  for (const id of listIds(kind)) {
    let fd: FD;
    try {
      fd = getFdById(kind, id);
    } catch (e) {
      if (skipFailures || (e as { code?: string }).code === 'ENOENT') continue;
      throw e;
    }
    yield fd;
  }
}

/** BPF_OBJ_GET_INFO_BY_FD into `info`; returns the length the kernel filled. */
export function objGetInfoByFd(fd: number, info: Uint8Array): number {
  const a = new Struct(16).u32(0, fd).u32(4, info.byteLength).ptr(8, info);
  check(BPF_CMD.BPF_OBJ_GET_INFO_BY_FD, bpfCall(BPF_CMD.BPF_OBJ_GET_INFO_BY_FD, a));
  return a.getU32(4);
}

// ---------------------------------------------------------------- BTF

export interface BtfLoadResult {
  /** The BTF object's fd, or -errno. */
  result: number;
  logTrueSize: number;
}

/** BPF_BTF_LOAD, returning -errno so the caller can retry with a log. */
export function btfLoadRaw(btf: Uint8Array, logBuf?: Uint8Array, logLevel = 0, tokenFd = 0): BtfLoadResult {
  const a = new Struct(40)
    .ptr(0, btf)
    .ptr(8, logBuf)
    .u32(16, btf.byteLength)
    .u32(20, logBuf?.byteLength ?? 0)
    .u32(24, logBuf ? logLevel || 1 : 0)
    .i32(36, tokenFd);
  const r = bpfCall(BPF_CMD.BPF_BTF_LOAD, a, tokenFd ? 40 : 32, true);
  return { result: r, logTrueSize: a.getU32(28) };
}

// ---------------------------------------------------------------- attaching

export interface ProgAttachAttr {
  targetFd: number;
  progFd: number;
  attachType: number;
  flags?: number;
  replaceProgFd?: number;
  relativeFdOrId?: number;
  expectedRevision?: bigint;
}

/** BPF_PROG_ATTACH: legacy (non-link) attach for cgroups, sockmaps, flow dissector, lirc. */
export function progAttach(attr: ProgAttachAttr): void {
  const a = new Struct(32)
    .u32(0, attr.targetFd)
    .u32(4, attr.progFd)
    .u32(8, attr.attachType)
    .u32(12, attr.flags ?? 0)
    .u32(16, attr.replaceProgFd ?? 0)
    .u32(20, attr.relativeFdOrId ?? 0)
    .u64(24, attr.expectedRevision ?? 0n);
  check(BPF_CMD.BPF_PROG_ATTACH, bpfCall(BPF_CMD.BPF_PROG_ATTACH, a));
}

/** BPF_PROG_DETACH. progFd may be 0 for attach types with a single program. */
export function progDetach(targetFd: number, attachType: number, progFd = 0): void {
  const a = new Struct(16).u32(0, targetFd).u32(4, progFd).u32(8, attachType);
  check(BPF_CMD.BPF_PROG_DETACH, bpfCall(BPF_CMD.BPF_PROG_DETACH, a));
}

export interface ProgQueryResult {
  attachFlags: number;
  progIds: number[];
  progAttachFlags: number[];
  linkIds: number[];
  revision: bigint;
}

/** BPF_PROG_QUERY: programs attached to a cgroup, netns, tcx or netkit hook. */
export function progQuery(targetFd: number, attachType: number, queryFlags = 0, max = 64): ProgQueryResult {
  const ids = new Uint32Array(max);
  const flags = new Uint32Array(max);
  const links = new Uint32Array(max);
  const a = new Struct(64)
    .u32(0, targetFd)
    .u32(4, attachType)
    .u32(8, queryFlags)
    .ptr(16, ids)
    .u32(24, max)
    .ptr(32, flags)
    .ptr(40, links);
  let r = bpfCall(BPF_CMD.BPF_PROG_QUERY, a, 64);
  if (r < 0 && -r === errno.EINVAL) {
    // Kernels before 6.6 don't know link_ids/revision: ask with the older, shorter attr.
    a.u64(40, 0);
    r = bpfCall(BPF_CMD.BPF_PROG_QUERY, a, 40);
  }
  check(BPF_CMD.BPF_PROG_QUERY, r);
  const n = Math.min(a.getU32(24), max);
  return {
    attachFlags: a.getU32(12),
    progIds: Array.from(ids.subarray(0, n)),
    progAttachFlags: Array.from(flags.subarray(0, n)),
    linkIds: Array.from(links.subarray(0, n)).filter((x) => x !== 0),
    revision: a.getU64(56),
  };
}

/** BPF_RAW_TRACEPOINT_OPEN (4.17+; cookie 6.10+). A null name attaches tracing programs by BTF id. */
export function rawTracepointOpen(name: string | null, progFd: number, cookie = 0n): FD {
  const n = name === null ? null : cString(name);
  const a = new Struct(24).ptr(0, n).u32(8, progFd).u64(16, cookie);
  const what = name === null ? 'raw tracepoint' : `raw tracepoint '${name}'`;
  return fdResult(BPF_CMD.BPF_RAW_TRACEPOINT_OPEN, bpfCall(BPF_CMD.BPF_RAW_TRACEPOINT_OPEN, a, cookie ? 24 : 16), what);
}

export interface LinkCreateAttr {
  progFd: number;
  targetFd: number;
  attachType: number;
  flags?: number;
  /**
   * The attach-type specific tail of link_create, written at offset 16 of the attr by the
   * caller (links/ knows each hook's layout): perf_event cookie, kprobe_multi, tracing,
   * tcx, uprobe_multi, netfilter, iter_info...
   */
  extra?: (attr: Struct) => void;
  what?: string;
}

/** BPF_LINK_CREATE (5.7+). */
export function linkCreate(attr: LinkCreateAttr): FD {
  const a = new Struct(64).u32(0, attr.progFd).u32(4, attr.targetFd).u32(8, attr.attachType).u32(12, attr.flags ?? 0);
  attr.extra?.(a);
  return fdResult(BPF_CMD.BPF_LINK_CREATE, bpfCall(BPF_CMD.BPF_LINK_CREATE, a), attr.what ?? 'link');
}

/** BPF_LINK_UPDATE (5.7+): swap the program of a link; oldProgFd with BPF_F_REPLACE. */
export function linkUpdate(linkFd: number, newProgFd: number, flags = 0, oldProgFd = 0): void {
  const a = new Struct(16).u32(0, linkFd).u32(4, newProgFd).u32(8, flags).u32(12, oldProgFd);
  check(BPF_CMD.BPF_LINK_UPDATE, bpfCall(BPF_CMD.BPF_LINK_UPDATE, a));
}

/** BPF_LINK_DETACH (5.9+): detach while keeping the link fd (and its pins) valid. */
export function linkDetach(linkFd: number): void {
  check(BPF_CMD.BPF_LINK_DETACH, bpfCall(BPF_CMD.BPF_LINK_DETACH, new Struct(4).u32(0, linkFd)));
}

/** BPF_ENABLE_STATS (5.8+): run-time statistics stay on while the returned fd is open. */
export function enableStats(type = 0): FD {
  const r = bpfCall(BPF_CMD.BPF_ENABLE_STATS, new Struct(4).u32(0, type));
  return fdResult(BPF_CMD.BPF_ENABLE_STATS, r, 'stats');
}

export interface TaskFdQueryResult {
  progId: number;
  fdType: number;
  /** Tracepoint name, kprobe function or uprobe path. */
  name: string;
  probeOffset: bigint;
  probeAddr: bigint;
}

/** BPF_TASK_FD_QUERY (4.18+): what a perf event fd of a process has attached. */
export function taskFdQuery(pid: number, fd: number): TaskFdQueryResult {
  const buf = new Uint8Array(4096);
  const a = new Struct(48).u32(0, pid).u32(4, fd).u32(12, buf.byteLength).ptr(16, buf);
  check(BPF_CMD.BPF_TASK_FD_QUERY, bpfCall(BPF_CMD.BPF_TASK_FD_QUERY, a), `pid ${pid} fd ${fd}`);
  const len = Math.min(a.getU32(12), buf.length);
  return {
    progId: a.getU32(24),
    fdType: a.getU32(28),
    name: new TextDecoder().decode(buf.subarray(0, len)).replace(/\0.*$/s, ''),
    probeOffset: a.getU64(32),
    probeAddr: a.getU64(40),
  };
}

/** BPF_ITER_CREATE (5.8+): a readable fd producing one run of a BPF iterator. */
export function iterCreate(linkFd: number, flags = 0): FD {
  const r = bpfCall(BPF_CMD.BPF_ITER_CREATE, new Struct(8).u32(0, linkFd).u32(4, flags));
  return fdResult(BPF_CMD.BPF_ITER_CREATE, r, 'iterator');
}

/** BPF_PROG_BIND_MAP (5.10+): keep a map alive as long as the program, without a reference in code. */
export function progBindMap(progFd: number, mapFd: number, flags = 0): void {
  const a = new Struct(12).u32(0, progFd).u32(4, mapFd).u32(8, flags);
  check(BPF_CMD.BPF_PROG_BIND_MAP, bpfCall(BPF_CMD.BPF_PROG_BIND_MAP, a));
}
