import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { flushKernelSpecs, listKernelModules, loadKernelModuleSpec, loadKernelSpec } from '../../src/btf/kernel.js';
import { BtfNotFoundError } from '../../src/btf/util.js';
import { bpftoolRaw, firstDifference, haveBpftool, rawDump } from './helpers.js';

const haveVmlinux = existsSync('/sys/kernel/btf/vmlinux');

test('loadKernelSpec is memoized', { skip: haveVmlinux ? false : 'no /sys/kernel/btf/vmlinux' }, () => {
  const a = loadKernelSpec();
  assert.equal(loadKernelSpec(), a);
  assert.ok(a.typeCount > 1000);
  assert.equal(a.base, undefined);
  flushKernelSpecs();
  const b = loadKernelSpec();
  assert.notEqual(b, a);
  assert.equal(b.typeCount, a.typeCount);
});

test('listKernelModules lists /sys/kernel/btf without vmlinux', () => {
  const mods = listKernelModules();
  assert.ok(!mods.includes('vmlinux'));
  assert.deepEqual(mods, [...mods].sort());
});

test('unknown modules are a BtfNotFoundError', { skip: haveVmlinux ? false : 'no /sys/kernel/btf/vmlinux' }, () => {
  assert.throws(() => loadKernelModuleSpec('no_such_module_xyz'), BtfNotFoundError);
  assert.throws(() => loadKernelModuleSpec('../etc/passwd'), BtfNotFoundError);
  assert.equal(loadKernelModuleSpec('vmlinux'), loadKernelSpec());
});

const modules = listKernelModules();
test(
  'module split BTF matches bpftool',
  { skip: !haveVmlinux ? 'no vmlinux BTF' : modules.length === 0 ? 'no kernel module has BTF in /sys/kernel/btf (modules not loaded or built in)' : false },
  () => {
    const vmlinux = loadKernelSpec();
    for (const name of modules.slice(0, 5)) {
      const spec = loadKernelModuleSpec(name);
      assert.equal(loadKernelModuleSpec(name), spec, 'memoized');
      assert.equal(spec.base, vmlinux);
      assert.equal(spec.firstTypeId, vmlinux.lastTypeId + 1);
      for (const t of spec.types()) assert.ok(t.id > vmlinux.lastTypeId);
      if (haveBpftool()) {
        const expected = bpftoolRaw(`/sys/kernel/btf/${name}`, '/sys/kernel/btf/vmlinux');
        assert.ok(expected);
        const diff = firstDifference(rawDump(spec.types()), expected);
        assert.equal(diff, undefined, `${name}: ${diff}`);
      }
    }
  },
);
