/**
 * CollectionSpec from ELF, without a kernel: programs and their types from section names,
 * subprogram linking in libbpf's order, every map definition style, global data, externs, BTF
 * fix-ups, editing before load, and malformed objects. Fixtures: test/testdata/collection
 * (their sources say how they were compiled).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  CollectionSpec,
  internalMapName,
  loadCollectionSpec,
  lookupSection,
  objectNameFromPath,
  SECTION_DEFS,
  sectionMatches,
  type ProgramInstruction,
} from '../../src/collection/index.js';
import { AttachType, MapFlags, MapType, ProgType, ProgLoadFlags } from '../../src/sys/constants.js';
import { EbpfError, FormatError, ArgumentError } from '../../src/errors.js';
import { BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, CALL, LD_IMM64, encodeInstructions, slotIndices } from '../../src/asm/index.js';
import { encodeBtf, describeType } from '../../src/btf/index.js';

const dir = fileURLToPath(new URL('../../../test/testdata/collection/', import.meta.url));
const obj = (name: string) => `${dir}${name}.bpf.o`;
const spec = (name: string) => loadCollectionSpec(obj(name));

test('section names give program types, attach types, flags and targets as libbpf does', () => {
  const cases: [string, number, number, number, string][] = [
    ['xdp', ProgType.XDP, AttachType.XDP, 0, ''],
    ['xdp.frags', ProgType.XDP, AttachType.XDP, ProgLoadFlags.XDP_HAS_FRAGS, ''],
    ['xdp/devmap', ProgType.XDP, AttachType.XDP_DEVMAP, 0, ''],
    ['xdp.frags/cpumap', ProgType.XDP, AttachType.XDP_CPUMAP, ProgLoadFlags.XDP_HAS_FRAGS, ''],
    ['tc', ProgType.SCHED_CLS, 0, 0, ''],
    ['classifier', ProgType.SCHED_CLS, 0, 0, ''],
    ['tcx/ingress', ProgType.SCHED_CLS, AttachType.TCX_INGRESS, 0, ''],
    ['tracepoint/syscalls/sys_enter_execve', ProgType.TRACEPOINT, 0, 0, 'syscalls/sys_enter_execve'],
    ['tp/sched/sched_switch', ProgType.TRACEPOINT, 0, 0, 'sched/sched_switch'],
    ['tp.s/syscalls/sys_enter_openat', ProgType.TRACEPOINT, 0, ProgLoadFlags.SLEEPABLE, 'syscalls/sys_enter_openat'],
    ['raw_tracepoint/sched_switch', ProgType.RAW_TRACEPOINT, 0, 0, 'sched_switch'],
    ['raw_tp/sched_switch', ProgType.RAW_TRACEPOINT, 0, 0, 'sched_switch'],
    ['raw_tp.w/sched_switch', ProgType.RAW_TRACEPOINT_WRITABLE, 0, 0, 'sched_switch'],
    ['tp_btf/sched_switch', ProgType.TRACING, AttachType.TRACE_RAW_TP, 0, 'sched_switch'],
    ['fentry/do_unlinkat', ProgType.TRACING, AttachType.TRACE_FENTRY, 0, 'do_unlinkat'],
    ['fexit/do_unlinkat', ProgType.TRACING, AttachType.TRACE_FEXIT, 0, 'do_unlinkat'],
    ['fmod_ret/security_x', ProgType.TRACING, AttachType.MODIFY_RETURN, 0, 'security_x'],
    ['fentry.s/do_unlinkat', ProgType.TRACING, AttachType.TRACE_FENTRY, ProgLoadFlags.SLEEPABLE, 'do_unlinkat'],
    ['lsm/file_open', ProgType.LSM, AttachType.LSM_MAC, 0, 'file_open'],
    ['lsm.s/bpf', ProgType.LSM, AttachType.LSM_MAC, ProgLoadFlags.SLEEPABLE, 'bpf'],
    ['iter/task', ProgType.TRACING, AttachType.TRACE_ITER, 0, 'task'],
    ['kprobe/do_unlinkat', ProgType.KPROBE, 0, 0, 'do_unlinkat'],
    ['kretprobe/do_unlinkat', ProgType.KPROBE, 0, 0, 'do_unlinkat'],
    ['kprobe', ProgType.KPROBE, 0, 0, ''],
    ['ksyscall/openat', ProgType.KPROBE, 0, 0, 'openat'],
    ['uprobe//bin/bash:readline', ProgType.KPROBE, 0, 0, '/bin/bash:readline'],
    ['uretprobe.s//bin/bash:readline', ProgType.KPROBE, 0, ProgLoadFlags.SLEEPABLE, '/bin/bash:readline'],
    ['usdt/libc:probe', ProgType.KPROBE, 0, 0, 'libc:probe'],
    ['kprobe.multi/tcp_*', ProgType.KPROBE, AttachType.TRACE_KPROBE_MULTI, 0, 'tcp_*'],
    ['perf_event', ProgType.PERF_EVENT, 0, 0, ''],
    ['socket', ProgType.SOCKET_FILTER, 0, 0, ''],
    ['sk_msg', ProgType.SK_MSG, AttachType.SK_MSG_VERDICT, 0, ''],
    ['sk_skb/stream_verdict', ProgType.SK_SKB, AttachType.SK_SKB_STREAM_VERDICT, 0, ''],
    ['sk_skb', ProgType.SK_SKB, 0, 0, ''],
    ['sk_lookup', ProgType.SK_LOOKUP, AttachType.SK_LOOKUP, 0, ''],
    ['cgroup_skb/ingress', ProgType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS, 0, ''],
    ['cgroup/connect4', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_CONNECT, 0, ''],
    ['cgroup/sendmsg6', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UDP6_SENDMSG, 0, ''],
    ['cgroup/getsockopt', ProgType.CGROUP_SOCKOPT, AttachType.CGROUP_GETSOCKOPT, 0, ''],
    ['cgroup/sock', ProgType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_CREATE, 0, ''],
    ['cgroup/dev', ProgType.CGROUP_DEVICE, AttachType.CGROUP_DEVICE, 0, ''],
    ['sockops', ProgType.SOCK_OPS, AttachType.CGROUP_SOCK_OPS, 0, ''],
    ['struct_ops/my_ops', ProgType.STRUCT_OPS, 0, 0, 'my_ops'],
    ['struct_ops.s/my_ops', ProgType.STRUCT_OPS, 0, ProgLoadFlags.SLEEPABLE, 'my_ops'],
    ['syscall', ProgType.SYSCALL, 0, ProgLoadFlags.SLEEPABLE, ''],
    ['netfilter', ProgType.NETFILTER, AttachType.NETFILTER, 0, ''],
    ['?xdp', ProgType.XDP, AttachType.XDP, 0, ''],
  ];
  for (const [name, type, attach, flags, target] of cases) {
    const info = lookupSection(name);
    assert.ok(info, name);
    assert.equal(info.def.type, type, `${name}: type`);
    assert.equal(info.def.expectedAttachType, attach, `${name}: expected attach type`);
    const f = (info.def.flags & 1 ? ProgLoadFlags.SLEEPABLE : 0) | (info.def.flags & 2 ? ProgLoadFlags.XDP_HAS_FRAGS : 0);
    assert.equal(f, flags, `${name}: flags`);
    assert.equal(info.attachTo, target, `${name}: attach target`);
  }
  // "kprobe+" needs an exact name or a '/' separator; exact names don't take suffixes.
  for (const name of ['kprobex', 'xdpfoo', 'socket/x', 'tc_ingress', 'unknown', '.text']) assert.equal(lookupSection(name), undefined, name);
  assert.ok(sectionMatches('kprobe+', 'kprobe'));
  assert.ok(sectionMatches('kprobe+', 'kprobe/f'));
  assert.ok(!sectionMatches('kprobe+', 'kprobe.multi/f'));
  // Every pattern is unique, as in libbpf's table.
  assert.equal(new Set(SECTION_DEFS.map((d) => d.pattern)).size, SECTION_DEFS.length);
});

test('internal maps are named as libbpf names them', () => {
  assert.equal(internalMapName('globals', '.rodata'), 'globals.rodata');
  assert.equal(internalMapName('globals', '.bss'), 'globals.bss');
  assert.equal(internalMapName('my_object_name', '.rodata'), 'my_objec.rodata');
  assert.equal(internalMapName('my_object_name', '.bss'), 'my_objec.bss');
  assert.equal(internalMapName('my_object_name', '.kconfig'), 'my_obje.kconfig');
  assert.equal(internalMapName('globals', '.data.custom'), '.data.custom');
  assert.equal(internalMapName('x', '.rodata.abracadabra'), '.rodata.abracad');
  assert.equal(internalMapName('', '.rodata'), '.rodata');
  assert.equal(internalMapName('a-b', '.data'), 'a_b.data');
  assert.equal(objectNameFromPath('/x/y/globals.bpf.o'), 'globals');
});

test('a simple object: one XDP program and one BTF hash map, with its map references', () => {
  const s = spec('basic');
  assert.equal(s.name, 'basic');
  assert.equal(s.license, 'GPL');
  assert.deepEqual([...s.programs.keys()], ['count_packets']);
  const p = s.program('count_packets');
  assert.equal(p.type, ProgType.XDP);
  assert.equal(p.expectedAttachType, AttachType.XDP);
  assert.equal(p.sectionName, 'xdp');
  assert.ok(p.autoload);
  const refs = p.instructions.filter((i) => i.relocation);
  assert.equal(refs.length, 2);
  for (const r of refs) {
    assert.equal(r.opcode, LD_IMM64);
    assert.deepEqual(r.relocation, { kind: 'map', map: 'packets' });
  }
  const m = s.map('packets');
  assert.equal(m.kind, 'btf');
  assert.equal(m.type, MapType.HASH);
  assert.equal(m.keySize, 4);
  assert.equal(m.valueSize, 8);
  assert.equal(m.maxEntries, 256);
  assert.equal(m.key?.name, '__u32');
  assert.equal(m.value?.name, '__u64');
  assert.equal(p.instructions[0]!.func?.name, 'count_packets', 'func_info at the first instruction');
  assert.ok(p.instructions.some((i) => i.line && i.line.fileName.endsWith('basic.bpf.c')), 'line info');
});

/** For every BPF-to-BPF call and function address: where it lands, by the target's symbol. */
function callTargets(insns: ProgramInstruction[]): string[] {
  const slots = slotIndices(insns);
  const bySlot = new Map(slots.map((s, i) => [s, i]));
  const out: string[] = [];
  insns.forEach((insn, i) => {
    const call = insn.opcode === CALL && insn.src === BPF_PSEUDO_CALL;
    const addr = insn.opcode === LD_IMM64 && insn.src === BPF_PSEUDO_FUNC;
    if (!call && !addr) return;
    const target = bySlot.get(slots[i]! + insn.imm + 1);
    assert.ok(target !== undefined, `call at ${i} lands inside an instruction`);
    const sym = insns[target]!.symbol;
    assert.equal(sym, insn.reference, `call at ${i}: lands on '${sym}', refers to '${insn.reference}'`);
    out.push(sym!);
  });
  return out;
}

