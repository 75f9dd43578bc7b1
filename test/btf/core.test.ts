// CO-RE engine, pure: hand-built types for the spec parser, the matching and compatibility
// rules, values of every kind, candidate lookup over Specs (flavours, modules) and patching
// instructions. The kernel cross-checks are in core_kernel.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ElfFile } from '../../src/elf/index.js';
import { ArgumentError, FormatError } from '../../src/errors.js';
import {
  BPF_CORE_ENUMVAL_EXISTS,
  BPF_CORE_ENUMVAL_VALUE,
  BPF_CORE_FIELD_BYTE_OFFSET,
  BPF_CORE_FIELD_BYTE_SIZE,
  BPF_CORE_FIELD_EXISTS,
  BPF_CORE_FIELD_LSHIFT_U64,
  BPF_CORE_FIELD_RSHIFT_U64,
  BPF_CORE_FIELD_SIGNED,
  BPF_CORE_TYPE_EXISTS,
  BPF_CORE_TYPE_ID_LOCAL,
  BPF_CORE_TYPE_ID_TARGET,
  BPF_CORE_TYPE_MATCHES,
  BPF_CORE_TYPE_SIZE,
  parseObjectBtf,
  type CoreRelo,
} from '../../src/btf/ext.js';
import {
  CORE_POISON_HELPER,
  CoreRelocationError,
  CoreRelocator,
  applyCoreRelocations,
  computeCoreRelocations,
  coreEssentialName,
  coreFieldsAreCompatible,
  coreTypesAreCompatible,
  coreTypesMatch,
  findCoreCandidates,
  formatCoreSpec,
  hasCoreFlavor,
  parseAccessString,
  parseCoreSpec,
  resolveCoreRelocation,
  type CoreCandidate,
  type CoreRelocationResult,
} from '../../src/btf/core.js';
import { encodeBtf } from '../../src/btf/marshal.js';
import { Spec } from '../../src/btf/spec.js';
import type { ArrayType, EnumType, FuncProtoType, FwdType, IntType, Member, PointerType, RefType, StructType, Type } from '../../src/btf/types.js';
import { VOID } from '../../src/btf/types.js';
import { encodeInstructions, decodeInstructions, type Instruction } from '../../src/asm/instruction.js';
import { BPF_ALU64, BPF_ADD, BPF_DW, BPF_K, BPF_LDX, BPF_MEM, BPF_MOV, BPF_STX, BPF_W, BPF_X, CALL, EXIT, LD_IMM64, BPF_H } from '../../src/asm/opcodes.js';

// ---------------------------------------------------------------------------------------------
// Hand-built types. Ids only need to be unique per "BTF"; tests that marshal re-number anyway.
// ---------------------------------------------------------------------------------------------

let nextId = 1;
const id = (): number => nextId++;

function int(name: string, size: number, signed = false, extra: Partial<IntType> = {}): IntType {
  return { id: id(), kind: 'int', name, size, bits: size * 8, offset: 0, signed, char: false, bool: false, ...extra };
}
function ptr(target: Type): PointerType {
  return { id: id(), kind: 'ptr', name: '', target };
}
function arr(element: Type, length: number, index: Type = U32): ArrayType {
  return { id: id(), kind: 'array', name: '', element, index, length };
}
type M = [name: string, type: Type, bitOffset: number, bitfieldSize?: number];
function struct(name: string, size: number, members: M[], kind: 'struct' | 'union' = 'struct'): StructType {
  const ms: Member[] = members.map(([n, t, o, b]) => ({ name: n, type: t, bitOffset: o, bitfieldSize: b ?? 0 }));
  return { id: id(), kind, name, size, members: ms };
}
function union(name: string, size: number, members: M[]): StructType {
  return struct(name, size, members, 'union');
}
function enm(name: string, values: [string, bigint | number][], size = 4, signed = false, kind: 'enum' | 'enum64' = 'enum'): EnumType {
  return { id: id(), kind, name, size, signed, values: values.map(([n, v]) => ({ name: n, value: BigInt(v) })) };
}
function typedef(name: string, target: Type): RefType {
  return { id: id(), kind: 'typedef', name, target };
}
function cnst(target: Type): RefType {
  return { id: id(), kind: 'const', name: '', target };
}
function fwd(name: string, fwdKind: 'struct' | 'union' = 'struct'): FwdType {
  return { id: id(), kind: 'fwd', name, fwdKind };
}
function proto(ret: Type, params: Type[]): FuncProtoType {
  return { id: id(), kind: 'func_proto', name: '', returnType: ret, params: params.map((t) => ({ name: '', type: t })) };
}

const U8 = int('unsigned char', 1);
const U16 = int('short unsigned int', 2);
const U32 = int('unsigned int', 4);
const S32 = int('int', 4, true);
const U64 = int('long long unsigned int', 8);
const S64 = int('long long int', 8, true);
const CHAR = int('char', 1, true, { char: true });

const cand = (t: Type): CoreCandidate<string> => ({ type: t, source: 'target' });

// ---------------------------------------------------------------------------------------------
// Names and access strings
// ---------------------------------------------------------------------------------------------

test('coreEssentialName follows libbpf: X___Y with X and Y not underscores', () => {
  assert.equal(coreEssentialName('task_struct___v2'), 'task_struct');
  assert.equal(coreEssentialName('task_struct___v2___v3'), 'task_struct___v2');
  assert.equal(coreEssentialName('nf_conn___init'), 'nf_conn');
  assert.equal(coreEssentialName('task_struct'), 'task_struct');
  assert.equal(coreEssentialName('___GFP_DMA_BIT'), '___GFP_DMA_BIT');
  assert.equal(coreEssentialName('a____b'), 'a____b'); // four underscores: no separator
  assert.equal(coreEssentialName('foo___'), 'foo___');
  assert.equal(coreEssentialName('__x___y'), '__x');
  assert.equal(coreEssentialName(''), '');
  assert.ok(hasCoreFlavor('x___y'));
  assert.ok(!hasCoreFlavor('x__y'));
});

test('parseAccessString: numbers separated by colons, nothing else', () => {
  assert.deepEqual(parseAccessString('0'), [0]);
  assert.deepEqual(parseAccessString('0:12:3'), [0, 12, 3]);
  for (const bad of ['', ':0', '0:', '0::1', '-1', '0:a', ' 0', '0x1', '1.5']) {
    assert.throws(() => parseAccessString(bad), (e: unknown) => e instanceof CoreRelocationError && e.code === 'ERR_CORE_SPEC', bad);
  }
  assert.throws(() => parseAccessString(Array(65).fill('0').join(':')), /at most 64/);
  assert.equal(parseAccessString(Array(64).fill('0').join(':')).length, 64);
});

// ---------------------------------------------------------------------------------------------
// Local specs
// ---------------------------------------------------------------------------------------------

// struct sample { int skip; struct { int a1; int a2; int a[7]; }; char tail[]; } as in libbpf's comment.
const ANON = struct('', 36, [
  ['a1', S32, 0],
  ['a2', S32, 32],
  ['a', arr(S32, 7), 64],
]);
const SAMPLE = struct('sample', 40, [
  ['skip', S32, 0],
  ['', ANON, 32],
  ['tail', arr(CHAR, 0), 320],
]);

