/**
 * Typed maps: a BpfMap seen through codecs, with keys and values as JS values (aya's
 * `HashMap<K, V>`, cilium/ebpf's Lookup/Put with Go values).
 *
 * Element operations encode the key straight into the request buffer registered with the
 * addon and decode the value straight out of it (sys/bpf.ts `requestBuffer`), so a lookup
 * copies nothing and allocates only the decoded result.
 *
 * Codecs come from BTF (btf/codec.ts) or from the map's kind, or are given:
 *  - per-CPU maps: arrays with one value per possible CPU (`perCpuCodec`), each slot the value
 *    size rounded up to 8 bytes as the kernel lays them out;
 *  - map-in-map (array/hash of maps): values are BpfMaps (a lookup opens the inner map by the
 *    id the kernel returns: close it), updates take a BpfMap (or any fd);
 *  - program arrays: values are Programs (opened by id: close them), updates take a Program;
 *  - socket maps, perf event arrays, cgroup arrays, XSK maps, reuseport arrays: updates take fds
 *    (a number, an FD, or an object with an `fd`); sockmap/sockhash lookups give socket cookies
 *    (8-byte values, 5.x+);
 *  - devmaps and cpumaps: `{ ifindex, program? }` / `{ qsize, program? }` (or a plain number for
 *    4-byte values); lookups give `{ ifindex, programId }` / `{ qsize, programId }`;
 *  - local storages (task, cgroup, socket, inode): keys are fds (a pidfd, a cgroup directory fd,
 *    a socket fd, a file fd), values from BTF.
 */
import { ArgumentError, BpfError } from '../errors.js';
import { btfCodec, codecs, fitsInt64, isScalarArrayOf, scalarArray, scalarArrayName, type Codec, type ScalarArray } from '../btf/index.js';
import {
  FD,
  MapType,
  mapDeleteBatch,
  mapDeleteElem,
  mapGetNextKey,
  mapLookupAndDeleteElem,
  mapLookupElem,
  mapUpdateBatch,
  mapUpdateElem,
  possibleCpuCount,
  requestBuffer,
  requestDelete,
  requestLookup,
  requestLookupAndDelete,
  requestNextKey,
  requestUpdate,
} from '../sys/index.js';
import { Program } from '../programs/program.js';
import { BatchCursor, type BpfMap } from './map.js';

// ------------------------------------------------------------------------------------ codecs

/**
 * Per-CPU values: one value per possible CPU, each in a slot of the value size rounded up to
 * 8 bytes (the kernel's layout for per-CPU maps). Decodes to an array indexed by CPU; encodes
 * an array of at most `cpus` values (missing ones are zero).
 */
export function perCpuCodec<V>(codec: Codec<V>, cpus = possibleCpuCount()): Codec<V[]> {
  const slot = Math.ceil(codec.size / 8) * 8;
  const size = slot * cpus;
  return Object.freeze({
    size,
    decode(b: Uint8Array, o = 0): V[] {
      if (!(o >= 0 && o + size <= b.length)) throw new ArgumentError(`${size} bytes of per-CPU values at offset ${o} don't fit in ${b.length}`, 'ERR_VALUE_SIZE');
      const out = new Array<V>(cpus);
      for (let c = 0; c < cpus; c++) out[c] = codec.decode(b, o + c * slot);
      return out;
    },
    encode(v: V[], b?: Uint8Array, o = 0): Uint8Array {
      if (!b) b = new Uint8Array(size);
      else {
        if (!(o >= 0 && o + size <= b.length)) throw new ArgumentError(`${size} bytes of per-CPU values at offset ${o} don't fit in ${b.length}`, 'ERR_VALUE_SIZE');
        b.fill(0, o, o + size);
      }
      if (!Array.isArray(v)) throw new ArgumentError(`per-CPU values: expected an array of up to ${cpus} values (one per possible CPU)`, 'ERR_VALUE');
      if (v.length > cpus) throw new ArgumentError(`per-CPU values: ${v.length} values for ${cpus} possible CPUs`, 'ERR_VALUE');
      for (let c = 0; c < v.length; c++) if (v[c] !== undefined) codec.encode(v[c]!, b, o + c * slot);
      return b;
    },
  });
}

/** Something naming a kernel object or socket by fd: a number, an FD, or an object with an `fd` (BpfMap, Program...). */
export type FdLike = number | FD | { readonly fd: FD | number };

function fdOf(x: unknown, what: string): number {
  if (typeof x === 'number' && Number.isInteger(x) && x >= 0) return x;
  if (x instanceof FD) return x.value;
  if (typeof x === 'object' && x !== null && 'fd' in x) {
    const fd = (x as { fd: unknown }).fd;
    if (fd instanceof FD) return fd.value;
    if (typeof fd === 'number' && Number.isInteger(fd) && fd >= 0) return fd;
  }
  throw new ArgumentError(`${what}: expected a file descriptor (a number, an FD, or an object with an fd), got ${typeof x}`, 'ERR_VALUE');
}

function u32Codec<T>(decode: (v: number) => T, encode: (x: T) => number): Codec<T> {
  return Object.freeze({
    size: 4,
    decode: (b: Uint8Array, o = 0) => decode(codecs.u32.decode(b, o)),
    encode: (x: T, b?: Uint8Array, o = 0) => codecs.u32.encode(encode(x), b, o),
  });
}

