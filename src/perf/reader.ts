/**
 * Reader of BPF_MAP_TYPE_PERF_EVENT_ARRAY maps: one perf ring buffer per CPU, which
 * bpf_perf_event_output() writes into (libbpf's perf_buffer, cilium/ebpf's perf.Reader).
 *
 * For each CPU the reader opens a software perf event PERF_COUNT_SW_BPF_OUTPUT with
 * PERF_SAMPLE_RAW (perf_event_open(2), pid -1, that CPU), maps its ring (one metadata page,
 * struct perf_event_mmap_page, then 2^n data pages) and stores the event's fd in the map at the
 * CPU's index, where the program's BPF_F_CURRENT_CPU finds it.
 *
 * Protocol (include/uapi/linux/perf_event.h): the kernel publishes `data_head` (u64 at byte
 * 1024 of the metadata page) after writing records; the reader loads it with Atomics.load
 * (acquire), reads the records between its tail and the head, and publishes `data_tail` (byte
 * 1032) with Atomics.store (release) once per batch, which gives the space back. Records are
 * `struct perf_event_header { u32 type; u16 misc; u16 size; }` followed by the body:
 *   PERF_RECORD_SAMPLE (9) with PERF_SAMPLE_RAW: u32 size, then `size` bytes of raw data (the
 *     program's bytes, zero-padded so that the record stays 8-byte aligned: a record's length is
 *     the padded size, as libbpf and cilium/ebpf report it).
 *   PERF_RECORD_LOST (2): u64 id, u64 lost: samples the kernel could not write because the ring
 *     was full (or output was paused), reported once space is available again.
 * Unlike the BPF ring buffer, the data area is mapped once: a record can wrap around its end, and
 * the reader reassembles it in a scratch buffer (the record's `view`/`bytes` are then that buffer's).
 *
 * Positions are u64; as in the ring buffer reader, they are tracked as Numbers and compared
 * through their low 32 bits, the whole u64 tail being stored only when its high word changes.
 * Headers are read as host-endian 32-bit words (type; misc | size << 16): little-endian hosts.
 *
 * Overwritable mode (`overwritable: true`, kernel 4.7+, PERF_ATTR write_backward with a
 * read-only mapping): the kernel never waits for the reader and overwrites the oldest records,
 * a flight recorder. drain() then pauses each CPU's output (PERF_EVENT_IOC_PAUSE_OUTPUT, 4.7+),
 * reads the records written since the previous drain that survive in the ring, oldest first,
 * and resumes. Samples the program emits while output is paused fail (and count in the program).
 */
import { ArgumentError, FormatError, SyscallError } from '../errors.js';
import type { BpfMap } from '../maps/map.js';
import { RecordConsumer, type ConsumerOptions, type HeldRecord } from '../ringbuf/consumer.js';
import { RecordView } from '../ringbuf/record.js';
import {
  FD,
  MapType,
  Mapping,
  PERF_COUNT_SW,
  PERF_EVENT_IOC_DISABLE,
  PERF_EVENT_IOC_ENABLE,
  PERF_EVENT_IOC_PAUSE_OUTPUT,
  PERF_SAMPLE_RAW,
  PERF_TYPE,
  PROT_READ,
  PROT_WRITE,
  PerfAttrFlags,
  ioctl,
  mapInfo,
  mapUpdateElem,
  mapDeleteElem,
  pageSize,
  perfEventOpen,
  possibleCpus,
  type FdPoller,
} from '../sys/index.js';

const PERF_RECORD_LOST = 2;
const PERF_RECORD_SAMPLE = 9;
const TWO32 = 2 ** 32;
const LO = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;
/** Int32 index of data_head's and data_tail's low words, and the u64 index of data_tail, in the metadata page. */
const HEAD = 1024 / 4 + LO;
const TAIL = 1032 / 4 + LO;
const TAIL_U64 = 1032 / 8;

/** A perf buffer record: a view (see RecordView), the CPU whose ring it came from. */
export class PerfRecord extends RecordView {
  /** The CPU whose ring held the record. */
  cpu: number;
  /** For a lost-samples notice (async iterators with `lost: true`): how many samples were lost; 0 for a sample. */
  lost = 0;
  constructor(view: DataView, bytes: Uint8Array, cpu: number) {
    super(view, bytes);
    this.cpu = cpu;
  }
}