test('parseCoreSpec: high-level accessors skip anonymous members; raw keeps them', () => {
  const s = parseCoreSpec(SAMPLE, '0:1:2:3', BPF_CORE_FIELD_BYTE_OFFSET);
  assert.deepEqual(s.raw, [0, 1, 2, 3]);
  assert.deepEqual(
    s.accessors.map((a) => [a.name, a.index, a.type.name]),
    [
      [undefined, 0, 'sample'],
      ['a', 2, ''],
      [undefined, 3, 'int'],
    ],
  );
  assert.equal(s.bitOffset, 32 + 64 + 3 * 32);
  assert.equal(formatCoreSpec(s), `<byte_off> [${SAMPLE.id}] struct sample.a[3] (0:1:2:3 @ offset 24)`);
  // p[2].skip: the first index walks whole structs.
  const s2 = parseCoreSpec(SAMPLE, '2:0', BPF_CORE_FIELD_BYTE_OFFSET);
  assert.equal(s2.bitOffset, 2 * 40 * 8);
  assert.equal(formatCoreSpec(s2), `<byte_off> [${SAMPLE.id}] struct sample[2].skip (2:0 @ offset 80)`);
  // A flexible array member may be indexed past its (zero) length.
  assert.equal(parseCoreSpec(SAMPLE, '0:2:100', BPF_CORE_FIELD_BYTE_OFFSET).bitOffset, 320 + 800);
});

test('parseCoreSpec: errors name what is wrong', () => {
  const isSpecErr = (re: RegExp) => (e: unknown) => e instanceof CoreRelocationError && e.code === 'ERR_CORE_SPEC' && re.test(e.message);
  assert.throws(() => parseCoreSpec(SAMPLE, '0:3', BPF_CORE_FIELD_BYTE_OFFSET), isSpecErr(/member index 3 is out of range/));
  assert.throws(() => parseCoreSpec(SAMPLE, '0:1:2:7', BPF_CORE_FIELD_BYTE_OFFSET), isSpecErr(/array index 7 is out of range \(length 7\)/));
  assert.throws(() => parseCoreSpec(SAMPLE, '0:0:1', BPF_CORE_FIELD_BYTE_OFFSET), isSpecErr(/has no members or elements/));
  assert.throws(() => parseCoreSpec(SAMPLE, '1', BPF_CORE_TYPE_SIZE), isSpecErr(/expected "0"/));
  assert.throws(() => parseCoreSpec(SAMPLE, '0', BPF_CORE_ENUMVAL_VALUE), isSpecErr(/not an enum/));
  assert.throws(() => parseCoreSpec(SAMPLE, '0', 99), isSpecErr(/unknown CO-RE relocation kind 99/));
  const e = enm('e', [['A', 1]]);
  assert.throws(() => parseCoreSpec(e, '1', BPF_CORE_ENUMVAL_EXISTS), isSpecErr(/enumerator index 1 is out of range/));
  assert.throws(() => parseCoreSpec(e, '0:0', BPF_CORE_ENUMVAL_EXISTS), isSpecErr(/more than one index/));
  // A void root has no size.
  assert.throws(() => parseCoreSpec(VOID, '0', BPF_CORE_FIELD_BYTE_OFFSET), isSpecErr(/no size/));
});

// ---------------------------------------------------------------------------------------------
// Field relocations
// ---------------------------------------------------------------------------------------------

test('field offset: matched by name through the target\'s own anonymous members', () => {
  // Target: the fields moved, `a` now lives in an anonymous union inside an anonymous struct.
  const tInner = union('', 28, [['a', arr(S64, 3), 0]]);
  const tOuter = struct('', 64, [
    ['pad', U64, 0],
    ['', tInner, 64],
  ]);
  const target = struct('sample', 80, [
    ['x', U64, 0],
    ['', tOuter, 64],
    ['skip', S32, 576],
  ]);
  const r = resolveCoreRelocation(BPF_CORE_FIELD_BYTE_OFFSET, SAMPLE, '0:1:2:2', [cand(target)]);
  assert.equal(r.localValue, 4n + 8n + 2n * 4n);
  assert.equal(r.targetValue, 8n + 8n + 2n * 8n);
  assert.equal(r.poison, false);
  assert.deepEqual(r.target!.raw, [0, 1, 1, 0, 2]);
  assert.equal(formatCoreSpec(r.target!), `<byte_off> [${target.id}] struct sample.a[2] (0:1:1:0:2 @ offset 32)`);
  // The load size follows the element: 4 bytes locally, 8 in the target, signed: not safe.
  assert.equal(r.localMemSize, 4);
  assert.equal(r.targetMemSize, 8);
  assert.equal(r.memSizeMismatch, true);

  // The same access with an index beyond the target's array doesn't match: poison.
  const p = resolveCoreRelocation(BPF_CORE_FIELD_BYTE_OFFSET, SAMPLE, '0:1:2:5', [cand(target)]);
  assert.equal(p.poison, true);
  assert.equal(p.localValue, 4n + 8n + 20n);
  assert.equal(p.target, undefined);

  // Local flexible array at the end; target struct of another flavour also has it last.
  const t2 = struct('sample___v2', 16, [
    ['skip', S32, 0],
    ['tail', arr(CHAR, 0), 64],
  ]);
  const f = resolveCoreRelocation(BPF_CORE_FIELD_BYTE_OFFSET, SAMPLE, '0:2:9', [cand(t2)]);
  assert.equal(f.localValue, 40n + 9n);
  assert.equal(f.targetValue, 8n + 9n);
});

test('field compatibility rules (bpf_core_fields_are_compat)', () => {
  const s1 = struct('s1', 4, [['x', S32, 0]]);
  const u1 = union('u1', 4, [['x', S32, 0]]);
  const e1 = enm('color', [['RED', 0]]);
  const e1f = enm('color___v2', [['RED', 0]], 8, false, 'enum64');
  const e2 = enm('shape', [['SQUARE', 0]]);
  const anon = enm('', [['X', 0]]);
  assert.ok(coreFieldsAreCompatible(s1, u1), 'struct ~ union');
  assert.ok(coreFieldsAreCompatible(ptr(S32), ptr(s1)), 'any two pointers');
  assert.ok(coreFieldsAreCompatible(U8, S64), 'ints of any size and sign');
  assert.ok(!coreFieldsAreCompatible(int('bf', 4, false, { offset: 3 }), U32), 'old-style bitfield int');
  assert.ok(coreFieldsAreCompatible(e1, e1f), 'enum ~ enum64 with flavoured names');
  assert.ok(!coreFieldsAreCompatible(e1, e2), 'enums with different names');
  assert.ok(coreFieldsAreCompatible(anon, e2), 'anonymous enum');
  assert.ok(coreFieldsAreCompatible(arr(S32, 2), arr(typedef('s32', S32), 9)), 'arrays: elements, any length');
  assert.ok(!coreFieldsAreCompatible(arr(S32, 2), arr(ptr(S32), 2)));
  assert.ok(!coreFieldsAreCompatible(S32, ptr(S32)), 'int vs pointer');
  assert.ok(coreFieldsAreCompatible(cnst(typedef('x', ptr(VOID))), ptr(U8)), 'qualifiers and typedefs skipped');
  assert.ok(coreFieldsAreCompatible(fwd('f'), fwd('f___x')));
  assert.ok(!coreFieldsAreCompatible(proto(S32, []), proto(S32, [])), 'func protos are never fields');

  // An incompatible field of the right name makes the candidate non-matching.
  const local = struct('thing', 8, [['p', ptr(S32), 0]]);
  const target = struct('thing', 8, [['p', U64, 0]]);
  const r = resolveCoreRelocation(BPF_CORE_FIELD_BYTE_OFFSET, local, '0:0', [cand(target)]);
  assert.equal(r.poison, true);
  assert.equal(r.matched.length, 0);
  assert.equal(resolveCoreRelocation(BPF_CORE_FIELD_EXISTS, local, '0:0', [cand(target)]).targetValue, 0n);
});

