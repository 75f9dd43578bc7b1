// The C header and TypeScript writers on hand-built types and on a committed BPF object:
// pure tests (no clang, no kernel). writers-clang.test.ts compiles what they write.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FormatError } from '../../src/errors.js';
import { cTypeName, writeCDeclaration, writeCHeader } from '../../src/btf/c_writer.js';
import { tsMemberTypeFor, tsTypeFor, tsTypeName, writeTypeScript } from '../../src/btf/ts_writer.js';
import { Spec } from '../../src/btf/spec.js';
import { ElfFile } from '../../src/elf/index.js';
import { VOID } from '../../src/btf/types.js';
import type {
  ArrayType,
  DatasecType,
  EnumType,
  FloatType,
  FuncProtoType,
  FuncType,
  FwdType,
  IntType,
  Member,
  PointerType,
  RefType,
  StructType,
  Type,
  VarType,
} from '../../src/btf/types.js';

/** test/testdata/writers/<name> (tests run from dist/test/btf). */
function writersTestdata(name: string): string {
  return fileURLToPath(new URL(`../../../test/testdata/writers/${name}`, import.meta.url));
}

/** Builds types with ids in creation order, as a parser would hand them over. */
class Builder {
  readonly types: Type[] = [];
  private add<T extends Type>(t: Omit<T, 'id'>): T {
    const full = { id: this.types.length + 1, ...t } as T;
    this.types.push(full);
    return full;
  }
  integer(name: string, size: number, o: { signed?: boolean; char?: boolean; bool?: boolean; bits?: number } = {}): IntType {
    return this.add<IntType>({
      kind: 'int',
      name,
      size,
      bits: o.bits ?? size * 8,
      offset: 0,
      signed: o.signed ?? false,
      char: o.char ?? false,
      bool: o.bool ?? false,
    });
  }
  float(name: string, size: number): FloatType {
    return this.add<FloatType>({ kind: 'float', name, size });
  }
  ptr(target: Type): PointerType {
    return this.add<PointerType>({ kind: 'ptr', name: '', target });
  }
  array(element: Type, length: number): ArrayType {
    return this.add<ArrayType>({ kind: 'array', name: '', element, index: this.u32, length });
  }
  ref(kind: RefType['kind'], target: Type, name = ''): RefType {
    return this.add<RefType>({ kind, name, target });
  }
  typedef(name: string, target: Type): RefType {
    return this.ref('typedef', target, name);
  }
  /** Members as [name, type, bitOffset, bitfieldSize?]. */
  struct(name: string, size: number, members: [string, Type, number, number?][] = [], kind: 'struct' | 'union' = 'struct'): StructType {
    return this.add<StructType>({
      kind,
      name,
      size,
      members: members.map(([n, type, bitOffset, bitfieldSize]) => ({ name: n, type, bitOffset, bitfieldSize: bitfieldSize ?? 0 })),
    });
  }
  union(name: string, size: number, members: [string, Type, number, number?][] = []): StructType {
    return this.struct(name, size, members, 'union');
  }
  /** Fill in members later (for cycles). */
  setMembers(s: StructType, members: [string, Type, number, number?][]): void {
    s.members = members.map(([n, type, bitOffset, bitfieldSize]): Member => ({ name: n, type, bitOffset, bitfieldSize: bitfieldSize ?? 0 }));
  }
  enum(name: string, size: number, values: [string, bigint | number][], o: { signed?: boolean; kind?: 'enum' | 'enum64' } = {}): EnumType {
    return this.add<EnumType>({
      kind: o.kind ?? 'enum',
      name,
      size,
      signed: o.signed ?? false,
      values: values.map(([n, v]) => ({ name: n, value: BigInt(v) })),
    });
  }
  fwd(name: string, fwdKind: 'struct' | 'union' = 'struct'): FwdType {
    return this.add<FwdType>({ kind: 'fwd', name, fwdKind });
  }
  proto(ret: Type, params: [string, Type][]): FuncProtoType {
    return this.add<FuncProtoType>({ kind: 'func_proto', name: '', returnType: ret, params: params.map(([name, type]) => ({ name, type })) });
  }
  func(name: string, proto: FuncProtoType): FuncType {
    return this.add<FuncType>({ kind: 'func', name, proto, linkage: 'global' });
  }
  variable(name: string, type: Type): VarType {
    return this.add<VarType>({ kind: 'var', name, type, linkage: 'global' });
  }
  datasec(name: string, size: number, vars: [VarType, number][]): DatasecType {
    return this.add<DatasecType>({ kind: 'datasec', name, size, vars: vars.map(([v, offset]) => ({ type: v, offset, size: 0 })) });
  }

