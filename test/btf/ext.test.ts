import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FormatError } from '../../src/errors.js';
import {
  BPF_CORE_ENUMVAL_VALUE,
  BPF_CORE_FIELD_BYTE_OFFSET,
  BPF_CORE_TYPE_MATCHES,
  CORE_RELO_KIND_NAMES,
  marshalFuncInfos,
  marshalLineInfos,
  parseBtfExt,
  parseObjectBtf,
  type CoreRelo,
} from '../../src/btf/ext.js';
import { Spec } from '../../src/btf/spec.js';
import { objectSections, run, testdata } from './helpers.js';

interface Reloc {
  insnOffset: number;
  kind: string;
  typeId: number;
  access: string | undefined;
}

function isBtfError(err: unknown): boolean {
  return err instanceof FormatError && err.code === 'ERR_BTF';
}

test('core.bpf.o: CO-RE relocations match llvm-objdump', { skip: run('llvm-objdump-19', ['--version']) ? false : 'needs llvm-objdump-19' }, () => {
  const { btf, btfExt } = objectSections('core.bpf.o');
  const { spec, ext } = parseObjectBtf({ btf, btfExt });
  assert.ok(ext);
  assert.equal(ext.recordSizes.coreRelo, 16);
  assert.equal(ext.recordSizes.funcInfo, 8);
  assert.equal(ext.recordSizes.lineInfo, 16);

  // "Disassembly of section xdp:" ... "\t\t0000000000000008:  CO-RE <byte_off> [2] struct task::tgid (0:1)"
  const dump = run('llvm-objdump-19', ['-dr', testdata('core.bpf.o')])!;
  const expected = new Map<string, Reloc[]>();
  let section = '';
  for (const line of dump.split('\n')) {
    const sec = /^Disassembly of section (.*):$/.exec(line);
    if (sec) section = sec[1]!;
    const m = /^\s+([0-9a-f]+):\s+CO-RE <(\w+)> \[(\d+)\] (.*)$/.exec(line);
    if (!m) continue;
    // Field relocations print their access string in parentheses, type relocations have "0";
    // enum value relocations print the enumerator instead (checked below).
    const kind = m[2]!;
    const access = kind.startsWith('enumval') ? undefined : (/\(([\d:]+)\)$/.exec(m[4]!)?.[1] ?? '0');
    if (!expected.has(section)) expected.set(section, []);
    expected.get(section)!.push({ insnOffset: parseInt(m[1]!, 16), kind, typeId: Number(m[3]), access });
  }
  assert.ok(expected.size >= 3);
  assert.deepEqual([...ext.coreRelos.keys()].sort(), [...expected.keys()].sort());
  for (const [sec, want] of expected) {
    const got: Reloc[] = ext.coreRelos.get(sec)!.map((r: CoreRelo) => {
      const k = CORE_RELO_KIND_NAMES[r.kind]!;
      return { insnOffset: r.insnOffset, kind: k, typeId: r.typeId, access: k.startsWith('enumval') ? undefined : r.accessString };
    });
    assert.deepEqual(got, want, sec);
  }
  // All 13 kinds occur.
  const kinds = new Set([...ext.coreRelos.values()].flat().map((r: CoreRelo) => r.kind));
  for (let k = BPF_CORE_FIELD_BYTE_OFFSET; k <= BPF_CORE_TYPE_MATCHES; k++) assert.ok(kinds.has(k), CORE_RELO_KIND_NAMES[k]);
  const enumVal = ext.coreRelos.get('tp/sched/sched_switch')!.find((r) => r.kind === BPF_CORE_ENUMVAL_VALUE)!;
  const st = spec.typeById(enumVal.typeId);
  assert.ok(st.kind === 'enum' && st.values[Number(enumVal.accessString)]!.name === 'STOPPED');
});

test('core.bpf.o: func_info and line_info', () => {
  const { btf, btfExt } = objectSections('core.bpf.o');
  const spec = Spec.parse(btf);
  const ext = parseBtfExt(btfExt!, spec);
  const funcs = Object.fromEntries([...ext.funcInfos].map(([sec, fs]) => [sec, fs.map((f) => [f.insnOffset, spec.typeById(f.typeId).name])]));
  assert.deepEqual(funcs, {
    '.text': [[0, 'sub']],
    'tp/sched/sched_switch': [[0, 'core_prog']],
    xdp: [[0, 'second_prog']],
  });
  for (const fs of ext.funcInfos.values()) for (const f of fs) assert.equal(spec.typeById(f.typeId).kind, 'func');

  const source = readFileSync(testdata('core.bpf.c'), 'utf8').split('\n');
  let n = 0;
  for (const [sec, lines] of ext.lineInfos) {
    assert.ok(ext.funcInfos.has(sec));
    let prev = -1;
    for (const l of lines) {
      assert.ok(l.fileName.endsWith('core.bpf.c'), l.fileName);
      assert.ok(l.line >= 1 && l.line <= source.length);
      assert.equal(l.lineText, source[l.line - 1], `line ${l.line}`);
      assert.ok(l.insnOffset % 8 === 0 && l.insnOffset > prev);
      prev = l.insnOffset;
      n++;
    }
  }
  assert.ok(n > 10);
  assert.deepEqual(ext.lineInfos.get('xdp')!.map((l) => l.lineText.trim()), ['return t->tgid;']);
});