test('subprograms are appended depth first in libbpf order, once per program, calls fixed', () => {
  const s = spec('subprogs');
  assert.deepEqual([...s.programs.keys()].sort(), ['sock_mix', 'tc_loop', 'xdp_mix', 'xdp_square']);
  assert.deepEqual(s.program('xdp_mix').subprograms, ['first_byte', 'mix', 'square']);
  assert.deepEqual(s.program('xdp_square').subprograms, ['first_byte', 'square']);
  assert.deepEqual(s.program('sock_mix').subprograms, ['mix', 'square']);
  assert.deepEqual(s.program('tc_loop').subprograms, ['add_index', 'mix', 'square']);
  assert.deepEqual(callTargets(s.program('xdp_mix').instructions), ['first_byte', 'mix', 'square']);
  assert.deepEqual(callTargets(s.program('xdp_square').instructions), ['first_byte', 'square']);
  assert.deepEqual(callTargets(s.program('tc_loop').instructions), ['add_index', 'mix', 'square']);
  // Two programs in one section, one subprogram shared by three.
  assert.equal(s.program('xdp_mix').sectionName, 'xdp');
  assert.equal(s.program('xdp_square').sectionName, 'xdp');
  // func_info: one FUNC per function, at its first instruction, in instruction order.
  for (const p of s.programs.values()) {
    const funcs = p.instructions.filter((i) => i.func).map((i) => i.func!.name);
    assert.deepEqual(funcs, [p.name, ...p.subprograms], p.name);
    for (const i of p.instructions) if (i.func) assert.equal(i.symbol, i.func.name);
  }
  // The callback's address is a BPF_PSEUDO_FUNC ld_imm64.
  const cb = s.program('tc_loop').instructions.find((i) => i.opcode === LD_IMM64);
  assert.equal(cb?.src, BPF_PSEUDO_FUNC);
  assert.equal(cb?.reference, 'add_index');
  // The spec's instructions are copies: programs sharing a subprogram don't share objects.
  const a = s.program('xdp_mix').instructions.find((i) => i.symbol === 'square');
  const b = s.program('sock_mix').instructions.find((i) => i.symbol === 'square');
  assert.ok(a && b && a !== b);
});

