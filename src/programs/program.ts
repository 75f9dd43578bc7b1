/**
 * Program: a loaded BPF program owned through its fd.
 *
 * Loading follows cilium/ebpf's strategy: the first BPF_PROG_LOAD runs without a verifier log
 * (the log costs time on big programs); only when it fails is the load repeated with a log,
 * growing the buffer on ENOSPC (or sizing it exactly from log_true_size on 6.4+), so the
 * error can say why.
 */
import { ArgumentError, VerifierError } from '../errors.js';
import { encodeInstructions, type Instruction } from '../asm/index.js';
import {
  FD,
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
  data?: Uint8Array;
  /** Capacity of the output packet; defaults to the input size + 256 when data is given. */
  dataOutSize?: number;
  ctx?: Uint8Array;
  ctxOutSize?: number;
  repeat?: number;
  flags?: number;
  cpu?: number;
  batchSize?: number;
}

export interface TestRunOutput extends TestRunResult {
  dataOut?: Uint8Array;
  ctxOut?: Uint8Array;
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

  static fromFd(fd: FD): Program {
    const info = progInfo(fd.value);
    return new Program(fd, info.type, info.name, info.id);
  }

  static fromId(id: number): Program {
    return Program.fromFd(getFdById('prog', id));
  }

  static loadPinned(path: string): Program {
    return Program.fromFd(objGet(path)).pinnedFrom(path);
  }

  /** Ids of every program on the system. */
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

  info(opts?: { xlated?: boolean; jited?: boolean; lineInfo?: boolean }): ProgInfo & ProgInfoExtras {
    return progInfo(this.fd.value, opts);
  }

  /** BPF_PROG_TEST_RUN: runs the program in the kernel on the given packet and/or context. */
  testRun(opts: TestRunOptions = {}): TestRunOutput {
    const dataOut = opts.data ? new Uint8Array(opts.dataOutSize ?? opts.data.byteLength + 256) : undefined;
    const ctxOut = opts.ctxOutSize ? new Uint8Array(opts.ctxOutSize) : undefined;
    const r = progTestRun({
      progFd: this.fd.value,
      dataIn: opts.data,
      dataOut,
      ctxIn: opts.ctx,
      ctxOut,
      repeat: opts.repeat ?? 0,
      flags: opts.flags ?? 0,
      cpu: opts.cpu ?? 0,
      batchSize: opts.batchSize ?? 0,
    });
    return {
      ...r,
      dataOut: dataOut?.subarray(0, Math.min(r.dataSizeOut, dataOut.length)),
      ctxOut: ctxOut?.subarray(0, Math.min(r.ctxSizeOut, ctxOut.length)),
    };
  }

  /** Keeps `map` alive as long as this program (5.10+). */
  bindMap(mapFd: number): void {
    progBindMap(this.fd.value, mapFd);
  }
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