test('field size, existence, signedness', () => {
  const sEnum = enm('level', [['LOW', -1]], 4, true);
  const local = struct('rec', 32, [
    ['a', U32, 0],
    ['b', S32, 32],
    ['c', arr(U16, 4), 64],
    ['d', sEnum, 128],
    ['e', CHAR, 160],
    ['gone', U32, 192],
  ]);
  const target = struct('rec', 48, [
    ['e', U8, 0],
    ['b', S64, 64],
    ['a', U64, 128],
    ['c', arr(U16, 8), 192],
    ['d', enm('level', [['LOW', -1]], 4, false), 320],
  ]);
  const v = (kind: number, access: string) => {
    const r = resolveCoreRelocation(kind, local, access, [cand(target)]);
    return [r.localValue, r.targetValue, r.poison];
  };
  assert.deepEqual(v(BPF_CORE_FIELD_BYTE_SIZE, '0:0'), [4n, 8n, false]);
  assert.deepEqual(v(BPF_CORE_FIELD_BYTE_SIZE, '0:2'), [8n, 16n, false]);
  assert.deepEqual(v(BPF_CORE_FIELD_BYTE_SIZE, '0:2:1'), [2n, 2n, false], 'array element');
  assert.deepEqual(v(BPF_CORE_FIELD_BYTE_OFFSET, '0:2:1'), [10n, 26n, false]);
  assert.deepEqual(v(BPF_CORE_FIELD_EXISTS, '0:1'), [1n, 1n, false]);
  assert.deepEqual(v(BPF_CORE_FIELD_EXISTS, '0:5'), [1n, 0n, false]);
  assert.deepEqual(v(BPF_CORE_FIELD_BYTE_SIZE, '0:5'), [4n, 0n, true], 'missing field: poison');
  assert.deepEqual(v(BPF_CORE_FIELD_SIGNED, '0:1'), [1n, 1n, false]);
  assert.deepEqual(v(BPF_CORE_FIELD_SIGNED, '0:3'), [1n, 0n, false], 'enum signedness');
  assert.deepEqual(v(BPF_CORE_FIELD_SIGNED, '0:4'), [1n, 0n, false], 'char');
  assert.deepEqual(v(BPF_CORE_FIELD_RSHIFT_U64, '0:0'), [32n, 0n, false]);
  assert.deepEqual(v(BPF_CORE_FIELD_LSHIFT_U64, '0:0'), [32n, 0n, false]);
  // u32 -> u64 is a safe load widening; s32 -> s64 isn't.
  const a = resolveCoreRelocation(BPF_CORE_FIELD_BYTE_OFFSET, local, '0:0', [cand(target)]);
  assert.deepEqual([a.localMemSize, a.targetMemSize, a.memSizeMismatch], [4, 8, false]);
  const b = resolveCoreRelocation(BPF_CORE_FIELD_BYTE_OFFSET, local, '0:1', [cand(target)]);
  assert.deepEqual([b.localMemSize, b.targetMemSize, b.memSizeMismatch], [4, 8, true]);
  // FIELD_SIGNED etc. make no sense on an array element.
  assert.throws(() => resolveCoreRelocation(BPF_CORE_FIELD_SIGNED, local, '0:2:1', [cand(target)]), (e: unknown) => e instanceof CoreRelocationError && e.code === 'ERR_CORE_UNSUPPORTED');
});

