/**
 * What every tool shares: option parsing with `--help`, the privilege check, and the run
 * lifecycle (Ctrl-C, SIGTERM or `--duration` end the run; everything the tool attached is
 * detached before it exits 0).
 */
import { readFileSync } from 'node:fs';
import { EbpfError } from '../src/errors.js';

/** One option of a tool. `short` is a single letter; `value` names its argument, if it takes one. */
export interface ToolOption {
  long: string;
  short?: string;
  value?: string;
  help: string;
  /** Parse (and validate) the argument; throw ToolUsageError with a clear message when it's wrong. */
  parse?: (text: string) => unknown;
  repeat?: boolean;
  /** Store the value under this long name instead (an alias, like opensnoop's -d for --duration). */
  dest?: string;
}

export interface ToolDefinition {
  name: string;
  summary: string;
  usage?: string;
  options: ToolOption[];
  examples?: string[];
}

/** A usage mistake: printed as one line with a pointer to --help, exit status 2. */
export class ToolUsageError extends Error {
  override name = 'ToolUsageError';
}

/** Options every tool takes, beyond its own. */
export const COMMON_OPTIONS: ToolOption[] = [
  { long: 'duration', value: 'SECONDS', help: 'stop after SECONDS (default: until Ctrl-C or SIGTERM)', parse: positiveNumber('duration') },
  { long: 'help', short: 'h', help: 'show this help' },
];

export function positiveNumber(what: string): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw new ToolUsageError(`--${what} needs a positive number, got '${text}'`);
    return n;
  };
}

export function nonNegativeInteger(what: string): (text: string) => number {
  return (text) => {
    if (!/^\d+$/.test(text)) throw new ToolUsageError(`${what} needs a non-negative integer, got '${text}'`);
    return Number(text);
  };
}

export function regex(what: string): (text: string) => RegExp {
  return (text) => {
    try {
      return new RegExp(text);
    } catch (e) {
      throw new ToolUsageError(`${what}: not a valid regular expression: ${(e as Error).message}`);
    }
  };
}

export function helpText(def: ToolDefinition): string {
  const all = [...def.options, ...COMMON_OPTIONS];
  const rows = all.map((o) => {
    const names = `${o.short ? `-${o.short}, ` : '    '}--${o.long}${o.value ? ` ${o.value}` : ''}`;
    return [names, o.help] as const;
  });
  const width = Math.max(...rows.map(([n]) => n.length)) + 2;
  let out = `Usage: ebpf-ts ${def.name} ${def.usage ?? '[OPTIONS]'}\n\n${def.summary}\n\nOptions:\n`;
  for (const [names, help] of rows) out += `  ${names.padEnd(width)}${help}\n`;
  if (def.examples?.length) out += `\nExamples:\n${def.examples.map((e) => `  ${e}`).join('\n')}\n`;
  return out;
}

/**
 * Parses argv against the tool's options: `-x`, `-p 12`, `-p12`, `--pid 12`, `--pid=12`, and
 * bundled short flags (`-Tx`). Values are keyed by long name; flags are `true`; repeatable
 * options collect arrays. Anything unknown is a ToolUsageError.
 */
export function parseToolArgs(def: ToolDefinition, argv: string[]): { values: Record<string, unknown>; positionals: string[] } {
  const all = [...def.options, ...COMMON_OPTIONS];
  const byLong = new Map(all.map((o) => [o.long, o]));
  const byShort = new Map(all.filter((o) => o.short).map((o) => [o.short!, o]));
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  const set = (o: ToolOption, text: string | undefined) => {
    let v: unknown = true;
    if (o.value !== undefined) {
      if (text === undefined) throw new ToolUsageError(`option --${o.long} needs a value (${o.value})`);
      v = o.parse ? o.parse(text) : text;
    }
    const key = o.dest ?? o.long;
    if (o.repeat) ((values[key] ??= []) as unknown[]).push(v);
    else values[key] = v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const o = byLong.get(name);
      if (!o) throw new ToolUsageError(`unknown option '--${name}'`);
      if (o.value !== undefined) set(o, eq >= 0 ? a.slice(eq + 1) : argv[++i]);
      else if (eq >= 0) throw new ToolUsageError(`option --${name} takes no value`);
      else set(o, undefined);
    } else if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      for (let j = 1; j < a.length; j++) {
        const o = byShort.get(a[j]!);
        if (!o) throw new ToolUsageError(`unknown option '-${a[j]}'`);
        if (o.value !== undefined) {
          set(o, j + 1 < a.length ? a.slice(j + 1) : argv[++i]);
          break;
        }
        set(o, undefined);
      }
    } else {
      positionals.push(a);
    }
  }
  return { values, positionals };
}