export type PerfRecordCallback = (record: PerfRecord) => void;

export interface PerfBufferOptions extends ConsumerOptions {
  /**
   * Data pages per CPU, a power of two (default 64 = 256 KiB with 4 KiB pages). `bufferSize`
   * (bytes, rounded up to a power-of-two number of pages) is the other way to say it.
   */
  pageCount?: number;
  bufferSize?: number;
  /** Wake the reader every N samples (perf_event_attr.wakeup_events; default 1). */
  wakeupEvents?: number;
  /** Wake the reader when this many bytes are pending instead (wakeup_watermark); excludes wakeupEvents. */
  watermark?: number;
  /** Overwritable (write_backward) rings: a flight recorder that overwrites the oldest records. Kernel 4.7+. */
  overwritable?: boolean;
  /** The CPUs to read (default: every possible CPU; offline ones are skipped). */
  cpus?: number[];
  /** Called once per PERF_RECORD_LOST with the CPU and the number of samples lost. */
  onLost?: (cpu: number, lost: number) => void;
}

/** One CPU's perf ring. Its counters are readable; everything else is the reader's. */
export class PerfRing {
  readonly cpu: number;
  /** Bytes of the data area. */
  readonly size: number;
  /** @internal */ readonly event: FD;
  /** @internal */ readonly mapping: Mapping;
  /** @internal */ readonly meta: Int32Array;
  /** @internal */ readonly metaU64: BigUint64Array;
  /** @internal */ readonly words: Int32Array;
  /** @internal */ readonly view: DataView;
  /** @internal */ readonly bytes: Uint8Array;
  /** @internal */ readonly mask: number;
  /** @internal */ readonly record: PerfRecord;
  /** @internal */ readonly overwritable: boolean;
  /** @internal Scratch buffer for records that wrap around the end of the ring. */ scratch: Uint8Array;
  /** @internal */ scratchView: DataView;
  /** @internal The reader's tail (u64 as a Number); in overwritable mode, the head at the previous drain. */ tail: number;
  /** @internal */ nextHigh: number;
  /** @internal */ poller: FdPoller | null = null;
  /** Samples reported lost by PERF_RECORD_LOST on this CPU since the reader opened. */
  lost = 0;

  /** @internal */
  constructor(cpu: number, event: FD, pages: number, overwritable: boolean) {
    this.cpu = cpu;
    this.event = event;
    this.overwritable = overwritable;
    const page = pageSize();
    // A read-only mapping tells the kernel that the reader never moves data_tail: overwrite.
    this.mapping = Mapping.map(event.value, page * (1 + pages), overwritable ? PROT_READ : PROT_READ | PROT_WRITE, 0, `perf buffer of CPU ${cpu}`);
    const buf = this.mapping.buffer;
    this.meta = new Int32Array(buf, 0, page / 4);
    this.metaU64 = new BigUint64Array(buf, 0, page / 8);
    // data_offset/data_size (kernel 4.1+); before that the data started at the second page.
    const dataOffset = Number(this.metaU64[1040 / 8]!) || page;
    const dataSize = Number(this.metaU64[1048 / 8]!) || page * pages;
    this.size = dataSize;
    this.mask = dataSize - 1;
    this.words = new Int32Array(buf, dataOffset, dataSize / 4);
    this.view = new DataView(buf, dataOffset, dataSize);
    this.bytes = new Uint8Array(buf, dataOffset, dataSize);
    this.record = new PerfRecord(this.view, this.bytes, cpu);
    this.scratch = new Uint8Array(256);
    this.scratchView = new DataView(this.scratch.buffer);
    const head = this.meta[HEAD]! >>> 0;
    this.tail = overwritable ? head : (this.meta[TAIL]! >>> 0) + (this.meta[TAIL + 1 - 2 * LO]! >>> 0) * TWO32;
    this.nextHigh = (Math.floor(this.tail / TWO32) + 1) * TWO32;
  }

  /** The event fd, polled for wakeups. */
  get fd(): number {
    return this.event.value;
  }

