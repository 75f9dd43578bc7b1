/**
 * `npm run bench -- [scenario...]`: runs benchmark scenarios and prints anchor lines.
 * Pins itself to ANCHOR_CPU (default 0) like the anchors do, by re-executing under taskset.
 * Exits non-zero if any line had ok=0.
 */
import { spawnSync } from 'node:child_process';
import { mapsScenario } from './maps.js';

const scenarios: Record<string, () => boolean | Promise<boolean>> = {
  maps: mapsScenario,
  // Imported lazily so that a `maps` run needs no BTF parse. main() prints its own lines.
  btf: async () => {
    const { main } = await import('./btf.js');
    return (await main([])).every((l) => l.endsWith('ok=1'));
  },
};

async function main(): Promise<number> {
  const cpu = process.env.ANCHOR_CPU ?? '0';
  if (!process.env.EBPF_TS_BENCH_PINNED) {
    const r = spawnSync('taskset', ['-c', cpu, process.execPath, '--expose-gc', ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, EBPF_TS_BENCH_PINNED: '1' },
    });
    if (r.error) console.error(`bench: taskset unavailable (${r.error.message}); running unpinned`);
    else return r.status ?? 1;
  }
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
