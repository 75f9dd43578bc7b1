/**
 * Generated bindings used against the kernel: the tutorial programs (an execve tracer feeding a
 * ring buffer, a sched_switch CPU-time counter in a hash map, an XDP packet counter in an LRU
 * hash) and objects of the loader's corpus, generated from the committed objects (no clang
 * needed), compiled with tsc --strict as a user's project would, imported, loaded, attached,
 * and read through their typed interfaces.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateBindings } from '../../src/bpf2ts/index.js';
import { ArgumentError, BpfMap, type Collection, type MapSpec, type Program, type ProgramSpec } from '../../src/index.js';
import { kernelSkipReason, openFdCount, uniqueName } from '../helpers/kernel.js';
import { cString, testdata, workspace, type Workspace } from './helpers.js';

const skip = kernelSkipReason();

// Just enough of the generated modules' shapes for the tests to call them; usage.ts below
// checks the real types with tsc.
interface Loaded {
  collection: Collection;
  programs: Record<string, Program>;
  maps: Record<string, any>;
  attachAll(options?: { iface?: string }): Map<string, { close(): void }>;
  close(): void;
  [Symbol.dispose](): void;
  [view: string]: any;
}

let ws: Workspace;
const mods: Record<string, any> = {};

// Typed use of the bindings, compiled with tsc --strict: a wrong type fails the build.
const USAGE = `
import { loadExecsnoop, openExecsnoop, eventCodec, type Event } from './execsnoop.js';
import { loadCputime } from './cputime.js';
import { loadPktcount, type Counter } from './pktcount.js';
import { Color, type Record as NamingRecord } from './naming.js';

// Every member of struct record, as the interface declares them (tsc rejects a missing or an
// extra one); the test writes it through the kernel and reads it back.
export const sampleRecord: NamingRecord = {
  pid: 4242,
  comm: 'bpf2ts',
  raw: Uint8Array.of(1, 2, 3, 4),
  temps: [-5, 0, 300],
  color: Color.BLUE,
  flow: { port: 8080, proto: 17 },
  as_u32: 0x04030201,
  as_bytes: Uint8Array.of(1, 2, 3, 4),
  nested: { inner_flag: 9 },
  low: 15,
  high: 4000,
  ok: true,
  ptr: 0xffff888800001000n,
};
import * as ebpf from 'ebpf-ts';

export function typed(): void {
  const spec = openExecsnoop();
  spec.rodata.targetPpid = 1;
  spec.maps.events.maxEntries = 1 << 16;
  spec.programs.handleExec.autoload = true;
  using o = spec.load();
  const r: ebpf.bpf2ts.RingBufferMap<Event> = o.maps.events;
  using reader = r.reader();
  reader.drain((e: Event) => {
    const pid: number = e.pid;
    const comm: Uint8Array = e.comm;
    void pid, comm;
  });
  const count: bigint = o.bss.execCount;
  const ppid: number = o.rodata.targetPpid;
  const links: Map<string, ebpf.bpf2ts.Attachment> = o.attachAll();
  const p: ebpf.Program = o.programs.handleExec;
  const bytes: Uint8Array = eventCodec.encode({ pid: 1, comm: new Uint8Array(100) });
  void count, ppid, links, p, bytes;
  using c = loadCputime({ rodata: { targetTgid: 1 } });
  const counts: ebpf.bpf2ts.TypedMap<number, bigint> = c.maps.counts;
  const t: bigint | undefined = counts.get(1);
  for (const [tid, ns] of counts.entries()) void [tid + 1, ns + 1n];
  using x = loadPktcount();
  const v: Counter | undefined = x.maps.packetsByMac.get(0x0123456789abn);
  x.maps.packetsByMac.set(1n, { packets: 1n, bytes: 2n });
  void t, v;
}
`;

before(async () => {
  if (skip) return;
  ws = workspace();
  const gen = (path: string, name: string, extra: { ringbuf?: [string, string][]; perf?: [string, string][] } = {}) => {
    writeFileSync(join(ws.dir, `${name}.ts`), generateBindings(new Uint8Array(readFileSync(join(testdata, path))), { name, ...extra }).code);
    return `${name}.ts`;
  };
  const files = [
    gen('bpf2ts/execsnoop.bpf.o', 'execsnoop', { ringbuf: [['events', 'event']] }),
    gen('bpf2ts/cputime.bpf.o', 'cputime'),
    gen('bpf2ts/pktcount.bpf.o', 'pktcount'),
    gen('collection/globals.bpf.o', 'globals'),
    gen('bpf2ts/naming.bpf.o', 'naming'),
    gen('collection/maps.bpf.o', 'maps', { ringbuf: [['ring', '__u32']], perf: [['events', '__u32']] }),
  ];
  writeFileSync(join(ws.dir, 'usage.ts'), USAGE);
  const r = ws.tsc([...files, 'usage.ts']);
  assert.equal(r.status, 0, r.output);
  for (const f of [...files, 'usage.ts']) mods[f.replace(/\.ts$/, '')] = await import(ws.url(f.replace(/\.ts$/, '.js')));
});

after(() => ws?.remove());

test('execve tracer: events from the ring buffer decode into Event; .rodata set before load, .bss read live', { skip }, async () => {
  const fds = openFdCount();
  const marker = join(ws.dir, uniqueName('b2t').slice(0, 15));
  symlinkSync('/bin/true', marker);
  const obj: Loaded = mods['execsnoop'].loadExecsnoop({ rodata: { targetPpid: process.pid } });
  try {
    assert.equal(obj.rodata['targetPpid'], process.pid);
    assert.throws(() => {
      obj.rodata['targetPpid'] = 1;
    }, ArgumentError);
    assert.equal(obj.bss['execCount'], 0n);
    const links = obj.attachAll();
    assert.deepEqual([...links.keys()], ['handle_exec']);
    const reader = obj.maps['events'].reader();
    const child = spawnSync(marker);
    assert.equal(child.status, 0);
    const events: { pid: number; comm: Uint8Array }[] = [];
    const deadline = Date.now() + 5000;
    while (!events.some((e) => e.pid === child.pid) && Date.now() < deadline) {
      await reader.wait({ signal: AbortSignal.timeout(1000) }).catch(() => false);
      reader.drain((e: { pid: number; comm: Uint8Array }) => events.push(e));
    }
    const mine = events.find((e) => e.pid === child.pid);
    assert.ok(mine, `no event for pid ${child.pid} among ${events.length}`);
    assert.ok(mine.comm instanceof Uint8Array && mine.comm.length === 100);
    assert.equal(cString(mine.comm), marker);
    // Only this process's children pass the .rodata filter; each counted once in .bss.
    assert.equal(obj.bss['execCount'], BigInt(events.length));
    assert.ok(events.every((e) => cString(e.comm) === marker), 'events of other processes filtered out');
    // Async iteration hands out decoded events too.
    const second = spawnSync(marker);
    let seen: { pid: number; comm: Uint8Array } | undefined;
    for await (const e of reader.events({ signal: AbortSignal.timeout(5000) })) {
      if (e.pid === second.pid) {
        seen = e;
        break;
      }
    }
    assert.equal(seen && cString(seen.comm), marker);
    // .bss is writable from userspace, and the program sees it.
    obj.bss['execCount'] = 1000n;
    assert.equal(spawnSync('/bin/true').status, 0);
    assert.equal(obj.bss['execCount'], 1001n);
  } finally {
    obj.close();
  }
  assert.equal(openFdCount(), fds, 'every fd closed (links, reader, maps, programs)');
});

test('sched_switch counter: the hash map reads as <number, bigint>, per thread of this process', { skip }, async () => {
  const obj: Loaded = mods['cputime'].loadCputime({ rodata: { targetTgid: process.pid } });
  try {
    obj.attachAll();
    // The kernel's own account of the main thread's time on a CPU (schedstat's first field).
    const onCpu = () => BigInt(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]!);
    const before = onCpu();
    for (let i = 0; i < 6; i++) {
      const until = Date.now() + 20;
      while (Date.now() < until); // run on a CPU...
      await new Promise((r) => setTimeout(r, 5)); // ...then sleep: a context switch
    }
    const ran = onCpu() - before;
    const counts = obj.maps['counts'];
    const mine: bigint | undefined = counts.get(process.pid);
    assert.equal(typeof mine, 'bigint');
    // The program counts from the first switch-in after attaching to the last switch-out: all
    // but the first and the current stretch of the time the kernel says the thread ran.
    assert.ok(mine! >= ran / 3n, `the program counted ${mine} ns; the kernel says the thread ran ${ran} ns`);
    assert.ok(mine! <= ran + 10_000_000n, `the program counted ${mine} ns; the kernel says the thread ran ${ran} ns`);
    const tids = new Set(readdirSync('/proc/self/task').map(Number));
    const entries: [number, bigint][] = [...counts.entries()];
    assert.ok(entries.length >= 1);
    for (const [tid, ns] of entries) {
      assert.equal(typeof tid, 'number');
      assert.equal(typeof ns, 'bigint');
      // Threads of this process (some may have exited: libuv's pool, V8's helpers).
      if (tids.has(tid)) assert.ok(ns > 0n);
    }
    assert.ok(entries.some(([tid]) => tid === process.pid));
  } finally {
    obj.close();
  }
});

/** An Ethernet frame from `mac` of `size` bytes. */
function frame(mac: number[], size: number): Uint8Array {
  const f = new Uint8Array(size);
  f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0);
  f.set(mac, 6);
  f[12] = 0x08; // IPv4
  return f;
}

