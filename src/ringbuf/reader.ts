/**
 * Reader of BPF_MAP_TYPE_RINGBUF maps (kernel 5.8+): the consumer side of the kernel's ring
 * buffer protocol (kernel/bpf/ringbuf.c), in the process, with no copies and no threads.
 *
 * Layout of the mapping (page = the kernel's PAGE_SIZE):
 *   offset 0           one page, read-write: the consumer position (u64) at its start.
 *   offset page        one page, read-only: the producer position (u64) at its start.
 *   offset 2 * page    the data area, `size` bytes, mapped twice in a row by the kernel, so a
 *                      record that runs past the end continues in the second copy: records never
 *                      wrap in the reader's view.
 * Each record starts with an 8-byte header: u32 length with BUSY (bit 31: reserved, not yet
 * committed) and DISCARD (bit 30) flags, u32 page offset (kernel use); the record's data follows;
 * the next record starts at the length + 8 rounded up to 8.
 *
 * Memory ordering, as the kernel publishes: the producer position and each header are written
 * with release semantics, so the reader loads them with Atomics.load (acquire) before reading the
 * data, and publishes the consumer position with Atomics.store (release) once per batch of records
 * (after the records' bytes have been read), which frees their space for the producers.
 *
 * Positions are u64 in the kernel. The reader keeps its position as a Number (exact below 2^53:
 * 285 years at 1 GB/s), reads only the low 32 bits of the producer position (the distance to the
 * consumer is below the ring size, < 2^32), and stores the low 32 bits of the consumer position,
 * except when the high word changes (once per 4 GiB consumed), where it stores the whole u64 at
 * once: two 32-bit stores could show the kernel a position 4 GiB off in between.
 *
 * Waiting is epoll on the map fd through libuv (uv_poll): the kernel wakes the fd when a record is
 * committed at the position the consumer has published (its adaptive wakeup), and epoll's level
 * triggering reports data committed while the reader was draining. No thread, no timer, no busy loop.
 */
import { ArgumentError } from '../errors.js';
import type { BpfMap } from '../maps/map.js';
import { FdPoller, MapType, Mapping, PROT_READ, PROT_WRITE, mapInfo, pageSize } from '../sys/index.js';
import { RecordConsumer, type ConsumerOptions, type HeldRecord } from './consumer.js';
import { RecordView } from './record.js';

/** BPF_RINGBUF_BUSY_BIT is the sign bit of the header word read as an Int32. */
const DISCARD_BIT = 1 << 30;
const LEN_MASK = DISCARD_BIT - 1;
const TWO32 = 2 ** 32;
/** Index of the low 32-bit word of a host-endian u64 in an Int32Array. */
const LO = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;

/** A record of a ring buffer: a view into the ring (see RecordView), and which ring it came from. */
export class RingRecord extends RecordView {
  /** Index of the ring in its reader (the order of the constructor's maps and add() calls). */
  readonly ring: number;
  constructor(view: DataView, bytes: Uint8Array, ring: number) {
    super(view, bytes);
    this.ring = ring;
  }
}

export type RingRecordCallback = (record: RingRecord) => void;

/** A RINGBUF map: a BpfMap, or a map fd (not owned: close it after the reader). */
export type RingBufferSource = BpfMap | number;

export type RingBufferReaderOptions = ConsumerOptions;

/** One ring of a reader. Its positions and sizes are readable; everything else is the reader's. */
export class Ring {
  readonly index: number;
  /** The map's name, when known. */
  readonly name: string;
  /** Bytes of the data area (the map's max_entries). */
  readonly size: number;
  /** The map fd (the reader does not own it). */
  readonly fd: number;
  /** @internal */ readonly mask: number;
  /** @internal */ readonly consumerMapping: Mapping;
  /** @internal */ readonly dataMapping: Mapping;
  /** @internal */ readonly consWords: Int32Array;
  /** @internal */ readonly consU64: BigUint64Array;
  /** @internal */ readonly prodWords: Int32Array;
  /** @internal */ readonly words: Int32Array;
  /** @internal */ readonly record: RingRecord;
  /** @internal */ readonly view: DataView;
  /** @internal */ readonly bytes: Uint8Array;
  /** @internal The consumer position (u64 as a Number). */ pos: number;
  /** @internal Positions at or past this change the high word of the consumer position. */ nextHigh: number;
  /** @internal */ poller: FdPoller | null = null;

