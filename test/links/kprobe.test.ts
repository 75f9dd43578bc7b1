/**
 * kprobes, kretprobes, ksyscall, kprobe.multi and fentry: on a kernel that has them, a real
 * attach on a real trigger (unlink(2), getppid(2)); on one that lacks them (this project's test
 * VM: no CONFIG_KPROBES, no BPF trampolines), NotSupportedError naming exactly what is missing,
 * from the explicit attach calls and from attachAll, with nothing left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NotSupportedError,
  attachFentry,
  attachKprobe,
  attachKprobeMulti,
  attachKretprobe,
  attachKsyscall,
  canAttachFentry,
  canAttachKprobe,
  fentryProbe,
  hasKprobeMultiLinks,
  kprobeMultiProbe,
  kprobeProbe,
  syscallFunctionName,
} from '../../src/index.js';
import { kernelSkipReason } from '../helpers/kernel.js';
import { assertGone, idsOf, leftoverProbeEvents, linksOfPrograms, loadObject, num } from './helpers.js';
import { getppidTimes } from '../helpers/kernel.js';

const skip = kernelSkipReason();

const isNotSupported = (feature: string) => (e: unknown) => {
  assert.ok(e instanceof NotSupportedError, `expected NotSupportedError, got ${(e as Error)?.stack ?? e}`);
  assert.equal(e.feature, feature);
  assert.equal(e.code, 'ENOTSUP');
  return true;
};

function unlinkTimes(n: number): void {
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-ts-unlink-'));
  try {
    for (let i = 0; i < n; i++) {
      const f = join(dir, `f${i}`);
      writeFileSync(f, '');
      unlinkSync(f);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the syscall wrapper name ksyscall attaches to', { skip }, () => {
  // x86-64 kernels since 4.17 wrap syscalls: __x64_sys_<name>.
  const name = syscallFunctionName('getppid');
  assert.match(name, process.arch === 'x64' ? /^(__x64_sys_getppid|sys_getppid)$/ : /sys_getppid$/);
});

test('kprobe, kretprobe, ksyscall: attach where the kernel has kprobes, NotSupportedError where not', { skip }, () => {
  const c = loadObject('kprobe');
  const ids = idsOf(c);
  try {
    if (canAttachKprobe()) {
      {
        using k = attachKprobe(c.program('on_unlink'), { symbol: 'do_unlinkat' });
        using r = attachKretprobe(c.program('on_unlink_ret'), { symbol: 'do_unlinkat' });
        unlinkTimes(5);
        assert.ok(num(c, 'kprobe_hits') >= 10n);
        assert.ok(k.info().progId && r.info().progId);
      }
      const before = num(c, 'kprobe_hits');
      {
        using s = attachKsyscall(c.program('on_getppid'), { syscall: 'getppid' });
        getppidTimes(10);
        assert.ok(num(c, 'kprobe_hits') - before >= 10n);
        void s;
      }
      return;
    }
    const probe = kprobeProbe();
    assert.equal(probe.available, false);
    assert.equal(probe.feature, 'kprobes (CONFIG_KPROBES)');
    assert.throws(() => attachKprobe(c.program('on_unlink'), { symbol: 'do_unlinkat' }), isNotSupported('kprobes (CONFIG_KPROBES)'));
    assert.throws(() => attachKretprobe(c.program('on_unlink_ret'), { symbol: 'do_unlinkat' }), isNotSupported('kprobes (CONFIG_KPROBES)'));
    assert.throws(() => attachKprobe(c.program('on_unlink'), { symbol: 'do_unlinkat', forceTracefs: true }), isNotSupported('kprobes (CONFIG_KPROBES)'));
    assert.throws(() => attachKsyscall(c.program('on_getppid'), { syscall: 'getppid' }), isNotSupported('kprobes (CONFIG_KPROBES)'));
    // attachAll reaches the same refusal, naming the program and its section.
    assert.throws(
      () => c.attachAll(),
      (e: unknown) => isNotSupported('kprobes (CONFIG_KPROBES)')(e) && /program 'on_unlink' \(SEC\("kprobe\/do_unlinkat"\)\)/.test((e as Error).message),
    );
  } finally {
    c.close();
  }
  assertGone(ids);
  assert.deepEqual(linksOfPrograms(ids), []);
  assert.deepEqual(leftoverProbeEvents(), []);
});

test('kprobe.multi: a link on many functions where the kernel has fprobe, NotSupportedError where not', { skip }, () => {
  const c = loadObject('kprobe');
  const ids = idsOf(c);
  try {
    const prog = c.program('on_unlink_multi');
    if (hasKprobeMultiLinks()) {
      using l = attachKprobeMulti(prog, { symbols: ['do_unlinkat'] });
      unlinkTimes(3);
      assert.ok(num(c, 'kprobe_hits') >= 3n);
      assert.ok(l.info().kind === 'kprobe_multi');
      return;
    }
    const feature = kprobeMultiProbe().feature ?? '';
    assert.match(feature, /^kprobe\.multi/);
    assert.throws(() => attachKprobeMulti(prog, { symbols: ['do_unlinkat'] }), isNotSupported(feature));
  } finally {
    c.close();
  }
  assertGone(ids);
  assert.deepEqual(linksOfPrograms(ids), []);
});

test('fentry: attaches where the kernel has BPF trampolines; here the load and the attach refuse it with NotSupportedError', { skip }, () => {
  if (canAttachFentry()) {
    const c = loadObject('fentry');
    const ids = idsOf(c);
    try {
      using l = attachFentry(c.program('on_unlinkat_entry'));
      unlinkTimes(4);
      assert.ok(num(c, 'fentry_hits') >= 4n);
      assert.equal(l.info().typeName, 'tracing');
    } finally {
      c.close();
    }
    assertGone(ids);
    return;
  }
  const probe = fentryProbe();
  assert.equal(probe.available, false);
  assert.equal(probe.feature, 'fentry/fexit (BPF trampolines)');
  // Loading an fentry object: the loader reports the kernel's refusal as NotSupportedError.
  assert.throws(() => loadObject('fentry'), (e: unknown) => e instanceof NotSupportedError && /fentry/.test(e.message));
  // Attaching: refused before any syscall, naming the feature. (A tracing program of another
  // kind stands in, since no fentry program can be loaded here.)
  const c = loadObject('tracing');
  const ids = idsOf(c);
  try {
    assert.throws(() => attachFentry(c.program('tpbtf_getppid')), isNotSupported('fentry/fexit (BPF trampolines)'));
  } finally {
    c.close();
  }
  assertGone(ids);
  assert.deepEqual(linksOfPrograms(ids), []);
});
