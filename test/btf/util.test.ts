import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { FormatError } from '../../src/errors.js';
import { Spec } from '../../src/btf/spec.js';
import { VOID, type IntType, type StructType, type Type } from '../../src/btf/types.js';
import {
  alignof,
  copyType,
  essentialName,
  findMember,
  flattenMembers,
  forEachChild,
  formatTypeRaw,
  qualifiedName,
  resolve,
  sizeof,
  skipQualifiers,
} from '../../src/btf/util.js';
import { loadKernelSpec } from '../../src/btf/kernel.js';
import { objectSections } from './helpers.js';

const isBtfError = (err: unknown): boolean => err instanceof FormatError && err.code === 'ERR_BTF';

const spec = Spec.parse(objectSections('types.bpf.o').btf);
const holder = spec.typeByName('struct', 'holder');
const member = (s: StructType, name: string): Type => s.members.find((m) => m.name === name)!.type;

test('resolve, skipQualifiers', () => {
  const alias = member(holder, 'alias');
  assert.equal(alias.kind, 'typedef');
  const r = resolve(alias);
  assert.ok(r.kind === 'int' && r.name === 'unsigned int');
  const cv = member(holder, 'cv');
  assert.equal(cv.kind, 'const');
  assert.ok(skipQualifiers(cv).kind === 'int');
  assert.equal(skipQualifiers(alias), alias, 'typedefs stay');
  assert.equal(resolve(VOID), VOID);
});

test('sizeof', () => {
  assert.equal(sizeof(holder), 176);
  assert.equal(sizeof(member(holder, 'arr')), 48);
  assert.equal(sizeof(member(holder, 'alias')), 4);
  assert.equal(sizeof(member(holder, 'uptr')), 8);
  assert.equal(sizeof(member(holder, 'cv')), 4);
  assert.equal(sizeof(member(holder, 'tn')), 1);
  assert.equal(sizeof(member(holder, 'tail')), 0);
  assert.equal(sizeof(spec.typeByName('var', 'global_holder')), 176);
  assert.equal(sizeof(spec.typeByName('enum64', 'big64')), 8);
  assert.throws(() => sizeof(VOID), isBtfError);
  assert.throws(() => sizeof(spec.typeByName('func', 'global_fn')), isBtfError);
  assert.throws(() => sizeof(spec.typeByName('fwd', 'fwd_struct')), isBtfError);
  const big: Type = { id: 0, kind: 'array', name: '', element: holder, index: VOID, length: 0xffffffff };
  assert.throws(() => sizeof(big), isBtfError, 'overflow');
});

test('alignof', () => {
  assert.equal(alignof(holder), 8);
  assert.equal(alignof(spec.typeByName('struct', 'bits')), 8);
  assert.equal(alignof(member(holder, 'arr')), 4);
  assert.equal(alignof(member(holder, 'tn')), 1);
  assert.equal(alignof(member(holder, 'd')), 8);
  const int = spec.typeByName('int', 'int');
  const packed: StructType = {
    id: 0,
    kind: 'struct',
    name: 'p',
    size: 5,
    members: [
      { name: 'c', type: spec.typeByName('int', 'char'), bitOffset: 0, bitfieldSize: 0 },
      { name: 'i', type: int, bitOffset: 8, bitfieldSize: 0 },
    ],
  };
  assert.equal(alignof(packed), 1);
  const self: StructType = { id: 0, kind: 'struct', name: 'self', size: 4, members: [] };
  self.members.push({ name: 'x', type: self, bitOffset: 0, bitfieldSize: 0 });
  assert.throws(() => alignof(self), isBtfError, 'a struct containing itself');
});

test('names', () => {
  assert.equal(qualifiedName(holder), 'struct holder');
  assert.equal(qualifiedName(spec.typeByName('enum64', 'big64')), 'enum big64');
  assert.equal(qualifiedName(spec.typeByName('fwd', 'fwd_union')), 'union fwd_union');
  assert.equal(qualifiedName(member(holder, 'alias')), 'u32_alias');
  assert.equal(qualifiedName(member(holder, 'uptr')), '');
  assert.equal(essentialName('task_struct___v2'), 'task_struct');
  assert.equal(essentialName('task_struct'), 'task_struct');
});

test('members through anonymous structs and unions', () => {
  const bits = spec.typeByName('struct', 'bits');
  const flat = flattenMembers(bits);
  assert.deepEqual(
    flat.map((m) => [m.name, m.bitOffset]),
    [
      ['a', 0],
      ['b', 3],
      ['c', 8],
      ['d', 15],
      ['e', 56],
      ['u1', 64],
      ['u2', 64],
      ['nested', 96],
      ['flag', 128],
    ],
  );
  const u2 = findMember(holder, 'b.u2')!;
  assert.equal(u2.bitOffset, 64);
  assert.deepEqual(u2.path.map((m) => m.name), ['b', '', 'u2']);
  assert.equal(u2.member.type.kind, 'float');
  assert.equal(findMember(holder, ['b', 'nested', 's2'])!.bitOffset, 112);
  assert.equal(findMember(holder, 'b.nope'), undefined);
  assert.equal(findMember(holder, 'alias.x'), undefined);
  const loop: StructType = { id: 0, kind: 'struct', name: 'loop', size: 4, members: [] };
  loop.members.push({ name: '', type: loop, bitOffset: 0, bitfieldSize: 0 });
  assert.throws(() => flattenMembers(loop), isBtfError);
  assert.throws(() => findMember(loop, 'x'), isBtfError);
});

test('kernel: member lookup through anonymous members', { skip: existsSync('/sys/kernel/btf/vmlinux') ? false : 'no vmlinux BTF' }, () => {
  const k = loadKernelSpec();
  const skb = k.typeByName('struct', 'sk_buff');
  const next = findMember(skb, 'next')!;
  assert.ok(next.path.length > 1 && next.path[0]!.name === '', 'sk_buff.next is inside an anonymous union');
  assert.equal(next.bitOffset, 0);
  const ts = k.typeByName('struct', 'task_struct');
  assert.equal(findMember(ts, 'pid')!.bitOffset, ts.members.find((m) => m.name === 'pid')!.bitOffset);
  assert.equal(sizeof(ts), ts.size);
  assert.equal(alignof(ts) % 8, 0);
});

test('copyType and forEachChild', () => {
  const copy = copyType(holder);
  assert.notEqual(copy, holder);
  assert.equal(Object.getPrototypeOf(copy), Object.prototype);
  assert.equal(formatTypeRaw(copy), formatTypeRaw(holder));
  assert.notEqual(copy.members, holder.members);
  assert.equal(copy.members[0]!.type, holder.members[0]!.type);
  assert.ok(Object.keys(copy).includes('members'));
  for (const t of spec.types()) assert.equal(formatTypeRaw(copyType(t)), formatTypeRaw(t));

  const children: Type[] = [];
  forEachChild(holder, (c) => children.push(c));
  assert.deepEqual(children, holder.members.map((m) => m.type));
  const none: Type[] = [];
  forEachChild(resolve(member(holder, 'alias')) as IntType, (c) => none.push(c));
  assert.deepEqual(none, []);
});