  // common base types, created first
  readonly char: IntType;
  readonly int: IntType;
  readonly u8: IntType;
  readonly u16: IntType;
  readonly u32: IntType;
  readonly u64: IntType;
  readonly s64: IntType;
  constructor() {
    this.char = this.integer('char', 1, { signed: true, char: true });
    this.int = this.integer('int', 4, { signed: true });
    this.u8 = this.integer('unsigned char', 1);
    this.u16 = this.integer('short unsigned int', 2);
    this.u32 = this.integer('unsigned int', 4);
    this.u64 = this.integer('long long unsigned int', 8);
    this.s64 = this.integer('long int', 8, { signed: true });
  }
}

/** The body of a header: what comes between the pragma push and pop. */
function body(header: string): string {
  const start = header.indexOf('#endif\n\n') + 8;
  const end = header.lastIndexOf('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX');
  return header.slice(start, end);
}

// ---------------------------------------------------------------------------------------------
// C header
// ---------------------------------------------------------------------------------------------

test('C: guard, preserve_access_index pragma, options', () => {
  const b = new Builder();
  b.struct('foo', 4, [['x', b.int, 0]]);
  const h = writeCHeader(b.types);
  assert.ok(h.startsWith('#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n'));
  assert.ok(h.includes('#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n'));
  assert.ok(h.endsWith('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n#endif /* __VMLINUX_H__ */\n'));
  const h2 = writeCHeader(b.types, { guard: 'MY_H', preserveAccessIndex: false });
  assert.equal(h2, '#ifndef MY_H\n#define MY_H\n\nstruct foo {\n\tint x;\n};\n\n#endif /* MY_H */\n');
});

test('C: a struct used by value is defined first; one only pointed to is declared', () => {
  const b = new Builder();
  const a = b.struct('a', 8);
  const bb = b.struct('b', 16);
  const c = b.struct('c', 8);
  b.setMembers(a, [['b', b.ptr(bb), 0]]); // a -> *b
  b.setMembers(bb, [['a', a, 0], ['c', b.ptr(c), 64]]); // b embeds a, points to c
  b.setMembers(c, [['next', b.ptr(c), 0]]); // self-reference needs no forward declaration
  assert.equal(
    body(writeCHeader(b.types)),
    'struct b;\n\nstruct a {\n\tstruct b *b;\n};\n\n' +
      'struct c;\n\nstruct b {\n\tstruct a a;\n\tstruct c *c;\n};\n\n' +
      'struct c {\n\tstruct c *next;\n};\n\n',
  );
  // Given only some types (split BTF: a module's own), what they use comes along.
  assert.equal(body(writeCHeader([bb])), 'struct b;\n\nstruct a {\n\tstruct b *b;\n};\n\nstruct c;\n\nstruct b {\n\tstruct a a;\n\tstruct c *c;\n};\n\n');
});

test('C: a struct both pointed to and embedded needs no forward declaration', () => {
  const b = new Builder();
  const node = b.struct('node', 8, []);
  b.setMembers(node, [['next', b.ptr(node), 0]]);
  const outer = b.struct('outer', 24, []);
  // Pointed to first, embedded later: defined before outer, no `struct node;`.
  b.setMembers(outer, [['p', b.ptr(node), 0], ['n', node, 64], ['q', b.ptr(outer), 128]]);
  b.types.reverse(); // outer comes first in the input
  assert.equal(body(writeCHeader(b.types)), 'struct node {\n\tstruct node *next;\n};\n\nstruct outer {\n\tstruct node *p;\n\tstruct node n;\n\tstruct outer *q;\n};\n\n');
});

