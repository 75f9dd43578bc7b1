// An fentry program: loads only on kernels with BPF trampolines.
// Compile (from the repository root): bash scripts/build-testdata.sh test/testdata/links
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

__u64 fentry_hits;

SEC("fentry/do_unlinkat")
int BPF_PROG(on_unlinkat_entry, int dfd)
{
	__sync_fetch_and_add(&fentry_hits, 1);
	return 0;
}