  /** @internal */
  constructor(index: number, fd: number, size: number, name: string) {
    if (size <= 0 || (size & (size - 1)) !== 0 || size > 2 ** 30) {
      throw new ArgumentError(`ring buffer '${name}': size ${size} is not a power of two up to 1 GiB`);
    }
    this.index = index;
    this.fd = fd;
    this.size = size;
    this.name = name;
    this.mask = size - 1;
    const page = pageSize();
    this.consumerMapping = Mapping.map(fd, page, PROT_READ | PROT_WRITE, 0, `ring buffer '${name}' consumer page`);
    try {
      this.dataMapping = Mapping.map(fd, page + 2 * size, PROT_READ, page, `ring buffer '${name}' data`);
    } catch (err) {
      this.consumerMapping.unmap();
      throw err;
    }
    const cons = this.consumerMapping.buffer;
    const data = this.dataMapping.buffer;
    this.consWords = new Int32Array(cons, 0, 2);
    this.consU64 = new BigUint64Array(cons, 0, 1);
    this.prodWords = new Int32Array(data, 0, 2);
    this.words = new Int32Array(data, page, (2 * size) / 4);
    this.view = new DataView(data, page, 2 * size);
    this.bytes = new Uint8Array(data, page, 2 * size);
    this.record = new RingRecord(this.view, this.bytes, index);
    // Another consumer may have used the map before (a pinned map): start where it stopped.
    this.pos = (this.consWords[LO]! >>> 0) + (this.consWords[1 - LO]! >>> 0) * TWO32;
    this.nextHigh = (Math.floor(this.pos / TWO32) + 1) * TWO32;
  }

  /** Bytes committed or reserved by producers and not yet consumed (libbpf's ring__avail_data_size). */
  get available(): number {
    if (!this.dataMapping.mapped) return 0;
    return (Atomics.load(this.prodWords, LO) - this.pos) >>> 0;
  }

  /** The consumer position: bytes consumed since the map was created. */
  get consumerPosition(): number {
    return this.pos;
  }

  /** The producer position: bytes reserved since the map was created. */
  get producerPosition(): number {
    if (!this.dataMapping.mapped) return this.pos;
    return this.pos + this.available;
  }

  /** @internal Publishes the consumer position (release), freeing the space before it. */
  publish(pos: number): void {
    this.pos = pos;
    if (pos < this.nextHigh) {
      Atomics.store(this.consWords, LO, pos | 0);
    } else {
      Atomics.store(this.consU64, 0, BigInt(pos));
      this.nextHigh = (Math.floor(pos / TWO32) + 1) * TWO32;
    }
  }

  /** @internal */
  unmap(): void {
    this.poller?.stop();
    this.poller = null;
    this.dataMapping.unmap();
    this.consumerMapping.unmap();
  }
}

/**
 * Hands every committed record of `ring` to `fn`, up to `max`, and publishes the consumer
 * position after each batch (each producer-position snapshot). A module-level function with
 * plain-property access so that the JIT compiles a tight loop: per record, one Atomics.load of
 * the header, two stores into the reused record object and the call.
 */
function drainRing(ring: Ring, fn: RingRecordCallback, max: number): number {
  const words = ring.words;
  const prod = ring.prodWords;
  const mask = ring.mask;
  const rec = ring.record;
  let pos = ring.pos;
  let n = 0;
  try {
    for (;;) {
      // Distance from the consumer to the producer, modulo 2^32 (see the file comment).
      const avail = (Atomics.load(prod, LO) - pos) >>> 0;
      if (avail === 0) break;
      const end = pos + avail;
      let stop = false;
      while (pos < end) {
        const off = pos & mask;
        const hdr = Atomics.load(words, off >> 2);
        // BUSY: a producer reserved this record and has not committed it yet; records after it
        // may be committed, but the consumer position must not pass this one.
        if (hdr < 0) {
          stop = true;
          break;
        }
        const len = hdr & LEN_MASK;
        pos += (len + 15) & -8;
        if ((hdr & DISCARD_BIT) === 0) {
          rec.offset = off + 8;
          rec.length = len;
          n++;
          fn(rec);
          if (n >= max) {
            stop = true;
            break;
          }
        }
      }
      ring.publish(pos);
      if (stop) break;
    }
  } finally {
    // A callback that throws has consumed its record (it is not delivered again).
    if (pos !== ring.pos) ring.publish(pos);
  }
  return n;
}

