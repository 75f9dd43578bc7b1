import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { FormatError } from '../../src/errors.js';
import { Spec } from '../../src/btf/spec.js';
import { BtfNotFoundError, formatTypeRaw } from '../../src/btf/util.js';
import type { DatasecType, EnumType, FuncType, StructType, Type } from '../../src/btf/types.js';
import { VOID } from '../../src/btf/types.js';
import { bpftoolRaw, firstDifference, haveBpftool, objectSections, rawDump, testdata } from './helpers.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const haveVmlinux = existsSync(VMLINUX);

function isBtfError(err: unknown): boolean {
  return err instanceof FormatError && err.code === 'ERR_BTF';
}

// ---------------------------------------------------------------------------------------------
// vmlinux
// ---------------------------------------------------------------------------------------------

test('vmlinux: every type matches bpftool format raw', { skip: !haveVmlinux || !haveBpftool() ? 'needs /sys/kernel/btf/vmlinux and bpftool' : false }, () => {
  const spec = Spec.parse(readFileSync(VMLINUX));
  const expected = bpftoolRaw(VMLINUX)!;
  const lastLine = expected.split('\n').findLast((l) => l.startsWith('['))!;
  assert.equal(spec.lastTypeId, Number(/^\[(\d+)\]/.exec(lastLine)![1]));
  assert.equal(spec.typeCount, spec.lastTypeId);
  assert.equal(spec.firstTypeId, 1);
  const diff = firstDifference(rawDump(spec.types()), expected);
  assert.equal(diff, undefined, diff);
});

test('vmlinux: well-known types', { skip: !haveVmlinux || !haveBpftool() ? 'needs /sys/kernel/btf/vmlinux and bpftool' : false }, () => {
  const spec = Spec.parse(readFileSync(VMLINUX));
  const raw = bpftoolRaw(VMLINUX)!;
  // The bpftool record of a type: its line and its member lines.
  const record = (head: RegExp): string => {
    const lines = raw.split('\n');
    const i = lines.findIndex((l) => head.test(l));
    assert.ok(i >= 0, `bpftool has ${head}`);
    let j = i + 1;
    while (j < lines.length && lines[j]!.startsWith('\t')) j++;
    return lines.slice(i, j).join('\n');
  };

  const ts = spec.typeByName('struct', 'task_struct');
  assert.equal(ts.kind, 'struct');
  const tsRecord = record(/^\[\d+\] STRUCT 'task_struct' /);
  assert.equal(formatTypeRaw(ts), tsRecord);
  const size = Number(/size=(\d+)/.exec(tsRecord)![1]);
  assert.equal(ts.size, size);
  for (const name of ['pid', 'tgid', 'comm', 'real_parent', 'mm']) {
    const m = ts.members.find((x) => x.name === name)!;
    const line = tsRecord.split('\n').find((l) => l.startsWith(`\t'${name}' `))!;
    assert.equal(m.bitOffset, Number(/bits_offset=(\d+)/.exec(line)![1]), name);
    assert.equal(m.type.id, Number(/type_id=(\d+)/.exec(line)![1]), name);
  }

  const pidType = spec.findType('enum', 'pid_type') as EnumType;
  assert.ok(pidType);
  assert.equal(formatTypeRaw(pidType), record(/^\[\d+\] ENUM 'pid_type' /));
  assert.deepEqual(
    pidType.values.slice(0, 2).map((v) => [v.name, v.value]),
    [
      ['PIDTYPE_PID', 0n],
      ['PIDTYPE_TGID', 1n],
    ],
  );

  const fn = spec.findType('func', 'do_sys_open') ?? spec.findType('func', 'vfs_read');
  assert.ok(fn, 'a well-known func');
  const f = fn as FuncType;
  assert.equal(formatTypeRaw(f), record(new RegExp(`^\\[${f.id}\\] FUNC `)));
  assert.equal(formatTypeRaw(f.proto), record(new RegExp(`^\\[${f.proto.id}\\] FUNC_PROTO `)));

  // Lookups by name, kind and id agree with each other.
  assert.equal(spec.anyTypeByName('task_struct'), spec.typesByName('task_struct')[0]);
  assert.ok(spec.typesByName('task_struct').includes(ts));
  assert.equal(spec.typeById(ts.id), ts);
  assert.equal(spec.kindOf(ts.id), 'struct');
  assert.equal(spec.findType('union', 'task_struct'), undefined);
  assert.deepEqual(spec.typesByName('no_such_type_hopefully'), []);
  assert.throws(() => spec.anyTypeByName('no_such_type_hopefully'), BtfNotFoundError);
});