test('types.bpf.o: .BTF.ext without CO-RE relocations', () => {
  const { btf, btfExt } = objectSections('types.bpf.o');
  const { ext } = parseObjectBtf({ btf, btfExt });
  assert.ok(ext);
  assert.equal(ext.coreRelos.size, 0);
  assert.deepEqual([...ext.funcInfos.keys()].sort(), ['.text', 'tp/syscalls/sys_enter_getpid']);
  const be = objectSections('types.bpfeb.o');
  const extBe = parseObjectBtf({ btf: be.btf, btfExt: be.btfExt }).ext!;
  assert.equal(extBe.byteOrder, 'big');
  // Code generation differs between the two targets: compare what doesn't depend on it.
  const funcNames = (e: typeof ext) => [...e.funcInfos].map(([sec, fs]) => [sec, fs.map((f) => f.typeId)]);
  assert.deepEqual(funcNames(extBe), funcNames(ext));
  const lines = (e: typeof ext) => [...e.lineInfos].map(([sec, ls]) => [sec, [...new Set(ls.map((l) => l.line))].sort()]);
  assert.deepEqual(lines(extBe), lines(ext));
});

test('record sizes come from the file', () => {
  // func_info with 12-byte records: the known 8-byte prefix is read, the rest skipped.
  const spec = Spec.parse(objectSections('core.bpf.o').btf);
  const secName = [...Array(spec.stringsLength).keys()].find((o) => {
    try {
      return spec.stringAt(o) === 'xdp';
    } catch {
      return false;
    }
  })!;
  const words = [12, secName, 2, 0, 5, 0xdead, 8, 6, 0xbeef];
  const ext = new Uint8Array(24 + words.length * 4);
  const dv = new DataView(ext.buffer);
  dv.setUint16(0, 0xeb9f, true);
  ext[2] = 1;
  dv.setUint32(4, 24, true);
  dv.setUint32(8, 0, true);
  dv.setUint32(12, words.length * 4, true);
  words.forEach((w, i) => dv.setUint32(24 + i * 4, w, true));
  const parsed = parseBtfExt(ext, spec);
  assert.deepEqual(parsed.funcInfos.get('xdp'), [
    { insnOffset: 0, typeId: 5 },
    { insnOffset: 8, typeId: 6 },
  ]);
  assert.equal(parsed.recordSizes.funcInfo, 12);

  // A record size below the minimum, a count past the end, a bad string offset.
  for (const bad of [
    [4, secName, 1, 0],
    [8, secName, 1000, 0, 0],
    [8, 1 << 28, 1, 0, 0],
    [8, secName, 0],
  ]) {
    const b = new Uint8Array(24 + bad.length * 4);
    const d = new DataView(b.buffer);
    d.setUint16(0, 0xeb9f, true);
    b[2] = 1;
    d.setUint32(4, 24, true);
    d.setUint32(12, bad.length * 4, true);
    bad.forEach((w, i) => d.setUint32(24 + i * 4, w, true));
    assert.throws(() => parseBtfExt(b, spec), isBtfError, JSON.stringify(bad));
  }
  assert.throws(() => parseBtfExt(new Uint8Array(3), spec), isBtfError);
  assert.throws(() => parseBtfExt(new Uint8Array(30), spec), isBtfError);
});

test('func_info / line_info records for BPF_PROG_LOAD', () => {
  const fi = marshalFuncInfos([
    { insn: 0, typeId: 3 },
    { insn: 10, typeId: 7 },
  ], 'little');
  assert.deepEqual([...new Uint32Array(fi.buffer)], [0, 3, 10, 7]);
  const strs = new Map([
    ['f.c', 1],
    ['int x;', 5],
  ]);
  const li = marshalLineInfos([{ insn: 2, fileName: 'f.c', lineText: 'int x;', line: 12, column: 3 }], (s) => strs.get(s)!, 'little');
  assert.deepEqual([...new Uint32Array(li.buffer)], [2, 1, 5, (12 << 10) | 3]);
});
