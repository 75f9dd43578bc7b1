/**
 * cputime, pktcount, bashreadline and hello, run as child processes against activity the test
 * causes: a child burning CPU, packets through a veth pair into a test namespace, bash reading
 * commands on a pseudo-terminal, execs that bpf_printk reports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelSkipReason } from '../helpers/kernel.js';
import { bpfObjectsOf, eventually, marker, objectExists, runToolToEnd, startTool } from './harness.js';

const skip = kernelSkipReason();

function sh(cmd: string): void {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
}

async function gone(held: { progs: number[]; links: number[] }): Promise<boolean> {
  return eventually(() => held.progs.every((id) => !objectExists('prog', id)) && held.links.every((id) => !objectExists('link', id)));
}

test('cputime: a child burning CPU shows up with its pid, comm and about one CPU of time', { skip }, async () => {
  const burner = spawn('/bin/sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
  try {
    const tool = startTool('cputime', ['--json', '-i', '1']);
    await tool.ready;
    const held = bpfObjectsOf(tool.child.pid!);
    await eventually(() => tool.json().length >= 3, 8000);
    assert.equal(await tool.stop(), 0);
    assert.ok(await gone(held), 'nothing of the tool left in the kernel');
    type Report = { interval_s: number; cpus: number; processes: { pid: number; comm: string; cpu_ns: number; cpu_percent: number }[] };
    const reports = tool.json<Report>();
    assert.ok(reports.length >= 2, tool.stdout());
    // A slice is counted when the task is switched away, and a lone busy task on a quiet CPU can
    // run for seconds without a switch: so check the totals, against the kernel's own figure.
    const r = reports.find((x) => x.processes.some((p) => p.pid === burner.pid));
    assert.ok(r, `burner ${burner.pid} in no report: ${tool.stdout()}`);
    assert.ok(Math.abs(r.interval_s - 1) < 0.3, `interval ${r.interval_s}`);
    const row = r.processes.find((p) => p.pid === burner.pid)!;
    assert.equal(row.comm, 'sh');
    assert.ok(Math.abs(row.cpu_ns / 1e9 / r.interval_s * 100 - row.cpu_percent) < 1);
    const counted = reports.flatMap((x) => x.processes).filter((p) => p.pid === burner.pid).reduce((a, p) => a + p.cpu_ns, 0);
    const ran = Number(readFileSync(`/proc/${burner.pid}/schedstat`, 'utf8').split(' ')[0]);
    assert.ok(counted <= ran + 1e6, `counted ${counted} ns, but the kernel says the burner ran ${ran} ns`);
    const span = reports.reduce((a, x) => a + x.interval_s, 0) * 1e9;
    assert.ok(counted > 0.2 * span, `counted ${counted} ns of the burner over ${span} ns of reports`);
    // Sorted by CPU time.
    for (let i = 1; i < r.processes.length; i++) assert.ok(r.processes[i - 1]!.cpu_ns >= r.processes[i]!.cpu_ns);

    // -p: only that process, filtered in the kernel; and the text table.
    const only = await runToolToEnd('cputime', ['-p', String(burner.pid), '-i', '0.5', '--duration', '2']);
    assert.equal(only.code, 0, only.stderr);
    const rows = only.stdout.split('\n').filter((l) => /^\s*\d+ /.test(l));
    // At least one table has it (a slice is counted when it ends: see above).
    assert.ok(rows.length >= 1, only.stdout);
    for (const l of rows) assert.match(l, new RegExp(`^\\s*${burner.pid} sh\\s+\\d+\\.\\d\\d\\s+\\d+\\.\\d$`));
    assert.match(only.stdout, /^\s*PID COMM\s+CPU\(ms\)\s+%CPU$/m);
  } finally {
    burner.kill('SIGKILL');
  }
});

test('pktcount: UDP and TCP packets through a veth into a test namespace, IPv4 and IPv6, --exclude', { skip }, async (t) => {
  const ns = `ebpfts-pkt-${process.pid}`;
  const host = `ebpk${process.pid % 100000}a`;
  const peer = `ebpk${process.pid % 100000}b`;
  sh(`ip netns add ${ns}`);
  t.after(() => {
    spawnSync('ip', ['link', 'del', host]);
    spawnSync('ip', ['netns', 'del', ns]);
  });
  sh(`ip link add ${host} type veth peer name ${peer} netns ${ns}`);
  sh(`ip addr add 10.201.0.1/24 dev ${host} && ip -6 addr add fd00:201::1/64 dev ${host} nodad && ip link set ${host} up`);
  sh(`ip -n ${ns} addr add 10.201.0.2/24 dev ${peer} && ip -n ${ns} addr add 10.201.0.3/24 dev ${peer} && ip -n ${ns} -6 addr add fd00:201::2/64 dev ${peer} nodad && ip -n ${ns} link set ${peer} up && ip -n ${ns} link set lo up`);
  // Neighbours known up front, so that no ARP/NDP traffic races the counts.
  const mac = readFileSync(`/sys/class/net/${host}/address`, 'utf8').trim();
  sh(`ip -n ${ns} neigh add 10.201.0.1 lladdr ${mac} dev ${peer} && ip -n ${ns} -6 neigh add fd00:201::1 lladdr ${mac} dev ${peer}`);

  const tool = startTool('pktcount', ['--iface', host, '--json', '--interval', '0.5', '--exclude', '10.201.0.3', '--mode', 'generic']);
  await tool.ready;
  const held = bpfObjectsOf(tool.child.pid!);
  // From the namespace: 7 UDP packets from port 41001 to port 9999, 3 over IPv6 from 41002 to
  // 9998, 4 from the excluded address, and a TCP SYN (retried, so counted >= 1) from 41003 to 9997.
  const sender = `
    const dgram = require('node:dgram'); const net = require('node:net');
    const send = (type, addr, port, to, host, n) => new Promise((res) => {
      const s = dgram.createSocket(type); s.bind({ port, address: addr }, async () => {
        for (let i = 0; i < n; i++) await new Promise((r) => s.send('ebpf-ts', to, host, r));
        s.close(); res(); }); });
    (async () => {
      await send('udp4', '10.201.0.2', 41001, 9999, '10.201.0.1', 7);
      await send('udp6', 'fd00:201::2', 41002, 9998, 'fd00:201::1', 3);
      await send('udp4', '10.201.0.3', 41004, 9999, '10.201.0.1', 4);
      const c = net.connect({ host: '10.201.0.1', port: 9997, localAddress: '10.201.0.2', localPort: 41003 });
      c.on('error', () => {}); setTimeout(() => { c.destroy(); }, 300);
    })();`;
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', sender], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  await eventually(() => {
    const last = tool.json<{ flows: { source: string; sport: number }[] }>().at(-1);
    return !!last && last.flows.some((f) => f.sport === 41003) && last.flows.some((f) => f.sport === 41002);
  }, 5000);
  assert.equal(await tool.stop(), 0);
  assert.ok(await gone(held), 'the XDP link is gone');
  assert.equal(spawnSync('ip', ['link', 'show', host], { encoding: 'utf8' }).stdout.includes('xdp'), false, 'no XDP program left on the interface');

  type Flow = { source: string; sport: number; dport: number; protocol: string; family: string; packets: number; bytes: number };
  const flows = tool.json<{ iface: string; flows: Flow[] }>().at(-1)!.flows;
  const udp4 = flows.find((f) => f.sport === 41001);
  assert.deepEqual(udp4 && { ...udp4, bytes: undefined }, { source: '10.201.0.2', sport: 41001, dport: 9999, protocol: 'UDP', family: 'ipv4', packets: 7, bytes: undefined });
  // 14 (Ethernet) + 20 (IPv4) + 8 (UDP) + 7 bytes of payload.
  assert.equal(udp4!.bytes, 7 * 49);
  const udp6 = flows.find((f) => f.sport === 41002);
  assert.deepEqual(udp6 && { ...udp6, bytes: undefined }, { source: 'fd00:201::2', sport: 41002, dport: 9998, protocol: 'UDP', family: 'ipv6', packets: 3, bytes: undefined });
  assert.equal(udp6!.bytes, 3 * (14 + 40 + 8 + 7));
  const tcp = flows.find((f) => f.sport === 41003);
  assert.ok(tcp && tcp.protocol === 'TCP' && tcp.dport === 9997 && tcp.packets >= 1, JSON.stringify(flows));
  assert.equal(flows.find((f) => f.source === '10.201.0.3'), undefined, '--exclude 10.201.0.3');

  // A missing interface: a clear error, exit 1.
  const bad = await runToolToEnd('pktcount', ['--iface', 'ebpfts-none0', '--duration', '1']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no network interface 'ebpfts-none0'/);
});

test('bashreadline: commands typed into bash on a pseudo-terminal, with its pid', { skip }, async (t) => {
  if (!existsSync('/bin/bash') || spawnSync('script', ['--version']).status !== 0) {
    t.skip('needs /bin/bash and script(1) (util-linux) for a pseudo-terminal');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ebpfts-rl-'));
  try {
    const m = marker('rl');
    const tool = startTool('bashreadline', ['--json']);
    await tool.ready;
    const held = bpfObjectsOf(tool.child.pid!);
    // script(1) gives bash a pseudo-terminal, so it reads its input through readline.
    const input = `echo $$ > ${dir}/pid\necho ${m}\nexit\n`;
    const r = spawnSync('script', ['-qfc', 'bash --norc --noprofile -i', '/dev/null'], { input, encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 0, r.stderr);
    const bashPid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
    await eventually(() => tool.stdout().includes(m), 5000);
    assert.equal(await tool.stop(), 0);
    assert.ok(await gone(held));
    const rows = tool.json<{ pid: number; command: string; time: string }>().filter((x) => x.pid === bashPid);
    assert.deepEqual(rows.map((x) => x.command), [`echo $$ > ${dir}/pid`, `echo ${m}`, 'exit']);
    const missing = await runToolToEnd('bashreadline', ['--binary', '/bin/true', '--duration', '1']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no readline symbol in \/(usr\/)?bin\/true/);
    const nofile = await runToolToEnd('bashreadline', ['--binary', '/no/such/bash', '--duration', '1']);
    assert.equal(nofile.code, 1);
    assert.match(nofile.stderr, /\/no\/such\/bash/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hello: a bpf_printk line from trace_pipe for an exec the test makes', { skip }, async () => {
  const tool = startTool('hello', ['--json']);
  await tool.ready;
  const held = bpfObjectsOf(tool.child.pid!);
  // trace_pipe is shared by the whole system and consumed by its reader: exec until a line of
  // ours arrives (another reader of trace_pipe could take one).
  const m = marker('hello').slice(0, 15);
  let pid = 0;
  for (let i = 0; i < 20 && !tool.stdout().includes(`(pid ${pid})`); i++) {
    pid = await new Promise<number>((resolve) => {
      const c = spawn('/bin/true', [m], { stdio: 'ignore' });
      c.on('exit', () => resolve(c.pid!));
    });
    await eventually(() => tool.stdout().includes(`(pid ${pid})`), 500);
  }
  assert.equal(await tool.stop(), 0);
  assert.ok(await gone(held));
  const rows = tool.json<{ task: string; pid: number; cpu: number; timestamp: number; message: string }>();
  const row = rows.find((r) => r.message.endsWith(`(pid ${pid})`));
  assert.ok(row, tool.stdout());
  // The line is written on execve entry, by the forked node child, before the exec happens.
  assert.equal(row.pid, pid);
  assert.match(row.message, /^ebpf-ts hello: execve by \S+ \(pid \d+\)$/);
  assert.ok(row.timestamp > 0 && row.cpu >= 0);
});
