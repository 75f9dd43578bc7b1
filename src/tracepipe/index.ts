/**
 * bpf_printk output: the kernel's trace_pipe as a stream of parsed lines.
 *
 * bpf_printk (bpf_trace_printk, bpf_trace_vprintk) writes into the top-level tracing ring
 * buffer, not into a tracefs instance, so the reader reads the top-level
 * /sys/kernel/tracing/trace_pipe (or /sys/kernel/debug/tracing/trace_pipe where only debugfs
 * has it) and keeps the lines it wants with a filter.
 *
 * trace_pipe is consumed destructively: each line goes to exactly one reader, whoever reads
 * first (another TracePipe, `cat trace_pipe`, `bpftool prog tracelog`). Lines a filter rejects
 * are consumed too. Run one reader of it at a time on a machine.
 *
 * Reading does not block the event loop: the file is opened O_NONBLOCK and waited on through
 * libuv's uv_poll (trace_pipe supports poll: readable while the buffer has data).
 */
import { closeSync, constants, existsSync, openSync, readSync } from 'node:fs';
import { ArgumentError } from '../errors.js';
import { FdPoller, POLL_READABLE } from '../sys/index.js';
import { Waiters } from '../ringbuf/wait.js';

/** One line of trace_pipe. */
export interface TraceLine {
  /** The task's comm as the tracer saved it; `<...>` when it was not recorded, `<idle>` for the idle task. */
  task: string;
  /** The thread id (the kernel's pid). */
  pid: number;
  /** The thread group id, when the `record-tgid` option adds its column (else undefined). */
  tgid: number | undefined;
  cpu: number;
  /**
   * The irq-info column (`d..31`: irqs off, need-resched, hardirq/softirq, preempt depth...),
   * or undefined when the `irq-info` option is off.
   */
  flags: string | undefined;
  /** Seconds, in the trace clock (`local` by default: roughly CLOCK_MONOTONIC). */
  timestamp: number;
  /** The event: `bpf_trace_printk` for bpf_printk. */
  event: string;
  /** What the program printed (without the trailing newline). */
  message: string;
  /** The whole line. */
  raw: string;
}

// task-pid  [(tgid)]  [cpu]  [flags]  timestamp: event: message
// The task name may contain spaces and dashes: the pid is the last `-digits` before the columns.
const LINE =
  /^\s*(.*?)-(\d+)\s+(?:\(\s*(\d+|-+)\)\s+)?\[(\d+)\]\s+(?:([^\s\[\]]{4,6})\s+)?(\d+(?:\.\d+)?):\s+([^:\s]+):\s?(.*)$/;
// "CPU:1 [LOST 12 EVENTS]": the per-CPU trace buffer overflowed before anyone read it.
const LOST = /^CPU:(\d+) \[LOST (\d+) EVENTS\]$/;

/** Parses one trace_pipe line (with or without the irq-info and tgid columns); undefined if it isn't one. */
export function parseTraceLine(line: string): TraceLine | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const tgid = m[3] === undefined || m[3].startsWith('-') ? undefined : Number(m[3]);
  return {
    task: m[1]!,
    pid: Number(m[2]),
    tgid,
    cpu: Number(m[4]),
    flags: m[5],
    timestamp: Number(m[6]),
    event: m[7]!,
    message: m[8]!,
    raw: line,
  };
}

/** The lost-events notice trace_pipe prints when a CPU's buffer overflowed: { cpu, lost }, or undefined. */
export function parseLostLine(line: string): { cpu: number; lost: number } | undefined {
  const m = LOST.exec(line.trim());
  return m ? { cpu: Number(m[1]), lost: Number(m[2]) } : undefined;
}

/** The trace_pipe of the top-level tracing instance (tracefs, or debugfs on old systems). */
export function defaultTracePipePath(): string {
  for (const p of ['/sys/kernel/tracing/trace_pipe', '/sys/kernel/debug/tracing/trace_pipe']) if (existsSync(p)) return p;
  return '/sys/kernel/tracing/trace_pipe';
}

export interface TracePipeOptions {
  /** The trace_pipe file (default: defaultTracePipePath()). */
  path?: string;
  /**
   * Keep only matching lines: a string the message must contain, a RegExp tested on the
   * message, or a predicate. Rejected lines are consumed all the same (trace_pipe is destructive).
   */
  filter?: string | RegExp | ((line: TraceLine) => boolean);
  /** Called with the count when trace_pipe reports lost events (`CPU:N [LOST M EVENTS]`). */
  onLost?: (cpu: number, lost: number) => void;
}

/**
 * Reads trace_pipe: `read()` for what is there now, `for await (const line of pipe)` to follow
 * it, `start(fn)` for a callback per line. Needs root (tracefs). close() ends every waiter.
 */
