/**
 * Program: a loaded BPF program owned through its fd.
 *
 * Loading follows cilium/ebpf's strategy: the first BPF_PROG_LOAD runs without a verifier log
 * (the log costs time on big programs); only when it fails is the load repeated with a log,
 * growing the buffer on ENOSPC (or sizing it exactly from log_true_size on 6.4+), so the
 * error can say why.
 */
import { ArgumentError, BpfError, NotSupportedError, VerifierError } from '../errors.js';
import { decodeInstructions, encodeInstructions, type Instruction } from '../asm/index.js';
import type { Spec } from '../btf/index.js';
import {
  FD,
  Struct,
  TestRunFlags,
  objGetInfoByFd,
  PROG_TYPE_NAMES,
  ProgType,
  bpfError,
  errno,
  errnoName,
  getFdById,
  listIds,
  objGet,
  progBindMap,
  progInfo,
  progLoadRaw,
  progTestRun,
  BPF_CMD,
  type ProgInfo,
  type ProgInfoExtras,
  type ProgLoadAttr,
  type TestRunResult,
  BpfObject,
} from '../sys/index.js';
import { bpfObjectKind } from './fd_kind.js';
import { loadBtfById } from './kernel_btf.js';

export type ProgTypeName = keyof typeof ProgType;

export interface ProgramOptions {
  /** A ProgType value or its name ('XDP', 'TRACEPOINT', 'SOCKET_FILTER', ...). */
  type: number | ProgTypeName;
  /** Instructions, or their encoding (8 bytes each, native byte order). */
  instructions: Uint8Array | readonly Instruction[];
  license?: string;
  name?: string;
  expectedAttachType?: number;
  flags?: number;
  kernelVersion?: number;
  ifindex?: number;
  btf?: {
    fd: number;
    funcInfo?: Uint8Array;
    funcInfoRecSize?: number;
    funcInfoCount?: number;
    lineInfo?: Uint8Array;
    lineInfoRecSize?: number;
    lineInfoCount?: number;
  };
  attachBtfId?: number;
  attachBtfObjFd?: number;
  fdArray?: Int32Array;
}

export interface LoadLogOptions {
  /** Always load with a log of this level (1 = verbose on failure, 2 = every instruction). */
  logLevel?: number;
  /** Starting log buffer size in bytes (default 64 KiB; grows on ENOSPC up to 16 MiB - 1). */
  logSize?: number;
}

/** The kernel caps log_size at UINT32_MAX >> 8 (16 MiB - 1) before 6.4 and rejects larger. */
const LOG_MAX = (2 ** 32 - 1) >>> 8;

export function progTypeOf(type: number | string): number {
  if (typeof type === 'number') return type;
  const v = (ProgType as Record<string, number>)[type.toUpperCase()];
  if (v === undefined) throw new ArgumentError(`unknown program type '${type}'`, 'ERR_PROG_TYPE');
  return v;
}

export interface TestRunOptions {
  /** The packet (skb, XDP, flow dissector, ... programs). */
  data?: Uint8Array;
  /**
   * Capacity of the output packet. Default: the input's size + 256 (XDP's headroom, which
   * bpf_xdp_adjust_head can hand to the packet) when `data` is given; 0 for no output packet.
   * A packet that grows beyond it fails with ENOSPC.
   */
  dataOutSize?: number;
  /** The context (`struct __sk_buff`, `struct xdp_md`, raw tracepoint arguments, ...): 5.2+. */
  ctx?: Uint8Array;
  /**
   * Capacity of the output context. Default 0: no context out (raw tracepoint programs
   * refuse one). Pass `ctx.length` to read back what the program wrote to its context.
   */
  ctxOutSize?: number;
  /** Runs the program this many times (the kernel's default, 0, means once). */
  repeat?: number;
  /** TestRunFlags: RUN_ON_CPU (raw tracepoints), XDP_LIVE_FRAMES (5.18+). */
  flags?: number;
  /** CPU to run on (raw tracepoints, 5.10+); sets TestRunFlags.RUN_ON_CPU. */
  cpu?: number;
  /** Frames per batch with XDP_LIVE_FRAMES (5.18+; the kernel's default is 64). */
  batchSize?: number;
}

