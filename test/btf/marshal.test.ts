import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArgumentError, FormatError } from '../../src/errors.js';
import { encodeBtf, fixupDatasecs, marshalBtf } from '../../src/btf/marshal.js';
import { Spec } from '../../src/btf/spec.js';
import { ALL_BTF_FEATURES, VOID, type BtfFeatures, type DatasecType, type IntType, type StructType, type Type } from '../../src/btf/types.js';
import { bpftoolRaw, firstDifference, haveBpftool, objectSections, rawDump, readElf, testdata } from './helpers.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

function withTmp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-ts-btf-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const obj of ['types.bpf.o', 'types.bpfeb.o', 'core.bpf.o']) {
  test(`${obj}: parse -> marshal -> parse keeps every type`, () => {
    const spec = Spec.parse(objectSections(obj).btf);
    for (const byteOrder of ['little', 'big'] as const) {
      const again = Spec.parse(marshalBtf(spec, { byteOrder }));
      assert.equal(again.byteOrder, byteOrder);
      assert.equal(again.typeCount, spec.typeCount);
      const diff = firstDifference(rawDump(again.types()), rawDump(spec.types()));
      assert.equal(diff, undefined, diff);
    }
  });
}

test('vmlinux: parse -> marshal -> parse keeps every type; libbpf reads the blob', { skip: existsSync(VMLINUX) ? false : 'no vmlinux BTF' }, () => {
  const spec = Spec.parse(readFileSync(VMLINUX));
  const bytes = marshalBtf(spec);
  const again = Spec.parse(bytes);
  assert.equal(again.typeCount, spec.typeCount);
  const expected = rawDump(spec.types());
  const diff = firstDifference(rawDump(again.types()), expected);
  assert.equal(diff, undefined, diff);
  // Deduplicated strings: no bigger than the kernel's own (already deduplicated) table.
  assert.ok(again.stringsLength <= spec.stringsLength, `${again.stringsLength} <= ${spec.stringsLength}`);
  if (haveBpftool()) {
    withTmp((dir) => {
      writeFileSync(join(dir, 'vmlinux.btf'), bytes);
      const theirs = bpftoolRaw(join(dir, 'vmlinux.btf'));
      assert.equal(firstDifference(theirs ?? '', expected), undefined);
    });
  }
});

function sanitised(features: Partial<BtfFeatures>): { spec: Spec; orig: Spec } {
  const orig = Spec.parse(objectSections('types.bpf.o').btf);
  const bytes = marshalBtf(orig, { features: { ...ALL_BTF_FEATURES, ...features } });
  return { spec: Spec.parse(bytes), orig };
}

function kindsOf(spec: Spec): Set<string> {
  return new Set([...spec.types()].map((t) => t.kind));
}

