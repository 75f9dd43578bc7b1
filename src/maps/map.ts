/**
 * BpfMap: a BPF map owned through its fd, with the raw byte-level API.
 *
 * Raw access (`Uint8Array` keys and values) is always there; typed access through codecs sits
 * on top (see codec.ts). Methods validate key and value sizes before the syscall, so a wrong
 * size is an ArgumentError naming the map, not an EINVAL from the kernel.
 */
import { ArgumentError } from '../errors.js';
import {
  FD,
  MAP_TYPE_NAMES,
  MapType,
  PERCPU_MAP_TYPES,
  UpdateFlags,
  getFdById,
  listIds,
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

export interface BatchOptions {
  /** Entries per syscall (default: the whole map). */
  chunkSize?: number;
  elemFlags?: number;
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

  constructor(fd: FD, info: Pick<MapInfo, 'type' | 'keySize' | 'valueSize' | 'maxEntries' | 'flags' | 'name'> & { id?: number }) {
    super(fd);
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.name = info.name;
    this.#id = info.id;
    this.#keyless = KEYLESS.has(info.type);
    this.userValueSize = PERCPU_MAP_TYPES.has(info.type)
      ? Math.ceil(info.valueSize / 8) * 8 * possibleCpuCount()
      : info.valueSize;
  }

  /** Creates a map in the kernel. */
  static create(opts: MapOptions): BpfMap {
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
    return new BpfMap(fd, {
      type,
      keySize: opts.keySize,
      valueSize: opts.valueSize,
      maxEntries: opts.maxEntries,
      flags: opts.flags ?? 0,
      name: (opts.name ?? '').slice(0, 15),
    });
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

  info(): MapInfo {
    return mapInfo(this.fd.value);
  }

  #what(): string {
    return `map '${this.name}'`;
  }

  #checkKey(key: Uint8Array | null): void {
    if (key === null) {
      if (this.keySize !== 0) throw new ArgumentError(`${this.#what()} needs a ${this.keySize}-byte key`, 'ERR_KEY_SIZE');
      return;
    }
    if (key.byteLength !== this.keySize) {
      throw new ArgumentError(`${this.#what()} has ${this.keySize}-byte keys, got ${key.byteLength} bytes`, 'ERR_KEY_SIZE');
    }
  }

  #checkValue(value: Uint8Array): void {
    if (value.byteLength !== this.userValueSize) {
      const per = this.isPerCpu ? ` (${this.valueSize} rounded to 8, times ${possibleCpuCount()} possible CPUs)` : '';
      throw new ArgumentError(
        `${this.#what()} has ${this.userValueSize}-byte values${per}, got ${value.byteLength} bytes`,
        'ERR_VALUE_SIZE',
      );
    }
  }

  #keyArg(key: Uint8Array | null): Uint8Array | null {
    if (this.#keyless) {
      if (key !== null && key.byteLength !== 0) throw new ArgumentError(`${this.#what()} (${this.typeName}) takes no key`, 'ERR_KEY_SIZE');
      return null;
    }
    this.#checkKey(key);
    return key;
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

  /** Inserts or replaces. flags: UpdateFlags.ANY (default), NOEXIST, EXIST, F_LOCK. */
  update(key: Uint8Array, value: Uint8Array, flags: number = UpdateFlags.ANY): void {
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

  /** Queue/stack pop; undefined when empty. Also lookupAndDelete for hash maps (5.14+). */
  lookupAndDelete(key: Uint8Array | null, out?: Uint8Array): Uint8Array | undefined {
    const k = this.#keyArg(key);
    const value = out ?? new Uint8Array(this.userValueSize);
    return mapLookupAndDeleteElem(this.fd.value, k, value) ? value : undefined;
  }

  /** Queue/stack peek; undefined when empty. */
  peek(out?: Uint8Array): Uint8Array | undefined {
    const value = out ?? new Uint8Array(this.userValueSize);
    return mapLookupElem(this.fd.value, null, value) ? value : undefined;
  }

  /**
   * Iterates over keys with BPF_MAP_GET_NEXT_KEY. A key deleted while iterating makes the kernel
   * restart from the first key (hash maps), so keys already seen are skipped by remembering
   * them; each key is yielded at most once. The yielded array is fresh for each key.
   */
  *keys(): IterableIterator<Uint8Array> {
    const seen = new Set<string>();
    let prev: Uint8Array | null = null;
    for (;;) {
      const next = new Uint8Array(this.keySize);
      if (!mapGetNextKey(this.fd.value, prev, next)) return;
      const id = keyId(next);
      if (seen.has(id)) {
        // The kernel restarted from the beginning: continue after the restart point.
        prev = next;
        if (seen.size > this.maxEntries * 4 + 16) return; // defensive bound, never loops forever
        continue;
      }
      seen.add(id);
      prev = next;
      yield next;
    }
  }

  /** Iterates over [key, value] pairs; entries deleted between the two syscalls are skipped. */
  *entries(): IterableIterator<[Uint8Array, Uint8Array]> {
    for (const key of this.keys()) {
      const value = new Uint8Array(this.userValueSize);
      if (mapLookupElem(this.fd.value, key, value)) yield [key, value];
    }
  }

  *values(): IterableIterator<Uint8Array> {
    for (const [, v] of this.entries()) yield v;
  }

  /**
   * BPF_MAP_LOOKUP_BATCH over the whole map (5.6+): keys and values packed back to back.
   * Returns the number of entries read.
   */
  batchLookup(keys: Uint8Array, values: Uint8Array, opts: BatchOptions & { andDelete?: boolean } = {}): number {
    const cap = Math.floor(keys.byteLength / Math.max(this.keySize, 1));
    if (values.byteLength < cap * this.userValueSize) {
      throw new ArgumentError(`values buffer too small for ${cap} entries of ${this.userValueSize} bytes`, 'ERR_VALUE_SIZE');
    }
    const chunk = Math.min(opts.chunkSize ?? cap, cap);
    // Hash maps use a 4-byte bucket cursor, arrays the key itself: max(keySize, 4) fits both.
    const cursorSize = Math.max(this.keySize, 4);
    let inBatch: Uint8Array | null = null;
    let outBatch: Uint8Array = new Uint8Array(cursorSize);
    let total = 0;
    while (total < cap) {
      const n = Math.min(chunk, cap - total);
      const r = mapLookupBatch(
        this.fd.value,
        inBatch,
        outBatch,
        keys.subarray(total * this.keySize, (total + n) * this.keySize),
        values.subarray(total * this.userValueSize, (total + n) * this.userValueSize),
        n,
        { elemFlags: opts.elemFlags ?? 0, andDelete: opts.andDelete ?? false },
      );
      total += r.count;
      if (r.done) break;
      const t: Uint8Array = inBatch ?? new Uint8Array(cursorSize);
      inBatch = outBatch;
      outBatch = t;
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

/** A compact string identity of key bytes, for de-duplication during iteration. */
function keyId(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}
