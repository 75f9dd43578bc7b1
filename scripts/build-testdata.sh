#!/usr/bin/env bash
# Compiles every test/testdata/**/*.bpf.c with clang-19 into the .o files committed beside it,
# so tests run without clang. Per-file options come from comment lines in the source:
#   // cflags: -mcpu=v4          extra clang flags
#   // target: bpfeb             also build NAME.bpfeb.o for that target
# test/testdata/include/vmlinux.h (bpftool btf dump of the Linux 6.18 BTF these tests were written
# on) is committed, so objects rebuild identically whatever kernel the build machine runs.
# clang-19's output depends on the directory it runs in, beyond the paths in the debug info (the
# order of some BTF types changed with the checkout's path and with the -o path, even with
# -fdebug-prefix-map). So every object is compiled in a copy of the tree at one fixed path,
# $BUILD_ROOT, to an output path relative to it, and the debug info names that path as /ebpf-ts:
# the output is the same in any checkout, built or checked. With --check, rebuilds into a temporary directory and fails if any committed
# object differs from what the source compiles to. Directories may be named to limit the run.
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG=${CLANG:-clang-19}
# <linux/bpf.h> includes <asm/types.h>, which Debian keeps under the multiarch directory.
MULTIARCH_INC=/usr/include/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=(test/testdata)
status=0
checkout=$PWD
BUILD_ROOT=/tmp/ebpf-ts-testdata-build
rm -rf "$BUILD_ROOT"
mkdir -p "$BUILD_ROOT"
cp -r test "$BUILD_ROOT/"
root=$BUILD_ROOT
out_for() { if [ $check = 1 ]; then echo "$tmp/$(echo "$1" | tr / _)"; else echo "$checkout/$1"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$BUILD_ROOT"' EXIT
while IFS= read -r src; do
  dir=$(dirname "$src")
  base=${src%.bpf.c}
  extra=$(sed -n 's|^// cflags: ||p' "$src" | head -1)
  targets="bpfel $(sed -n 's|^// target: ||p' "$src" | head -1)"
  for t in $targets; do
    obj="$base.bpf.o"
    [ "$t" = bpfel ] || obj="$base.$t.o"
    dest=$(out_for "$obj")
    # shellcheck disable=SC2086
    if ! (cd "$root/$dir" && $CLANG -O2 -g -target "$t" -D__TARGET_ARCH_x86 -fdebug-prefix-map="$root"=/ebpf-ts -fdebug-prefix-map="$root/$dir"=. -I. -I"$root/test/testdata/include" -I"$MULTIARCH_INC" $extra \
      -c "$(basename "$src")" -o "$(basename "$obj")"); then
      echo "failed to compile $src for $t" >&2
      exit 1
    fi
    cp "$root/$obj" "$dest"
    if [ $check = 1 ] && ! cmp -s "$dest" "$obj"; then
      echo "stale: $obj does not match $src (run: npm run testdata)" >&2
      status=1
    fi
  done
done < <(find "${dirs[@]}" -name '*.bpf.c' | sort)
exit $status
