// kprobe-family programs: they load on any kernel (kprobe programs also serve uprobes), but
// attach only where the kernel has kprobes (CONFIG_KPROBES) or fprobe (kprobe.multi).
// Compile (from the repository root): bash scripts/build-testdata.sh test/testdata/links
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

__u64 kprobe_hits;

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink)
{
	__sync_fetch_and_add(&kprobe_hits, 1);
	return 0;
}

SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(on_unlink_ret)
{
	__sync_fetch_and_add(&kprobe_hits, 1);
	return 0;
}

SEC("ksyscall/getppid")
int BPF_KSYSCALL(on_getppid)
{
	__sync_fetch_and_add(&kprobe_hits, 1);
	return 0;
}

SEC("kprobe.multi/do_unlinkat")
int on_unlink_multi(void *ctx)
{
	__sync_fetch_and_add(&kprobe_hits, 1);
	return 0;
}
