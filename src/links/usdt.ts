/**
 * USDT probes: a uprobe at each call site of a probe found in the binary's .note.stapsdt, with
 * the probe's semaphore (if any) incremented by the kernel while attached (ref_ctr_offset).
 *
 * Compatible with libbpf's <bpf/usdt.bpf.h>: when the program uses it (maps
 * `__bpf_usdt_specs` and `__bpf_usdt_ip_to_spec_id`), each distinct argument specification is
 * written to the specs map and its index passed as the uprobe's BPF cookie (or, on kernels
 * without cookies, recorded per call-site address), so that bpf_usdt_arg(), bpf_usdt_arg_cnt()
 * and bpf_usdt_cookie() work in the program as they do under libbpf.
 */
import { readFileSync } from 'node:fs';
import { ArgumentError, NotSupportedError } from '../errors.js';
import { ET_EXEC } from '../elf/constants.js';
import { ARM64_PT_REGS_OFFSETS, X86_64_PT_REGS_OFFSETS, readUsdtProbes, type UsdtArg, type UsdtProbe } from '../elf/usdt.js';
import type { Program } from '../programs/program.js';
import { FD, getFdById, mapDeleteElem, mapInfo, mapUpdateElem } from '../sys/index.js';
import { hasBpfCookies } from '../features/attach.js';
import { Link, LinkGroup, closeQuietly } from './link.js';
import { attachUprobe, openElf, resolveBinaryPath } from './uprobe.js';

/** enum __bpf_usdt_arg_type (libbpf): CONST, REG, REG_DEREF, SIB (libbpf 1.5+). */
const ARG_CONST = 0;
const ARG_REG = 1;
const ARG_REG_DEREF = 2;
const ARG_SIB = 3;
/** BPF_USDT_MAX_ARG_CNT, and sizeof(struct __bpf_usdt_spec): 12 args of 16 bytes, cookie, count. */
export const USDT_MAX_ARGS = 12;
export const USDT_SPEC_SIZE = 208;

/**
 * Encodes a probe's arguments as libbpf's struct __bpf_usdt_spec: per argument val_off (u64),
 * arg_type (low byte of a u32; libbpf 1.5 keeps the SIB index register and scale in the rest),
 * reg_off (offset in pt_regs), arg_signed, arg_bitshift (64 - size * 8); then usdt_cookie and
 * arg_cnt.
 */
export function encodeUsdtSpec(args: readonly UsdtArg[], cookie: bigint, arch: string = process.arch): Uint8Array {
  if (args.length > USDT_MAX_ARGS) throw new ArgumentError(`USDT probe has ${args.length} arguments; at most ${USDT_MAX_ARGS} are supported`);
  const regs = arch === 'arm64' ? ARM64_PT_REGS_OFFSETS : X86_64_PT_REGS_OFFSETS;
  const out = new Uint8Array(USDT_SPEC_SIZE);
  const v = new DataView(out.buffer);
  const regOff = (r: string, arg: UsdtArg): number => {
    const o = regs[r];
    if (o === undefined) throw new ArgumentError(`USDT argument '${arg.text}': register ${r} is not in pt_regs`);
    return o;
  };
  args.forEach((a, i) => {
    const at = i * 16;
    const loc = a.location;
    let type: number;
    let valOff = 0n;
    let reg = 0;
    switch (loc.kind) {
      case 'const':
        type = ARG_CONST;
        valOff = loc.value;
        break;
      case 'reg':
        type = ARG_REG;
        reg = regOff(loc.reg, a);
        break;
      case 'deref':
        type = ARG_REG_DEREF;
        reg = regOff(loc.reg, a);
        valOff = loc.offset;
        break;
      case 'sib': {
        type = ARG_SIB;
        reg = regOff(loc.reg, a);
        valOff = loc.offset;
        // idx_reg_off: 12 bits after the 8-bit type; scale_bitshift: the 4 bits above.
        type |= (regOff(loc.indexReg, a) & 0xfff) << 8;
        type |= (Math.log2(loc.scale) & 0xf) << 20;
        break;
      }
    }
    v.setBigUint64(at, BigInt.asUintN(64, valOff), true);
    v.setUint32(at + 8, type, true);
    v.setInt16(at + 12, reg, true);
    v.setUint8(at + 14, a.signed ? 1 : 0);
    v.setInt8(at + 15, 64 - a.size * 8);
  });
  v.setBigUint64(192, BigInt.asUintN(64, cookie), true);
  v.setInt16(200, args.length, true);
  return out;
}

export interface UsdtOptions {
  /** The executable or shared library with the probe (path, or a name resolved like uprobes). */
  binary: string;
  provider: string;
  name: string;
  /** Only this process. */
  pid?: number;
  /** Returned by bpf_usdt_cookie() in the program. */
  cookie?: bigint | number;
}

/** Spec ids in use per specs map id, so that concurrent attachments don't share slots. */
const usedSpecIds = new Map<number, Set<number>>();

/** The usdt.bpf.h maps a program uses, found by name among its maps; undefined when it has none. */
function usdtMaps(prog: Program): { specs?: { fd: FD; id: number; maxEntries: number }; ipToSpec?: { fd: FD } } {
  const out: ReturnType<typeof usdtMaps> = {};
  for (const id of prog.info().mapIds) {
    let fd: FD;
    try {
      fd = getFdById('map', id);
    } catch {
      continue;
    }
    const info = mapInfo(fd.value);
    // Names are cut to 15 characters: __bpf_usdt_specs -> __bpf_usdt_spec.
    if (info.name === '__bpf_usdt_spec' && info.valueSize >= USDT_SPEC_SIZE) out.specs = { fd, id, maxEntries: info.maxEntries };
    else if (info.name === '__bpf_usdt_ip_t') out.ipToSpec = { fd };
    else fd.close();
  }
  return out;
}

