/**
 * Kernel tests of loadCollection: every object of test/testdata/collection is loaded, programs
 * that can run are run with BPF_PROG_TEST_RUN and their effects checked through maps and
 * mmapped global data; pinning, kconfig, ksyms, map-in-map, tail calls, failures (with no fd
 * or pin left behind).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import {
  loadCollection,
  loadCollectionSpec,
  parseKernelRelease,
  parseKconfig,
  PinnedMapMismatchError,
  type Collection,
  type CollectionSpec,
} from '../../src/collection/index.js';
import { BpfMap, NotSupportedError, VerifierError, ArgumentError, BpfError } from '../../src/index.js';
import { FD, MapFlags, MapType, ProgType, AttachType, possibleCpuCount } from '../../src/sys/index.js';
import { kernelSkipReason, openFdCount, readU32, readU64, u32, uniqueName } from '../helpers/kernel.js';

const skip = kernelSkipReason();
const dir = fileURLToPath(new URL('../../../test/testdata/collection/', import.meta.url));
const spec = (name: string): CollectionSpec => loadCollectionSpec(`${dir}${name}.bpf.o`);

function kernelConfig(): Map<string, string> {
  for (const p of [`/boot/config-${release()}`, '/proc/config.gz']) {
    if (!existsSync(p)) continue;
    const raw = readFileSync(p);
    return parseKconfig((raw[0] === 0x1f ? gunzipSync(raw) : raw).toString());
  }
  return new Map();
}

/** Loads with a private pin directory, runs `fn`, then closes and removes the pins. */
function withCollection(s: CollectionSpec, fn: (c: Collection, pinPath: string) => void, options: Parameters<typeof loadCollection>[1] = {}): void {
  const pinPath = options.pinPath ?? `/sys/fs/bpf/${uniqueName('ebpf_ts_col')}`;
  const c = loadCollection(s, { ...options, pinPath });
  try {
    fn(c, pinPath);
  } finally {
    c.close();
    rmSync(pinPath, { recursive: true, force: true });
  }
}

function packet(first: number, size = 64): Uint8Array {
  const p = new Uint8Array(size);
  p[0] = first;
  return p;
}

test('a simple object loads end to end: XDP program, BTF hash map, test run', { skip }, () => {
  withCollection(spec('basic'), (c) => {
    const prog = c.program('count_packets');
    assert.equal(prog.type, ProgType.XDP);
    for (let i = 0; i < 3; i++) assert.equal(prog.testRun({ data: packet(5) }).retval, 2);
    assert.equal(prog.testRun({ data: packet(9) }).retval, 2);
    const m = c.map('packets');
    assert.equal(readU64(m.lookup(u32(5))!), 3n);
    assert.equal(readU64(m.lookup(u32(9))!), 1n);
    const info = m.info();
    assert.equal(info.name, 'packets');
    assert.ok(info.btfId > 0 && info.btfKeyTypeId > 0 && info.btfValueTypeId > 0, 'created with BTF key/value types');
    const pinfo = prog.info();
    assert.equal(pinfo.name, 'count_packets');
    assert.deepEqual(pinfo.mapIds, [info.id]);
    assert.equal(pinfo.btfId, info.btfId, 'the program and the map share the object BTF');
    assert.ok(pinfo.nrFuncInfo >= 1, 'loaded with func_info');
  });
});

test('BPF-to-BPF calls run: shared subprograms, call chains, bpf_loop callbacks', { skip }, () => {
  withCollection(spec('subprogs'), (c) => {
    const mix = (a: number, b: number) => a * a + 3 * b + 1;
    for (const x of [2, 3, 7, 10]) {
      assert.equal(c.program('xdp_mix').testRun({ data: packet(x) }).retval, mix(x, 5) & 1 ? 2 : 1, `xdp_mix(${x})`);
      assert.equal(c.program('xdp_square').testRun({ data: packet(x) }).retval, (x * x) % 4, `xdp_square(${x})`);
    }
    // Socket filters see the packet without its Ethernet header in skb->len; either way the
    // result is mix(len, 2) for the len the kernel passed.
    const r = c.program('sock_mix').testRun({ data: new Uint8Array(64) }).retval;
    assert.ok([64, 50].some((len) => mix(len, 2) === r), `sock_mix returned ${r}`);
    // tc: sum of 0..(len & 63)-1 through bpf_loop, plus mix(1, 1).
    assert.equal(c.program('tc_loop').testRun({ data: new Uint8Array(70) }).retval, 15 + mix(1, 1));
    assert.equal(c.program('tc_loop').testRun({ data: new Uint8Array(64) }).retval, mix(1, 1));
    for (const p of c.programs.values()) assert.ok(p.info().nrFuncInfo >= 2, `${p.name}: func_info for each subprogram`);
  });
});

