/**
 * What every kernel object with an fd shares: ownership of the fd, pinning on bpffs, close()
 * and Symbol.dispose. Maps, programs and links extend it.
 */
import { unlinkSync } from 'node:fs';
import { objPin } from './bpf.js';
import type { FD } from './fd.js';

export abstract class BpfObject {
  readonly fd: FD;
  #pinnedAt: string | undefined;

  protected constructor(fd: FD) {
    this.fd = fd;
  }

  /** Pins the object on bpffs at `path`. */
  pin(path: string): void {
    objPin(this.fd.value, path);
    this.#pinnedAt = path;
  }

  /** Removes the pin made by pin() or found by loadPinned(). */
  unpin(): void {
    if (!this.#pinnedAt) return;
    unlinkSync(this.#pinnedAt);
    this.#pinnedAt = undefined;
  }

  get pinnedAt(): string | undefined {
    return this.#pinnedAt;
  }

  /** Records that the object was opened from a pin, so unpin() removes it. */
  protected pinnedFrom(path: string): this {
    this.#pinnedAt = path;
    return this;
  }

  /** Closes the fd (the kernel frees the object when nothing else holds it). Idempotent. */
  close(): void {
    this.fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
