/**
 * Tracing links against real triggers: tracepoints and raw tracepoints through getppid(2),
 * tp_btf, uprobes and uretprobes on a binary the test builds and on libc, USDT probes (with
 * arguments read through libbpf's usdt.bpf.h, and a semaphore), perf_event sampling, and a
 * task iterator that finds this process. Every test checks that its programs and links are gone
 * once it closed them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  IterLink,
  Link,
  LinkType,
  NotSupportedError,
  attachIter,
  attachPerfEvent,
  attachPerfEventAllCpus,
  attachRawTracepoint,
  attachTpBtf,
  attachTracepoint,
  attachUprobe,
  attachUretprobe,
  attachUsdt,
  findUsdtProbes,
  hasPerfEventLinks,
  type Collection,
} from '../../src/index.js';
import { ensureBpffs, kernelSkipReason } from '../helpers/kernel.js';
import { assertGone, buildTarget, idsOf, leftoverProbeEvents, linksOfPrograms, loadObject, num, startTarget } from './helpers.js';
import { getppidTimes } from '../helpers/kernel.js';

const skip = kernelSkipReason();

function withTracing(fn: (c: Collection) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const c = loadObject('tracing');
    const ids = idsOf(c);
    try {
      c.variable('target_tgid').set(process.pid);
      await fn(c);
    } finally {
      c.close();
    }
    assertGone(ids, []);
    assert.deepEqual(linksOfPrograms(ids), []);
    assert.deepEqual(leftoverProbeEvents(), []);
  };
}

test('tracepoint: a perf_event link counts exactly our getppid calls, carries a cookie, and detaches on close', { skip }, withTracing((c) => {
  const link = attachTracepoint(c.program('tp_getppid'), { group: 'syscalls', name: 'sys_enter_getppid', cookie: 0xabcdef12345n });
  let linkId: number;
  try {
    getppidTimes(100);
    assert.equal(num(c, 'tp_hits'), 100n);
    assert.equal(num(c, 'tp_cookie'), hasPerfEventLinks() ? 0xabcdef12345n : 0n);
    const info = link.info();
    linkId = info.id;
    assert.equal(info.progId, c.program('tp_getppid').id);
    if (hasPerfEventLinks()) {
      assert.equal(info.type, LinkType.PERF_EVENT);
      assert.equal(info.typeName, 'perf_event');
      assert.ok(info.kind === 'perf_event');
      assert.equal(info.eventType, 'tracepoint');
      assert.equal(info.name, 'sys_enter_getppid');
      assert.equal(info.cookie, 0xabcdef12345n);
      assert.ok(Link.listIds().includes(info.id));
    }
  } finally {
    link.close();
  }
  // A concurrent lister (bpftool, a CLI test) may hold an fd of the link for a moment: it stays
  // attached until that fd closes too.
  assertGone([], [linkId]);
  getppidTimes(20);
  assert.equal(num(c, 'tp_hits'), 100n, 'closing the link detached the program');
  assert.ok(!Link.listIds().includes(linkId));
}));

test('tracepoint with PERF_EVENT_IOC_SET_BPF (the pre-5.15 path): same counts, not pinnable', { skip }, withTracing((c) => {
  const link = attachTracepoint(c.program('tp_getppid'), { group: 'syscalls', name: 'sys_enter_getppid', forceIoctl: true });
  try {
    assert.equal(link.isBpfLink, false);
    getppidTimes(30);
    assert.equal(num(c, 'tp_hits'), 30n);
    const info = link.info();
    assert.equal(info.bpfLink, false);
    assert.equal(info.progId, c.program('tp_getppid').id);
    assert.ok(info.kind === 'perf_event' && info.name === 'sys_enter_getppid');
    assert.throws(() => link.pin('/sys/fs/bpf/nope'), NotSupportedError);
  } finally {
    link.close();
  }
  getppidTimes(10);
  assert.equal(num(c, 'tp_hits'), 30n);
}));

test('tracepoint that does not exist: NotSupportedError naming it', { skip }, withTracing((c) => {
  assert.throws(
    () => attachTracepoint(c.program('tp_getppid'), { group: 'syscalls', name: 'sys_enter_no_such_call' }),
    (e: unknown) => e instanceof NotSupportedError && e.feature === 'tracepoint syscalls/sys_enter_no_such_call',
  );
}));

test('raw tracepoint: BPF_RAW_TRACEPOINT_OPEN link with its name in info; pin keeps it attached after close', { skip }, withTracing((c) => {
  const dir = ensureBpffs();
  const pinDir = mkdtempSync(join(dir, 'ebpf-ts-links-'));
  try {
    const link = attachRawTracepoint(c.program('raw_getppid'), { name: 'sys_enter' });
    const info = link.info();
    assert.equal(info.type, LinkType.RAW_TRACEPOINT);
    assert.ok(info.kind === 'raw_tracepoint' && info.tpName === 'sys_enter');
    getppidTimes(50);
    assert.equal(num(c, 'raw_hits'), 50n);
    const path = join(pinDir, 'raw');
    link.pin(path);
    link.close();
    getppidTimes(10);
    assert.equal(num(c, 'raw_hits'), 60n, 'a pinned link stays attached when its fd closes');
    const again = Link.loadPinned(path);
    assert.equal(again.id, info.id);
    const byId = Link.fromId(info.id);
    assert.equal(byId.info().progId, c.program('raw_getppid').id);
    byId.close();
    again.unpin();
    again.close();
    assertGone([], [info.id]);
    getppidTimes(10);
    assert.equal(num(c, 'raw_hits'), 60n, 'unpinned and closed: detached');
    assert.ok(!Link.listIds().includes(info.id));
  } finally {
    rmSync(pinDir, { recursive: true, force: true });
  }
}));

test('tp_btf: a tracing link on the BTF tracepoint the program was loaded for', { skip }, withTracing((c) => {
  const link = attachTpBtf(c.program('tpbtf_getppid'));
  try {
    getppidTimes(40);
    assert.equal(num(c, 'tpbtf_hits'), 40n);
    const info = link.info();
    assert.ok(info.typeName === 'raw_tracepoint' || info.typeName === 'tracing', info.typeName);
  } finally {
    link.close();
  }
  getppidTimes(5);
  assert.equal(num(c, 'tpbtf_hits'), 40n);
}));

test('uprobe and uretprobe on a binary built by the test, by symbol, with a pid filter and a cookie', { skip }, withTracing(async (c) => {
  const target = buildTarget();
  try {
    const run = await startTarget(target.path, 25);
    try {
      c.variable('target_tgid').set(run.pid);
      using up = attachUprobe(c.program('on_call'), { binary: target.path, symbol: 'target_fn', pid: run.pid, cookie: 77 });
      using ret = attachUretprobe(c.program('on_return'), { binary: target.path, symbol: 'target_fn', pid: run.pid });
      const info = up.info();
      if (info.kind === 'perf_event') {
        assert.equal(info.eventType, 'uprobe');
        assert.equal(info.name, target.path);
        assert.equal(ret.info().kind === 'perf_event' && (ret.info() as { eventType: string }).eventType, 'uretprobe');
      }
      const done = await run.go();
      assert.equal(num(c, 'uprobe_hits'), 25n);
      assert.equal(num(c, 'uprobe_arg'), 64n, 'the last call was target_fn(24 + 40)');
      assert.equal(num(c, 'uprobe_cookie'), hasPerfEventLinks() ? 77n : 0n);
      assert.equal(num(c, 'uretprobe_hits'), 25n);
      assert.equal(num(c, 'uretprobe_ret'), 129n, 'and it returned 2 * 64 + 1');
      assert.equal(done.sum, BigInt(Array.from({ length: 25 }, (_, i) => 2 * (i + 40) + 1).reduce((a, b) => a + b)));
    } finally {
      run.kill();
    }
  } finally {
    target.cleanup();
  }
}));

test('uprobe on a libc function (getppid, resolved through .dynsym of libc.so.6)', { skip }, withTracing((c) => {
  const link = attachUprobe(c.program('on_call'), { binary: 'libc.so.6', symbol: 'getppid' });
  try {
    getppidTimes(33);
    assert.equal(num(c, 'uprobe_hits'), 33n);
  } finally {
    link.close();
  }
  getppidTimes(5);
  assert.equal(num(c, 'uprobe_hits'), 33n);
}));

test('USDT: probes from .note.stapsdt, arguments through usdt.bpf.h, semaphore set while attached', { skip }, withTracing(async (c) => {
  const target = buildTarget();
  try {
    const found = findUsdtProbes(target.path, 'ebpfts', 'gated');
    assert.equal(found.probes.length, 1);
    assert.ok(found.probes[0]!.semaphoreOffset > 0);
    // Without the probe attached the semaphore stays 0: the gated probe never fires.
    const idle = await startTarget(target.path, 3);
    assert.equal((await idle.go()).gated, 0);

    const run = await startTarget(target.path, 12);
    try {
      c.variable('target_tgid').set(run.pid);
      const link = attachUsdt(c.program('on_usdt'), { binary: target.path, provider: 'ebpfts', name: 'gated', pid: run.pid, cookie: 4242 });
      let done;
      try {
        done = await run.go();
      } finally {
        link.close();
      }
      assert.equal(done.gated, 12, 'the kernel set the semaphore while the probe was attached');
      assert.equal(num(c, 'usdt_hits'), 12n);
      const args = c.variable('usdt_args').get() as bigint[];
      // Last iteration i = 11: v * 3 = 153, neg = -16, (char)-2.
      assert.deepEqual(args.map(BigInt), [153n, -16n, -2n]);
      assert.equal(num(c, 'usdt_argc'), 3n);
      assert.equal(num(c, 'usdt_cookie_seen'), 4242n);
    } finally {
      run.kill();
    }

    // A probe without its semaphore checked, arguments in a register, a register and a constant.
    const run2 = await startTarget(target.path, 5);
    try {
      c.variable('target_tgid').set(run2.pid);
      c.variable('usdt_hits').set(0n);
      using link = attachUsdt(c.program('on_usdt'), { binary: target.path, provider: 'ebpfts', name: 'plain', pid: run2.pid });
      await run2.go();
      assert.equal(num(c, 'usdt_hits'), 5n);
      assert.deepEqual((c.variable('usdt_args').get() as bigint[]).map(BigInt), [44n, -9n, 42n]);
      assert.equal(link.links.length, 1);
    } finally {
      run2.kill();
    }
  } finally {
    target.cleanup();
  }
}));

test('perf_event: software CPU-clock sampling of this process, and on every CPU', { skip }, withTracing((c) => {
  const prog = c.program('on_sample');
  {
    using link = attachPerfEvent(prog, { pid: process.pid, sampleFrequency: 1000 });
    const end = Date.now() + 150;
    let x = 0;
    while (Date.now() < end) x += Math.sqrt(x + 1);
    assert.ok(x > 0);
    const info = link.info();
    if (info.kind === 'perf_event') assert.equal(info.eventType, 'event');
  }
  const sampled = num(c, 'perf_hits');
  assert.ok(sampled >= 10n, `about 150 samples expected in 150 ms of CPU at 1000 Hz, got ${sampled}`);
  {
    using group = attachPerfEventAllCpus(prog, { samplePeriod: 1_000_000n });
    assert.ok(group.links.length >= 1);
    const end = Date.now() + 100;
    let x = 0;
    while (Date.now() < end) x += Math.sqrt(x + 1);
  }
  const after = num(c, 'perf_hits');
  assert.ok(after > sampled, 'system-wide sampling ran the program');
  const spin = Date.now() + 30;
  while (Date.now() < spin);
  assert.equal(num(c, 'perf_hits'), after, 'closed: no more samples');
}));

test('iterator over tasks: finds this process; read as text, as a stream, and line by line', { skip }, withTracing(async (c) => {
  using link = attachIter(c.program('dump_task'));
  assert.equal(link.info().type, LinkType.ITER);
  const info = link.info();
  assert.ok(info.kind === 'iter' && info.targetName === 'task');
  const text = link.readText();
  const mine = text.split('\n').filter((l) => l.startsWith(`${process.pid} ${process.pid} `));
  assert.equal(mine.length, 1, 'our main thread appears once');
  assert.ok(text.split('\n').length > 10, 'and many other tasks');
  let streamed = '';
  for await (const chunk of link.stream()) streamed += (chunk as Buffer).toString();
  assert.ok(streamed.includes(`${process.pid} ${process.pid} `));
  let found = false;
  for await (const line of link.lines()) if (line.startsWith(`${process.pid} ${process.pid} `)) found = true;
  assert.ok(found);
  // Opened again by id, it is an iterator link too.
  using again = Link.fromId(link.id);
  assert.ok(again instanceof IterLink);
  assert.ok(again.readText().includes(`${process.pid} ${process.pid} `));
}));
