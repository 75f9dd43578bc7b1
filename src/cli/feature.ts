/**
 * `feature probe [full]`, like `bpftool feature probe`: system configuration (sysctls and the
 * kernel's BPF-related config options), bpf() availability, program types, map types, helpers
 * per program type, miscellaneous verifier features; then, beyond bpftool, what can attach
 * here (kprobes, uprobes, fentry, LSM, each BPF link kind). Text in bpftool's layout, or with
 * -j its JSON field names (`have_xdp_prog_type`, `xdp_available_helpers`...).
 */
import { readFileSync } from 'node:fs';
import { readKernelConfig, parseKconfig } from '../collection/kernel.js';
import { probeProgramType, probeMapType } from '../features/probe.js';
import { supportedHelpers, hasBoundedLoops, hasLargeInsnLimit, hasV2Isa, hasV3Isa, hasV4Isa } from '../features/helpers.js';
import { probeAttach } from '../features/attach.js';
import { MAP_TYPE_NAMES, PROG_TYPE_NAMES, progLoadRaw, errno } from '../sys/index.js';
import { CliUsageError, isPrefix, jsonWriter, endJson, type CliContext } from './common.js';

/** The kernel config options bpftool reports, in its order. */
const CONFIG_OPTIONS = [
  'CONFIG_BPF',
  'CONFIG_BPF_SYSCALL',
  'CONFIG_HAVE_EBPF_JIT',
  'CONFIG_BPF_JIT',
  'CONFIG_BPF_JIT_ALWAYS_ON',
  'CONFIG_DEBUG_INFO_BTF',
  'CONFIG_DEBUG_INFO_BTF_MODULES',
  'CONFIG_CGROUPS',
  'CONFIG_CGROUP_BPF',
  'CONFIG_CGROUP_NET_CLASSID',
  'CONFIG_SOCK_CGROUP_DATA',
  'CONFIG_BPF_EVENTS',
  'CONFIG_KPROBE_EVENTS',
  'CONFIG_UPROBE_EVENTS',
  'CONFIG_TRACING',
  'CONFIG_FTRACE_SYSCALLS',
  'CONFIG_FUNCTION_ERROR_INJECTION',
  'CONFIG_BPF_KPROBE_OVERRIDE',
  'CONFIG_NET',
  'CONFIG_XDP_SOCKETS',
  'CONFIG_LWTUNNEL_BPF',
  'CONFIG_NET_ACT_BPF',
  'CONFIG_NET_CLS_BPF',
  'CONFIG_NET_CLS_ACT',
  'CONFIG_NET_SCH_INGRESS',
  'CONFIG_XFRM',
  'CONFIG_IP_ROUTE_CLASSID',
  'CONFIG_IPV6_SEG6_BPF',
  'CONFIG_BPF_LIRC_MODE2',
  'CONFIG_BPF_STREAM_PARSER',
  'CONFIG_NETFILTER_XT_MATCH_BPF',
  'CONFIG_TEST_BPF',
  'CONFIG_HZ',
];

function readProc(path: string): number {
  try {
    const t = readFileSync(path, 'utf8');
    return /^-?\d+\n$/.test(t) ? Number(t.trim()) : -1;
  } catch {
    return -1;
  }
}

const SYSCTLS: [string, string, (v: number) => string][] = [
  [
    'unprivileged_bpf_disabled',
    '/proc/sys/kernel/unprivileged_bpf_disabled',
    (v) =>
      ({
        0: 'bpf() syscall for unprivileged users is enabled',
        1: 'bpf() syscall restricted to privileged users (without recovery)',
        2: 'bpf() syscall restricted to privileged users (admin can change)',
        [-1]: 'Unable to retrieve required privileges for bpf() syscall',
      })[v] ?? `bpf() syscall restriction has unknown value ${v}`,
  ],
  [
    'bpf_jit_enable',
    '/proc/sys/net/core/bpf_jit_enable',
    (v) =>
      ({ 0: 'JIT compiler is disabled', 1: 'JIT compiler is enabled', 2: 'JIT compiler is enabled with debugging traces in kernel logs', [-1]: 'Unable to retrieve JIT-compiler status' })[v] ??
      `JIT-compiler status has unknown value ${v}`,
  ],
  [
    'bpf_jit_harden',
    '/proc/sys/net/core/bpf_jit_harden',
    (v) =>
      ({
        0: 'JIT compiler hardening is disabled',
        1: 'JIT compiler hardening is enabled for unprivileged users',
        2: 'JIT compiler hardening is enabled for all users',
        [-1]: 'Unable to retrieve JIT hardening status',
      })[v] ?? `JIT hardening status has unknown value ${v}`,
  ],
  [
    'bpf_jit_kallsyms',
    '/proc/sys/net/core/bpf_jit_kallsyms',
    (v) =>
      ({ 0: 'JIT compiler kallsyms exports are disabled', 1: 'JIT compiler kallsyms exports are enabled for root', [-1]: 'Unable to retrieve JIT kallsyms export status' })[v] ??
      `JIT kallsyms exports status has unknown value ${v}`,
  ],
  [
    'bpf_jit_limit',
    '/proc/sys/net/core/bpf_jit_limit',
    (v) => (v === -1 ? 'Unable to retrieve global memory limit for JIT compiler for unprivileged users' : `Global memory limit for JIT compiler for unprivileged users is ${v} bytes`),
  ],
];

function kernelConfig(): Map<string, string> | undefined {
  try {
    return parseKconfig(readKernelConfig());
  } catch {
    return undefined;
  }
}