test('vmlinux: typeById caches; member types are the cached objects', { skip: !haveVmlinux ? 'no vmlinux BTF' : false }, () => {
  const spec = Spec.parse(readFileSync(VMLINUX));
  const t1 = spec.typeById(1);
  assert.equal(spec.typeById(1), t1, 'cached');
  const ts = spec.typeByName('struct', 'task_struct');
  // Touching members materialises member types shallowly; they are the cached objects.
  const m = ts.members[0]!;
  assert.equal(spec.typeById(m.type.id), m.type);
});

// ---------------------------------------------------------------------------------------------
// BPF objects
// ---------------------------------------------------------------------------------------------

for (const obj of ['types.bpf.o', 'types.bpfeb.o', 'core.bpf.o']) {
  test(`${obj}: every type matches bpftool format raw`, { skip: !haveBpftool() ? 'needs bpftool' : false }, () => {
    const { btf } = objectSections(obj);
    const spec = Spec.parse(btf);
    assert.equal(spec.byteOrder, obj.includes('bpfeb') ? 'big' : 'little');
    const expected = bpftoolRaw(testdata(obj));
    assert.ok(expected, 'bpftool dumps it');
    const diff = firstDifference(rawDump(spec.types()), expected);
    assert.equal(diff, undefined, diff);
  });
}

test('types.bpf.o: big- and little-endian objects decode to the same types', () => {
  const le = Spec.parse(objectSections('types.bpf.o').btf);
  const be = Spec.parse(objectSections('types.bpfeb.o').btf);
  assert.equal(le.typeCount, be.typeCount);
  assert.equal(rawDump(be.types()), rawDump(le.types()));
});

