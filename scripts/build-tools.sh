#!/usr/bin/env bash
# Builds the tools' BPF objects and TypeScript bindings with bpf2ts, the way users build theirs:
#   tools/<tool>/<tool>.bpf.c  ->  tools/<tool>/<tool>.bpf.o and tools/<tool>/<tool>.ts
# Both are committed, so the tools run with no clang at run time. Per-tool bpf2ts options come
# from a `// bpf2ts: ...` line in the source. The bindings import the library by a relative path
# (--import-from ../../src/index.js): the tools are part of this package.
# clang-19's output depends on the directory it runs in (see build-testdata.sh), so each tool is
# compiled in a copy at one fixed path. With --check, fails if a committed file differs from
# what the source builds to. Tool names may be given to limit the run. Needs `npm run build:ts`
# first (bpf2ts runs from dist/).
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$PWD
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
tools=("$@")
if [ ${#tools[@]} -eq 0 ]; then
  for d in tools/*/; do
    t=$(basename "$d")
    [ -f "tools/$t/$t.bpf.c" ] && tools+=("$t")
  done
fi
BUILD_ROOT=/tmp/ebpf-ts-tools-build
rm -rf "$BUILD_ROOT"
mkdir -p "$BUILD_ROOT/tools"
trap 'rm -rf "$BUILD_ROOT"' EXIT
cp -r test/testdata/include "$BUILD_ROOT/include"
status=0
for t in "${tools[@]}"; do
  src="tools/$t/$t.bpf.c"
  mkdir -p "$BUILD_ROOT/tools/$t"
  cp "$src" "$BUILD_ROOT/tools/$t/"
  opts=$(sed -n 's|^// bpf2ts: ||p' "$src" | head -1)
  # shellcheck disable=SC2086
  if ! (cd "$BUILD_ROOT/tools/$t" && node "$checkout/bin/bpf2ts.js" --import-from ../../src/index.js $opts "$t" "$t.bpf.c" -- -I ../../include 2>&1 >/dev/null | grep -v "^bpf2ts: wrote" >&2 || true; [ -f "$t.ts" ]); then
    echo "failed to build $src" >&2
    exit 1
  fi
  for f in "$t.bpf.o" "$t.ts"; do
    if [ $check = 1 ]; then
      if ! cmp -s "$BUILD_ROOT/tools/$t/$f" "tools/$t/$f"; then
        echo "stale: tools/$t/$f does not match $src (run: bash scripts/build-tools.sh $t)" >&2
        status=1
      fi
    else
      cp "$BUILD_ROOT/tools/$t/$f" "tools/$t/$f"
    fi
  done
done
exit $status
