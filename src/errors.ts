/**
 * Error classes shared by every layer. Pure: no syscalls, so the parsing layers can use them.
 *
 * Every error has a string `code`, checked the way Node's own errors are
 * (`err.code === 'ENOENT'`), or with `instanceof` on the class (cilium/ebpf's sentinel
 * errors play the same role: `errors.Is(err, ErrNotSupported)`).
 */

/** Base class of every error ebpf-ts throws on purpose. */
export class EbpfError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A syscall failed. `code` is the errno name (`EPERM`, `ENOENT`, ...), `errno` its number. */
export class SyscallError extends EbpfError {
  readonly errno: number;
  readonly syscall: string;
  constructor(syscall: string, errno: number, code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.errno = errno;
    this.syscall = syscall;
  }
}

/** bpf(2) failed. `command` names the bpf command (`BPF_MAP_CREATE`...). */
export class BpfError extends SyscallError {
  readonly command: string;
  constructor(command: string, errno: number, code: string, message: string, options?: { cause?: unknown }) {
    super('bpf', errno, code, message, options);
    this.command = command;
  }
}

/** The running kernel lacks a feature (a program type, a map type, a hook, kprobes...). */
export class NotSupportedError extends EbpfError {
  /** What is missing, e.g. `kprobes (CONFIG_KPROBES)`, `BPF_MAP_TYPE_ARENA`. */
  readonly feature: string;
  constructor(feature: string, message?: string, options?: { cause?: unknown }) {
    super('ENOTSUP', message ?? `not supported by this kernel: ${feature}`, options);
    this.feature = feature;
  }
}

/**
 * The verifier rejected a program. `message` holds the useful tail of the log; `log` all of it.
 * `errno` is what BPF_PROG_LOAD returned (usually EACCES or EINVAL).
 */
export class VerifierError extends BpfError {
  readonly log: string;
  readonly program: string;
  constructor(program: string, errno: number, code: string, log: string, truncated = false) {
    const tail = VerifierError.tail(log);
    const msg =
      `the verifier rejected program '${program}' (${code})` +
      (tail ? `:\n${tail}` : ': no verifier log') +
      (truncated ? '\n(log truncated)' : '');
    super('BPF_PROG_LOAD', errno, code, msg);
    this.log = log;
    this.program = program;
  }

  /** The lines that explain a rejection: the end of the log, without the statistics lines. */
  static tail(log: string, maxLines = 12): string {
    const lines = log.split('\n').filter((l) => l.trim() !== '');
    // "processed N insns ..." and "verification time" are statistics, not reasons.
    while (lines.length && /^(processed \d+ insns|verification time|stack depth|max_states_per_insn)/.test(lines[lines.length - 1]!)) {
      lines.pop();
    }
    return lines.slice(-maxLines).join('\n');
  }
}

/** A malformed or unsupported input file (ELF object, BTF blob...). `code` is e.g. `ERR_ELF`. */
export class FormatError extends EbpfError {
  /** Byte offset in the input where the problem was found, when known. */
  readonly offset: number | undefined;
  constructor(code: string, message: string, offset?: number) {
    super(code, offset === undefined ? message : `${message} (at offset ${offset})`);
    this.offset = offset;
  }
}

/** A caller passed a value that can't be right (wrong key size, closed object...). */
export class ArgumentError extends EbpfError {
  constructor(message: string, code = 'ERR_INVALID_ARG') {
    super(code, message);
  }
}