test('global data: .rodata constants set before load reach the program, .bss/.data through mmap', { skip }, () => {
  const s = spec('globals');
  s.setConstants({ magic: 0xabcd, offset: -77n, label: 'hello', enabled: false });
  s.setConstant('cfg', { mode: 5, bias: -9, limit: 123456789n });
  s.variable('counter').set(1000n);
  withCollection(s, (c) => {
    const run = () => c.program('copy_consts').testRun({});
    assert.equal(run().retval, 0, 'enabled = false');
    const v = (n: string) => c.variable(n).get();
    assert.equal(v('out_magic'), 0xabcdn);
    assert.equal(v('out_offset'), -77n);
    assert.equal(v('out_mode'), 5);
    assert.equal(v('out_bias'), -9);
    assert.equal(v('out_limit'), 123456789n);
    assert.equal(v('out_label'), 'hello');
    assert.equal(v('out_sum'), BigInt(1 + 2 + 3 + 4 + 9 + 11 + 3 + 4));
    assert.equal(v('out_str'), 'x'.charCodeAt(0) + 'y'.charCodeAt(0) + 'z'.charCodeAt(0));
    assert.equal(v('out_custom'), 77n + 88n);
    // The same bytes through the raw mmapped view of .bss.
    const bss = c.globalData('.bss');
    assert.equal(new DataView(bss.buffer, bss.byteOffset).getBigUint64(s.variable('out_magic').offset, true), 0xabcdn);
    // Writes through mmap are what the program reads.
    c.variable('table').set([10, 20, 30, 40]);
    run();
    assert.equal(v('out_sum'), BigInt(100 + 9 + 11 + 3 + 4));
    // The program writes .data; userspace sees it at once.
    const sock = c.program('sock_counter');
    for (let i = 0; i < 3; i++) assert.equal(sock.testRun({ data: new Uint8Array(64) }).retval, 0xabcd + 1);
    assert.equal(v('counter'), 1003n);
    // .rodata: readable through mmap, frozen for userspace.
    assert.equal(v('magic'), 0xabcd);
    assert.throws(() => c.variable('magic').set(1), ArgumentError);
    assert.throws(() => c.map('.rodata').update(u32(0), new Uint8Array(c.map('.rodata').valueSize)), (e: unknown) => e instanceof BpfError && e.code === 'EPERM');
    // libbpf's names and flags.
    const ro = c.map('.rodata').info();
    assert.equal(ro.name, 'globals.rodata');
    assert.equal(ro.flags, MapFlags.RDONLY_PROG | MapFlags.MMAPABLE);
    assert.equal(c.map('.data.custom').info().name, '.data.custom');
    assert.equal(c.map('.bss').info().flags, MapFlags.MMAPABLE);
    assert.ok(ro.btfValueTypeId > 0, 'value typed by its DATASEC');
  });
});

test('every map style is created as defined; map-in-map slots and a tail call through a prog array work', { skip }, () => {
  withCollection(spec('maps'), (c) => {
    const info = (n: string) => c.map(n).info();
    assert.equal(info('events').maxEntries, possibleCpuCount(), 'PERF_EVENT_ARRAY sized by possible CPUs');
    assert.equal(info('bloom').mapExtra, 3n);
    assert.equal(info('typed_hash').flags, MapFlags.NO_PREALLOC);
    assert.deepEqual([info('sized_array').keySize, info('sized_array').valueSize, info('sized_array').maxEntries], [4, 16, 8]);
    assert.equal(info('ring').maxEntries, 4096);
    assert.equal(info('lpm').type, MapType.LPM_TRIE);
    assert.equal(info('events').btfValueTypeId, 0, 'no BTF for perf event arrays (libbpf)');
    // outer_array = { [0] = &inner_a, [2] = &inner_b }: lookups give the inner maps' ids.
    const outer = c.map('outer_array');
    assert.equal(readU32(outer.lookup(u32(0))!), c.map('inner_a').id);
    assert.equal(readU32(outer.lookup(u32(2))!), c.map('inner_b').id);
    assert.equal(outer.lookup(u32(1)), undefined);
    assert.equal(c.map('jump').lookup(u32(1)) !== undefined, true);
    // tail_entry bumps inner_a[0] through outer_array, pushes to the queue, tail-calls tail_target.
    assert.equal(c.program('tail_entry').testRun({ data: new Uint8Array(64) }).retval, 3, 'XDP_TX from the tail call');
    assert.equal(readU32(c.map('inner_a').lookup(u32(0))!), 1);
    assert.equal(readU32(c.map('queue').peek()!), 1);
    assert.equal(c.program('touch_all').testRun({ data: new Uint8Array(64) }).retval, 0);
  });
});

