/**
 * BpfMap: a BPF map owned through its fd, with the raw byte-level API.
 *
 * Raw access (`Uint8Array` keys and values) is always there; typed access through codecs sits
 * on top (`map.typed()`, typed.ts; codecs from BTF in btf/codec.ts). Methods validate key and
 * value sizes before the syscall, so a wrong size is an ArgumentError naming the map, not an
 * EINVAL from the kernel.
 */
import { EbpfError, ArgumentError } from '../errors.js';
import { Spec, loadKernelSpec, type Type } from '../btf/index.js';
import type { Codec } from '../btf/index.js';
import {
  MapFlags,
  Mapping,
  PROT_READ,
  PROT_WRITE,
  btfInfo,
  pageSize,
  requestBuffer,
  requestLookup,
  requestNextKey,
  FD,
  MAP_TYPE_NAMES,
  MapType,
  PERCPU_MAP_TYPES,
  getFdById,
  listIds,
  openEach,
  mapCreate,
  mapDeleteBatch,
  mapDeleteElem,
  mapFreeze,
  mapGetNextKey,
  mapInfo,
  mapLookupAndDeleteElem,
  mapLookupBatch,
  mapLookupElem,
  mapUpdateBatch,
  mapUpdateElem,
  objGet,
  possibleCpuCount,
  type MapInfo,
  BpfObject,
} from '../sys/index.js';
import { TypedMap, defaultCodecs } from './typed.js';

export type MapTypeName = keyof typeof MapType;

export interface MapOptions {
  /** A MapType value or its name ('HASH', 'ARRAY', 'PERCPU_HASH', ...). */
  type: number | MapTypeName;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  /** At most 15 characters are kept by the kernel. */
  name?: string;
  /** For ARRAY_OF_MAPS / HASH_OF_MAPS: a map of the inner kind, used as a template. */
  innerMap?: BpfMap;
  numaNode?: number;
  ifindex?: number;
  /** BTF describing key and value (from a loaded BTF object). */
  btf?: { fd: number; keyTypeId: number; valueTypeId: number; vmlinuxValueTypeId?: number };
  /** Bloom filter hash count, arena address... */
  mapExtra?: bigint;
}

export function mapTypeOf(type: number | string): number {
  if (typeof type === 'number') return type;
  const v = (MapType as Record<string, number>)[type.toUpperCase()];
  if (v === undefined) throw new ArgumentError(`unknown map type '${type}'`, 'ERR_MAP_TYPE');
  return v;
}

/** Map types without keys (queue, stack, bloom filter): userspace passes a null key. */
const KEYLESS = new Set<number>([MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER]);

/**
 * Array-like maps: every index exists, nothing can be deleted, and BPF_MAP_GET_NEXT_KEY is
 * index + 1, so iteration needs no protection against restarts.
 */
const ARRAY_LIKE = new Set<number>([
  MapType.ARRAY,
  MapType.PERCPU_ARRAY,
  MapType.PROG_ARRAY,
  MapType.PERF_EVENT_ARRAY,
  MapType.CGROUP_ARRAY,
  MapType.ARRAY_OF_MAPS,
  MapType.CPUMAP,
  MapType.XSKMAP,
  MapType.REUSEPORT_SOCKARRAY,
]);

/** The BTF key and value types of a map (either may be missing). */
export interface MapBtfTypes {
  key?: Type;
  value?: Type;
}

/** Iteration gave up because the map kept changing under it (see BpfMap.keys). */
export class IterationAbortedError extends EbpfError {
  constructor(map: string, steps: number) {
    super('ERR_ITERATION_ABORTED', `iterating ${map} gave up after ${steps} steps: entries are deleted and re-added faster than it can advance`);
  }
}

/** A BPF_F_MMAPABLE array mapped into this process (BpfMap.mmap). */
export class MappedArray {
  readonly #mapping: Mapping;
  /** Bytes from one value to the next: the value size rounded up to 8, as the kernel lays them out. */
  readonly stride: number;
  readonly length: number;
  readonly valueSize: number;
  readonly writable: boolean;

  /** @internal */
  constructor(mapping: Mapping, length: number, valueSize: number, writable: boolean) {
    this.#mapping = mapping;
    this.length = length;
    this.valueSize = valueSize;
    this.stride = Math.ceil(valueSize / 8) * 8;
    this.writable = writable;
  }

