#!/usr/bin/env bash
# Runs the shared anchors (libbpf, optionally go) and `npm run bench` alternately, N times, on
# the same machine, and prints for each metric the median of ebpf-ts/libbpf ratios taken pair by
# pair (robust to load that drifts during the run) and the median values.
#
#   bench/compare-anchors.sh [-n RUNS] [scenario,...]      e.g. bench/compare-anchors.sh -n 5 maps
#
# ../shared/anchors is read-only in CI checkouts, so it is built in a copy under $TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
if [ "${1:-}" = "-n" ]; then runs=$2; shift 2; fi
only=${1:-maps}
src=../shared/anchors
work=${TMPDIR:-/tmp}/ebpf-ts-anchors
if [ ! -x "$work/build/libbpf_bench" ]; then
  rm -rf "$work" && cp -r "$src" "$work" && chmod -R u+w "$work"
  make -s -C "$work" bpf gen libbpf >&2
fi
npx tsc -p tsconfig.json
out=$(mktemp)
for ((i = 1; i <= runs; i++)); do
  echo "run $i/$runs" >&2
  (cd "$work" && ANCHOR_ONLY=$only ./run.sh libbpf 2>/dev/null) | sed "s/^/pair=$i /" >>"$out"
  ANCHOR_BPF_DIR=$work/build/bpf ANCHOR_ONLY=$only node --expose-gc dist/bench/run.js | sed "s/^/pair=$i /" >>"$out"
done
python3 - "$out" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(dict)
vals = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = dict(x.split('=', 1) for x in line.split())
    if f.get('ok') != '1':
        print('NOT OK:', line.strip()); continue
    rows[(f['metric'], f['pair'])][f['anchor']] = float(f['value'])
    vals[(f['metric'], f['anchor'])].append(float(f['value']))
metrics = sorted({m for m, _ in rows})
for m in metrics:
    ratios = [r['ebpf-ts'] / r['libbpf'] for (mm, _), r in rows.items() if mm == m and 'ebpf-ts' in r and 'libbpf' in r]
    if not ratios: continue
    a = statistics.median(vals[(m, 'ebpf-ts')]); b = statistics.median(vals[(m, 'libbpf')])
    print(f'{m:32s} ebpf-ts {a:>11.0f}  libbpf {b:>11.0f}  rate ratio (median of {len(ratios)} pairs) {statistics.median(ratios):.2f}  time ratio {1/statistics.median(ratios):.2f}')
PY
rm -f "$out"