  /** Bytes written by the kernel and not yet read. */
  get available(): number {
    if (!this.mapping.mapped) return 0;
    const d = this.overwritable ? (this.tail - Atomics.load(this.meta, HEAD)) >>> 0 : (Atomics.load(this.meta, HEAD) - this.tail) >>> 0;
    return d > this.size ? this.size : d;
  }

  /** @internal Publishes data_tail (release), giving the space before it back to the kernel. */
  publish(tail: number): void {
    this.tail = tail;
    if (tail < this.nextHigh) {
      Atomics.store(this.meta, TAIL, tail | 0);
    } else {
      Atomics.store(this.metaU64, TAIL_U64, BigInt(tail));
      this.nextHigh = (Math.floor(tail / TWO32) + 1) * TWO32;
    }
  }

  /**
   * @internal Points `rec` at the raw data of the sample whose header is at `off`: in place, or
   * reassembled in the scratch buffer when it wraps. Returns false for a malformed sample.
   */
  sample(rec: PerfRecord, off: number, recordSize: number): boolean {
    const mask = this.mask;
    const rawSize = this.words[((off + 8) & mask) >> 2]!;
    const data = (off + 12) & mask;
    if (rawSize < 0 || rawSize + 12 > recordSize) return false;
    if (data + rawSize <= this.size) {
      rec.view = this.view;
      rec.bytes = this.bytes;
      rec.offset = data;
    } else {
      if (this.scratch.length < rawSize) {
        this.scratch = new Uint8Array(Math.max(rawSize, this.scratch.length * 2));
        this.scratchView = new DataView(this.scratch.buffer);
      }
      const first = this.size - data;
      this.scratch.set(this.bytes.subarray(data, this.size), 0);
      this.scratch.set(this.bytes.subarray(0, rawSize - first), first);
      rec.view = this.scratchView;
      rec.bytes = this.scratch;
      rec.offset = 0;
    }
    rec.length = rawSize;
    return true;
  }

  /** @internal The u64 `lost` field of the PERF_RECORD_LOST at `off` (each u32 half read where it lies). */
  lostCount(off: number): number {
    const mask = this.mask;
    const lo = this.words[((off + 16) & mask) >> 2]! >>> 0;
    const hi = this.words[((off + 20) & mask) >> 2]! >>> 0;
    return lo + hi * TWO32;
  }

  /** @internal */
  close(): void {
    this.poller?.stop();
    this.poller = null;
    this.mapping.unmap();
    this.event.close();
  }
}

function corrupt(ring: PerfRing, off: number, what: string): FormatError {
  return new FormatError('ERR_PERF_RECORD', `perf buffer of CPU ${ring.cpu}: ${what} at ring offset ${off}`);
}

/**
 * Hands every sample of a (normal) perf ring to `fn`, up to `max`, counting PERF_RECORD_LOST,
 * and publishes data_tail after each batch.
 */
function drainPerf(ring: PerfRing, fn: PerfRecordCallback, max: number, onLost: ((cpu: number, lost: number) => void) | undefined): number {
  const meta = ring.meta;
  const words = ring.words;
  const mask = ring.mask;
  const rec = ring.record;
  const view = ring.view;
  const bytes = ring.bytes;
  let tail = ring.tail;
  let n = 0;
  try {
    for (;;) {
      const avail = (Atomics.load(meta, HEAD) - tail) >>> 0;
      if (avail === 0) break;
      const end = tail + avail;
      let stop = false;
      while (tail < end) {
        const off = tail & mask;
        const type = words[off >> 2]!;
        const size = words[(off >> 2) + 1]! >>> 16;
        if (size < 8) throw corrupt(ring, off, `record of size ${size}`);
        tail += size;
        if (type === PERF_RECORD_SAMPLE) {
          const data = (off + 12) & mask;
          const rawSize = words[((off + 8) & mask) >> 2]!;
          if (data + rawSize <= mask + 1 && rawSize >= 0 && rawSize + 12 <= size) {
            rec.view = view;
            rec.bytes = bytes;
            rec.offset = data;
            rec.length = rawSize;
          } else if (!ring.sample(rec, off, size)) {
            throw corrupt(ring, off, `sample of ${rawSize} raw bytes in a record of ${size}`);
          }
          n++;
          fn(rec);
          if (n >= max) {
            stop = true;
            break;
          }
        } else if (type === PERF_RECORD_LOST) {
          const lost = ring.lostCount(off);
          ring.lost += lost;
          onLost?.(ring.cpu, lost);
        }
      }
      ring.publish(tail);
      if (stop) break;
    }
  } finally {
    if (tail !== ring.tail) ring.publish(tail);
  }
  return n;
}

