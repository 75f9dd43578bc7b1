/**
 * `ebpf-ts`: bpftool-style commands. Exit codes: 0 success, 1 failure (reason on stderr),
 * 2 usage error.
 */
import { EbpfError } from '../errors.js';
import { probeAll } from '../features/index.js';
import { objGet, progInfo, mapInfo } from '../sys/index.js';
import { showMaps, showPrograms } from './show.js';
import { loadall, LoadallUsageError } from './loadall.js';
import { btfCommand, BtfUsageError } from './btf.js';

const USAGE = `Usage: ebpf-ts [-j|--json] [-p|--pretty] OBJECT COMMAND ...

  prog { show | list } [id ID | pinned PATH]   programs loaded in the kernel
  prog loadall OBJ PINDIR [pinmaps MAPDIR]     load an object's programs and pin them in PINDIR
  map  { show | list } [id ID | pinned PATH]   maps in the kernel
  feature probe                                what this kernel supports
  btf dump file PATH [format c|ts|raw]         types of a BTF file or an object's .BTF

Output follows bpftool's layout; -j prints JSON with bpftool's field names.`;

class UsageError extends Error {}

function parseTarget(args: string[], kind: 'prog' | 'map'): number[] | undefined {
  if (args.length === 0) return undefined;
  if (args[0] === 'id' && args[1] && /^\d+$/.test(args[1])) return [Number(args[1])];
  if (args[0] === 'pinned' && args[1]) {
    const fd = objGet(args[1]);
    try {
      return [kind === 'prog' ? progInfo(fd.value).id : mapInfo(fd.value).id];
    } finally {
      fd.close();
    }
  }
  throw new UsageError(`expected 'id ID' or 'pinned PATH', got '${args.join(' ')}'`);
}

function prefixMatch(word: string | undefined, ...choices: string[]): string | undefined {
  if (!word) return undefined;
  return choices.find((c) => c === word) ?? choices.find((c) => c.startsWith(word));
}

export async function main(argv: string[]): Promise<number> {
  let json = false;
  let pretty = false;
  const args: string[] = [];
  for (const a of argv) {
    if (a === '-j' || a === '--json') json = true;
    else if (a === '-p' || a === '--pretty') json = pretty = true;
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      return 0;
    } else args.push(a);
  }
  const write = (text: string) => {
    if (json && pretty) text = JSON.stringify(JSON.parse(text), null, 2);
    process.stdout.write(text.endsWith('\n') || text === '' ? text : text + '\n');
  };
  try {
    const object = prefixMatch(args[0], 'prog', 'map', 'feature', 'btf', 'help');
    const command = args[1];
    if (object === 'prog' && command === 'loadall') {
      return loadall(args.slice(2), { out: (t) => write(t), err: (t) => console.error(t) });
    }
    switch (object) {
      case 'btf':
        process.stdout.write(btfCommand(args.slice(1)));
        return 0;
      case 'prog':
      case 'map': {
        const cmd = prefixMatch(command ?? 'show', 'show', 'list');
        if (!cmd) throw new UsageError(`unknown ${object} command '${command}'`);
        const ids = parseTarget(args.slice(2), object);
        write(object === 'prog' ? showPrograms(json, ids) : showMaps(json, ids));
        return 0;
      }
      case 'feature': {
        if (prefixMatch(command, 'probe') !== 'probe') throw new UsageError(`unknown feature command '${command ?? ''}'`);
        const report = probeAll();
        if (json) {
          write(JSON.stringify({
            program_types: Object.fromEntries(Object.entries(report.programTypes).map(([k, v]) => [`have_${k}_prog_type`, v === 'available'])),
            map_types: Object.fromEntries(Object.entries(report.mapTypes).map(([k, v]) => [`have_${k}_map_type`, v === 'available'])),
          }));
        } else {
          let out = 'Scanning eBPF program types...\n';
          for (const [k, v] of Object.entries(report.programTypes)) out += `eBPF program_type ${k} is ${v === 'available' ? 'available' : 'NOT available'}\n`;
          out += '\nScanning eBPF map types...\n';
          for (const [k, v] of Object.entries(report.mapTypes)) out += `eBPF map_type ${k} is ${v === 'available' ? 'available' : 'NOT available'}\n`;
          write(out);
        }
        return 0;
      }
      case 'help':
        console.log(USAGE);
        return 0;
      default:
        if (args.length === 0) {
          console.error(USAGE);
          return 2;
        }
        throw new UsageError(`unknown object '${args[0]}'`);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof LoadallUsageError || e instanceof BtfUsageError) {
      console.error(`ebpf-ts: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof EbpfError) {
      console.error(`ebpf-ts: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