export interface TestRunOutput extends TestRunResult {
  /** The packet after the run (dataSizeOut bytes). */
  dataOut?: Uint8Array;
  /** The context after the run (ctxSizeOut bytes). */
  ctxOut?: Uint8Array;
}

/** One BTF func_info record of a loaded program: where a function starts, and its BTF type. */
export interface ProgFuncRecord {
  /** Instruction (slot) index in the translated program. */
  insnOff: number;
  /** Id of the BTF_KIND_FUNC type in the program's BTF. */
  typeId: number;
}

/** One BTF line_info record of a loaded program: the source line of an instruction. */
export interface ProgLineRecord {
  insnOff: number;
  /** Offsets into the program's BTF string table. */
  fileNameOff: number;
  lineOff: number;
  line: number;
  column: number;
}

/** The program as the kernel runs it (after the verifier's rewrites), with its debug info. */
export interface XlatedProgram {
  /** The translated instructions, 8 bytes each. */
  bytes: Uint8Array;
  instructions: Instruction[];
  funcInfo: ProgFuncRecord[];
  lineInfo: ProgLineRecord[];
  /**
   * Kernel addresses of the JITed functions (the main program, then each subprogram): a
   * bpf-to-bpf call's `imm` indexes this list. Empty when the program isn't JITed.
   */
  jitedKsyms: bigint[];
  /** Id of the program's BTF in the kernel, 0 if it has none. */
  btfId: number;
}

/** Run-time statistics of a program, counted while statistics are enabled (see enableRunStats). */
export interface ProgramStats {
  runCount: bigint;
  runTimeNs: bigint;
  /** Runs skipped because the program was already running on the CPU (5.12+). */
  recursionMisses: bigint;
}

export class Program extends BpfObject {
  readonly type: number;
  readonly name: string;
  #id: number | undefined;

  constructor(fd: FD, type: number, name: string, id?: number) {
    super(fd);
    this.type = type;
    this.name = name;
    this.#id = id;
  }

  /**
   * Loads a program. A verifier rejection throws VerifierError (message: the useful tail of the
   * log; `.log`: all of it); other failures throw BpfError.
   */
  static load(opts: ProgramOptions, log: LoadLogOptions = {}): Program {
    const insns = opts.instructions instanceof Uint8Array ? opts.instructions : encodeInstructions(opts.instructions);
    if (insns.byteLength === 0 || insns.byteLength % 8 !== 0) {
      throw new ArgumentError(`program '${opts.name ?? ''}': instructions must be a non-empty multiple of 8 bytes`, 'ERR_INSNS');
    }
    const type = progTypeOf(opts.type);
    const name = opts.name ?? '';
    const attr: ProgLoadAttr = {
      progType: type,
      insns,
      license: opts.license ?? 'GPL',
      name: sanitizeObjName(name),
      expectedAttachType: opts.expectedAttachType ?? 0,
      progFlags: opts.flags ?? 0,
      kernVersion: opts.kernelVersion ?? 0,
      ifindex: opts.ifindex ?? 0,
      progBtfFd: opts.btf?.fd ?? 0,
      funcInfo: opts.btf?.funcInfo,
      funcInfoRecSize: opts.btf?.funcInfoRecSize ?? 0,
      funcInfoCnt: opts.btf?.funcInfoCount ?? 0,
      lineInfo: opts.btf?.lineInfo,
      lineInfoRecSize: opts.btf?.lineInfoRecSize ?? 0,
      lineInfoCnt: opts.btf?.lineInfoCount ?? 0,
      attachBtfId: opts.attachBtfId ?? 0,
      attachBtfObjFd: opts.attachBtfObjFd ?? 0,
      fdArray: opts.fdArray,
    };
    const fd = loadWithLog(attr, name, log);
    return new Program(new FD(fd, `program '${name}'`), type, name);
  }

  /** Wraps an fd of a loaded program, reading its type and name from the kernel. Takes ownership. */
  static fromFd(fd: FD): Program {
    const kind = bpfObjectKind(fd.value);
    if (kind !== undefined && kind !== 'prog') {
      const what = String(fd);
      fd.close();
      throw new ArgumentError(`${what} is a BPF ${kind}, not a program`, 'ERR_NOT_PROGRAM');
    }
    const info = progInfo(fd.value);
    return new Program(fd, info.type, info.name, info.id);
  }