/**
 * Reads one or more RINGBUF maps (libbpf's ring_buffer with ring_buffer__add).
 *
 * ```ts
 * using reader = new RingBufferReader(collection.map('events'));
 * // 1. callback per record, synchronous: returns the number of records
 * reader.drain((r) => console.log(r.u64(0), r.u32(8)));
 * // 2. async iteration (each record valid until the loop continues)
 * for await (const r of reader) handle(r.copy());
 * // 3. callback on every wakeup, on the event loop
 * reader.start((r) => handle(r)); ... reader.stop();
 * ```
 * Records are zero-copy views valid only while handled; `copy()` or `decode(codec)` what you keep.
 * One consumer at a time: drain(), start() and an async iterator exclude each other.
 *
 * The ring buffer has no loss notification: a record that finds the ring full is not written,
 * and only the producer knows (bpf_ringbuf_reserve returns NULL, bpf_ringbuf_output an error);
 * count such drops in the BPF program. The reader never passes a record still being written
 * (BUSY) and skips discarded ones.
 */
export class RingBufferReader extends RecordConsumer<RingRecord, Ring> {
  readonly #rings: Ring[] = [];
  #next = 0;

  /** Opens a reader over `maps` (a RINGBUF map or several); more can be added with add(). */
  constructor(maps: RingBufferSource | RingBufferSource[] = [], options: RingBufferReaderOptions = {}) {
    super(options);
    try {
      for (const m of Array.isArray(maps) ? maps : [maps]) this.add(m);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /**
   * Adds a ring (libbpf's ring_buffer__add); returns its index, which its records carry in
   * `ring`. The map must stay open while the reader uses it.
   */
  add(map: RingBufferSource): number {
    this.checkOpen();
    let fd: number;
    let size: number;
    let name: string;
    let type: number;
    if (typeof map === 'number') {
      const info = mapInfo(map);
      fd = map;
      size = info.maxEntries;
      name = info.name;
      type = info.type;
    } else {
      fd = map.fd.value;
      size = map.maxEntries;
      name = map.name;
      type = map.type;
    }
    if (type !== MapType.RINGBUF) {
      throw new ArgumentError(`map '${name}' is not a RINGBUF map (type ${type}); perf event arrays are read with PerfBufferReader`, 'ERR_MAP_TYPE');
    }
    const ring = new Ring(this.#rings.length, fd, size, name);
    this.#rings.push(ring);
    this.syncPolling();
    return ring.index;
  }

  /** The rings, in index order. */
  get rings(): readonly Ring[] {
    return this.#rings;
  }

  /** Bytes not yet consumed, in every ring (or in ring `index`). */
  available(index?: number): number {
    if (this.closed) return 0;
    if (index === undefined) return this.pendingBytes();
    const r = this.#rings[index];
    if (!r) throw new ArgumentError(`no ring ${index} (the reader has ${this.#rings.length})`);
    return r.available;
  }

  protected get sources(): readonly Ring[] {
    return this.#rings;
  }

  protected get what(): string {
    return 'ring buffer reader';
  }

  protected drainSource(ring: Ring, fn: RingRecordCallback, max: number): number {
    return drainRing(ring, fn, max);
  }

  protected pendingBytes(): number {
    let n = 0;
    for (const r of this.#rings) n += r.available;
    return n;
  }

  protected releaseSources(): void {
    for (const r of this.#rings) r.unmap();
  }

  /** The next non-discarded record of some ring (round robin), as a fresh record object. */
  protected takeOne(): HeldRecord<RingRecord> | null {
    const rings = this.#rings;
    for (let k = 0; k < rings.length; k++) {
      const ring = rings[(this.#next + k) % rings.length]!;
      const start = ring.pos;
      let pos = start;
      let found: HeldRecord<RingRecord> | null = null;
      while ((Atomics.load(ring.prodWords, LO) - pos) >>> 0 !== 0) {
        const off = pos & ring.mask;
        const hdr = Atomics.load(ring.words, off >> 2);
        if (hdr < 0) break;
        const len = hdr & LEN_MASK;
        const end = pos + ((len + 15) & -8);
        if (hdr & DISCARD_BIT) {
          pos = end;
          continue;
        }
        const record = new RingRecord(ring.view, ring.bytes, ring.index);
        record.offset = off + 8;
        record.length = len;
        found = { record, release: () => ring.publish(end) };
        break;
      }
      if (pos !== start) ring.publish(pos);
      if (found) {
        this.#next = (ring.index + 1) % rings.length;
        return found;
      }
    }
    return null;
  }
}
