/**
 * FD: an owned file descriptor of a kernel object.
 *
 * close() is idempotent. A FinalizationRegistry closes descriptors whose owner was garbage
 * collected without close(): a safety net, not a way of managing resources. It can never close
 * a number twice: close() unregisters before closing, and the registry holds only the number,
 * which stays reserved for this owner (the kernel can't hand it out again) until one of the two
 * paths closes it, exactly once.
 */
import { ArgumentError } from '../errors.js';
import { native } from './native.js';
import { syscallError } from './errno.js';

const leaked = new FinalizationRegistry<number>((fd) => {
  native.close(fd);
});

let openCount = 0;

export class FD {
  #fd: number;
  readonly #what: string;

  /** Takes ownership of `fd`. `what` names the object in errors ("map 'counts'"). */
  constructor(fd: number, what = 'fd') {
    if (!Number.isInteger(fd) || fd < 0) throw new ArgumentError(`invalid file descriptor ${fd} for ${what}`);
    this.#fd = fd;
    this.#what = what;
    openCount++;
    leaked.register(this, fd, this);
  }

  /** The raw descriptor. Throws if closed, so a stale number is never passed to the kernel. */
  get value(): number {
    if (this.#fd < 0) this.#closedError();
    return this.#fd;
  }

  // Out of line: the getter is on every map operation's path, where V8's inlining budget counts
  // bytecode (see sys/bpf.ts, Layout).
  #closedError(): never {
    throw new ArgumentError(`${this.#what} is closed`, 'EBADF');
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Closes the descriptor. Safe to call more than once. */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    openCount--;
    leaked.unregister(this);
    const r = native.close(fd);
    // EINTR from close(2) on Linux still releases the descriptor; anything else is a bug.
    if (r < 0 && r !== -4) throw syscallError('close', -r, this.#what);
  }

  /**
   * Gives up ownership: the caller becomes responsible for closing the returned number.
   * For handing a descriptor to code that closes it itself.
   */
  release(): number {
    const fd = this.value;
    this.#fd = -1;
    openCount--;
    leaked.unregister(this);
    return fd;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return this.#fd < 0 ? `${this.#what} (closed)` : `${this.#what} (fd ${this.#fd})`;
  }

  /** Number of FD objects open in this process (for leak tests). */
  static get openCount(): number {
    return openCount;
  }
}
