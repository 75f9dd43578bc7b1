/**
 * trace_pipe lines: parsing (both layouts: with and without the irq-info column, with the tgid
 * column, odd task names, lost-events notices), and bpf_printk output of a real tracepoint
 * program (readers.bpf.c's tp_printk on sys_enter_getppid, which process.ppid triggers) read back
 * through TracePipe. trace_pipe is consumed destructively: this file is its only reader in the
 * test suite, and filters on a marker unique to the run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { TracePipe, defaultTracePipePath, parseLostLine, parseTraceLine } from '../../src/index.js';
import { possibleCpuCount } from '../../src/sys/index.js';
import { kernelSkipReason } from '../helpers/kernel.js';
import { attachTracepoint } from '../../src/links/index.js';
import { CFG, Producers, readersSkipReason } from '../ringbuf/producer.js';

const skip =
  kernelSkipReason() ??
  readersSkipReason() ??
  (existsSync('/sys/kernel/tracing/events/syscalls/sys_enter_getppid') ? undefined : 'tracefs not mounted at /sys/kernel/tracing (or no syscall tracepoints)');

test('trace_pipe lines parse with and without the irq-info column', () => {
  const withFlags = parseTraceLine('           <...>-16613   [001] ...21  4712.347600: bpf_trace_printk: ebpf-ts-marker 4242 seq=0');
  assert.deepEqual(withFlags, {
    task: '<...>',
    pid: 16613,
    tgid: undefined,
    cpu: 1,
    flags: '...21',
    timestamp: 4712.3476,
    event: 'bpf_trace_printk',
    message: 'ebpf-ts-marker 4242 seq=0',
    raw: '           <...>-16613   [001] ...21  4712.347600: bpf_trace_printk: ebpf-ts-marker 4242 seq=0',
  });
  // options/irq-info off: no flags column.
  const noFlags = parseTraceLine('            node-812     [000]   100.000001: bpf_trace_printk: hello: world');
  assert.equal(noFlags!.task, 'node');
  assert.equal(noFlags!.pid, 812);
  assert.equal(noFlags!.cpu, 0);
  assert.equal(noFlags!.flags, undefined);
  assert.equal(noFlags!.timestamp, 100.000001);
  assert.equal(noFlags!.message, 'hello: world', 'colons in the message stay');
  // Older kernels: 4-character flags; options/record-tgid: a tgid column; names with spaces and dashes.
  const tgid = parseTraceLine(' Web Content-a-77 (   70) [003] d.h1  55.5: bpf_trace_printk: x');
  assert.equal(tgid!.task, 'Web Content-a');
  assert.equal(tgid!.pid, 77);
  assert.equal(tgid!.tgid, 70);
  assert.equal(tgid!.cpu, 3);
  assert.equal(tgid!.flags, 'd.h1');
  assert.equal(parseTraceLine('          <idle>-0       (-------) [000] d.s3.  9.000000: bpf_trace_printk: ')!.tgid, undefined);
  assert.equal(parseTraceLine('          <idle>-0       [000] d.s3.  9.000000: bpf_trace_printk: ')!.message, '');
  assert.equal(parseTraceLine('# tracer: nop'), undefined);
  assert.equal(parseTraceLine(''), undefined);
  assert.deepEqual(parseLostLine('CPU:1 [LOST 12 EVENTS]'), { cpu: 1, lost: 12 });
  assert.equal(parseLostLine('CPU:1 LOST'), undefined);
});

test('bpf_printk lines of a tracepoint program, read from trace_pipe and parsed', { skip }, async () => {
  const p = new Producers(['tp_printk']);
  const marker = 100000 + Math.floor(Math.random() * 900000);
  using pipe = new TracePipe({ filter: `ebpf-ts-marker ${marker} ` });
  assert.equal(pipe.path, defaultTracePipePath());
  const link = attachTracepoint(p.program('tp_printk'), { group: 'syscalls', name: 'sys_enter_getppid' });
  try {
    p.set(CFG.MARKER, marker);
    p.set(CFG.TGID, process.pid);
    const before = Number((await import('node:fs')).readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const got: ReturnType<typeof parseTraceLine>[] = [];
    const reading = (async () => {
      for await (const line of pipe.lines({ signal: AbortSignal.timeout(10_000) })) {
        got.push(line);
        if (got.length === 5) break;
      }
    })();
    await new Promise((r) => setImmediate(r));
    let s = 0;
    for (let i = 0; i < 5; i++) s += process.ppid; // five getppid() calls
    assert.ok(s > 0);
    await reading;
    p.set(CFG.TGID, 0);
    for (const [i, l] of got.entries()) {
      assert.equal(l!.event, 'bpf_trace_printk');
      assert.equal(l!.message, `ebpf-ts-marker ${marker} seq=${i}`);
      assert.equal(l!.pid, process.pid, 'the main thread made the calls');
      assert.ok(l!.cpu >= 0 && l!.cpu < possibleCpuCount());
      assert.ok(l!.task === '<...>' || l!.task.length > 0);
      assert.match(l!.flags ?? '....', /^[.a-zA-Z0-9]{4,5}$/);
      assert.ok(l!.timestamp >= before - 1, `timestamp ${l!.timestamp} near uptime ${before}`);
      if (i > 0) assert.ok(l!.timestamp >= got[i - 1]!.timestamp);
    }
  } finally {
    link.close();
    p.close();
  }
});

test('TracePipe: close() ends a waiting iterator, abort rejects it, read() never blocks', { skip }, async () => {
  const pipe = new TracePipe({ filter: /ebpf-ts-never-printed-\d+/ });
  try {
    assert.deepEqual(pipe.read(), []);
    const ac = new AbortController();
    const aborted = (async () => {
      for await (const _ of pipe.lines({ signal: ac.signal })) {
        // nothing matches
      }
    })();
    await new Promise((r) => setImmediate(r));
    ac.abort();
    await assert.rejects(aborted, { name: 'AbortError' });
    const ended = (async () => {
      let n = 0;
      for await (const _ of pipe) n++;
      return n;
    })();
    await new Promise((r) => setImmediate(r));
    pipe.close();
    assert.equal(await ended, 0);
    assert.equal(await pipe.wait(), false);
    assert.throws(() => pipe.read(), { code: 'EBADF' });
  } finally {
    pipe.close();
  }
});
