// Tracing programs for the links tests: each counts its runs for the test's own process
// (target_tgid, in .bss: the test sets it) so concurrent processes don't disturb the counts.
// Compile (from the repository root): bash scripts/build-testdata.sh test/testdata/links
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "GPL";

__u32 target_tgid;

__u64 tp_hits;
__u64 tp_cookie;
__u64 raw_hits;
__u64 tpbtf_hits;
__u64 uprobe_hits;
__u64 uprobe_arg;
__u64 uprobe_cookie;
__u64 uretprobe_hits;
__s64 uretprobe_ret;
__u64 usdt_hits;
__s64 usdt_args[3];
__s32 usdt_argc;
__u64 usdt_cookie_seen;
__u64 perf_hits;

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_getppid(void *ctx)
{
	if (!mine())
		return 0;
	__sync_fetch_and_add(&tp_hits, 1);
	tp_cookie = bpf_get_attach_cookie(ctx);
	return 0;
}

/* args[1] of sys_enter is the syscall number: 110 is getppid on x86-64. */
SEC("raw_tp/sys_enter")
int raw_getppid(struct bpf_raw_tracepoint_args *ctx)
{
	if (mine() && ctx->args[1] == 110)
		__sync_fetch_and_add(&raw_hits, 1);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(tpbtf_getppid, struct pt_regs *regs, long id)
{
	if (mine() && id == 110)
		__sync_fetch_and_add(&tpbtf_hits, 1);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(on_call, long arg)
{
	if (!mine())
		return 0;
	__sync_fetch_and_add(&uprobe_hits, 1);
	uprobe_arg = arg;
	uprobe_cookie = bpf_get_attach_cookie(ctx);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(on_return, long ret)
{
	if (!mine())
		return 0;
	__sync_fetch_and_add(&uretprobe_hits, 1);
	uretprobe_ret = ret;
	return 0;
}

SEC("usdt")
int BPF_USDT(on_usdt, long a, long b, long c)
{
	if (!mine())
		return 0;
	__sync_fetch_and_add(&usdt_hits, 1);
	usdt_args[0] = a;
	usdt_args[1] = b;
	usdt_args[2] = c;
	usdt_argc = bpf_usdt_arg_cnt(ctx);
	usdt_cookie_seen = bpf_usdt_cookie(ctx);
	return 0;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	__sync_fetch_and_add(&perf_hits, 1);
	return 0;
}

SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	BPF_SEQ_PRINTF(seq, "%d %d %s\n", task->tgid, task->pid, task->comm);
	return 0;
}