/** The u64 key the program makes of a MAC: its 6 bytes, little-endian. */
function macKey(mac: number[]): bigint {
  let k = 0n;
  for (let i = mac.length - 1; i >= 0; i--) k = (k << 8n) | BigInt(mac[i]!);
  return k;
}

test('XDP counter (BPF_PROG_TEST_RUN): the LRU hash reads as <bigint, Counter>', { skip }, () => {
  const a = [0x02, 0, 0, 0, 0, 0xa1];
  const b = [0x02, 0, 0, 0, 0, 0xb2];
  const obj: Loaded = mods['pktcount'].loadPktcount();
  try {
    const prog = obj.programs['countPackets']!;
    for (let i = 0; i < 3; i++) assert.equal(prog.testRun({ data: frame(a, 100) }).retval, 2 /* XDP_PASS */);
    assert.equal(prog.testRun({ data: frame(b, 64) }).retval, 2);
    const m = obj.maps['packetsByMac'];
    assert.deepEqual(m.get(macKey(a)), { packets: 3n, bytes: 300n });
    assert.deepEqual(m.get(macKey(b)), { packets: 1n, bytes: 64n });
    assert.equal(m.get(macKey([0x02, 0, 0, 0, 0, 0xcc])), undefined);
    const entries = new Map<bigint, unknown>([...m.entries()]);
    assert.deepEqual([...entries.keys()].sort(), [macKey(a), macKey(b)].sort());
    // Writes through the typed map are what the program increments.
    m.set(macKey(b), { packets: 10n, bytes: 1000n });
    prog.testRun({ data: frame(b, 64) });
    assert.deepEqual(m.get(macKey(b)), { packets: 11n, bytes: 1064n });
    // The raw bytes the kernel holds: little-endian u64 key, two u64 counters.
    const raw = (obj.collection.map('packets_by_mac') as BpfMap).lookup(new Uint8Array(new BigUint64Array([macKey(b)]).buffer))!;
    assert.deepEqual([...new BigUint64Array(raw.buffer, raw.byteOffset, 2)], [11n, 1064n]);
  } finally {
    obj.close();
  }
});

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

