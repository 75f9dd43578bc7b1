/**
 * The attach-related commands of the sys layer against real triggers: perf_event_open on a
 * tracepoint with PERF_EVENT_IOC_SET_BPF and with a BPF link, BPF_RAW_TRACEPOINT_OPEN,
 * BPF_ENABLE_STATS, BPF_TASK_FD_QUERY and BPF_PROG_BIND_MAP. The trigger is getppid(2), which
 * Node makes on every read of process.ppid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { BpfMap, Program, AttachType } from '../../src/index.js';
import {
  PERF_EVENT_IOC_DISABLE,
  PERF_EVENT_IOC_ENABLE,
  PERF_EVENT_IOC_SET_BPF,
  PERF_TYPE,
  enableStats,
  ioctl,
  linkCreate,
  linkInfo,
  perfEventOpen,
  progBindMap,
  rawTracepointOpen,
  taskFdQuery,
} from '../../src/sys/index.js';
import { counterProgram } from '../helpers/programs.js';
import { getppidTimes, kernelSkipReason, readU64, u32 } from '../helpers/kernel.js';

const TP = '/sys/kernel/tracing/events/syscalls/sys_enter_getppid/id';
const skip = kernelSkipReason() ?? (existsSync(TP) ? undefined : `tracefs not mounted at /sys/kernel/tracing (${TP} missing)`);

/**
 * A program of `type` that adds 1 to counts[0] when it runs in this process, and returns 0. The
 * process filter is in the program because the hooks run it for every task: the pid given to
 * perf_event_open filters what the event records, not the BPF program attached to it, and other
 * test files call getppid() at the same time.
 */
function counter(type: 'TRACEPOINT' | 'RAW_TRACEPOINT', counts: BpfMap): Program {
  return counterProgram(type, counts, `count_${type.toLowerCase()}`.slice(0, 15), 0, process.pid);
}

const count = (m: BpfMap) => readU64(m.lookup(u32(0))!);

test('tracepoint through perf_event_open + PERF_EVENT_IOC_SET_BPF counts our getppid calls', { skip }, () => {
  using counts = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
  using prog = counter('TRACEPOINT', counts);
  const id = Number(readFileSync(TP, 'utf8'));
  // pid 0, cpu -1: the calling thread on any CPU.
  const ev = perfEventOpen({ type: PERF_TYPE.TRACEPOINT, config: id, samplePeriodOrFreq: 1, wakeup: 1 }, 0, -1, -1, undefined, 'sys_enter_getppid');
  ioctl(ev.value, PERF_EVENT_IOC_SET_BPF, prog.fd.value);
  ioctl(ev.value, PERF_EVENT_IOC_ENABLE, 0);
  getppidTimes(100);
  const q = taskFdQuery(process.pid, ev.value);
  assert.equal(q.progId, prog.id);
  assert.equal(q.name, 'sys_enter_getppid');
  // Kernel quirk (seen on 6.18): PERF_EVENT_IOC_DISABLE does not stop a program attached with
  // SET_BPF to a tracepoint; the program runs until the perf event is closed.
  ioctl(ev.value, PERF_EVENT_IOC_DISABLE, 0);
  getppidTimes(10);
  assert.equal(count(counts), 110n);
  ev.close();
  getppidTimes(10);
  assert.equal(count(counts), 110n, 'closing the perf event detached the program');
});

test('tracepoint through a BPF link (BPF_PERF_EVENT): detached when the link closes', { skip }, () => {
  using counts = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
  using prog = counter('TRACEPOINT', counts);
  const id = Number(readFileSync(TP, 'utf8'));
  using ev = perfEventOpen({ type: PERF_TYPE.TRACEPOINT, config: id, samplePeriodOrFreq: 1, wakeup: 1 }, 0, -1);
  const link = linkCreate({ progFd: prog.fd.value, targetFd: ev.value, attachType: AttachType.PERF_EVENT, what: 'perf_event link' });
  ioctl(ev.value, PERF_EVENT_IOC_ENABLE, 0);
  getppidTimes(50);
  const info = linkInfo(link.value);
  assert.equal(info.progId, prog.id);
  link.close();
  getppidTimes(50);
  assert.equal(count(counts), 50n);
});

test('raw tracepoint with BPF_RAW_TRACEPOINT_OPEN; run statistics with BPF_ENABLE_STATS', { skip }, () => {
  using counts = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
  using prog = counter('RAW_TRACEPOINT', counts);
  using stats = enableStats();
  const before = prog.info().runCnt;
  {
    using link = rawTracepointOpen('sys_enter', prog.fd.value);
    getppidTimes(200);
    assert.ok(link.value > 0);
  }
  const seen = count(counts);
  assert.ok(seen >= 200n, `every syscall of this process counts: ${seen} >= 200`);
  const info = prog.info();
  assert.ok(info.runCnt - before >= 200n, `run_cnt counted while stats were on (${info.runCnt})`);
  assert.ok(info.runTimeNs > 0n);
  getppidTimes(100);
  assert.equal(count(counts), seen, 'closing the raw tracepoint detached the program');
  stats.close();
});

test('BPF_PROG_BIND_MAP adds a map to a program without a reference in its code', { skip }, () => {
  using counts = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
  using extra = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 1 });
  using prog = counter('RAW_TRACEPOINT', counts);
  assert.deepEqual(prog.info().mapIds, [counts.id]);
  progBindMap(prog.fd.value, extra.fd.value);
  assert.deepEqual(prog.info().mapIds.sort(), [counts.id, extra.id].sort());
});
