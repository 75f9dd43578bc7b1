// The writers' output checked by the compilers: the C header compiled by clang-19 (layouts
// compared member by member with clang's own record layouts), the TypeScript by tsc --strict.
// For a committed BPF object and, when the kernel has BTF, for all of vmlinux.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCHeader } from '../../src/btf/c_writer.js';
import { writeTypeScript } from '../../src/btf/ts_writer.js';
import { Spec } from '../../src/btf/spec.js';
import { ElfFile } from '../../src/elf/index.js';
import type { StructType, Type } from '../../src/btf/types.js';

const CLANG = 'clang-19';
const VMLINUX = '/sys/kernel/btf/vmlinux';
const root = fileURLToPath(new URL('../../../', import.meta.url));
const testdata = (name: string) => join(root, 'test/testdata/writers', name);

function have(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}
const haveClang = have(CLANG, ['--version']);
const haveVmlinux = existsSync(VMLINUX);
const haveBpftool = have('bpftool', ['version']);
const noClang = haveClang ? false : `needs ${CLANG}`;
const noKernelClang = !haveVmlinux ? `needs ${VMLINUX}` : noClang;

function run(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${(r.stderr ?? '').slice(0, 4000)}`);
  return r.stdout;
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-ts-writers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function objectSpec(name: string): Spec {
  const elf = ElfFile.parse(readFileSync(testdata(name)));
  const btf = elf.sectionByName('.BTF');
  assert.ok(btf);
  return Spec.parse(btf.data());
}

// --- comparing layouts with clang's ---------------------------------------------------------------

/** One line of a record layout: a member (or an anonymous member), at a bit offset. */
interface Entry {
  depth: number;
  bit: number;
  width: number;
  name: string;
}

interface Layout {
  size: number;
  entries: (Entry & { anon: boolean })[];
}

/**
 * Parses `clang -Xclang -fdump-record-layouts` output. Each record lists its members with
 * absolute byte offsets (`OFF:FIRST-LAST` for bitfields), nested records expanded two spaces
 * deeper, unnamed padding bitfields without a name. Only named records are kept.
 */
function parseRecordLayouts(dump: string): Map<string, Layout> {
  const out = new Map<string, Layout>();
  for (const block of dump.split('*** Dumping AST Record Layout')) {
    const lines = block.split('\n').filter((l) => l.includes('|'));
    if (lines.length === 0) continue;
    const head = lines[0]!.slice(lines[0]!.indexOf('|') + 1).trim();
    if (!/^(struct|union) [A-Za-z_]\w*$/.test(head)) continue;
    const layout: Layout = { size: -1, entries: [] };
    for (const line of lines.slice(1)) {
      const bar = line.indexOf('|');
      const left = line.slice(0, bar);
      const right = line.slice(bar + 1);
      const size = /\[sizeof=(\d+)/.exec(right);
      if (size) {
        layout.size = Number(size[1]);
        continue;
      }
      const depth = (right.length - right.trimStart().length - 1) / 2;
      const off = /^\s*(\d+)(?::(\d+)-(\d+)|:-)?\s*$/.exec(left);
      assert.ok(off, `record layout line: ${line}`);
      const text = right.slice(1 + depth * 2);
      layout.entries.push({
        depth,
        bit: Number(off[1]) * 8 + (off[2] ? Number(off[2]) : 0),
        width: off[2] ? Number(off[3]) - Number(off[2]) + 1 : 0,
        name: text.endsWith(' ') ? '' : text.slice(text.lastIndexOf(' ') + 1),
        anon: /\((anonymous|unnamed) at /.test(text),
      });
    }
    out.set(head, layout);
  }
  return out;
}

function skipQualifiers(t: Type): Type {
  while (t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag') t = t.target;
  return t;
}

/** BTF's view: direct members, and the members of members of anonymous type (not typedef'd). */
function btfEntries(t: StructType, base = 0, depth = 1, out: Entry[] = []): Entry[] {
  for (const m of t.members) {
    out.push({ depth, bit: base + m.bitOffset, width: m.bitfieldSize, name: m.name });
    const mt = skipQualifiers(m.type);
    if ((mt.kind === 'struct' || mt.kind === 'union') && !mt.name) btfEntries(mt, base + m.bitOffset, depth + 1, out);
  }
  return out;
}

/** `offsetof` designators (`ports.sport`; anonymous members' fields directly) of non-bitfields. */
function memberPaths(t: StructType, base = 0, prefix = '', out: [string, number][] = []): [string, number][] {
  for (const m of t.members) {
    const path = m.name ? (prefix ? `${prefix}.${m.name}` : m.name) : prefix;
    if (m.name && !m.bitfieldSize) out.push([path, base + m.bitOffset]);
    const mt = skipQualifiers(m.type);
    if ((mt.kind === 'struct' || mt.kind === 'union') && !mt.name && !m.bitfieldSize) memberPaths(mt, base + m.bitOffset, path, out);
  }
  return out;
}

/** clang's view, the same selection: padding dropped, named types' expansions skipped. */
function clangEntries(layout: Layout): Entry[] {
  const out: Entry[] = [];
  let skipBelow = Infinity;
  for (const e of layout.entries) {
    if (e.depth > skipBelow) continue;
    skipBelow = Infinity;
    if (e.name === '' && !e.anon) continue; // unnamed bitfield: padding
    out.push({ depth: e.depth, bit: e.bit, width: e.width, name: e.name });
    if (!e.anon) skipBelow = e.depth;
  }
  return out;
}

/**
 * Compiles `header` with clang-19 and checks every struct and union it defines against BTF:
 * `_Static_assert`s on sizes and member offsets (any failure stops clang), then clang's record
 * layouts compared with BTF for every member, bitfields included. Duplicates (`foo___2`)
 * match any BTF type of that name. Returns how many records were compared.
 */
function checkLayouts(dir: string, header: string, types: Iterable<Type>): number {
  writeFileSync(join(dir, 'vmlinux.h'), header);
  const byName = new Map<string, StructType[]>();
  for (const t of types) {
    if ((t.kind !== 'struct' && t.kind !== 'union') || !t.name) continue;
    const key = `${t.kind} ${t.name}`;
    byName.set(key, [...(byName.get(key) ?? []), t]);
  }
  const defined = [...header.matchAll(/^(struct|union) (\w+) \{/gm)].map((m) => `${m[1]} ${m[2]}`);
  let c = '#include "vmlinux.h"\n';
  for (const rec of defined) {
    const cands = byName.get(rec);
    if (cands?.length !== 1) {
      c += `_Static_assert(sizeof(${rec}) >= 0, "");\n`; // a duplicate: laid out, compared below
      continue;
    }
    const t = cands[0]!;
    c += `_Static_assert(sizeof(${rec}) == ${t.size}, "${rec}");\n`;
    for (const [path, bit] of memberPaths(t)) {
      c += `_Static_assert(__builtin_offsetof(${rec}, ${path}) == ${bit / 8}, "${rec}.${path}");\n`;
    }
  }
  writeFileSync(join(dir, 'check.c'), c);
  const dump = run(CLANG, ['-target', 'bpf', '-fsyntax-only', '-Xclang', '-fdump-record-layouts', 'check.c'], dir);
  const layouts = parseRecordLayouts(dump);
  const bad: string[] = [];
  for (const rec of defined) {
    const layout = layouts.get(rec);
    if (!layout) {
      bad.push(`${rec}: no layout from clang`);
      continue;
    }
    const got = JSON.stringify({ size: layout.size, members: clangEntries(layout) });
    const cands = byName.get(rec.replace(/___\d+$/, '')) ?? [];
    if (!cands.some((t) => JSON.stringify({ size: t.size, members: btfEntries(t) }) === got)) {
      bad.push(`${rec}: clang ${got.slice(0, 400)}\n  BTF ${JSON.stringify({ size: cands[0]?.size, members: cands[0] && btfEntries(cands[0]) }).slice(0, 400)}`);
    }
  }
  assert.deepEqual(bad, [], `${bad.length} of ${defined.length} records differ`);
  return defined.length;
}

function tsc(dir: string, file: string, source: string): void {
  writeFileSync(join(dir, file), source);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', types: [] }, files: [file] }),
  );
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')]);
}

// --- a BPF object -----------------------------------------------------------------------------------

test('C (clang): the header of a BPF object compiles and lays out as its BTF', { skip: noClang }, (t) => {
  const dir = tempDir(t);
  const spec = objectSpec('types.bpf.o');
  const n = checkLayouts(dir, writeCHeader(spec), spec);
  assert.ok(n >= 12, `${n} records`);
});

test('TS (tsc): the declarations of a BPF object compile with --strict', (t) => {
  const dir = tempDir(t);
  tsc(dir, 'types.ts', writeTypeScript(objectSpec('types.bpf.o'), { namespace: 'Types' }));
});

// --- vmlinux ------------------------------------------------------------------------------------------

let kernelHeader: string | undefined;
function vmlinuxHeader(): { header: string; types: Type[]; ms: number } {
  const types = [...Spec.parse(readFileSync(VMLINUX))];
  const start = performance.now();
  kernelHeader ??= writeCHeader(types);
  return { header: kernelHeader, types, ms: performance.now() - start };
}

test('C (vmlinux): a BPF program using task_struct, sk_buff, xdp_md, tracepoints and CO-RE compiles against it', { skip: noKernelClang }, (t) => {
  const dir = tempDir(t);
  const { header, ms } = vmlinuxHeader();
  assert.ok(ms < 5000, `writing vmlinux.h took ${ms.toFixed(0)} ms`);
  writeFileSync(join(dir, 'vmlinux.h'), header);
  const obj = join(dir, 'uses_vmlinux.bpf.o');
  run(CLANG, ['-O2', '-g', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-Wall', '-Werror', `-I${dir}`, '-c', testdata('uses_vmlinux.c'), '-o', obj]);
  const elf = ElfFile.parse(readFileSync(obj));
  for (const sec of ['tracepoint/syscalls/sys_enter_execve', 'kprobe/tcp_sendmsg', 'kprobe/__kfree_skb', 'xdp', 'tc', '.BTF.ext']) {
    assert.ok(elf.sectionByName(sec), `${sec} in the object`);
  }

  // Loaded (libbpf relocates the CO-RE accesses against the kernel's BTF), when we may.
  if (process.getuid?.() === 0 && haveBpftool && existsSync('/sys/fs/bpf')) {
    const pins = `/sys/fs/bpf/ebpf_ts_writers_${process.pid}`;
    mkdirSync(pins);
    try {
      run('bpftool', ['prog', 'loadall', obj, pins]);
    } finally {
      rmSync(pins, { recursive: true, force: true });
    }
  }
});

test('C (vmlinux): every struct and union lays out as in BTF (sizes, offsets, bitfields)', { skip: noKernelClang }, (t) => {
  const dir = tempDir(t);
  const { header, types } = vmlinuxHeader();
  const n = checkLayouts(dir, header, types);
  assert.ok(n > 1000, `${n} records`);
});

test('C (vmlinux): defines the same named types as bpftool', { skip: !haveVmlinux || !haveBpftool ? 'needs kernel BTF and bpftool' : false }, () => {
  const { header } = vmlinuxHeader();
  const names = (h: string) => {
    const set = new Set<string>();
    for (const m of h.matchAll(/^(struct|union|enum) (\w+) \{/gm)) set.add(`${m[1]} ${m[2]}`);
    // typedef names: the identifier a top-level typedef declares
    for (const m of h.matchAll(/^typedef .*?\b(\w+)(?:\)\(.*\)|\[\d+\])*;$/gm)) set.add(`typedef ${m[1]}`);
    return set;
  };
  const ours = names(header);
  const theirs = names(run('bpftool', ['btf', 'dump', 'file', VMLINUX, 'format', 'c']));
  const missing = [...theirs].filter((n) => !ours.has(n));
  const extra = [...ours].filter((n) => !theirs.has(n));
  assert.deepEqual({ missing: missing.slice(0, 20), extra: extra.slice(0, 20) }, { missing: [], extra: [] });
  assert.ok(ours.size > 10000, `${ours.size} names`);
});

test('TS (vmlinux): the declarations of all of vmlinux compile with tsc --strict', { skip: haveVmlinux ? false : `needs ${VMLINUX}` }, (t) => {
  const dir = tempDir(t);
  const { types } = vmlinuxHeader();
  const ts = writeTypeScript(types);
  assert.match(ts, /\nexport interface TaskStruct \{\n/);
  assert.match(ts, /\nexport interface SkBuff \{\n/);
  assert.match(ts, /\nexport interface XdpMd \{\n/);
  assert.equal(writeTypeScript(types), ts, 'deterministic');
  tsc(dir, 'vmlinux.ts', ts);
});
