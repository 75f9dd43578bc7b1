// The sched_switch CPU-time counter of the tutorials, for bpf2ts's tests: on every context
// switch, the time the outgoing thread ran since it was switched in is added to `counts`
// (thread id -> nanoseconds), a hash map typed u32 -> u64. With `target_tgid` set (.rodata),
// only that process's threads are counted.
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/bpf2ts`).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

const volatile u32 target_tgid = 0;

SEC("tracepoint/sched/sched_switch")
int on_switch(struct trace_event_raw_sched_switch *ctx)
{
	u64 now = bpf_ktime_get_ns();
	u32 prev = ctx->prev_pid, next = ctx->next_pid;
	u64 *started, *total;

	/* The outgoing thread is still current: its tgid is ours to check. */
	started = bpf_map_lookup_elem(&start, &prev);
	if (started && (!target_tgid || (bpf_get_current_pid_tgid() >> 32) == target_tgid)) {
		u64 delta = now - *started;

		total = bpf_map_lookup_elem(&counts, &prev);
		if (total)
			__sync_fetch_and_add(total, delta);
		else
			bpf_map_update_elem(&counts, &prev, &delta, BPF_NOEXIST);
	}
	if (next)
		bpf_map_update_elem(&start, &next, &now, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
