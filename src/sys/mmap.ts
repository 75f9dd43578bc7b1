/**
 * Shared memory mappings of BPF objects (ring buffers, perf buffers, mmapable arrays).
 * The ArrayBuffer is detached on unmap, so no typed array can read a stale mapping.
 */
import { syscallError } from './errno.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE, native } from './native.js';

export { MAP_SHARED, PROT_READ, PROT_WRITE };

export class Mapping {
  #buffer: ArrayBuffer | null;
  readonly length: number;

  private constructor(buffer: ArrayBuffer) {
    this.#buffer = buffer;
    this.length = buffer.byteLength;
  }

  /** mmap(2) of `length` bytes of `fd` at `offset` (page aligned). */
  static map(fd: number, length: number, prot: number, offset = 0, what = 'mmap'): Mapping {
    const r = native.mmap(fd, length, prot, MAP_SHARED, offset);
    if (typeof r === 'number') throw syscallError('mmap', -r, what);
    return new Mapping(r);
  }

  /** The mapped memory. Throws after unmap. */
  get buffer(): ArrayBuffer {
    if (!this.#buffer) throw syscallError('mmap', 9 /* EBADF */, 'mapping is unmapped');
    return this.#buffer;
  }

  get mapped(): boolean {
    return this.#buffer !== null;
  }

  /** Unmaps; every view of the buffer becomes zero-length. Idempotent. */
  unmap(): void {
    const b = this.#buffer;
    if (!b) return;
    this.#buffer = null;
    const r = native.munmap(b);
    if (r < 0) throw syscallError('munmap', -r);
  }

  [Symbol.dispose](): void {
    this.unmap();
  }
}

let pageSizeCache = 0;
/** The system page size (read once from the auxiliary vector through getconf's knowledge: 4096 on x86-64/arm64 default). */
export function pageSize(): number {
  if (!pageSizeCache) {
    // Node exposes no sysconf; the BPF ring buffer layout uses the kernel's PAGE_SIZE, which on
    // every supported architecture config we run on is 4 KiB. Overridable for 16K/64K kernels.
    pageSizeCache = Number(process.env.EBPF_TS_PAGE_SIZE ?? 4096);
  }
  return pageSizeCache;
}
