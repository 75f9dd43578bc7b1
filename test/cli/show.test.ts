/**
 * The CLI against bpftool on the same kernel objects: same ids, names, types, tags, sizes, and
 * the same JSON field names; the same feature probe verdicts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BpfMap, Program } from '../../src/index.js';
import { R0, exit, mov64Imm } from '../../src/asm/index.js';
import { counterProgram } from '../helpers/programs.js';
import { kernelSkipReason } from '../helpers/kernel.js';

const skip = kernelSkipReason();
const cli = fileURLToPath(new URL('../../../bin/ebpf-ts.js', import.meta.url));
const run = (...args: string[]) => execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const bpftool = (...args: string[]) => execFileSync('bpftool', args, { encoding: 'utf8' });

test('prog show: same text layout and JSON fields as bpftool', { skip }, () => {
  using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1, name: 'cli_map' });
  using p = counterProgram('SOCKET_FILTER', m, 'cli_prog');
  const id = String(p.id);
  const ours = run('prog', 'show', 'id', id);
  const theirs = bpftool('prog', 'show', 'id', id);
  // loaded_at is computed from the boot time, which can round to a neighbouring second.
  const norm = (s: string) => s.replace(/loaded_at \S+/, 'loaded_at T');
  assert.equal(norm(ours), norm(theirs));
  const oj = JSON.parse(run('-j', 'prog', 'show', 'id', id));
  const tj = JSON.parse(bpftool('-j', 'prog', 'show', 'id', id));
  assert.deepEqual(Object.keys(oj), Object.keys(tj), 'the same fields in the same order');
  for (const k of ['id', 'type', 'name', 'tag', 'gpl_compatible', 'uid', 'bytes_xlated', 'jited', 'bytes_jited', 'bytes_memlock', 'map_ids']) {
    assert.deepEqual(oj[k], tj[k], k);
  }
  assert.ok(Math.abs(oj.loaded_at - tj.loaded_at) <= 1);
});

test('map show and list: same as bpftool', { skip }, () => {
  using m = BpfMap.create({ type: 'HASH', keySize: 8, valueSize: 16, maxEntries: 32, name: 'cli_hash' });
  using f = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 2, name: 'cli_frozen' });
  f.freeze();
  for (const map of [m, f]) {
    const id = String(map.id);
    assert.equal(run('map', 'show', 'id', id), bpftool('map', 'show', 'id', id));
    // One object for one map, as bpftool prints it (an array when listing).
    const oj = JSON.parse(run('-j', 'map', 'show', 'id', id));
    const tj = JSON.parse(bpftool('-j', 'map', 'show', 'id', id));
    assert.deepEqual(oj, tj);
  }
  const listed = JSON.parse(run('-j', 'map', 'list')).map((x: { id: number }) => x.id);
  assert.ok(listed.includes(m.id) && listed.includes(f.id));
});

test('a program pinned on bpffs is found by path', { skip }, () => {
  using p = Program.load({ type: 'SOCKET_FILTER', instructions: [mov64Imm(R0, 0), exit()], name: 'cli_pinned' });
  const path = `/sys/fs/bpf/ebpf_ts_cli_${process.pid}`;
  p.pin(path);
  try {
    assert.match(run('prog', 'show', 'pinned', path), new RegExp(`^${p.id}: socket_filter  name cli_pinned  tag ${p.info().tag}`));
  } finally {
    p.unpin();
  }
});

test('feature probe agrees with bpftool on every type bpftool knows', { skip }, () => {
  const parse = (text: string) =>
    new Map(
      [...text.matchAll(/eBPF (program_type|map_type) (\S+) is (NOT )?available/g)].map((m) => [`${m[1]} ${m[2]}`, !m[3]] as const),
    );
  const ours = parse(run('feature', 'probe'));
  const theirs = parse(bpftool('feature', 'probe'));
  assert.ok(theirs.size > 40, 'bpftool printed its probe');
  for (const [k, v] of theirs) assert.equal(ours.get(k), v, k);
  assert.equal(ours.get('program_type tracing'), false, 'fentry/fexit programs do not load on this kernel');
});

test('usage errors exit 2 with a message', { skip }, () => {
  assert.throws(() => run('frobnicate'), (e: { status?: number; stderr?: string }) => e.status === 2 && /unknown object/.test(String(e.stderr)));
  assert.throws(() => run('prog', 'show', 'id', '4294967295'), (e: { status?: number; stderr?: string }) => e.status === 1 && /no program with id 4294967295/.test(String(e.stderr)));
});
