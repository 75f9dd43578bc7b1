/**
 * The BTF codec (src/btf/codec.ts), pure: types from a compiled object (test/testdata/maps/
 * values.bpf.c, both byte orders) and from the running kernel's BTF. test/maps/values.test.ts
 * checks the same codec against values the kernel stored and read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ArgumentError } from '../../src/errors.js';
import {
  Spec,
  btfCodec,
  codecKeys,
  codecs,
  decodeCString,
  enumName,
  enumNames,
  loadKernelSpec,
  resolve,
  scalarArray,
  tsMemberTypeFor,
  type StructType,
  type TsMapping,
  type Type,
} from '../../src/btf/index.js';
import { ElfFile } from '../../src/elf/index.js';

function objectSpec(name: string): Spec {
  const elf = ElfFile.parse(readFileSync(fileURLToPath(new URL(`../../../test/testdata/maps/${name}`, import.meta.url))));
  const btf = elf.sectionByName('.BTF');
  assert.ok(btf, `${name} has .BTF`);
  return Spec.parse(btf.data());
}

const le = objectSpec('values.bpf.o');
const be = objectSpec('values.bpfeb.o');
const kitchen = le.typeByName('struct', 'kitchen');

/** A kitchen value with every member given. */
function fullKitchen(): Record<string, unknown> {
  return {
    u8v: 255,
    s8v: -128,
    u16v: 65535,
    s32v: -2147483648,
    u64v: 2n ** 64n - 1n,
    s64v: -(2n ** 63n),
    flag: true,
    name: 'héllo', // UTF-8: 6 bytes
    raw: Uint8Array.of(9, 8, 7, 6),
    a: 7,
    b: 0,
    c: -8,
    on: false,
    wide: 2n ** 40n - 2n,
    color: 5,
    big: 2n ** 32n,
    addr: { ip4: 0x7f000001, ip6: Uint8Array.of(1, 0, 0, 127, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16) },
    sport: 8080,
    dport: 1,
    points: [{ x: -32768, y: 32767 }, { x: 0, y: 1 }, { x: 2, y: 3 }],
    matrix: [[1, 2, 3], [4, 5, 4294967295]],
    many: [0, 1, 2, 3, 4, 5, 6, 7, 8, -9],
    f: 1.5,
    d: -0.125,
    ptr: 0xffff888000001000n,
    u128: 2n ** 128n - 1n,
    names: ['ab', 'cdefg'],
  };
}

test('codec: a struct with every kind of member round-trips; decode gives the documented JS shapes', () => {
  const codec = btfCodec(kitchen);
  assert.equal(codec.size, 224);
  const v = fullKitchen();
  const bytes = codec.encode(v);
  assert.equal(bytes.length, 224);
  const back = codec.decode(bytes) as Record<string, unknown>;
  // ip4 is a view of the union's first 4 bytes (little endian: 1, 0, 0, 127), given after it.
  const expected = { ...v, addr: { ip4: 0x7f000001, ip6: v.addr && (v.addr as { ip6: Uint8Array }).ip6 } };
  (expected.addr as { ip6: Uint8Array }).ip6 = Uint8Array.of(1, 0, 0, 127, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
  assert.deepEqual(back, { ...expected, addr: { ip4: 0x7f000001, ip6: Uint8Array.of(1, 0, 0, 127, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16) } });
  // Byte positions C gives these members (offsets from the BTF dump of values.bpf.o).
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getUint32(4, true), 0x80000000, 's32v at 4');
  assert.equal(dv.getBigUint64(8, true), 2n ** 64n - 1n, 'u64v at 8');
  assert.deepEqual([...bytes.subarray(25, 37)], [0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f, 0, 0, 0, 0, 0, 0], 'name: UTF-8, NUL padded');
  // a:3 at bit 328, b:5 at 331, c:4 at 336: byte 41 = a | b << 3, byte 42 low nibble = c.
  assert.equal(bytes[41], 7);
  assert.equal(bytes[42]! & 0x0f, 0x8);
  assert.equal(dv.getBigUint64(192, true), 2n ** 64n - 1n, 'u128 low half');
});

