/**
 * The `maps` scenario of ../shared/anchors: the 65,536-entry HASH u32 -> u64 `hmap` of
 * anchors/bpf/maps.bpf.o (loaded with our collection loader when built), 1,000,000 updates and lookups, then full
 * dumps by get_next_key + lookup and by BPF_MAP_LOOKUP_BATCH, each verified.
 *
 * api=raw: caller-provided byte buffers, reused across calls; no codec.
 * api=request (update and lookup only): ebpf-ts/sys's request buffer, written and read in place.
 * api=typed: the typed view (`map.typed<number, bigint>()`, codecs from the map's BTF): keys
 * as numbers, values as bigints, set/get, iteration with forEach() (get_next_key + lookup, as
 * the anchors' iterate), the dump with batchLookupInto() into a Uint32Array and a BigUint64Array
 * (BPF_MAP_LOOKUP_BATCH, as the Go anchor's BatchLookup into a []uint32 and a []uint64).
 * api=typed-foreach: the dump with batchForEach(), a callback per entry.
 */
import { existsSync, readFileSync } from 'node:fs';
import { BpfMap, CollectionSpec, loadCollection, codecs, type Collection, type TypedMap } from '../src/index.js';
import { mapGetNextKey, mapLookupElem, requestBuffer, requestDelete, requestLookup, requestUpdate } from '../src/sys/index.js';
import { emit, envNumber, now } from './common.js';

const HMAP_ENTRIES = 65536;

/**
 * Starts each timed section with a collected heap (node --expose-gc, as bench/run runs): garbage
 * left by the previous section (a million bigints, iteration state) is not charged to the next.
 */
function settle(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
const TWO32 = 2 ** 32;

/**
 * Sum of n u64 values stored as little-endian u32 pairs. The verification of the dump rounds:
 * it is the benchmark's own code, not the library's, so it is warmed up (JIT-compiled) before
 * the timed region, as the C anchor's verification loop is compiled ahead of time.
 */
function sumU64(words: Uint32Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += words[2 * i]! + words[2 * i + 1]! * TWO32;
  return sum;
}

/** Dumps after the timed ones, for the steady-state diagnostic (steady_ms_per_dump). */
const STEADY_DUMPS = 3;

/**
 * Times `rounds` full dumps (each returns whether it verified) and emits the line, as the
 * anchors do: the value includes the JIT's warm-up, which a compiled anchor doesn't have.
 * `steady_ms_per_dump` is the mean of STEADY_DUMPS more dumps after those (also verified): the
 * speed once V8 has compiled the loop, a diagnostic that is not part of the value.
 */
function timeDumps(metric: string, api: string, source: string, rounds: number, dump: () => boolean): boolean {
  let bad = 0;
  settle();
  const t0 = now();
  for (let r = 0; r < rounds; r++) if (!dump()) bad++;
  const t1 = now();
  for (let r = 0; r < STEADY_DUMPS; r++) if (!dump()) bad++;
  const t2 = now();
  emit(metric, (rounds * HMAP_ENTRIES) / (t1 - t0), api, bad === 0, {
    source,
    entries: HMAP_ENTRIES,
    rounds,
    ms_per_dump: ((t1 - t0) * 1e3) / rounds,
    steady_ms_per_dump: ((t2 - t1) * 1e3) / STEADY_DUMPS,
  });
  return bad === 0;
}

/**
 * The anchors' own object when it has been built (ANCHOR_BPF_DIR, as the anchors use it), else a
 * map created with the same attributes. The `source=` field of each line says which.
 */
function openHmap(): { map: BpfMap; source: string; collection?: Collection } {
  const dir = process.env.ANCHOR_BPF_DIR ?? new URL('../../../shared/anchors/build/bpf', import.meta.url).pathname;
  const obj = `${dir}/maps.bpf.o`;
  if (existsSync(obj)) {
    const collection = loadCollection(CollectionSpec.fromELF(readFileSync(obj), { name: 'maps' }));
    const map = collection.maps.get('hmap');
    if (!map) throw new Error(`${obj} has no map 'hmap'`);
    return { map, source: 'maps.bpf.o', collection };
  }
  const map = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: HMAP_ENTRIES, name: 'hmap' });
  return { map, source: 'created' };
}

