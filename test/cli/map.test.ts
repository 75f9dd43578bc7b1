/**
 * `ebpf-ts map ...` against bpftool on the same maps: `map dump` and `map lookup` formatted
 * through BTF (structs, unions, arrays, enums, bitfields, strings, pointers, bools, per-CPU
 * values, global data sections) or as hex, `map getnext`, `map update|delete` (the kernel
 * holds what we wrote: bpftool reads it back), `map pin`, and the errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, Program, loadCollection, loadCollectionSpec } from '../../src/index.js';
import { R0, exit, mov64Imm } from '../../src/asm/index.js';
import { ensureBpffs, kernelSkipReason, uniqueName } from '../helpers/kernel.js';
import { both, cliObject, haveBpftool, ours, theirs } from './helpers.js';
import { rmSync } from 'node:fs';

const skip = kernelSkipReason() ?? (haveBpftool ? undefined : 'bpftool is not installed');

/** struct record of cli.bpf.c, as 64 bytes: count, delta, flag:1, level:3, name, color, pts, word, total, ptr, on. */
function record(count: number, color: number, ptr: bigint): string[] {
  const b = new Uint8Array(64);
  const v = new DataView(b.buffer);
  v.setUint32(0, count, true);
  v.setInt16(4, -2, true);
  b[6] = 1 | (6 << 1);
  b.set(new TextEncoder().encode('hello'), 7);
  v.setUint32(16, color, true);
  [1, 2, 3, 4].forEach((x, i) => v.setInt32(20 + 4 * i, x, true));
  b.set([0x41, 0x42, 0x43, 0x44], 36);
  v.setBigUint64(40, 0xffffffffffffffffn, true);
  v.setBigUint64(48, ptr, true);
  b[56] = 1;
  return Array.from(b, (x) => x.toString(16).padStart(2, '0'));
}

/** Compares text, -j and -p output of both tools for the same arguments. */
async function sameEverywhere(...args: string[]): Promise<void> {
  await sameIn([[], ['-j'], ['-p']], ...args);
}

/** Compares text and -j output (the -p layout is checked on the BTF maps, where it matters most). */
async function sameTextAndJson(...args: string[]): Promise<void> {
  await sameIn([[], ['-j']], ...args);
}

async function sameIn(modes: string[][], ...args: string[]): Promise<void> {
  for (const json of modes) {
    const r = await both(...json, ...args);
    assert.equal(r.ours, r.theirs, `${json.join(' ')} ${args.join(' ')}`);
  }
}

/** Like sameEverywhere, for commands that fail in both tools when there is nothing to show. */
async function sameOrBothFail(...args: string[]): Promise<void> {
  for (const json of [[], ['-j']]) {
    const t = theirs(...json, ...args);
    const o = await ours(...json, ...args);
    if (t.status === 0) assert.equal(o.stdout, t.stdout, `${json.join(' ')} ${args.join(' ')}`);
    else assert.notEqual(o.status, 0, `bpftool failed (${t.stderr.trim()}), ebpf-ts did not`);
  }
}

