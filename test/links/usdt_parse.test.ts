/**
 * USDT notes and argument specifications, pure: the probes of a binary built with
 * <sys/sdt.h> against readelf's reading of them, argument specs of every form, and the
 * encoding of libbpf's struct __bpf_usdt_spec.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ElfFile } from '../../src/elf/index.js';
import { parseUsdtArgs, readUsdtProbes, X86_64_PT_REGS_OFFSETS } from '../../src/elf/usdt.js';
import { FormatError, encodeUsdtSpec, USDT_SPEC_SIZE } from '../../src/index.js';
import { buildTarget } from './helpers.js';

const haveGcc = (() => {
  try {
    execFileSync('gcc', ['--version']);
    execFileSync('readelf', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

test('probes of a binary built with <sys/sdt.h>: the same as readelf -n reads them', { skip: haveGcc ? undefined : 'needs gcc and readelf' }, () => {
  const t = buildTarget();
  try {
    const elf = ElfFile.parse(new Uint8Array(readFileSync(t.path)));
    const probes = readUsdtProbes(elf);
    const text = execFileSync('readelf', ['-n', t.path], { encoding: 'utf8' });
    const theirs = [...text.matchAll(/Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), Semaphore: (0x[0-9a-f]+)\s+Arguments: ([^\n]*)/g)].map((m) => ({
      provider: m[1],
      name: m[2],
      address: BigInt(m[3]!),
      base: BigInt(m[4]!),
      semaphore: BigInt(m[5]!),
      argsText: m[6]!.trim(),
    }));
    assert.equal(theirs.length, 2);
    assert.deepEqual(
      probes.map((p) => ({ provider: p.provider, name: p.name, address: p.address, base: p.base, semaphore: p.semaphore, argsText: p.argsText })),
      theirs,
    );
    const names = Object.fromEntries(probes.map((p) => [p.name, p]));
    // Not prelinked: .stapsdt.base is where the notes say, so nothing moved.
    assert.equal(elf.sectionByName('.stapsdt.base')!.addr, probes[0]!.base);
    for (const p of probes) {
      assert.equal(p.fileOffset, elf.addressToFileOffset(p.address));
      assert.equal(p.semaphoreOffset, elf.addressToFileOffset(p.semaphore));
      assert.equal(p.args.length, 3);
    }
    assert.deepEqual(names.plain!.args[2], { size: 4, signed: true, location: { kind: 'const', value: 42n }, text: '-4@$42' });
    assert.deepEqual(names.gated!.args[2]!.location, { kind: 'const', value: -2n });
    assert.equal(names.gated!.args[2]!.size, 1);
    // The probe address is a nop in .text.
    const text0 = elf.sectionByName('.text')!;
    const off = names.plain!.fileOffset!;
    assert.ok(off >= text0.offset && off < text0.offset + text0.size);
    assert.equal(elf.bytes[off], 0x90);
  } finally {
    t.cleanup();
  }
});

test('the relocatable fixture of test/testdata/elf: notes read, no file offsets (no segments)', () => {
  const path = new URL('../../../test/testdata/elf/usdt.x86_64.o', import.meta.url);
  const probes = readUsdtProbes(ElfFile.parse(new Uint8Array(readFileSync(path))));
  assert.deepEqual(
    probes.map((p) => [p.provider, p.name, p.argsText, p.fileOffset]),
    [
      ['fixture', 'request__start', '-4@%edi', undefined],
      ['fixture', 'request__done', '-4@%edi -4@%eax', undefined],
    ],
  );
});

test('argument specs: registers, memory, SIB, constants, sizes and signs; malformed ones refused', () => {
  const args = parseUsdtArgs('-4@%eax 8@-16(%rbp) 2@(%r12) -1@$-3 8@$0x10 4@8(%rax,%rbx,4) 8@%r9d 1@%sil');
  assert.deepEqual(
    args.map((a) => [a.size, a.signed, a.location]),
    [
      [4, true, { kind: 'reg', reg: 'rax' }],
      [8, false, { kind: 'deref', reg: 'rbp', offset: -16n }],
      [2, false, { kind: 'deref', reg: 'r12', offset: 0n }],
      [1, true, { kind: 'const', value: -3n }],
      [8, false, { kind: 'const', value: 16n }],
      [4, false, { kind: 'sib', reg: 'rax', indexReg: 'rbx', scale: 4, offset: 8n }],
      [8, false, { kind: 'reg', reg: 'r9' }],
      [1, false, { kind: 'reg', reg: 'rsi' }],
    ],
  );
  assert.deepEqual(parseUsdtArgs('  '), []);
  const arm = parseUsdtArgs('8@x0 -4@[sp, 12] 4@[x1] -8@5 4@w3', 183);
  assert.deepEqual(arm.map((a) => a.location), [
    { kind: 'reg', reg: 'x0' },
    { kind: 'deref', reg: 'sp', offset: 12n },
    { kind: 'deref', reg: 'x1', offset: 0n },
    { kind: 'const', value: 5n },
    { kind: 'reg', reg: 'x3' },
  ]);
  for (const bad of ['4%eax', '3@%eax', '4@%xyz', '4@%ah', '4@(%rax,%rbx,3)', '4@foo', '@%eax']) {
    assert.throws(() => parseUsdtArgs(bad), FormatError, bad);
  }
});

test('struct __bpf_usdt_spec as usdt.bpf.h reads it', () => {
  const spec = encodeUsdtSpec(parseUsdtArgs('-4@%ecx 8@-16(%rbp) -1@$-2'), 0x1234n, 'x64');
  assert.equal(spec.length, USDT_SPEC_SIZE);
  const v = new DataView(spec.buffer);
  // arg 0: REG (1), reg_off of rcx, signed, bitshift 32.
  assert.equal(v.getUint32(8, true), 1);
  assert.equal(v.getInt16(12, true), X86_64_PT_REGS_OFFSETS.rcx);
  assert.equal(v.getUint8(14), 1);
  assert.equal(v.getInt8(15), 32);
  // arg 1: REG_DEREF (2), val_off -16, rbp, unsigned, bitshift 0.
  assert.equal(v.getBigInt64(16, true), -16n);
  assert.equal(v.getUint32(24, true), 2);
  assert.equal(v.getInt16(28, true), X86_64_PT_REGS_OFFSETS.rbp);
  assert.equal(v.getInt8(31), 0);
  // arg 2: CONST (0), value -2, bitshift 56.
  assert.equal(v.getBigInt64(32, true), -2n);
  assert.equal(v.getUint32(40, true), 0);
  assert.equal(v.getInt8(47), 56);
  assert.equal(v.getBigUint64(192, true), 0x1234n);
  assert.equal(v.getInt16(200, true), 3);
  assert.throws(() => encodeUsdtSpec(parseUsdtArgs(Array(13).fill('8@%rax').join(' ')), 0n));
});