test('sanitising: each missing feature, as libbpf does', () => {
  {
    const { spec, orig } = sanitised({ datasec: false });
    assert.ok(!kindsOf(spec).has('var') && !kindsOf(spec).has('datasec'));
    const data = spec.typeById(orig.typeByName('datasec', '.data').id) as StructType;
    assert.equal(data.kind, 'struct');
    assert.equal(data.name, '_data');
    assert.deepEqual(data.members.map((m) => m.name), orig.typeByName('datasec', '.data').vars.map((v) => v.type.name));
    const v = spec.typeById(orig.typeByName('var', 'data_var').id) as IntType;
    assert.deepEqual([v.kind, v.name, v.size, v.bits], ['int', 'data_var', 1, 8]);
    assert.equal(spec.typeById(orig.typeByName('datasec', '.data.custom').id).name, '_data_custom');
  }
  {
    const { spec, orig } = sanitised({ float: false });
    assert.ok(!kindsOf(spec).has('float'));
    const f = spec.typeById(orig.typeByName('float', 'double').id) as StructType;
    assert.deepEqual([f.kind, f.name, f.size, f.members.length], ['struct', '', 8, 0]);
  }
  {
    const { spec, orig } = sanitised({ declTag: false });
    assert.ok(!kindsOf(spec).has('decl_tag'));
    const tagId = orig.typesByName('member_tag')[0]!.id;
    assert.equal(spec.typeById(tagId).kind, 'int');
  }
  {
    const { spec, orig } = sanitised({ typeTag: false });
    assert.ok(!kindsOf(spec).has('type_tag'));
    const tagId = orig.typesByName('user')[0]!.id;
    const c = spec.typeById(tagId);
    assert.deepEqual([c.kind, c.name], ['const', '']);
  }
  {
    const { spec, orig } = sanitised({ enum64: false });
    assert.ok(!kindsOf(spec).has('enum64'));
    assert.equal(spec.typeCount, orig.typeCount + 1, 'one placeholder int appended');
    const placeholder = spec.typeById(spec.lastTypeId) as IntType;
    assert.deepEqual([placeholder.kind, placeholder.name, placeholder.size], ['int', 'enum64_placeholder', 1]);
    const u = spec.typeById(orig.typeByName('enum64', 'big64').id) as StructType;
    assert.deepEqual([u.kind, u.size, u.members.map((m) => m.name)], ['union', 8, ['BIG_A', 'BIG_B']]);
    assert.ok(u.members.every((m) => m.type === placeholder && m.bitOffset === 0));
    const neg = spec.typeById(orig.typeByName('enum', 'neg').id);
    assert.ok(neg.kind === 'enum' && !neg.signed, 'signed enums lose their kind flag');
  }
  {
    const { spec, orig } = sanitised({ globalFunc: false });
    for (const t of spec.types()) if (t.kind === 'func') assert.equal(t.linkage, 'static');
    assert.equal(spec.typeById(orig.typeByName('func', 'global_fn').id).kind, 'func');
  }
  {
    const { spec, orig } = sanitised({ func: false });
    assert.ok(!kindsOf(spec).has('func') && !kindsOf(spec).has('func_proto'));
    const fn = orig.typeByName('func', 'global_fn');
    const td = spec.typeById(fn.id);
    assert.ok(td.kind === 'typedef' && td.name === 'global_fn' && td.target.id === fn.proto.id);
    const proto = spec.typeById(fn.proto.id);
    assert.ok(proto.kind === 'enum' && proto.size === 4);
    assert.deepEqual(proto.values.map((v) => v.name), ['h', 'y']);
  }
  // Every id keeps its place (func_info and CO-RE refer to them).
  const { spec, orig } = sanitised({ func: false, datasec: false, float: false, declTag: false, typeTag: false, globalFunc: false });
  assert.equal(spec.typeCount, orig.typeCount);
  for (const t of orig.types()) {
    const renamed = t.kind === 'float' || t.kind === 'type_tag' || t.kind === 'datasec';
    if (!renamed) assert.equal(spec.typeById(t.id).name, t.name, `[${t.id}] keeps its name`);
  }
});

test("sanitising: '?' datasec names", () => {
  const int: IntType = { id: 1, kind: 'int', name: 'int', size: 4, bits: 32, offset: 0, signed: true, char: false, bool: false };
  const v = { id: 2, kind: 'var' as const, name: 'x', type: int, linkage: 'static' as const };
  const sec: DatasecType = { id: 3, kind: 'datasec', name: '?.data', size: 4, vars: [{ type: v, offset: 0, size: 4 }] };
  assert.equal(Spec.parse(marshalBtf([int, v, sec])).typeById(3).name, '?.data');
  assert.equal(Spec.parse(marshalBtf([int, v, sec], { features: { ...ALL_BTF_FEATURES, qmarkDatasec: false } })).typeById(3).name, '_.data');
});

test('fixupDatasecs: sizes and offsets from the ELF, as the BPF linker computes them', { skip: haveBpftool() ? false : 'needs bpftool' }, () => {
  const { btf, elf } = objectSections('types.bpf.o');
  const spec = Spec.parse(btf);
  assert.equal(spec.typeByName('datasec', '.data').size, 0, 'clang leaves it 0');
  fixupDatasecs(spec, {
    sectionSize: (name) => elf.section(name)?.size,
    symbolOffset: (sec, name) => {
      const idx = elf.section(sec)?.index;
      return elf.symbols.find((s) => s.name === name && s.shndx === idx && s.bind !== 0)?.value;
    },
    symbolHidden: (_sec, name) => elf.symbols.find((s) => s.name === name)!.visibility === 2,
  });
  assert.equal(spec.typeByName('var', 'hidden_var').linkage, 'static');
  assert.equal(spec.typeByName('var', 'data_var').linkage, 'global');

  // `bpftool gen object` runs libbpf's linker, which fills in the same sizes and offsets.
  const describe = (s: Spec) =>
    [...s.types()]
      .filter((t): t is DatasecType => t.kind === 'datasec')
      .map((d) => `${d.name} ${d.size}: ${d.vars.map((v) => `${v.type.name}@${v.offset}+${v.size}`).join(' ')}`)
      .sort();
  const theirs = withTmp((dir) => {
    const out = join(dir, 'linked.o');
    assert.equal(spawnSync('bpftool', ['gen', 'object', out, testdata('types.bpf.o')], { stdio: 'ignore' }).status, 0);
    return Spec.parse(readElf(readFileSync(out)).section('.BTF')!.data);
  });
  assert.deepEqual(describe(spec), describe(theirs));
  // The fixed-up BTF marshals with those values.
  assert.deepEqual(describe(Spec.parse(marshalBtf(spec))), describe(theirs));

  assert.throws(
    () => fixupDatasecs(Spec.parse(btf), { sectionSize: () => undefined, symbolOffset: () => 0 }),
    (err: unknown) => err instanceof FormatError && err.code === 'ERR_BTF',
  );
});