test('legacy map definitions load (libbpf 1.x refuses them, cilium/ebpf does not)', { skip }, () => {
  withCollection(spec('legacy'), (c) => {
    assert.equal(c.program('legacy_prog').testRun({ data: new Uint8Array(64) }).retval, 7);
    assert.equal(readU64(c.map('legacy_counts').lookup(u32(1))!), 1n);
    assert.equal(readU32(c.map('legacy_hash').lookup(u32(1))!), 5);
    assert.equal(c.map('legacy_hash').info().flags, MapFlags.NO_PREALLOC);
  });
});

test('.kconfig externs take the running kernel configuration, overrides, and 0 for weak missing ones', { skip }, () => {
  const cfg = kernelConfig();
  withCollection(spec('kconfig'), (c) => {
    c.program('read_kconfig').testRun({});
    const v = (n: string) => c.variable(n).get();
    assert.equal(v('out_version'), parseKernelRelease(release()));
    assert.equal(v('out_hz'), Number(cfg.get('CONFIG_HZ')));
    assert.equal(v('out_syscall'), cfg.get('CONFIG_BPF_SYSCALL') === 'y' ? 1 : 0);
    const lsm = cfg.get('CONFIG_BPF_LSM');
    assert.equal(v('out_lsm'), lsm === 'y' ? 1 : lsm === 'm' ? 2 : 0);
    assert.equal(v('out_hostname'), (cfg.get('CONFIG_DEFAULT_HOSTNAME') ?? '""').slice(1, -1));
    assert.equal(v('out_missing'), 0);
    assert.equal(v('out_missing_bool'), 0);
    assert.equal(c.map('.kconfig').info().name, 'kconfig.kconfig');
    assert.throws(() => c.map('.kconfig').update(u32(0), new Uint8Array(34)), BpfError, 'frozen');
  });
  withCollection(
    spec('kconfig'),
    (c) => {
      c.program('read_kconfig').testRun({});
      assert.equal(c.variable('out_hz').get(), 1000);
      assert.equal(c.variable('out_missing').get(), 42);
      assert.equal(c.variable('out_missing_bool').get(), 1);
      assert.equal(c.variable('out_lsm').get(), 2);
      assert.equal(c.variable('out_hostname').get(), 'box');
    },
    { kconfig: { CONFIG_HZ: 1000, CONFIG_EBPF_TS_DOES_NOT_EXIST: 42, CONFIG_EBPF_TS_MISSING_BOOL: true, CONFIG_BPF_LSM: 'm', CONFIG_DEFAULT_HOSTNAME: '"box"' } },
  );
  assert.throws(() => loadCollection(spec('kconfig'), { kconfig: 'CONFIG_BPF_SYSCALL=m\n' }), /implies tristate or char/);
});

test('.ksyms externs: kallsyms addresses, kfunc calls by BTF id, weak missing ksyms are 0', { skip }, () => {
  const kallsyms = readFileSync('/proc/kallsyms', 'utf8');
  const m = /^([0-9a-f]+) [tT] schedule$/m.exec(kallsyms);
  withCollection(spec('ksyms'), (c) => {
    c.program('use_ksyms').testRun({});
    assert.equal(c.variable('out_schedule').get(), m ? BigInt(`0x${m[1]}`) : 0n);
    assert.equal(c.variable('out_missing').get(), 0n);
    assert.equal(c.variable('out_sum').get(), 0 + 1 + 2 + 3 + 4, 'bpf_iter_num kfuncs ran');
    const calls = c.instructions.get('use_ksyms')!.filter((i) => i.relocation?.kind === 'kfunc');
    assert.ok(calls.length >= 3 && calls.every((i) => i.src === 2 && i.imm > 0), 'BPF_PSEUDO_KFUNC_CALL with BTF ids');
  });
});