export class TracePipe implements AsyncIterable<TraceLine> {
  readonly path: string;
  #fd: number;
  #poller: FdPoller | null = null;
  #partial = '';
  #lines: TraceLine[] = [];
  readonly #buf = Buffer.alloc(64 * 1024);
  readonly #keep: (line: TraceLine) => boolean;
  readonly #onLost: ((cpu: number, lost: number) => void) | undefined;
  readonly #waiters = new Waiters(() => this.#syncPolling());
  #callback: ((line: TraceLine) => void) | null = null;
  #iterating = false;
  /** Events trace_pipe reported lost since this reader opened. */
  lost = 0;

  constructor(options: TracePipeOptions = {}) {
    this.path = options.path ?? defaultTracePipePath();
    const f = options.filter;
    this.#keep = f === undefined ? () => true : typeof f === 'string' ? (l) => l.message.includes(f) : f instanceof RegExp ? (l) => f.test(l.message) : f;
    this.#onLost = options.onLost;
    // libuv opens every file O_CLOEXEC.
    this.#fd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Every complete line available now (filtered), without waiting. */
  read(): TraceLine[] {
    this.#checkOpen();
    this.#fill();
    const out = this.#lines;
    this.#lines = [];
    return out;
  }

  /** Resolves true when lines are available, false once closed; rejects on abort. */
  wait(options: { signal?: AbortSignal } = {}): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    this.#fill();
    if (this.#lines.length > 0) return Promise.resolve(true);
    const p = this.#waiters.add(options.signal);
    this.#syncPolling();
    return p;
  }

  /** Calls `fn` for every line as it arrives, from the event loop, until stop() or close(). */
  start(fn: (line: TraceLine) => void): void {
    this.#checkOpen();
    if (this.#callback || this.#iterating) throw new ArgumentError('this trace pipe already has a consumer', 'ERR_READER_BUSY');
    this.#callback = fn;
    this.#syncPolling();
  }

  stop(): void {
    this.#callback = null;
    this.#syncPolling();
  }

  /** Follows trace_pipe; ends when the reader closes, throws the signal's reason on abort. */
  async *lines(options: { signal?: AbortSignal } = {}): AsyncGenerator<TraceLine, void, undefined> {
    this.#checkOpen();
    if (this.#callback || this.#iterating) throw new ArgumentError('this trace pipe already has a consumer', 'ERR_READER_BUSY');
    this.#iterating = true;
    try {
      for (;;) {
        const batch = this.read();
        for (const l of batch) yield l;
        if (batch.length === 0 && !(await this.wait(options))) return;
        if (this.closed) return;
      }
    } finally {
      this.#iterating = false;
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<TraceLine> {
    return this.lines();
  }

  /** Stops reading and closes the file; waiters resolve false. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    this.#callback = null;
    this.#poller?.stop();
    this.#poller = null;
    closeSync(this.#fd);
    this.#fd = -1;
    this.#waiters.wake(false);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #checkOpen(): void {
    if (this.#fd < 0) throw new ArgumentError('the trace pipe is closed', 'EBADF');
  }

  /** Reads everything available (non-blocking) into parsed lines. */
  #fill(): void {
    if (this.#fd < 0) return;
    for (;;) {
      let n: number;
      try {
        n = readSync(this.#fd, this.#buf, 0, this.#buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw err;
      }
      if (n === 0) break;
      const text = this.#partial + this.#buf.toString('utf8', 0, n);
      const parts = text.split('\n');
      this.#partial = parts.pop()!;
      for (const raw of parts) this.#take(raw);
    }
  }

  #take(raw: string): void {
    if (raw === '') return;
    const line = parseTraceLine(raw);
    if (line) {
      if (this.#keep(line)) this.#lines.push(line);
      return;
    }
    const lost = parseLostLine(raw);
    if (lost) {
      this.lost += lost.lost;
      this.#onLost?.(lost.cpu, lost.lost);
    }
  }

  #syncPolling(): void {
    const want = this.#fd >= 0 && (this.#callback !== null || this.#waiters.size > 0);
    if (want && !this.#poller) {
      this.#poller = new FdPoller(this.#fd, POLL_READABLE, () => this.#onReady(), (err) => this.#waiters.fail(err));
      // Lines that came before the poller was registered (see RecordConsumer.syncPolling).
      setImmediate(() => setImmediate(() => this.#onReady()));
    } else if (!want && this.#poller) {
      this.#poller.stop();
      this.#poller = null;
    }
  }

  #onReady(): void {
    if (this.#fd < 0) return;
    this.#fill();
    if (this.#lines.length === 0) return;
    const cb = this.#callback;
    if (cb) {
      const lines = this.#lines;
      this.#lines = [];
      for (const l of lines) cb(l);
    }
    this.#waiters.wake(true);
    this.#syncPolling();
  }
}