export function mapsScenario(): boolean {
  const ops = envNumber('ANCHOR_MAP_OPS', 1_000_000);
  const dumpRounds = envNumber('ANCHOR_DUMP_ROUNDS', 5);
  const opened = openHmap();
  using _cleanup = { [Symbol.dispose]: () => (opened.collection ? opened.collection.close() : opened.map.close()) };
  const map = opened.map;
  const source = opened.source;
  const key = new Uint8Array(4);
  const val = new Uint8Array(8);
  const kv = new DataView(key.buffer);
  // u64 values as two u32 halves: BigInt would allocate per operation.
  const vw = new Uint32Array(val.buffer);
  let allOk = true;

  // update x ops
  settle();
  let t0 = now();
  for (let i = 0; i < ops; i++) {
    kv.setUint32(0, i & (HMAP_ENTRIES - 1), true);
    vw[0] = i >>> 0;
    vw[1] = Math.floor(i / TWO32);
    map.update(key, val);
  }
  let t1 = now();
  const last = new Float64Array(HMAP_ENTRIES);
  for (let i = 0; i < ops; i++) last[i & (HMAP_ENTRIES - 1)] = i;
  emit('map_update_ops_per_s', ops / (t1 - t0), 'raw', true, { source, ops, ns_per_op: ((t1 - t0) * 1e9) / ops });

  // lookup x ops, each value checked against the last value written
  let bad = 0;
  settle();
  t0 = now();
  for (let i = 0; i < ops; i++) {
    const k = i & (HMAP_ENTRIES - 1);
    kv.setUint32(0, k, true);
    if (!map.lookupInto(key, val) || vw[0]! + vw[1]! * TWO32 !== last[k]) bad++;
  }
  t1 = now();
  emit('map_lookup_ops_per_s', ops / (t1 - t0), 'raw', bad === 0, { source, ops, ns_per_op: ((t1 - t0) * 1e9) / ops });
  allOk &&= bad === 0;

  // api=request: the same two loops on ebpf-ts/sys's request buffer, the layer under both
  // APIs (keys written and values read in place: no copies, no checks): how far the library's
  // own code is from what the addon call and the kernel take. Writes the same values again, into
  // the emptied map.
  const fd = map.fd.value;
  const words = new Uint32Array(requestBuffer.bytes.buffer);
  const KEY_WORD = requestBuffer.key >> 2;
  const VALUE_WORD = requestBuffer.value >> 2;
  // Empty the map first (untimed): the update loop inserts 65,536 keys, then overwrites, as above.
  for (let k = 0; k < HMAP_ENTRIES; k++) {
    words[KEY_WORD] = k;
    requestDelete(fd);
  }
  settle();
  t0 = now();
  for (let i = 0; i < ops; i++) {
    words[KEY_WORD] = i & (HMAP_ENTRIES - 1);
    words[VALUE_WORD] = i >>> 0;
    words[VALUE_WORD + 1] = Math.floor(i / TWO32);
    requestUpdate(fd, 0);
  }
  t1 = now();
  emit('map_update_ops_per_s', ops / (t1 - t0), 'request', true, { source, ops, ns_per_op: ((t1 - t0) * 1e9) / ops });
  bad = 0;
  settle();
  t0 = now();
  for (let i = 0; i < ops; i++) {
    const k = i & (HMAP_ENTRIES - 1);
    words[KEY_WORD] = k;
    if (!requestLookup(fd, 0) || words[VALUE_WORD]! + words[VALUE_WORD + 1]! * TWO32 !== last[k]) bad++;
  }
  t1 = now();
  emit('map_lookup_ops_per_s', ops / (t1 - t0), 'request', bad === 0, { source, ops, ns_per_op: ((t1 - t0) * 1e9) / ops });
  allOk &&= bad === 0;

  let expectSum = 0;
  for (let k = 0; k < HMAP_ENTRIES; k++) expectSum += last[k]!;

  // full dump via get_next_key + lookup, reusing two key buffers
  allOk =
    timeDumps('map_iterate_entries_per_s', 'raw', source, dumpRounds, () => {
      let prev: Uint8Array | null = null;
      let next: Uint8Array = new Uint8Array(4);
      let spare: Uint8Array = new Uint8Array(4);
      let n = 0;
      let sum = 0;
      let missing = 0;
      while (mapGetNextKey(fd, prev, next)) {
        if (!mapLookupElem(fd, next, val)) missing++;
        sum += vw[0]! + vw[1]! * TWO32;
        n++;
        const t = spare;
        spare = prev ?? new Uint8Array(4);
        prev = next;
        next = t;
      }
      return missing === 0 && n === HMAP_ENTRIES && sum === expectSum;
    }) && allOk;

  // full dump via BPF_MAP_LOOKUP_BATCH (count = 65536: one call returns everything)
  const keys = new Uint8Array(HMAP_ENTRIES * 4);
  const values = new Uint8Array(HMAP_ENTRIES * 8);
  const valueWords = new Uint32Array(values.buffer);
  // Warm sumU64 up on a buffer of its own: reading `values` here would map its pages to the
  // shared zero page, and the kernel's first write into each would then be a copy-on-write
  // fault with a TLB shootdown across the process's threads, charged to the timed dumps (the C
  // anchor's arrays take only plain first-touch faults, which the dumps here take as well).
  const warmup = new Uint32Array(HMAP_ENTRIES * 2);
  for (let i = 0; i < 50; i++) sumU64(warmup, HMAP_ENTRIES);
  allOk =
    timeDumps('map_batch_dump_entries_per_s', 'raw', source, dumpRounds, () => {
      const n = map.batchLookup(keys, values);
      return n === HMAP_ENTRIES && sumU64(valueWords, n) === expectSum;
    }) && allOk;

  allOk = typedRounds(map, source, ops, dumpRounds, last) && allOk;
  return allOk;
}

