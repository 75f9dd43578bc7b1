/**
 * The `codec` scenario: decoding the 32-byte ring buffer record of ../shared/anchors
 * ({u64 seq; u32 pid; u32 cpu; u8 comm[16]}) from its BTF into JS objects, as a ring buffer
 * reader does per event, and encoding it back. Records are packed back to back in one buffer
 * (as in a ring), seq values are checked (ok=1 only if every decoded seq and pid is right).
 * No kernel needed: the BTF comes from test/testdata/maps/values.bpf.o.
 */
import { readFileSync } from 'node:fs';
import { btfCodec, type Codec } from '../src/btf/index.js';
import { CollectionSpec } from '../src/collection/index.js';
import { emit, envNumber, now } from './common.js';

interface Event {
  seq: bigint;
  pid: number;
  cpu: number;
  comm: Uint8Array;
}

export function codecScenario(): boolean {
  const n = envNumber('CODEC_EVENTS', 5_000_000);
  const obj = new URL('../../test/testdata/maps/values.bpf.o', import.meta.url);
  const spec = CollectionSpec.fromELF(readFileSync(obj));
  const type = spec.btf!.typeByName('struct', 'event');
  const codec = btfCodec(type) as Codec<Event>;
  const records = 4096;
  const ring = new Uint8Array(records * codec.size);
  for (let i = 0; i < records; i++) {
    codec.encode({ seq: BigInt(i), pid: 1000 + i, cpu: i & 1, comm: new TextEncoder().encode('getpid_gen') }, ring, i * 32);
  }
  let ok = true;
  for (let round = 0; round < 2; round++) {
    let bad = 0;
    const t0 = now();
    for (let i = 0; i < n; i++) {
      const r = i & (records - 1);
      const e = codec.decode(ring, r * 32);
      if (e.pid !== 1000 + r || Number(e.seq) !== r || e.comm[0] !== 0x67) bad++;
    }
    const t1 = now();
    if (round === 1) {
      emit('codec_decode_event_per_s', n / (t1 - t0), 'btf', bad === 0, { events: n, ns_per_event: ((t1 - t0) * 1e9) / n });
      ok &&= bad === 0;
    }
  }
  const e = codec.decode(ring, 0);
  const out = new Uint8Array(32);
  for (let round = 0; round < 2; round++) {
    const t0 = now();
    for (let i = 0; i < n; i++) codec.encode(e, out);
    const t1 = now();
    const same = out.every((b, i) => b === ring[i]);
    if (round === 1) {
      emit('codec_encode_event_per_s', n / (t1 - t0), 'btf', same, { events: n, ns_per_event: ((t1 - t0) * 1e9) / n });
      ok &&= same;
    }
  }
  return ok;
}