/**
 * Reads an overwritable ring: pauses its output, walks from data_head (newest record) towards
 * older ones, up to the head of the previous read or one ring's worth of bytes (older records
 * are overwritten, possibly in part), and delivers them oldest first.
 */
function drainOverwritable(ring: PerfRing, fn: PerfRecordCallback, max: number): number {
  ioctl(ring.fd, PERF_EVENT_IOC_PAUSE_OUTPUT, 1, `pause perf output of CPU ${ring.cpu}`);
  let n = 0;
  try {
    const head = Atomics.load(ring.meta, HEAD) >>> 0;
    let limit = (ring.tail - head) >>> 0;
    if (limit > ring.size) limit = ring.size;
    const offsets: number[] = [];
    const sizes: number[] = [];
    let walked = 0;
    while (walked + 8 <= limit) {
      const off = (head + walked) & ring.mask;
      const size = ring.words[(off >> 2) + 1]! >>> 16;
      if (size < 8 || walked + size > limit) break;
      if (ring.words[off >> 2] === PERF_RECORD_SAMPLE) {
        offsets.push(off);
        sizes.push(size);
      }
      walked += size;
    }
    ring.tail = head;
    const first = Math.max(0, offsets.length - max);
    const rec = ring.record;
    for (let i = offsets.length - 1; i >= first; i--) {
      if (!ring.sample(rec, offsets[i]!, sizes[i]!)) throw corrupt(ring, offsets[i]!, 'malformed sample');
      n++;
      fn(rec);
    }
  } finally {
    ioctl(ring.fd, PERF_EVENT_IOC_PAUSE_OUTPUT, 0, `resume perf output of CPU ${ring.cpu}`);
  }
  return n;
}

/**
 * Reads a PERF_EVENT_ARRAY map through one perf ring per CPU.
 *
 * ```ts
 * using reader = new PerfBufferReader(collection.map('events'), { pageCount: 64, onLost: (cpu, n) => ... });
 * reader.drain((r) => handle(r.cpu, r.u64(0)));        // synchronous, returns the count
 * for await (const r of reader) handle(r.copy());       // async, one record at a time
 * reader.start((r) => handle(r));                       // callback on every wakeup
 * ```
 * The reader owns the perf events; close() closes them and removes them from the map.
 * Lost samples are counted per CPU (`lost(cpu)`, `lostTotal`) and reported to `onLost`.
 */
export class PerfBufferReader extends RecordConsumer<PerfRecord, PerfRing> {
  readonly #rings: PerfRing[] = [];
  readonly #byCpu = new Map<number, PerfRing>();
  readonly #mapFd: number;
  readonly #map: BpfMap | undefined;
  readonly #onLost: ((cpu: number, lost: number) => void) | undefined;
  readonly #overwritable: boolean;
  #paused = false;
  #next = 0;