function haveBpfSyscall(): boolean {
  const { result } = progLoadRaw({ progType: 0, insns: new Uint8Array(8), license: 'GPL' });
  return result >= 0 || -result !== errno.ENOSYS;
}

const avail = (b: boolean) => (b ? 'is available' : 'is NOT available');

/** Runs `feature ...`. Returns the exit code. */
export function featureCommand(args: string[], ctx: CliContext): number {
  const cmd = args[0];
  if (isPrefix(cmd, 'help')) {
    ctx.out('Usage: ebpf-ts feature probe [kernel] [full]\n');
    return 0;
  }
  if (!isPrefix(cmd, 'probe')) throw new CliUsageError(`unknown feature command '${cmd ?? ''}'`);
  let full = false;
  for (const a of args.slice(1)) {
    if (isPrefix(a, 'full')) full = true;
    else if (!isPrefix(a, 'kernel')) throw new CliUsageError(`expected no more arguments, 'kernel' or 'full', got: '${a}'?`);
  }
  const config = kernelConfig();
  const progTypes = PROG_TYPE_NAMES.slice(1).map((name, i) => ({ name, type: i + 1, ok: probeProgramType(i + 1) === 'available' }));
  const mapTypes = MAP_TYPE_NAMES.slice(1).map((name, i) => ({ name, ok: probeMapType(i + 1) === 'available' }));
  const helpers = progTypes.map((p) => ({ ...p, helpers: p.ok ? supportedHelpers(p.type, full) : [] }));
  const misc: [string, string, boolean][] = [
    ['have_large_insn_limit', 'Large program size limit', hasLargeInsnLimit()],
    ['have_bounded_loops', 'Bounded loop support', hasBoundedLoops()],
    ['have_v2_isa_extension', 'ISA extension v2', hasV2Isa()],
    ['have_v3_isa_extension', 'ISA extension v3', hasV3Isa()],
    ['have_v4_isa_extension', 'ISA extension v4', hasV4Isa()],
  ];
  const attach = probeAttach();
  const syscall = haveBpfSyscall();

  if (ctx.json) {
    const w = jsonWriter(ctx);
    w.startObject();
    w.name('system_config').startObject();
    for (const [key, path] of SYSCTLS) w.numberField(key, readProc(path));
    if (config) {
      for (const opt of CONFIG_OPTIONS) {
        const v = config.get(opt);
        // bpftool means to print numbers as numbers, but compares strtol's end with '\n' after
        // stripping it, so every value comes out as a string: so do we.
        if (v === undefined) w.nullField(opt);
        else w.stringField(opt, v.replace(/^"(.*)"$/, '$1'));
      }
    }
    w.endObject();
    w.name('syscall_config').startObject().boolField('have_bpf_syscall', syscall).endObject();
    w.name('program_types').startObject();
    for (const p of progTypes) w.boolField(`have_${p.name}_prog_type`, p.ok);
    w.endObject();
    w.name('map_types').startObject();
    for (const m of mapTypes) w.boolField(`have_${m.name}_map_type`, m.ok);
    w.endObject();
    w.name('helpers').startObject();
    for (const h of helpers) {
      w.name(`${h.name}_available_helpers`).startArray();
      for (const n of h.helpers ?? []) w.string(n);
      w.endArray();
    }
    w.endObject();
    w.name('misc').startObject();
    for (const [key, , ok] of misc) w.boolField(key, ok);
    w.endObject();
    // Not in bpftool: what can attach on this kernel, and why not.
    w.name('attach').startObject();
    for (const [hook, probe] of Object.entries(attach)) {
      w.name(`have_${hook}`).bool(probe.available);
      if (!probe.available && probe.reason) w.stringField(`${hook}_missing`, probe.feature ?? probe.reason);
    }
    w.endObject();
    w.endObject();
    endJson(ctx, w);
    return 0;
  }

  let s = 'Scanning system configuration...\n';
  for (const [, path, text] of SYSCTLS) s += `${text(readProc(path))}\n`;
  if (config) {
    for (const opt of CONFIG_OPTIONS) {
      const v = config.get(opt);
      s += v === undefined ? `${opt} is not set\n` : `${opt} is set to ${v.replace(/^"(.*)"$/, '$1')}\n`;
    }
  } else {
    s += 'skipping kernel config, can\'t open file\n';
  }
  s += `\nScanning system call availability...\nbpf() syscall ${avail(syscall)}\n`;
  s += '\nScanning eBPF program types...\n';
  for (const p of progTypes) s += `eBPF program_type ${p.name} ${avail(p.ok)}\n`;
  s += '\nScanning eBPF map types...\n';
  for (const m of mapTypes) s += `eBPF map_type ${m.name} ${avail(m.ok)}\n`;
  s += '\nScanning eBPF helper functions...\n';
  for (const h of helpers) {
    s += `eBPF helpers supported for program type ${h.name}:`;
    for (const n of h.helpers ?? []) s += `\n\t- ${n}`;
    s += '\n';
    if (!h.helpers?.length) s += h.ok ? '\tCould not determine which helpers are available\n' : '\tProgram type not supported\n';
  }
  s += '\nScanning miscellaneous eBPF features...\n';
  for (const [, text, ok] of misc) s += `${text} ${avail(ok)}\n`;
  s += '\nScanning attach points...\n';
  for (const [hook, probe] of Object.entries(attach)) {
    s += `${hook.replace(/_/g, ' ')} ${avail(probe.available)}${probe.available ? '' : ` (missing: ${probe.feature ?? probe.reason})`}\n`;
  }
  ctx.out(s + '\n');
  return 0;
}