test('XDP counter on a veth: packets from a namespace counted by source MAC', { skip }, () => {
  const ns = uniqueName('b2t').slice(0, 15);
  const host = `b2h${process.pid % 100000}`;
  const peer = `b2p${process.pid % 100000}`;
  const obj: Loaded = mods['pktcount'].loadPktcount();
  ip(['netns', 'add', ns]);
  try {
    ip(['link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', ns]);
    ip(['addr', 'add', '10.213.7.1/30', 'dev', host]);
    ip(['link', 'set', host, 'up']);
    ip(['-n', ns, 'addr', 'add', '10.213.7.2/30', 'dev', peer]);
    ip(['-n', ns, 'link', 'set', peer, 'up']);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    const links = obj.attachAll({ iface: host });
    assert.deepEqual([...links.keys()], ['count_packets']);
    const mac = JSON.parse(execFileSync('ip', ['-j', '-n', ns, 'link', 'show', peer], { encoding: 'utf8' }))[0].address as string;
    const bytes = mac.split(':').map((x) => parseInt(x, 16));
    // Three UDP datagrams of 100 bytes from inside the namespace: 142-byte frames (after an
    // ARP request) arriving at the host's end, where the program counts them.
    const send = `const s = require('node:dgram').createSocket('udp4'); let n = 0;
      const next = () => n++ < 3 ? s.send(Buffer.alloc(100), 9, '10.213.7.1', next) : s.close(); next();`;
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', send], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const c = obj.maps['packetsByMac'].get(macKey(bytes));
    assert.ok(c, `no count for ${mac}`);
    assert.ok(c.packets >= 3n, `packets ${c.packets}`);
    assert.ok(c.bytes >= 3n * 142n, `bytes ${c.bytes}`);
  } finally {
    obj.close();
    spawnSync('ip', ['link', 'del', host], { stdio: 'pipe' });
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'pipe' });
  }
});