/**
 * Values or keys that are fds on update (sockets, perf events, cgroups, XSK sockets, local
 * storage owners). Decodes the number the kernel returns (a socket cookie as a bigint for
 * 8-byte sockmap values).
 */
export function fdCodec(size: 4 | 8 = 4): Codec<FdLike> {
  if (size === 4) return u32Codec<FdLike>((v) => v, (x) => fdOf(x, 'fd'));
  return Object.freeze({
    size: 8,
    decode: (b: Uint8Array, o = 0) => codecs.u64.decode(b, o) as unknown as FdLike,
    encode: (x: FdLike, b?: Uint8Array, o = 0) => codecs.u64.encode(BigInt(fdOf(x, 'fd')), b, o),
  });
}

/** Map-in-map values: updates take an inner map (by fd), lookups open the inner map by id. */
export function innerMapCodec(open: (id: number) => BpfMap): Codec<BpfMap> {
  return u32Codec<BpfMap>(open, (m) => fdOf(m, 'inner map'));
}

/** Program array values: updates take a program (by fd), lookups open the program by id. */
export const programCodec: Codec<Program> = u32Codec<Program>(
  (id) => Program.fromId(id),
  (p) => fdOf(p, 'program'),
);

/** A devmap value: the interface to redirect to and, optionally, a program to run (5.8+). */
export interface DevmapValue {
  ifindex: number;
  /** On update: the XDP program (BPF_XDP_DEVMAP) to run before transmitting. */
  program?: FdLike;
  /** On lookup: the id of that program (0 if none). */
  programId?: number;
}

/** A cpumap value: the queue size of the CPU's kthread and, optionally, a program (5.9+). */
export interface CpumapValue {
  qsize: number;
  /** On update: the XDP program (BPF_XDP_CPUMAP) to run on the remote CPU. */
  program?: FdLike;
  /** On lookup: the id of that program (0 if none). */
  programId?: number;
}

function pairCodec<T extends { program?: FdLike; programId?: number }>(field: 'ifindex' | 'qsize'): Codec<T> {
  return Object.freeze({
    size: 8,
    decode: (b: Uint8Array, o = 0) => ({ [field]: codecs.u32.decode(b, o), programId: codecs.u32.decode(b, o + 4) }) as unknown as T,
    encode: (x: T, b?: Uint8Array, o = 0) => {
      if (typeof x !== 'object' || x === null) throw new ArgumentError(`expected { ${field}, program? }`, 'ERR_VALUE');
      const out = codecs.u32.encode((x as Record<string, number>)[field] ?? 0, b, o);
      // The kernel reads an fd here on update; -1 (or 0, which it also treats as none) means no program.
      codecs.u32.encode(x.program === undefined ? 0 : fdOf(x.program, 'program'), out, o + 4);
      return out;
    },
  });
}

/** Devmap values of 4 (ifindex) or 8 bytes (struct bpf_devmap_val). */
export function devmapCodec(valueSize: 4 | 8): Codec<DevmapValue | number> {
  return (valueSize === 4 ? codecs.u32 : pairCodec<DevmapValue>('ifindex')) as Codec<DevmapValue | number>;
}

/** Cpumap values of 4 (qsize) or 8 bytes (struct bpf_cpumap_val). */
export function cpumapCodec(valueSize: 4 | 8): Codec<CpumapValue | number> {
  return (valueSize === 4 ? codecs.u32 : pairCodec<CpumapValue>('qsize')) as Codec<CpumapValue | number>;
}

/** The codec of the keyless maps' (queue, stack, bloom filter) missing key. */
const NO_KEY: Codec<never> = Object.freeze({
  size: 0,
  decode: () => {
    throw new ArgumentError('this map has no keys');
  },
  encode: (_v: never, b?: Uint8Array) => b ?? new Uint8Array(0),
});

const FD_KEYED = new Set<number>([MapType.TASK_STORAGE, MapType.CGRP_STORAGE, MapType.SK_STORAGE, MapType.INODE_STORAGE]);
const FD_VALUED = new Set<number>([
  MapType.SOCKMAP,
  MapType.SOCKHASH,
  MapType.PERF_EVENT_ARRAY,
  MapType.CGROUP_ARRAY,
  MapType.XSKMAP,
  MapType.REUSEPORT_SOCKARRAY,
]);

/**
 * The codecs typed() uses when none are given: from the map's kind where it decides them,
 * else from the map's BTF. Throws ArgumentError naming what is missing.
 * @internal
 */
