/**
 * CO-RE checked by running a program: core_run.bpf.c reports what each of its relocations resolved
 * to (BPF_PROG_TEST_RUN of a syscall program writing .bss), and the test compares every value with
 * what it reads from the kernel's BTF itself. The same source is also compiled against the
 * vmlinux.h that `ebpf-ts btf dump ... format c` writes, along with the rest of the corpus that
 * includes vmlinux.h, and that object must load and report the same values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CollectionSpec, loadCollection } from '../../src/index.js';
import { findMember, loadKernelSpec, resolve, sizeof, type EnumType, type StructType } from '../../src/btf/index.js';
import { kernelSkipReason } from '../helpers/kernel.js';

const skip = kernelSkipReason();
const root = fileURLToPath(new URL('../../../', import.meta.url));
const testdata = join(root, 'test', 'testdata');
const cli = join(root, 'bin', 'ebpf-ts.js');

function hasClang(): boolean {
  try {
    execFileSync('clang-19', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** What each results[] slot must hold, computed from kernel BTF without the CO-RE engine. */
function expectedFromKernelBtf(): bigint[] {
  const k = loadKernelSpec();
  const task = k.findType('struct', 'task_struct') as StructType;
  const skb = k.findType('struct', 'sk_buff') as StructType;
  const mapType = k.findType('enum', 'bpf_map_type') as EnumType;
  const pid = findMember(task, 'pid')!;
  const comm = findMember(task, 'comm')!;
  const mark = findMember(skb, 'mark')!;
  const vruntime = findMember(task, 'se.vruntime')!;
  const pkt = findMember(skb, 'pkt_type')!;
  // libbpf's bitfield formulas (little endian): load the smallest aligned unit holding the field.
  const bitOff = pkt.bitOffset;
  const bitSz = pkt.member.bitfieldSize;
  let byteSz = sizeof(pkt.member.type);
  let byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
  while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
    byteSz *= 2;
    byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
  }
  const pidType = resolve(pid.member.type);
  return [
    BigInt(pid.bitOffset / 8),
    BigInt(sizeof(comm.member.type)),
    1n,
    0n,
    pidType.kind === 'int' && pidType.signed ? 1n : 0n,
    BigInt(skb.size),
    1n,
    mapType.values.find((v) => v.name === 'BPF_MAP_TYPE_RINGBUF')!.value,
    1n,
    BigInt(mark.bitOffset / 8),
    BigInt(64 - (bitOff + bitSz - byteOff * 8)),
    BigInt(64 - bitSz),
    BigInt(vruntime.bitOffset / 8),
    BigInt(task.id),
    0x1234n,
    0n,
  ];
}

function runReporter(object: Uint8Array): bigint[] {
  using coll = loadCollection(CollectionSpec.fromELF(object, { name: 'core_run' }));
  const prog = coll.programs.get('core_report');
  assert.ok(prog, 'program core_report loaded');
  assert.equal(prog.testRun({}).retval, 0);
  const bss = coll.globalData(coll.spec.variable('results').mapName);
  const view = new DataView(bss.buffer, bss.byteOffset, bss.byteLength);
  return Array.from({ length: 16 }, (_, i) => view.getBigUint64(i * 8, true));
}

test('CO-RE relocations, run in the kernel, report exactly what kernel BTF says', { skip }, () => {
  const object = readFileSync(join(testdata, 'corerun', 'core_run.bpf.o'));
  assert.deepEqual(runReporter(object), expectedFromKernelBtf());
});

test('the vmlinux.h ebpf-ts writes compiles the corpus, and the result relocates the same', { skip: skip ?? (hasClang() ? undefined : 'clang-19 not installed') }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-ts-vmlinux-'));
  try {
    const header = execFileSync(process.execPath, [cli, 'btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    writeFileSync(join(dir, 'vmlinux.h'), header);
    // Every source of the corpus that includes vmlinux.h.
    const sources = ['corerun/core_run.bpf.c', 'core/fields.bpf.c', 'core/types.bpf.c'];
    for (const src of sources) {
      const name = src.replace('/', '_');
      copyFileSync(join(testdata, src), join(dir, name));
      execFileSync('clang-19', ['-O2', '-g', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-I', dir, '-c', join(dir, name), '-o', join(dir, `${name}.o`)], {
        stdio: 'pipe',
      });
    }
    assert.deepEqual(runReporter(readFileSync(join(dir, 'corerun_core_run.bpf.c.o'))), expectedFromKernelBtf());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