test('codec: members left out and padding are zero; unknown members are errors naming them', () => {
  const codec = btfCodec(kitchen);
  const into = new Uint8Array(300).fill(0xff);
  codec.encode({ u8v: 1 }, into, 10);
  assert.equal(into[10], 1);
  assert.ok(into.subarray(11, 234).every((b) => b === 0), 'everything else of the value is zero');
  assert.equal(into[9], 0xff, 'bytes before the value untouched');
  assert.equal(into[234], 0xff, 'bytes after the value untouched');
  assert.throws(() => codec.encode({ u8v: 1, nmae: 'x' }), (e: unknown) => e instanceof ArgumentError && /has no member 'nmae'/.test(e.message));
  assert.throws(() => codec.encode({ points: [{ x: 1, z: 2 }] }), (e: unknown) => e instanceof ArgumentError && /value\.points\[\].*no member 'z'/.test(e.message));
});

test('codec: values that do not fit are ArgumentErrors naming the member', () => {
  const codec = btfCodec(kitchen);
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ u8v: 256 }, /value\.u8v: 256 doesn't fit in 1 byte/],
    [{ s8v: -129 }, /value\.s8v/],
    [{ s32v: 2 ** 32 }, /value\.s32v: 4294967296 doesn't fit/],
    [{ u64v: 2n ** 64n }, /value\.u64v/],
    [{ u64v: 1.5 }, /value\.u64v: expected an integer, got 1\.5/],
    [{ s32v: '1' }, /value\.s32v: expected an integer/],
    [{ flag: 2 }, /value\.flag: expected a boolean/],
    [{ name: 'x'.repeat(13) }, /value\.name: 13 bytes don't fit in char\[12\]/],
    [{ raw: [1, 2, 3, 4, 5] }, /value\.raw: 5 elements don't fit/],
    [{ raw: [256] }, /value\.raw\[0\]: expected a byte/],
    [{ color: 'PURPLE' }, /'PURPLE' is not an enumerator of .*color/],
    [{ points: {} }, /value\.points: expected an array/],
    [{ addr: 5 }, /value\.addr: expected an object/],
    [{ many: new Array(11).fill(0) }, /11 elements don't fit in an array of 10/],
    [{ u128: 2n ** 128n }, /value\.u128/],
    [{ d: 'x' }, /value\.d: expected a number/],
  ];
  for (const [v, re] of bad) assert.throws(() => codec.encode(v), (e: unknown) => e instanceof ArgumentError && re.test(e.message), `${JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x))}`);
  assert.throws(() => codec.decode(new Uint8Array(100)), (e: unknown) => e instanceof ArgumentError && /224 bytes at offset 0 don't fit in a buffer of 100/.test(e.message));
  assert.throws(() => codec.encode({}, new Uint8Array(224), 1), ArgumentError);
  assert.throws(() => codec.encode(5 as never), /expected an object/);
});

test('codec: conversions C allows: unsigned spelling of negatives, numbers for 64-bit members, enumerator names, strings for bytes', () => {
  const codec = btfCodec(kitchen);
  const v = codec.decode(codec.encode({ s32v: 0xffffffff, u8v: -1, u64v: 5, s64v: -1, color: 'BLUE', big: 'HUGE', raw: 'ab', flag: 1, c: 15 })) as Record<string, unknown>;
  assert.equal(v.s32v, -1);
  assert.equal(v.u8v, 255);
  assert.equal(v.u64v, 5n);
  assert.equal(v.s64v, -1n);
  assert.equal(v.color, -1);
  assert.equal(v.big, 2n ** 32n);
  assert.deepEqual(v.raw, Uint8Array.of(0x61, 0x62, 0, 0));
  assert.equal(v.flag, true);
  assert.equal(v.c, -1, 'bitfields truncate as C assignments do (15 in a signed 4-bit field is -1)');
});

test('codec: enum names', () => {
  const color = le.typeByName('enum', 'color');
  assert.equal(enumName(color, 5), 'GREEN');
  assert.equal(enumName(color, -1), 'BLUE');
  assert.equal(enumName(color, 7), undefined);
  const big = le.anyTypeByName('big64');
  assert.equal(enumNames(big).get(2n ** 32n), 'HUGE', '8-byte enums are keyed by bigint, as decoded');
  const codec = btfCodec(color);
  assert.equal(codec.names?.get(codec.decode(codec.encode('GREEN' as never)) as number), 'GREEN');
  assert.throws(() => enumNames(kitchen), ArgumentError);
});

test('codec: big-endian objects (values.bpfeb.o) lay out integers and bitfields most significant first', () => {
  const kbe = be.typeByName('struct', 'kitchen');
  const codec = btfCodec(kbe, { littleEndian: false });
  const v = fullKitchen();
  const bytes = codec.encode(v);
  const back = codec.decode(bytes) as Record<string, unknown>;
  assert.deepEqual(back.points, v.points);
  assert.equal(back.u128, v.u128);
  assert.equal(back.c, -8);
  assert.equal(back.wide, v.wide);
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getUint32(4, false), 0x80000000, 's32v big endian');
  // BTF bit offsets of a big-endian target count from the most significant bit of each byte:
  // a:3 is the top three bits of byte 41, b:5 the low five.
  assert.equal(bytes[41], 7 << 5);
  assert.equal(bytes[42]! >> 4, 0x8, 'c: the top nibble of byte 42');
  // ip4 of the union is the first 4 bytes read big-endian; ip6 was written after it.
  assert.equal((back.addr as { ip4: number }).ip4, 0x0100007f);
  const a = btfCodec(kbe, { littleEndian: false });
  assert.equal(a, codec, 'cached per type and byte order');
  assert.notEqual(btfCodec(kbe, { littleEndian: true }), codec);
});

test('codec: the anchors record decodes as { seq: bigint, pid, cpu, comm: Uint8Array }', () => {
  const codec = btfCodec(le.typeByName('struct', 'event'));
  const b = new Uint8Array(64);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(32, 0x1122334455667788n, true);
  dv.setUint32(40, 4242, true);
  dv.setUint32(44, 1, true);
  b.set(new TextEncoder().encode('getpid_gen'), 48);
  const e = codec.decode(b, 32) as { seq: bigint; pid: number; cpu: number; comm: Uint8Array };
  assert.deepEqual(Object.keys(e), ['seq', 'pid', 'cpu', 'comm']);
  assert.equal(e.seq, 0x1122334455667788n);
  assert.equal(e.pid, 4242);
  assert.equal(e.cpu, 1);
  assert.equal(decodeCString(e.comm), 'getpid_gen');
  b[48] = 0x58;
  assert.equal(e.comm[0], 0x67, 'comm is a copy, not a view of the buffer');
  // The same codec on another buffer (its cached view must follow).
  const other = codec.encode({ seq: 1n, pid: 2, cpu: 3, comm: 'x' } as never);
  assert.equal((codec.decode(other) as { pid: number }).pid, 2);
  assert.equal((codec.decode(b, 32) as { pid: number }).pid, 4242);
});

test('codec: explicit codecs for maps without BTF', () => {
  for (const [c, v] of [
    [codecs.u8, 255],
    [codecs.i8, -128],
    [codecs.u16, 65535],
    [codecs.i16, -2],
    [codecs.u32, 4294967295],
    [codecs.i32, -5],
    [codecs.u64, 2n ** 64n - 1n],
    [codecs.i64, -(2n ** 63n)],
    [codecs.f32, 0.5],
    [codecs.f64, Math.PI],
    [codecs.bool, true],
    [codecs.cString(8), 'comm'],
  ] as const) {
    const c2 = c as { size: number; encode(v: unknown): Uint8Array; decode(b: Uint8Array): unknown };
    const b = c2.encode(v);
    assert.equal(b.length, c2.size);
    assert.equal(c2.decode(b), v);
  }
  assert.equal(codecs.u32.decode(codecs.u32.encode(-1)), 4294967295, 'the unsigned spelling');
  assert.throws(() => codecs.u32.encode(2 ** 32), ArgumentError);
  assert.throws(() => codecs.u8.encode(256), ArgumentError);
  assert.throws(() => codecs.u64.encode(-(2n ** 63n) - 1n), ArgumentError);
  assert.equal(codecs.u64.decode(codecs.u64.encode(7 as never)), 7n, 'integer numbers accepted for u64');
  assert.deepEqual(codecs.bytes(3).decode(Uint8Array.of(9, 1, 2, 3), 1), Uint8Array.of(1, 2, 3));
  const arr = codecs.array(codecs.u16, 3);
  assert.deepEqual(arr.decode(arr.encode([1, 2])), [1, 2, 0]);
  const st = codecs.struct<{ pid: number; ts: bigint }>({ pid: { offset: 0, codec: codecs.u32 }, ts: { offset: 8, codec: codecs.u64 } }, 16);
  assert.equal(st.size, 16);
  const into = new Uint8Array(16).fill(0xee);
  st.encode({ pid: 1, ts: 2n }, into);
  assert.deepEqual([...into.subarray(4, 8)], [0, 0, 0, 0], 'gaps zeroed');
  assert.deepEqual(st.decode(into), { pid: 1, ts: 2n });
  assert.throws(() => st.encode({ pid: 1, tss: 2n } as never), /no member 'tss'/);
  assert.throws(() => codecs.u32.decode(new Uint8Array(3)), ArgumentError);
});

/** The JS type tsTypeFor promises for a member, as a predicate on the decoded value. */
function conforms(m: TsMapping, v: unknown): boolean {
  switch (m.kind) {
    case 'boolean':
      return typeof v === 'boolean';
    case 'number':
      return typeof v === 'number';
    case 'bigint':
    case 'pointer':
      return typeof v === 'bigint';
    case 'bytes':
      return v instanceof Uint8Array && v.length === m.length;
    case 'string':
      return typeof v === 'string';
    case 'array':
      return Array.isArray(v) && v.length === m.length;
    case 'enum':
      return typeof v === (m.bigint ? 'bigint' : 'number');
    case 'struct':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'none':
      return false;
  }
}

test('codec: every struct and union of the kernel BTF decodes to the shapes of tsTypeFor and is a fixed point of encode/decode', () => {
  if (!existsSync('/sys/kernel/btf/vmlinux')) return assert.ok(true, 'no kernel BTF');
  const spec = loadKernelSpec();
  let checked = 0;
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (let id = 1; id <= spec.lastTypeId && checked < 3000; id++) {
    const t: Type = spec.typeById(id);
    if ((t.kind !== 'struct' && t.kind !== 'union') || t.size === 0 || t.size > 4096) continue;
    let codec;
    try {
      codec = btfCodec(t);
    } catch (e) {
      // Only types without a JS representation may be refused (16-byte floats).
      assert.match((e as Error).message, /floats have no JS representation/, `[${id}] ${t.name}`);
      continue;
    }
    const bytes = new Uint8Array(t.size);
    for (let i = 0; i < bytes.length; i++) bytes[i] = rand();
    const v = codec.decode(bytes) as Record<string, unknown>;
    const keys = codecKeys(t);
    assert.deepEqual(Object.keys(v), [...keys.keys()], `[${id}] ${t.name}: keys`);
    const flat = flatten(t as StructType);
    for (const [key, member] of flat) {
      assert.ok(conforms(tsMemberTypeFor(member), v[key]), `[${id}] ${t.name}.${key}: ${typeof v[key]} for ${tsMemberTypeFor(member).kind}`);
    }
    // One encode normalises (padding, bools, text after NUL); after that bytes are stable.
    // Text must be valid UTF-8 for that (invalid sequences decode as U+FFFD): ASCII bytes here.
    for (let i = 0; i < bytes.length; i++) bytes[i] = rand() & 0x7f;
    const once = codec.encode(codec.decode(bytes));
    const twice = codec.encode(codec.decode(once));
    assert.deepEqual(twice, once, `[${id}] ${t.name}: encode(decode(x)) is a fixed point`);
    checked++;
  }
  assert.ok(checked > 1000, `checked ${checked} types`);
});

function flatten(t: StructType, out = new Map<string, StructType['members'][number]>()): Map<string, StructType['members'][number]> {
  for (const m of t.members) {
    if (!m.name) {
      const r = resolve(m.type);
      if ((r.kind === 'struct' || r.kind === 'union') && !m.bitfieldSize) flatten(r, out);
      continue;
    }
    let key = m.name;
    for (let i = 2; out.has(key); i++) key = `${m.name}_${i}`;
    out.set(key, m);
  }
  return out;
}

test('codec: scalar codecs read as typed-array columns the values decode() reads', () => {
  // Batch dumps read keys and values of scalar codecs (Codec.scalar) through typed arrays: for
  // every kind, each element must be what decode() returns at its offset.
  const members = new Map((kitchen as StructType).members.map((m) => [m.name, m.type]));
  const expected: Record<string, string | undefined> = {
    u8v: 'u8',
    s8v: 'i8',
    u16v: 'u16',
    s32v: 'i32',
    u64v: 'u64',
    s64v: 'i64',
    flag: undefined, // _Bool decodes to a boolean
    name: undefined,
    color: 'i32', // clang marks this enum signed (BTF kind_flag)
    big: 'u64',
    f: 'f32',
    d: 'f64',
    ptr: 'u64',
  };
  const checked: string[] = [];
  for (const [name, kind] of Object.entries(expected)) {
    const type = members.get(name);
    assert.ok(type, `kitchen.${name}`);
    const codec = btfCodec(type);
    assert.equal(codec.scalar, kind, `kitchen.${name}`);
    assert.equal(btfCodec(type, { littleEndian: false }).scalar, undefined, `kitchen.${name}: not the host's byte order, no columns`);
    if (kind) checked.push(kind);
  }
  assert.ok(checked.includes('i8') && checked.includes('u64'));
  const explicit = [codecs.u8, codecs.i8, codecs.u16, codecs.i16, codecs.u32, codecs.i32, codecs.u64, codecs.i64, codecs.f32, codecs.f64];
  assert.deepEqual(
    explicit.map((c) => c.scalar),
    ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'u64', 'i64', 'f32', 'f64'],
  );
  assert.equal(codecs.bool.scalar, undefined);
  for (const c of explicit) {
    const n = 5;
    const bytes = new Uint8Array(8 + n * c.size).subarray(8); // aligned for every kind
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37 + 11) & 0xff;
    const col = scalarArray(c.scalar!, bytes);
    assert.ok(col, `${c.scalar}: aligned bytes give a column`);
    assert.equal(col.length, n);
    for (let i = 0; i < n; i++) {
      const a = col[i];
      const b = c.decode(bytes, i * c.size);
      assert.ok(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)), `${c.scalar}[${i}]: ${a} vs ${b}`);
    }
    if (c.size > 1) assert.equal(scalarArray(c.scalar!, new Uint8Array(16).subarray(1)), undefined, `${c.scalar}: unaligned bytes give none`);
  }
});

