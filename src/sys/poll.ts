/**
 * fd readiness on Node's event loop (libuv uv_poll_t, i.e. epoll): no threads, no timers.
 */
import { syscallError } from './errno.js';
import { POLL_READABLE, POLL_WRITABLE, native, type PollHandle } from './native.js';

export { POLL_READABLE, POLL_WRITABLE };

export class FdPoller {
  #handle: PollHandle | null;

  /** Calls `onReady(events)` whenever `fd` is ready; `onError(err)` on a poll error. */
  constructor(fd: number, events: number, onReady: (events: number) => void, onError?: (err: Error) => void) {
    const h = native.pollStart(fd, events, (status, ev) => {
      if (status < 0) {
        const err = syscallError('poll', -status, `fd ${fd}`);
        if (onError) onError(err);
        else throw err;
        return;
      }
      onReady(ev);
    });
    if (typeof h === 'number') throw syscallError('uv_poll_start', -h, `fd ${fd}`);
    this.#handle = h;
  }

  get active(): boolean {
    return this.#handle !== null;
  }

  /** Stops watching. Idempotent. Must be called before the fd is closed. */
  stop(): void {
    const h = this.#handle;
    if (!h) return;
    this.#handle = null;
    native.pollStop(h);
  }

  [Symbol.dispose](): void {
    this.stop();
  }
}