// Capability bits (linux/capability.h).
const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

/** The effective capability set of this process, from /proc/self/status. */
function effectiveCapabilities(): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt('0x' + m[1]) : 0n;
  } catch {
    return 0n;
  }
}

/**
 * Says, in one line, why this process can't run a tool, or undefined when it can. Tracing tools
 * need CAP_BPF + CAP_PERFMON, networking tools CAP_BPF + CAP_NET_ADMIN; CAP_SYS_ADMIN covers both
 * (kernels before 5.8 know only that one).
 */
export function missingPrivileges(tool: string, kind: 'tracing' | 'networking'): string | undefined {
  const caps = effectiveCapabilities();
  const has = (bit: number) => (caps >> BigInt(bit)) & 1n;
  if (has(CAP_SYS_ADMIN)) return undefined;
  const second = kind === 'tracing' ? CAP_PERFMON : CAP_NET_ADMIN;
  if (has(CAP_BPF) && has(second)) return undefined;
  const needs = kind === 'tracing' ? 'CAP_BPF and CAP_PERFMON' : 'CAP_BPF and CAP_NET_ADMIN';
  return `ebpf-ts ${tool}: needs root (or ${needs}): run it with sudo, e.g. sudo npx ebpf-ts ${tool}`;
}

/** Where a tool writes; tests and embedders may replace it. */
export interface ToolIO {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIO: ToolIO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/**
 * Runs a tool: parses its options (printing help or a usage error), checks privileges, then calls
 * `body` with an AbortSignal that fires on SIGINT, SIGTERM or when `--duration` elapses. `body`
 * owns its kernel objects (with `using` / try-finally) and returns when the signal fires.
 * Returns the exit status: 0 after a clean stop, 1 on an error (one line on stderr), 2 on a usage
 * mistake.
 */
export async function runTool(
  def: ToolDefinition,
  kind: 'tracing' | 'networking',
  argv: string[],
  body: (values: Record<string, unknown>, signal: AbortSignal, io: ToolIO) => Promise<void>,
  io: ToolIO = processIO,
): Promise<number> {
  let values: Record<string, unknown>;
  try {
    const parsed = parseToolArgs(def, argv);
    if (parsed.positionals.length) throw new ToolUsageError(`unexpected argument '${parsed.positionals[0]}'`);
    values = parsed.values;
  } catch (e) {
    if (e instanceof ToolUsageError) {
      io.err(`ebpf-ts ${def.name}: ${e.message} (see ebpf-ts ${def.name} --help)\n`);
      return 2;
    }
    throw e;
  }
  if (values.help) {
    io.out(helpText(def));
    return 0;
  }
  const denied = missingPrivileges(def.name, kind);
  if (denied) {
    io.err(denied + '\n');
    return 1;
  }
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const timer = typeof values.duration === 'number' ? setTimeout(stop, values.duration * 1000) : undefined;
  try {
    await body(values, controller.signal, io);
    return 0;
  } catch (e) {
    // Readers that follow a stream end by throwing the signal's reason: that is the stop.
    if (controller.signal.aborted && (e === controller.signal.reason || (e as Error | undefined)?.name === 'AbortError')) return 0;
    if (e instanceof ToolUsageError) {
      io.err(`ebpf-ts ${def.name}: ${e.message} (see ebpf-ts ${def.name} --help)\n`);
      return 2;
    }
    if (e instanceof EbpfError) {
      io.err(`ebpf-ts ${def.name}: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/**
 * Says on stderr that the tool is attached and reading, so that stdout holds only the output
 * (JSON lines stay parseable); tests wait for this line before they cause activity.
 */
export function announceReady(io: ToolIO, tool: string, what: string): void {
  io.err(`ebpf-ts ${tool}: ${what}; Ctrl-C to end\n`);
}

/** Resolves when the signal fires (at once if it already has). */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * Calls `report` every `seconds` until the signal fires, then once more for the last, partial
 * interval (`finalReport` decides whether that one is worth printing).
 */
export async function reportEvery(seconds: number, signal: AbortSignal, report: () => void, finalReport: () => boolean = () => true): Promise<void> {
  const timer = setInterval(report, seconds * 1000);
  try {
    await aborted(signal);
  } finally {
    clearInterval(timer);
  }
  if (finalReport()) report();
}

/** `HH:MM:SS` of a Date, local time, as the classic tools print it. */
export function clockTime(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A NUL-terminated C string from a byte array (latin1 would mangle UTF-8 file names). */
export function cString(bytes: Uint8Array | string): string {
  if (typeof bytes === 'string') return bytes;
  const end = bytes.indexOf(0);
  return Buffer.from(bytes.buffer, bytes.byteOffset, end < 0 ? bytes.length : end).toString('utf8');
}
