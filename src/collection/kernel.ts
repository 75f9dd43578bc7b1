/**
 * What externs resolve against on the running kernel: its configuration (/boot/config-$(uname
 * -r) or /proc/config.gz), its version (uname) and its symbols (/proc/kallsyms). Read on demand.
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { ArgumentError, FormatError, NotSupportedError } from '../errors.js';
import { encodeValue } from './values.js';
import type { ExternSpec } from './types.js';

/** KERNEL_VERSION(a, b, c) as the kernel computes it (c saturates at 255). */
export function kernelVersionCode(a: number, b: number, c: number): number {
  return ((a << 16) + (b << 8) + Math.min(c, 255)) >>> 0;
}

/** LINUX_KERNEL_VERSION from a release string such as `6.18.44-fc-v669`. */
export function parseKernelRelease(rel: string): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(rel);
  if (!m) throw new FormatError('ERR_KVERSION', `can't parse kernel release '${rel}'`);
  return kernelVersionCode(Number(m[1]), Number(m[2]), Number(m[3] ?? 0));
}

/** The running kernel's version code (uname -r). */
export function runningKernelVersion(): number {
  return parseKernelRelease(release());
}

/**
 * The kernel's configuration as text: /boot/config-$(uname -r), else /proc/config.gz
 * (CONFIG_IKCONFIG_PROC), as libbpf reads it. Throws NotSupportedError when neither exists.
 */
export function readKernelConfig(): string {
  const paths = [`/boot/config-${release()}`, '/proc/config.gz'];
  for (const p of paths) {
    let raw: Buffer;
    try {
      raw = readFileSync(p);
    } catch {
      continue;
    }
    // gzopen reads plain files too.
    return (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
  }
  throw new NotSupportedError('kernel configuration', `no kernel configuration to resolve .kconfig externs: tried ${paths.join(', ')}`);
}

/** `CONFIG_X=value` lines into a map (comments and `# CONFIG_X is not set` lines skipped). */
export function parseKconfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('CONFIG_')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw new FormatError('ERR_KCONFIG', `kconfig line '${line}': no '='`);
    const value = line.slice(eq + 1);
    if (value === '') throw new FormatError('ERR_KCONFIG', `kconfig line '${line}': no value`);
    if (!out.has(line.slice(0, eq))) out.set(line.slice(0, eq), value);
  }
  return out;
}

function kconfigError(ext: ExternSpec, msg: string): ArgumentError {
  return new ArgumentError(`extern (kconfig) '${ext.name}': ${msg}`, 'ERR_KCONFIG');
}

/**
 * Writes one kconfig value (`y`, `m`, `n`, a number, a quoted string) into `out` at the
 * extern's offset, with libbpf's typing rules: y/n/m for bool, tristate and char externs,
 * numbers for ints and chars, quoted strings for char arrays.
 */
export function setKconfigValue(ext: ExternSpec, value: string, out: DataView, le: boolean): void {
  const kind = ext.kconfigType;
  const first = value[0];
  if (first === 'y' || first === 'n' || first === 'm') {
    if (kind === 'bool') {
      if (first === 'm') throw kconfigError(ext, `value '${first}' implies tristate or char type`);
      out.setUint8(ext.offset, first === 'y' ? 1 : 0);
    } else if (kind === 'tristate') {
      out.setUint32(ext.offset, first === 'y' ? 1 : first === 'm' ? 2 : 0, le);
    } else if (kind === 'char') {
      out.setUint8(ext.offset, first.charCodeAt(0));
    } else {
      throw kconfigError(ext, `value '${first}' implies bool, tristate or char type`);
    }
    return;
  }
  if (first === '"') {
    if (kind !== 'chars') throw kconfigError(ext, `value ${value} implies a char array type`);
    if (value.length < 2 || !value.endsWith('"')) throw kconfigError(ext, `invalid string config ${value}`);
    let bytes = new TextEncoder().encode(value.slice(1, -1));
    if (bytes.length >= ext.size) bytes = bytes.subarray(0, ext.size - 1); // libbpf truncates (and warns)
    const dst = new Uint8Array(out.buffer, out.byteOffset + ext.offset, ext.size);
    dst.fill(0);
    dst.set(bytes);
    return;
  }
  let n: bigint;
  try {
    n = BigInt(/^-?0[0-7]+$/.test(value) ? `0o${value.replace(/^(-?)0/, '')}` : value);
  } catch {
    throw kconfigError(ext, `value '${value}' isn't a valid integer`);
  }
  if (kind !== 'int' && kind !== 'char') throw kconfigError(ext, `value '${value}' implies integer type`);
  setKconfigNumber(ext, n, out, le);
}

/** Writes a number into a kconfig extern (bool, char, int), checking that it fits. */
export function setKconfigNumber(ext: ExternSpec, n: bigint, out: DataView, le: boolean): void {
  const kind = ext.kconfigType;
  if (kind !== 'int' && kind !== 'char' && kind !== 'bool') throw kconfigError(ext, `value ${n} implies integer, char or boolean type`);
  if (kind === 'bool' && n !== 0n && n !== 1n) throw kconfigError(ext, `value ${n} isn't boolean compatible`);
  const bits = BigInt(ext.size * 8);
  const u = BigInt.asUintN(64, n);
  let fits: boolean;
  if (ext.size === 8) fits = true;
  else if (ext.signed) fits = BigInt.asUintN(64, u + (1n << (bits - 1n))) < 1n << bits;
  else fits = u >> bits === 0n;
  if (!fits) throw kconfigError(ext, `value ${n} doesn't fit in ${ext.size} bytes`);
  encodeValue({ id: 0, kind: 'int', name: '', size: ext.size, bits: ext.size * 8, offset: 0, signed: false, char: false, bool: false }, BigInt.asUintN(ext.size * 8, n), out, ext.offset, le);
}

export interface KallsymsEntry {
  address: bigint;
  type: string;
}

/**
 * Looks the given names up in /proc/kallsyms (one pass). Symbols of LLVM-promoted statics
 * (`name.llvm.123` of type 'd') count for `name`, as libbpf does. Addresses read as 0 without
 * CAP_SYSLOG or with kptr_restrict; the caller decides what that means.
 */
export function lookupKallsyms(names: Iterable<string>): Map<string, KallsymsEntry[]> {
  const wanted = new Set(names);
  const out = new Map<string, KallsymsEntry[]>();
  if (wanted.size === 0) return out;
  let text: string;
  try {
    text = readFileSync('/proc/kallsyms', 'utf8');
  } catch (err) {
    throw new NotSupportedError('/proc/kallsyms', `can't read /proc/kallsyms to resolve untyped ksyms: ${(err as Error).message}`, { cause: err });
  }
  let pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const line = text.slice(pos, nl);
    pos = nl + 1;
    const sp1 = line.indexOf(' ');
    const sp2 = line.indexOf(' ', sp1 + 1);
    if (sp1 < 0 || sp2 < 0) continue;
    let name = line.slice(sp2 + 1);
    const tab = name.indexOf('\t');
    if (tab >= 0) name = name.slice(0, tab);
    const type = line.slice(sp1 + 1, sp2);
    const llvm = name.indexOf('.llvm.');
    if (type === 'd' && llvm >= 0) name = name.slice(0, llvm);
    if (!wanted.has(name)) continue;
    const list = out.get(name) ?? [];
    list.push({ address: BigInt(`0x${line.slice(0, sp1)}`), type });
    out.set(name, list);
  }
  return out;
}