test('map update, dump, lookup, getnext and delete of a BTF map, compared with bpftool', { skip }, async () => {
  using col = loadCollection(loadCollectionSpec(cliObject));
  const id = String(col.map('records').id);
  // Updates through our CLI, in hex and in decimal.
  assert.equal((await ours('map', 'update', 'id', id, 'key', '1', '0', '0', '0', '2', '0', '0', '0', 'value', 'hex', ...record(5, 2, 0n))).status, 0);
  assert.equal((await ours('map', 'update', 'id', id, 'key', 'hex', '03', '00', '00', '00', '04', '00', '00', '00', 'value', 'hex', ...record(7, 9, 0x8070605040302010n), 'noexist')).status, 0);
  assert.equal((await ours('-j', 'map', 'update', 'id', id, 'key', '5', '0', '0', '0', '6', '0', '0', '0', 'value', 'hex', ...record(0xffffffff, 4, 1n), 'any')).stdout, 'null\n');
  // bpftool reads back what the kernel stored.
  const entries = JSON.parse(theirs('-j', 'map', 'dump', 'id', id).stdout) as { formatted: { key: { x: number }; value: Record<string, unknown> } }[];
  assert.equal(entries.length, 3);
  const byX = new Map(entries.map((e) => [e.formatted.key.x, e.formatted.value]));
  assert.equal(byX.get(1)!.color, 'GREEN');
  assert.equal(byX.get(3)!.color, 9, 'no enumerator matches 9');
  assert.equal(byX.get(5)!.count, 0xffffffff);
  assert.equal(byX.get(1)!.name, 'hello');

  await sameEverywhere('map', 'dump', 'id', id);
  for (const key of [['1', '0', '0', '0', '2', '0', '0', '0'], ['hex', '03', '00', '00', '00', '04', '00', '00', '00']]) {
    await sameTextAndJson('map', 'lookup', 'id', id, 'key', ...key);
    await sameOrBothFail('map', 'getnext', 'id', id, 'key', ...key);
  }
  await sameTextAndJson('map', 'getnext', 'id', id);
  // What the BTF text layout looks like, so that the comparisons above covered it.
  const text = (await ours('map', 'lookup', 'id', id, 'key', '3', '0', '0', '0', '4', '0', '0', '0')).stdout;
  for (const want of ['"x": 3', '"delta": -2', '"flag": 0x1', '"level": 0x6', '"name": "hello"', '"color": 9', '"bytes": [65,66,67,68', '"total": 18446744073709551615', '"ptr": 0x8070605040302010', '"on": true']) {
    assert.ok(text.includes(want), `${want} in\n${text}`);
  }
  // A key that isn't there: bpftool's "Not found" (and null with -j).
  const missing = ['map', 'lookup', 'id', id, 'key', '9', '0', '0', '0', '9', '0', '0', '0'];
  assert.equal((await ours(...missing)).stdout, theirs(...missing).stdout);
  assert.equal((await ours('-j', ...missing)).stdout, 'null\n');

  // Delete through our CLI; bpftool no longer finds it.
  assert.equal((await ours('map', 'delete', 'id', id, 'key', '1', '0', '0', '0', '2', '0', '0', '0')).status, 0);
  assert.match(theirs('map', 'lookup', 'id', id, 'key', '1', '0', '0', '0', '2', '0', '0', '0').stdout, /Not found/);
  await sameEverywhere('map', 'dump', 'id', id);
});

test('per-CPU values, global data sections and maps without BTF, compared with bpftool', { skip }, async () => {
  using col = loadCollection(loadCollectionSpec(cliObject));
  const percpu = String(col.map('percpu').id);
  // One value for every CPU, as bpftool does.
  assert.equal((await ours('map', 'update', 'id', percpu, 'key', '1', '0', '0', '0', 'value', '0x2a', '0', '0', '0', '0', '1', '0', '0')).status, 0);
  const values = JSON.parse(theirs('-j', 'map', 'lookup', 'id', percpu, 'key', '1', '0', '0', '0').stdout).formatted.values;
  assert.ok(values.length >= 1);
  for (const v of values) assert.equal(v.value, 2 ** 40 + 42);
  await sameEverywhere('map', 'dump', 'id', percpu);
  await sameEverywhere('map', 'lookup', 'id', percpu, 'key', '1', '0', '0', '0');
  for (const name of ['.bss', '.data', '.rodata']) await sameTextAndJson('map', 'dump', 'id', String(col.map(name).id));

  using hash = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 8, name: 'cli_plain' });
  using wide = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 20, maxEntries: 3, name: 'cli_wide' });
  using big = BpfMap.create({ type: 'HASH', keySize: 20, valueSize: 4, maxEntries: 3, name: 'cli_bigkey' });
  using pc = BpfMap.create({ type: 'PERCPU_HASH', keySize: 4, valueSize: 20, maxEntries: 3, name: 'cli_pchash' });
  for (let i = 1; i <= 3; i++) {
    assert.equal((await ours('map', 'update', 'id', String(hash.id), 'key', String(i), '0', '0', '0', 'value', ...Array.from({ length: 8 }, (_, j) => String(i * 16 + j)))).status, 0);
    assert.equal((await ours('map', 'update', 'id', String(big.id), 'key', 'hex', ...Array.from({ length: 20 }, (_, j) => (i + j).toString(16)), 'value', '1', '2', '3', String(i))).status, 0);
  }
  assert.equal((await ours('map', 'update', 'id', String(wide.id), 'key', '1', '0', '0', '0', 'value', ...Array.from({ length: 20 }, (_, j) => String(j)), 'exist')).status, 0);
  assert.equal((await ours('map', 'update', 'id', String(pc.id), 'key', '7', '0', '0', '0', 'value', ...Array.from({ length: 20 }, (_, j) => String(200 + j)))).status, 0);
  for (const m of [hash, wide, big, pc]) {
    await sameTextAndJson('map', 'dump', 'id', String(m.id));
    await sameTextAndJson('map', 'getnext', 'id', String(m.id));
  }
  await sameTextAndJson('map', 'lookup', 'id', String(hash.id), 'key', '2', '0', '0', '0');
  await sameTextAndJson('map', 'lookup', 'id', String(pc.id), 'key', '7', '0', '0', '0');
  assert.match((await ours('map', 'dump', 'id', String(hash.id))).stdout, /^key: 01 00 00 00  value: 10 11 12 13 14 15 16 17$/m);
  assert.match((await ours('map', 'dump', 'id', String(hash.id))).stdout, /^Found 3 elements$/m);

  // map dump name: every map of that name (a unique one here).
  const name = uniqueName('n').slice(0, 15);
  using named = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 2, name });
  await sameTextAndJson('map', 'dump', 'name', named.name);
});

