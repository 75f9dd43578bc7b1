// Programs whose load needs the BTF id of their attach target in the kernel's BTF (tp_btf,
// iter), beside a raw_tp program that attaches by name.
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/collection`),
// which runs in this directory:
//   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -I. -I/usr/include/x86_64-linux-gnu -c attach.bpf.c -o attach.bpf.o
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 hits;

SEC("tp_btf/sched_switch")
int on_switch(__u64 *ctx)
{
	__sync_fetch_and_add(&hits, 1);
	return 0;
}

SEC("raw_tp/sched_switch")
int on_switch_raw(__u64 *ctx)
{
	__sync_fetch_and_add(&hits, 2);
	return 0;
}

SEC("iter/bpf_map")
int dump_maps(__u64 *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