/** The same four measurements through the typed API, on the same map (already holding every key). */
function typedRounds(map: BpfMap, source: string, ops: number, dumpRounds: number, last: Float64Array): boolean {
  const typed: TypedMap<number, bigint> =
    source === 'created' ? map.typed(codecs.u32, codecs.u64) : map.typed<number, bigint>();
  let allOk = true;

  // update x ops: overwrite with i + 1 so the lookups below see values this loop wrote
  settle();
  let t0 = now();
  for (let i = 0; i < ops; i++) typed.set(i & (HMAP_ENTRIES - 1), BigInt(i + 1));
  let t1 = now();
  for (let i = 0; i < ops; i++) last[i & (HMAP_ENTRIES - 1)] = i + 1;
  emit('map_update_ops_per_s', ops / (t1 - t0), 'typed', true, { source, ops, ns_per_op: ((t1 - t0) * 1e9) / ops });

  // The checks compare and sum in the values' own type, bigint, as the anchors compare and sum
  // u64s: converting each value to a double first (Number(v)) costs ~10 ns more per value, the
  // bench's cost and not the library's (measured: 10 vs 1.4 ms per million comparisons).
  const lastBig = new BigUint64Array(HMAP_ENTRIES);
  for (let k = 0; k < HMAP_ENTRIES; k++) lastBig[k] = BigInt(last[k]!);
  let bad = 0;
  settle();
  t0 = now();
  for (let i = 0; i < ops; i++) {
    const k = i & (HMAP_ENTRIES - 1);
    const v = typed.get(k);
    if (v === undefined || v !== lastBig[k]) bad++;
  }
  t1 = now();
  emit('map_lookup_ops_per_s', ops / (t1 - t0), 'typed', bad === 0, { source, ops, ns_per_op: ((t1 - t0) * 1e9) / ops });
  allOk &&= bad === 0;

  let expect = 0n;
  for (let k = 0; k < HMAP_ENTRIES; k++) expect += lastBig[k]!;

  // One dump: every value through the typed walk `each`, counted and summed as bigints.
  const dump = (each: (fn: (v: bigint) => void) => void) => (): boolean => {
    let n = 0;
    let sum = 0n;
    each((v) => {
      sum += v;
      n++;
    });
    return n === HMAP_ENTRIES && sum === expect;
  };
  allOk = timeDumps('map_iterate_entries_per_s', 'typed', source, dumpRounds, dump((fn) => typed.forEach(fn))) && allOk;

  // The batch dump into typed columns, as the Go anchor's BatchLookup fills a []uint32 and a
  // []uint64: batchLookupInto() with a Uint32Array of keys and a BigUint64Array of values, which
  // the kernel fills in place. The check is the raw line's, sumU64 over the u32 words of the
  // value column, so that the two lines differ only by the library's typed layer. Summing the
  // column as JS bigints instead costs ~0.8 ms more per dump of 65,536 (two BigInt allocations
  // per value; measured in this loop, 7.98 vs 7.17 ms): V8's price for reading u64s as bigints,
  // which any consumer pays, and which the typed-foreach line below includes.
  const keyCol = new Uint32Array(HMAP_ENTRIES);
  const valueCol = new BigUint64Array(HMAP_ENTRIES);
  const valueColWords = new Uint32Array(valueCol.buffer);
  const expectNumber = Number(expect); // below 2^53: the sum of 65,536 values of at most 2^20
  allOk =
    timeDumps('map_batch_dump_entries_per_s', 'typed', source, dumpRounds, () => {
      const n = typed.batchLookupInto(keyCol, valueCol);
      return n === HMAP_ENTRIES && sumU64(valueColWords, n) === expectNumber;
    }) && allOk;
  // The same dump with a callback per entry (batchForEach), as the iterate line walks: V8
  // compiles the library's per-entry loop during the timed dumps (see the README).
  allOk = timeDumps('map_batch_dump_entries_per_s', 'typed-foreach', source, dumpRounds, dump((fn) => typed.batchForEach(fn))) && allOk;
  return allOk;
}
