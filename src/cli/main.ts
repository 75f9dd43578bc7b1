/**
 * `ebpf-ts`: bpftool-style commands. Exit codes: 0 success, 1 failure (reason on stderr),
 * 2 usage error.
 */
import { EbpfError } from '../errors.js';
import { LoadallUsageError } from './loadall.js';
import { progCommand } from './prog.js';
import { mapCommand } from './map.js';
import { CliUsageError, type CliContext } from './common.js';
import { btfCommand, BtfUsageError } from './btf.js';
import { linkCommand } from './link.js';
import { perfCommand } from './perf.js';
import { netCommand } from './net.js';
import { featureCommand } from './feature.js';
import { TOOLS } from '../../tools/index.js';

const USAGE = `Usage: ebpf-ts [-j|--json] [-p|--pretty] OBJECT COMMAND ...

  prog { show | list } [PROG]                  programs loaded in the kernel
  prog dump xlated PROG [opcodes | linum | file FILE]
                                               translated instructions, with source lines from BTF
  prog run PROG [data_in FILE [data_out FILE [data_size_out L]]]
                [ctx_in FILE [ctx_out FILE [ctx_size_out M]]] [repeat N]
                                               BPF_PROG_TEST_RUN (FILE '-': stdin/stdout)
  prog pin PROG PATH                           pin a program on bpffs
  prog loadall OBJ PINDIR [pinmaps MAPDIR]     load an object's programs and pin them in PINDIR
  map  { show | list } [MAP]                   maps in the kernel
  map  dump MAP                                entries, formatted through BTF when the map has it
  map  lookup MAP [key DATA]                   one entry
  map  getnext MAP [key DATA]                  the key after DATA (the first key without one)
  map  update MAP [key DATA] [value VALUE] [any | exist | noexist]
  map  delete MAP key DATA
  map  pin MAP PATH                            pin a map on bpffs
  link { show | list } [LINK]                  BPF links (LINK := { id ID | pinned PATH })
  link pin LINK PATH | link detach LINK        pin a link; detach its program, keeping the link
  perf { show | list } [pid PID]               programs on perf events and raw tracepoints, per process
  net  { show | list } [dev IF]                XDP and TC programs per interface
  feature probe [full]                         what this kernel supports: program and map types,
                                               helpers per program type, attach points
  btf  { show | list } [id ID]                 BTF objects in the kernel, with their users
  btf  dump { file PATH | id ID } [format c|ts|raw]
                                               types of a BTF file, an object's .BTF, or a BTF id

  PROG := { id ID | pinned PATH | tag TAG | name NAME }
  MAP  := { id ID | pinned PATH | name NAME }
  DATA := [hex] BYTES                          bytes in decimal (0x.. hex), or hex after 'hex'
  VALUE := DATA | PROG (program arrays) | MAP (maps of maps)

Output follows bpftool's layout; -j prints JSON with bpftool's field names.

Tools (each takes --help, --duration SECONDS and --json; runs until Ctrl-C):
${Object.entries(TOOLS).map(([name, t]) => `  ${name.padEnd(13)}${t.summary}`).join('\n')}`;

class UsageError extends Error {}

function prefixMatch(word: string | undefined, ...choices: string[]): string | undefined {
  if (!word) return undefined;
  return choices.find((c) => c === word) ?? choices.find((c) => c.startsWith(word));
}

export async function main(argv: string[]): Promise<number> {
  // A tool takes its own options (its -p is a pid, not --pretty).
  const tool = argv[0] !== undefined ? TOOLS[argv[0]] : undefined;
  if (tool) return (await tool.load()).run(argv.slice(1));
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
    const object = prefixMatch(args[0], 'prog', 'map', 'link', 'perf', 'net', 'feature', 'btf', 'help');
    const ctx: CliContext = { json, pretty, out: (t) => process.stdout.write(t) };
    switch (object) {
      case 'btf':
        process.stdout.write(btfCommand(args.slice(1), { json, pretty }));
        return 0;
      case 'prog':
        return progCommand(args.slice(1), ctx);
      case 'map':
        return mapCommand(args.slice(1), ctx);
      case 'link':
        return linkCommand(args.slice(1), ctx);
      case 'perf':
        return perfCommand(args.slice(1), ctx);
      case 'net':
        return netCommand(args.slice(1), ctx);
      case 'feature':
        return featureCommand(args.slice(1), ctx);
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
    if (e instanceof UsageError || e instanceof LoadallUsageError || e instanceof BtfUsageError || e instanceof CliUsageError) {
      console.error(`ebpf-ts: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof EbpfError) {
      // bpftool -j reports errors as JSON on stdout; the message also goes to stderr.
      if (json) process.stdout.write(JSON.stringify({ error: e.message }) + '\n');
      console.error(`ebpf-ts: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