test('C: typedef cycles through pointers (typedef struct tx tx_t; struct tx { tx_t *next; })', () => {
  const b = new Builder();
  const tx = b.struct('tx', 8);
  const txt = b.typedef('tx_t', tx);
  b.setMembers(tx, [['next', b.ptr(txt), 0]]);
  const h = body(writeCHeader([txt, tx]));
  assert.equal(h, 'struct tx;\n\ntypedef struct tx tx_t;\n\nstruct tx {\n\ttx_t *next;\n};\n\n');
});

test('C: forward declarations before function pointer typedefs', () => {
  const b = new Builder();
  const work = b.struct('work', 16);
  const fn = b.typedef('work_fn', b.ptr(b.proto(VOID, [['', b.ptr(work)]])));
  b.setMembers(work, [['func', fn, 0], ['data', b.u64, 64]]);
  const h = body(writeCHeader(b.types));
  assert.equal(h, 'struct work;\n\ntypedef void (*work_fn)(struct work *);\n\nstruct work {\n\twork_fn func;\n\tlong long unsigned int data;\n};\n\n');
});

test('C: declarators: pointers, arrays, function pointers, qualifiers', () => {
  const b = new Builder();
  const cchar = b.ref('const', b.char);
  const proto = b.proto(b.int, [['skb', b.ptr(b.struct('sk_buff', 8, [['len', b.u32, 0]]))], ['', cchar]]);
  const cases: [Type, string][] = [
    [b.ptr(cchar), 'const char *x'],
    [b.ref('const', b.ptr(b.char)), 'char * const x'],
    [b.ptr(b.ref('const', b.ptr(b.char))), 'char * const *x'],
    [b.ref('const', b.ref('volatile', b.u32)), 'const volatile unsigned int x'],
    [b.array(b.array(b.int, 3), 2), 'int x[2][3]'],
    [b.ptr(b.array(b.int, 3)), 'int (*x)[3]'],
    [b.array(b.ptr(b.int), 4), 'int *x[4]'],
    [b.ptr(proto), 'int (*x)(struct sk_buff *skb, const char)'],
    [b.array(b.ptr(proto), 2), 'int (*x[2])(struct sk_buff *skb, const char)'],
    [b.ptr(b.proto(b.ptr(b.proto(VOID, [])), [['', b.int]])), 'void (*(*x)(int))(void)'],
    [b.ptr(b.proto(b.int, [['fmt', b.ptr(cchar)], ['', VOID]])), 'int (*x)(const char *fmt, ...)'],
    [b.ptr(b.proto(VOID, [['', VOID]])), 'void (*x)(void)'],
    [b.ref('const', b.array(b.int, 2)), 'const int x[2]'],
    [b.ptr(b.ref('type_tag', b.int, 'user')), 'int __attribute__((btf_type_tag("user"))) *x'],
    [b.ptr(VOID), 'void *x'],
    [b.ptr(b.ptr(b.char)), 'char **x'],
  ];
  for (const [t, want] of cases) assert.equal(writeCDeclaration(t, 'x'), want);
  assert.equal(cTypeName(b.array(b.char, 16)), 'char[16]');
  assert.equal(cTypeName(b.ptr(proto)), 'int (*)(struct sk_buff *skb, const char)');
  assert.equal(cTypeName(b.struct('', 4, [['a', b.int, 0]])), 'struct {...}');
});

test('C: type tags can be dropped', () => {
  const b = new Builder();
  b.struct('s', 8, [['p', b.ptr(b.ref('type_tag', b.int, 'rcu')), 0]]);
  assert.match(writeCHeader(b.types), /int __attribute__\(\(btf_type_tag\("rcu"\)\)\) \*p;/);
  assert.match(writeCHeader(b.types, { typeTags: false }), /\tint \*p;/);
});