  /** All the values, `stride` bytes apart: a live view of the map's memory. */
  get bytes(): Uint8Array {
    return new Uint8Array(this.#mapping.buffer, 0, this.length * this.stride);
  }

  /** The value at `index`: a live view (writes are what BPF programs read). */
  at(index: number): Uint8Array {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new ArgumentError(`index ${index} is outside the array's ${this.length} entries`);
    return new Uint8Array(this.#mapping.buffer, index * this.stride, this.valueSize);
  }

  /** Decodes the value at `index` with `codec`. */
  get<V>(index: number, codec: Codec<V>): V {
    return codec.decode(this.at(index));
  }

  /** Encodes `value` at `index` with `codec`, in place. */
  set<V>(index: number, value: V, codec: Codec<V>): void {
    if (!this.writable) throw new ArgumentError('the array is mapped read-only (frozen, or mapped with readOnly)');
    codec.encode(value, this.at(index));
  }

  get mapped(): boolean {
    return this.#mapping.mapped;
  }

  /** Unmaps; views handed out become zero-length. Idempotent. */
  unmap(): void {
    this.#mapping.unmap();
  }

  [Symbol.dispose](): void {
    this.unmap();
  }
}

export interface BatchOptions {
  /** Entries per syscall (default: the whole map). */
  chunkSize?: number;
  elemFlags?: number;
}

/**
 * Where a batch walk (BPF_MAP_LOOKUP_BATCH) stands between calls, as cilium/ebpf's
 * MapBatchCursor: give the same cursor to successive batch lookups to read a map in pieces;
 * `done` once the kernel has reported the end. Its bytes are the kernel's opaque position (a
 * bucket index for hash maps, a key for arrays), so a cursor belongs to one map.
 */
export class BatchCursor {
  /** The kernel has returned the map's last entries: further lookups with this cursor read nothing. */
  done = false;
  /** in_batch: where the next call starts (null: at the beginning). */
  #position: Uint8Array | null = null;
  /** out_batch: where the kernel writes the position after the call. */
  #out: Uint8Array | null = null;
  #map: BpfMap | null = null;

  /**
   * One BPF_MAP_LOOKUP_BATCH of at most `count` entries into `keys` and `values`, from where
   * the cursor stands; moves the cursor past them (or marks it done). Returns the count read.
   * The kernel's errors are thrown as they are: ENOSPC when the next hash bucket holds more
   * than `count` entries (nothing was copied, the cursor has not moved). @internal
   */
  read(map: BpfMap, keys: Uint8Array, values: Uint8Array, count: number, opts: { elemFlags?: number; andDelete?: boolean }): number {
    if (this.done) return 0;
    if (this.#map !== map) {
      if (this.#map) throw new ArgumentError(`a BatchCursor belongs to the map it started on (${this.#map.name || 'unnamed'}), not ${map.name || 'another'}`);
      this.#map = map;
    }
    // Hash maps use a 4-byte bucket index, arrays the key itself: max(keySize, 4) fits both.
    const out = (this.#out ??= new Uint8Array(Math.max(map.keySize, 4)));
    const r = mapLookupBatch(map.fd.value, this.#position, out, keys, values, count, opts);
    if (r.done || r.count === 0) this.done = true;
    else {
      // This call's out_batch is where the next one starts.
      this.#out = this.#position;
      this.#position = out;
    }
    return r.count;
  }
}

export class BpfMap extends BpfObject {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly name: string;
  /** Bytes of one value as userspace sees it: per-CPU maps hold one 8-byte aligned slot per possible CPU. */
  readonly userValueSize: number;
  #id: number | undefined;
  /** Queue, stack and bloom filter take no key (decided once: update() is a hot path). */
  readonly #keyless: boolean;
  #btf: MapBtfTypes | undefined;
  #btfId: number | undefined;
  /** The de-duplication set of key walks, reused by the next walk once the last has ended. */
  #keySet: SeenKeys | undefined;

  constructor(
    fd: FD,
    info: Pick<MapInfo, 'type' | 'keySize' | 'valueSize' | 'maxEntries' | 'flags' | 'name'> & { id?: number; btfId?: number },
  ) {
    super(fd);
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.name = info.name;
    this.#id = info.id;
    this.#btfId = info.btfId;
    this.#keyless = KEYLESS.has(info.type);
    this.userValueSize = PERCPU_MAP_TYPES.has(info.type)
      ? Math.ceil(info.valueSize / 8) * 8 * possibleCpuCount()
      : info.valueSize;
  }

  /**
   * Creates a map in the kernel. `btfTypes` (the BTF types `opts.btf` names) give typed() its
   * codecs.
   */
  static create(opts: MapOptions & { btfTypes?: MapBtfTypes }): BpfMap {
    const type = mapTypeOf(opts.type);
    if (!Number.isInteger(opts.maxEntries) || opts.maxEntries < 0) {
      throw new ArgumentError(`maxEntries must be a non-negative integer, got ${opts.maxEntries}`);
    }
    const fd = mapCreate({
      mapType: type,
      keySize: opts.keySize,
      valueSize: opts.valueSize,
      maxEntries: opts.maxEntries,
      mapFlags: opts.flags ?? 0,
      innerMapFd: opts.innerMap?.fd.value ?? 0,
      numaNode: opts.numaNode ?? 0,
      name: opts.name ?? '',
      ifindex: opts.ifindex ?? 0,
      btfFd: opts.btf?.fd ?? 0,
      btfKeyTypeId: opts.btf?.keyTypeId ?? 0,
      btfValueTypeId: opts.btf?.valueTypeId ?? 0,
      btfVmlinuxValueTypeId: opts.btf?.vmlinuxValueTypeId ?? 0,
      mapExtra: opts.mapExtra ?? 0n,
    });
    const map = new BpfMap(fd, {
      type,
      keySize: opts.keySize,
      valueSize: opts.valueSize,
      maxEntries: opts.maxEntries,
      flags: opts.flags ?? 0,
      name: (opts.name ?? '').slice(0, 15),
    });
    if (opts.btfTypes) map.setBtfTypes(opts.btfTypes);
    return map;
  }

  /** Wraps an fd of an existing map, reading its attributes from the kernel. Takes ownership. */
  static fromFd(fd: FD): BpfMap {
    const info = mapInfo(fd.value);
    return new BpfMap(fd, info);
  }

  /** Opens a map by its kernel id. */
  static fromId(id: number): BpfMap {
    return BpfMap.fromFd(getFdById('map', id));
  }

  /** Opens a map pinned on bpffs. */
  static loadPinned(path: string, opts: { readOnly?: boolean; writeOnly?: boolean } = {}): BpfMap {
    const flags = (opts.readOnly ? 1 << 3 : 0) | (opts.writeOnly ? 1 << 4 : 0);
    return BpfMap.fromFd(objGet(path, flags)).pinnedFrom(path);
  }

  /** Ids of every map on the system. */
  static listIds(): number[] {
    return listIds('map');
  }

  /** Every map on the system, opened (the caller closes them). Maps gone meanwhile are skipped. */
  static *all(): IterableIterator<BpfMap> {
    for (const fd of openEach('map')) yield BpfMap.fromFd(fd);
  }

  /**
   * Records the BTF types of key and value (the collection loader does, from the object's BTF),
   * for typed() to build codecs from.
   */
  setBtfTypes(types: MapBtfTypes): this {
    this.#btf = { ...types };
    return this;
  }

  /**
   * The BTF types of key and value: those recorded by the loader, else read from the kernel
   * (BPF_BTF_GET_FD_BY_ID of the map's btf_id, 4.18+) and parsed. Empty when the map has no BTF.
   */
  btfTypes(): MapBtfTypes {
    if (this.#btf) return this.#btf;
    const info = this.info();
    this.#btfId = info.btfId;
    if (!info.btfId || (!info.btfKeyTypeId && !info.btfValueTypeId)) {
      this.#btf = {};
      return this.#btf;
    }
    const fd = getFdById('btf', info.btfId);
    let spec: Spec;
    try {
      const bi = btfInfo(fd.value, true);
      // Kernel and module BTF are split on vmlinux; a program's BTF stands alone.
      spec = Spec.parse(bi.data!, bi.kernelBtf && bi.name !== 'vmlinux' ? { base: loadKernelSpec() } : {});
    } finally {
      fd.close();
    }
    const types: MapBtfTypes = {};
    if (info.btfKeyTypeId) types.key = spec.typeById(info.btfKeyTypeId);
    if (info.btfValueTypeId) types.value = spec.typeById(info.btfValueTypeId);
    this.#btf = types;
    return types;
  }

  /**
   * A typed view of the map: keys and values as JS values through codecs. Without codecs they
   * come from the map's BTF (the object's, or the kernel's for maps opened by id or pin), or
   * from the map's kind (map-in-map values are BpfMaps, program array values Programs, socket
   * maps take fds, ...). Maps without BTF need explicit codecs:
   * `map.typed(codecs.u32, codecs.u64)`. Per-CPU maps have arrays of per-CPU values.
   */
  typed<K = unknown, V = unknown>(keyCodec?: Codec<K>, valueCodec?: Codec<V>): TypedMap<K, V> {
    if (this.type === MapType.RINGBUF || this.type === MapType.USER_RINGBUF || this.type === MapType.ARENA) {
      throw new ArgumentError(`${this.#what()} is a ${this.typeName}, not a key/value map: ring buffers are read with the ring buffer reader, arenas mmapped`);
    }
    const d = keyCodec && valueCodec ? { key: keyCodec, value: valueCodec } : defaultCodecs(this, keyCodec, valueCodec);
    return new TypedMap<K, V>(this, (keyCodec ?? d.key) as Codec<K>, (valueCodec ?? d.value) as Codec<V>);
  }

  /**
   * Maps a BPF_F_MMAPABLE array (5.5+) into this process: values are read and written in place,
   * without syscalls, and what BPF programs write shows at once. A frozen map (or `readOnly`)
   * is mapped read-only.
   */
  mmap(opts: { readOnly?: boolean } = {}): MappedArray {
    if (this.type !== MapType.ARRAY || !(this.flags & MapFlags.MMAPABLE)) {
      throw new ArgumentError(`${this.#what()} is not an array created with BPF_F_MMAPABLE (MapFlags.MMAPABLE)`);
    }
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const page = pageSize();
    const length = Math.max(page, Math.ceil((stride * this.maxEntries) / page) * page);
    const writable = !opts.readOnly && !(this.flags & MapFlags.RDONLY_PROG);
    let mapping: Mapping;
    try {
      mapping = Mapping.map(this.fd.value, length, writable ? PROT_READ | PROT_WRITE : PROT_READ, 0, `mmap of ${this.#what()}`);
    } catch (e) {
      // A frozen map refuses writable mappings with EPERM: map it read-only then.
      if (writable && e instanceof EbpfError && e.code === 'EPERM' && !opts.readOnly) {
        mapping = Mapping.map(this.fd.value, length, PROT_READ, 0, `mmap of ${this.#what()}`);
        return new MappedArray(mapping, this.maxEntries, this.valueSize, false);
      }
      throw e;
    }
    return new MappedArray(mapping, this.maxEntries, this.valueSize, writable);
  }

  get id(): number {
    this.#id ??= this.info().id;
    return this.#id;
  }

  get typeName(): string {
    return MAP_TYPE_NAMES[this.type] ?? `type ${this.type}`;
  }

  get isPerCpu(): boolean {
    return PERCPU_MAP_TYPES.has(this.type);
  }

  /** Queue, stack and bloom filter: no keys, values pushed and popped. */
  get isKeyless(): boolean {
    return this.#keyless;
  }

  info(): MapInfo {
    return mapInfo(this.fd.value);
  }

  #what(): string {
    return `map '${this.name}'`;
  }

  /** @internal for error messages of typed views */
  get description(): string {
    return this.#what();
  }

  // The size checks run on every element operation: they stay tiny, and the messages are built
  // in separate functions. V8 inlines a hot call chain only up to a total bytecode size, and
  // the template strings had made these checks most of that budget (measured: the request
  // buffer's copy loops and the fd getter were left out of line).

  #checkKey(key: Uint8Array | null): void {
    if (key === null ? this.keySize !== 0 : key.length !== this.keySize) this.#keySizeError(key);
  }

  #checkValue(value: Uint8Array): void {
    // .length, not .byteLength (the same for a Uint8Array): V8 11 compiles the byteLength getter
    // to a builtin call, ~30 ns per map operation (measured); length is an inline load.
    if (value.length !== this.userValueSize) this.#valueSizeError(value);
  }

  #keySizeError(key: Uint8Array | null): never {
    if (key === null) throw new ArgumentError(`${this.#what()} needs a ${this.keySize}-byte key`, 'ERR_KEY_SIZE');
    throw new ArgumentError(`${this.#what()} has ${this.keySize}-byte keys, got ${key.byteLength} bytes`, 'ERR_KEY_SIZE');
  }

  #valueSizeError(value: Uint8Array): never {
    const per = this.isPerCpu ? ` (${this.valueSize} rounded to 8, times ${possibleCpuCount()} possible CPUs)` : '';
    throw new ArgumentError(`${this.#what()} has ${this.userValueSize}-byte values${per}, got ${value.byteLength} bytes`, 'ERR_VALUE_SIZE');
  }

  #keyArg(key: Uint8Array | null): Uint8Array | null {
    if (this.#keyless) {
      if (key !== null && key.length !== 0) this.#noKeyError();
      return null;
    }
    this.#checkKey(key);
    return key;
  }