test('codec: 8-byte integers at every alignment, and in a buffer shared by several views', () => {
  // Aligned 8-byte integers go through BigUint64Array/BigInt64Array elements, others through a
  // DataView: every offset, both signednesses, compiled (BTF) and explicit codecs.
  const members = new Map((kitchen as StructType).members.map((m) => [m.name, m.type]));
  const cases = [
    [btfCodec<bigint>(members.get('u64v')!), 2n ** 64n - 3n],
    [btfCodec<bigint>(members.get('s64v')!), -(2n ** 62n) - 5n],
    [codecs.u64, 2n ** 63n + 7n],
    [codecs.i64, -9n],
  ] as const;
  const backing = new ArrayBuffer(64);
  for (const [c, v] of cases) {
    for (let start = 0; start < 8; start++) {
      const view = new Uint8Array(backing, start, 40);
      for (let o = 0; o < 16; o++) {
        view.fill(0xaa);
        c.encode(v, view, o);
        assert.equal(c.decode(view, o), v, `start ${start}, offset ${o}`);
        const dv = new DataView(backing, start, 40);
        assert.equal(c === codecs.i64 || v < 0n ? dv.getBigInt64(o, true) : dv.getBigUint64(o, true), v, `bytes at ${start}+${o}`);
        assert.equal(view[o - 1] ?? 0xaa, 0xaa, 'the byte before is untouched');
        assert.equal(view[o + 8], 0xaa, 'the byte after is untouched');
      }
    }
  }
});

