/**
 * Promises that readers hand to callers waiting for data: each resolves `true` when data may be
 * there, `false` when the reader closed, or rejects with the signal's reason on abort.
 */
interface Waiter {
  resolve(value: boolean): void;
  reject(err: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class Waiters {
  readonly #list = new Set<Waiter>();
  readonly #onAbandon: () => void;

  /** `onAbandon` runs when an aborted waiter leaves (the reader stops polling if nobody else waits). */
  constructor(onAbandon: () => void = () => {}) {
    this.#onAbandon = onAbandon;
  }

  get size(): number {
    return this.#list.size;
  }

  /** A promise settled by wake(), close() or the signal. */
  add(signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<boolean>((resolve, reject) => {
      const w: Waiter = { resolve, reject, signal, onAbort: undefined };
      if (signal) {
        w.onAbort = () => {
          this.#list.delete(w);
          reject(abortReason(signal));
          this.#onAbandon();
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#list.add(w);
    });
  }

  /** Settles every waiter with `value` (true: data, false: closed). */
  wake(value: boolean): void {
    if (this.#list.size === 0) return;
    const all = [...this.#list];
    this.#list.clear();
    for (const w of all) {
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      w.resolve(value);
    }
  }

  /** Rejects every waiter (a poll error). */
  fail(err: unknown): void {
    const all = [...this.#list];
    this.#list.clear();
    for (const w of all) {
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      w.reject(err);
    }
  }
}

/** The signal's reason (an AbortError DOMException unless abort() was given one). */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}