/** The absolute address of a call site in process `pid`, from the mapping of `path` that holds its file offset. */
function runtimeAddress(path: string, pid: number, fileOffset: number): bigint | undefined {
  for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const f = line.split(/\s+/);
    if (f.length < 6 || f.slice(5).join(' ') !== path) continue;
    const [lo, hi] = f[0]!.split('-').map((x) => BigInt(`0x${x}`));
    const off = BigInt(`0x${f[2]}`);
    const size = hi! - lo!;
    const fo = BigInt(fileOffset);
    if (fo >= off && fo < off + size) return lo! + (fo - off);
  }
  return undefined;
}

/** A USDT attachment: one uprobe link per call site; close() also frees its argument specs. */
export class UsdtLink extends LinkGroup {
  readonly probes: readonly UsdtProbe[];
  constructor(links: Link[], probes: UsdtProbe[], cleanup: (() => void)[]) {
    super(links, cleanup);
    this.probes = probes;
  }
}

/** The USDT probes `provider:name` of a binary (every call site), from .note.stapsdt. */
export function findUsdtProbes(binary: string, provider: string, name: string, pid?: number): { path: string; probes: UsdtProbe[] } {
  const path = resolveBinaryPath(binary, pid);
  const probes = readUsdtProbes(openElf(path)).filter((p) => p.provider === provider && p.name === name);
  return { path, probes };
}

/**
 * Attaches a program (section `usdt/...`, a kprobe-type program) to every call site of USDT
 * probe `provider:name` in a binary. ArgumentError when the binary has no such probe.
 */
export function attachUsdt(prog: Program, opts: UsdtOptions): UsdtLink {
  const { path, probes } = findUsdtProbes(opts.binary, opts.provider, opts.name, opts.pid);
  const what = `USDT ${opts.provider}:${opts.name} in ${path}`;
  if (probes.length === 0) throw new ArgumentError(`${what}: no such probe in the binary's .note.stapsdt`, 'ENOENT');
  const elf = openElf(path);
  const cookies = hasBpfCookies();
  const maps = usdtMaps(prog);
  const links: Link[] = [];
  const cleanup: (() => void)[] = [];
  const fds = [maps.specs?.fd, maps.ipToSpec?.fd].filter((x): x is FD => !!x);
  cleanup.push(() => fds.forEach((f) => f.close()));
  try {
    // One spec per distinct argument string, as libbpf dedups them.
    const specIds = new Map<string, number>();
    const specFor = (p: UsdtProbe): number => {
      if (!maps.specs) return 0;
      let id = specIds.get(p.argsText);
      if (id !== undefined) return id;
      const used = usedSpecIds.get(maps.specs.id) ?? new Set<number>();
      usedSpecIds.set(maps.specs.id, used);
      id = 0;
      while (used.has(id)) id++;
      if (id >= maps.specs.maxEntries) throw new ArgumentError(`${what}: the program's __bpf_usdt_specs map is full (${maps.specs.maxEntries} specs: raise BPF_USDT_MAX_SPEC_CNT)`);
      used.add(id);
      const key = new Uint8Array(Int32Array.of(id).buffer);
      const specsFd = maps.specs.fd;
      mapUpdateElem(specsFd.value, key, encodeUsdtSpec(p.args, BigInt(opts.cookie ?? 0)));
      const idx = id;
      cleanup.push(() => {
        used.delete(idx);
        try {
          mapDeleteElem(specsFd.value, key);
        } catch {
          /* array maps can't delete: the slot is simply reused */
        }
      });
      specIds.set(p.argsText, id);
      return id;
    };
    for (const p of probes) {
      if (p.fileOffset === undefined) throw new ArgumentError(`${what}: call site 0x${p.address.toString(16)} is not in a loadable segment`);
      const specId = specFor(p);
      if (maps.specs && !cookies) {
        // Without BPF cookies usdt.bpf.h finds the spec by the call site's absolute address.
        if (!maps.ipToSpec) throw new NotSupportedError('BPF cookies (Linux 5.15+)', `${what}: the program has no __bpf_usdt_ip_to_spec_id map and the kernel has no BPF cookies`);
        let ip: bigint | undefined;
        if (elf.type === ET_EXEC) ip = p.address;
        else if (opts.pid !== undefined) ip = runtimeAddress(path, opts.pid, p.fileOffset);
        if (ip === undefined) throw new NotSupportedError('BPF cookies (Linux 5.15+)', `${what}: without BPF cookies a probe in a shared object needs a pid`);
        const key = new Uint8Array(BigInt64Array.of(BigInt.asIntN(64, ip)).buffer);
        const ipFd = maps.ipToSpec.fd;
        mapUpdateElem(ipFd.value, key, new Uint8Array(Uint32Array.of(specId).buffer));
        cleanup.push(() => {
          mapDeleteElem(ipFd.value, key);
        });
      }
      links.push(
        attachUprobe(prog, {
          binary: path,
          offset: p.fileOffset,
          pid: opts.pid,
          refCtrOffset: p.semaphoreOffset || undefined,
          cookie: maps.specs && cookies ? specId : undefined,
        }),
      );
    }
  } catch (e) {
    closeQuietly(...links);
    for (let i = cleanup.length - 1; i >= 0; i--) {
      try {
        cleanup[i]!();
      } catch {
        /* keep the first error */
      }
    }
    throw e;
  }
  return new UsdtLink(links, probes, cleanup);
}
