/**
 * The Program API against the kernel: opening programs by id and pin, listing, info (checked
 * against bpftool, an independent reader of the same kernel objects), run statistics, the
 * translated code with its BTF func and line info, and binding maps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ArgumentError,
  BpfError,
  BpfMap,
  Program,
  ProgType,
  bpfStatsSysctlEnabled,
  enableRunStats,
  fullProgramName,
  loadBtfById,
  loadCollection,
  loadCollectionSpec,
} from '../../src/index.js';
import { R0, exit, mov64Imm } from '../../src/asm/index.js';
import { FD } from '../../src/sys/index.js';
import { counterProgram } from '../helpers/programs.js';
import { bpftoolIds, ensureBpffs, kernelSkipReason, openFdCount, readU64, u32, uniqueName } from '../helpers/kernel.js';

const skip = kernelSkipReason();
const cliObject = fileURLToPath(new URL('../../../test/testdata/cli/cli.bpf.o', import.meta.url));
const bpftoolJson = (...args: string[]) => JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' }));

test('fromId, listIds, loadPinned, pin and unpin', { skip }, () => {
  ensureBpffs();
  const fds = openFdCount();
  {
    using counts = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1, name: 'api_counts' });
    using prog = counterProgram('SOCKET_FILTER', counts, 'api_prog', 3);
    assert.ok(Program.listIds().includes(prog.id), 'listed by BPF_PROG_GET_NEXT_ID');
    assert.ok(bpftoolIds('prog').includes(prog.id), 'bpftool sees it');

    // A second handle on the same kernel program, independent of the first.
    using byId = Program.fromId(prog.id);
    assert.equal(byId.id, prog.id);
    assert.equal(byId.type, ProgType.SOCKET_FILTER);
    assert.equal(byId.name, 'api_prog');
    assert.equal(byId.info().tag, prog.info().tag);
    assert.equal(byId.testRun({ data: new Uint8Array(32) }).retval, 3);

    const path = `/sys/fs/bpf/${uniqueName('api_pin')}`;
    prog.pin(path);
    try {
      assert.equal(prog.pinnedAt, path);
      assert.equal(bpftoolJson('prog', 'show', 'pinned', path).id, prog.id, 'bpftool finds it at the pin');
      using pinned = Program.loadPinned(path);
      assert.equal(pinned.id, prog.id);
      assert.equal(pinned.pinnedAt, path);
      pinned.unpin();
      assert.equal(existsSync(path), false, 'unpin removed the pin');
    } finally {
      rmSync(path, { force: true });
    }

    // A pinned map is not a program.
    const mapPath = `/sys/fs/bpf/${uniqueName('api_map_pin')}`;
    counts.pin(mapPath);
    try {
      assert.throws(() => Program.loadPinned(mapPath), (e: unknown) => e instanceof ArgumentError && e.code === 'ERR_NOT_PROGRAM' && /is a BPF map, not a program/.test(e.message));
    } finally {
      counts.unpin();
    }
  }
  assert.throws(() => Program.loadPinned(`/sys/fs/bpf/${uniqueName('api_none')}`), (e: unknown) => e instanceof BpfError && e.code === 'ENOENT' && /nothing pinned at/.test(e.message));
  // Ids are never reused before wrapping around 2^31, so this one is free.
  assert.throws(() => Program.fromId(0x7ffffff0), (e: unknown) => e instanceof BpfError && e.code === 'ENOENT' && e.message === `no program with id ${0x7ffffff0}`);
  assert.equal(openFdCount(), fds, 'no descriptor leaked');
});

test('info(): tag, type, name, map ids, sizes, BTF id, load time and uid, as bpftool reads them', { skip }, () => {
  const spec = loadCollectionSpec(cliObject);
  using col = loadCollection(spec);
  for (const [name, prog] of col.programs) {
    const info = prog.info();
    const theirs = bpftoolJson('prog', 'show', 'id', String(prog.id));
    assert.equal(info.id, theirs.id);
    assert.equal(info.tag, theirs.tag, name);
    assert.equal(fullProgramName(prog.fd.value), theirs.name, 'the full name, from BTF for long names');
    assert.equal(prog.fullName(), name);
    assert.equal(info.xlatedProgLen, theirs.bytes_xlated);
    assert.equal(info.jitedProgLen, theirs.bytes_jited);
    assert.deepEqual(info.mapIds, theirs.map_ids);
    assert.equal(info.btfId, theirs.btf_id);
    assert.equal(info.createdByUid, theirs.uid);
    assert.equal(info.createdByUid, process.getuid!());
    assert.equal(info.gplCompatible, theirs.gpl_compatible);
    // load_time is CLOCK_BOOTTIME in ns: the program was loaded before `before`'s moment, and
    // within the last minute of uptime.
    const uptimeNs = BigInt(Math.round(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1e9));
    assert.ok(info.loadTime > uptimeNs - 60_000_000_000n && info.loadTime <= uptimeNs + 1_000_000_000n, `load time ${info.loadTime} vs uptime ${uptimeNs}`);
  }
  const long = col.program('cli_socket_filter_long');
  assert.equal(long.info().name, 'cli_socket_filt', 'the kernel keeps 15 characters');
});

/** Processes other than this one holding a BPF_ENABLE_STATS fd (other tests may run at once). */
function otherStatsHolders(): number {
  let n = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:bpf-stats') n++;
      } catch {
        // closed meanwhile
      }
    }
  }
  return n;
}

