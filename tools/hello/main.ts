/**
 * `ebpf-ts hello`: the "hello world" of eBPF. A tracepoint on execve entry calls bpf_printk; the
 * tool prints the lines the kernel writes to trace_pipe, as they come.
 *
 * trace_pipe is one stream for the whole system and reading it consumes it: while this runs,
 * another reader (`cat trace_pipe`, a second hello) gets some lines and this one the rest.
 */
import { TracePipe, type TraceLine } from '../../src/tracepipe/index.js';
import { clockTime, announceReady, runTool, type ToolDefinition, type ToolIO } from '../common.js';
import { loadHello } from './hello.js';

/** What hello.bpf.c's bpf_printk writes first: the lines of this tool. */
const MARKER = 'ebpf-ts hello: ';

export const definition: ToolDefinition = {
  name: 'hello',
  summary: 'Hello, eBPF: a line from the kernel (bpf_printk, read from trace_pipe) for every exec on the system.',
  options: [
    { long: 'all', short: 'a', help: 'print every trace_pipe line, not only this program\'s' },
    { long: 'json', help: 'print one JSON object per line (task, pid, cpu, flags, timestamp, message)' },
  ],
  examples: ['ebpf-ts hello', 'ebpf-ts hello --duration 5 --json'],
};

export async function run(argv: string[], io?: ToolIO): Promise<number> {
  return runTool(definition, 'tracing', argv, async (o, signal, out) => {
    using objs = loadHello();
    // Open the pipe before attaching, so that no line of ours comes before the reader.
    using pipe = new TracePipe();
    objs.attachAll();
    const print = (line: TraceLine) => {
      if (!o.all && !line.message.startsWith(MARKER)) return;
      if (o.json) {
        out.out(JSON.stringify({ task: line.task, pid: line.pid, cpu: line.cpu, flags: line.flags, timestamp: line.timestamp, message: line.message }) + '\n');
      } else {
        out.out(`${clockTime()} ${line.task}-${line.pid} [${String(line.cpu).padStart(3, '0')}] ${line.message}\n`);
      }
    };
    announceReady(out, 'hello', 'printing bpf_printk lines from trace_pipe');
    for await (const line of pipe.lines({ signal })) print(line);
  }, io);
}