test('types.bpf.o: every kind decodes as expected', () => {
  const spec = Spec.parse(objectSections('types.bpf.o').btf);
  const kinds = new Set([...spec.types()].map((t) => t.kind));
  for (const k of ['ptr', 'struct', 'union', 'enum', 'enum64', 'fwd', 'typedef', 'volatile', 'const', 'restrict', 'func', 'func_proto', 'var', 'datasec', 'float', 'decl_tag', 'type_tag', 'int', 'array'] as const) {
    assert.ok(kinds.has(k), `has a ${k}`);
  }

  const bits = spec.typeByName('struct', 'bits');
  const byName = (s: StructType, n: string) => s.members.find((m) => m.name === n)!;
  assert.deepEqual(
    ['a', 'b', 'c', 'd'].map((n) => [byName(bits, n).bitOffset, byName(bits, n).bitfieldSize]),
    [
      [0, 3],
      [3, 5],
      [8, 7],
      [15, 40],
    ],
  );
  assert.equal(byName(bits, 'e').bitfieldSize, 0);

  const big = spec.typeByName('enum64', 'big64');
  assert.equal(big.signed, false);
  assert.deepEqual(big.values.map((v) => v.value), [0x100000000n, 0xffffffffffffffffn]);
  const sbig = spec.typeByName('enum64', 'sbig64');
  assert.equal(sbig.signed, true);
  assert.deepEqual(sbig.values.map((v) => v.value), [-0x100000000n, 1n]);
  const neg = spec.typeByName('enum', 'neg');
  assert.equal(neg.signed, true);
  assert.deepEqual(neg.values.map((v) => v.value), [-1n, 5n]);
  assert.equal(spec.typeByName('enum', 'tiny').size, 1);

  assert.equal(spec.typeByName('fwd', 'fwd_union').fwdKind, 'union');
  assert.equal(spec.typeByName('fwd', 'fwd_struct').fwdKind, 'struct');
  assert.equal(spec.typeByName('float', 'double').size, 8);

  const holder = spec.typeByName('struct', 'holder');
  const uptr = byName(holder, 'uptr').type;
  assert.equal(uptr.kind, 'ptr');
  assert.ok(uptr.kind === 'ptr' && uptr.target.kind === 'type_tag' && uptr.target.name === 'user');

  const tags = spec.typesByName('member_tag');
  assert.equal(tags.length, 1);
  const tag = tags[0]!;
  assert.ok(tag.kind === 'decl_tag');
  assert.equal(tag.target, holder);
  assert.equal(tag.componentIndex, holder.members.findIndex((m) => m.name === 'field'));

  const globalFn = spec.typeByName('func', 'global_fn');
  assert.equal(globalFn.linkage, 'global');
  assert.equal(spec.typeByName('func', 'static_fn').linkage, 'static');
  assert.deepEqual(globalFn.proto.params.map((p) => p.name), ['h', 'y']);
  const funcTag = spec.typesByName('func_tag')[0]!;
  assert.ok(funcTag.kind === 'decl_tag' && funcTag.target === globalFn && funcTag.componentIndex === -1);

  const cb = byName(holder, 'callback').type;
  assert.ok(cb.kind === 'ptr' && cb.target.kind === 'func_proto');
  const params = cb.kind === 'ptr' && cb.target.kind === 'func_proto' ? cb.target.params : [];
  assert.equal(params.at(-1)!.type, VOID, 'variadic marker');

  const bss = spec.typeByName('datasec', '.bss') as DatasecType;
  assert.deepEqual(bss.vars.map((v) => v.type.name), ['global_holder', 'static_var']);
  const staticVar = spec.typeByName('var', 'static_var');
  assert.equal(staticVar.linkage, 'static');
  assert.equal(spec.typeByName('var', 'data_var').linkage, 'global');

  // Strings.
  assert.equal(spec.stringAt(0), '');
  assert.throws(() => spec.stringAt(1 << 30), isBtfError);
  assert.throws(() => spec.typeById(spec.lastTypeId + 1), BtfNotFoundError);
  assert.throws(() => spec.typeById(-1), BtfNotFoundError);
  assert.equal(spec.typeById(0), VOID);
  assert.equal([...spec].length, spec.typeCount);
});

test('types are mutable and console-friendly', () => {
  const spec = Spec.parse(objectSections('types.bpf.o').btf);
  const holder = spec.typeByName('struct', 'holder');
  const ptr = holder.members[1]!.type;
  assert.ok(ptr.kind === 'ptr');
  const old = ptr.target;
  ptr.target = VOID;
  assert.equal(ptr.target, VOID);
  ptr.target = old;
  holder.size = 1000;
  assert.equal((spec.typeById(holder.id) as StructType).size, 1000);
  assert.deepEqual(Object.keys(holder), ['id', 'kind', 'name', 'size']);
});

// ---------------------------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------------------------

/** A little-endian BTF blob from type words and a string table. */
function blob(words: number[], strings = '\0'): Uint8Array {
  const s = new TextEncoder().encode(strings);
  const out = new Uint8Array(24 + words.length * 4 + s.length);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, 0xeb9f, true);
  out[2] = 1;
  dv.setUint32(4, 24, true);
  dv.setUint32(12, words.length * 4, true);
  dv.setUint32(16, words.length * 4, true);
  dv.setUint32(20, s.length, true);
  words.forEach((w, i) => dv.setUint32(24 + i * 4, w >>> 0, true));
  out.set(s, 24 + words.length * 4);
  return out;
}