  /** Opens a program by its kernel id (`bpftool prog show` lists them). Needs CAP_SYS_ADMIN. */
  static fromId(id: number): Program {
    let fd: FD;
    try {
      fd = getFdById('prog', id);
    } catch (e) {
      if (e instanceof BpfError && e.errno === errno.ENOENT) {
        throw new BpfError(e.command, e.errno, e.code, `no program with id ${id}`, { cause: e });
      }
      throw e;
    }
    return Program.fromFd(fd);
  }

  /** Opens a program pinned on bpffs; unpin() then removes that pin. */
  static loadPinned(path: string): Program {
    let fd: FD;
    try {
      fd = objGet(path);
    } catch (e) {
      if (e instanceof BpfError && e.errno === errno.ENOENT) {
        throw new BpfError(e.command, e.errno, e.code, `nothing pinned at ${path} (is bpffs mounted there?)`, { cause: e });
      }
      throw e;
    }
    return Program.fromFd(new FD(fd.release(), `program pinned at ${path}`)).pinnedFrom(path);
  }

  /** Ids of every program loaded in the kernel, ascending (BPF_PROG_GET_NEXT_ID). */
  static listIds(): number[] {
    return listIds('prog');
  }

  get id(): number {
    this.#id ??= this.info().id;
    return this.#id;
  }

  get typeName(): string {
    return PROG_TYPE_NAMES[this.type] ?? `type ${this.type}`;
  }

  /**
   * The kernel's information about the program: tag, type, name, map ids, translated and
   * JITed sizes, BTF id, load time (ns since boot), creator's uid, run statistics... With
   * options, also the translated or JITed code and the func/line info records.
   */
  info(opts?: { xlated?: boolean; jited?: boolean; lineInfo?: boolean }): ProgInfo & ProgInfoExtras {
    return progInfo(this.fd.value, opts);
  }

  /**
   * The full name: the kernel keeps 15 characters, so for a name that long the name of the
   * program's first BTF function is used, as bpftool does.
   */
  fullName(): string {
    return fullProgramName(this.fd.value);
  }

  /** Run count and run time, counted only while statistics are on (enableRunStats()). */
  stats(): ProgramStats {
    const i = this.info();
    return { runCount: i.runCnt, runTimeNs: i.runTimeNs, recursionMisses: i.recursionMisses };
  }

  /**
   * The program as the kernel runs it: translated instructions (map fds replaced by map ids,
   * helper calls by kernel addresses), BTF func and line info, JITed function addresses.
   * Needs CAP_SYS_ADMIN (or CAP_BPF+CAP_PERFMON); the kernel hides the code otherwise.
   */
  xlated(): XlatedProgram {
    const fd = this.fd.value;
    const info = progInfo(fd, { xlated: true, lineInfo: true });
    if (!info.xlated) {
      throw new NotSupportedError('reading translated instructions', `program '${this.name}': the kernel returned no instructions (kernel.kptr_restrict, or missing CAP_SYS_ADMIN/CAP_PERFMON)`);
    }
    const funcInfo: ProgFuncRecord[] = [];
    if (info.funcInfo && info.funcInfoRecSize) {
      const v = new DataView(info.funcInfo.buffer, info.funcInfo.byteOffset, info.funcInfo.byteLength);
      for (let off = 0; off + 8 <= v.byteLength; off += info.funcInfoRecSize) {
        funcInfo.push({ insnOff: v.getUint32(off, true), typeId: v.getUint32(off + 4, true) });
      }
    }
    const lineInfo: ProgLineRecord[] = [];
    if (info.lineInfo && info.lineInfoRecSize) {
      const v = new DataView(info.lineInfo.buffer, info.lineInfo.byteOffset, info.lineInfo.byteLength);
      for (let off = 0; off + 16 <= v.byteLength; off += info.lineInfoRecSize) {
        const lineCol = v.getUint32(off + 12, true);
        lineInfo.push({
          insnOff: v.getUint32(off, true),
          fileNameOff: v.getUint32(off + 4, true),
          lineOff: v.getUint32(off + 8, true),
          line: lineCol >>> 10,
          column: lineCol & 0x3ff,
        });
      }
    }
    return {
      bytes: info.xlated,
      instructions: decodeInstructions(info.xlated),
      funcInfo,
      lineInfo,
      jitedKsyms: jitedKsyms(fd, info.nrJitedKsyms),
      btfId: info.btfId,
    };
  }

