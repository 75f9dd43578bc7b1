/**
 * execsnoop and opensnoop, run as child processes, against activity the test causes: execs with
 * marker arguments, opens of marker files. Each run must leave no program or link behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { cgroup2Root } from '../../src/links/index.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelSkipReason } from '../helpers/kernel.js';
import { bpfObjectsOf, eventually, marker, objectExists, runToolToEnd, startTool } from './harness.js';

const skip = kernelSkipReason();

/** Runs a command and resolves with its pid once it has exited. */
function runChild(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', () => resolve(c.pid!));
  });
}

async function assertCleanExit(t: ReturnType<typeof startTool>, held: { progs: number[]; links: number[] }): Promise<void> {
  const code = await t.stop('SIGINT');
  assert.equal(code, 0, `exit code; stderr: ${t.stderr()}`);
  assert.ok(held.progs.length + held.links.length > 0, 'the tool held BPF objects while it ran');
  // The kernel frees programs when the last reference goes: allow it a moment (RCU).
  const gone = await eventually(() => held.progs.every((id) => !objectExists('prog', id)) && held.links.every((id) => !objectExists('link', id)));
  assert.ok(gone, `programs ${held.progs} / links ${held.links} of the tool still exist after it exited`);
}

test('execsnoop: execs with marker arguments appear with pid, ppid, comm, return value', { skip }, async () => {
  const m = marker('exec');
  const tool = startTool('execsnoop', ['--json', '-x', '-T']);
  await tool.ready;
  const held = bpfObjectsOf(tool.child.pid!);
  const pid = await runChild('/bin/echo', [m, 'two words']);
  // A failed exec: bash forks, the exec of a missing file returns -ENOENT.
  const bashPid = await runChild('/bin/bash', ['-c', `/nonexistent-${m}; true`]);
  await eventually(() => tool.stdout().includes(`/nonexistent-${m}`), 5000);
  await assertCleanExit(tool, held);

  const rows = tool.json<{ pid: number; ppid: number; pcomm: string; ret: number; args: string[]; time: string; uid: number }>();
  const ok = rows.find((r) => r.args.includes(m));
  assert.ok(ok, `no row for ${m} in:\n${tool.stdout()}`);
  assert.equal(ok.pid, pid);
  assert.equal(ok.ppid, process.pid);
  assert.equal(ok.pcomm, 'echo');
  assert.equal(ok.ret, 0);
  assert.deepEqual(ok.args, ['/bin/echo', m, 'two words']);
  assert.equal(ok.uid, process.getuid!());
  assert.match(ok.time, /^\d\d:\d\d:\d\d$/);
  const failed = rows.find((r) => r.args[0] === `/nonexistent-${m}`);
  assert.ok(failed, 'the failed exec is reported with -x');
  assert.equal(failed.ret, -2);
  assert.equal(failed.pcomm, 'bash');
  assert.equal(failed.ppid, bashPid);
});

test('execsnoop: text columns, -n and -l filters, failed execs hidden without -x, --max-args', { skip }, async () => {
  const m = marker('execl');
  const tool = startTool('execsnoop', ['-U', '-q', '-l', `^/bin/echo ${m}`, '--max-args', '3']);
  await tool.ready;
  await runChild('/bin/echo', [m, 'a', 'b', 'c', 'd']);
  await runChild('/bin/bash', ['-c', `/nonexistent-${m}; true`]);
  await runChild('/bin/true', ['not-the-marker']);
  await eventually(() => tool.stdout().includes(m), 5000);
  // Let a possible (wrong) failed-exec line arrive before stopping.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await tool.stop(), 0);
  const lines = tool.stdout().trim().split('\n');
  assert.match(lines[0]!, /^UID\s+PCOMM\s+PID\s+PPID\s+RET ARGS$/);
  const body = lines.slice(1);
  assert.equal(body.length, 1, `only the marker exec passes -l:\n${tool.stdout()}`);
  // -q quotes; --max-args 3 reads three arguments and marks the rest with '...'.
  assert.match(body[0]!, new RegExp(`^0\\s+echo\\s+\\d+\\s+${process.pid}\\s+0 "/bin/echo" "${m}" "a" \\.\\.\\.$`));

  const n = startTool('execsnoop', ['--json', '-n', '^true$']);
  await n.ready;
  await runChild('/bin/echo', [m]);
  const truePid = await runChild('/bin/true', [m]);
  await eventually(() => n.stdout().includes(m), 5000);
  assert.equal(await n.stop(), 0);
  const rows = n.json<{ pid: number; pcomm: string }>();
  assert.ok(rows.length >= 1 && rows.every((r) => r.pcomm === 'true'), n.stdout());
  assert.ok(rows.some((r) => r.pid === truePid));
});

