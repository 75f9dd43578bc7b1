/**
 * `ebpf-ts prog ...` against bpftool on the same programs: `prog dump xlated` (source lines
 * from BTF, function prototypes, map and helper names, bpf-to-bpf calls, opcodes, linum; text,
 * -j and -p), `prog show` (BTF full names), `prog run`, `prog pin`, and the errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpfMap, Program, loadCollection, loadCollectionSpec } from '../../src/index.js';
import { Assembler, R0, R1, R2, R10, exit, mov64Imm } from '../../src/asm/index.js';
import { ensureBpffs, kernelSkipReason, uniqueName } from '../helpers/kernel.js';
import { both, cli, cliObject, haveBpftool, normalizeDisasm, normalizeLoadTime, ours, oursSpawned, theirs } from './helpers.js';

const skip = kernelSkipReason() ?? (haveBpftool ? undefined : 'bpftool is not installed');

test('prog dump xlated: the same listing as bpftool, with source lines, prototypes, calls and maps', { skip }, async () => {
  using col = loadCollection(loadCollectionSpec(cliObject));
  let lines = 0;
  for (const [name, prog] of col.programs) {
    const id = String(prog.id);
    for (const json of [[], ['-j'], ['-p']]) {
      // The pretty layout is the same whatever the fields: -p once, without options.
      for (const opt of json[0] === '-p' ? [[]] : [[], ['opcodes'], ['linum']]) {
        const r = await both(...json, 'prog', 'dump', 'xlated', 'id', id, ...opt);
        assert.equal(normalizeDisasm(r.ours), normalizeDisasm(r.theirs), `${name} ${json.join(' ')} ${opt.join(' ')}`);
        lines += r.ours.split('\n').length;
      }
    }
  }
  assert.ok(lines > 400);
  // What the listing holds, so that the comparison above covered it.
  const text = (await ours('prog', 'dump', 'xlated', 'id', String(col.program('cli_xdp').id))).stdout;
  assert.match(text, /^int cli_xdp\(struct xdp_md \* ctx\):$/m, 'the prototype from BTF');
  assert.match(text, /^int add_one\(int x\):$/m, 'the subprogram prototype');
  assert.match(text, /^; v = bpf_map_lookup_elem\(&counts, &key\);$/m, 'source lines from BTF line info');
  assert.match(text, new RegExp(`map\\[id:${col.map('counts').id}\\]`), 'map references by id');
  assert.match(text, new RegExp(`map\\[id:${col.map('.bss').id}\\]\\[0\\]\\+0`), 'global data references');
  assert.match(text, /call pc\+\d+#bpf_prog_[0-9a-f]{16}_add_one$/m, 'the bpf-to-bpf call, named from kallsyms');
  const linum = (await ours('-j', 'prog', 'dump', 'xlated', 'id', String(col.program('cli_xdp').id), 'linum')).stdout;
  const first = JSON.parse(linum)[0];
  assert.deepEqual(Object.keys(first), ['proto', 'src', 'file', 'line_num', 'line_col', 'disasm']);
  assert.equal(first.file, './cli.bpf.c');
});

test('prog dump xlated of a program without BTF, by pin, tag and name, and to a file', { skip }, async () => {
  ensureBpffs();
  using counts = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4, name: 'dump_counts' });
  const name = uniqueName('d').slice(0, 15);
  // A helper call (inlined by the kernel into a direct call named from kallsyms) and a map.
  const insns = new Assembler()
    .stMem('w', R10, -4, 0)
    .mov64Reg(R2, R10)
    .alu64Imm('add', R2, -4)
    .ldMapFd(R1, counts.fd.value)
    .call('bpf_map_lookup_elem')
    .mov64Imm(R0, 0)
    .exit()
    .build();
  using prog = Program.load({ type: 'SOCKET_FILTER', name, instructions: insns });
  const path = `/sys/fs/bpf/${uniqueName('cli_dump')}`;
  prog.pin(path);
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-ts-dump-'));
  try {
    const tag = prog.info().tag;
    for (const spec of [['pinned', path], ['tag', tag], ['name', name]]) {
      for (const json of [[], ['-j']]) {
        const r = await both(...json, 'prog', 'dump', 'xlated', ...spec, 'opcodes');
        assert.equal(r.ours, r.theirs, spec.join(' '));
      }
    }
    assert.match((await ours('prog', 'dump', 'xlated', 'pinned', path)).stdout, /call __htab_map_lookup_elem#\d+/, 'the inlined helper');
    assert.equal((await ours('prog', 'dump', 'xlated', 'pinned', path, 'file', join(dir, 'ours'))).status, 0);
    assert.equal(theirs('prog', 'dump', 'xlated', 'pinned', path, 'file', join(dir, 'theirs')).status, 0);
    assert.deepEqual(readFileSync(join(dir, 'ours')), readFileSync(join(dir, 'theirs')));
  } finally {
    prog.unpin();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prog show: BTF full names and every field as bpftool prints them', { skip }, async () => {
  using col = loadCollection(loadCollectionSpec(cliObject));
  for (const [name, prog] of col.programs) {
    for (const json of [[], ['-j'], ['-p']]) {
      const r = await both(...json, 'prog', 'show', 'id', String(prog.id));
      assert.equal(normalizeLoadTime(r.ours), normalizeLoadTime(r.theirs), `${name} ${json.join(' ')}`);
    }
    assert.match((await ours('prog', 'show', 'id', String(prog.id))).stdout, new RegExp(`^${prog.id}: \\w+  name ${name}  tag`));
  }
});

test('prog run: return value, packet and context out, as bpftool prints them', { skip }, async () => {
  using col = loadCollection(loadCollectionSpec(cliObject));
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-ts-run-'));
  const noDuration = (s: string) => s.replace(/duration( \(average\))?: \d+ns/, 'duration$1: Nns').replace(/"duration": ?\d+/, '"duration":N');
  try {
    const packet = join(dir, 'packet');
    writeFileSync(packet, Uint8Array.from({ length: 70 }, (_, i) => (i * 7) & 0xff));
    const xdp = String(col.program('cli_xdp').id);
    for (const json of [[], ['-j']]) {
      for (const extra of [[], ['data_out', '-'], ['data_out', '-', 'repeat', '20'], ['repeat', '3']]) {
        const r = await both(...json, 'prog', 'run', 'id', xdp, 'data_in', packet, ...extra);
        assert.equal(noDuration(r.ours), noDuration(r.theirs), `${json} ${extra.join(' ')}`);
      }
    }
    assert.match((await ours('prog', 'run', 'id', xdp, 'data_in', packet, 'repeat', '2')).stdout, /^Return value: 2, duration \(average\): \d+ns\n$/);
    // Output packet to a file.
    ok2(await ours('prog', 'run', 'id', xdp, 'data_in', packet, 'data_out', join(dir, 'out.ours')));
    ok2(theirs('prog', 'run', 'id', xdp, 'data_in', packet, 'data_out', join(dir, 'out.theirs')));
    const out = readFileSync(join(dir, 'out.ours'));
    assert.deepEqual(out, readFileSync(join(dir, 'out.theirs')));
    assert.equal(out[0], 0xab, 'the program rewrote the first byte');
    assert.equal(out.length, 70);

    // A context in and out: struct __sk_buff for the socket filter, which returns skb->len + 'h'.
    const ctx = join(dir, 'ctx');
    const skb = new Uint8Array(192);
    new DataView(skb.buffer).setUint32(8, 77, true); // mark
    writeFileSync(ctx, skb);
    const sock = String(col.program('cli_socket_filter_long').id);
    for (const json of [[], ['-j']]) {
      const r = await both(...json, 'prog', 'run', 'id', sock, 'data_in', packet, 'ctx_in', ctx, 'ctx_out', '-');
      assert.equal(noDuration(r.ours), noDuration(r.theirs), `ctx ${json}`);
    }
    const j = JSON.parse((await ours('-j', 'prog', 'run', 'id', sock, 'data_in', packet, 'ctx_in', ctx, 'ctx_out', '-')).stdout);
    assert.deepEqual(Object.keys(j), ['ctx_out', 'retval', 'duration']);
    // A socket filter sees the packet from its network header: 70 bytes less 14 of Ethernet.
    assert.equal(j.retval, 70 - 14 + 'h'.charCodeAt(0));
    assert.equal(j.ctx_out[8], 77, 'the mark came back');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function ok2(r: { status: number | null; stderr: string }): void {
  assert.equal(r.status, 0, r.stderr);
}

test('prog pin: bpftool finds the program at the pin', { skip }, async () => {
  ensureBpffs();
  using prog = Program.load({ type: 'SOCKET_FILTER', instructions: [mov64Imm(R0, 0), exit()], name: 'cli_pin' });
  const path = `/sys/fs/bpf/${uniqueName('cli_prog_pin')}`;
  try {
    assert.equal((await ours('-j', 'prog', 'pin', 'id', String(prog.id), path)).stdout, 'null\n');
    assert.equal(JSON.parse(theirs('-j', 'prog', 'show', 'pinned', path).stdout).id, prog.id);
    const r = await ours('prog', 'pin', 'id', String(prog.id), path);
    assert.equal(r.status, 1, 'the path is taken');
    assert.match(r.stderr, /EEXIST/);
  } finally {
    rmSync(path, { force: true });
  }
});

test('prog errors: unknown ids, wrong kinds, types without test run, usage', { skip }, async () => {
  ensureBpffs();
  // Through the real binary: exit status and stderr.
  let r = oursSpawned('prog', 'show', 'id', '2147483632');
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'ebpf-ts: no program with id 2147483632\n');
  r = await ours('-j', 'prog', 'dump', 'xlated', 'id', '2147483632');
  assert.deepEqual(JSON.parse(r.stdout), { error: 'no program with id 2147483632' }, 'bpftool -j reports errors as JSON');

  using map = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1, name: 'cli_notprog' });
  const path = `/sys/fs/bpf/${uniqueName('cli_map_not_prog')}`;
  map.pin(path);
  try {
    r = await ours('prog', 'dump', 'xlated', 'pinned', path);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is a pinned map, not a program/);
  } finally {
    map.unpin();
  }

  using tp = Program.load({ type: 'TRACEPOINT', instructions: [mov64Imm(R0, 0), exit()], name: 'cli_tp' });
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-ts-run-'));
  try {
    writeFileSync(join(dir, 'in'), new Uint8Array(8));
    r = await ours('prog', 'run', 'id', String(tp.id), 'ctx_in', join(dir, 'in'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /can't test-run tracepoint programs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  r = await ours('prog', 'frobnicate');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown prog command 'frobnicate'/);
  r = await ours('prog', 'dump', 'xlated', 'idx', '5');
  assert.equal(r.status, 2);
});

test('without privileges: EPERM, and what to do about it', { skip }, async (t) => {
  const probe = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', '0']);
  if (probe.status !== 0) {
    t.skip('cannot run node as an unprivileged user here (setpriv missing or node not accessible)');
    return;
  }
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, cli, 'prog', 'show'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /operation not permitted \(EPERM\): bpf\(\) needs root, or CAP_BPF/);
});