test('a typed ksym variable becomes a BPF_PSEUDO_BTF_ID ld_imm64 (the verifier needs it in kallsyms)', { skip }, () => {
  const allSyms = kernelConfig().get('CONFIG_KALLSYMS_ALL') === 'y';
  const s = spec('ksym_var');
  if (allSyms) {
    withCollection(s, (c) => {
      c.program('read_active').testRun({});
      assert.equal(typeof c.variable('out_active').get(), 'number');
    });
    return;
  }
  // Without CONFIG_KALLSYMS_ALL the kernel can't find the variable's address: libbpf fails the
  // same way (see libbpf.test.ts). The instruction still carried the variable's BTF id.
  const before = openFdCount();
  assert.throws(
    () => loadCollection(s),
    (e: unknown) => e instanceof VerifierError && e.code === 'ENOENT' && /failed to find the address for kernel symbol 'bpf_prog_active'/.test(e.message),
  );
  assert.equal(openFdCount(), before, 'nothing leaked');
});

test('attach targets are found in kernel BTF (tp_btf, iter); a missing one is NotSupportedError naming it', { skip }, () => {
  withCollection(spec('attach'), (c) => {
    const tp = c.program('on_switch').info();
    assert.equal(tp.type, ProgType.TRACING);
    assert.ok(tp.attachBtfId > 0);
    assert.ok(c.program('dump_maps').info().attachBtfId > 0);
    assert.equal(c.program('on_switch_raw').type, ProgType.RAW_TRACEPOINT);
  });
  assert.throws(
    () => loadCollection(spec('missing_target')),
    (e: unknown) => e instanceof NotSupportedError && /ebpf_ts_no_such_tracepoint/.test(e.message) && /ebpf_ts_no_such_tracepoint/.test(e.feature),
  );
  // fentry/fexit/lsm: loaded where the kernel has trampolines and the BPF LSM, else NotSupportedError.
  try {
    withCollection(spec('tracing'), (c) => assert.equal(c.programs.size, 4));
  } catch (e) {
    assert.ok(e instanceof NotSupportedError, String(e));
    assert.match(e.message, /on_unlink_entry|on_unlink_exit|on_file_open|on_bpf_sleepable/);
  }
  // The attach type given at load is the section's.
  const s = spec('attach');
  assert.equal(s.program('dump_maps').expectedAttachType, AttachType.TRACE_ITER);
});

test('CO-RE relocations are applied against the kernel BTF', { skip }, () => {
  withCollection(spec('core'), (c) => {
    const insns = c.instructions.get('core_switch')!;
    const relocated = insns.find((i) => i.core)!;
    assert.ok(relocated, 'the relocated load');
    // task_struct.pid is far from offset 0 in the kernel's struct: the load's offset moved.
    assert.ok(relocated.offset > 100, `pid at offset ${relocated.offset}`);
  });
});

test('maps pinned by name are created, reused across loads, and refused when incompatible', { skip }, () => {
  const pinPath = `/sys/fs/bpf/${uniqueName('ebpf_ts_pin')}`;
  try {
    let c = loadCollection(spec('pinning'), { pinPath });
    try {
      assert.ok(existsSync(`${pinPath}/ebpf_ts_pinned`));
      assert.ok(!existsSync(`${pinPath}/not_pinned`));
      const p = c.program('bump_pinned');
      assert.equal(p.testRun({ data: new Uint8Array(64) }).retval, 1);
      assert.equal(p.testRun({ data: new Uint8Array(64) }).retval, 2);
    } finally {
      c.close();
    }
    c = loadCollection(spec('pinning'), { pinPath });
    try {
      assert.equal(c.program('bump_pinned').testRun({ data: new Uint8Array(64) }).retval, 3, 'the pinned map was reused');
      assert.equal(readU64(c.map('not_pinned').lookup(u32(0))!), 1n, 'the unpinned map is new');
    } finally {
      c.close();
    }
    rmSync(`${pinPath}/ebpf_ts_pinned`);
    // An incompatible map where the pin should be: refused, nothing leaked, the pin kept.
    using wrong = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 8, name: 'ebpf_ts_pinned' });
    wrong.pin(`${pinPath}/ebpf_ts_pinned`);
    const fds = openFdCount();
    const objs = FD.openCount;
    assert.throws(
      () => loadCollection(spec('pinning'), { pinPath }),
      (e: unknown) => e instanceof PinnedMapMismatchError && /max_entries 8 \(pinned\) != 4 \(object\)/.test(e.message) && e.map === 'ebpf_ts_pinned',
    );
    assert.equal(openFdCount(), fds);
    assert.equal(FD.openCount, objs);
    assert.ok(existsSync(`${pinPath}/ebpf_ts_pinned`));
  } finally {
    rmSync(pinPath, { recursive: true, force: true });
  }
});