test('BTF map definitions of every style, map-in-map and prog-array initial values', () => {
  const s = spec('maps');
  const m = (n: string) => s.map(n);
  assert.equal(m('typed_hash').flags, MapFlags.NO_PREALLOC);
  assert.equal(m('typed_hash').value && describeType(m('typed_hash').value!), `[${m('typed_hash').value!.id}] STRUCT 'value'`);
  assert.equal(m('typed_hash').valueSize, 16);
  assert.deepEqual([m('sized_array').keySize, m('sized_array').valueSize, m('sized_array').maxEntries], [4, 16, 8]);
  assert.equal(m('sized_array').key, undefined, 'key_size without a key type');
  assert.equal(m('percpu').type, MapType.PERCPU_ARRAY);
  assert.equal(m('lru').keySize, 8);
  assert.equal(m('lpm').key?.name, 'lpm_key');
  assert.equal(m('lpm').keySize, 8);
  assert.equal(m('queue').keySize, 0);
  assert.equal(m('bloom').mapExtra, 3n);
  assert.equal(m('events').type, MapType.PERF_EVENT_ARRAY);
  assert.equal(m('events').maxEntries, 0, 'sized by the possible CPUs at load, not now');
  assert.equal(m('ring').maxEntries, 4096);
  const outer = m('outer_array');
  assert.equal(outer.valueSize, 4);
  assert.deepEqual(outer.slots, [{ index: 0, target: 'inner_a' }, { index: 2, target: 'inner_b' }]);
  assert.equal(outer.innerMap?.type, MapType.ARRAY);
  assert.equal(outer.innerMap?.name, 'outer_array.inner');
  const oh = m('outer_hash');
  assert.deepEqual([oh.innerMap?.type, oh.innerMap?.maxEntries, oh.innerMap?.keySize, oh.innerMap?.valueSize], [MapType.HASH, 2, 4, 8]);
  assert.deepEqual(oh.slots, []);
  assert.deepEqual(m('jump').slots, [{ index: 1, target: 'tail_target' }]);
  assert.equal(m('jump').valueSize, 4);
  for (const name of ['inner_a', 'inner_b', 'typed_hash']) assert.equal(m(name).kind, 'btf');
  assert.ok(!s.maps.has('outer_array.inner'), 'inner map templates are not maps of the collection');
});

