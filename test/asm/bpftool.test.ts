// Live check against bpftool: load the test objects with `bpftool prog loadall`, dump the
// kernel's xlated code with `bpftool prog dump xlated ... opcodes`, decode the raw bytes bpftool
// prints with our decoder, format them with our disassembler, and compare with bpftool's text.
// Needs root, bpftool and a kernel that loads the objects; skipped otherwise. Removes its pins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { decodeInstructions, formatInstruction, slotIndices, type Instruction } from '../../src/asm/index.js';

const dataDir = fileURLToPath(new URL('../../../test/testdata/asm/', import.meta.url));
const BPFFS = '/sys/fs/bpf';

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root';
  if (spawnSync('bpftool', ['version']).status !== 0) return 'bpftool not installed';
  const mounted = () => readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === BPFFS && l.split(' ')[2] === 'bpf');
  if (!mounted() && spawnSync('mount', ['-t', 'bpf', 'bpf', BPFFS]).status !== 0) return `cannot mount bpffs at ${BPFFS}`;
  return false;
}

interface DumpLine {
  slot: number;
  text: string;
  bytes: Uint8Array;
}

/** Parses `bpftool prog dump xlated ... opcodes`: `  12: (07) r1 += 1` then `       07 01 ...`. */
function parseDump(out: string): DumpLine[] {
  const lines = out.split('\n');
  const result: DumpLine[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*(\d+): (.*)$/.exec(lines[i]!);
    if (!m) continue;
    const hex = /^ {7}([0-9a-f]{2}(?: [0-9a-f]{2})*)$/.exec(lines[i + 1] ?? '');
    assert.ok(hex, `no opcode line after: ${lines[i]}`);
    result.push({ slot: Number(m[1]), text: m[2]!, bytes: Uint8Array.from(hex[1]!.split(' '), (b) => parseInt(b, 16)) });
    i++;
  }
  return result;
}

const plus = (n: number) => (n >= 0 ? `+${n}` : `${n}`);

function compare(dump: DumpLine[], where: string): number {
  const insns: Instruction[] = dump.map((d) => {
    const decoded = decodeInstructions(d.bytes);
    assert.equal(decoded.length, 1, `${where}: slot ${d.slot}`);
    return decoded[0]!;
  });
  assert.deepEqual(dump.map((d) => d.slot), slotIndices(insns).slice(0, -1), `${where}: slot numbering`);
  let checked = 0;
  dump.forEach((d, i) => {
    const insn = insns[i]!;
    if (insn.opcode === 0x85 && insn.src === 0) {
      // Helper calls: the kernel replaced imm by the helper's address offset, which bpftool
      // names from /proc/kallsyms.
      const m = /^\(85\) call (\S+)#(-?\d+)$/.exec(d.text);
      assert.ok(m, `${where}: ${d.text}`);
      assert.equal(Number(m[2]), insn.imm, `${where}: ${d.text}`);
    } else if (insn.opcode === 0x85 && insn.src === 1) {
      // bpf-to-bpf calls: the kernel keeps the distance in `offset`; bpftool adds the JITed name.
      const ours = formatInstruction(insn, { callName: (x) => plus(x.offset) });
      assert.ok(d.text === ours || d.text.startsWith(`${ours}#`), `${where}: ${d.text} vs ${ours}`);
    } else {
      assert.equal(formatInstruction(insn), d.text, `${where} slot ${d.slot}`);
    }
    checked++;
  });
  return checked;
}

const skip = skipReason();

for (const obj of ['basic.bpf.o', 'atomics.bpf.o']) {
  test(`disassembly matches bpftool prog dump xlated: ${obj}`, { skip }, () => {
    const pinDir = join(BPFFS, `asm_test_${process.pid}_${obj.replace(/\W/g, '_')}`);
    try {
      const load = spawnSync('bpftool', ['prog', 'loadall', join(dataDir, obj), pinDir], { encoding: 'utf8' });
      assert.equal(load.status, 0, `bpftool prog loadall failed:\n${load.stderr}`);
      const progs = readdirSync(pinDir);
      assert.ok(progs.length > 0);
      let checked = 0;
      for (const prog of progs) {
        const r = spawnSync('bpftool', ['prog', 'dump', 'xlated', 'pinned', join(pinDir, prog), 'opcodes'], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        checked += compare(parseDump(r.stdout), `${obj} ${prog}`);
      }
      assert.ok(checked > 20, `only ${checked} instructions compared`);
    } finally {
      if (existsSync(pinDir)) rmSync(pinDir, { recursive: true, force: true });
    }
  });
}
