/**
 * `ebpf-ts btf show` and `btf dump id` against bpftool on the same BTF objects: ids, names,
 * sizes, the programs and maps using each (in bpftool's order), text and JSON.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCollection, loadCollectionSpec, listBtfIds, btfInfoById } from '../../src/index.js';
import { libbpfHashmapOrder } from '../../src/cli/btf.js';
import { kernelSkipReason } from '../helpers/kernel.js';
import { both, cliObject, haveBpftool, ours } from './helpers.js';

const skip = kernelSkipReason() ?? (haveBpftool ? undefined : 'bpftool is not installed');

test('btf show id: the same line and JSON as bpftool, users included', { skip }, async () => {
  using col = loadCollection(loadCollectionSpec(cliObject));
  const btfId = col.program('cli_xdp').info().btfId;
  assert.ok(btfId > 0);
  assert.ok(listBtfIds().includes(btfId));
  assert.equal(btfInfoById(btfId).kernelBtf, false);
  for (const id of [btfId, 1]) {
    for (const json of [[], ['-j'], ['-p']]) {
      const r = await both(...json, 'btf', 'show', 'id', String(id));
      assert.equal(r.ours, r.theirs, `btf ${id} ${json.join(' ')}`);
    }
  }
  // Every program and map of the collection is listed as a user of its BTF.
  const j = JSON.parse((await ours('-j', 'btf', 'show', 'id', String(btfId))).stdout);
  assert.deepEqual([...j.prog_ids].sort(), [...col.programs.values()].map((p) => p.id).sort());
  for (const m of col.maps.values()) assert.ok(j.map_ids.includes(m.id), `map ${m.name}`);
  assert.match((await ours('btf', 'show', 'id', '1')).stdout, /^1: name \[vmlinux\]  size \d+B\n$/);
});

test('btf dump id: the types of a loaded BTF object, as bpftool lists them', { skip }, async () => {
  using col = loadCollection(loadCollectionSpec(cliObject));
  const btfId = String(col.program('cli_xdp').info().btfId);
  const r = await both('btf', 'dump', 'id', btfId);
  assert.equal(r.ours, r.theirs);
  assert.match(r.ours, /STRUCT 'record' size=64 vlen=11/);
});

test('libbpfHashmapOrder: values of one key come back as libbpf hashmap iterates them', () => {
  // Head insertion, and a reversal at each growth (at the 1st, 4th, 7th, 13th... insertion).
  const pairs = [1, 2, 3, 4, 5, 6, 7].map((v) => [9, v] as const);
  assert.deepEqual(libbpfHashmapOrder(pairs.slice(0, 2)).get(9), [2, 1]);
  assert.deepEqual(libbpfHashmapOrder(pairs.slice(0, 6)).get(9), [6, 5, 4, 1, 2, 3]);
  assert.deepEqual(libbpfHashmapOrder(pairs).get(9), [7, 3, 2, 1, 4, 5, 6]);
  // Other keys count towards the table's size.
  const mixed = libbpfHashmapOrder([[1, 10], [2, 20], [2, 21], [1, 11]]);
  assert.deepEqual(mixed.get(1), [11, 10]);
  assert.deepEqual(mixed.get(2), [20, 21]);
});