test('codec: 8-byte integers from safe-integer numbers are the bytes of the same bigint', () => {
  const members = new Map((kitchen as StructType).members.map((m) => [m.name, m.type]));
  const u64le = btfCodec(members.get('u64v')!);
  const s64be = btfCodec(members.get('s64v')!, { littleEndian: false });
  const numbers = [0, 1, 255, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, -1, -2, -(2 ** 32), -(2 ** 32) - 1, -(2 ** 53 - 1)];
  for (const c of [u64le, s64be, codecs.u64, codecs.i64] as { encode(v: unknown, b?: Uint8Array, o?: number): Uint8Array }[]) {
    for (const n of numbers) {
      for (const o of [0, 3, 8]) {
        const fromNumber = c.encode(n, new Uint8Array(16).fill(0x55), o);
        const fromBigint = c.encode(BigInt(n), new Uint8Array(16).fill(0x55), o);
        assert.deepEqual(fromNumber, fromBigint, `${n} at ${o}`);
      }
    }
    assert.throws(() => c.encode(2 ** 64), ArgumentError, 'beyond 64 bits');
    assert.throws(() => c.encode(1.5), ArgumentError, 'not an integer');
  }
  assert.equal(codecs.u64.decode(codecs.u64.encode(2 ** 53 - 1 as never)), 2n ** 53n - 1n);
  assert.equal(codecs.i64.decode(codecs.i64.encode(-(2 ** 40) as never)), -(2n ** 40n));
});
