/**
 * `npm run bench -- [scenario...]`: runs benchmark scenarios and prints anchor lines.
 * Pins its main thread to ANCHOR_CPU (default 0) like the anchors pin their consumer.
 * Exits non-zero if any line had ok=0.
 */
import { spawnSync } from 'node:child_process';
import { mapsScenario } from './maps.js';
import { ringbufDrainScenario, ringbufTpScenario } from './ringbuf.js';
import { perfDrainScenario, perfTpScenario } from './perf.js';

const scenarios: Record<string, () => boolean | Promise<boolean>> = {
  maps: mapsScenario,
  ringbuf_drain: ringbufDrainScenario,
  ringbuf_tp: ringbufTpScenario,
  perf_drain: perfDrainScenario,
  perf_tp: perfTpScenario,
  codec: async () => (await import('./codec.js')).codecScenario(),
  // Imported lazily so that a `maps` run needs no BTF parse. main() prints its own lines.
  btf: async () => {
    const { main } = await import('./btf.js');
    return (await main([])).every((l) => l.endsWith('ok=1'));
  },
};

/**
 * Pins the main thread (tid = pid) to ANCHOR_CPU, as the anchors pin their consumer thread.
 * Only the main thread: `taskset -c` on the whole process would also put V8's compiler and
 * GC threads and libuv's pool on that CPU, where they compete with the thread being measured
 * (the single-threaded C anchor has no such threads).
 */
function pinMainThread(cpu: string): void {
  const r = spawnSync('taskset', ['-p', '-c', cpu, String(process.pid)], { stdio: 'ignore' });
  if (r.error || r.status !== 0) console.error(`bench: could not pin the main thread to CPU ${cpu}; running unpinned`);
}

async function main(): Promise<number> {
  pinMainThread(process.env.ANCHOR_CPU ?? '0');
  const only = (process.env.ANCHOR_ONLY ?? '').split(',').filter(Boolean);
  let names = process.argv.slice(2);
  if (names.length === 0) names = only.length ? only : Object.keys(scenarios);
  let ok = true;
  for (const name of names) {
    const run = scenarios[name];
    if (!run) {
      console.error(`bench: unknown scenario '${name}' (known: ${Object.keys(scenarios).join(', ')})`);
      return 2;
    }
    ok = (await run()) && ok;
  }
  return ok ? 0 : 1;
}

process.exitCode = await main();
