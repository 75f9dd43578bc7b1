/**
 * collection.attachAll(): libbpf's auto-attach from section names, on real triggers (getppid
 * through a tracepoint, a raw tracepoint, a uprobe and a uretprobe on libc, and a task
 * iterator); sections without a target skipped; links owned and closed by the collection;
 * the section parsing of every hook family.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IterLink, Link, LinkType, autoAttach, type ProgramSpec } from '../../src/index.js';
import { kernelSkipReason } from '../helpers/kernel.js';
import { assertGone, idsOf, linksOfPrograms, loadObject, num } from './helpers.js';
import { getppidTimes } from '../helpers/kernel.js';
import { createNetEnv } from './netenv.js';

const skip = kernelSkipReason();

test('attachAll attaches what the section names target, skips the rest, and the collection closes the links', { skip }, () => {
  const c = loadObject('autoattach', { target_tgid: process.pid });
  const ids = idsOf(c);
  let linkIds: number[] = [];
  try {
    const links = c.attachAll();
    assert.deepEqual([...links.keys()].sort(), ['auto_iter', 'auto_raw', 'auto_tp', 'auto_uprobe', 'auto_uretprobe']);
    linkIds = [...links.values()].map((l) => (l as Link).id);
    assert.equal(linkIds.length, 5);
    assert.ok(linkIds.every((id) => id > 0));
    getppidTimes(20);
    assert.equal(num(c, 'tp_hits'), 20n);
    assert.equal(num(c, 'raw_hits'), 20n);
    assert.equal(num(c, 'uprobe_hits'), 20n);
    assert.equal(num(c, 'uretprobe_hits'), 20n);
    const iter = links.get('auto_iter');
    assert.ok(iter instanceof IterLink);
    iter.read();
    assert.ok(num(c, 'iter_runs') > 0n, 'the iterator ran over the tasks');
    assert.equal((links.get('auto_raw') as Link).info().type, LinkType.RAW_TRACEPOINT);
  } finally {
    c.close();
  }
  assertGone(ids, linkIds);
  assert.deepEqual(linksOfPrograms(ids), []);
});

test('attachAll with an interface also attaches xdp programs; a failure detaches what was attached', { skip }, () => {
  const env = createNetEnv();
  const c = loadObject('autoattach', { target_tgid: process.pid });
  const ids = idsOf(c);
  try {
    const links = c.attachAll({ iface: env.host, xdpMode: 'generic', skip: ['auto_uprobe', 'auto_uretprobe'] });
    assert.ok(links.has('manual_xdp'));
    const x = (links.get('manual_xdp') as Link).info();
    assert.ok(x.kind === 'xdp' && x.ifindex === env.hostIfindex);
    assert.ok(!links.has('auto_uprobe'));
  } finally {
    c.close();
  }
  assertGone(ids);
  // A second collection finds the interface free again: the first one's XDP link went with it.
  const d = loadObject('autoattach', { target_tgid: process.pid });
  const ids2 = idsOf(d);
  try {
    const again = d.attachAll({ iface: env.host, xdpMode: 'generic', skip: ['auto_uprobe', 'auto_uretprobe', 'auto_tp', 'auto_raw', 'auto_iter'] });
    assert.deepEqual([...again.keys()], ['manual_xdp']);
    // Attaching it twice fails (EBUSY), and the error names the program and its section.
    assert.throws(
      () => d.attachAll({ iface: env.host, xdpMode: 'generic', skip: ['auto_uprobe', 'auto_uretprobe'] }),
      (e: unknown) => (e as { code?: string }).code === 'EBUSY' && /program 'manual_xdp' \(SEC\("xdp"\)\)/.test((e as Error).message),
    );
    // ...and the tracepoint, raw tracepoint and iterator attached before the failure were detached.
    assert.equal(linksOfPrograms([d.program('auto_tp').id, d.program('auto_raw').id, d.program('auto_iter').id]).length, 0);
  } finally {
    d.close();
    env.close();
  }
  assertGone(ids2);
});

test('section names: which ones auto-attach, and how their targets are read', () => {
  const spec = (sectionName: string, type: number, expectedAttachType = 0): ProgramSpec =>
    ({ name: 'p', sectionName, type, expectedAttachType, attachTo: '', attachBtf: false, flags: 0, autoload: true, license: 'GPL', kernelVersion: 0, instructions: [], subprograms: [] }) as ProgramSpec;
  const fake = { fd: { value: -1 }, type: 2, name: 'p', typeName: 'kprobe', id: 0 } as never;
  // No target: nothing to do, no syscall made.
  for (const s of ['kprobe', 'kretprobe', 'uprobe', 'uretprobe', 'usdt', 'tp', 'tracepoint', 'raw_tp', 'ksyscall', 'kprobe.multi', 'xdp', 'tc', 'socket', 'perf_event', 'cgroup_skb/ingress', 'sk_msg']) {
    assert.equal(autoAttach(spec(s, 2), fake), undefined, s);
  }
  // Malformed targets are refused with a message that says what was expected.
  assert.throws(() => autoAttach(spec('uprobe/no_colon', 2), fake), /uprobe\/<binary>:<function>/);
  assert.throws(() => autoAttach(spec('usdt/bin:only_provider', 2), fake), /usdt\/<binary>:<provider>:<name>/);
  assert.throws(() => autoAttach(spec('tp/just_a_name', 5), fake), /group\/name/);
});