test('C: anonymous members inline, typedefs of anonymous types', () => {
  const b = new Builder();
  const inner = b.struct('', 4, [['lo', b.u16, 0], ['hi', b.u16, 16]]);
  const u = b.union('', 4, [['word', b.u32, 0], ['', inner, 0]]);
  const ports = b.struct('', 4, [['sport', b.u16, 0], ['dport', b.u16, 16]]);
  b.struct('outer', 12, [['', u, 0], ['ports', ports, 32], ['z', b.int, 64]]);
  const anonT = b.struct('', 4, [['counter', b.int, 0]]);
  b.typedef('atomic_t', anonT);
  assert.equal(
    body(writeCHeader(b.types)),
    'struct outer {\n\tunion {\n\t\tunsigned int word;\n\t\tstruct {\n\t\t\tshort unsigned int lo;\n\t\t\tshort unsigned int hi;\n\t\t};\n\t};\n' +
      '\tstruct {\n\t\tshort unsigned int sport;\n\t\tshort unsigned int dport;\n\t} ports;\n\tint z;\n};\n\n' +
      'typedef struct {\n\tint counter;\n} atomic_t;\n\n',
  );
});

test('C: bitfields, padding, packed', () => {
  const b = new Builder();
  // flags:3 at 0, level:5 at 3, then an int at byte 8 (a gap natural alignment won't make).
  b.struct('bits', 16, [['flags', b.u32, 0, 3], ['level', b.u32, 3, 5], ['x', b.int, 64], ['y', b.u8, 96]]);
  // a u32 at byte 1: packed
  b.struct('hdr', 7, [['kind', b.u8, 0], ['len', b.u32, 8], ['port', b.u16, 40]]);
  // cacheline-aligned: 64 bytes with a 4-byte member
  b.struct('line', 64, [['v', b.int, 0]]);
  const h = body(writeCHeader(b.types));
  assert.equal(
    h,
    'struct bits {\n\tunsigned int flags: 3;\n\tunsigned int level: 5;\n\tlong: 56;\n\tint x;\n\tunsigned char y;\n};\n\n' +
      'struct hdr {\n\tunsigned char kind;\n\tunsigned int len;\n\tshort unsigned int port;\n} __attribute__((packed));\n\n' +
      'struct line {\n\tint v;\n\tint: 32;\n' + '\tlong: 64;\n'.repeat(7) + '};\n\n',
  );
});

test('C: unions larger than their members get an alignment', () => {
  const b = new Builder();
  b.union('big', 16, [['a', b.u32, 0], ['b', b.u64, 0]]);
  b.union('odd', 12, [['a', b.u32, 0]]);
  const h = body(writeCHeader(b.types));
  assert.match(h, /union big \{\n\tunsigned int a;\n\tlong long unsigned int b;\n\} __attribute__\(\(aligned\(16\)\)\);/);
  assert.match(h, /union odd \{\n\tunsigned int a;\n\tstruct \{ long: 64; int: 32; \};\n\};/);
});

test('C: enums: signs, 64-bit values, sizes', () => {
  const b = new Builder();
  b.enum('color', 4, [['RED', 0], ['GREEN', 5]]);
  b.enum('temp', 4, [['COLD', -10], ['HOT', 40]], { signed: true });
  b.enum('big', 8, [['LOW', 1], ['HIGH', 0x100000000n]], { kind: 'enum64' });
  b.enum('neg64', 8, [['MIN', -0x8000000000000000n], ['M1', -1]], { kind: 'enum64', signed: true });
  b.enum('small', 1, [['A', 0], ['B', 255]]);
  b.enum('half', 2, [['H', 1]]);
  b.enum('wide', 8, [['W', 1]], { kind: 'enum64' });
  b.enum('fwd_only', 4, []);
  const h = body(writeCHeader(b.types));
  assert.match(h, /enum color \{\n\tRED = 0,\n\tGREEN = 5,\n\};/);
  assert.match(h, /enum temp \{\n\tCOLD = -10,\n\tHOT = 40,\n\};/);
  assert.match(h, /enum big \{\n\tLOW = 1ULL,\n\tHIGH = 4294967296ULL,\n\};/);
  assert.match(h, /enum neg64 \{\n\tMIN = \(-9223372036854775807LL - 1\),\n\tM1 = -1LL,\n\};/);
  assert.match(h, /enum small \{\n\tA = 0,\n\tB = 255,\n\} __attribute__\(\(mode\(QI\)\)\);/);
  assert.match(h, /enum half \{\n\tH = 1,\n\} __attribute__\(\(mode\(HI\)\)\);/);
  assert.match(h, /enum wide \{\n\tW = 1ULL,\n\} __attribute__\(\(mode\(DI\)\)\);/);
  assert.match(h, /\nenum fwd_only;\n/);
});