test('a failure half-way closes every fd and removes the pins made', { skip }, () => {
  const pinPath = `/sys/fs/bpf/${uniqueName('ebpf_ts_fail')}`;
  mkdirSync(pinPath, { recursive: true });
  try {
    const fds = openFdCount();
    const objs = FD.openCount;
    // A verifier rejection after the maps and a good program were created.
    assert.throws(() => loadCollection(spec('reject'), { pinPath }), (e: unknown) => e instanceof VerifierError && /outside of the packet/.test(e.message) && e.program === 'bad_prog');
    assert.equal(openFdCount(), fds, 'fds after a rejected program');
    // A map the kernel refuses after a pinned one was created and pinned.
    const s = spec('pinning');
    s.map('not_pinned').maxEntries = 0;
    assert.throws(() => loadCollection(s, { pinPath }), (e: unknown) => e instanceof BpfError && e.code === 'EINVAL');
    assert.ok(!existsSync(`${pinPath}/ebpf_ts_pinned`), 'the pin made by the failed load is gone');
    assert.equal(openFdCount(), fds, 'fds after a refused map');
    // Global data maps (mmapped) created before a failure are unmapped and closed.
    const g = spec('globals');
    g.program('copy_consts').type = ProgType.XDP; // syscall code can't pass as XDP
    assert.throws(() => loadCollection(g, { pinPath }));
    assert.equal(openFdCount(), fds, 'fds after mmapped maps');
    assert.equal(FD.openCount, objs);
  } finally {
    rmSync(pinPath, { recursive: true, force: true });
  }
});

test('editing the spec: autoload, map sizes, program types', { skip }, () => {
  const s = spec('reject');
  s.program('bad_prog').autoload = false;
  withCollection(s, (c) => {
    assert.deepEqual([...c.programs.keys()], ['good_prog']);
    assert.equal(c.program('good_prog').testRun({ data: new Uint8Array(64) }).retval, 2);
  });
  const b = spec('basic');
  b.map('packets').maxEntries = 1000;
  b.map('packets').flags = MapFlags.NO_PREALLOC;
  withCollection(b, (c) => {
    assert.equal(c.map('packets').info().maxEntries, 1000);
    assert.equal(c.map('packets').info().flags, MapFlags.NO_PREALLOC);
  });
});

test('every object of the corpus loads (or fails the way the kernel makes it fail)', { skip }, () => {
  const loadable = ['basic', 'subprogs', 'globals', 'maps', 'legacy', 'kconfig', 'ksyms', 'attach', 'sections', 'pinning', 'core'];
  for (const name of loadable) {
    withCollection(spec(name), (c) => {
      const s = c.spec;
      assert.equal(c.programs.size, [...s.programs.values()].filter((p) => p.autoload).length, name);
      assert.equal(c.maps.size, s.maps.size, name);
      for (const [n, p] of c.programs) assert.equal(p.info().name, n.slice(0, 15), `${name}/${n}`);
    });
  }
});

test('an object BTF the kernel refuses is dropped, as libbpf does: maps and programs load without it', { skip }, () => {
  const s = spec('basic');
  // An INT wider than 128 bits: valid to our encoder, refused by the kernel's BTF checker.
  const int = [...s.btf!.types()].find((t) => t.kind === 'int' && t.name === 'unsigned int');
  assert.ok(int && int.kind === 'int');
  int.bits = 200;
  withCollection(s, (c) => {
    const info = c.map('packets').info();
    assert.equal(info.btfId, 0, 'created without BTF');
    assert.match(c.btfLoadError ?? '', /BPF_BTF_LOAD failed/);
    assert.equal(c.program('count_packets').info().btfId, 0);
    assert.equal(c.program('count_packets').testRun({ data: packet(1) }).retval, 2);
  });
});

test('one spec loads into several independent collections', { skip }, () => {
  const s = spec('globals');
  s.setConstant('magic', 7);
  const a = loadCollection(s);
  const b = loadCollection(s);
  try {
    a.variable('counter').set(1n);
    b.variable('counter').set(50n);
    a.program('sock_counter').testRun({ data: new Uint8Array(64) });
    assert.equal(a.variable('counter').get(), 2n);
    assert.equal(b.variable('counter').get(), 50n);
    assert.notEqual(a.map('.bss').id, b.map('.bss').id);
    assert.equal(s.variable('counter').get(), 100n, 'loading leaves the spec as it was');
  } finally {
    a.close();
    b.close();
  }
  assert.throws(() => a.program('sock_counter').testRun({}), ArgumentError, 'closed');
});