const INT = (nameOff: number, size: number) => [nameOff, 1 << 24, size, size * 8];
const TYPEDEF = (nameOff: number, target: number) => [nameOff, 8 << 24, target];

test('malformed BTF throws FormatError ERR_BTF with an offset', () => {
  const good = blob([...INT(1, 4)], '\0int\0');
  assert.equal(Spec.parse(good).typeById(1).name, 'int');

  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['bad magic', new Uint8Array(24)],
    ['short header', good.subarray(0, 10)],
    ['truncated', good.subarray(0, good.length - 3)],
    ['unknown kind', blob([1, 25 << 24, 4], '\0x\0')],
    ['kind 0', blob([1, 0, 4], '\0x\0')],
    ['record past the end', blob([1, (4 << 24) | 2, 8, 0, 0], '\0x\0')],
    ['huge vlen', blob([1, (4 << 24) | 0xffff, 8], '\0x\0')],
    ['no NUL at the end of strings', blob([...INT(1, 4)], '\0int')],
    ['strings not starting with NUL', blob([...INT(1, 4)], 'x\0int\0')],
  ];
  const v2 = good.slice();
  v2[2] = 2;
  cases.push(['version 2', v2]);
  for (const [what, bytes] of cases) {
    assert.throws(
      () => {
        const s = Spec.parse(bytes);
        for (const t of s.types()) formatTypeRaw(t);
      },
      (err: unknown) => {
        assert.ok(isBtfError(err), `${what}: ${String(err)}`);
        return true;
      },
      what,
    );
  }

  // Bad references and string offsets surface when the type is materialised.
  const badRef = Spec.parse(blob([...TYPEDEF(1, 7)], '\0t\0'));
  const td = badRef.typeById(1);
  assert.throws(() => (td.kind === 'typedef' ? td.target : undefined), isBtfError);
  const badName = Spec.parse(blob([...INT(100, 4)], '\0int\0'));
  assert.throws(() => badName.typeById(1), isBtfError);
  assert.throws(() => badName.typeIdsByName('int'), isBtfError);
});

test('big-endian header and types parse', () => {
  const le = blob([...INT(1, 4), ...TYPEDEF(5, 1)], '\0int\0myint\0');
  const be = le.slice();
  const dv = new DataView(be.buffer);
  const src = new DataView(le.buffer);
  dv.setUint16(0, 0xeb9f, false);
  // The header's u32 fields and the 7 type words.
  for (let o = 4; o < 24 + 7 * 4; o += 4) dv.setUint32(o, src.getUint32(o, true), false);
  const spec = Spec.parse(be);
  assert.equal(spec.byteOrder, 'big');
  assert.equal(rawDump(spec.types()), rawDump(Spec.parse(le).types()));
  assert.equal(spec.typeByName('typedef', 'myint').target, spec.typeById(1));
});

test('a typedef cycle does not hang resolve/sizeof', async () => {
  const { resolve, sizeof } = await import('../../src/btf/util.js');
  const spec = Spec.parse(blob([...TYPEDEF(1, 2), ...TYPEDEF(1, 1)], '\0t\0'));
  assert.throws(() => resolve(spec.typeById(1)), isBtfError);
  assert.throws(() => sizeof(spec.typeById(1)), isBtfError);
});

test('unaligned input is copied, not misread', () => {
  const good = blob([...INT(1, 4), ...TYPEDEF(5, 1)], '\0int\0myint\0');
  const shifted = new Uint8Array(good.length + 1);
  shifted.set(good, 1);
  const spec = Spec.parse(shifted.subarray(1));
  assert.equal(spec.typeByName('typedef', 'myint').name, 'myint');
  const t: Type = spec.typeById(1);
  assert.equal(t.kind === 'int' && t.size, 4);
});