  /** The program's BTF (types, source lines), read from the kernel; undefined if it has none. */
  btf(): Spec | undefined {
    const id = this.info().btfId;
    return id ? loadBtfById(id) : undefined;
  }

  /**
   * BPF_PROG_TEST_RUN: runs the program in the kernel on a packet and/or context and returns
   * its return value, the average run time, and the packet and context after the run.
   * Program types without test run support (kprobes, tracepoints, perf events, ...) throw
   * NotSupportedError. Kernel versions: 4.12+ (packet), 5.2+ (context), 5.10+ (cpu),
   * 5.18+ (XDP live frames, batch size).
   */
  testRun(opts: TestRunOptions = {}): TestRunOutput {
    const dataOutSize = opts.dataOutSize ?? (opts.data ? opts.data.byteLength + 256 : 0);
    const dataOut = dataOutSize > 0 ? new Uint8Array(dataOutSize) : undefined;
    const ctxOut = opts.ctxOutSize ? new Uint8Array(opts.ctxOutSize) : undefined;
    let flags = opts.flags ?? 0;
    if (opts.cpu !== undefined) flags |= TestRunFlags.RUN_ON_CPU;
    let r: TestRunResult;
    try {
      r = progTestRun({
        progFd: this.fd.value,
        dataIn: opts.data,
        dataOut,
        ctxIn: opts.ctx,
        ctxOut,
        repeat: opts.repeat ?? 0,
        flags,
        cpu: opts.cpu ?? 0,
        batchSize: opts.batchSize ?? 0,
      });
    } catch (e) {
      throw this.#testRunError(e, opts, dataOut, ctxOut);
    }
    return {
      ...r,
      dataOut: dataOut?.subarray(0, Math.min(r.dataSizeOut, dataOut.length)),
      ctxOut: ctxOut?.subarray(0, Math.min(r.ctxSizeOut, ctxOut.length)),
    };
  }

  #testRunError(e: unknown, opts: TestRunOptions, dataOut: Uint8Array | undefined, ctxOut: Uint8Array | undefined): unknown {
    if (!(e instanceof BpfError)) return e;
    const what = `program '${this.name}' (${this.typeName})`;
    switch (e.errno) {
      case ERRNO_ENOTSUPP:
      case errno.EOPNOTSUPP:
        return new NotSupportedError(
          `BPF_PROG_TEST_RUN for ${this.typeName} programs`,
          `${what}: this kernel can't test-run ${this.typeName} programs (BPF_PROG_TEST_RUN supports socket filters, skb, XDP, flow dissector, raw tracepoint, tracing, struct_ops, syscall, sk_lookup and netfilter programs)`,
          { cause: e },
        );
      case errno.ENOSPC:
        return new BpfError(
          e.command, e.errno, e.code,
          `BPF_PROG_TEST_RUN (${what}): the output did not fit: ${dataOut ? `dataOutSize is ${dataOut.length}` : 'no data out'}` +
            `${ctxOut ? `, ctxOutSize is ${ctxOut.length}` : ''}; pass a larger size (ENOSPC)`,
          { cause: e },
        );
      case errno.EINVAL: {
        const hints: string[] = [];
        if (opts.data && opts.data.length < 14) hints.push(`the packet has ${opts.data.length} bytes, skb and XDP programs need at least 14 (an Ethernet header)`);
        if (opts.ctx) hints.push('the context is the wrong size for this program type, sets fields the kernel does not accept, or this type takes no context');
        if (ctxOut && this.type === ProgType.RAW_TRACEPOINT) hints.push('raw tracepoint programs take no context out');
        if (opts.data && this.type === ProgType.RAW_TRACEPOINT) hints.push('raw tracepoint programs take a context, not data');
        if (opts.flags || opts.cpu !== undefined) hints.push('this program type does not take these flags or a cpu (RUN_ON_CPU is for raw tracepoints, XDP_LIVE_FRAMES for XDP with repeat)');
        if ((opts.repeat ?? 0) > 1 && this.type === ProgType.RAW_TRACEPOINT) hints.push('raw tracepoint programs run once (no repeat)');
        return new BpfError(
          e.command, e.errno, e.code,
          `BPF_PROG_TEST_RUN (${what}): invalid argument (EINVAL)${hints.length ? `: ${hints.join('; ')}` : ': the kernel refused the input for this program type'}`,
          { cause: e },
        );
      }
    }
    return e;
  }

  /**
   * Keeps `map` alive as long as this program, without a reference in its code (5.10+):
   * libbpf binds .rodata this way so that `bpftool prog show` lists it with the program.
   */
  bindMap(map: number | { fd: FD }): void {
    progBindMap(this.fd.value, typeof map === 'number' ? map : map.fd.value);
  }
}

