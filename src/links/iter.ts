/**
 * BPF iterators (5.8+): a tracing program (section `iter/<target>`: task, task_file, bpf_map,
 * bpf_map_elem, tcp, udp, cgroup, ...) run over kernel objects, writing text or binary output
 * with bpf_seq_printf/bpf_seq_write. Attaching gives an iter link; each BPF_ITER_CREATE on it
 * opens a new run, read like a file until end of file.
 */
import { createReadStream, openSync, readSync, type ReadStream } from 'node:fs';
import { ArgumentError } from '../errors.js';
import type { Program } from '../programs/program.js';
import { AttachType, FD, LinkType, ProgType, Struct, iterCreate, linkCreate } from '../sys/index.js';
import { Link, progFd, registerLinkClass } from './link.js';

/** BPF_CGROUP_ITER_* orders of the cgroup iterator (6.1+). */
export const CgroupIterOrder = { SELF_ONLY: 1, DESCENDANTS_PRE: 2, DESCENDANTS_POST: 3, ANCESTORS_UP: 4 } as const;

export interface IterOptions {
  /** For bpf_map_elem / bpf_sk_storage_map iterators: the map to walk. */
  map?: { fd: FD };
  /** For the cgroup iterator (6.1+): a cgroup directory (path or open fd) and the walk order. */
  cgroup?: { path?: string; fd?: number; id?: bigint; order?: number };
  /** For task, task_file, task_vma iterators (6.1+): only this thread, process, or pidfd's process. */
  task?: { tid?: number; pid?: number; pidFd?: number };
}

/** An iterator link: open() starts a run; read()/readText()/stream() read one run's output. */
export class IterLink extends Link {
  /** Starts a run of the iterator (BPF_ITER_CREATE): a readable fd, read to end of file. */
  open(): FD {
    return iterCreate(this.fd.value);
  }

  /** Runs the iterator once and returns all of its output. Synchronous: for small outputs. */
  read(): Uint8Array {
    const fd = this.open();
    try {
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const buf = new Uint8Array(64 * 1024);
        const n = readSync(fd.value, buf, 0, buf.length, null);
        if (n <= 0) break;
        chunks.push(buf.subarray(0, n));
        total += n;
      }
      const out = new Uint8Array(total);
      let off = 0;
      for (const c of chunks) {
        out.set(c, off);
        off += c.length;
      }
      return out;
    } finally {
      fd.close();
    }
  }

  /** read() decoded as UTF-8 (for bpf_seq_printf output). */
  readText(): string {
    return new TextDecoder().decode(this.read());
  }

  /**
   * Runs the iterator once as a Node readable stream of Buffers, read on libuv's thread pool;
   * `for await (const chunk of link.stream())`. The stream owns the run's fd and closes it at
   * the end (or on destroy()).
   */
  stream(opts: { highWaterMark?: number; signal?: AbortSignal } = {}): ReadStream {
    const fd = this.open().release();
    return createReadStream('', { fd, autoClose: true, highWaterMark: opts.highWaterMark ?? 64 * 1024, signal: opts.signal });
  }

  /** Runs the iterator once and yields its output line by line. */
  async *lines(opts: { signal?: AbortSignal } = {}): AsyncGenerator<string> {
    const decoder = new TextDecoder();
    let rest = '';
    for await (const chunk of this.stream(opts)) {
      rest += decoder.decode(chunk as Buffer, { stream: true });
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        yield rest.slice(0, nl);
        rest = rest.slice(nl + 1);
      }
    }
    rest += decoder.decode();
    if (rest) yield rest;
  }
}

registerLinkClass(LinkType.ITER, (fd) => new IterLink(fd));

/**
 * Attaches an iterator program (BPF_LINK_CREATE with BPF_TRACE_ITER, 5.8+). The program must
 * have been loaded for its target (`iter/task` -> attach_btf_id of bpf_iter_task).
 */
export function attachIter(prog: Program, opts: IterOptions = {}): IterLink {
  const fd = progFd(prog, `iterator '${prog.name}'`);
  if (prog.type !== ProgType.TRACING) throw new ArgumentError(`program '${prog.name}' is a ${prog.typeName} program, not an iterator (tracing, iter/...)`);
  // union bpf_iter_link_info: map {map_fd}; cgroup {order, cgroup_fd, cgroup_id}; task {tid, pid, pid_fd}.
  let info: Struct | undefined;
  let cgroupFd: FD | undefined;
  if (opts.map) info = new Struct(16).u32(0, opts.map.fd.value);
  else if (opts.cgroup) {
    let fdNum = opts.cgroup.fd ?? 0;
    if (opts.cgroup.path !== undefined) {
      cgroupFd = new FD(openSync(opts.cgroup.path, 'r'), `cgroup ${opts.cgroup.path}`);
      fdNum = cgroupFd.value;
    }
    info = new Struct(16).u32(0, opts.cgroup.order ?? CgroupIterOrder.SELF_ONLY).u32(4, fdNum).u64(8, opts.cgroup.id ?? 0n);
  } else if (opts.task) info = new Struct(16).u32(0, opts.task.tid ?? 0).u32(4, opts.task.pid ?? 0).u32(8, opts.task.pidFd ?? 0);
  try {
    const lfd = linkCreate({
      progFd: fd,
      targetFd: 0,
      attachType: AttachType.TRACE_ITER,
      // iter_info@16, iter_info_len@24.
      extra: (a) => {
        if (info) a.ptr(16, info.bytes).u32(24, info.bytes.length);
      },
      what: `iterator '${prog.name}'`,
    });
    return new IterLink(lfd);
  } finally {
    cgroupFd?.close();
  }
}