test('bitfields: load offset/size and shifts, both byte orders', () => {
  // struct flags { u8 a:3; u8 b:5; u16 c:9 (at bit 16); u32 d:7 (at bit 30, straddles 4 bytes) }
  const local = struct('flags', 8, [
    ['a', U8, 0, 3],
    ['b', U8, 3, 5],
    ['c', U16, 16, 9],
    ['d', U32, 30, 7],
  ]);
  const val = (kind: number, access: string, le = true) => resolveCoreRelocation(kind, local, access, [cand(local)], { littleEndian: le }).targetValue;
  // b: byte 0, 1-byte load; shifts put bits 3..7 at the top, then down.
  assert.equal(val(BPF_CORE_FIELD_BYTE_OFFSET, '0:1'), 0n);
  assert.equal(val(BPF_CORE_FIELD_BYTE_SIZE, '0:1'), 1n);
  assert.equal(val(BPF_CORE_FIELD_LSHIFT_U64, '0:1'), 64n - 8n);
  assert.equal(val(BPF_CORE_FIELD_RSHIFT_U64, '0:1'), 64n - 5n);
  assert.equal(val(BPF_CORE_FIELD_LSHIFT_U64, '0:1', false), 56n + 3n);
  // c: u16 at byte 2.
  assert.equal(val(BPF_CORE_FIELD_BYTE_OFFSET, '0:2'), 2n);
  assert.equal(val(BPF_CORE_FIELD_LSHIFT_U64, '0:2'), 64n - 9n);
  // d: bits 30..36 don't fit the u32 at 0: an 8-byte load at offset 0.
  assert.equal(val(BPF_CORE_FIELD_BYTE_SIZE, '0:3'), 8n);
  assert.equal(val(BPF_CORE_FIELD_BYTE_OFFSET, '0:3'), 0n);
  assert.equal(val(BPF_CORE_FIELD_LSHIFT_U64, '0:3'), 64n - 37n);
  assert.equal(val(BPF_CORE_FIELD_LSHIFT_U64, '0:3', false), 30n);
  assert.equal(val(BPF_CORE_FIELD_RSHIFT_U64, '0:3'), 57n);
  // Bitfields don't ask for the instruction to be checked, except signedness and rshift.
  const r = resolveCoreRelocation(BPF_CORE_FIELD_BYTE_OFFSET, local, '0:1', [cand(local)]);
  assert.equal(r.validate, false);
  assert.equal(resolveCoreRelocation(BPF_CORE_FIELD_RSHIFT_U64, local, '0:1', [cand(local)]).validate, true);
  assert.equal(resolveCoreRelocation(BPF_CORE_FIELD_SIGNED, local, '0:1', [cand(local)]).validate, true);
  // Bits 60..67 of a u64 bitfield can't be read with one load.
  const wide = struct('wide', 16, [['w', U64, 60, 8]]);
  assert.throws(() => resolveCoreRelocation(BPF_CORE_FIELD_BYTE_OFFSET, wide, '0:0', [cand(wide)]), /can't be read with a 64-bit load/);
  // A target where the bitfield moved.
  const t = struct('flags', 8, [
    ['pad', U32, 0, 17],
    ['b', U32, 17, 5],
  ]);
  const moved = resolveCoreRelocation(BPF_CORE_FIELD_LSHIFT_U64, local, '0:1', [cand(t)]);
  assert.deepEqual([moved.localValue, moved.targetValue], [56n, 64n - 22n]);
  assert.equal(resolveCoreRelocation(BPF_CORE_FIELD_BYTE_OFFSET, local, '0:1', [cand(t)]).targetValue, 0n);
  assert.equal(resolveCoreRelocation(BPF_CORE_FIELD_BYTE_SIZE, local, '0:1', [cand(t)]).targetValue, 4n);
});

// ---------------------------------------------------------------------------------------------
// Type relocations
// ---------------------------------------------------------------------------------------------

test('type compatibility rules (bpf_core_types_are_compat)', () => {
  const sa = struct('a', 4, [['x', S32, 0]]);
  const sb = struct('a', 400, [['y', ptr(VOID), 0]]);
  assert.ok(coreTypesAreCompatible(sa, sb), 'structs: members ignored');
  assert.ok(!coreTypesAreCompatible(sa, union('a', 4, [])), 'struct vs union');
  assert.ok(coreTypesAreCompatible(enm('e', [], 4), enm('e', [], 8, false, 'enum64')), 'enum ~ enum64, size ignored');
  assert.ok(coreTypesAreCompatible(U8, S64), 'ints: size and sign ignored');
  assert.ok(!coreTypesAreCompatible(U32, int('x', 4, false, { offset: 1 })));
  assert.ok(coreTypesAreCompatible(typedef('t', ptr(sa)), typedef('t', ptr(sb))), 'typedef -> ptr -> struct');
  assert.ok(!coreTypesAreCompatible(typedef('t', S32), S32), 'the root kinds are compared before resolving');
  assert.ok(!coreTypesAreCompatible(typedef('t', S32), typedef('t', ptr(S32))));
  assert.ok(coreTypesAreCompatible(arr(S32, 1), arr(U8, 100)));
  assert.ok(coreTypesAreCompatible(fwd('f', 'struct'), fwd('f', 'union')), 'fwds: any');
  const f1 = proto(S32, [ptr(sa), U64]);
  assert.ok(coreTypesAreCompatible(f1, proto(U8, [ptr(sb), S32])));
  assert.ok(!coreTypesAreCompatible(f1, proto(S32, [ptr(sa)])), 'parameter count');
  assert.ok(!coreTypesAreCompatible(f1, proto(ptr(S32), [ptr(sa), U64])), 'return type');
  assert.ok(!coreTypesAreCompatible(f1, proto(S32, [S32, U64])), 'parameter type');
  assert.ok(coreTypesAreCompatible(VOID, VOID));
  assert.ok(!coreTypesAreCompatible({ id: 1, kind: 'float', name: 'double', size: 8 }, { id: 2, kind: 'float', name: 'double', size: 8 }), 'floats are not relocatable types');
  // A pointer cycle deeper than the recursion limit is an error, not a hang.
  const loop: PointerType = { id: id(), kind: 'ptr', name: '', target: VOID };
  loop.target = loop;
  assert.throws(() => coreTypesAreCompatible(loop, loop), (e: unknown) => e instanceof CoreRelocationError);
});

test('TYPE_MATCHES rules (bpf_core_types_match)', () => {
  const task = struct('task', 24, [
    ['pid', S32, 0],
    ['comm', arr(CHAR, 4), 32],
    ['parent', ptr(fwd('task')), 64],
    ['state', enm('state', [['RUN', 0], ['STOP', 1]]), 128],
  ]);
  const sub = struct('task___sub', 8, [
    ['state', enm('state___x', [['STOP', 9]]), 0],
    ['pid', typedef('pid_t', S32), 32],
  ]);
  assert.ok(coreTypesMatch(sub, task), 'subset of members, any order, enums by names');
  assert.ok(!coreTypesMatch(struct('task', 4, [['pid', U32, 0]]), task), 'int signedness');
  assert.ok(!coreTypesMatch(struct('task', 8, [['pid', S64, 0]]), task), 'int size');
  assert.ok(!coreTypesMatch(struct('task', 4, [['tgid', S32, 0]]), task), 'member missing');
  assert.ok(!coreTypesMatch(struct('task', 4, [['comm', arr(CHAR, 5), 0]]), task), 'array length');
  assert.ok(!coreTypesMatch(union('task', 4, [['pid', S32, 0]]), task), 'struct vs union');
  assert.ok(!coreTypesMatch(struct('other', 4, [['pid', S32, 0]]), task), 'names after typedefs');
  // Behind a pointer, a struct matches a fwd of the same kind and vice versa; only kinds count.
  assert.ok(coreTypesMatch(struct('task', 4, [['parent', ptr(struct('task', 99, [['zzz', U8, 0]])), 0]]), task));
  assert.ok(!coreTypesMatch(struct('task', 4, [['parent', ptr(union('task', 4, [])), 0]]), task));
  assert.ok(!coreTypesMatch(fwd('task'), struct('task', 4, [])), 'a fwd at the root only matches a fwd');
  assert.ok(coreTypesMatch(fwd('task'), fwd('task___2')));
  assert.ok(!coreTypesMatch(fwd('task', 'union'), fwd('task')));
  // Enums: size must agree (enum ~ enum64), local enumerators must exist.
  const e = enm('e', [['A', 1], ['B', 2]], 4);
  assert.ok(coreTypesMatch(enm('e', [['B', 0]], 4, false, 'enum64'), e));
  assert.ok(!coreTypesMatch(enm('e', [['B', 0]], 8, false, 'enum64'), e));
  assert.ok(!coreTypesMatch(enm('e', [['C', 0]], 4), e));
  assert.ok(!coreTypesMatch(enm('e', [['A', 1], ['B', 2], ['C', 3]], 4), e), 'more local enumerators');
  // Function pointers: parameters and return type match pairwise.
  const fp = typedef('cb', ptr(proto(S32, [ptr(task), U64])));
  assert.ok(coreTypesMatch(fp, typedef('cb', ptr(proto(S32, [ptr(fwd('task')), U64])))));
  assert.ok(!coreTypesMatch(fp, typedef('cb', ptr(proto(S32, [ptr(task)])))));
  assert.ok(!coreTypesMatch(fp, typedef('cb', ptr(proto(U32, [ptr(task), U64])))));
  // Anonymous members only match anonymous members.
  const withAnon = struct('w', 8, [['', union('', 4, [['x', S32, 0]]), 0]]);
  assert.ok(coreTypesMatch(withAnon, struct('w', 8, [['', union('', 4, [['x', S32, 0], ['y', U32, 0]]), 0]])));
  assert.ok(!coreTypesMatch(withAnon, struct('w', 8, [['named', union('', 4, [['x', S32, 0]]), 0]])));

  // Through resolveCoreRelocation: 1 or 0, never poison.
  assert.equal(resolveCoreRelocation(BPF_CORE_TYPE_MATCHES, sub, '0', [cand(task)]).targetValue, 1n);
  const no = resolveCoreRelocation(BPF_CORE_TYPE_MATCHES, struct('task', 4, [['pid', U32, 0]]), '0', [cand(task)]);
  assert.deepEqual([no.localValue, no.targetValue, no.poison], [1n, 0n, false]);
});

test('type-based kinds: exists, size, id target/local; missing targets give 0', () => {
  const local = struct('obj', 16, [['x', U64, 0]]);
  const target = struct('obj', 48, [['y', U32, 0]]);
  target.id = 777;
  const res = (kind: number, c: Type[]) => resolveCoreRelocation(kind, local, '0', c.map(cand));
  assert.deepEqual([res(BPF_CORE_TYPE_EXISTS, [target]).localValue, res(BPF_CORE_TYPE_EXISTS, [target]).targetValue], [1n, 1n]);
  assert.deepEqual([res(BPF_CORE_TYPE_SIZE, [target]).localValue, res(BPF_CORE_TYPE_SIZE, [target]).targetValue], [16n, 48n]);
  const tid = res(BPF_CORE_TYPE_ID_TARGET, [target]);
  assert.deepEqual([tid.localValue, tid.targetValue, tid.validate], [BigInt(local.id), 777n, false]);
  for (const k of [BPF_CORE_TYPE_EXISTS, BPF_CORE_TYPE_SIZE, BPF_CORE_TYPE_ID_TARGET, BPF_CORE_TYPE_MATCHES]) {
    const r = res(k, []);
    assert.equal(r.targetValue, 0n, `kind ${k}`);
    assert.equal(r.poison, false);
  }
  const lid = res(BPF_CORE_TYPE_ID_LOCAL, []);
  assert.deepEqual([lid.localValue, lid.targetValue, lid.validate, lid.target], [BigInt(local.id), BigInt(local.id), false, undefined]);
  // Anonymous local types have no candidates to look for, except for TYPE_ID_LOCAL.
  const anon = struct('', 4, []);
  assert.throws(() => resolveCoreRelocation(BPF_CORE_TYPE_EXISTS, anon, '0', []), (e: unknown) => e instanceof CoreRelocationError && e.code === 'ERR_CORE_UNSUPPORTED');
  assert.equal(resolveCoreRelocation(BPF_CORE_TYPE_ID_LOCAL, anon, '0', []).targetValue, BigInt(anon.id));
  // TYPE_SIZE of a type without size is an error.
  assert.throws(() => resolveCoreRelocation(BPF_CORE_TYPE_SIZE, fwd('obj'), '0', [cand(fwd('obj'))]), /no size/);
});

// ---------------------------------------------------------------------------------------------
// Enum values
// ---------------------------------------------------------------------------------------------

test('enum values: flavoured enumerators, enum64, sign extension of 32-bit values', () => {
  const local = enm('map_type___fake', [['RINGBUF___fake', 100], ['FAKE___fake', 1000]]);
  const target = enm('map_type', [['HASH', 1], ['RINGBUF', 27]]);
  const v = (kind: number, access: string, t: Type[] = [target]) => {
    const r = resolveCoreRelocation(kind, local, access, t.map(cand));
    return [r.localValue, r.targetValue, r.poison];
  };
  assert.deepEqual(v(BPF_CORE_ENUMVAL_EXISTS, '0'), [1n, 1n, false]);
  assert.deepEqual(v(BPF_CORE_ENUMVAL_VALUE, '0'), [100n, 27n, false]);
  assert.deepEqual(v(BPF_CORE_ENUMVAL_EXISTS, '1'), [1n, 0n, false]);
  assert.deepEqual(v(BPF_CORE_ENUMVAL_VALUE, '1'), [1000n, 0n, true]);
  assert.deepEqual(v(BPF_CORE_ENUMVAL_VALUE, '0', []), [100n, 0n, true]);
  const r = resolveCoreRelocation(BPF_CORE_ENUMVAL_VALUE, local, '0', [cand(target)]);
  assert.equal(formatCoreSpec(r.local), `<enumval_value> [${local.id}] enum map_type___fake::RINGBUF___fake = 100`);
  assert.equal(formatCoreSpec(r.target!), `<enumval_value> [${target.id}] enum map_type::RINGBUF = 27`);

  // enum64 target for a 32-bit local enum (and back): kinds are compatible.
  const big = enm('ctx', [['KERNEL', 0xffffffffffffff80n], ['USER', 5n]], 8, false, 'enum64');
  const small = enm('ctx', [['KERNEL', 1]]);
  const e64 = resolveCoreRelocation(BPF_CORE_ENUMVAL_VALUE, small, '0', [cand(big)]);
  assert.equal(e64.targetValue, 0xffffffffffffff80n);
  const back = resolveCoreRelocation(BPF_CORE_ENUMVAL_VALUE, big, '1', [cand(small)]);
  assert.deepEqual([back.localValue, back.poison], [5n, true]);
  assert.equal(formatCoreSpec(e64.target!), `<enumval_value> [${big.id}] enum64 ctx::KERNEL = 18446744073709551488`);
  // A 32-bit enum's value is sign-extended whatever its signedness (libbpf reads an s32).
  const u = enm('u', [['TOP', 0xffffffffn]], 4, false);
  assert.equal(resolveCoreRelocation(BPF_CORE_ENUMVAL_VALUE, u, '0', [cand(u)]).targetValue, 0xffffffffffffffffn);
  const s = enm('s', [['NEG', -2n]], 4, true);
  assert.equal(resolveCoreRelocation(BPF_CORE_ENUMVAL_VALUE, s, '0', [cand(s)]).targetValue, 0xfffffffffffffffen);
  assert.equal(formatCoreSpec(parseCoreSpec(s, '0', BPF_CORE_ENUMVAL_VALUE)), `<enumval_value> [${s.id}] enum s::NEG = -2`);
  // A non-enum candidate (a struct of the same name) doesn't match.
  assert.deepEqual(v(BPF_CORE_ENUMVAL_EXISTS, '0', [struct('map_type', 4, [])]), [1n, 0n, false]);
});

// ---------------------------------------------------------------------------------------------
// Several candidates
// ---------------------------------------------------------------------------------------------

test('candidates must agree; one disagreeing candidate is an ambiguity error', () => {
  const local = struct('dup', 8, [['b', U32, 32]]);
  const t1 = struct('dup', 8, [['a', U32, 0], ['b', U32, 32]]);
  const t2 = struct('dup___2', 8, [['a', U32, 0], ['b', U32, 32]]); // the same layout: fine
  const t3 = struct('dup___3', 16, [['b', U32, 64]]);
  const t4 = struct('dup___4', 8, [['c', U32, 0]]); // doesn't match: ignored
  const ok = resolveCoreRelocation(BPF_CORE_FIELD_BYTE_OFFSET, local, '0:0', [cand(t1), cand(t4), cand(t2)]);
  assert.equal(ok.targetValue, 4n);
  assert.deepEqual(ok.matched.map((c) => c.type), [t1, t2]);
  assert.throws(
    () => resolveCoreRelocation(BPF_CORE_FIELD_BYTE_OFFSET, local, '0:0', [cand(t1), cand(t3)]),
    (e: unknown) => e instanceof CoreRelocationError && e.code === 'ERR_CORE_AMBIGUOUS' && /field offset ambiguity/.test(e.message),
  );
  // Same offset, different value (size).
  const t5 = struct('dup___5', 16, [['a', U32, 0], ['b', U64, 32]]);
  assert.throws(
    () => resolveCoreRelocation(BPF_CORE_FIELD_BYTE_SIZE, local, '0:0', [cand(t1), cand(t5)]),
    (e: unknown) => e instanceof CoreRelocationError && e.code === 'ERR_CORE_AMBIGUOUS' && /decision ambiguity/.test(e.message),
  );
  // Type ids always differ between candidates.
  assert.throws(() => resolveCoreRelocation(BPF_CORE_TYPE_ID_TARGET, local, '0', [cand(t1), cand(t2)]), /decision ambiguity/);
  assert.equal(resolveCoreRelocation(BPF_CORE_TYPE_EXISTS, local, '0', [cand(t1), cand(t3)]).targetValue, 1n);
});

// ---------------------------------------------------------------------------------------------
// Specs: candidate lookup, module BTF, the candidate cache
// ---------------------------------------------------------------------------------------------

function specOf(types: Type[], base?: Spec): Spec {
  const enc = encodeBtf(types, base ? { base } : {});
  return Spec.parse(enc.bytes, base ? { base } : {});
}

function relo(spec: Spec, name: string, kind: number, accessString: string, insnOffset = 0): CoreRelo {
  const [typeId] = spec.typeIdsByName(name);
  assert.ok(typeId, `local type ${name}`);
  return { insnOffset, typeId, accessString, kind };
}

test('candidate lookup: essential names in the target too, kinds compatible, id order', () => {
  const u32 = int('unsigned int', 4);
  const vmlinux = specOf([
    struct('conn', 8, [['status', u32, 0]]),
    struct('conn___init', 8, [['ct', u32, 0]]),
    union('conn', 4, []), // another kind: not a candidate for a struct
    typedef('conn', u32), // ditto
    enm('mode', [['ON', 1]]),
    enm('mode___x', [['ON', 2]], 8, false, 'enum64'),
    struct('conn___a____b', 4, []), // essential name 'conn___a____b'... no: 'conn'
  ]);
  const local = specOf([struct('conn', 8, [['status', int('unsigned int', 4), 0]]), enm('mode', [['ON', 0]])]);
  const names = (t: Type) => findCoreCandidates(vmlinux, t).map((c) => `${c.type.kind} ${c.type.name}`);
  assert.deepEqual(names(local.typeByName('struct', 'conn')), ['struct conn', 'struct conn___init', 'struct conn___a____b']);
  assert.deepEqual(names(local.typeByName('enum', 'mode')), ['enum mode', 'enum64 mode___x']);

  const results = computeCoreRelocations(
    local,
    [
      relo(local, 'conn', BPF_CORE_FIELD_BYTE_OFFSET, '0:0', 0),
      relo(local, 'conn', BPF_CORE_TYPE_SIZE, '0', 8),
    ],
    [vmlinux],
  );
  assert.equal(results[0]!.targetValue, 0n);
  assert.equal(results[0]!.targetDescription, `<byte_off> [1] struct conn.status (0:0 @ offset 0)`);
  assert.equal(results[0]!.description, `<byte_off> [1] struct conn.status (0:0 @ offset 0)`);
  assert.equal(results[0]!.targetSpec, vmlinux);
  // Only 'conn' matched the field relocation, so the candidate list shrank to it (libbpf's
  // cache): TYPE_SIZE no longer sees conn___init or conn___a____b (4 bytes, which would be
  // an ambiguity).
  assert.equal(results[1]!.targetValue, 8n);
  assert.equal(results[1]!.matched.length, 1);
  assert.deepEqual(results.map((r) => [r.index, r.slot, r.kindName]), [
    [0, 0, 'byte_off'],
    [1, 1, 'type_size'],
  ]);
});

test('candidate cache: same records in another order are ambiguous, as in libbpf', () => {
  const u32 = int('unsigned int', 4);
  const vmlinux = specOf([struct('conn', 8, [['status', u32, 0]]), struct('conn___init', 4, [['ct', u32, 0]])]);
  const local = specOf([struct('conn', 8, [['status', int('unsigned int', 4), 0]])]);
  assert.throws(
    () => computeCoreRelocations(local, [relo(local, 'conn', BPF_CORE_TYPE_SIZE, '0')], [vmlinux], { section: 'kprobe/x' }),
    (e: unknown) =>
      e instanceof CoreRelocationError &&
      e.code === 'ERR_CORE_AMBIGUOUS' &&
      e.reloIndex === 0 &&
      /CO-RE relocation #0 <type_size> at insn 0 of 'kprobe\/x' \(\[1\] struct conn \+ 0\): relocation decision ambiguity/.test(e.message),
  );
  // A relocator shared across sections keeps the pruned list.
  const r = new CoreRelocator(local, [vmlinux]);
  r.compute([relo(local, 'conn', BPF_CORE_FIELD_EXISTS, '0:0')]);
  assert.equal(r.compute([relo(local, 'conn', BPF_CORE_TYPE_SIZE, '0')])[0]!.targetValue, 8n);
});

test('enum candidates with different values: ambiguity', () => {
  const vmlinux = specOf([enm('mode', [['ON', 1]]), enm('mode___x', [['ON', 2]], 8, false, 'enum64')]);
  const local = specOf([enm('mode', [['ON', 0]])]);
  assert.throws(() => computeCoreRelocations(local, [relo(local, 'mode', BPF_CORE_ENUMVAL_VALUE, '0')], [vmlinux]), /decision ambiguity/);
  assert.equal(computeCoreRelocations(local, [relo(local, 'mode', BPF_CORE_ENUMVAL_EXISTS, '0')], [vmlinux])[0]!.targetValue, 1n);
});

test('module BTF: searched only when vmlinux has no candidate; split ids', () => {
  const vmlinux = specOf([int('int', 4, true), struct('task', 8, [['pid', int('int', 4, true), 0]])]);
  const modInt = vmlinux.typeByName('int', 'int');
  const mod = specOf([struct('mod_thing', 16, [['pad', modInt, 0], ['x', modInt, 64]]), struct('task', 4, [])], vmlinux);
  const local = specOf([
    struct('mod_thing', 8, [['x', int('int', 4, true), 0]]),
    struct('task', 8, [['pid', int('int', 4, true), 0]]),
    struct('nowhere', 4, []),
  ]);
  let loaded = 0;
  const targets = {
    vmlinux,
    modules: () => {
      loaded++;
      return [mod];
    },
  };
  const r = new CoreRelocator(local, targets);
  // task is in vmlinux: the module (which has its own 'task') is not consulted.
  const [t] = r.compute([relo(local, 'task', BPF_CORE_TYPE_ID_TARGET, '0')]);
  assert.equal(t!.targetValue, BigInt(vmlinux.typeIdsByName('task')[0]!));
  assert.equal(loaded, 0);
  const [m, mid, none] = r.compute([
    relo(local, 'mod_thing', BPF_CORE_FIELD_BYTE_OFFSET, '0:0'),
    relo(local, 'mod_thing', BPF_CORE_TYPE_ID_TARGET, '0'),
    relo(local, 'nowhere', BPF_CORE_TYPE_EXISTS, '0'),
  ]);
  assert.equal(loaded, 1);
  assert.equal(m!.targetValue, 8n);
  assert.equal(m!.targetSpec, mod);
  assert.ok(Number(mid!.targetValue) > vmlinux.lastTypeId, 'module ids follow the base');
  assert.equal(mid!.targetValue, BigInt(mod.typeIdsByName('mod_thing')[0]!));
  assert.equal(none!.targetValue, 0n);
  assert.equal(loaded, 1, 'modules are loaded once');
  // Spec[] form: first vmlinux, the rest modules; a function form is called lazily.
  let called = 0;
  const lazy = () => {
    called++;
    return [vmlinux, mod];
  };
  const r2 = new CoreRelocator(local, lazy);
  assert.equal(called, 0);
  assert.equal(r2.compute([relo(local, 'mod_thing', BPF_CORE_FIELD_BYTE_OFFSET, '0:0')])[0]!.targetValue, 8n);
  assert.equal(called, 1);
  assert.throws(() => computeCoreRelocations(local, [relo(local, 'task', BPF_CORE_TYPE_EXISTS, '0')], []), (e: unknown) => e instanceof ArgumentError && /no target BTF/.test(e.message));
});

test('module candidates: the module\'s own types only, flavoured names included', () => {
  const vmlinux = specOf([int('int', 4, true), struct('gadget___base', 4, [])]);
  const modInt = vmlinux.typeByName('int', 'int');
  const mod = specOf([struct('gadget___mod', 8, [['v', modInt, 32]])], vmlinux);
  const local = specOf([struct('gadget', 8, [['v', int('int', 4, true), 0]])]);
  const found = findCoreCandidates(mod, local.typeByName('struct', 'gadget'));
  assert.deepEqual(found.map((c) => [c.type.name, c.type.id > vmlinux.lastTypeId]), [['gadget___mod', true]]);
  // vmlinux has a candidate (which lacks field v): modules are not searched.
  const [res] = computeCoreRelocations(local, [relo(local, 'gadget', BPF_CORE_FIELD_EXISTS, '0:0')], [vmlinux, mod]);
  assert.equal(res!.targetValue, 0n);
  assert.equal(res!.poison, false);
});

test('errors name the relocation', () => {
  const local = specOf([struct('s', 4, [['a', int('int', 4, true), 0]])]);
  const vm = specOf([struct('s', 4, [['a', int('int', 4, true), 0]])]);
  const check = (r: CoreRelo, re: RegExp, code = 'ERR_CORE_SPEC') =>
    assert.throws(
      () => computeCoreRelocations(local, [r], [vm], { section: 'xdp' }),
      (e: unknown) => e instanceof CoreRelocationError && e.code === code && re.test(e.message),
    );
  check({ insnOffset: 4, typeId: 1, accessString: '0:0', kind: 0 }, /at byte offset 4 of 'xdp': instruction offset 4 is not a multiple of 8/);
  check({ insnOffset: 8, typeId: 99, accessString: '0:0', kind: 0 }, /#0 <byte_off> at insn 1 of 'xdp': no local BTF type with id 99/);
  check({ insnOffset: 8, typeId: 1, accessString: '0:5', kind: 0 }, /\(\[1\] struct s \+ 0:5\): access string 0:5: member index 5 is out of range/);
  check({ insnOffset: 8, typeId: 1, accessString: '0:0', kind: 42 }, /unknown\(42\).*unknown CO-RE relocation kind 42/);
});

// ---------------------------------------------------------------------------------------------
// Applying
// ---------------------------------------------------------------------------------------------

const ins = (opcode: number, dst: number, src: number, offset: number, imm: number): Instruction => ({ opcode, dst, src, offset, imm });

function fakeResult(slot: number, over: Partial<CoreRelocationResult>): CoreRelocationResult {
  return {
    kind: BPF_CORE_FIELD_BYTE_OFFSET,
    local: { kind: 0, root: VOID, accessors: [], raw: [], bitOffset: 0 },
    target: undefined,
    candidate: undefined,
    localValue: 0n,
    targetValue: 0n,
    poison: false,
    validate: true,
    localMemSize: 0,
    targetMemSize: 0,
    memSizeMismatch: false,
    matched: [],
    index: 0,
    relo: { insnOffset: slot * 8, typeId: 1, accessString: '0:0', kind: BPF_CORE_FIELD_BYTE_OFFSET },
    kindName: 'byte_off',
    slot,
    description: '<byte_off> [1] struct s.f (0:0 @ offset 0)',
    targetDescription: undefined,
    targetSpec: undefined,
    targetTypeId: undefined,
    ...over,
  };
}

test('apply: ALU imm, LDX offset and size, ld_imm64; values checked first', () => {
  const prog: Instruction[] = [
    ins(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, 16), // 0
    { ...ins(LD_IMM64, 2, 0, 0, -128), imm64: 0xffffffffffffff80n }, // 1-2
    ins(BPF_LDX | BPF_MEM | BPF_W, 3, 1, 24, 0), // 3
    ins(BPF_STX | BPF_MEM | BPF_DW, 10, 3, 8, 0), // 4
    ins(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, -1), // 5
    ins(EXIT, 0, 0, 0, 0), // 6
  ];
  const results = [
    fakeResult(0, { localValue: 16n, targetValue: 1200n }),
    fakeResult(1, { localValue: 0xffffffffffffff80n, targetValue: 0xfffffffffffff000n, kind: BPF_CORE_ENUMVAL_VALUE }),
    fakeResult(3, { localValue: 24n, targetValue: 1264n, localMemSize: 4, targetMemSize: 8 }),
    fakeResult(4, { localValue: 8n, targetValue: 16n, localMemSize: 8, targetMemSize: 8 }),
    fakeResult(5, { localValue: 0xffffffffffffffffn, targetValue: 0x80000001n }),
  ];
  const applied = applyCoreRelocations(prog, results);
  assert.equal(applied.length, 5);
  assert.equal(prog[0]!.imm, 1200);
  assert.equal(prog[1]!.imm64, 0xfffffffffffff000n);
  assert.equal(prog[1]!.imm, -4096);
  assert.equal(prog[2]!.offset, 1264);
  assert.equal(prog[2]!.opcode, BPF_LDX | BPF_MEM | BPF_DW, 'the load widened to 8 bytes');
  assert.equal(prog[3]!.offset, 16);
  assert.equal(prog[4]!.imm, -0x7fffffff, 'imm takes the low 32 bits, as libbpf');
  assert.deepEqual(applied.map((a) => a.insnIndex), [0, 1, 2, 3, 4]);
  assert.equal(applied[2]!.before.offset, 24);
  // Encodes: ld_imm64 halves from imm64.
  const bytes = encodeInstructions(prog);
  assert.equal(decodeInstructions(bytes)[1]!.imm64, 0xfffffffffffff000n);
});

test('apply: mismatching instructions are errors; unchecked kinds are not checked', () => {
  const mk = () => [ins(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, 16), ins(BPF_LDX | BPF_MEM | BPF_H, 3, 1, 24, 0), ins(EXIT, 0, 0, 0, 0)];
  const err = (re: RegExp) => (e: unknown) => e instanceof CoreRelocationError && e.code === 'ERR_CORE_INSN' && re.test(e.message);
  assert.throws(() => applyCoreRelocations(mk(), [fakeResult(0, { localValue: 17n, targetValue: 5n })]), err(/unexpected ALU\/ALU64 imm 16, expected 17 \(-> 5\)/));
  assert.throws(() => applyCoreRelocations(mk(), [fakeResult(1, { localValue: 20n, targetValue: 5n })]), err(/unexpected LDX\/ST\/STX offset 24, expected 20/));
  assert.throws(() => applyCoreRelocations(mk(), [fakeResult(1, { localValue: 24n, targetValue: 40000n })]), err(/doesn't fit in 16 bits/));
  assert.throws(() => applyCoreRelocations(mk(), [fakeResult(1, { localValue: 24n, targetValue: 8n, localMemSize: 4, targetMemSize: 8 })]), err(/accesses 2 bytes, expected 4/));
  assert.throws(() => applyCoreRelocations(mk(), [fakeResult(1, { localValue: 24n, targetValue: 8n, localMemSize: 2, targetMemSize: 3 })]), err(/can't access 3 bytes/));
  assert.throws(() => applyCoreRelocations(mk(), [fakeResult(2, {})]), err(/can't relocate instruction: opcode 0x95/));
  assert.throws(() => applyCoreRelocations(mk(), [fakeResult(7, {})]), err(/slot 7 is outside the 3 slots/));
  assert.throws(() => applyCoreRelocations([ins(BPF_ALU64 | BPF_ADD | BPF_X, 1, 2, 0, 0)], [fakeResult(0, {})]), err(/register operand/));
  const ld = [{ ...ins(LD_IMM64, 1, 0, 0, 0), imm64: 0n }, ins(EXIT, 0, 0, 0, 0)];
  assert.throws(() => applyCoreRelocations(ld, [fakeResult(1, {})]), err(/second half of a ld_imm64/));
  assert.throws(() => applyCoreRelocations([{ ...ins(LD_IMM64, 1, 1, 0, 3), imm64: 3n }], [fakeResult(0, { localValue: 3n })]), err(/unexpected form/));
  // validate=false (TYPE_ID_*, bitfield offsets): any value is replaced.
  const p = mk();
  applyCoreRelocations(p, [fakeResult(0, { localValue: 99n, targetValue: 7n, validate: false })]);
  assert.equal(p[0]!.imm, 7);
  // startSlot / skipOutOfRange: one program cut from a larger section.
  const q = mk();
  const res = [fakeResult(10, { localValue: 16n, targetValue: 32n }), fakeResult(1, { localValue: 0n, targetValue: 9n })];
  const done = applyCoreRelocations(q, res, { startSlot: 10, skipOutOfRange: true });
  assert.equal(done.length, 1);
  assert.equal(q[0]!.imm, 32);
});

test('apply: poisoning, ld_imm64 included, keeps slot positions', () => {
  const prog: Instruction[] = [
    { ...ins(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, 4), symbol: 'entry' },
    { ...ins(LD_IMM64, 2, 0, 0, 1000), imm64: 1000n },
    ins(BPF_LDX | BPF_MEM | BPF_W, 3, 1, 8, 0),
    { ...ins(LD_IMM64, 4, 0, 0, 5), imm64: 5n },
    ins(BPF_LDX | BPF_MEM | BPF_W, 5, 1, 12, 0),
    ins(EXIT, 0, 0, 0, 0),
  ];
  const before = encodeInstructions(prog).length;
  const applied = applyCoreRelocations(prog, [
    fakeResult(0, { localValue: 4n, poison: true }),
    fakeResult(1, { localValue: 1000n, poison: true, kind: BPF_CORE_ENUMVAL_VALUE }),
    fakeResult(3, { localValue: 8n, targetValue: 1200n, localMemSize: 4, targetMemSize: 8, memSizeMismatch: true }),
    fakeResult(4, { localValue: 5n, poison: true }),
    fakeResult(6, { localValue: 12n, targetValue: 1264n }),
  ]);
  assert.deepEqual(applied.map((a) => a.poisoned), [true, true, true, true, false]);
  const poison = { opcode: CALL, dst: 0, src: 0, offset: 0, imm: CORE_POISON_HELPER };
  assert.deepEqual(prog[0], { ...poison, symbol: 'entry' }, 'a label stays on the poisoned instruction');
  assert.deepEqual(prog[1], poison);
  assert.deepEqual(prog[2], poison, 'both slots of the ld_imm64');
  assert.deepEqual(prog[3], poison, 'an LDX that a size change can\'t follow');
  assert.deepEqual(prog[4], poison);
  assert.deepEqual(prog[5], poison);
  assert.equal(prog[6]!.offset, 1264);
  assert.equal(prog.length, 8);
  assert.equal(encodeInstructions(prog).length, before, 'same number of slots');
});

// ---------------------------------------------------------------------------------------------
// Robustness
// ---------------------------------------------------------------------------------------------

test('fuzz: random records against a real object BTF only ever raise CoreRelocationError', () => {
  const elf = ElfFile.parse(new Uint8Array(readFileSync(fileURLToPath(new URL('../../../test/testdata/core/fields.bpf.o', import.meta.url)))));
  const { spec } = parseObjectBtf({ btf: elf.sectionByName('.BTF')!.data() });
  let seed = 0x2545f491;
  const rnd = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const relocator = new CoreRelocator(spec, [spec]);
  let ok = 0;
  for (let i = 0; i < 5000; i++) {
    const steps = 1 + rnd(5);
    const access = Array.from({ length: steps }, () => String(rnd(4) === 0 ? rnd(200) : rnd(4))).join(':');
    const r: CoreRelo = { insnOffset: 8 * rnd(100), typeId: rnd(spec.lastTypeId + 3), accessString: rnd(50) === 0 ? 'x' : access, kind: rnd(14) };
    try {
      relocator.compute([r]);
      ok++;
    } catch (err) {
      if (!(err instanceof CoreRelocationError)) throw err;
    }
  }
  assert.ok(ok > 100, `${ok} records computed`);
});

test('malformed graphs: cycles end in errors, not hangs', () => {
  // A struct whose anonymous member is itself (only a malformed BTF can say that).
  const selfish = struct('selfish', 8, []);
  selfish.members.push({ name: '', type: selfish, bitOffset: 0, bitfieldSize: 0 });
  const local = struct('selfish', 8, [['x', U32, 0]]);
  assert.throws(() => resolveCoreRelocation(BPF_CORE_FIELD_BYTE_OFFSET, local, '0:0', [cand(selfish)]), CoreRelocationError);
  // A typedef cycle: util's resolve refuses it (FormatError), wrapped as ERR_CORE_SPEC by compute.
  const t1: RefType = { id: id(), kind: 'typedef', name: 'loop', target: VOID };
  t1.target = t1;
  assert.throws(() => resolveCoreRelocation(BPF_CORE_TYPE_EXISTS, t1, '0', [cand(t1)]), (e: unknown) => e instanceof FormatError && e.code === 'ERR_BTF');
  // Through compute, the error names the relocation and keeps its code.
  const loopSpec = { tryTypeById: (n: number) => (n === 1 ? t1 : undefined), byteOrder: 'little' } as unknown as Spec;
  assert.throws(
    () => new CoreRelocator(loopSpec, [specOf([int('int', 4, true)])]).compute([{ insnOffset: 0, typeId: 1, accessString: '0:0', kind: BPF_CORE_FIELD_BYTE_OFFSET }]),
    (e: unknown) => e instanceof CoreRelocationError && e.code === 'ERR_BTF' && /#0 <byte_off> at insn 0 \(\[\d+\] typedef loop \+ 0:0\): .*cycle/.test(e.message),
  );
  // Struct matching recursion is bounded.
  const deep = struct('deep', 8, []);
  deep.members.push({ name: 'next', type: deep, bitOffset: 0, bitfieldSize: 0 });
  assert.throws(() => coreTypesMatch(deep, deep), CoreRelocationError);
});