test("legacy 'maps' section definitions and the 'version' section", () => {
  const s = spec('legacy');
  const c = s.map('legacy_counts');
  assert.deepEqual([c.kind, c.type, c.keySize, c.valueSize, c.maxEntries, c.flags], ['legacy', MapType.ARRAY, 4, 8, 4, 0]);
  const h = s.map('legacy_hash');
  assert.deepEqual([h.type, h.keySize, h.valueSize, h.maxEntries, h.flags], [MapType.HASH, 4, 4, 32, MapFlags.NO_PREALLOC]);
  assert.equal(s.kernelVersion, 0x060000);
  assert.equal(s.program('legacy_prog').kernelVersion, 0x060000);
  const refs = s.program('legacy_prog').instructions.filter((i) => i.relocation).map((i) => i.relocation);
  assert.deepEqual(refs, [{ kind: 'map', map: 'legacy_counts' }, { kind: 'map', map: 'legacy_hash' }]);
});

test('global data sections become internal maps with libbpf names, flags and contents', () => {
  const s = spec('globals');
  assert.equal(s.license, 'Dual BSD/GPL');
  const names = [...s.maps.values()].map((m) => [m.name, m.kernelName, m.kind]);
  assert.deepEqual(names, [
    ['.rodata', 'globals.rodata', 'rodata'],
    ['.data', 'globals.data', 'data'],
    ['.data.custom', '.data.custom', 'data'],
    ['.rodata.custom', '.rodata.custom', 'rodata'],
    ['.bss', 'globals.bss', 'bss'],
  ]);
  assert.equal(s.map('.rodata').flags, MapFlags.RDONLY_PROG | MapFlags.MMAPABLE);
  assert.equal(s.map('.bss').flags, MapFlags.MMAPABLE);
  assert.ok(s.map('.rodata').freeze);
  assert.ok(!s.map('.data').freeze);
  assert.equal(s.map('.rodata').value?.kind, 'datasec');
  // Data relocations: BPF_PSEUDO_MAP_VALUE at the variable's offset in its section.
  const v = s.variable('out_magic');
  const store = s.program('copy_consts').instructions.find((i) => i.relocation?.kind === 'data' && i.relocation.map === '.bss' && i.relocation.offset === v.offset);
  assert.ok(store, 'a reference to out_magic');
  // Initial values, decoded through BTF.
  assert.equal(s.variable('magic').get(), 0x1234);
  assert.equal(s.variable('offset').get(), -5n);
  assert.deepEqual(s.variable('cfg').get(), { mode: 1, bias: -2, flags: Uint8Array.of(3, 4), limit: 1000n });
  assert.equal(s.variable('label').get(), 'default');
  assert.equal(s.variable('enabled').get(), true);
  assert.equal(s.variable('counter').get(), 100n);
  assert.deepEqual(s.variable('table').get(), [1, 2, 3, 4]);
  assert.equal(s.variable('custom_data').get(), 77n);
  assert.equal(s.variable('custom_ro').get(), 88);
  assert.equal(s.variable('out_magic').get(), 0n);
  assert.equal(s.variable('hidden_global').linkage, 'static', 'hidden globals are static to the verifier (libbpf)');
  assert.equal(s.variable('hidden_global').get(), 11);
  assert.equal(s.variable('magic').readOnly, true);
  assert.equal(s.variable('counter').readOnly, false);
  assert.deepEqual(s.constants, { magic: 0x1234, offset: -5n, cfg: { mode: 1, bias: -2, flags: Uint8Array.of(3, 4), limit: 1000n }, label: 'default', enabled: true, custom_ro: 88 });
});

