/**
 * `ebpf-ts bashreadline`: every command line typed into bash, system-wide, from a uretprobe on
 * bash's readline(). Events come through a perf buffer.
 */
import { ArgumentError } from '../../src/errors.js';
import { attachUretprobe, openElf, resolveBinaryPath } from '../../src/links/index.js';
import { aborted, clockTime, announceReady, runTool, type ToolDefinition, type ToolIO } from '../common.js';
import { loadBashreadline, type Event } from './bashreadline.js';

export const definition: ToolDefinition = {
  name: 'bashreadline',
  summary: "Print the command lines typed into bash (a uretprobe on bash's readline()).",
  options: [
    { long: 'binary', short: 'b', value: 'PATH', help: 'the bash binary (default: bash found in PATH); or a libreadline.so' },
    { long: 'json', help: 'print one JSON object per line instead of columns' },
  ],
  examples: ['ebpf-ts bashreadline', 'ebpf-ts bashreadline --binary /usr/local/bin/bash'],
};

/**
 * Where readline lives: bash as Debian builds it has its own copy of readline (an exported
 * symbol); a bash linked against libreadline.so calls the library's. Returns the file to probe.
 */
export function findReadline(binary: string): string {
  const path = resolveBinaryPath(binary);
  const elf = openElf(path);
  if (elf.symbolFileOffset('readline') !== undefined) return path;
  throw new ArgumentError(
    `no readline symbol in ${path}: if this bash uses a shared libreadline, pass it with --binary (e.g. --binary libreadline.so.8)`,
    'ENOENT',
  );
}

export async function run(argv: string[], io?: ToolIO): Promise<number> {
  return runTool(definition, 'tracing', argv, async (o, signal, out) => {
    const binary = findReadline((o.binary as string | undefined) ?? 'bash');
    using objs = loadBashreadline();
    using _link = attachUretprobe(objs.programs.printret, { binary, symbol: 'readline' });
    using reader = objs.maps.events.reader();
    if (!o.json) out.out(`${'TIME'.padEnd(9)} ${'PID'.padEnd(7)} COMMAND\n`);
    const print = (e: Event) => {
      if (o.json) out.out(JSON.stringify({ time: clockTime(), pid: e.pid, command: e.line }) + '\n');
      else out.out(`${clockTime().padEnd(9)} ${String(e.pid).padEnd(7)} ${e.line}\n`);
    };
    reader.start(print, { signal });
    announceReady(out, 'bashreadline', `tracing readline() in ${binary}`);
    await aborted(signal);
    reader.drain(print);
  }, io);
}
