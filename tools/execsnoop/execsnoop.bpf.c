// bpf2ts: --ringbuf events=event
// execsnoop: every execve(), with its arguments and its return value. The arguments are read on
// entry (the old image's memory is gone after a successful exec) into a per-thread map entry;
// the exit handler adds the return value and sends the event through a ring buffer.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define ARGSIZE 128
#define TOTAL_MAX_ARGS 60
#define DEFAULT_MAXARGS 20
#define FULL_MAX_ARGS_ARR (TOTAL_MAX_ARGS * ARGSIZE)
#define LAST_ARG (FULL_MAX_ARGS_ARR - ARGSIZE)

/* Set by the tool before load. */
const volatile bool ignore_failed = true;
const volatile u32 target_uid = (u32)-1;   /* (u32)-1: every user */
const volatile int max_args = DEFAULT_MAXARGS;
const volatile bool filter_cgroup = false;

struct event {
	u32 pid;
	u32 tid;
	u32 ppid;
	u32 uid;
	s32 retval;
	s32 args_count;
	u32 args_size;
	char comm[16];
	u8 args[FULL_MAX_ARGS_ARR];   /* args_size bytes of NUL-separated arguments */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct event);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* One entry: the cgroup (by fd) that -c limits events to. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} cgroup_map SEC(".maps");

/* Keeps struct event in BTF for the bindings (it is otherwise only used through pointers). */
struct event *unused_event __attribute__((unused));

/* A zeroed event to initialise map entries with (too big for the BPF stack). */
static const struct event empty_event = {};

SEC("tracepoint/syscalls/sys_enter_execve")
int tracepoint__syscalls__sys_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tgid = id >> 32, tid = (u32)id;
	u32 uid = (u32)bpf_get_current_uid_gid();
	struct task_struct *task;
	struct event *event;
	const char **args = (const char **)(ctx->args[1]);
	const char *argp;
	int ret, i;

	if (filter_cgroup && !bpf_current_task_under_cgroup(&cgroup_map, 0))
		return 0;
	if (target_uid != (u32)-1 && target_uid != uid)
		return 0;
	if (bpf_map_update_elem(&execs, &tid, &empty_event, BPF_NOEXIST))
		return 0;
	event = bpf_map_lookup_elem(&execs, &tid);
	if (!event)
		return 0;

	event->pid = tgid;
	event->tid = tid;
	event->uid = uid;
	task = (struct task_struct *)bpf_get_current_task();
	event->ppid = BPF_CORE_READ(task, real_parent, tgid);
	event->args_count = 0;
	event->args_size = 0;

	ret = bpf_probe_read_user_str(event->args, ARGSIZE, (const char *)ctx->args[0]);
	if (ret < 0)
		return 0;
	if (ret <= ARGSIZE)
		event->args_size += ret;
	else {
		/* the filename is longer than ARGSIZE: keep an empty string */
		event->args[0] = '\0';
		event->args_size++;
	}
	event->args_count++;

	#pragma unroll
	for (i = 1; i < TOTAL_MAX_ARGS && i < max_args; i++) {
		if (bpf_probe_read_user(&argp, sizeof(argp), &args[i]) || !argp)
			return 0;
		if (event->args_size > LAST_ARG)
			return 0;
		ret = bpf_probe_read_user_str(&event->args[event->args_size], ARGSIZE, argp);
		if (ret < 0)
			return 0;
		event->args_count++;
		event->args_size += ret;
	}
	/* Is there one more argument than we read? Then say so with args_count + 1. */
	if (bpf_probe_read_user(&argp, sizeof(argp), &args[max_args]) || !argp)
		return 0;
	event->args_count++;
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int tracepoint__syscalls__sys_exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct event *event;
	u32 size;
	int ret;

	event = bpf_map_lookup_elem(&execs, &tid);
	if (!event)
		return 0;
	ret = ctx->ret;
	if (ignore_failed && ret < 0)
		goto cleanup;
	event->retval = ret;
	bpf_get_current_comm(&event->comm, sizeof(event->comm));
	size = offsetof(struct event, args) + event->args_size;
	if (size <= sizeof(*event))
		bpf_ringbuf_output(&events, event, size, 0);
cleanup:
	bpf_map_delete_elem(&execs, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