test('the spec is editable before load: typed constants, variables, map sizes, autoload', () => {
  const s = spec('globals');
  s.setConstant('magic', 0xbeef);
  s.setConstants({ offset: -77n, enabled: false, label: 'hi' });
  s.setConstant('cfg', { mode: 9, flags: [7, 8] });
  assert.equal(s.variable('magic').get(), 0xbeef);
  assert.equal(s.variable('offset').get(), -77n);
  assert.equal(s.variable('enabled').get(), false);
  assert.equal(s.variable('label').get(), 'hi');
  assert.deepEqual(s.variable('cfg').get(), { mode: 9, bias: -2, flags: Uint8Array.of(7, 8), limit: 1000n }, 'members not given keep their value');
  // The bytes changed are the map's initial contents.
  const dv = new DataView(s.map('.rodata').contents!.buffer, s.map('.rodata').contents!.byteOffset);
  assert.equal(dv.getUint32(s.variable('magic').offset, true), 0xbeef);
  s.variable('counter').set(5);
  assert.equal(s.variable('counter').get(), 5n);
  const bad = (f: () => void, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof ArgumentError && re.test(e.message));
  bad(() => s.setConstant('counter', 1), /not a read-only section/);
  bad(() => s.setConstant('magic', 2 ** 40), /doesn't fit/);
  bad(() => s.setConstant('label', 'much too long'), /don't fit in char\[8\]/);
  bad(() => s.setConstant('cfg', { nope: 1 }), /no member 'nope'/);
  bad(() => s.setConstant('enabled', 'yes'), /boolean/);
  bad(() => s.setConstant('no_such_thing', 1), /no global variable/);
  // Fresh specs don't see another spec's edits.
  assert.equal(spec('globals').variable('magic').get(), 0x1234);
  const b = spec('basic');
  b.map('packets').maxEntries = 4096;
  b.program('count_packets').autoload = false;
  assert.equal(b.map('packets').maxEntries, 4096);
});

test('.kconfig externs: libbpf layout in the .kconfig map, and the BTF fixed for loading', () => {
  const s = spec('kconfig');
  const ext = [...s.externs.values()].map((e) => [e.name, e.kconfigType, e.offset, e.size, e.weak]);
  assert.deepEqual(ext, [
    ['CONFIG_BPF_LSM', 'tristate', 0, 4, false],
    ['CONFIG_EBPF_TS_DOES_NOT_EXIST', 'int', 4, 4, true],
    ['CONFIG_HZ', 'int', 8, 4, false],
    ['LINUX_KERNEL_VERSION', 'int', 12, 4, false],
    ['CONFIG_BPF_SYSCALL', 'bool', 16, 1, false],
    ['CONFIG_EBPF_TS_MISSING_BOOL', 'bool', 17, 1, true],
    ['CONFIG_DEFAULT_HOSTNAME', 'chars', 18, 16, false],
  ]);
  const m = s.map('.kconfig');
  assert.deepEqual([m.kind, m.kernelName, m.valueSize, m.flags, m.freeze], ['kconfig', 'kconfig.kconfig', 34, MapFlags.RDONLY_PROG | MapFlags.MMAPABLE, true]);
  const sec = s.btf!.findType('datasec', '.kconfig')!;
  assert.equal(sec.size, 34);
  for (const v of sec.vars) {
    assert.equal(v.type.kind === 'var' && v.type.linkage, 'global');
    assert.equal(v.offset, s.externs.get(v.type.name)!.offset);
  }
  const refs = s.program('read_kconfig').instructions.filter((i) => i.relocation?.kind === 'kconfig');
  assert.ok(refs.length >= 7);
});

test('.ksyms externs: typed and untyped variables, kfuncs, and the BTF made loadable', () => {
  const s = spec('ksyms');
  const e = (n: string) => s.externs.get(n)!;
  assert.deepEqual([e('schedule').typed, e('schedule').isFunction], [false, false]);
  assert.deepEqual([e('ebpf_ts_no_such_var').typed, e('ebpf_ts_no_such_var').weak], [true, true]);
  assert.deepEqual([e('bpf_iter_num_new').typed, e('bpf_iter_num_new').isFunction, e('bpf_iter_num_new').type.kind], [true, true, 'func_proto']);
  const insns = s.program('use_ksyms').instructions;
  const kfuncs = insns.flatMap((i) => (i.relocation?.kind === 'kfunc' ? [i.relocation.extern] : []));
  assert.deepEqual([...new Set(kfuncs)], ['bpf_iter_num_new', 'bpf_iter_num_next', 'bpf_iter_num_destroy']);
  for (const i of insns) if (i.relocation?.kind === 'kfunc') assert.equal(i.opcode, CALL);
  assert.ok(insns.some((i) => i.relocation?.kind === 'ksym' && i.relocation.extern === 'schedule'));
  const sec = s.btf!.findType('datasec', '.ksyms')!;
  assert.equal(sec.size, sec.vars.length * 4);
  for (const v of sec.vars) {
    assert.equal(v.type.kind, 'var', 'functions are replaced by a dummy variable');
    assert.equal(v.size, 4);
  }
  assert.ok(sec.vars.some((v) => v.type.name === 'dummy_ksym'));
  const fn = s.btf!.findType('func', 'bpf_iter_num_new')!;
  assert.equal(fn.linkage, 'global');
  assert.ok(fn.proto.params.every((p) => p.name !== ''), 'unnamed parameters get a name');
});

test('CO-RE records, attach targets and the other section kinds are read', () => {
  const core = spec('core');
  const relo = core.program('core_switch').instructions.filter((i) => i.core);
  assert.equal(relo.length, 1);
  assert.equal(core.btf!.typeById(relo[0]!.core!.typeId).name, 'task_struct');
  const a = spec('attach');
  assert.deepEqual([a.program('on_switch').attachBtf, a.program('on_switch').attachTo], [true, 'sched_switch']);
  assert.deepEqual([a.program('dump_maps').type, a.program('dump_maps').expectedAttachType], [ProgType.TRACING, AttachType.TRACE_ITER]);
  assert.equal(a.program('on_switch_raw').attachBtf, false);
  const t = spec('tracing');
  assert.equal(t.program('on_bpf_sleepable').flags, ProgLoadFlags.SLEEPABLE);
  const secs = spec('sections');
  assert.equal(secs.programs.size, 55);
  for (const p of secs.programs.values()) assert.ok(p.type > 0, `${p.sectionName} has a type`);
  assert.equal(secs.program('p17_syscall').flags, ProgLoadFlags.SLEEPABLE);
  assert.equal(secs.program('p19_xdp_frags').flags, ProgLoadFlags.XDP_HAS_FRAGS);
  assert.equal(secs.program('p06_uprobe_s__bin_true_m').flags, ProgLoadFlags.SLEEPABLE);
  const pin = spec('pinning');
  assert.equal(pin.map('ebpf_ts_pinned').pinning, 'byName');
  assert.equal(pin.map('not_pinned').pinning, 'none');
});

test('parsing is deterministic and the fixed-up BTF of every object encodes', () => {
  for (const name of ['basic', 'subprogs', 'globals', 'maps', 'legacy', 'kconfig', 'ksyms', 'ksym_var', 'attach', 'tracing', 'sections', 'pinning', 'core', 'reject', 'missing_target']) {
    const bytes = readFileSync(obj(name));
    const a = CollectionSpec.fromELF(bytes, { name });
    const b = CollectionSpec.fromELF(bytes, { name });
    assert.equal(a.describe(), b.describe(), name);
    for (const p of a.programs.values()) {
      assert.deepEqual(encodeInstructions(p.instructions), encodeInstructions(b.program(p.name).instructions), `${name}/${p.name}`);
    }
    if (a.btf) assert.ok(encodeBtf(a.btf).bytes.length > 24, name);
  }
});

test('malformed and unsupported objects raise typed errors', () => {
  const basic = readFileSync(obj('basic'));
  const expectFormat = (bytes: Uint8Array, re: RegExp) =>
    assert.throws(() => CollectionSpec.fromELF(bytes), (e: unknown) => e instanceof FormatError && re.test(e.message), re.source);
  expectFormat(new Uint8Array(0), /too short/);
  expectFormat(new TextEncoder().encode('not an object at all, just text'), /not an ELF file/);
  expectFormat(basic.subarray(0, 200), /./);
  const elfDir = fileURLToPath(new URL('../../../test/testdata/elf/', import.meta.url));
  expectFormat(readFileSync(`${elfDir}usdt.x86_64.o`), /not a BPF object/);
  expectFormat(readFileSync(`${elfDir}maps.bpfeb.o`), /big-endian/);
  assert.throws(() => CollectionSpec.fromELF('x' as unknown as Uint8Array), ArgumentError);
});

test('randomly corrupted objects never crash the parser with anything but a typed error', () => {
  let seed = 0x12345678;
  const rand = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  for (const name of ['basic', 'subprogs', 'globals', 'maps', 'kconfig', 'ksyms']) {
    const orig = readFileSync(obj(name));
    for (let round = 0; round < 150; round++) {
      const bytes = Uint8Array.from(orig);
      const n = 1 + Math.floor(rand() * 8);
      for (let k = 0; k < n; k++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      try {
        CollectionSpec.fromELF(bytes);
      } catch (e) {
        assert.ok(e instanceof EbpfError, `${name} round ${round}: ${(e as Error)?.stack ?? e}`);
      }
    }
  }
});

test('values round-trip through BTF types: ints, bools, enums, floats, bitfields, strings, nesting', async () => {
  const { encodeValue, decodeValue } = await import('../../src/collection/index.js');
  const int = (name: string, size: number, signed: boolean, extra: Partial<{ bool: boolean; char: boolean }> = {}) =>
    ({ id: 0, kind: 'int', name, size, bits: size * 8, offset: 0, signed, char: false, bool: false, ...extra }) as const;
  const u8 = int('unsigned char', 1, false);
  const ch = int('char', 1, true);
  const s32 = int('int', 4, true);
  const u64 = int('unsigned long long', 8, false);
  const en = { id: 0, kind: 'enum', name: 'color', size: 4, signed: false, values: [{ name: 'RED', value: 0n }, { name: 'BLUE', value: 7n }] } as const;
  const st = {
    id: 0,
    kind: 'struct',
    name: 'mixed',
    size: 32,
    members: [
      { name: 'a', type: s32, bitOffset: 0, bitfieldSize: 0 },
      { name: 'lo', type: s32, bitOffset: 32, bitfieldSize: 3 },
      { name: 'hi', type: s32, bitOffset: 35, bitfieldSize: 13 },
      { name: 'color', type: en, bitOffset: 64, bitfieldSize: 0 },
      { name: 'on', type: int('_Bool', 1, false, { bool: true }), bitOffset: 96, bitfieldSize: 0 },
      { name: 'name', type: { id: 0, kind: 'array', name: '', element: ch, index: s32, length: 6 }, bitOffset: 104, bitfieldSize: 0 },
      { name: 'bytes', type: { id: 0, kind: 'array', name: '', element: u8, index: s32, length: 2 }, bitOffset: 152, bitfieldSize: 0 },
      { name: 'big', type: u64, bitOffset: 192, bitfieldSize: 0 },
    ],
  } as const;
  for (const le of [true, false]) {
    const buf = new Uint8Array(32);
    const dv = new DataView(buf.buffer);
    const v = { a: -5, lo: -3, hi: 4000, color: 'BLUE', on: true, name: 'abc', bytes: [1, 255], big: 2n ** 63n + 5n };
    encodeValue(st as never, v, dv, 0, le);
    // `unsigned char` arrays decode as bytes (btf/codec.ts), `char` arrays as strings.
    assert.deepEqual(decodeValue(st as never, dv, 0, le), { ...v, color: 7, bytes: Uint8Array.of(1, 255) }, `little endian: ${le}`);
    encodeValue(st as never, { lo: 2 }, dv, 0, le);
    assert.deepEqual(decodeValue(st as never, dv, 0, le), { ...v, color: 7, lo: 2, bytes: Uint8Array.of(1, 255) }, 'a partial write keeps the other members');
  }
  const dv = new DataView(new ArrayBuffer(8));
  assert.throws(() => encodeValue(en as never, 'GREEN', dv, 0), /not an enumerator/);
  assert.throws(() => encodeValue(s32, 2 ** 33, dv, 0), /doesn't fit/);
  encodeValue(s32, 0xffffffff, dv, 0); // the unsigned spelling of -1, as C converts it
  assert.equal(decodeValue(s32, dv, 0), -1);
  encodeValue({ id: 0, kind: 'float', name: 'double', size: 8 }, 1.5, dv, 0);
  assert.equal(decodeValue({ id: 0, kind: 'float', name: 'double', size: 8 }, dv, 0), 1.5);
});
