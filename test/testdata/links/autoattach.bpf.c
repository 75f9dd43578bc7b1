// Programs that collection.attachAll() attaches from their section names alone, with
// getppid(2) (Node's process.ppid calls libc's getppid) as the trigger of all of them; and
// programs it must skip (no target in the section name).
// Compile (from the repository root): bash scripts/build-testdata.sh test/testdata/links
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid = 0;

__u64 tp_hits, raw_hits, uprobe_hits, uretprobe_hits, iter_runs;

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("tp/syscalls/sys_enter_getppid")
int auto_tp(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&tp_hits, 1);
	return 0;
}

SEC("raw_tracepoint/sys_enter")
int auto_raw(struct bpf_raw_tracepoint_args *ctx)
{
	if (mine() && ctx->args[1] == 110)
		__sync_fetch_and_add(&raw_hits, 1);
	return 0;
}

SEC("uprobe/libc.so.6:getppid")
int auto_uprobe(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&uprobe_hits, 1);
	return 0;
}

SEC("uretprobe/libc.so.6:getppid")
int BPF_KRETPROBE(auto_uretprobe, int ret)
{
	if (mine() && ret > 0)
		__sync_fetch_and_add(&uretprobe_hits, 1);
	return 0;
}

SEC("iter/task")
int auto_iter(struct bpf_iter__task *ctx)
{
	if (ctx->task)
		__sync_fetch_and_add(&iter_runs, 1);
	return 0;
}

/* No target in the section name: attachAll skips these. */
SEC("kprobe")
int manual_kprobe(void *ctx)
{
	return 0;
}

SEC("xdp")
int manual_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("perf_event")
int manual_perf(void *ctx)
{
	return 0;
}