export function defaultCodecs(map: BpfMap, key?: Codec<unknown>, value?: Codec<unknown>): { key: Codec<unknown>; value: Codec<unknown> } {
  const t = map.type;
  let btf: ReturnType<BpfMap['btfTypes']> | undefined;
  const types = () => (btf ??= map.btfTypes());
  const need = (what: 'key' | 'value'): never => {
    throw new ArgumentError(
      `${map.description} has no BTF ${what} type: pass codecs, e.g. map.typed(codecs.u32, codecs.u64) ` +
        `(keys ${map.keySize} bytes, values ${map.valueSize} bytes)`,
      'ERR_NO_BTF',
    );
  };
  if (!key) {
    if (map.isKeyless) key = NO_KEY;
    else if (FD_KEYED.has(t)) key = fdCodec(4);
    else {
      const kt = types().key;
      if (kt) key = btfCodec(kt);
      // Kinds whose keys are plain u32 indexes even without BTF.
      else if (map.keySize === 4 && (FD_VALUED.has(t) || t === MapType.PROG_ARRAY || t === MapType.ARRAY_OF_MAPS || t === MapType.DEVMAP || t === MapType.CPUMAP)) key = codecs.u32;
      else need('key');
    }
  }
  if (!value) {
    if (t === MapType.ARRAY_OF_MAPS || t === MapType.HASH_OF_MAPS) {
      // Resolved at call time: map.ts imports this module.
      const BpfMapClass = map.constructor as typeof BpfMap;
      value = innerMapCodec((id) => BpfMapClass.fromId(id));
    } else if (t === MapType.PROG_ARRAY) value = programCodec;
    else if (FD_VALUED.has(t)) value = fdCodec(map.valueSize === 8 ? 8 : 4);
    else if (t === MapType.DEVMAP || t === MapType.DEVMAP_HASH) value = devmapCodec(map.valueSize === 8 ? 8 : 4);
    else if (t === MapType.CPUMAP) value = cpumapCodec(map.valueSize === 8 ? 8 : 4);
    else {
      const vt = types().value;
      if (!vt) need('value');
      const c = btfCodec(vt!);
      value = map.isPerCpu ? perCpuCodec(c) : c;
    }
  }
  return { key: key!, value: value! };
}

// ------------------------------------------------------------------------------------ typed map

/**
 * BPF_MAP_LOOKUP_BATCH chunk by chunk into buffers of its own: after next() returns true,
 * `count` entries are packed in `keys` and `values` (overwritten by the next call). Grows the
 * chunk when a hash bucket holds more entries than it (ENOSPC).
 */
class ChunkReader {
  keys: Uint8Array;
  values: Uint8Array;
  count = 0;
  readonly #map: BpfMap;
  #chunk: number;
  readonly #elemFlags: number;
  readonly #andDelete: boolean;
  readonly #cursor: BatchCursor;

  /** `spare`: buffers of an earlier walk to reuse when big enough (fresh ones cost page faults in the kernel's copy). */
  constructor(
    map: BpfMap,
    chunk: number,
    opts: { elemFlags?: number; andDelete?: boolean; cursor?: BatchCursor },
    spare?: { keys: Uint8Array; values: Uint8Array },
  ) {
    this.#map = map;
    this.#chunk = chunk;
    this.#elemFlags = opts.elemFlags ?? 0;
    this.#andDelete = opts.andDelete ?? false;
    this.#cursor = opts.cursor ?? new BatchCursor();
    const kb = chunk * map.keySize;
    const vb = chunk * map.userValueSize;
    if (spare && spare.keys.length >= kb && spare.values.length >= vb) {
      // The same view objects when the size is the same: codecs cache the DataView of the last
      // buffer they saw, and a new view object would miss that cache on every walk.
      this.keys = spare.keys.length === kb ? spare.keys : spare.keys.subarray(0, kb);
      this.values = spare.values.length === vb ? spare.values : spare.values.subarray(0, vb);
    } else {
      this.keys = new Uint8Array(kb);
      this.values = new Uint8Array(vb);
    }
  }