/**
 * The full name of the program behind `fd`: the kernel keeps 15 characters of a name, so for
 * a name that long it is the name of the program's first BTF function (bpftool's
 * get_prog_full_name).
 */
export function fullProgramName(fd: number, info: ProgInfo = progInfo(fd)): string {
  if (info.name.length < 15 || !info.btfId || !info.nrFuncInfo) return info.name;
  try {
    const rec = new Uint32Array(2);
    // func_info_rec_size (132) = 8, func_info (136), nr_func_info (144) = 1: the first record.
    objGetInfoByFd(fd, new Struct(232).u32(132, 8).ptr(136, rec).u32(144, 1).bytes);
    const t = loadBtfById(info.btfId).tryTypeById(rec[1]!);
    return t?.kind === 'func' ? t.name : info.name;
  } catch {
    return info.name;
  }
}

/** The kernel-internal ENOTSUPP (524) that test runs of unsupported program types return. */
const ERRNO_ENOTSUPP = 524;

/** bpf_prog_info.jited_ksyms: the JITed functions' addresses (offsets 104, 112 in the struct). */
function jitedKsyms(fd: number, count: number): bigint[] {
  if (!count) return [];
  const addrs = new BigUint64Array(count);
  const s = new Struct(232).u32(104, count).ptr(112, addrs);
  objGetInfoByFd(fd, s.bytes);
  return Array.from(addrs.subarray(0, Math.min(count, s.getU32(104))));
}

/** Object names may hold only [A-Za-z0-9_.] and 15 characters (the kernel refuses others). */
export function sanitizeObjName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
}

function loadWithLog(attr: ProgLoadAttr, name: string, opts: LoadLogOptions): number {
  const cmd = BPF_CMD.BPF_PROG_LOAD;
  if (!opts.logLevel) {
    const r = progLoadRaw(attr).result;
    if (r >= 0) return r;
    // Privilege and size problems are about the caller or the kernel, and the verifier never
    // ran: no log would say more. Anything else (EACCES, EINVAL, ENOENT for a missing kernel
    // symbol, ...) is worth a second load with a log that says why.
    if (-r === errno.EPERM || -r === errno.E2BIG || -r === errno.ENOMEM) throw bpfError(cmd, -r, `program '${name}'`);
  }
  let size = Math.min(opts.logSize ?? 64 * 1024, LOG_MAX);
  const level = opts.logLevel || 1;
  for (;;) {
    const buf = new Uint8Array(size);
    const { result, logTrueSize } = progLoadRaw({ ...attr, logLevel: level, logBuf: buf });
    const log = decodeLog(buf);
    if (result >= 0) return result;
    const e = -result;
    if (e === errno.ENOSPC && size < LOG_MAX) {
      size = logTrueSize > size ? Math.min(logTrueSize, LOG_MAX) : Math.min(size * 4, LOG_MAX);
      continue;
    }
    if (log.trim() === '' && e !== errno.EACCES) throw bpfError(cmd, e, `program '${name}'`);
    throw new VerifierError(name, e, errnoName(e), log, e === errno.ENOSPC);
  }
}

function decodeLog(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(end < 0 ? buf : buf.subarray(0, end));
}
