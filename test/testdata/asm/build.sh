#!/bin/sh
# Recompiles the test objects of src/asm from their C sources, with the command written at the
# top of each source (lines starting with `//   clang-19`). Run from anywhere.
set -eu
cd "$(dirname "$0")"
for src in *.bpf.c; do
	grep '^//   clang-19 ' "$src" | sed 's|^//   ||' | while read -r cmd; do
		echo "$cmd"
		sh -c "$cmd"
	done
done