  /**
   * Reads the next chunk, of at most `max` entries. False at the end of the map, or, with
   * `stopWhenFull`, when the next hash bucket holds more than `max` entries (else ENOSPC).
   */
  next(max = Infinity, stopWhenFull = false): boolean {
    const cursor = this.#cursor;
    const map = this.#map;
    while (!cursor.done) {
      const want = Math.min(this.#chunk, max);
      try {
        this.count = cursor.read(map, this.keys, this.values, want, { elemFlags: this.#elemFlags, andDelete: this.#andDelete });
      } catch (e) {
        // The next hash bucket holds more entries than `want` (the kernel returns buckets whole):
        // a bigger chunk, unless `max` forbids it.
        if (e instanceof BpfError && e.code === 'ENOSPC') {
          if (want < max && this.#chunk < map.maxEntries) {
            this.#chunk = Math.min(this.#chunk * 2, map.maxEntries);
            this.keys = new Uint8Array(this.#chunk * map.keySize);
            this.values = new Uint8Array(this.#chunk * map.userValueSize);
            continue;
          }
          if (stopWhenFull) return false;
        }
        throw e;
      }
      return this.count > 0;
    }
    return false;
  }
}

export interface TypedBatchOptions {
  /** Entries per syscall (default: as many as fit in about 4 MiB, at least 256). */
  chunkSize?: number;
  /** elem_flags: BPF_F_LOCK. */
  elemFlags?: number;
}

function isBigIntArray(a: ScalarArray | undefined): boolean {
  return a instanceof BigUint64Array || a instanceof BigInt64Array;
}

/**
 * Stores `x` as the single element of `col` when that writes exactly the bytes the codec would:
 * a number that the element type holds unchanged (read back equal), or a bigint in [-2^63,
 * 2^64) for 8-byte integers (both signs wrap to the same two's complement bytes). Anything else
 * (fractions, out of range, NaN, strings, enum names, numbers for 8-byte integers) returns false
 * and goes through the codec, which converts it or throws the codec's error.
 */
function storeExactly(col: ScalarArray, big: boolean, x: unknown): boolean {
  if (big) {
    if (!fitsInt64(x)) return false;
    (col as BigUint64Array)[0] = x;
    return true;
  }
  if (typeof x !== 'number') return false;
  (col as Float64Array)[0] = x;
  return col[0] === x;
}

/** The bytes of a typed array (no copy). */
function bytesOf(a: ScalarArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** `bytes` as a typed array of the codec's scalar kind (values in host order), or undefined if it has none or `bytes` is unaligned. */
function column<T>(codec: Codec<T>, bytes: Uint8Array): ArrayLike<T> | undefined {
  return codec.scalar ? (scalarArray(codec.scalar, bytes) as unknown as ArrayLike<T> | undefined) : undefined;
}

/**
 * The per-entry loop of a batch walk, on its own: V8 compiles this small function on its own
 * hot loop (on-stack replacement with the loop's full feedback), where the loop inline in
 * batchForEach was compiled before the code after it had run, and was thrown away (deoptimized)
 * when a walk finished its first chunk. Scalar keys and values (`Codec.scalar`: u32, u64, ...)
 * are read as typed-array columns, with no decode() call per entry: before V8 has compiled the
 * loop, each call is a few interpreted instructions more per entry, and after, a bigint read
 * from a BigUint64Array costs ~12 ns against ~18 ns through a DataView (measured).
 */
function forEachDecoded<K, V>(
  kc: Codec<K>,
  ks: number,
  keys: Uint8Array,
  vc: Codec<V>,
  vs: number,
  values: Uint8Array,
  count: number,
  fn: (value: V, key: K) => void,
): void {
  const kcol = column(kc, keys);
  const vcol = column(vc, values);
  if (kcol && vcol) {
    for (let i = 0; i < count; i++) fn(vcol[i]!, kcol[i]!);
  } else if (kcol) {
    for (let i = 0; i < count; i++) fn(vc.decode(values, i * vs), kcol[i]!);
  } else if (vcol) {
    for (let i = 0; i < count; i++) fn(vcol[i]!, kc.decode(keys, i * ks));
  } else {
    for (let i = 0; i < count; i++) fn(vc.decode(values, i * vs), kc.decode(keys, i * ks));
  }
}

const REQ = requestBuffer.bytes;
const KEY = requestBuffer.key;
const VALUE = requestBuffer.value;
const NEXT = requestBuffer.nextKey;

/**
 * A BpfMap with keys of type K and values of type V (`map.typed<K, V>()`). A missing key is
 * `undefined`, not an exception; wrong sizes and values that don't fit are ArgumentErrors
 * before any syscall; kernel refusals are BpfErrors with the errno's code (`EEXIST` for
 * NOEXIST on an existing key, `E2BIG` for a full map, ...).
 */
export class TypedMap<K, V> implements Iterable<[K, V]> {
  readonly map: BpfMap;
  readonly keyCodec: Codec<K>;
  readonly valueCodec: Codec<V>;
  readonly #ks: number;
  readonly #vs: number;
  /** Key and value fit the request buffer's regions (almost always). */
  readonly #inPlace: boolean;
  readonly #keyless: boolean;
  /** Keyed and in place: the hot path of get/set/has. */
  readonly #fast: boolean;
  readonly #fd: FD;
  /**
   * For scalar codecs (u32, u64, f64, ...: `Codec.scalar`), one-element typed arrays over the
   * request buffer's key and value regions, else null. get/has/set store keys and values and
   * read values as single elements there, where the codec's encode and decode touch the codec
   * object, its closure, its views and their buffers: each a cache line that the syscall
   * between two operations has evicted (measured: a typed set ~40 ns slower than the request
   * path with codecs, ~10 with the columns). `#...Big`: the element is a bigint.
   */
  readonly #keyCol: ScalarArray | null;
  readonly #keyBig: boolean;
  readonly #valueCol: ScalarArray | null;
  readonly #valueBig: boolean;

  constructor(map: BpfMap, keyCodec: Codec<K>, valueCodec: Codec<V>) {
    this.map = map;
    this.#keyless = map.isKeyless;
    if (!this.#keyless && keyCodec.size !== map.keySize) {
      throw new ArgumentError(`${map.description} has ${map.keySize}-byte keys; the key codec encodes ${keyCodec.size} bytes`, 'ERR_KEY_SIZE');
    }
    if (valueCodec.size !== map.userValueSize) {
      const per = map.isPerCpu ? ` (${map.valueSize} rounded up to 8, times ${possibleCpuCount()} possible CPUs: use perCpuCodec)` : '';
      throw new ArgumentError(`${map.description} has ${map.userValueSize}-byte values${per}; the value codec encodes ${valueCodec.size} bytes`, 'ERR_VALUE_SIZE');
    }
    this.keyCodec = keyCodec;
    this.valueCodec = valueCodec;
    this.#ks = map.keySize;
    this.#vs = map.userValueSize;
    this.#inPlace = this.#ks <= requestBuffer.max && this.#vs <= requestBuffer.max;
    this.#fast = this.#inPlace && !this.#keyless;
    this.#fd = map.fd;
    const keyCol = this.#fast && keyCodec.scalar ? scalarArray(keyCodec.scalar, REQ.subarray(KEY, KEY + this.#ks)) : undefined;
    const valueCol = this.#fast && valueCodec.scalar ? scalarArray(valueCodec.scalar, REQ.subarray(VALUE, VALUE + this.#vs)) : undefined;
    this.#keyCol = keyCol ?? null;
    this.#keyBig = isBigIntArray(keyCol);
    this.#valueCol = valueCol ?? null;
    this.#valueBig = isBigIntArray(valueCol);
  }

  /** `key` into the request buffer's key region: as an element when it is one exactly, else through the codec. */
  #keyToRequest(key: K): void {
    const col = this.#keyCol;
    if (col === null || !storeExactly(col, this.#keyBig, key)) this.keyCodec.encode(key, REQ, KEY);
  }

  /** `value` into the request buffer's value region, as #keyToRequest. */
  #valueToRequest(value: V): void {
    const col = this.#valueCol;
    if (col === null || !storeExactly(col, this.#valueBig, value)) this.valueCodec.encode(value, REQ, VALUE);
  }

  #noKeys(op: string): never {
    throw new ArgumentError(`${this.map.description} (${this.map.typeName}) has no keys: use push/pop/peek${this.map.type === MapType.BLOOM_FILTER ? '/contains' : ''} instead of ${op}`);
  }

  /** The value of `key`, or undefined when there is none. flags: BPF_F_LOCK (spin-locked values). */
  get(key: K, flags = 0): V | undefined {
    if (this.#fast) {
      this.#keyToRequest(key);
      if (!requestLookup(this.#fd.value, flags)) return undefined;
      const vc = this.#valueCol;
      return vc !== null ? (vc[0] as V) : this.valueCodec.decode(REQ, VALUE);
    }
    return this.#getOther(key, flags);
  }

  // The other paths of get/has/set out of line, so that the fast path's bytecode stays small
  // enough for callers' loops to inline it whole (see sys/bpf.ts, Layout).
  #getOther(key: K, flags: number): V | undefined {
    if (this.#keyless) this.#noKeys('get');
    const value = new Uint8Array(this.#vs);
    return mapLookupElem(this.#fd.value, this.keyCodec.encode(key), value, flags) ? this.valueCodec.decode(value) : undefined;
  }

  /** Whether `key` has a value. */
  has(key: K): boolean {
    if (this.#fast) {
      this.#keyToRequest(key);
      return requestLookup(this.#fd.value, 0);
    }
    return this.#hasOther(key);
  }

  #hasOther(key: K): boolean {
    if (this.#keyless) this.#noKeys('has');
    return mapLookupElem(this.#fd.value, this.keyCodec.encode(key), new Uint8Array(this.#vs), 0);
  }

  /**
   * Sets the value of `key`. flags: UpdateFlags.ANY (0, the default), NOEXIST (fails with EEXIST if
   * the key exists), EXIST (ENOENT if it doesn't), F_LOCK (spin-locked values).
   */
  set(key: K, value: V, flags = 0): void {
    if (this.#fast) {
      this.#valueToRequest(value);
      this.#keyToRequest(key);
      requestUpdate(this.#fd.value, flags);
      return;
    }
    this.#setOther(key, value, flags);
  }

  #setOther(key: K, value: V, flags: number): void {
    if (this.#keyless) this.#noKeys('set');
    mapUpdateElem(this.#fd.value, this.keyCodec.encode(key), this.valueCodec.encode(value), flags);
  }

  /** Deletes `key`; false when it didn't exist. */
  delete(key: K): boolean {
    if (this.#keyless) this.#noKeys('delete');
    const fd = this.#fd.value;
    if (this.#inPlace) {
      this.#keyToRequest(key);
      return requestDelete(fd);
    }
    return mapDeleteElem(fd, this.keyCodec.encode(key));
  }

  /** The value of `key`, deleted atomically (hash and LRU maps, per-CPU too: 5.14+); undefined if none. */
  getAndDelete(key: K, flags = 0): V | undefined {
    if (this.#keyless) this.#noKeys('getAndDelete');
    const fd = this.#fd.value;
    if (this.#inPlace) {
      this.#keyToRequest(key);
      if (!requestLookupAndDelete(fd, flags)) return undefined;
      return this.valueCodec.decode(REQ, VALUE);
    }
    const value = new Uint8Array(this.#vs);
    return mapLookupAndDeleteElem(fd, this.keyCodec.encode(key), value, flags) ? this.valueCodec.decode(value) : undefined;
  }

  /** The key after `key` in the kernel's order (the first key without one); undefined at the end. */
  nextKey(key?: K): K | undefined {
    if (this.#keyless) this.#noKeys('nextKey');
    const fd = this.#fd.value;
    if (this.#inPlace) {
      const first = key === undefined;
      if (!first) this.#keyToRequest(key);
      if (!requestNextKey(fd, first)) return undefined;
      return this.keyCodec.decode(REQ, NEXT);
    }
    const next = new Uint8Array(this.#ks);
    return mapGetNextKey(fd, key === undefined ? null : this.keyCodec.encode(key), next) ? this.keyCodec.decode(next) : undefined;
  }

  /**
   * The keys, each once, including while entries are deleted concurrently (BpfMap.walkKeys
   * explains how); keys added meanwhile may or may not appear.
   */
  *keys(): IterableIterator<K> {
    if (this.#keyless) this.#noKeys('keys');
    const w = this.map.walkKeys();
    while (w.step()) yield this.keyCodec.decode(w.key);
  }

  /** [key, value] pairs, as keys(); entries deleted between finding the key and reading the value are skipped. */
  *entries(): IterableIterator<[K, V]> {
    if (this.#keyless) this.#noKeys('entries');
    const w = this.map.walkKeys();
    const out = w.inPlace ? undefined : new Uint8Array(this.#vs);
    while (w.step()) {
      if (!w.lookup(out)) continue;
      // Decode before yielding: the consumer may use the request buffer.
      const v = out ? this.valueCodec.decode(out) : this.valueCodec.decode(REQ, VALUE);
      yield [this.keyCodec.decode(w.key), v];
    }
  }

  /**
   * Calls `fn(value, key)` for each entry, as entries() walks them (the order is the kernel's).
   * Faster than entries(): no iterator objects. `fn` may delete entries (this one or others).
   */
  forEach(fn: (value: V, key: K) => void): void {
    if (this.#keyless) this.#noKeys('forEach');
    const w = this.map.walkKeys();
    const out = w.inPlace ? undefined : new Uint8Array(this.#vs);
    // Scalar keys and values (u32, u64, ...) are read as one-element typed arrays over the
    // walker's key and the value's bytes: an element load, where decode() is a call.
    const kcol = column(this.keyCodec, w.key);
    const vcol = column(this.valueCodec, out ?? REQ.subarray(VALUE, VALUE + this.#vs));
    while (w.step()) {
      if (!w.lookup(out)) continue;
      const v = vcol ? vcol[0]! : out ? this.valueCodec.decode(out) : this.valueCodec.decode(REQ, VALUE);
      fn(v, kcol ? kcol[0]! : this.keyCodec.decode(w.key));
    }
  }

  /** The values, as entries(). */
  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  // ---- queues, stacks, bloom filters

  #requireKeyless(op: string): void {
    if (!this.#keyless) throw new ArgumentError(`${op} is for queues, stacks and bloom filters; ${this.map.description} is a ${this.map.typeName} map`);
  }

  /** Queue/stack: adds `value` (flags: BPF_EXIST replaces the oldest when full); bloom filter: adds it to the set. */
  push(value: V, flags = 0): void {
    this.#requireKeyless('push');
    const fd = this.#fd.value;
    if (this.#inPlace) {
      this.valueCodec.encode(value, REQ, VALUE);
      requestUpdate(fd, flags, true);
    } else {
      mapUpdateElem(fd, null, this.valueCodec.encode(value), flags);
    }
  }

  /** Queue/stack: removes and returns the next value (oldest for queues, newest for stacks); undefined when empty. */
  pop(): V | undefined {
    this.#requireKeyless('pop');
    const fd = this.#fd.value;
    if (this.#inPlace) return requestLookupAndDelete(fd, 0, true) ? this.valueCodec.decode(REQ, VALUE) : undefined;
    const value = new Uint8Array(this.#vs);
    return mapLookupAndDeleteElem(fd, null, value) ? this.valueCodec.decode(value) : undefined;
  }

  /** Queue/stack: the next value without removing it; undefined when empty. */
  peek(): V | undefined {
    this.#requireKeyless('peek');
    const fd = this.#fd.value;
    if (this.#inPlace) return requestLookup(fd, 0, true) ? this.valueCodec.decode(REQ, VALUE) : undefined;
    const value = new Uint8Array(this.#vs);
    return mapLookupElem(fd, null, value) ? this.valueCodec.decode(value) : undefined;
  }

  /** Bloom filter: false if `value` was certainly never pushed; true if it may have been. */
  contains(value: V): boolean {
    if (this.map.type !== MapType.BLOOM_FILTER) throw new ArgumentError(`contains is for bloom filters; ${this.map.description} is a ${this.map.typeName} map`);
    const fd = this.#fd.value;
    if (this.#inPlace) {
      this.valueCodec.encode(value, REQ, VALUE);
      return requestLookup(fd, 0, true);
    }
    return mapLookupElem(fd, null, this.valueCodec.encode(value), 0);
  }

  // ---- batch operations (5.6+)

  #chunk(opts: TypedBatchOptions): number {
    const per = Math.max(1, this.#ks + this.#vs);
    const n = opts.chunkSize ?? Math.max(256, Math.floor((4 << 20) / per));
    if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`chunkSize must be a positive integer, got ${opts.chunkSize}`);
    return Math.min(n, Math.max(1, this.map.maxEntries));
  }

  /**
   * Every entry with BPF_MAP_LOOKUP_BATCH (5.6+; hash, LRU, array and their per-CPU kinds),
   * `chunkSize` per syscall. Unlike keys(), a batch walk over a hash map never restarts: it moves
   * bucket by bucket with a cursor. `andDelete` removes what it returns (LOOKUP_AND_DELETE_BATCH).
   */
  *batchEntries(opts: TypedBatchOptions & { andDelete?: boolean } = {}): IterableIterator<[K, V]> {
    if (this.#keyless) this.#noKeys('batchEntries');
    const c = this.#reader(opts);
    const ks = this.#ks;
    const vs = this.#vs;
    while (c.next()) {
      // The buffers are this walk's own: they are only reused by its next call, after these yields.
      for (let i = 0; i < c.count; i++) yield [this.keyCodec.decode(c.keys, i * ks), this.valueCodec.decode(c.values, i * vs)];
    }
    this.#release(c);
  }

  /** Buffers of the last finished batch walk: reused by the next (a nested walk allocates its own). */
  #spare: { keys: Uint8Array; values: Uint8Array } | undefined;

  #reader(opts: TypedBatchOptions & { andDelete?: boolean; cursor?: BatchCursor }, chunk = this.#chunk(opts)): ChunkReader {
    const c = new ChunkReader(this.map, chunk, opts, this.#spare);
    this.#spare = undefined;
    return c;
  }

  #release(c: ChunkReader): void {
    // Keep up to 16 MiB for the next walk.
    if (c.keys.buffer.byteLength + c.values.buffer.byteLength <= 16 << 20) {
      const whole = (v: Uint8Array): Uint8Array => (v.byteOffset === 0 && v.length === v.buffer.byteLength ? v : new Uint8Array(v.buffer));
      this.#spare = { keys: whole(c.keys), values: whole(c.values) };
    }
  }

  /**
   * Calls `fn(value, key)` for every entry read with BPF_MAP_LOOKUP_BATCH (see batchEntries):
   * the fastest way to dump a map, with no per-entry objects beyond the decoded values.
   */
  batchForEach(fn: (value: V, key: K) => void, opts: TypedBatchOptions & { andDelete?: boolean } = {}): void {
    if (this.#keyless) this.#noKeys('batchForEach');
    const c = this.#reader(opts);
    const ks = this.#ks;
    const vs = this.#vs;
    while (c.next()) forEachDecoded(this.keyCodec, ks, c.keys, this.valueCodec, vs, c.values, c.count, fn);
    this.#release(c);
  }

  /**
   * BPF_MAP_LOOKUP_BATCH into the caller's columns, as cilium/ebpf's BatchLookup fills slices:
   * entry i's key in `keys[i]` and its value in `values[i]`, for i below the returned count.
   * Reads from the start of the map, or from where `opts.cursor` stands (then each call fills
   * the columns from index 0, until `cursor.done`), until the map ends or the columns are full.
   *
   * A scalar codec (u32, u64, f64, ...: `Codec.scalar`) takes a typed array of its kind
   * (Uint32Array for u32 keys, BigUint64Array for u64 values, ...), which the kernel fills in
   * place: nothing is decoded or allocated per entry, and columns reused across calls make a
   * dump allocate nothing. Any codec takes a plain array, filled with decoded values (its
   * length set to the count); plain arrays grow, so two of them take the whole map.
   *
   * A hash map is returned a bucket at a time: a call can stop short of full columns when the
   * next bucket does not fit in what is left (columns smaller than one bucket are an ENOSPC
   * BpfError). With `andDelete` (hash maps), what is returned is removed and nothing else.
   */
  batchLookupInto(
    keys: K[] | ScalarArray,
    values: V[] | ScalarArray,
    opts: TypedBatchOptions & { andDelete?: boolean; cursor?: BatchCursor } = {},
  ): number {
    if (this.#keyless) this.#noKeys('batchLookupInto');
    const kb = this.#columnBytes('batchLookupInto', 'keys', this.keyCodec, keys);
    const vb = this.#columnBytes('batchLookupInto', 'values', this.valueCodec, values);
    if (kb && vb) {
      // Both columns are the kernel's own layout: one read straight into them.
      const cap = Math.min(keys.length, values.length);
      return this.map.batchLookup(kb.subarray(0, cap * this.#ks), vb.subarray(0, cap * this.#vs), opts);
    }
    const cap = Math.min(kb ? keys.length : Infinity, vb ? values.length : Infinity, this.map.maxEntries);
    return this.#decodeInto(keys, values, cap, opts);
  }

  /**
   * The bytes of a typed-array column, or undefined for a plain array. A typed array must be of
   * the codec's scalar kind: its elements then hold exactly the bytes the kernel writes.
   */
  #columnBytes(op: string, what: string, codec: Codec<unknown>, col: unknown[] | ScalarArray): Uint8Array | undefined {
    if (Array.isArray(col)) return undefined;
    if (!ArrayBuffer.isView(col)) throw new ArgumentError(`${op}: ${what} must be an array or a typed array`);
    const want = codec.scalar;
    if (!want || !isScalarArrayOf(want, col)) {
      const needs = want ? `a ${scalarArrayName(want)} (its codec is ${want})` : 'a plain array (its codec is not a single scalar)';
      throw new ArgumentError(`${op}: ${what} is a ${col.constructor.name}, where this map's ${what} need ${needs}`);
    }
    return bytesOf(col);
  }

  /** A plain array's elements encoded back to back. */
  #encodeColumn<T>(codec: Codec<T>, col: readonly T[], size: number): Uint8Array {
    const out = new Uint8Array(col.length * size);
    for (let i = 0; i < col.length; i++) codec.encode(col[i]!, out, i * size);
    return out;
  }

  /** batchLookupInto's columns when one is a plain array: chunks read into buffers of their own, then decoded. */
  #decodeInto(keys: K[] | ScalarArray, values: V[] | ScalarArray, cap: number, opts: TypedBatchOptions & { andDelete?: boolean; cursor?: BatchCursor }): number {
    const kcol = keys as unknown as K[];
    const vcol = values as unknown as V[];
    const c = this.#reader(opts, Math.min(this.#chunk(opts), Math.max(1, cap)));
    const ks = this.#ks;
    const vs = this.#vs;
    let n = 0;
    while (n < cap && c.next(cap - n, n > 0)) {
      for (let i = 0; i < c.count; i++) {
        kcol[n + i] = this.keyCodec.decode(c.keys, i * ks);
        vcol[n + i] = this.valueCodec.decode(c.values, i * vs);
      }
      n += c.count;
    }
    this.#release(c);
    if (Array.isArray(keys)) keys.length = n;
    if (Array.isArray(values)) values.length = n;
    return n;
  }

  /** Every entry as an array of [key, value], with BPF_MAP_LOOKUP_BATCH (see batchEntries). */
  batchLookup(opts: TypedBatchOptions = {}): [K, V][] {
    const out: [K, V][] = [];
    this.batchForEach((v, k) => out.push([k, v]), opts);
    return out;
  }

  /** Every entry as an array, removed from the map as read (BPF_MAP_LOOKUP_AND_DELETE_BATCH, 5.6+; hash maps). */
  batchLookupAndDelete(opts: TypedBatchOptions = {}): [K, V][] {
    const out: [K, V][] = [];
    this.batchForEach((v, k) => out.push([k, v]), { ...opts, andDelete: true });
    return out;
  }

  /**
   * Sets many entries with BPF_MAP_UPDATE_BATCH (5.6+): each is created or replaced (the kernel
   * takes only BPF_F_LOCK in elemFlags: NOEXIST/EXIST are EINVAL). Returns the number written;
   * a failure reports how many were written before it.
   */
  batchUpdate(entries: Iterable<readonly [K, V]>, opts: TypedBatchOptions = {}): number {
    if (this.#keyless) this.#noKeys('batchUpdate');
    const keys: K[] = [];
    const values: V[] = [];
    for (const [k, v] of entries) {
      keys.push(k);
      values.push(v);
    }
    return this.batchUpdateFrom(keys, values, opts);
  }

  /**
   * BPF_MAP_UPDATE_BATCH from columns (5.6+; as cilium/ebpf's BatchUpdate takes slices): each
   * `keys[i]` set to `values[i]`, created or replaced. Typed arrays of the codecs' scalar kinds
   * (as batchLookupInto takes) go to the kernel as they are; plain arrays are encoded first.
   * Returns the number written; a failure reports how many of its chunk were written.
   */
  batchUpdateFrom(keys: K[] | ScalarArray, values: V[] | ScalarArray, opts: TypedBatchOptions = {}): number {
    if (this.#keyless) this.#noKeys('batchUpdateFrom');
    if (keys.length !== values.length) throw new ArgumentError(`batchUpdateFrom: ${keys.length} keys but ${values.length} values`);
    const ks = this.#ks;
    const vs = this.#vs;
    const kb = this.#columnBytes('batchUpdateFrom', 'keys', this.keyCodec, keys) ?? this.#encodeColumn(this.keyCodec, keys as K[], ks);
    const vb = this.#columnBytes('batchUpdateFrom', 'values', this.valueCodec, values) ?? this.#encodeColumn(this.valueCodec, values as V[], vs);
    const chunk = this.#chunk(opts);
    let written = 0;
    for (let start = 0; start < keys.length; start += chunk) {
      const n = Math.min(chunk, keys.length - start);
      written += mapUpdateBatch(this.#fd.value, kb.subarray(start * ks, (start + n) * ks), vb.subarray(start * vs, (start + n) * vs), n, opts.elemFlags ?? 0);
    }
    return written;
  }

  /**
   * Deletes many keys with BPF_MAP_DELETE_BATCH (5.6+). A missing key stops it with ENOENT.
   * Returns the number deleted. A typed array of the key codec's scalar kind goes to the
   * kernel as it is.
   */
  batchDelete(keys: Iterable<K>, opts: TypedBatchOptions = {}): number {
    if (this.#keyless) this.#noKeys('batchDelete');
    const scalar = this.keyCodec.scalar;
    if (scalar && isScalarArrayOf(scalar, keys)) return this.#deleteColumn(bytesOf(keys), keys.length, opts);
    const list = Array.isArray(keys) ? (keys as readonly K[]) : [...keys];
    return this.#deleteColumn(this.#encodeColumn(this.keyCodec, list, this.#ks), list.length, opts);
  }

  #deleteColumn(bytes: Uint8Array, count: number, opts: TypedBatchOptions): number {
    const chunk = this.#chunk(opts);
    const ks = this.#ks;
    let deleted = 0;
    for (let start = 0; start < count; start += chunk) {
      const n = Math.min(chunk, count - start);
      deleted += mapDeleteBatch(this.#fd.value, bytes.subarray(start * ks, (start + n) * ks), n, opts.elemFlags ?? 0);
    }
    return deleted;
  }

  /** Deletes every entry (hash-like maps; array entries can't be deleted). Returns how many were deleted. */
  clear(): number {
    let n = 0;
    for (const k of this.map.keys()) if (this.map.delete(k)) n++;
    return n;
  }
}
