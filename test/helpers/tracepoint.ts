/**
 * Attaching a tracepoint program for reader tests, with the sys layer only (perf_event_open on
 * the tracepoint + PERF_EVENT_IOC_SET_BPF, as libbpf 1.1 does without BPF links): the tests of
 * the readers should not depend on src/links. Closing the returned FD detaches the program (the
 * only way: PERF_EVENT_IOC_DISABLE does not stop a SET_BPF tracepoint program, see attach.test.ts).
 */
import { readFileSync } from 'node:fs';
import type { Program } from '../../src/index.js';
import { PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_SET_BPF, PERF_TYPE, ioctl, perfEventOpen, type FD } from '../../src/sys/index.js';

export function tracepointId(category: string, name: string): number {
  return Number(readFileSync(`/sys/kernel/tracing/events/${category}/${name}/id`, 'utf8'));
}

/** Attaches `prog` to `category/name` for every task (pid -1, CPU 0: a tracepoint program runs on every CPU). */
export function attachTracepoint(prog: Program, category: string, name: string): FD {
  const ev = perfEventOpen({ type: PERF_TYPE.TRACEPOINT, config: tracepointId(category, name), samplePeriodOrFreq: 1, wakeup: 1 }, -1, 0, -1, undefined, `${category}/${name}`);
  try {
    ioctl(ev.value, PERF_EVENT_IOC_SET_BPF, prog.fd.value);
    ioctl(ev.value, PERF_EVENT_IOC_ENABLE, 0);
  } catch (err) {
    ev.close();
    throw err;
  }
  return ev;
}
