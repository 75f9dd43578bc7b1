/**
 * Typed values against the kernel: BPF programs (test/testdata/maps/values.bpf.c, run with
 * BPF_PROG_TEST_RUN) store a struct with every kind of member with C code, and the codec must
 * read what C wrote; then the program checks, field by field, a struct the codec wrote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CollectionSpec, loadCollection, decodeCString, enumName, type Collection } from '../../src/index.js';
import { progTestRun } from '../../src/sys/index.js';
import { kernelSkipReason } from '../helpers/kernel.js';

const skip = kernelSkipReason();
const objectPath = fileURLToPath(new URL('../../../test/testdata/maps/values.bpf.o', import.meta.url));

function load(): Collection {
  return loadCollection(CollectionSpec.fromELF(readFileSync(objectPath)));
}

function run(c: Collection, prog: string): void {
  const r = progTestRun({ progFd: c.program(prog).fd.value, dataIn: new Uint8Array(64), repeat: 1 });
  assert.equal(r.retval, 2, `${prog} returned XDP_PASS`);
}

test('typed map: the codec reads a struct C code stored (every member kind)', { skip }, () => {
  using c = load();
  run(c, 'store');
  // Codecs from the object's BTF, no arguments.
  const kitchens = c.map('kitchens').typed<number, Record<string, unknown>>();
  const v = kitchens.get(0)!;
  assert.deepEqual(v, {
    u8v: 200,
    s8v: -100,
    u16v: 65000,
    s32v: -123456,
    u64v: 0xfedcba9876543210n,
    s64v: -5n,
    flag: true,
    name: 'kitchen',
    raw: Uint8Array.of(1, 2, 254, 255),
    a: 5,
    b: 17,
    c: -3,
    on: true,
    wide: 0xabcdef0123n,
    color: -1,
    big: 0x100000000n,
    addr: { ip4: 0x0100007f, ip6: Uint8Array.of(127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) },
    sport: 80,
    dport: 443,
    points: [{ x: -1, y: 2 }, { x: 0, y: 0 }, { x: 300, y: -300 }],
    matrix: [[1, 0, 0], [0, 0, 6]],
    many: [0, 0, 0, 0, 0, 0, 0, 0, 0, 99],
    f: 0,
    d: 2.5,
    ptr: 0xffff888012345678n,
    u128: (3n << 64n) | 7n,
    names: ['ab', 'cdefg'],
  });
  const color = c.spec.btf!.typeByName('enum', 'color');
  assert.equal(enumName(color, v.color as number), 'BLUE', 'enum names through the BTF type');
  const events = c.map('events').typed<number, { seq: bigint; pid: number; cpu: number; comm: Uint8Array }>();
  const e = events.get(0)!;
  assert.equal(e.seq, 0x1122334455667788n);
  assert.equal(e.pid, 4242);
  assert.equal(e.cpu, 1);
  assert.equal(decodeCString(e.comm), 'getpid_gen', 'u8 comm[16] is bytes, with a string helper');
});

test('typed map: C code reads back what the codec wrote (members left out are zero)', { skip }, () => {
  using c = load();
  const kitchens = c.map('kitchens').typed<number, Record<string, unknown>>();
  // Fill slot 1 with garbage first: the typed write must replace all of it.
  c.map('kitchens').update(Uint8Array.of(1, 0, 0, 0), new Uint8Array(224).fill(0xa5));
  kitchens.set(1, {
    u8v: 7,
    s8v: -7,
    s32v: -70000,
    u64v: 0x8000000000000001n,
    flag: true,
    name: 'hi',
    a: 6,
    b: 31,
    c: -8,
    on: true,
    wide: 0xffffffffffn,
    color: 'GREEN',
    big: 'HUGE',
    addr: { ip4: 0x04030201 },
    sport: 1,
    dport: 2,
    points: [{ x: 0, y: 0 }, { x: -9, y: 9 }],
    matrix: [[], [10]],
    d: 0.25,
    u128: (1n << 100n) | 1n,
    names: ['', 'x'],
  });
  run(c, 'check');
  const bad = c.map('result').typed<number, bigint>().get(0)!;
  const fields = ['u8v', 's8v', 's32v', 'u64v', 'flag', 'name', 'a/b', 'c', 'on', 'wide', 'color', 'big', 'addr', 'sport/dport', 'points', 'matrix', 'd', 'u128', 'left out', 'names'];
  const wrong = fields.filter((_, i) => (bad >> BigInt(i)) & 1n);
  assert.deepEqual(wrong, [], `the program found wrong fields: ${wrong.join(', ')}`);
});
