// The execve tracer of the tutorials, for bpf2ts's tests: every execve() of a child of
// `target_ppid` (a .rodata constant set before load; 0 = every process) sends an event with
// the caller's pid and the file being executed through a ring buffer, and counts it in .bss.
// `struct event` reaches BTF through the unused global pointer below: clang writes a type into
// BTF only when a global, a map or a function signature uses it, and the program uses it only
// through a local pointer.
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/bpf2ts`).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct event {
	u32 pid;
	u8 comm[100];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

const volatile u32 target_ppid = 0;
u64 exec_count = 0;

const struct event *unused_event __attribute__((unused));

SEC("tracepoint/syscalls/sys_enter_execve")
int handle_exec(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct event *e;

	if (target_ppid && BPF_CORE_READ(task, real_parent, tgid) != target_ppid)
		return 0;
	__sync_fetch_and_add(&exec_count, 1);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	/* comm: the program being executed (execve's filename), truncated to 100 bytes. */
	bpf_probe_read_user_str(e->comm, sizeof(e->comm), (const char *)ctx->args[0]);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
