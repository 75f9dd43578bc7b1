// A tp_btf program whose attach target doesn't exist in the kernel: loading it must fail with
// NotSupportedError naming the target.
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/collection`),
// which runs in this directory:
//   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -I. -I/usr/include/x86_64-linux-gnu -c missing_target.bpf.c -o missing_target.bpf.o
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tp_btf/ebpf_ts_no_such_tracepoint")
int on_nothing(__u64 *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
