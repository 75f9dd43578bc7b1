#!/usr/bin/env bash
# Runs the shared anchors (libbpf, optionally go) and `npm run bench` alternately, N times, on
# the same machine, and prints for each metric and each ebpf-ts api the median of ebpf-ts/libbpf
# ratios taken pair by pair (robust to load that drifts during the run) with their interquartile
# range in brackets, and the median values.
# libbpf's reference line is its first api for the metric (ring_buffer__poll, perf_buffer__poll,
# bpf_map_*). For the *_tp metrics it also prints consumer CPU per event (cpu_ns_per_event, lower
# is better) and drops, which the anchors' README says to compare there rather than the rate.
#
#   bench/compare-anchors.sh [-n RUNS] [scenario,...]      e.g. bench/compare-anchors.sh -n 5 maps
#   bench/compare-anchors.sh -n 3 ringbuf_drain,perf_drain,ringbuf_tp,perf_tp
#
# ../shared/anchors is read-only in CI checkouts, so it is built in a copy under $TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
if [ "${1:-}" = "-n" ]; then runs=$2; shift 2; fi
only=${1:-maps}
# Both sides fill and drain the same number of rounds (the C anchor's default is 8, the others' 4).
export ANCHOR_DRAIN_ROUNDS=${ANCHOR_DRAIN_ROUNDS:-4}
src=../shared/anchors
work=${TMPDIR:-/tmp}/ebpf-ts-anchors
if [ ! -x "$work/build/libbpf_bench" ]; then
  rm -rf "$work" && cp -r "$src" "$work" && chmod -R u+w "$work"
  make -s -C "$work" bpf gen libbpf >&2
fi
# The maps workload through libbpf in a multi-threaded process (bench/baseline/maps_threads.c):
# the floor for any library in a runtime with threads, such as Node.js.
baseline=$work/build/maps_threads
if [[ ",$only," == *,maps,* ]]; then
  gcc -O2 -Wall -o "$baseline" bench/baseline/maps_threads.c -lbpf -lpthread
fi
# tsc emits even when another part of the tree has type errors: benchmark what was emitted.
npx tsc -p tsconfig.json >&2 || echo "compare-anchors: tsc reported errors (see above); running the emitted JavaScript" >&2
out=$(mktemp)
for ((i = 1; i <= runs; i++)); do
  echo "run $i/$runs" >&2
  # One scenario per run.sh call: the anchor has a 30 s hard timeout for everything it runs, which
  # the drain and tp scenarios together exceed on a loaded machine. A failed run (timeout, ok=0)
  # leaves its verified lines, and the comparison goes on.
  for s in ${only//,/ }; do
    (cd "$work" && ANCHOR_ONLY=$s ./run.sh libbpf 2>/dev/null || echo "compare-anchors: libbpf $s failed (run $i)" >&2) | sed "s/^/pair=$i /" >>"$out"
  done
  if [[ ",$only," == *,maps,* ]]; then
    for mode in --single --threads; do
      (taskset -c "${ANCHOR_CPU:-0}" "$baseline" $mode || echo "compare-anchors: maps_threads $mode failed (run $i)" >&2) | sed "s/^/pair=$i /" >>"$out"
    done
  fi
  (ANCHOR_BPF_DIR=$work/build/bpf ANCHOR_GEN=$work/build/getpid_gen ANCHOR_ONLY=$only node --expose-gc dist/bench/run.js || echo "compare-anchors: ebpf-ts failed (run $i)" >&2) | sed "s/^/pair=$i /" >>"$out"
done
python3 - "$out" <<'PY'
import collections, statistics, sys
# (metric, pair) -> anchor -> api -> fields; libbpf's reference api is the first it printed.
rows = collections.defaultdict(lambda: collections.defaultdict(dict))
ref_api = {}
for line in open(sys.argv[1]):
    f = dict(x.split('=', 1) for x in line.split() if '=' in x)
    if 'metric' not in f: continue
    if f.get('ok') != '1':
        print('NOT OK:', line.strip()); continue
    if f['anchor'] == 'libbpf': ref_api.setdefault(f['metric'], f['api'])
    rows[(f['metric'], f['pair'])][f['anchor']][f['api']] = f
med = statistics.median
for m in sorted({m for m, _ in rows}):
    if m not in ref_api: continue
    pairs = [r for (mm, _), r in rows.items() if mm == m and 'libbpf' in r and ref_api[m] in r['libbpf']]
    # ebpf-ts's apis, then the C baselines (libbpf-single/-threads), each against libbpf's line.
    others = [('ebpf-ts', a) for a in sorted({a for r in pairs for a in r.get('ebpf-ts', {})})]
    others += [(b, a) for b in ('libbpf-single', 'libbpf-threads') for a in sorted({a for r in pairs for a in r.get(b, {})})]
    for anchor, api in others:
        ps = [(r[anchor][api], r['libbpf'][ref_api[m]]) for r in pairs if api in r.get(anchor, {})]
        if not ps: continue
        ratios = [float(a['value']) / float(b['value']) for a, b in ps]
        va = med(float(a['value']) for a, _ in ps); vb = med(float(b['value']) for _, b in ps)
        who = 'ebpf-ts api=' + api if anchor == 'ebpf-ts' else anchor
        # The spread of the pairwise ratios: on a noisy machine a median within it of a target
        # does not settle which side of the target the code is on.
        rs = sorted(ratios)
        spread = f' [{rs[len(rs) // 4]:.2f}..{rs[(3 * len(rs)) // 4]:.2f}]' if len(rs) >= 4 else ''
        line = f'{m:30s} {who:17s} {va:>11.0f}  libbpf {vb:>11.0f}  rate ratio (median of {len(ps)} pairs) {med(ratios):.2f}{spread}'
        if 'cpu_ns_per_event' in ps[0][0]:
            cr = [float(a['cpu_ns_per_event']) / float(b['cpu_ns_per_event']) for a, b in ps]
            ca = med(float(a['cpu_ns_per_event']) for a, _ in ps); cb = med(float(b['cpu_ns_per_event']) for _, b in ps)
            da = [int(a['dropped']) for a, _ in ps]; db = [int(b['dropped']) for _, b in ps]
            line += f'  cpu ns/event {ca:.0f} vs {cb:.0f} (ratio {med(cr):.2f})  dropped {da} vs {db}'
        else:
            line += f'  time ratio {1 / med(ratios):.2f}'
        if 'steady_ms_per_dump' in ps[0][0]:
            # After the JIT's warm-up (dumps past the timed ones): a diagnostic, not the value.
            st = [float(a['steady_ms_per_dump']) / float(b['ms_per_dump']) for a, b in ps]
            line += f'  (steady: time ratio {med(st):.2f})'
        print(line)
PY
rm -f "$out"
