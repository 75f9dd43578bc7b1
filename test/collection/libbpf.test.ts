/**
 * Cross-check against libbpf: every program of the corpus loaded by ebpf-ts must have the same
 * kernel tag as the same program loaded by `bpftool prog loadall` (libbpf), and use maps the
 * kernel describes the same way (names, types, flags, sizes).
 *
 * What the tag hashes (kernel/bpf/core.c, bpf_prog_calc_tag): the instructions as submitted to
 * BPF_PROG_LOAD, before the verifier rewrites anything, with the imm of both halves of every
 * ld_imm64 BPF_PSEUDO_MAP_FD / BPF_PSEUDO_MAP_VALUE zeroed (map fds differ between loads; for
 * MAP_VALUE that drops the offset into the value too). The src_reg stays, and so do
 * everything else: BPF-to-BPF call offsets (so the subprogram layout), kfunc and BTF ids,
 * ksym addresses, CO-RE results. Linux 6.18 hashes with SHA-256 (older kernels SHA-1) and
 * keeps the first 8 bytes. The first test checks this against our own instructions, so that a
 * tag match means "same instructions" rather than "same hashing accident".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadCollection, loadCollectionSpec, type Collection } from '../../src/collection/index.js';
import { BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, LD_IMM64, encodeInstructions } from '../../src/asm/index.js';
import { kernelSkipReason, uniqueName } from '../helpers/kernel.js';

const dir = fileURLToPath(new URL('../../../test/testdata/collection/', import.meta.url));
const haveBpftool = spawnSync('bpftool', ['version']).status === 0;
const skip = kernelSkipReason() ?? (haveBpftool ? undefined : 'bpftool is not installed');

/** Objects libbpf (bpftool 7.1 / libbpf 1.1) loads on this kernel. */
const CROSS_CHECKED = ['basic', 'subprogs', 'globals', 'maps', 'kconfig', 'ksyms', 'attach', 'sections', 'pinning', 'core'];

/** The kernel's tag computation, over the instructions we submitted. */
function expectedTag(insns: Parameters<typeof encodeInstructions>[0], alg: 'sha256' | 'sha1'): string {
  const bytes = encodeInstructions(
    insns.map((i) => (i.opcode === LD_IMM64 && (i.src === BPF_PSEUDO_MAP_FD || i.src === BPF_PSEUDO_MAP_VALUE) ? { ...i, imm: 0, imm64: 0n } : i)),
  );
  return createHash(alg).update(bytes).digest('hex').slice(0, 16);
}

interface MapShape {
  name: string;
  type: string;
  flags: number;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
  frozen?: number;
}

function bpftoolJson<T>(...args: string[]): T {
  return JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' })) as T;
}

function mapShapes(progId: number): MapShape[] {
  const p = bpftoolJson<{ map_ids?: number[] }>('prog', 'show', 'id', String(progId));
  return (p.map_ids ?? [])
    .map((id) => {
      const m = bpftoolJson<MapShape & { id: number }>('map', 'show', 'id', String(id));
      return { name: m.name, type: m.type, flags: m.flags, bytes_key: m.bytes_key, bytes_value: m.bytes_value, max_entries: m.max_entries, frozen: m.frozen };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

test('the kernel tag is the hash of the submitted instructions with map fd immediates zeroed', { skip }, () => {
  const c = loadCollection(loadCollectionSpec(`${dir}globals.bpf.o`), { pinPath: `/sys/fs/bpf/${uniqueName('ebpf_ts_tag')}` });
  try {
    for (const [name, prog] of c.programs) {
      const tag = prog.info().tag;
      const insns = c.instructions.get(name)!;
      assert.ok(insns.some((i) => i.src === BPF_PSEUDO_MAP_VALUE), 'the program has map value references');
      assert.ok([expectedTag(insns, 'sha256'), expectedTag(insns, 'sha1')].includes(tag), `${name}: kernel tag ${tag}`);
    }
  } finally {
    c.close();
  }
});

for (const name of CROSS_CHECKED) {
  test(`${name}.bpf.o: same program tags and map shapes as libbpf (bpftool prog loadall)`, { skip }, () => {
    const obj = `${dir}${name}.bpf.o`;
    const theirDir = `/sys/fs/bpf/${uniqueName(`ebpf_ts_libbpf_${name}`)}`;
    const ourPins = `/sys/fs/bpf/${uniqueName('ebpf_ts_ours')}`;
    const spec = loadCollectionSpec(obj);
    // bpftool pins LIBBPF_PIN_BY_NAME maps in /sys/fs/bpf itself: remember what to remove.
    const libbpfPins = [...spec.maps.values()].filter((m) => m.pinning === 'byName').map((m) => `/sys/fs/bpf/${m.name}`);
    let ours: Collection | undefined;
    try {
      ours = loadCollection(spec, { pinPath: ourPins });
      const r = spawnSync('bpftool', ['prog', 'loadall', obj, theirDir], { encoding: 'utf8' });
      assert.equal(r.status, 0, `bpftool prog loadall failed: ${r.stderr}`);
      const programs = [...ours.programs];
      assert.ok(programs.length > 0);
      for (const [prog, p] of programs) {
        const theirs = bpftoolJson<{ id: number; tag: string; type: string; name: string }>('prog', 'show', 'pinned', `${theirDir}/${prog}`);
        const mine = bpftoolJson<{ id: number; tag: string; type: string; name: string }>('prog', 'show', 'id', String(p.id));
        assert.equal(mine.tag, theirs.tag, `${name}/${prog}: tag`);
        assert.equal(mine.type, theirs.type, `${name}/${prog}: type`);
        assert.equal(mine.name, theirs.name, `${name}/${prog}: name`);
        assert.deepEqual(mapShapes(mine.id), mapShapes(theirs.id), `${name}/${prog}: maps`);
      }
    } finally {
      ours?.close();
      rmSync(theirDir, { recursive: true, force: true });
      rmSync(ourPins, { recursive: true, force: true });
      for (const p of libbpfPins) rmSync(p, { force: true });
    }
  });
}

test('objects the kernel refuses are refused by libbpf too', { skip }, () => {
  // ksym_var: no kallsyms address without CONFIG_KALLSYMS_ALL; tracing: no trampolines / BPF
  // LSM here; missing_target: no such attach target; reject: the verifier says no.
  for (const name of ['ksym_var', 'tracing', 'missing_target', 'reject']) {
    const obj = `${dir}${name}.bpf.o`;
    let oursFailed = false;
    try {
      loadCollection(loadCollectionSpec(obj), { pinPath: `/sys/fs/bpf/${uniqueName('ebpf_ts_r')}` }).close();
    } catch {
      oursFailed = true;
    }
    const theirDir = `/sys/fs/bpf/${uniqueName(`ebpf_ts_libbpf_${name}`)}`;
    const r = spawnSync('bpftool', ['prog', 'loadall', obj, theirDir], { encoding: 'utf8' });
    rmSync(theirDir, { recursive: true, force: true });
    assert.equal(oursFailed, r.status !== 0, `${name}: ebpf-ts ${oursFailed ? 'failed' : 'loaded'}, libbpf ${r.status !== 0 ? 'failed' : 'loaded'}`);
  }
});
