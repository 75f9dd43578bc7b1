/**
 * Attachments through the addon's socket calls (native/net.c): XDP and TC through netlink (the
 * paths of kernels without XDP links or TCX, and of `replace`), listing them back through
 * netlink, and a socket filter (SO_ATTACH_BPF) on a UDP socket, all with real packets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AttachType, attachSocketFilter, attachTc, attachXdp, queryXdp } from '../../src/index.js';
import { haveSocketCalls } from '../../src/sys/net.js';
import { TC_H_CLSACT, TC_H_MIN_INGRESS, netlinkListFilters, netlinkListLinks, tcHandle } from '../../src/sys/netlink.js';
import { kernelSkipReason } from '../helpers/kernel.js';
import { assertGone, idsOf, loadObject, num } from './helpers.js';
import { receiver, sendUdp, settle, withNet } from './netenv.js';

const cli = fileURLToPath(new URL('../../../bin/ebpf-ts.js', import.meta.url));
const run = (...args: string[]) => execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const skip = kernelSkipReason() ?? (haveSocketCalls() ? undefined : 'the native addon was built without native/net.c (no socket calls for netlink and setsockopt)');

test('XDP through netlink (generic): counts, replace swaps only the expected program, close removes only its own', { skip }, withNet(async (c, env, port) => {
  const rx = await receiver(env.hostAddr, port);
  try {
    const count = c.program('xdp_count');
    const drop = c.program('xdp_drop');
    const first = attachXdp(count, { iface: env.host, mode: 'generic', netlink: true });
    assert.equal(first.isBpfLink, false);
    assert.deepEqual(queryXdp({ iface: env.host }), { progId: count.id, drvProgId: 0, skbProgId: count.id, hwProgId: 0, attached: 'generic' });
    const listed = netlinkListLinks().find((l) => l.ifindex === env.hostIfindex);
    assert.equal(listed?.name, env.host);
    assert.equal(listed?.xdp?.skbProgId, count.id);
    sendUdp(env.ns, env.hostAddr, port, 10);
    await settle();
    assert.equal(num(c, 'xdp_seen'), 10n);
    assert.equal(rx.count(), 10);

    // Without replace the interface is taken (UPDATE_IF_NOEXIST)...
    assert.throws(() => attachXdp(drop, { iface: env.host, mode: 'generic', netlink: true }), (e: unknown) => (e as { code?: string }).code === 'EBUSY');
    // ...with replace naming the program there, the swap happens.
    const second = attachXdp(drop, { iface: env.host, mode: 'generic', replace: count });
    try {
      assert.equal(queryXdp({ iface: env.host }).skbProgId, drop.id);
      first.close(); // no longer ours: leaves the new program alone
      assert.equal(queryXdp({ iface: env.host }).skbProgId, drop.id);
      sendUdp(env.ns, env.hostAddr, port, 6);
      await settle();
      assert.equal(num(c, 'xdp_seen'), 16n);
      assert.equal(rx.count(), 10, 'XDP_DROP');
    } finally {
      second.close();
    }
    assert.equal(queryXdp({ iface: env.host }).attached, 'none');
  } finally {
    rx.close();
  }
}));

test('TC through netlink (clsact + direct-action cls_bpf): counts and drops; close deletes the filter and the qdisc it made', { skip }, withNet(async (c, env, port) => {
  const rx = await receiver(env.hostAddr, port);
  const ingress = tcHandle(TC_H_CLSACT, TC_H_MIN_INGRESS);
  try {
    {
      using link = attachTc(c.program('tc_count'), { iface: env.host, direction: 'ingress', netlink: true });
      assert.equal(link.isBpfLink, false);
      const filters = netlinkListFilters(env.hostIfindex, ingress);
      assert.equal(filters.length, 1);
      assert.equal(filters[0]!.progId, c.program('tc_count').id);
      assert.equal(filters[0]!.kind, 'bpf');
      assert.ok(filters[0]!.directAction);
      assert.match(filters[0]!.name, /^tc_count/);
      sendUdp(env.ns, env.hostAddr, port, 9);
      await settle();
      assert.equal(num(c, 'tc_seen'), 9n);
      assert.equal(rx.count(), 9);
      const info = link.info();
      assert.ok(info.kind === 'tcx' && info.attachType === AttachType.TCX_INGRESS && info.ifindex === env.hostIfindex);
      // `net` lists the filter as bpftool does.
      const tcSection = (text: string) => text.slice(text.indexOf('tc:\n')).split('\n\n')[0]!;
      const ours = run('net', 'show', 'dev', env.host);
      assert.equal(tcSection(ours), tcSection(execFileSync('bpftool', ['net', 'show', 'dev', env.host], { encoding: 'utf8' })));
      assert.match(tcSection(ours), new RegExp(`clsact/ingress tc_count:\\[${c.program('tc_count').id}\\] id ${c.program('tc_count').id}`));
      assert.deepEqual(JSON.parse(run('-j', 'net', 'show', 'dev', env.host))[0].tc, JSON.parse(execFileSync('bpftool', ['-j', 'net', 'show', 'dev', env.host], { encoding: 'utf8' }))[0].tc);
    }
    assert.deepEqual(netlinkListFilters(env.hostIfindex, ingress), []);
    {
      using link = attachTc(c.program('tc_drop'), { iface: env.host, direction: 'ingress', netlink: { priority: 7 } });
      assert.equal(netlinkListFilters(env.hostIfindex, ingress)[0]!.priority, 7);
      sendUdp(env.ns, env.hostAddr, port, 4);
      await settle();
      assert.equal(num(c, 'tc_seen'), 13n);
      assert.equal(rx.count(), 9, 'TC_ACT_SHOT');
      void link;
    }
    const qdiscs = execFileSync('tc', ['qdisc', 'show', 'dev', env.host], { encoding: 'utf8' });
    assert.doesNotMatch(qdiscs, /clsact/, 'the clsact qdisc made for the filter went with it');
  } finally {
    rx.close();
  }
}));

test('socket filter (SO_ATTACH_BPF) on a Node UDP socket: filtered datagrams never arrive; close detaches', { skip }, async () => {
  const c = loadObject('net');
  const ids = idsOf(c);
  const sock = dgram.createSocket('udp4');
  const got: string[] = [];
  sock.on('message', (m) => got.push(m.toString()));
  try {
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    const send = async (msgs: string[]) => {
      const tx = dgram.createSocket('udp4');
      for (const m of msgs) await new Promise<void>((r) => tx.send(m, port, '127.0.0.1', () => r()));
      tx.close();
      await settle(50);
    };
    {
      using link = attachSocketFilter(c.program('drop_d'), sock);
      assert.equal(link.isBpfLink, false);
      assert.equal(link.info().progId, c.program('drop_d').id);
      await send(['keep1', 'Drop1', 'keep2', 'Drop2', 'Drop3']);
      assert.deepEqual(got, ['keep1', 'keep2']);
      assert.equal(num(c, 'filtered_out'), 3n);
    }
    await send(['Dafter']);
    assert.deepEqual(got, ['keep1', 'keep2', 'Dafter'], 'detached');
  } finally {
    sock.close();
    c.close();
  }
  assertGone(ids);
});
