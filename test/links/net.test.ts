/**
 * Networking and cgroup links with real packets: XDP (generic and native) and TC (TCX ingress
 * and egress) on a veth pair into a network namespace the test creates, counting UDP datagrams
 * sent through it and dropping them; cgroup_skb and cgroup sock_addr programs on a cgroup v2
 * directory the test creates, with a child process inside it using real sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { mkdirSync, rmdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  AttachType,
  LinkType,
  attachCgroup,
  attachNetns,
  attachSockmap,
  socketFd,
  attachTc,
  BpfMap,
  attachXdp,
  cgroup2Root,
  hasTcxLinks,
  queryCgroup,
  queryTcx,
} from '../../src/index.js';
import { kernelSkipReason } from '../helpers/kernel.js';
import { assertGone, idsOf, loadObject, num } from './helpers.js';
import { nsReceiver, receiver, sendUdp, settle, withNet } from './netenv.js';

const skip = kernelSkipReason();

for (const mode of ['generic', 'native'] as const) {
  test(`XDP (${mode}) link on a veth: counts what arrives, XDP_DROP drops it, update() swaps the program`, { skip }, withNet(async (c, env, port) => {
    const rx = await receiver(env.hostAddr, port);
    try {
      const link = attachXdp(c.program('xdp_count'), { iface: env.host, mode });
      const linkId = link.id;
      try {
        const info = link.info();
        assert.equal(info.type, LinkType.XDP);
        assert.ok(info.kind === 'xdp' && info.ifindex === env.hostIfindex);
        sendUdp(env.ns, env.hostAddr, port, 20);
        await settle();
        assert.equal(num(c, 'xdp_seen'), 20n);
        assert.equal(rx.count(), 20, 'XDP_PASS: every datagram arrived');

        // A second program can't take the interface while the link holds it.
        assert.throws(() => attachXdp(c.program('xdp_drop'), { iface: env.host, mode }), (e: unknown) => (e as { code?: string }).code === 'EBUSY');

        link.update(c.program('xdp_drop'));
        assert.equal(link.info().progId, c.program('xdp_drop').id);
        sendUdp(env.ns, env.hostAddr, port, 15);
        await settle();
        assert.equal(num(c, 'xdp_seen'), 35n);
        assert.equal(rx.count(), 20, 'XDP_DROP: none of the 15 arrived');
      } finally {
        link.close();
      }
      // A concurrent lister may hold an fd of the link for a moment; it detaches when that closes.
      assertGone([], [linkId]);
      sendUdp(env.ns, env.hostAddr, port, 5);
      await settle();
      assert.equal(num(c, 'xdp_seen'), 35n, 'detached');
      assert.equal(rx.count(), 25);
    } finally {
      rx.close();
    }
  }));
}

test('TC ingress (TCX link): counts, then TC_ACT_SHOT drops; programs run in the order asked for', { skip: skip ?? (hasTcxLinks() ? undefined : 'TCX links need Linux 6.6+') }, withNet(async (c, env, port) => {
  const rx = await receiver(env.hostAddr, port);
  try {
    {
      using link = attachTc(c.program('tc_count'), { iface: env.host, direction: 'ingress' });
      const info = link.info();
      assert.equal(info.type, LinkType.TCX);
      assert.ok(info.kind === 'tcx' && info.ifindex === env.hostIfindex && info.attachType === AttachType.TCX_INGRESS);
      sendUdp(env.ns, env.hostAddr, port, 12);
      await settle();
      assert.equal(num(c, 'tc_seen'), 12n);
      assert.equal(rx.count(), 12);

      // tc_drop goes first: it drops before tc_count sees anything.
      using drop = attachTc(c.program('tc_drop'), { iface: env.host, direction: 'ingress', before: 'first' });
      assert.deepEqual(queryTcx({ iface: env.host, direction: 'ingress' }).progIds, [c.program('tc_drop').id, c.program('tc_count').id]);
      sendUdp(env.ns, env.hostAddr, port, 8);
      await settle();
      assert.equal(num(c, 'tc_seen'), 20n, 'tc_drop counted 8, tc_count none');
      assert.equal(rx.count(), 12, 'dropped');
      void drop;
    }
    assert.deepEqual(queryTcx({ iface: env.host, direction: 'ingress' }).progIds, []);
    sendUdp(env.ns, env.hostAddr, port, 3);
    await settle();
    assert.equal(rx.count(), 15);
  } finally {
    rx.close();
  }
}));

test('TC egress (TCX link): counts what leaves, TC_ACT_SHOT keeps it from the receiver in the namespace', { skip: skip ?? (hasTcxLinks() ? undefined : 'TCX links need Linux 6.6+') }, withNet(async (c, env, port) => {
  {
    const rx = await nsReceiver(env.ns, env.peerAddr, port);
    using link = attachTc(c.program('tc_count'), { iface: env.host, direction: 'egress' });
    assert.ok(link.info().kind === 'tcx');
    sendUdp(undefined, env.peerAddr, port, 10);
    await settle();
    assert.equal(num(c, 'tc_seen'), 10n);
    assert.equal(await rx.stop(), 10);
  }
  {
    const rx = await nsReceiver(env.ns, env.peerAddr, port);
    using link = attachTc(c.program('tc_drop'), { iface: env.host, direction: 'egress' });
    sendUdp(undefined, env.peerAddr, port, 7);
    await settle();
    assert.equal(num(c, 'tc_seen'), 17n);
    assert.equal(await rx.stop(), 0, 'TC_ACT_SHOT on egress: nothing reached the namespace');
    void link;
  }
}));

test('sk_lookup on a network namespace (netns link): runs for every datagram delivered there', { skip }, withNet(async (c, env, port) => {
  const rx = await nsReceiver(env.ns, env.peerAddr, port);
  let linkId = 0;
  {
    using link = attachNetns(c.program('count_lookup'), { netns: `/var/run/netns/${env.ns}` });
    const info = link.info();
    linkId = info.id;
    assert.equal(info.type, LinkType.NETNS);
    assert.ok(info.kind === 'netns' && info.attachType === AttachType.SK_LOOKUP);
    sendUdp(undefined, env.peerAddr, port, 6);
    await settle();
    assert.equal(num(c, 'lookups'), 6n);
  }
  assertGone([], [linkId]);
  sendUdp(undefined, env.peerAddr, port, 2);
  await settle();
  assert.equal(num(c, 'lookups'), 6n, 'detached');
  assert.equal(await rx.stop(), 8, 'SK_PASS: the usual socket got every datagram');
}));

/** A cgroup v2 directory for one test, removed by close() (after its processes exit). */
function makeCgroup(): { path: string; close(): void } {
  const root = cgroup2Root();
  assert.ok(root, 'cgroup v2 is mounted');
  const path = join(root, `ebpfts_${process.pid}_${Math.floor(Math.random() * 1e6)}`);
  mkdirSync(path);
  return {
    path,
    close: () => {
      for (let i = 0; i < 50 && existsSync(path); i++) {
        try {
          rmdirSync(path);
        } catch {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); // a process is still leaving
        }
      }
    },
  };
}

