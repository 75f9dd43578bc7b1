/**
 * `link`, `perf`, `net` and `feature probe` against bpftool on the same kernel objects. The
 * installed bpftool (7.1) predates some link details (perf_event, tcx, xdp ifindex): where it
 * prints a field, ours must print the same; where it is silent, ours follows bpftool 7.5's
 * layout, checked here against the objects' known values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  attachCgroup,
  attachIter,
  attachNetns,
  attachRawTracepoint,
  attachTc,
  attachTracepoint,
  attachUprobe,
  attachXdp,
  cgroup2Root,
  hasTcxLinks,
  type Link,
} from '../../src/index.js';
import { haveSocketCalls } from '../../src/sys/net.js';
import { kernelSkipReason } from '../helpers/kernel.js';
import { assertGone, idsOf, loadObject } from './helpers.js';
import { createNetEnv } from './netenv.js';

const skip = kernelSkipReason();
const cli = fileURLToPath(new URL('../../../bin/ebpf-ts.js', import.meta.url));
const run = (...args: string[]) => execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const bpftool = (...args: string[]) => execFileSync('bpftool', args, { encoding: 'utf8' });

test('link show and list: bpftool\'s layout and JSON fields, per link type', { skip: skip ?? (cgroup2Root() ? undefined : 'cgroup v2 is not mounted') }, () => {
  const t = loadObject('tracing');
  const n = loadObject('net');
  const ids = [...idsOf(t), ...idsOf(n)];
  const env = createNetEnv();
  const cg = join(cgroup2Root()!, `ebpfts_cli_${process.pid}`);
  mkdirSync(cg);
  const links: Link[] = [];
  try {
    links.push(
      attachTracepoint(t.program('tp_getppid'), { group: 'syscalls', name: 'sys_enter_getppid', cookie: 9 }),
      attachRawTracepoint(t.program('raw_getppid'), { name: 'sys_enter' }),
      attachUprobe(t.program('on_call'), { binary: 'libc.so.6', symbol: 'getppid' }),
      attachIter(t.program('dump_task')),
      attachXdp(n.program('xdp_count'), { iface: env.host, mode: 'generic' }),
      attachCgroup(n.program('cg_egress'), { cgroup: cg, attachType: 'egress' }),
      attachNetns(n.program('count_lookup')),
    );
    if (hasTcxLinks()) links.push(attachTc(n.program('tc_count'), { iface: env.host, direction: 'ingress' }));
    const [tp, raw, up, iter, xdp, cgl, netns, tcx] = links;

    for (const l of links) {
      const id = String(l.id);
      const ours = JSON.parse(run('-j', 'link', 'show', 'id', id));
      const theirs = JSON.parse(bpftool('-j', 'link', 'show', 'id', id));
      for (const [k, v] of Object.entries(theirs)) {
        if (k === 'type' && typeof v === 'number') continue; // bpftool 7.1 doesn't know the name
        if (k === 'pids') continue;
        assert.deepEqual(ours[k], v, `link ${id} (${ours.type}) field ${k}`);
      }
      const ot = run('link', 'show', 'id', id);
      const tt = bpftool('link', 'show', 'id', id);
      if (typeof theirs.type === 'string' && theirs.type !== 'perf_event' && theirs.type !== 'xdp') assert.equal(ot, tt, `text of link ${id}`);
      else assert.equal(ot.split('\n')[0]!.replace(/^(\d+): \S+/, ''), tt.split('\n')[0]!.replace(/^(\d+): (type \d+|\S+)/, ''), `header of link ${id}`);
    }
    // What bpftool 7.1 doesn't print, by bpftool 7.5's layout.
    assert.match(run('link', 'show', 'id', String(tp!.id)), /\n\ttracepoint sys_enter_getppid {2}cookie 9 {2}\n$/);
    const upText = run('link', 'show', 'id', String(up!.id));
    assert.match(upText, /\n\tuprobe \/\S*libc\.so\.6\+0x[0-9a-f]+ {2}\n$/);
    const upJson = JSON.parse(run('-j', 'link', 'show', 'id', String(up!.id)));
    assert.equal(upJson.retprobe, false);
    assert.match(upJson.file, /libc\.so\.6$/);
    assert.equal(JSON.parse(run('-j', 'link', 'show', 'id', String(xdp!.id))).devname, env.host);
    assert.equal(run('link', 'show', 'id', String(xdp!.id)), `${xdp!.id}: xdp  prog ${n.program('xdp_count').id}  \n\tifindex ${env.host}(${env.hostIfindex})  \n`);
    if (tcx) {
      assert.equal(run('link', 'show', 'id', String(tcx.id)), `${tcx.id}: tcx  prog ${n.program('tc_count').id}  \n\tifindex ${env.host}(${env.hostIfindex})  attach_type tcx_ingress  \n`);
    }
    void raw;
    void iter;
    void cgl;
    void netns;
    // list: every link, in id order, the same set as bpftool's.
    const all = JSON.parse(run('-j', 'link', 'list')) as { id: number }[];
    const mine = new Set(links.map((l) => l.id));
    assert.equal(all.filter((l) => mine.has(l.id)).length, links.length);
    const listed = run('link', 'list');
    for (const l of links) assert.match(listed, new RegExp(`^${l.id}: `, 'm'));
  } finally {
    for (const l of links) l.close();
    t.close();
    n.close();
    env.close();
    rmdirSync(cg);
  }
  assertGone(ids);
});

test('perf: the same (pid, fd) attachments as bpftool perf, through BPF_TASK_FD_QUERY', { skip }, () => {
  const t = loadObject('tracing');
  const ids = idsOf(t);
  try {
    using a = attachTracepoint(t.program('tp_getppid'), { group: 'syscalls', name: 'sys_enter_getppid' });
    using b = attachRawTracepoint(t.program('raw_getppid'), { name: 'sys_enter' });
    using c = attachUprobe(t.program('on_call'), { binary: 'libc.so.6', symbol: 'getppid', retprobe: true });
    void a;
    void b;
    void c;
    const mine = (text: string) => text.split('\n').filter((l) => l.startsWith(`pid ${process.pid} `)).sort();
    const ours = mine(run('perf', 'show', 'pid', String(process.pid)));
    assert.equal(ours.length, 3);
    assert.deepEqual(ours, mine(bpftool('perf')));
    const oj = (JSON.parse(run('-j', 'perf')) as { pid: number }[]).filter((r) => r.pid === process.pid);
    const tj = (JSON.parse(bpftool('-j', 'perf')) as { pid: number }[]).filter((r) => r.pid === process.pid);
    const key = (r: { pid: number; fd?: number }) => r.fd ?? 0;
    assert.deepEqual(oj.sort((x, y) => key(x) - key(y)), tj.sort((x, y) => key(x) - key(y)));
    assert.ok(oj.some((r) => (r as { fd_type?: string }).fd_type === 'uretprobe'));
  } finally {
    t.close();
  }
  assertGone(ids);
});

test('net: XDP per interface as bpftool net shows it; TCX programs with their links', { skip }, () => {
  const n = loadObject('net');
  const ids = idsOf(n);
  const env = createNetEnv();
  try {
    using x = attachXdp(n.program('xdp_count'), { iface: env.host, mode: 'generic' });
    void x;
    const section = (text: string, name: string) => text.slice(text.indexOf(`${name}:\n`)).split('\n\n')[0]!;
    const ours = run('net', 'show', 'dev', env.host);
    const theirs = bpftool('net', 'show', 'dev', env.host);
    const oj = JSON.parse(run('-j', 'net', 'show', 'dev', env.host));
    const tj = JSON.parse(bpftool('-j', 'net', 'show', 'dev', env.host));
    if (haveSocketCalls()) {
      // The mode comes from netlink, as bpftool reads it.
      assert.equal(section(ours, 'xdp'), section(theirs, 'xdp'));
      assert.match(section(ours, 'xdp'), new RegExp(`${env.host}\\(${env.hostIfindex}\\) generic id ${n.program('xdp_count').id}`));
      assert.deepEqual(oj[0].xdp, tj[0].xdp);
    } else {
      // Without netlink, from the XDP link: the program, but not its mode.
      assert.deepEqual(oj[0].xdp, [{ devname: env.host, ifindex: env.hostIfindex, mode: 'link', id: n.program('xdp_count').id }]);
    }
    if (hasTcxLinks()) {
      using tc = attachTc(n.program('tc_count'), { iface: env.host, direction: 'egress' });
      const j = JSON.parse(run('-j', 'net', 'show', 'dev', env.host));
      assert.deepEqual(j[0].tc, [
        { devname: env.host, ifindex: env.hostIfindex, kind: 'tcx/egress', name: 'tc_count', prog_id: n.program('tc_count').id, prog_flags: [], link_id: tc.id, link_flags: [] },
      ]);
      assert.match(run('net', 'show', 'dev', env.host), new RegExp(`\ntc:\n${env.host}\\(${env.hostIfindex}\\) tcx/egress tc_count prog_id ${n.program('tc_count').id} link_id ${tc.id} \n`));
    }
  } finally {
    n.close();
    env.close();
  }
  assertGone(ids);
});

test('feature probe: helpers per program type as the verifier allows them; attach points; JSON field names', { skip }, () => {
  const j = JSON.parse(run('-j', 'feature', 'probe'));
  for (const section of ['system_config', 'syscall_config', 'program_types', 'map_types', 'helpers', 'misc', 'attach']) assert.ok(j[section], section);
  const tj = JSON.parse(bpftool('-j', 'feature', 'probe'));
  for (const [k, v] of Object.entries(tj.program_types)) assert.equal(j.program_types[k], v, k);
  for (const [k, v] of Object.entries(tj.misc)) assert.equal(j.misc[k], v, k);
  for (const k of ['unprivileged_bpf_disabled', 'bpf_jit_enable', 'CONFIG_BPF', 'CONFIG_HZ', 'CONFIG_KPROBE_EVENTS']) assert.deepEqual(j.system_config[k], tj.system_config[k], k);
  // Every helper we report, bpftool reports too. bpftool 7.1 (libbpf 1.1) also counts helpers the
  // verifier refuses with "program of this type cannot use helper", which newer libbpf doesn't.
  const xdp = j.helpers.xdp_available_helpers as string[];
  const theirs = new Set(tj.helpers.xdp_available_helpers as string[]);
  const known = new Set(Object.values(tj.helpers as Record<string, string[]>).flat());
  assert.ok(xdp.includes('bpf_redirect') && xdp.includes('bpf_xdp_adjust_head') && xdp.includes('bpf_map_lookup_elem'));
  assert.ok(!xdp.includes('bpf_skb_store_bytes'), 'an skb helper is not for XDP');
  for (const h of xdp) if (known.has(h)) assert.ok(theirs.has(h), h);
  assert.deepEqual(j.helpers.tracing_available_helpers, [], 'tracing programs need a target: not probed');
  assert.equal(j.attach.have_kprobe, !('kprobe_missing' in j.attach));
  const text = run('feature', 'probe');
  assert.match(text, /\nScanning eBPF helper functions\.\.\.\neBPF helpers supported for program type socket_filter:\n\t- bpf_map_lookup_elem\n/);
  assert.match(text, /\nScanning attach points\.\.\.\ntracepoint is available\n/);
});