test('run statistics are counted while enableRunStats() is held', { skip }, (t) => {
  using counts = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1, name: 'stat_counts' });
  using prog = counterProgram('SOCKET_FILTER', counts, 'stat_prog');
  const start = prog.stats();
  {
    using stats = enableRunStats();
    assert.equal(stats.closed, false);
    prog.testRun({ data: new Uint8Array(32), repeat: 100 });
    const s = prog.stats();
    assert.equal(s.runCount - start.runCount, 100n, 'every repetition counted');
    assert.ok(s.runTimeNs > start.runTimeNs, 'run time accumulated');
    // bpftool shows the same numbers.
    const theirs = bpftoolJson('prog', 'show', 'id', String(prog.id));
    assert.equal(BigInt(theirs.run_cnt), s.runCount);
    assert.equal(BigInt(theirs.run_time_ns), s.runTimeNs);
  }
  const after = prog.stats();
  prog.testRun({ data: new Uint8Array(32), repeat: 10 });
  assert.equal(readU64(counts.lookup(u32(0))!), 110n, 'the program ran 110 times');
  if (bpfStatsSysctlEnabled() || otherStatsHolders() > 0) {
    t.diagnostic('statistics stay on system-wide (sysctl or another process): not checking that counting stopped');
    return;
  }
  assert.equal(prog.stats().runCount, after.runCount, 'not counted once the handle is closed');
});

test('xlated(): the translated code bpftool dumps, with BTF func and line info and JITed symbols', { skip }, () => {
  using col = loadCollection(loadCollectionSpec(cliObject));
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-ts-xlated-'));
  try {
    for (const [name, prog] of col.programs) {
      const x = prog.xlated();
      const file = join(dir, name);
      execFileSync('bpftool', ['prog', 'dump', 'xlated', 'id', String(prog.id), 'file', file]);
      assert.deepEqual(x.bytes, new Uint8Array(readFileSync(file)), `${name}: the same bytes bpftool writes`);
      assert.equal(x.bytes.length, prog.info().xlatedProgLen);
      assert.equal(x.btfId, prog.info().btfId);
      const btf = prog.btf()!;
      // func_info: the program's own function first, at instruction 0.
      assert.equal(x.funcInfo[0]!.insnOff, 0);
      const fn = btf.typeById(x.funcInfo[0]!.typeId);
      assert.equal(fn.kind, 'func');
      assert.equal(fn.name, name);
      // line_info: ascending instruction offsets, lines of cli.bpf.c.
      assert.ok(x.lineInfo.length > 2);
      const source = readFileSync(cliObject.replace(/\.o$/, '.c'), 'utf8').split('\n');
      for (let i = 0; i < x.lineInfo.length; i++) {
        const l = x.lineInfo[i]!;
        if (i) assert.ok(l.insnOff >= x.lineInfo[i - 1]!.insnOff);
        assert.match(btf.stringAt(l.fileNameOff), /cli\.bpf\.c$/);
        assert.equal(btf.stringAt(l.lineOff), source[l.line - 1], `line ${l.line}`);
      }
      assert.equal(x.jitedKsyms.length, prog.info().nrJitedKsyms);
    }
    // cli_xdp calls a subprogram: two functions, two JITed symbols, named in kallsyms.
    const x = col.program('cli_xdp').xlated();
    assert.equal(x.funcInfo.length, 2);
    assert.equal(loadBtfById(x.btfId).typeById(x.funcInfo[1]!.typeId).name, 'add_one');
    if (x.jitedKsyms.length) {
      const kallsyms = readFileSync('/proc/kallsyms', 'utf8');
      const tag = col.program('cli_xdp').info().tag;
      assert.match(kallsyms, new RegExp(`^${x.jitedKsyms[0]!.toString(16).padStart(16, '0')} t bpf_prog_${tag}_cli_xdp`, 'm'));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bindMap keeps a map with the program, as bpftool shows', { skip }, () => {
  using prog = Program.load({ type: 'SOCKET_FILTER', instructions: [mov64Imm(R0, 0), exit()], name: 'bind_prog' });
  using a = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1, name: 'bind_a' });
  using b = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1, name: 'bind_b' });
  assert.deepEqual(prog.info().mapIds, []);
  prog.bindMap(a);
  prog.bindMap(b.fd.value);
  assert.deepEqual(prog.info().mapIds.sort(), [a.id, b.id].sort());
  assert.deepEqual(bpftoolJson('prog', 'show', 'id', String(prog.id)).map_ids.sort(), [a.id, b.id].sort());
  // The binding holds the map: closing our fd leaves it alive while the program lives.
  const id = a.id;
  a.close();
  using again = BpfMap.fromId(id);
  assert.equal(again.name, 'bind_a');
});

test('program handles close cleanly', { skip }, () => {
  const fds = openFdCount();
  const objects = FD.openCount;
  for (let i = 0; i < 20; i++) {
    using p = Program.load({ type: 'SOCKET_FILTER', instructions: [mov64Imm(R0, i), exit()] });
    using q = Program.fromId(p.id);
    q.xlated();
    q.fullName();
  }
  assert.equal(openFdCount(), fds);
  assert.equal(FD.openCount, objects);
});