test('C: anonymous enums: top-level constants unless used by a type', () => {
  const b = new Builder();
  b.enum('', 4, [['BPF_F_INGRESS', 1]]);
  const inline = b.enum('', 4, [['STATE_A', 0], ['STATE_B', 1]]);
  b.struct('s', 4, [['state', inline, 0]]);
  const h = body(writeCHeader(b.types));
  assert.equal(h, 'enum {\n\tBPF_F_INGRESS = 1,\n};\n\nstruct s {\n\tenum {\n\t\tSTATE_A = 0,\n\t\tSTATE_B = 1,\n\t} state;\n};\n\n');
});

test('C: duplicate names get ___2 (tags, typedefs, enumerators)', () => {
  const b = new Builder();
  b.struct('dup', 4, [['a', b.int, 0]]);
  b.struct('dup', 8, [['b', b.u64, 0]]);
  b.typedef('dup_t', b.int);
  b.typedef('dup_t', b.u32);
  b.enum('e1', 4, [['X', 1]]);
  b.enum('e2', 4, [['X', 2]]);
  b.fwd('dup');
  const h = body(writeCHeader(b.types));
  assert.match(h, /struct dup \{\n\tint a;\n\};/);
  assert.match(h, /struct dup___2 \{\n\tlong long unsigned int b;\n\};/);
  assert.match(h, /typedef int dup_t;\n/);
  assert.match(h, /typedef unsigned int dup_t___2;\n/);
  assert.match(h, /enum e2 \{\n\tX___2 = 2,\n\};/);
  assert.match(h, /\nstruct dup;\n/); // a forward declaration names the first
});

test('C: floats, _Bool, char, non-C int names, FUNC/VAR/DATASEC not written', () => {
  const b = new Builder();
  const bool = b.integer('_Bool', 1, { bool: true });
  const rustU8 = b.integer('u8', 1);
  const f = b.float('float', 4);
  const d = b.float('double', 8);
  const s = b.struct('misc', 24, [['ok', bool, 0], ['c', b.char, 8], ['r', rustU8, 16], ['f', f, 32], ['d', d, 64], ['p', b.ptr(d), 128]]);
  const fn = b.func('handler', b.proto(b.int, [['m', b.ptr(s)]]));
  const v = b.variable('global_misc', s);
  b.datasec('.bss', 24, [[v, 0]]);
  const h = body(writeCHeader(b.types));
  assert.equal(h, 'struct misc {\n\t_Bool ok;\n\tchar c;\n\tunsigned char r;\n\tfloat f;\n\tdouble d;\n\tdouble *p;\n};\n\n');
  assert.ok(!h.includes(fn.name));
});

test('C: __builtin_va_list is not redefined; layouts pad around its BPF size', () => {
  const b = new Builder();
  const tag = b.struct('__va_list_tag', 24, [['gp_offset', b.u32, 0], ['fp_offset', b.u32, 32], ['overflow_arg_area', b.ptr(VOID), 64], ['reg_save_area', b.ptr(VOID), 128]]);
  const builtin = b.typedef('__builtin_va_list', b.array(tag, 1));
  const valist = b.typedef('va_list', builtin);
  b.struct('warn_args', 32, [['fmt', b.ptr(b.ref('const', b.char)), 0], ['args', valist, 64]]);
  const h = body(writeCHeader(b.types));
  assert.ok(!h.includes('typedef struct __va_list_tag __builtin_va_list'));
  assert.match(h, /typedef __builtin_va_list va_list;/);
  assert.match(h, /struct warn_args \{\n\tconst char \*fmt;\n\tva_list args;\n\tlong: 64;\n\tlong: 64;\n\};/);
});

