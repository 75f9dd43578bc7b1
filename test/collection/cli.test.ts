/**
 * The CLI commands built on collections and BTF: `ebpf-ts prog loadall` (compared with bpftool's)
 * and `ebpf-ts btf dump file PATH format c|ts|raw` (the C header must compile BPF programs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernelSkipReason, uniqueName } from '../helpers/kernel.js';

const cli = fileURLToPath(new URL('../../../bin/ebpf-ts.js', import.meta.url));
const dir = fileURLToPath(new URL('../../../test/testdata/collection/', import.meta.url));
const skip = kernelSkipReason();
const haveBpftool = spawnSync('bpftool', ['version']).status === 0;
const haveClang = spawnSync('clang-19', ['--version']).status === 0;

function run(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
}

function tagOf(path: string): string {
  return (JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'pinned', path], { encoding: 'utf8' })) as { tag: string }).tag;
}

test('prog loadall pins every program by name, with the tags bpftool loadall gives', { skip: skip ?? (haveBpftool ? undefined : 'no bpftool') }, () => {
  const ours = `/sys/fs/bpf/${uniqueName('ebpf_ts_cli')}`;
  const theirs = `/sys/fs/bpf/${uniqueName('ebpf_ts_cli_bpftool')}`;
  const maps = `/sys/fs/bpf/${uniqueName('ebpf_ts_cli_maps')}`;
  try {
    for (const obj of ['subprogs', 'globals']) {
      const r = run('prog', 'loadall', `${dir}${obj}.bpf.o`, ours, 'pinmaps', maps);
      assert.equal(r.status, 0, r.stderr);
      execFileSync('bpftool', ['prog', 'loadall', `${dir}${obj}.bpf.o`, theirs]);
      const names = readdirSync(ours).sort();
      assert.deepEqual(names, readdirSync(theirs).sort(), `${obj}: same pins`);
      for (const n of names) assert.equal(tagOf(join(ours, n)), tagOf(join(theirs, n)), `${obj}/${n}`);
      rmSync(ours, { recursive: true, force: true });
      rmSync(theirs, { recursive: true, force: true });
    }
    // pinmaps: internal maps under their kernel names, dots made '_' (bpffs refuses them), as
    // libbpf pins them.
    assert.deepEqual(readdirSync(maps).sort(), ['_data_custom', '_rodata_custom', 'globals_bss', 'globals_data', 'globals_rodata']);
    const theirMaps = `/sys/fs/bpf/${uniqueName('ebpf_ts_cli_bpftool_maps')}`;
    try {
      execFileSync('bpftool', ['prog', 'loadall', `${dir}globals.bpf.o`, theirs, 'pinmaps', theirMaps]);
      assert.deepEqual(readdirSync(maps).sort(), readdirSync(theirMaps).sort(), 'the names bpftool pins maps under');
    } finally {
      rmSync(theirMaps, { recursive: true, force: true });
    }
  } finally {
    for (const d of [ours, theirs, maps]) rmSync(d, { recursive: true, force: true });
  }
});

test('prog loadall of a program the verifier rejects: non-zero exit, the verifier lines on stderr, nothing pinned', { skip }, () => {
  const pins = `/sys/fs/bpf/${uniqueName('ebpf_ts_cli_rej')}`;
  try {
    const r = run('prog', 'loadall', `${dir}reject.bpf.o`, pins);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /the verifier rejected program 'bad_prog'/);
    assert.match(r.stderr, /invalid access to packet/);
    assert.match(r.stderr, /R1 offset is outside of the packet/);
    assert.ok(!existsSync(pins) || readdirSync(pins).length === 0, 'no pins left');
  } finally {
    rmSync(pins, { recursive: true, force: true });
  }
});

test('prog loadall of a malformed object or a missing file fails with the reason; bad usage exits 2', { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ebpf-ts-cli-'));
  const pins = `/sys/fs/bpf/${uniqueName('ebpf_ts_cli_bad')}`;
  try {
    const bad = join(tmp, 'bad.bpf.o');
    writeFileSync(bad, Buffer.from('\x7fELF this is not really an object'));
    let r = run('prog', 'loadall', bad, pins);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ELF/);
    r = run('prog', 'loadall', join(tmp, 'missing.o'), pins);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ENOENT|no such file/i);
    r = run('prog', 'loadall', `${dir}basic.bpf.o`);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /usage: prog loadall OBJ PINDIR/);
    r = run('prog', 'loadall', `${dir}missing_target.bpf.o`, pins);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /attach target 'ebpf_ts_no_such_tracepoint'/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(pins, { recursive: true, force: true });
  }
});

test('btf dump file vmlinux format c is a header clang-19 compiles BPF programs against', { skip: haveClang ? undefined : 'no clang-19' }, () => {
  if (!existsSync('/sys/kernel/btf/vmlinux')) return;
  const tmp = mkdtempSync(join(tmpdir(), 'ebpf-ts-vmlinux-'));
  try {
    const r = spawnSync(process.execPath, [cli, 'btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^#ifndef __VMLINUX_H__/);
    assert.match(r.stdout, /struct task_struct \{/);
    writeFileSync(join(tmp, 'vmlinux.h'), r.stdout);
    writeFileSync(
      join(tmp, 'prog.bpf.c'),
      [
        '#include "vmlinux.h"',
        '#include <bpf/bpf_helpers.h>',
        '#include <bpf/bpf_core_read.h>',
        'SEC("tp_btf/sched_switch")',
        'int on_switch(u64 *ctx) { struct task_struct *t = (void *)ctx[1]; return BPF_CORE_READ(t, pid) > 0; }',
        'char LICENSE[] SEC("license") = "GPL";',
      ].join('\n'),
    );
    const cc = spawnSync('clang-19', ['-O2', '-g', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-c', join(tmp, 'prog.bpf.c'), '-o', join(tmp, 'prog.bpf.o')], { encoding: 'utf8' });
    assert.equal(cc.status, 0, cc.stderr);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('btf dump file of an object: TypeScript declarations, C and raw listings of its .BTF', () => {
  let r = run('btf', 'dump', 'file', `${dir}globals.bpf.o`, 'format', 'ts');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /export interface Settings \{/);
  r = run('btf', 'dump', 'file', `${dir}globals.bpf.o`, 'format', 'c');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /struct settings \{/);
  r = run('btf', 'dump', 'file', `${dir}basic.bpf.o`, 'format', 'raw');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\[1\] /);
  assert.match(r.stdout, /FUNC 'count_packets'/);
  if (haveBpftool) {
    const theirs = execFileSync('bpftool', ['btf', 'dump', 'file', `${dir}basic.bpf.o`, 'format', 'raw'], { encoding: 'utf8' });
    assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('[')).length, theirs.split('\n').filter((l) => l.startsWith('[')).length, 'as many types as bpftool lists');
  }
  r = run('btf', 'dump', 'file', `${dir}basic.bpf.o`, 'format', 'yaml');
  assert.equal(r.status, 2);
  r = run('btf', 'dump', 'file', cli);
  assert.equal(r.status, 1, 'not BTF');
});