test('a program array takes a program as its value', { skip }, async () => {
  using progs = BpfMap.create({ type: 'PROG_ARRAY', keySize: 4, valueSize: 4, maxEntries: 2, name: 'cli_progs' });
  using prog = Program.load({ type: 'SOCKET_FILTER', instructions: [mov64Imm(R0, 0), exit()], name: 'cli_tail' });
  assert.equal((await ours('map', 'update', 'id', String(progs.id), 'key', '1', '0', '0', '0', 'value', 'id', String(prog.id))).status, 0);
  await sameTextAndJson('map', 'dump', 'id', String(progs.id));
  assert.equal(JSON.parse(theirs('-j', 'map', 'lookup', 'id', String(progs.id), 'key', '1', '0', '0', '0').stdout).value[0], `0x${(prog.id & 0xff).toString(16).padStart(2, '0')}`);
});

test('map pin, and the errors of map commands', { skip }, async () => {
  ensureBpffs();
  using m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 2, name: 'cli_errs' });
  const id = String(m.id);
  const path = `/sys/fs/bpf/${uniqueName('cli_map_pin')}`;
  try {
    assert.equal((await ours('map', 'pin', 'id', id, path)).status, 0);
    assert.equal(JSON.parse(theirs('-j', 'map', 'show', 'pinned', path).stdout).id, m.id);
    await sameTextAndJson('map', 'show', 'pinned', path);
  } finally {
    rmSync(path, { force: true });
  }

  let r = await ours('map', 'update', 'id', id, 'key', '1', '0', '0', 'value', '1', '2', '3', '4', '5', '6', '7', '8');
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'ebpf-ts: key is 4 bytes, got 3\n');
  r = await ours('map', 'update', 'id', id, 'key', '1', '0', '0', '0', 'value', '1', '2');
  assert.equal(r.stderr, 'ebpf-ts: value is 8 bytes, got 2\n');
  assert.equal((await ours('map', 'update', 'id', id, 'key', '1', '0', '0', '0', 'value', '1', '2', '3', '4', '5', '6', '7', '8')).status, 0);
  r = await ours('map', 'update', 'id', id, 'key', '1', '0', '0', '0', 'value', '1', '2', '3', '4', '5', '6', '7', '8', 'noexist');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /update failed: File exists: the key exists \(noexist\)/);
  r = await ours('map', 'delete', 'id', id, 'key', '9', '0', '0', '0');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /delete failed: no entry with key 09 00 00 00/);
  r = await ours('map', 'update', 'id', id, 'key', '1', '0', '0', '0', 'value', '1', '2', '3', '4', '5', '6', '7', '256');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /error parsing byte: 256/);
  r = await ours('map', 'dump', 'id', '2147483632');
  assert.equal(r.stderr, 'ebpf-ts: no map with id 2147483632\n');
  r = await ours('-j', 'map', 'lookup', 'id', '2147483632', 'key', '0', '0', '0', '0');
  assert.deepEqual(JSON.parse(r.stdout), { error: 'no map with id 2147483632' });
});