test('C: malformed BTF raises FormatError rather than hanging', () => {
  const b = new Builder();
  const p = b.ptr(VOID);
  (p as { target: Type }).target = p; // a pointer to itself
  b.struct('s', 8, [['p', p, 0]]);
  assert.throws(() => writeCHeader(b.types), (e: unknown) => e instanceof FormatError && e.code === 'ERR_BTF');
  const b2 = new Builder();
  const s = b2.struct('self', 4);
  b2.setMembers(s, [['me', s, 0]]); // contains itself
  assert.throws(() => writeCHeader(b2.types), (e: unknown) => e instanceof FormatError && e.code === 'ERR_BTF');
});

// ---------------------------------------------------------------------------------------------
// TypeScript
// ---------------------------------------------------------------------------------------------

test('TS: tsTypeFor mapping table', () => {
  const b = new Builder();
  const bool = b.integer('_Bool', 1, { bool: true });
  assert.deepEqual(tsTypeFor(bool), { kind: 'boolean', size: 1 });
  assert.deepEqual(tsTypeFor(b.u32), { kind: 'number', size: 4, signed: false, float: false });
  assert.deepEqual(tsTypeFor(b.typedef('s64', b.s64)), { kind: 'bigint', size: 8, signed: true });
  assert.deepEqual(tsTypeFor(b.float('double', 8)), { kind: 'number', size: 8, signed: true, float: true });
  assert.deepEqual(tsTypeFor(b.ptr(VOID)), { kind: 'pointer' });
  assert.deepEqual(tsTypeFor(b.array(b.char, 16)), { kind: 'string', length: 16, element: b.char });
  assert.deepEqual(tsTypeFor(b.array(b.u8, 6)), { kind: 'bytes', length: 6, element: b.u8 });
  const arr = b.array(b.u32, 4);
  assert.deepEqual(tsTypeFor(b.ref('const', arr)), { kind: 'array', length: 4, element: b.u32 });
  const e = b.enum('e', 4, [['A', 1]]);
  assert.deepEqual(tsTypeFor(e), { kind: 'enum', type: e, bigint: false });
  const s = b.struct('s', 4, [['a', b.int, 0]]);
  assert.deepEqual(tsTypeFor(s), { kind: 'struct', type: s });
  assert.deepEqual(tsTypeFor(b.proto(VOID, [])), { kind: 'none' });
  assert.deepEqual(tsTypeFor(VOID), { kind: 'none' });
  const m = (type: Type, bitfieldSize: number): Member => ({ name: 'x', type, bitOffset: 0, bitfieldSize });
  assert.deepEqual(tsMemberTypeFor(m(b.u64, 3)), { kind: 'number', size: 8, signed: false, float: false });
  assert.deepEqual(tsMemberTypeFor(m(b.u64, 40)), { kind: 'bigint', size: 8, signed: false });
  assert.deepEqual(tsMemberTypeFor(m(bool, 1)), { kind: 'boolean', size: 1 });
});