/** Runs a Node script in a child process that first moves itself into `cgroup`; resolves with its stdout. */
function runInCgroup(cgroup: string, script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$0" -e "$1"`, process.execPath, script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

const cgroupSkip = skip ?? (cgroup2Root() ? undefined : 'cgroup v2 is not mounted');

test('cgroup links: cgroup_skb/egress counts a child process\'s datagrams, cgroup/connect4 refuses its connect()', { skip: cgroupSkip }, async () => {
  const c = loadObject('net');
  const ids = idsOf(c);
  const cg = makeCgroup();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const other = port + 1;
  try {
    c.variable('port').set(port);
    const rx = await receiver('127.0.0.1', port);
    try {
      using egress = attachCgroup(c.program('cg_egress'), { cgroup: cg.path, attachType: 'egress' });
      using connect = attachCgroup(c.program('cg_connect4'), { cgroup: cg.path, attachType: AttachType.CGROUP_INET4_CONNECT });
      const info = egress.info();
      assert.equal(info.type, LinkType.CGROUP);
      assert.ok(info.kind === 'cgroup' && info.attachType === AttachType.CGROUP_INET_EGRESS);
      assert.ok(connect.info().kind === 'cgroup');
      assert.deepEqual(queryCgroup(cg.path, 'egress').progIds, [c.program('cg_egress').id]);

      const out = await runInCgroup(
        cg.path,
        `const d=require('dgram');const s=d.createSocket('udp4');let i=0;` +
          `const next=()=>{if(i++>=9){s.close();tryConnect();return;}s.send('x',${port},'127.0.0.1',next);};` +
          `const tryConnect=()=>{const t=d.createSocket('udp4');t.connect(${port},'127.0.0.1',(e)=>{console.log('denied:'+(e?e.code:'no'));t.close();` +
          `const u=d.createSocket('udp4');u.connect(${other},'127.0.0.1',(e2)=>{console.log('other:'+(e2?e2.code:'ok'));u.close();});});};next();`,
      );
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(rx.count(), 9, 'egress allowed the datagrams');
      assert.equal(num(c, 'cg_egress_seen'), 9n, 'and counted them');
      assert.match(out, /denied:EPERM/);
      assert.match(out, /other:ok/);
      assert.equal(num(c, 'connect_denied'), 1n);
      assert.ok(num(c, 'connect_allowed') >= 1n);

      // This process is not in the cgroup: its datagrams are not counted there.
      const before = num(c, 'cg_egress_seen');
      const s = (await import('node:dgram')).createSocket('udp4');
      await new Promise<void>((r) => s.send('y', port, '127.0.0.1', () => r()));
      s.close();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(num(c, 'cg_egress_seen'), before);
    } finally {
      rx.close();
    }
    assert.deepEqual(queryCgroup(cg.path, 'egress').progIds, [], 'closing the link detached it');
  } finally {
    c.close();
    cg.close();
  }
  assertGone(ids);
});

test('cgroup with BPF_PROG_ATTACH (the pre-link path): multi mode, query, close detaches', { skip: cgroupSkip }, async () => {
  const c = loadObject('net');
  const ids = idsOf(c);
  const cg = makeCgroup();
  const port = 20000 + Math.floor(Math.random() * 20000);
  try {
    c.variable('port').set(port);
    const link = attachCgroup(c.program('cg_connect4'), { cgroup: cg.path, attachType: 'connect4', legacy: true });
    try {
      assert.equal(link.isBpfLink, false);
      const q = queryCgroup(cg.path, AttachType.CGROUP_INET4_CONNECT);
      assert.deepEqual(q.progIds, [c.program('cg_connect4').id]);
      assert.equal(q.attachFlags, 2 /* BPF_F_ALLOW_MULTI */);
      const out = await runInCgroup(cg.path, `const t=require('dgram').createSocket('udp4');t.connect(${port},'127.0.0.1',(e)=>{console.log('denied:'+(e?e.code:'no'));t.close();});`);
      assert.match(out, /denied:EPERM/);
    } finally {
      link.close();
    }
    assert.deepEqual(queryCgroup(cg.path, AttachType.CGROUP_INET4_CONNECT).progIds, []);
    const out = await runInCgroup(cg.path, `const t=require('dgram').createSocket('udp4');t.connect(${port},'127.0.0.1',(e)=>{console.log('denied:'+(e?e.code:'no'));t.close();});`);
    assert.match(out, /denied:no/);
  } finally {
    c.close();
    cg.close();
  }
  assertGone(ids);
});

test('sk_msg on a sockmap (sockmap link): runs for each send on a TCP socket in the map', { skip }, async () => {
  const c = loadObject('net');
  const ids = idsOf(c);
  using map = BpfMap.create({ type: 'SOCKMAP', keySize: 4, valueSize: 4, maxEntries: 2, name: 'test_sockmap' });
  const server = net.createServer((s) => s.on('data', () => undefined));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  try {
    await new Promise<void>((r) => client.once('connect', () => r()));
    {
      using link = attachSockmap(c.program('msg_count'), { map });
      const info = link.info();
      if (link.isBpfLink) {
        assert.equal(info.type, LinkType.SOCKMAP);
        assert.ok(info.kind === 'sockmap' && info.mapId === map.id && info.attachType === AttachType.SK_MSG_VERDICT);
      }
      const fd = socketFd(client);
      map.update(new Uint8Array(4), new Uint8Array(Int32Array.of(fd).buffer));
      for (const m of ['a', 'b', 'c']) await new Promise<void>((r) => client.write(m, () => r()));
      await settle(50);
      assert.equal(num(c, 'msgs_seen'), 3n);
      map.delete(new Uint8Array(4));
    }
  } finally {
    client.destroy();
    server.close();
    c.close();
  }
  assertGone(ids);
});
