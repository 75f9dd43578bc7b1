// cputime: on-CPU time per process, from sched/sched_switch. At every switch the task leaving
// the CPU is the current one: its time since it was switched in is added to its process's
// entry. The tool reads and clears the map every interval.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/* 0: every process. */
const volatile u32 target_tgid = 0;

struct cputime {
	u64 ns;          /* on-CPU time since the tool last read this entry */
	char comm[16];
};

/* Thread id -> when it was last switched in. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, u64);
} oncpu_since SEC(".maps");

/* Process id (tgid) -> time on CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct cputime);
} cputimes SEC(".maps");

SEC("tracepoint/sched/sched_switch")
int sched_switch(struct trace_event_raw_sched_switch *ctx)
{
	u64 now = bpf_ktime_get_ns();
	u64 id = bpf_get_current_pid_tgid();
	u32 prev_tid = (u32)id, tgid = id >> 32, next_tid = ctx->next_pid;
	u64 *since;

	/* The idle task (tid 0) is not a process: its time is the CPU being free. */
	if (prev_tid != 0 && (!target_tgid || target_tgid == tgid)) {
		since = bpf_map_lookup_elem(&oncpu_since, &prev_tid);
		if (since && now > *since) {
			u64 delta = now - *since;
			struct cputime *ct = bpf_map_lookup_elem(&cputimes, &tgid);

			if (ct) {
				__sync_fetch_and_add(&ct->ns, delta);
			} else {
				struct cputime init = { .ns = delta };

				bpf_get_current_comm(&init.comm, sizeof(init.comm));
				bpf_map_update_elem(&cputimes, &tgid, &init, BPF_NOEXIST);
			}
		}
		bpf_map_delete_elem(&oncpu_since, &prev_tid);
	}
	if (next_tid != 0)
		bpf_map_update_elem(&oncpu_since, &next_tid, &now, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