  #noKeyError(): never {
    throw new ArgumentError(`${this.#what()} (${this.typeName}) takes no key`, 'ERR_KEY_SIZE');
  }

  /**
   * Looks up `key`. Returns the value (in `out` when given, else a new array) or undefined when
   * the key doesn't exist.
   */
  lookup(key: Uint8Array, out?: Uint8Array, flags = 0): Uint8Array | undefined {
    this.#checkKey(key);
    const value = out ?? new Uint8Array(this.userValueSize);
    if (out) this.#checkValue(out);
    return mapLookupElem(this.fd.value, key, value, flags) ? value : undefined;
  }

  /** Looks up into a caller-provided buffer, allocating nothing. Returns false if the key is missing. */
  lookupInto(key: Uint8Array, out: Uint8Array, flags = 0): boolean {
    this.#checkKey(key);
    this.#checkValue(out);
    return mapLookupElem(this.fd.value, key, out, flags);
  }

  /** Inserts or replaces. flags: UpdateFlags.ANY (0, the default), NOEXIST, EXIST, F_LOCK. */
  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    // One test for the usual case (a keyed map, both sizes right); queues and stacks (no key)
    // and every error out of line, so that callers' loops can inline the whole update (V8
    // counts bytecode against an inlining budget: see sys/bpf.ts, Layout).
    if (this.#keyless || key === null || key.length !== this.keySize || value.length !== this.userValueSize) {
      this.#updateOther(key, value, flags);
      return;
    }
    mapUpdateElem(this.fd.value, key, value, flags);
  }

  #updateOther(key: Uint8Array | null, value: Uint8Array, flags: number): void {
    const k = this.#keyArg(key);
    this.#checkValue(value);
    mapUpdateElem(this.fd.value, k, value, flags);
  }

  /** Deletes `key`; returns false when it didn't exist. */
  delete(key: Uint8Array): boolean {
    this.#checkKey(key);
    return mapDeleteElem(this.fd.value, key);
  }

  /** The key after `key` (the first key for null), or undefined at the end. */
  nextKey(key: Uint8Array | null, out?: Uint8Array): Uint8Array | undefined {
    if (key !== null) this.#checkKey(key);
    const next = out ?? new Uint8Array(this.keySize);
    return mapGetNextKey(this.fd.value, key, next) ? next : undefined;
  }

  /** Queue/stack push (an update with a null key). */
  push(value: Uint8Array, flags = 0): void {
    this.#checkValue(value);
    mapUpdateElem(this.fd.value, null, value, flags);
  }

  /**
   * Queue/stack pop (null key); undefined when empty. For hash, LRU and their per-CPU kinds
   * (5.14+): the value of `key`, deleted atomically. flags: BPF_F_LOCK for hash maps.
   */
  lookupAndDelete(key: Uint8Array | null, out?: Uint8Array, flags = 0): Uint8Array | undefined {
    const k = this.#keyArg(key);
    const value = out ?? new Uint8Array(this.userValueSize);
    if (out) this.#checkValue(out);
    return mapLookupAndDeleteElem(this.fd.value, k, value, flags) ? value : undefined;
  }

  /** Bloom filter: whether `value` may have been pushed (false: certainly not). */
  contains(value: Uint8Array): boolean {
    this.#checkValue(value);
    // The value is the lookup's input here: it goes into the request buffer's value region.
    if (value.byteLength <= requestBuffer.max) {
      requestBuffer.bytes.set(value, requestBuffer.value);
      return requestLookup(this.fd.value, 0, true);
    }
    return mapLookupElem(this.fd.value, null, value.slice());
  }

  /** Queue/stack peek; undefined when empty. */
  peek(out?: Uint8Array): Uint8Array | undefined {
    const value = out ?? new Uint8Array(this.userValueSize);
    return mapLookupElem(this.fd.value, null, value) ? value : undefined;
  }

  /**
   * A cursor over the keys (see KeyWalker): `step()` advances, `key` holds the current key.
   * @internal
   */
  walkKeys(): KeyWalker {
    if (this.keySize === 0) throw new ArgumentError(`${this.#what()} (${this.typeName}) has no keys to iterate`);
    let seen: SeenKeys | undefined;
    if (!ARRAY_LIKE.has(this.type)) {
      // One set per map, reused walk after walk (a fresh megabyte costs page faults: in a VM,
      // ~2 ms per 64k keys). A walk that starts while another is under way (nested, or
      // abandoned half way) gets a new one, which the map keeps from then on.
      const kept = this.#keySet ?? (this.#keySet = this.#newKeySet());
      if (kept.active) this.#keySet = seen = this.#newKeySet();
      else seen = kept;
      seen.clear();
      seen.active = true;
    }
    return new KeyWalker(this, seen);
  }

  #newKeySet(): SeenKeys {
    return this.keySize <= 4 ? new IntKeySet(this.keySize) : new KeySet(this.keySize, Math.min(Math.max(this.maxEntries, 16), 1 << 18));
  }

  /**
   * Iterates over keys (BPF_MAP_GET_NEXT_KEY). Each key is yielded once, and every key present
   * for the whole iteration is yielded, even while entries are deleted concurrently (see
   * walkKeys). The yielded array is fresh for each key.
   */
  *keys(): IterableIterator<Uint8Array> {
    const w = this.walkKeys();
    while (w.step()) yield w.key.slice();
  }

  /**
   * Iterates over [key, value] pairs (BPF_MAP_GET_NEXT_KEY, then a lookup); entries deleted
   * between the two syscalls are skipped. Arrays are fresh for each entry.
   */
  *entries(): IterableIterator<[Uint8Array, Uint8Array]> {
    const w = this.walkKeys();
    const value = new Uint8Array(this.userValueSize);
    while (w.step()) {
      if (w.lookup(value)) yield [w.key.slice(), value.slice()];
    }
  }

  *values(): IterableIterator<Uint8Array> {
    for (const [, v] of this.entries()) yield v;
  }

  /**
   * BPF_MAP_LOOKUP_BATCH (5.6+): keys and values packed back to back, as many entries as the
   * buffers hold, from the start of the map or from where `opts.cursor` stands. Returns the
   * number of entries read. Without a cursor, the whole map when the buffers hold max_entries.
   *
   * With a cursor, calls continue one another until `cursor.done`; each fills the buffers from
   * their start. A hash map is returned a bucket at a time: a call stops early (a count below
   * the buffers' capacity, `done` still false) when the next bucket does not fit in what is left.
   */
  batchLookup(keys: Uint8Array, values: Uint8Array, opts: BatchOptions & { andDelete?: boolean; cursor?: BatchCursor } = {}): number {
    const cap = Math.floor(keys.byteLength / Math.max(this.keySize, 1));
    if (values.byteLength < cap * this.userValueSize) {
      throw new ArgumentError(`values buffer too small for ${cap} entries of ${this.userValueSize} bytes`, 'ERR_VALUE_SIZE');
    }
    const cursor = opts.cursor ?? new BatchCursor();
    let chunk = Math.min(opts.chunkSize ?? cap, cap);
    let total = 0;
    while (total < cap && !cursor.done) {
      const n = Math.min(chunk, cap - total);
      try {
        total += cursor.read(
          this,
          keys.subarray(total * this.keySize, (total + n) * this.keySize),
          values.subarray(total * this.userValueSize, (total + n) * this.userValueSize),
          n,
          { elemFlags: opts.elemFlags ?? 0, andDelete: opts.andDelete ?? false },
        );
      } catch (e) {
        // ENOSPC: the next hash bucket holds more entries than `n` (the kernel returns a bucket
        // whole, and fails only when it has copied nothing in this call). Ask for more at once,
        // as far as the caller's buffers go; when they are full, the entries so far are the answer.
        if (e instanceof EbpfError && e.code === 'ENOSPC') {
          if (n < cap - total) {
            chunk = Math.min(chunk * 2, cap - total);
            continue;
          }
          if (total > 0) break;
        }
        throw e;
      }
    }
    return total;
  }

  /** BPF_MAP_UPDATE_BATCH of `count` packed keys and values. Returns how many were written. */
  batchUpdate(keys: Uint8Array, values: Uint8Array, count: number, elemFlags = 0): number {
    if (keys.byteLength < count * this.keySize || values.byteLength < count * this.userValueSize) {
      throw new ArgumentError(`batchUpdate: buffers too small for ${count} entries`, 'ERR_VALUE_SIZE');
    }
    return mapUpdateBatch(this.fd.value, keys, values, count, elemFlags);
  }

  /** BPF_MAP_DELETE_BATCH of `count` packed keys. */
  batchDelete(keys: Uint8Array, count: number, elemFlags = 0): number {
    if (keys.byteLength < count * this.keySize) throw new ArgumentError(`batchDelete: buffer too small for ${count} keys`, 'ERR_KEY_SIZE');
    return mapDeleteBatch(this.fd.value, keys, count, elemFlags);
  }

  /** Makes the map read-only for userspace (5.2+); BPF programs can still write it. */
  freeze(): void {
    mapFreeze(this.fd.value);
  }
}

