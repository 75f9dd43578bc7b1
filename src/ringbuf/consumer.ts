/**
 * What the ring buffer and perf buffer readers share: one consumer at a time (synchronous
 * drain, a callback on every wakeup, or an async iterator), waiting on the sources' fds through
 * libuv's uv_poll (polled only while someone consumes or waits), AbortSignal and close() waking
 * every waiter.
 */
import { ArgumentError } from '../errors.js';
import { FdPoller, POLL_READABLE } from '../sys/index.js';
import type { RecordDecoder, RecordView } from './record.js';
import { Waiters } from './wait.js';

/** A source of records with an fd to poll: one ring, or one CPU's perf buffer. */
export interface PolledSource {
  readonly fd: number;
  poller: FdPoller | null;
}

/** A record an async iterator handed out, and how to give its space back. */
export interface HeldRecord<R> {
  readonly record: R;
  release(): void;
}

export interface ConsumerOptions {
  /** Called with what a callback started by start() throws; without it, start()'s errors are thrown to the event loop. */
  onError?: (err: unknown) => void;
}

export abstract class RecordConsumer<R extends RecordView, S extends PolledSource> implements AsyncIterable<R> {
  readonly #waiters = new Waiters(() => this.syncPolling());
  readonly #onError: ((err: unknown) => void) | undefined;
  #callback: ((record: R) => void) | null = null;
  #callbackOnError: ((err: unknown) => void) | undefined;
  #stopOnAbort: (() => void) | null = null;
  #stopSignal: AbortSignal | undefined;
  #iterators = 0;
  #draining = false;
  #closed = false;

  protected constructor(options: ConsumerOptions) {
    this.#onError = options.onError;
  }

  /** The sources, in index order. */
  protected abstract get sources(): readonly S[];
  /** Hands every record of `source` to `fn`, up to `max`; returns how many. */
  protected abstract drainSource(source: S, fn: (record: R) => void, max: number): number;
  /** The next record of any source as a fresh record object, holding its space until released. */
  protected abstract takeOne(): HeldRecord<R> | null;
  /** Bytes not yet consumed in every source. */
  protected abstract pendingBytes(): number;
  /** Unmaps and closes what the reader owns (after polling stopped). */
  protected abstract releaseSources(): void;
  /** What the reader is called in errors. */
  protected abstract get what(): string;

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Calls `fn` for every record available now, synchronously, until the buffers are empty or
   * `maxRecords` were handled; returns the number of records. The record passed to `fn` is one
   * reused object per source, valid only during the call. If `fn` throws, that record counts as
   * consumed and the error propagates.
   */
  drain(fn: (record: R) => void, maxRecords = Infinity): number {
    this.checkOpen();
    if (this.#iterators > 0) throw new ArgumentError(`an async iterator is reading this ${this.what}: one consumer at a time`, 'ERR_READER_BUSY');
    if (this.#draining) throw new ArgumentError('drain() called from inside a record callback', 'ERR_READER_BUSY');
    this.#draining = true;
    let n = 0;
    try {
      const sources = this.sources;
      for (let i = 0; i < sources.length && n < maxRecords; i++) n += this.drainSource(sources[i]!, fn, maxRecords - n);
    } finally {
      this.#draining = false;
    }
    return n;
  }

  /** drain() with each record decoded by `decoder` (a BTF codec): `fn(value, record)`. */
  drainDecoded<T>(decoder: RecordDecoder<T>, fn: (value: T, record: R) => void, maxRecords = Infinity): number {
    return this.drain((r) => fn(r.decode(decoder), r), maxRecords);
  }

  /**
   * Resolves `true` when there is data (at once if there is), `false` once the reader is
   * closed; rejects with the signal's reason on abort. With drain(), this is libbpf's
   * `*_buffer__poll`: `while (await reader.wait()) reader.drain(fn)`.
   */
  wait(options: { signal?: AbortSignal } = {}): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.pendingBytes() > 0) return Promise.resolve(true);
    const p = this.#waiters.add(options.signal);
    this.syncPolling();
    return p;
  }