  constructor(map: BpfMap | number, options: PerfBufferOptions = {}) {
    super(options);
    this.#onLost = options.onLost;
    this.#overwritable = options.overwritable ?? false;
    const info = typeof map === 'number' ? mapInfo(map) : map;
    if (info.type !== MapType.PERF_EVENT_ARRAY) {
      throw new ArgumentError(`map '${info.name}' is not a PERF_EVENT_ARRAY (type ${info.type}); RINGBUF maps are read with RingBufferReader`, 'ERR_MAP_TYPE');
    }
    this.#mapFd = typeof map === 'number' ? map : map.fd.value;
    this.#map = typeof map === 'number' ? undefined : map;
    const page = pageSize();
    let pages = options.pageCount ?? (options.bufferSize !== undefined ? Math.ceil(options.bufferSize / page) : 64);
    if (options.bufferSize !== undefined && options.pageCount === undefined) pages = 2 ** Math.ceil(Math.log2(Math.max(1, pages)));
    if (!Number.isInteger(pages) || pages < 1 || (pages & (pages - 1)) !== 0) {
      throw new ArgumentError(`pageCount must be a power of two, got ${pages}`);
    }
    if (options.watermark !== undefined && options.wakeupEvents !== undefined) {
      throw new ArgumentError('wakeupEvents and watermark exclude each other (perf_event_attr has one field for both)');
    }
    if (options.watermark !== undefined && (!Number.isInteger(options.watermark) || options.watermark < 1 || options.watermark >= pages * page)) {
      throw new ArgumentError(`watermark must be between 1 and the buffer size (${pages * page} bytes), got ${options.watermark}`);
    }
    const wakeupEvents = options.wakeupEvents ?? 1;
    if (!Number.isInteger(wakeupEvents) || wakeupEvents < 1) throw new ArgumentError(`wakeupEvents must be a positive integer, got ${wakeupEvents}`);
    let flags = 0n;
    if (options.watermark !== undefined) flags |= PerfAttrFlags.WATERMARK;
    if (this.#overwritable) flags |= PerfAttrFlags.WRITE_BACKWARD;
    const cpus = options.cpus ?? possibleCpus();
    const key = new Uint8Array(4);
    const value = new Uint8Array(4);
    try {
      for (const cpu of cpus) {
        if (cpu >= info.maxEntries) {
          throw new ArgumentError(`map '${info.name}' has ${info.maxEntries} entries, too few for CPU ${cpu} (set max_entries to the number of possible CPUs)`);
        }
        let event: FD;
        try {
          event = perfEventOpen(
            { type: PERF_TYPE.SOFTWARE, config: PERF_COUNT_SW.BPF_OUTPUT, samplePeriodOrFreq: 1, sampleType: PERF_SAMPLE_RAW, flags, wakeup: options.watermark ?? wakeupEvents },
            -1,
            cpu,
            -1,
            undefined,
            `perf buffer event of CPU ${cpu}`,
          );
        } catch (err) {
          // An offline CPU has no perf context (ENODEV), as libbpf and cilium/ebpf skip it.
          if (err instanceof SyscallError && err.code === 'ENODEV' && options.cpus === undefined) continue;
          throw err;
        }
        let ring: PerfRing;
        try {
          ring = new PerfRing(cpu, event, pages, this.#overwritable);
        } catch (err) {
          event.close();
          throw err;
        }
        this.#rings.push(ring);
        this.#byCpu.set(cpu, ring);
        ioctl(event.value, PERF_EVENT_IOC_ENABLE, 0, `enable perf buffer event of CPU ${cpu}`);
        new DataView(key.buffer).setUint32(0, cpu, true);
        new DataView(value.buffer).setUint32(0, event.value, true);
        mapUpdateElem(this.#mapFd, key, value, 0);
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** The per-CPU rings. */
  get rings(): readonly PerfRing[] {
    return this.#rings;
  }

  /** Samples reported lost on `cpu`, or on every CPU without an argument. */
  lost(cpu?: number): number {
    if (cpu !== undefined) return this.#byCpu.get(cpu)?.lost ?? 0;
    let n = 0;
    for (const r of this.#rings) n += r.lost;
    return n;
  }

  /** Bytes not yet read, in every CPU's ring (or in `cpu`'s). */
  available(cpu?: number): number {
    if (this.closed) return 0;
    if (cpu !== undefined) return this.#byCpu.get(cpu)?.available ?? 0;
    return this.pendingBytes();
  }

  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Pauses output on every CPU (PERF_EVENT_IOC_PAUSE_OUTPUT, kernel 4.7+): bpf_perf_event_output
   * fails while paused, and the kernel counts those samples as lost (a PERF_RECORD_LOST follows
   * once output resumes and a sample is written). Records already written stay readable.
   */
  pause(): void {
    this.checkOpen();
    for (const r of this.#rings) ioctl(r.fd, PERF_EVENT_IOC_PAUSE_OUTPUT, 1, `pause perf output of CPU ${r.cpu}`);
    this.#paused = true;
  }

  /** Resumes output paused by pause(). */
  resume(): void {
    this.checkOpen();
    for (const r of this.#rings) ioctl(r.fd, PERF_EVENT_IOC_PAUSE_OUTPUT, 0, `resume perf output of CPU ${r.cpu}`);
    this.#paused = false;
  }

  /**
   * Async iteration; with `lost: true`, lost-sample notices are yielded too, as records with
   * `lost > 0` and no data.
   */
  override records(options: { signal?: AbortSignal; lost?: boolean } = {}): AsyncIterableIterator<PerfRecord> {
    const it = super.records(options);
    this.#iterLost = options.lost ?? false;
    return it;
  }
  #iterLost = false;

  protected get sources(): readonly PerfRing[] {
    return this.#rings;
  }

  protected get what(): string {
    return 'perf buffer reader';
  }

  protected drainSource(ring: PerfRing, fn: PerfRecordCallback, max: number): number {
    return ring.overwritable ? drainOverwritable(ring, fn, max) : drainPerf(ring, fn, max, this.#onLost);
  }

  protected pendingBytes(): number {
    let n = 0;
    for (const r of this.#rings) n += r.available;
    return n;
  }

  protected takeOne(): HeldRecord<PerfRecord> | null {
    const rings = this.#rings;
    for (let k = 0; k < rings.length; k++) {
      const ring = rings[(this.#next + k) % rings.length]!;
      if (ring.overwritable) {
        // Overwritable rings are read in one go (paused): hand out copies, one at a time.
        const pending = this.#pendingOverwritten.get(ring) ?? [];
        if (pending.length === 0) drainOverwritable(ring, (r) => pending.push(copyRecord(r)), Infinity);
        const rec = pending.shift();
        this.#pendingOverwritten.set(ring, pending);
        if (rec) {
          this.#next = (k + 1) % rings.length;
          return { record: rec, release: () => {} };
        }
        continue;
      }
      while ((Atomics.load(ring.meta, HEAD) - ring.tail) >>> 0 !== 0) {
        const off = ring.tail & ring.mask;
        const type = ring.words[off >> 2]!;
        const size = ring.words[(off >> 2) + 1]! >>> 16;
        if (size < 8) throw corrupt(ring, off, `record of size ${size}`);
        const end = ring.tail + size;
        if (type === PERF_RECORD_SAMPLE) {
          const rec = new PerfRecord(ring.view, ring.bytes, ring.cpu);
          if (!ring.sample(rec, off, size)) throw corrupt(ring, off, 'malformed sample');
          // A reassembled record must not share the ring's scratch buffer with the next one.
          if (rec.bytes !== ring.bytes) {
            const own = rec.bytes.slice(0, rec.length);
            rec.bytes = own;
            rec.view = new DataView(own.buffer);
          }
          this.#next = (ring.cpu + 1) % rings.length;
          return { record: rec, release: () => ring.publish(end) };
        }
        ring.publish(end);
        if (type === PERF_RECORD_LOST) {
          const lost = ring.lostCount(off);
          ring.lost += lost;
          this.#onLost?.(ring.cpu, lost);
          if (this.#iterLost) {
            const rec = new PerfRecord(ring.view, ring.bytes, ring.cpu);
            rec.lost = lost;
            return { record: rec, release: () => {} };
          }
        }
      }
    }
    return null;
  }
  readonly #pendingOverwritten = new Map<PerfRing, PerfRecord[]>();

  protected releaseSources(): void {
    const key = new Uint8Array(4);
    let first: unknown;
    for (const r of this.#rings) {
      try {
        // Take our fd out of the map first, so the program stops writing into a closed event.
        new DataView(key.buffer).setUint32(0, r.cpu, true);
        // A closed BpfMap's fd number may belong to another object by now: leave it alone (the
        // kernel dropped the map's references to our events when the map's file was released).
        if (!this.#map?.fd.closed) {
          try {
            mapDeleteElem(this.#mapFd, key);
          } catch {
            // The slot may hold another reader's event by now: nothing of ours to remove.
          }
        }
        if (!r.event.closed) ioctl(r.event.value, PERF_EVENT_IOC_DISABLE, 0);
        r.close();
      } catch (err) {
        first ??= err;
      }
    }
    if (first) throw first;
  }
}

function copyRecord(r: PerfRecord): PerfRecord {
  const bytes = r.copy();
  const rec = new PerfRecord(new DataView(bytes.buffer), bytes, r.cpu);
  rec.length = bytes.length;
  return rec;
}
