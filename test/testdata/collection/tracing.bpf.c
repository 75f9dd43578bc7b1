// fentry/fexit and lsm programs: their attach BTF ids are resolved in the kernel's BTF
// (the FUNCs do_unlinkat and bpf_lsm_file_open), and sleepable sections set
// BPF_F_SLEEPABLE. Kernels without BPF trampolines (or without "bpf" among the active LSMs)
// refuse to load them.
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/collection`),
// which runs in this directory:
//   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -I. -I/usr/include/x86_64-linux-gnu -c tracing.bpf.c -o tracing.bpf.o
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("fentry/do_unlinkat")
int on_unlink_entry(__u64 *ctx)
{
	return 0;
}

SEC("fexit/do_unlinkat")
int on_unlink_exit(__u64 *ctx)
{
	return 0;
}

SEC("lsm/file_open")
int on_file_open(__u64 *ctx)
{
	return 0;
}

SEC("lsm.s/bpf")
int on_bpf_sleepable(__u64 *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