  /**
   * Calls `callback` for every record as the kernel writes them, from the event loop, until
   * stop(), close() or the signal aborts. Errors thrown by the callback go to `onError` (this
   * call's, else the reader's); without one, reading stops and the error is thrown to the event
   * loop (an uncaught exception, like an 'error' event without a listener). While started, the
   * reader keeps the event loop alive.
   */
  start(callback: (record: R) => void, options: { signal?: AbortSignal; onError?: (err: unknown) => void } = {}): void {
    this.checkOpen();
    if (this.#callback || this.#iterators > 0) throw new ArgumentError(`this ${this.what} already has a consumer (start() or an async iterator)`, 'ERR_READER_BUSY');
    if (options.signal?.aborted) return;
    this.#callback = callback;
    this.#callbackOnError = options.onError ?? this.#onError;
    if (options.signal) {
      this.#stopOnAbort = () => this.stop();
      this.#stopSignal = options.signal;
      options.signal.addEventListener('abort', this.#stopOnAbort, { once: true });
    }
    this.syncPolling();
  }

  /** Stops the callback started by start(). Idempotent. */
  stop(): void {
    this.#callback = null;
    this.#dropAbortListener();
    this.syncPolling();
  }

  /**
   * Async iteration over records: each is a view valid until the iteration continues (its
   * space is given back to the kernel then; helpers of a released record throw); `copy()` what
   * you keep. Ends when the reader closes; throws the signal's reason on abort.
   */
  records(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<R> {
    this.checkOpen();
    if (this.#callback || this.#iterators > 0) throw new ArgumentError(`this ${this.what} already has a consumer (start() or an async iterator)`, 'ERR_READER_BUSY');
    this.#iterators++;
    let held: HeldRecord<R> | null = null;
    let finished = false;
    const release = () => {
      if (held) {
        held.record.release();
        if (!this.#closed) held.release();
        held = null;
      }
    };
    const finish = () => {
      release();
      if (!finished) {
        finished = true;
        this.#iterators--;
      }
    };
    const it: AsyncIterableIterator<R> = {
      next: async (): Promise<IteratorResult<R>> => {
        release();
        while (!finished && !this.#closed) {
          const found = this.takeOne();
          if (found) {
            held = found;
            return { value: found.record, done: false };
          }
          try {
            if (!(await this.wait(options))) break;
          } catch (err) {
            finish();
            throw err;
          }
        }
        finish();
        return { value: undefined, done: true };
      },
      return: async (): Promise<IteratorResult<R>> => {
        finish();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  }

  /** Async iteration over decoded records (JS values, safe to keep). */
  async *decoded<T>(decoder: RecordDecoder<T>, options: { signal?: AbortSignal } = {}): AsyncGenerator<T, void, undefined> {
    for await (const r of this.records(options)) yield r.decode(decoder);
  }

  [Symbol.asyncIterator](): AsyncIterator<R> {
    return this.records();
  }

  /**
   * Stops waiting (every wait() resolves false, iterators end), stops the callback, and frees
   * the buffers (records still held become empty views). Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#callback = null;
    this.#dropAbortListener();
    for (const s of this.sources) {
      s.poller?.stop();
      s.poller = null;
    }
    try {
      this.releaseSources();
    } finally {
      this.#waiters.wake(false);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  protected checkOpen(): void {
    if (this.#closed) throw new ArgumentError(`the ${this.what} is closed`, 'EBADF');
  }

  /**
   * Polls the sources' fds exactly while someone consumes (a callback) or waits.
   *
   * libuv registers a new poller with epoll only in the loop's next poll phase, and a perf
   * event's poll() reports a wakeup once and clears it (perf_poll's atomic_xchg): a wakeup that
   * came before the registration is consumed by the registration itself and never reported
   * (seen on 6.18: a sample written in the same loop turn as the start was never delivered). So
   * once the new pollers are surely registered, the buffers are looked at once more: two check
   * phases later (the first may still precede that poll phase when the poller was started from
   * an I/O callback). Once per registration, not a polling timer.
   */
  protected syncPolling(): void {
    const want = !this.#closed && (this.#callback !== null || this.#waiters.size > 0);
    let started = false;
    for (const s of this.sources) {
      if (want && !s.poller) {
        s.poller = new FdPoller(s.fd, POLL_READABLE, () => this.#onReady(s), (err) => this.#onPollError(err));
        started = true;
      } else if (!want && s.poller) {
        s.poller.stop();
        s.poller = null;
      }
    }
    if (started) {
      setImmediate(() =>
        setImmediate(() => {
          if (!this.#closed && this.pendingBytes() > 0) this.#onReady(undefined);
        }),
      );
    }
  }

  /** Readiness of `source` (undefined: any source may have data). */
  #onReady(source: S | undefined): void {
    if (this.#closed) return;
    const cb = this.#callback;
    if (cb && !this.#draining) {
      this.#draining = true;
      try {
        if (source) this.drainSource(source, cb, Infinity);
        else for (const s of this.sources) this.drainSource(s, cb, Infinity);
      } catch (err) {
        const onError = this.#callbackOnError;
        if (!onError) {
          this.stop();
          throw err;
        }
        onError(err);
      } finally {
        this.#draining = false;
      }
    }
    this.#waiters.wake(true);
    if (!this.#callback) this.syncPolling();
  }

  #onPollError(err: Error): void {
    this.#waiters.fail(err);
    if (this.#callback) {
      const onError = this.#callbackOnError;
      this.stop();
      if (!onError) throw err;
      onError(err);
    }
    this.syncPolling();
  }

  #dropAbortListener(): void {
    if (this.#stopOnAbort && this.#stopSignal) this.#stopSignal.removeEventListener('abort', this.#stopOnAbort);
    this.#stopOnAbort = null;
    this.#stopSignal = undefined;
  }
}