test('split BTF: ids and string offsets continue after the base', { skip: haveBpftool() ? false : 'needs bpftool' }, () => {
  const baseBytes = objectSections('types.bpf.o').btf;
  const base = Spec.parse(baseBytes);
  const int = base.typeByName('int', 'int');
  const ptr: Type = { id: 0, kind: 'ptr', name: '', target: int };
  const s: StructType = {
    id: 0,
    kind: 'struct',
    name: 'split_struct',
    size: 16,
    members: [
      { name: 'a', type: int, bitOffset: 0, bitfieldSize: 0 },
      { name: 'p', type: ptr, bitOffset: 64, bitfieldSize: 0 },
    ],
  };
  const td: Type = { id: 0, kind: 'typedef', name: 'int', target: s }; // a name the base has too
  const enc = encodeBtf([s, td], { base });
  const split = Spec.parse(enc.bytes, { base });
  assert.equal(split.base, base);
  assert.equal(split.firstTypeId, base.lastTypeId + 1);
  assert.equal(split.typeCount, 3, 'the pointer was appended');
  const ss = split.typeByName('struct', 'split_struct');
  assert.equal(ss.id, base.lastTypeId + 1);
  assert.equal(ss.members[0]!.type, int, 'base types resolve to the base objects');
  assert.equal(enc.typeId(s), ss.id);
  assert.equal(enc.typeId(int), int.id);
  assert.deepEqual(split.typesByName('int').map((t) => t.kind), ['int', 'typedef']);
  assert.ok(enc.stringOffset('split_struct') >= base.stringsEnd);
  assert.equal(split.stringAt(enc.stringOffset('split_struct')), 'split_struct');
  assert.equal(split.stringAt(1), base.stringAt(1));
  assert.equal(rawDump(split.types()), rawDump(Spec.parse(marshalBtf(split), { base }).types()));

  // libbpf agrees: bpftool dumps the split blob on top of the same base.
  withTmp((dir) => {
    writeFileSync(join(dir, 'base.btf'), baseBytes);
    writeFileSync(join(dir, 'split.btf'), enc.bytes);
    assert.equal(firstDifference(bpftoolRaw(join(dir, 'split.btf'), join(dir, 'base.btf')) ?? '', rawDump(split.types())), undefined);
  });
  // Mismatched byte orders are refused.
  assert.throws(() => Spec.parse(marshalBtf([s, td], { base, byteOrder: 'big' }), { base }), FormatError);
});

test('hand-built types: referenced types are appended, errors for bad input', () => {
  const int: IntType = { id: 0, kind: 'int', name: 'u8', size: 1, bits: 8, offset: 0, signed: false, char: false, bool: false };
  const arr: Type = { id: 0, kind: 'array', name: '', element: int, index: int, length: 4 };
  const enc = encodeBtf([arr], { extraStrings: ['file.c', 'u8'] });
  const spec = Spec.parse(enc.bytes);
  assert.equal(spec.typeCount, 2);
  assert.equal(enc.typeId(arr), 1);
  assert.equal(enc.typeId(int), 2);
  assert.equal(enc.typeId(VOID), 0);
  assert.equal(spec.stringAt(enc.stringOffset('file.c')), 'file.c');
  assert.equal(spec.stringAt(enc.stringOffset('u8')), 'u8');
  assert.throws(() => enc.stringOffset('nope'), ArgumentError);
  assert.throws(() => marshalBtf([VOID]), ArgumentError);
  assert.throws(() => marshalBtf([int, int]), ArgumentError);
  assert.throws(() => marshalBtf([{ ...int, size: -1 }]), ArgumentError);
  assert.throws(() => marshalBtf([{ id: 0, kind: 'enum', name: 'e', size: 4, signed: false, values: [{ name: 'A', value: 1n << 40n }] }]), ArgumentError);
  assert.throws(() => marshalBtf([{ id: 0, kind: 'typedef', name: 'bad\0', target: int }]), ArgumentError);
});