// The request buffer as the key walk uses it: its regions are 4-byte aligned.
const REQ8 = requestBuffer.bytes;
const REQ32 = new Uint32Array(REQ8.buffer, REQ8.byteOffset, REQ8.length >> 2);
const KEY_OFF = requestBuffer.key;
const NEXT_OFF = requestBuffer.nextKey;
const KEY_WORD = KEY_OFF >> 2;
const NEXT_WORD = NEXT_OFF >> 2;
const EMPTY_U32 = new Uint32Array(0);

/**
 * Walks a map's keys with BPF_MAP_GET_NEXT_KEY through the request buffer. After `step()`
 * returns true, `key` (a private buffer, overwritten by the next step) holds the current key;
 * `lookup()` reads its value. Each key comes once, and keys present for the whole walk all
 * come, however entries are deleted meanwhile:
 *
 * When the previous key was deleted, the kernel restarts from the first key (hash and LRU
 * maps, LPM tries). A restart shows as a key already seen; the walk then resumes after the
 * newest recently seen key that still exists (its successor is the next unseen key), and
 * failing that walks on from the restart point, skipping seen keys. Array-like maps never
 * restart and need no bookkeeping. Gives up with IterationAbortedError only if the map changes
 * without end. Keys larger than the request buffer's regions go through caller buffers.
 * @internal
 */