test('corpus: global data through typed views, set before load and read live', { skip }, () => {
  const obj: Loaded = mods['globals'].loadGlobals({
    rodata: { magic: 0xabcd, offset: -77n, cfg: { mode: 5, bias: -9, flags: Uint8Array.of(3, 4), limit: 123456789n }, label: 'hello', enabled: false },
    data: { counter: 1000n },
  });
  try {
    const run = () => obj.programs['copyConsts']!.testRun({});
    assert.equal(run().retval, 0, 'enabled = false');
    const bss = obj['bss'];
    assert.equal(bss.outMagic, 0xabcdn);
    assert.equal(bss.outOffset, -77n);
    assert.equal(bss.outMode, 5);
    assert.equal(bss.outBias, -9);
    assert.equal(bss.outLimit, 123456789n);
    assert.equal(bss.outLabel, 'hello');
    assert.equal(bss.outCustom, 77n + 88n);
    assert.deepEqual(obj['rodata'].cfg, { mode: 5, bias: -9, flags: Uint8Array.of(3, 4), limit: 123456789n });
    assert.equal(obj['rodataCustom'].customRo, 88);
    // A write through the .data view is what the program reads.
    obj['data'].table = [10, 20, 30, 40];
    run();
    assert.equal(bss.outSum, BigInt(100 + 9 + 11 + 3 + 4));
    assert.equal(obj['dataCustom'].customData, 77n);
    for (let i = 0; i < 3; i++) obj.programs['sockCounter']!.testRun({ data: new Uint8Array(64) });
    assert.equal(obj['data'].counter, 1003n);
  } finally {
    obj.close();
  }
});

