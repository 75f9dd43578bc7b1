// Seeded mutation fuzzing of the BTF and .BTF.ext parsers: every mutated blob must either parse
// and fully materialise, or throw FormatError with code ERR_BTF. Never another error, a hang or
// a crash. FUZZ_SEED picks the seed (default fixed), FUZZ_ITERATIONS the number of mutations
// per parser (default 100000 BTF + 50000 .BTF.ext).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, FormatError } from '../../src/errors.js';
import { parseBtfExt } from '../../src/btf/ext.js';
import { marshalBtf } from '../../src/btf/marshal.js';
import { Spec } from '../../src/btf/spec.js';
import type { Type } from '../../src/btf/types.js';
import { alignof, findMember, flattenMembers, formatTypeRaw, resolve, sizeof } from '../../src/btf/util.js';
import { mulberry32, objectSections } from './helpers.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed1234) >>> 0;
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 100_000);

const isBtfError = (err: unknown): boolean => err instanceof FormatError && err.code === 'ERR_BTF';

/** Touches every field of every type, and the helpers that walk the graph. */
function materialiseAll(spec: Spec): string {
  let out = '';
  for (const t of spec.types()) {
    out += formatTypeRaw(t) + '\n';
    tolerate(() => resolve(t));
    tolerate(() => sizeof(t));
    if (t.kind === 'struct' || t.kind === 'union') {
      tolerate(() => alignof(t));
      tolerate(() => flattenMembers(t));
      tolerate(() => findMember(t, 'a.b'));
    }
    if (t.name) spec.typesByName(t.name);
  }
  return out;
}

/** Helpers may reject a graph (no size, cycles) but only with FormatError. */
function tolerate(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!isBtfError(err)) throw err;
  }
}

const INTERESTING = [0, 1, 2, 3, 4, 7, 8, 16, 24, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0x1000000, 0x0d000000, 0x04000005, 0x84000002, 0x13000001];

function mutate(src: Uint8Array, rnd: () => number): Uint8Array {
  let b = new Uint8Array(src); // a copy (Buffer#slice would be a view)
  const n = 1 + Math.floor(rnd() * 4);
  const int = (k: number) => Math.floor(rnd() * k);
  for (let i = 0; i < n; i++) {
    if (b.length === 0) break;
    const op = int(8);
    switch (op) {
      case 0: // flip a bit
        b[int(b.length)]! ^= 1 << int(8);
        break;
      case 1: // random byte
        b[int(b.length)] = int(256);
        break;
      case 2: // an interesting aligned u32 (type section fields, header fields)
      case 3: {
        if (b.length < 4) break;
        const off = int(b.length >> 2) * 4;
        new DataView(b.buffer, b.byteOffset).setUint32(off, INTERESTING[int(INTERESTING.length)]!, rnd() < 0.5);
        break;
      }
      case 4: // small delta on a u32
      {
        if (b.length < 4) break;
        const off = int(b.length >> 2) * 4;
        const dv = new DataView(b.buffer, b.byteOffset);
        dv.setUint32(off, (dv.getUint32(off, true) + int(9) - 4) >>> 0, true);
        break;
      }
      case 5: // truncate
        b = b.slice(0, int(b.length + 1));
        break;
      case 6: { // duplicate a chunk in place
        const len = 4 * (1 + int(4));
        const from = int(Math.max(1, b.length - len));
        const to = int(Math.max(1, b.length - len));
        b.copyWithin(to, from, from + len);
        break;
      }
      case 7: // a header field (BTF and .BTF.ext headers share the first 24 bytes' layout)
        if (b.length >= 24) new DataView(b.buffer, b.byteOffset).setUint32(4 + 4 * int(5), INTERESTING[int(INTERESTING.length)]!, true);
        break;
    }
  }
  return b;
}

function fail(what: string, seed: number, i: number, blob: Uint8Array, err: unknown): never {
  assert.fail(
    `${what}: iteration ${i} (FUZZ_SEED=${seed}) threw ${err instanceof Error ? `${err.constructor.name}: ${err.message}\n${err.stack}` : String(err)}\n` +
      `input (base64): ${Buffer.from(blob).toString('base64')}`,
  );
}

/** Small BTF blobs: each named struct/enum/func of the test objects, with what it references. */
function btfCorpus(): Uint8Array[] {
  const corpus: Uint8Array[] = [];
  for (const obj of ['types.bpf.o', 'core.bpf.o']) {
    const spec = Spec.parse(objectSections(obj).btf);
    corpus.push(marshalBtf(spec), marshalBtf(spec, { byteOrder: 'big' }));
    for (const t of spec.types()) {
      if (t.name && ['struct', 'union', 'enum', 'enum64', 'func', 'datasec', 'decl_tag'].includes(t.kind)) corpus.push(marshalBtf([t as Type]));
    }
  }
  return corpus;
}

test(`fuzz: mutated BTF parses or throws FormatError (seed ${SEED}, ${ITERATIONS} mutations)`, (t) => {
  const corpus = btfCorpus();
  const rnd = mulberry32(SEED);
  let parsed = 0;
  let rejected = 0;
  let roundTrips = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const blob = mutate(corpus[Math.floor(rnd() * corpus.length)]!, rnd);
    let dump: string;
    let spec: Spec;
    try {
      spec = Spec.parse(blob);
      dump = materialiseAll(spec);
      parsed++;
    } catch (err) {
      if (!isBtfError(err)) fail('BTF', SEED, i, blob, err);
      rejected++;
      continue;
    }
    // What parses marshals back to the same types (or is refused as unencodable).
    if (i % 8 === 0) {
      try {
        const again = Spec.parse(marshalBtf(spec, { byteOrder: rnd() < 0.5 ? 'little' : 'big' }));
        assert.equal(materialiseAll(again), dump);
        roundTrips++;
      } catch (err) {
        if (!(err instanceof ArgumentError)) fail('BTF round trip', SEED, i, blob, err);
      }
    }
  }
  t.diagnostic(`${parsed} parsed, ${rejected} rejected, ${roundTrips} round trips`);
  assert.ok(parsed > ITERATIONS / 50, `some mutations parse (${parsed} parsed, ${rejected} rejected)`);
  assert.ok(rejected > ITERATIONS / 50, `some mutations are rejected (${parsed} parsed, ${rejected} rejected)`);
  assert.ok(roundTrips > 0);
});

test(`fuzz: mutated .BTF.ext parses or throws FormatError (seed ${SEED})`, (t) => {
  const sources = ['core.bpf.o', 'types.bpf.o'].map((obj) => {
    const { btf, btfExt } = objectSections(obj);
    return { spec: Spec.parse(btf), ext: btfExt! };
  });
  const rnd = mulberry32(SEED ^ 0x9e3779b9);
  const n = Math.max(1, Math.floor(ITERATIONS / 2));
  let parsed = 0;
  for (let i = 0; i < n; i++) {
    const src = sources[Math.floor(rnd() * sources.length)]!;
    const blob = mutate(src.ext, rnd);
    try {
      const ext = parseBtfExt(blob, src.spec);
      for (const m of [ext.funcInfos, ext.lineInfos, ext.coreRelos]) for (const recs of m.values()) assert.ok(recs.length > 0);
      parsed++;
    } catch (err) {
      if (!isBtfError(err)) fail('.BTF.ext', SEED, i, blob, err);
    }
  }
  t.diagnostic(`${parsed} of ${n} parsed`);
  assert.ok(parsed > n / 50);
});