test('execsnoop: -u UID and -c CGROUP filter in the kernel', { skip }, async (t) => {
  const m = marker('execu');
  const tool = startTool('execsnoop', ['--json', '-u', '65534']);
  await tool.ready;
  await runChild('/bin/echo', [m, 'root']);
  const nobodyPid = await new Promise<number>((resolve) => {
    const c = spawn('/bin/echo', [m, 'nobody'], { uid: 65534, gid: 65534, stdio: 'ignore' });
    c.on('exit', () => resolve(c.pid!));
  });
  await eventually(() => tool.stdout().includes('nobody'), 5000);
  assert.equal(await tool.stop(), 0);
  const rows = tool.json<{ pid: number; uid: number; args: string[] }>().filter((r) => r.args.includes(m));
  assert.deepEqual(rows.map((r) => [r.pid, r.uid, r.args[2]]), [[nobodyPid, 65534, 'nobody']]);

  // A cgroup of our own: only execs of processes in it are reported.
  const root = cgroup2Root();
  if (!root) {
    t.skip('no cgroup v2 hierarchy is mounted');
    return;
  }
  const cg = join(root, `ebpfts-execsnoop-${process.pid}`);
  mkdirSync(cg);
  try {
    // A directory that isn't a cgroup v2 one is refused with a clear error.
    const notCg = await runToolToEnd('execsnoop', ['-c', tmpdir(), '--duration', '1']);
    assert.equal(notCg.code, 1);
    assert.match(notCg.stderr, /is not a cgroup v2 directory \(cgroup v2 is mounted at /);
    const c = startTool('execsnoop', ['--json', '-c', cg]);
    await c.ready;
    await runChild('/bin/echo', [m, 'outside']);
    const inside = await runChild('/bin/sh', ['-c', `echo $$ > ${cg}/cgroup.procs && exec /bin/echo ${m} inside`]);
    await eventually(() => c.stdout().includes('inside'), 5000);
    assert.equal(await c.stop(), 0);
    const crow = c.json<{ pid: number; ppid: number; args: string[] }>().filter((r) => r.args.includes(m));
    assert.deepEqual(crow.map((r) => r.args[2]), ['inside']);
    assert.equal(crow[0]!.pid, inside);
  } finally {
    rmdirSync(cg);
  }
});

test('opensnoop: opens of marker files with fd, errno, flags, pid and comm', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ebpfts-open-'));
  try {
    const m = marker('open');
    const existing = join(dir, `${m}-exists`);
    writeFileSync(existing, 'x');
    const tool = startTool('opensnoop', ['--json', '-e', '-T']);
    await tool.ready;
    const held = bpfObjectsOf(tool.child.pid!);
    const catPid = await runChild('/bin/cat', [existing]);
    const missPid = await runChild('/bin/cat', [join(dir, `${m}-missing`)]);
    await eventually(() => tool.stdout().includes(`${m}-missing`), 5000);
    await assertCleanExit(tool, held);
    const rows = tool.json<{ pid: number; tid: number; comm: string; fd: number; err: number; flags: number; path: string; time: string }>();
    const ok = rows.find((r) => r.path === existing);
    assert.ok(ok, tool.stdout());
    assert.equal(ok.pid, catPid);
    assert.equal(ok.tid, catPid);
    assert.equal(ok.comm, 'cat');
    assert.ok(ok.fd >= 3);
    assert.equal(ok.err, 0);
    assert.equal(ok.flags & 3, 0, 'O_RDONLY');
    const miss = rows.find((r) => r.path.endsWith(`${m}-missing`));
    assert.ok(miss);
    assert.equal(miss.pid, missPid);
    assert.equal(miss.fd, -1);
    assert.equal(miss.err, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('opensnoop: -x only failed, -p PID in the kernel, -F full path, text columns', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ebpfts-open-'));
  try {
    const m = marker('openx');
    const existing = join(dir, `${m}-exists`);
    writeFileSync(existing, 'x');
    // A script that waits for a go file, then becomes cat (exec keeps the pid): the pid is
    // known before anything is opened.
    const script = join(dir, 'opener.sh');
    writeFileSync(script, `#!/bin/sh\nwhile [ ! -e ${dir}/go ]; do sleep 0.05; done\ncd ${dir}\nexec /bin/cat ${m}-exists ${m}-missing\n`);
    chmodSync(script, 0o755);
    const opener = spawn(script, [], { stdio: 'ignore' });
    const openerExit = new Promise((r) => opener.on('exit', r));
    t.after(() => opener.kill('SIGKILL'));
    const tool = startTool('opensnoop', ['-x', '-F', '-p', String(opener.pid)]);
    const all = startTool('opensnoop', ['--json', '-F', '-n', 'cat']);
    await Promise.all([tool.ready, all.ready]);
    await runChild('/bin/cat', [`/nonexistent-${m}-other`]);
    writeFileSync(join(dir, 'go'), '');
    await openerExit;
    await eventually(() => tool.stdout().includes(`${m}-missing`) && all.stdout().includes(`${m}-missing`), 5000);
    for (const t of [tool, all]) assert.equal(await t.stop(), 0);

    const lines = tool.stdout().trim().split('\n');
    assert.match(lines[0]!, /^PID\s+COMM\s+FD ERR PATH$/);
    const mine = lines.slice(1).filter((l) => l.includes(m));
    assert.equal(mine.length, 1, `only the process's failed open, with -x and -p:\n${tool.stdout()}`);
    assert.match(mine[0]!, new RegExp(`^${opener.pid}\\s+cat\\s+-1\\s+2 ${join(dir, `${m}-missing`)}$`));
    const rows = all.json<{ comm: string; path: string; err: number }>().filter((r) => r.path.includes(m));
    assert.ok(rows.length >= 3 && rows.every((r) => r.comm === 'cat'), all.stdout());
    // -F made the relative names absolute.
    assert.ok(rows.some((r) => r.path === join(dir, `${m}-exists`) && r.err === 0), all.stdout());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tools: --help, unknown options, bad values, no privileges', { skip }, async () => {
  const help = await runToolToEnd('execsnoop', ['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: ebpf-ts execsnoop/);
  assert.match(help.stdout, /--max-args N/);
  const unknown = await runToolToEnd('opensnoop', ['--bogus']);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr.trim(), "ebpf-ts opensnoop: unknown option '--bogus' (see ebpf-ts opensnoop --help)");
  const bad = await runToolToEnd('execsnoop', ['-n', '(']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /-n NAME: not a valid regular expression/);
  const many = await runToolToEnd('execsnoop', ['--max-args', '99']);
  assert.equal(many.code, 2);
  assert.match(many.stderr, /--max-args must be between 1 and 60, got 99/);
  const dur = await runToolToEnd('cputime', ['--duration', 'soon']);
  assert.equal(dur.code, 2);
  assert.match(dur.stderr, /--duration needs a positive number, got 'soon'/);
  // Without privileges: one clear line, non-zero exit, and nothing loaded.
  const nobody = await runToolToEnd('execsnoop', [], { uid: 65534, gid: 65534 });
  assert.equal(nobody.code, 1, nobody.stderr);
  assert.equal(nobody.stderr.trim().split('\n').length, 1, nobody.stderr);
  assert.match(nobody.stderr, /^ebpf-ts execsnoop: needs root \(or CAP_BPF and CAP_PERFMON\)/);
  const pkt = await runToolToEnd('pktcount', ['--iface', 'lo'], { uid: 65534, gid: 65534 });
  assert.equal(pkt.code, 1);
  assert.match(pkt.stderr, /CAP_BPF and CAP_NET_ADMIN/);
});

test('execsnoop: --duration and SIGTERM stop it with exit 0', { skip }, async () => {
  const started = Date.now();
  const r = await runToolToEnd('execsnoop', ['--duration', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Date.now() - started >= 1000);
  const tool = startTool('opensnoop', []);
  await tool.ready;
  const held = bpfObjectsOf(tool.child.pid!);
  const code = await tool.stop('SIGTERM');
  assert.equal(code, 0);
  assert.ok(await eventually(() => held.progs.every((id) => !objectExists('prog', id)) && held.links.every((id) => !objectExists('link', id))));
});