test('corpus: the open phase edits map sizes, autoload and constants before load', { skip }, () => {
  const opened = mods['maps'].openMaps();
  const specs: Record<string, MapSpec> = opened.maps;
  specs['typedHash']!.maxEntries = 77;
  const progs: Record<string, ProgramSpec> = opened.programs;
  progs['touchAll']!.autoload = false;
  const obj: Loaded = opened.load();
  try {
    assert.equal(obj.collection.map('typed_hash').info().maxEntries, 77);
    assert.ok(!obj.collection.programs.has('touch_all'));
    assert.throws(() => obj.programs['touchAll'], ArgumentError);
    // Typed maps of several kinds.
    obj.maps['typedHash'].set(7, { packets: 1n, bytes: 2n });
    assert.deepEqual(obj.maps['typedHash'].get(7), { packets: 1n, bytes: 2n });
    obj.maps['lpm'].set({ prefixlen: 24, addr: 0x0a000001 }, 9);
    assert.equal(obj.maps['lpm'].get({ prefixlen: 32, addr: 0x0a000001 }), 9);
    const per: bigint[] = obj.maps['percpu'].get(1);
    assert.ok(Array.isArray(per) && per.every((x) => x === 0n));
    obj.maps['percpu'].set(1, per.map((_, i) => BigInt(i + 1)));
    assert.deepEqual(obj.maps['percpu'].get(1), per.map((_, i) => BigInt(i + 1)));
    assert.ok(obj.maps['sizedArray'] instanceof BpfMap, 'no BTF types: raw BpfMap');
  } finally {
    obj.close();
  }
});

test('corpus: ring buffer and perf buffer records of a bound type, readers closed with the object', { skip }, () => {
  const fds = openFdCount();
  const obj: Loaded = mods['maps'].loadMaps();
  try {
    const ring = obj.maps['ring'].reader();
    const perf = obj.maps['events'].reader();
    const skb = new Uint8Array(64);
    for (let i = 0; i < 3; i++) assert.equal(obj.programs['touchAll']!.testRun({ data: skb }).retval, 0);
    const fromRing: number[] = [];
    const fromPerf: number[] = [];
    assert.equal(ring.drain((v: number) => fromRing.push(v)), 3);
    assert.equal(perf.drain((v: number) => fromPerf.push(v)), 3);
    // touch_all writes its u32 key, 0, to both.
    assert.deepEqual(fromRing, [0, 0, 0]);
    assert.deepEqual(fromPerf, [0, 0, 0]);
  } finally {
    obj.close(); // closes the two readers too
  }
  assert.equal(openFdCount(), fds, 'perf events, ring mappings and maps all closed');
});

test('every member of a struct round-trips through a kernel map as the interface declares it', { skip }, () => {
  const obj: Loaded = mods['naming'].loadNaming();
  try {
    const rec = mods['usage'].sampleRecord;
    obj.maps['fooBar'].set(1, rec);
    assert.deepEqual(obj.maps['fooBar'].get(1), rec);
    assert.deepEqual(Object.keys(obj.maps['fooBar'].get(1)), Object.keys(rec));
    // The typedef'd struct key and enum value of another map.
    obj.maps['flows'].set({ port: 53, proto: 17 }, mods['naming'].Color.GREEN);
    assert.deepEqual([...obj.maps['flows'].entries()], [[{ port: 53, proto: 17 }, 2]]);
    // The program sees what the typed views wrote: max_count + maxCount + custom_a + custom_b.
    obj['dataMySec'].customA = 5;
    // XDP_DROP: the lookup in the array map fooBar always finds a value.
    assert.equal(obj.programs['handleX']!.testRun({ data: new Uint8Array(64) }).retval, 1);
    assert.equal(obj['bss'].hitsTotal, 1n);
    assert.equal(obj['bss'].class, 1n);
    const per = obj.maps['perCpu'].get(0);
    assert.equal(per.reduce((a: bigint, v: { b: bigint }) => a + v.b, 0n), BigInt(10 + 20 + 5 + 2));
  } finally {
    obj.close();
  }
});