test('TS: names', () => {
  assert.equal(tsTypeName('task_struct'), 'TaskStruct');
  assert.equal(tsTypeName('__sk_buff'), '__SkBuff');
  assert.equal(tsTypeName('task_struct___old'), 'TaskStruct___old');
  assert.equal(tsTypeName('u32'), 'U32');
  assert.equal(tsTypeName('8250_port'), '_8250Port');
  assert.equal(tsTypeName('a.b-c'), 'ABC');
  assert.equal(tsTypeName('xdp_md'), 'XdpMd');
  const b = new Builder();
  b.struct('foo', 4, [['x', b.int, 0]]);
  b.struct('foo', 4, [['y', b.int, 0]]);
  b.struct('uint8_array', 4, [['z', b.int, 0]]);
  const foo3 = b.struct('foo_', 4, [['w', b.int, 0]]);
  b.typedef('foo_', foo3); // `typedef struct foo_ foo_`: shares the struct's name
  const ts = writeTypeScript(b.types);
  assert.match(ts, /\/\*\* struct foo, 4 bytes \*\/\nexport interface Foo \{/);
  assert.match(ts, /\/\*\* struct foo, 4 bytes \*\/\nexport interface Foo_2 \{/);
  assert.match(ts, /export interface Uint8Array_2 \{/);
  assert.match(ts, /\/\*\* struct foo_, 4 bytes \*\/\nexport interface Foo_3 \{/);
  assert.ok(!ts.includes('typedef struct foo_'));
});

test('TS: structs, unions, anonymous members, arrays, enums, typedefs', () => {
  const b = new Builder();
  const bool = b.integer('_Bool', 1, { bool: true });
  const color = b.enum('color', 4, [['RED', 0], ['GREEN', 5]]);
  const flags64 = b.enum('flags64', 8, [['F_HIGH', 0x100000000n]], { kind: 'enum64' });
  const u32t = b.typedef('u32', b.u32);
  const anonU = b.union('', 4, [['ipv4', u32t, 0], ['raw', b.array(b.u8, 4), 0]]);
  const ports = b.struct('', 4, [['sport', b.u16, 0], ['dport', b.u16, 16]]);
  const atomic = b.typedef('atomic_t', b.struct('', 4, [['counter', b.int, 0]]));
  const modeT = b.typedef('mode_t', b.enum('', 4, [['MODE_OFF', 0], ['MODE_ON', 1]]));
  const node = b.struct('list_node', 16, []);
  b.setMembers(node, [['next', b.ptr(node), 0], ['prev', b.ptr(node), 64]]);
  const ev = b.struct('event', 96, [
    ['pid', u32t, 0],
    ['flags', b.u32, 32, 3],
    ['urgent', bool, 35, 1],
    ['comm', b.array(b.char, 16), 64],
    ['', anonU, 192],
    ['ports', ports, 224],
    ['color', color, 256],
    ['big', flags64, 320],
    ['refs', atomic, 384],
    ['mode', modeT, 416],
    ['matrix', b.array(b.array(b.int, 2), 2), 448],
    ['node', b.ptr(node), 576],
    ['names', b.array(b.array(b.char, 4), 2), 640],
    ['default', b.ptr(b.proto(b.int, [])), 704], // reserved word: fine as a property
  ]);
  b.enum('', 4, [['BPF_F_INGRESS', 1], ['delete', 2]]);
  const ts = writeTypeScript(b.types, { only: [ev] });
  assert.equal(
    ts,
    `// Generated by ebpf-ts from BTF. Do not edit.

/** enum color, 4 bytes */
export const Color = {
  RED: 0,
  GREEN: 5,
} as const;
export type Color = number;

/** enum flags64, 8 bytes */
export const Flags64 = {
  F_HIGH: 4294967296n,
} as const;
export type Flags64 = bigint;

/** typedef struct {...} atomic_t, 4 bytes */
export interface AtomicT {
  /** offset 0, int */
  counter: number;
}

/** typedef enum {...} mode_t, 4 bytes */
export const ModeT = {
  MODE_OFF: 0,
  MODE_ON: 1,
} as const;
export type ModeT = number;

/** struct event, 96 bytes */
export interface Event {
  /** offset 0, u32 */
  pid: number;
  /** offset 4 bit 0, unsigned int: 3 */
  flags: number;
  /** offset 4 bit 3, _Bool: 1 */
  urgent: boolean;
  /** offset 8, char[16] */
  comm: string;
  /** offset 24, u32 */
  ipv4: number;
  /** offset 24, unsigned char[4] */
  raw: Uint8Array;
  /** offset 28, struct {...} */
  ports: {
    /** offset 0, short unsigned int */
    sport: number;
    /** offset 2, short unsigned int */
    dport: number;
  };
  /** offset 32, enum color */
  color: Color;
  /** offset 40, enum flags64 */
  big: Flags64;
  /** offset 48, atomic_t */
  refs: AtomicT;
  /** offset 52, mode_t */
  mode: ModeT;
  /** offset 56, int[2][2] */
  matrix: number[][];
  /** offset 72, struct list_node * */
  node: bigint;
  /** offset 80, char[2][4] */
  names: string[];
  /** offset 88, int (*)(void) */
  default: bigint;
}
`,
  );
  // Without \`only\`: every named type, anonymous enums as constants, typedefs as aliases.
  const all = writeTypeScript(b.types);
  assert.match(all, /\/\*\* anonymous enum, 4 bytes \*\/\nexport const BPF_F_INGRESS = 1;\nexport const _delete = 2;\n/);
  assert.match(all, /\/\*\* typedef unsigned int u32 \*\/\nexport type U32 = number;\n/);
  assert.match(all, /export interface ListNode \{/);
  // The same input gives the same bytes.
  assert.equal(writeTypeScript(b.types), all);
});

test('TS: namespace and datasecs', () => {
  const b = new Builder();
  const v = b.variable('counter', b.u64);
  const w = b.variable('target_pid', b.ref('const', b.ref('volatile', b.u32)));
  const m = b.variable('events', b.struct('', 8, [['type', b.ptr(b.array(b.int, 27)), 0]]));
  b.datasec('.data', 8, [[v, 0]]);
  b.datasec('.rodata', 0, [[w, 0]]);
  b.datasec('.maps', 0, [[m, 0]]);
  const ts = writeTypeScript(b.types, { namespace: 'Prog' });
  assert.equal(
    ts,
    `// Generated by ebpf-ts from BTF. Do not edit.

export namespace Prog {

  /** .data section, 8 bytes */
  export interface Data {
    /** offset 0, long long unsigned int */
    counter: bigint;
  }

  /** .rodata section */
  export interface Rodata {
    /** const volatile unsigned int */
    target_pid: number;
  }
}
`,
  );
});

test('TS: malformed BTF raises FormatError rather than overflowing the stack', () => {
  const isBtfError = (e: unknown) => e instanceof FormatError && e.code === 'ERR_BTF';
  const b = new Builder();
  const anon = b.struct('', 4);
  b.setMembers(anon, [['me', anon, 0]]);
  b.struct('outer', 4, [['inner', anon, 0]]);
  assert.throws(() => writeTypeScript(b.types), isBtfError);
  const b2 = new Builder();
  const arr = b2.array(b2.int, 2);
  (arr as { element: Type }).element = arr;
  b2.struct('s', 8, [['a', arr, 0]]);
  assert.throws(() => writeTypeScript(b2.types), isBtfError);
  const b3 = new Builder();
  const td = b3.typedef('loop', b3.int);
  (td as { target: Type }).target = td;
  assert.throws(() => writeTypeScript(b3.types), isBtfError);
  assert.throws(() => writeCHeader(b3.types), isBtfError);
});

// ---------------------------------------------------------------------------------------------
// A BPF object's types (test/testdata/writers/types.bpf.c)
// ---------------------------------------------------------------------------------------------

function objectSpec(name: string): Spec {
  const elf = ElfFile.parse(readFileSync(writersTestdata(name)));
  const btf = elf.sectionByName('.BTF');
  assert.ok(btf, `${name} has .BTF`);
  return Spec.parse(btf.data());
}

test('TS: a BPF object matches its snapshot (UPDATE_SNAPSHOTS=1 rewrites it)', () => {
  const spec = objectSpec('types.bpf.o');
  const ts = writeTypeScript(spec);
  const file = writersTestdata('types.expected.ts');
  if (process.env.UPDATE_SNAPSHOTS) writeFileSync(file, ts);
  assert.equal(ts, readFileSync(file, 'utf8'));
  assert.equal(writeTypeScript(objectSpec('types.bpf.o')), ts, 'deterministic');
});

test('C: a BPF object matches its snapshot (UPDATE_SNAPSHOTS=1 rewrites it)', () => {
  const spec = objectSpec('types.bpf.o');
  const h = writeCHeader(spec);
  const file = writersTestdata('types.expected.h');
  if (process.env.UPDATE_SNAPSHOTS) writeFileSync(file, h);
  assert.equal(h, readFileSync(file, 'utf8'));
});