export class KeyWalker {
  readonly key: Uint8Array;
  readonly #map: BpfMap;
  readonly #ks: number;
  readonly #seen: SeenKeys | undefined;
  readonly #ring: Uint8Array;
  /** Keys the walk has yielded (the history holds the last min(HISTORY, #yielded)). */
  #yielded = 0;
  #ringNext = 0;
  #first = true;
  #done = false;
  #steps = 0;
  readonly #limit: number;
  readonly #inPlace: boolean;
  /**
   * 4-byte keys (the common case: indexes, pids, addresses) move as one u32 word, and
   * `#key32`/`#ring32` view `key` and the history: one load and store where a byte loop took
   * four, and in the interpreter, before V8 has compiled the walk, a few bytecodes where the
   * loops took some sixty per step.
   */
  readonly #word: boolean;
  readonly #key32: Uint32Array;
  readonly #ring32: Uint32Array;
  static readonly HISTORY = 8;

  /** `seen`: an empty set sized for the map, marked active (undefined for array-like maps); inactive again when the walk ends. */
  constructor(map: BpfMap, seen: SeenKeys | undefined) {
    this.#map = map;
    this.#ks = map.keySize;
    this.key = new Uint8Array(this.#ks);
    this.#seen = seen;
    this.#ring = new Uint8Array(seen ? KeyWalker.HISTORY * this.#ks : 0);
    this.#limit = map.maxEntries * 4 + 1024;
    this.#inPlace = this.#ks <= requestBuffer.max && map.userValueSize <= requestBuffer.max;
    this.#word = this.#inPlace && this.#ks === 4;
    this.#key32 = this.#word ? new Uint32Array(this.key.buffer) : EMPTY_U32;
    this.#ring32 = this.#word ? new Uint32Array(this.#ring.buffer) : EMPTY_U32;
  }

  /** Advances to the next key; false at the end. */
  step(): boolean {
    if (this.#done) return false;
    const ok = this.#inPlace ? this.#stepInPlace() : this.#stepLarge();
    // Stored on every step, and nothing done only at the end: V8 compiles a long walk while it
    // runs, and code first reached at its end (a store or call without type feedback) would
    // throw that compiled code away, so the next walk would start interpreted again (measured:
    // the second of five 64k-entry walks took 66-73 ms against 58 once compiled).
    this.#done = !ok;
    const seen = this.#seen;
    if (seen) seen.active = ok;
    return ok;
  }

  #stepInPlace(): boolean {
    const first = this.#first;
    if (!first) this.#keyToRequest();
    if (!requestNextKey(this.#map.fd.value, first)) return false;
    this.#first = false;
    const seen = this.#seen;
    if (seen && !seen.add(REQ8, NEXT_OFF) && !this.#resume()) return false;
    if (++this.#steps > this.#limit + this.#map.maxEntries) this.#aborted();
    this.#takeNextKey(seen !== undefined);
    return true;
  }

  // Out of line: step() runs once per key, and V8 counts the bytecode of what it inlines
  // against a budget (see sys/bpf.ts, Layout).
  #aborted(): never {
    throw new IterationAbortedError(this.#map.description, this.#steps);
  }

  /** The current key into the request buffer's key region. */
  #keyToRequest(): void {
    if (this.#word) REQ32[KEY_WORD] = this.#key32[0]!;
    else for (let i = 0; i < this.#ks; i++) REQ8[KEY_OFF + i] = this.key[i]!;
  }

  /** The request buffer's next key becomes the current key, and (`remember`) the newest of the history. */
  #takeNextKey(remember: boolean): void {
    const ks = this.#ks;
    const at = this.#ringNext;
    if (this.#word) {
      const k = REQ32[NEXT_WORD]!;
      this.#key32[0] = k;
      if (remember) this.#ring32[at] = k;
    } else {
      const cur = this.key;
      for (let i = 0; i < ks; i++) cur[i] = REQ8[NEXT_OFF + i]!;
      if (remember) for (let i = 0; i < ks; i++) this.#ring[at * ks + i] = cur[i]!;
    }
    if (remember) {
      this.#ringNext = (at + 1) & (KeyWalker.HISTORY - 1);
      this.#yielded++;
    }
  }

  /**
   * The kernel restarted (the key just returned was seen already): resumes after the newest
   * recent key (before the one just used) that still exists, else walks on from the restart
   * point past the keys seen. Leaves the next unseen key in the request buffer's next-key
   * region; false at the end of the map.
   */
  #resume(): boolean {
    const ks = this.#ks;
    const fd = this.#map.fd.value;
    const seen = this.#seen!;
    const H = KeyWalker.HISTORY;
    const ring = this.#ring;
    for (let h = 2, n = Math.min(this.#yielded, H); h <= n; h++) {
      const at = ((this.#ringNext - h + H) % H) * ks;
      for (let i = 0; i < ks; i++) REQ8[KEY_OFF + i] = ring[at + i]!;
      if (!requestNextKey(fd, false)) return false;
      if (seen.add(REQ8, NEXT_OFF)) return true;
    }
    for (;;) {
      if (++this.#steps > this.#limit) throw new IterationAbortedError(this.#map.description, this.#steps);
      for (let i = 0; i < ks; i++) REQ8[KEY_OFF + i] = REQ8[NEXT_OFF + i]!;
      if (!requestNextKey(fd, false)) return false;
      if (seen.add(REQ8, NEXT_OFF)) return true;
    }
  }

  /** Keys too large for the request buffer: caller buffers, the same algorithm minus the history. */
  #stepLarge(): boolean {
    const next = new Uint8Array(this.#ks);
    for (;;) {
      if (!mapGetNextKey(this.#map.fd.value, this.#first ? null : this.key, next)) return false;
      this.#first = false;
      this.key.set(next);
      if (this.#seen && !this.#seen.add(next, 0)) {
        if (++this.#steps > this.#limit) throw new IterationAbortedError(this.#map.description, this.#steps);
        continue;
      }
      return true;
    }
  }

  /**
   * Looks up the current key's value: into `out` (userValueSize bytes) when given, else leaves
   * it in the request buffer's value region (in-place walks only). False if the entry was
   * deleted since the key was found.
   */
  lookup(out?: Uint8Array): boolean {
    if (this.#inPlace) {
      this.#keyToRequest();
      if (!requestLookup(this.#map.fd.value, 0)) return false;
      if (out) out.set(REQ8.subarray(requestBuffer.value, requestBuffer.value + out.length));
      return true;
    }
    if (!out) throw new ArgumentError('KeyWalker.lookup: keys this large need an output buffer');
    return mapLookupElem(this.#map.fd.value, this.key, out);
  }

  /** Whether keys and values fit the request buffer (lookup() can leave values there). */
  get inPlace(): boolean {
    return this.#inPlace;
  }
}

/** The de-duplication set of a key walk: add() is true for a key not seen before. */
interface SeenKeys {
  /** A walk is using the set. */
  active: boolean;
  add(b: Uint8Array, o: number): boolean;
  clear(): void;
  readonly size: number;
}

/**
 * Keys of up to 4 bytes (as unsigned little-endian integers), for de-duplication during
 * iteration. Small keys (below 2^21: indexes, ports, pids, CPU and interface numbers, the
 * common case) are bits in a bitmap: 65,536 such keys take 8 KiB. Larger ones go to an open-
 * addressing table of u32 slots.
 *
 * Why not just the table: between two probes the walk makes two bpf() calls, which evict
 * most of the cache, so each probe of a table the size of the map (1 MiB for 64k keys) is a
 * miss. Measured on a 65,536-entry hash map: a dump took 15% longer with such a table than
 * with no de-duplication at all (~130 ns per key); with the bitmap it is within noise.
 */
class IntKeySet implements SeenKeys {
  active = false;
  static readonly BITMAP_BITS = 1 << 21;
  readonly #ks: number;
  #bits = new Int32Array(0);
  /** Words of #bits written since the last clear() (what clear() has to zero). */
  #bitsUsed = 0;
  /** Keys >= BITMAP_BITS (never 0, so 0 marks an empty slot); allocated on first use. */
  #table = new Uint32Array(0);
  #tableCount = 0;
  #count = 0;

  constructor(keySize: number) {
    this.#ks = keySize;
  }

  get size(): number {
    return this.#count;
  }

  clear(): void {
    if (this.#count === 0) return;
    this.#count = 0;
    this.#bits.fill(0, 0, this.#bitsUsed);
    this.#bitsUsed = 0;
    if (this.#tableCount) this.#table.fill(0);
    this.#tableCount = 0;
  }

  add(b: Uint8Array, o: number): boolean {
    let k = 0;
    if (this.#ks === 4) k = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
    else for (let i = this.#ks - 1; i >= 0; i--) k = k * 256 + b[o + i]!;
    if (k >= IntKeySet.BITMAP_BITS) return this.#addLarge(k);
    const w = k >>> 5;
    if (w >= this.#bits.length) this.#growBits(w);
    const bits = this.#bits;
    const m = 1 << (k & 31);
    const e = bits[w]!;
    if (e & m) return false;
    bits[w] = e | m;
    if (w >= this.#bitsUsed) this.#bitsUsed = w + 1;
    this.#count++;
    return true;
  }

  #growBits(w: number): void {
    let n = Math.max(this.#bits.length, 256);
    while (n <= w) n *= 2;
    const bits = new Int32Array(n);
    bits.set(this.#bits.subarray(0, this.#bitsUsed));
    this.#bits = bits;
  }

  #addLarge(k: number): boolean {
    if ((this.#tableCount + 1) * 2 > this.#table.length) this.#growTable();
    const table = this.#table;
    const mask = table.length - 1;
    const h = Math.imul(k | 0, 0x9e3779b1);
    for (let s = (h ^ (h >>> 15)) & mask; ; s = (s + 1) & mask) {
      const e = table[s]!;
      if (e === k) return false;
      if (e === 0) {
        table[s] = k;
        this.#tableCount++;
        this.#count++;
        return true;
      }
    }
  }

  #growTable(): void {
    const old = this.#table;
    const table = new Uint32Array(Math.max(old.length * 2, 1024));
    const mask = table.length - 1;
    for (const k of old) {
      if (k === 0) continue;
      const h = Math.imul(k | 0, 0x9e3779b1);
      let s = (h ^ (h >>> 15)) & mask;
      while (table[s] !== 0) s = (s + 1) & mask;
      table[s] = k;
    }
    this.#table = table;
  }
}

/**
 * A set of fixed-size keys longer than 4 bytes (open addressing over a byte slab), for
 * de-duplication during iteration: a JS Set of strings costs ~150 ns per key at 64k keys.
 */
class KeySet implements SeenKeys {
  active = false;
  readonly #ks: number;
  #slab: Uint8Array;
  /** Slot -> index + 1 in the slab, 0 for empty. */
  #slots: Int32Array;
  #mask: number;
  #count = 0;

  constructor(keySize: number, capacity = 1024) {
    this.#ks = keySize;
    // A power of two, at least twice the keys expected (load factor <= 1/2).
    let slots = 32;
    while (slots < capacity * 2) slots *= 2;
    this.#mask = slots - 1;
    this.#slots = new Int32Array(slots);
    this.#slab = new Uint8Array(capacity * keySize);
  }

  get size(): number {
    return this.#count;
  }

  /** Empties the set, keeping its memory. */
  clear(): void {
    if (this.#count === 0) return;
    this.#count = 0;
    this.#slots.fill(0);
  }

  #hash(b: Uint8Array, o: number): number {
    let h: number;
    if (this.#ks === 4) {
      h = Math.imul(b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24), 0x9e3779b1);
    } else {
      h = 0x811c9dc5;
      for (let i = 0; i < this.#ks; i++) h = Math.imul(h ^ b[o + i]!, 0x01000193);
    }
    return (h ^ (h >>> 15)) >>> 0;
  }

  /** The slot holding key b[o, o + ks), or -(free slot) - 1 where it would go. */
  #find(b: Uint8Array, o: number): number {
    const ks = this.#ks;
    const slab = this.#slab;
    for (let s = this.#hash(b, o) & this.#mask; ; s = (s + 1) & this.#mask) {
      const e = this.#slots[s]!;
      if (e === 0) return -s - 1;
      const at = (e - 1) * ks;
      let i = 0;
      while (i < ks && slab[at + i] === b[o + i]) i++;
      if (i === ks) return s;
    }
  }

  /** Adds the key; false if it was already there. */
  add(b: Uint8Array, o: number): boolean {
    const f = this.#find(b, o);
    if (f >= 0) return false;
    const ks = this.#ks;
    if ((this.#count + 1) * ks > this.#slab.length) {
      const slab = new Uint8Array(this.#slab.length * 2);
      slab.set(this.#slab);
      this.#slab = slab;
    }
    const idx = this.#count++;
    const at = idx * ks;
    for (let i = 0; i < ks; i++) this.#slab[at + i] = b[o + i]!;
    if (this.#count * 2 > this.#slots.length) {
      this.#rehash();
      this.#slots[-this.#find(b, o) - 1] = idx + 1;
    } else {
      this.#slots[-f - 1] = idx + 1;
    }
    return true;
  }

  #rehash(): void {
    const old = this.#slots;
    this.#slots = new Int32Array(old.length * 2);
    this.#mask = this.#slots.length - 1;
    for (let s = 0; s < old.length; s++) {
      const e = old[s]!;
      if (e === 0) continue;
      let t = this.#hash(this.#slab, (e - 1) * this.#ks) & this.#mask;
      while (this.#slots[t] !== 0) t = (t + 1) & this.#mask;
      this.#slots[t] = e;
    }
  }
}
