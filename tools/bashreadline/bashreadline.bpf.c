// bpf2ts: --perf events=event
// bashreadline: every command line typed into bash, from a uretprobe on readline(). The probe
// fires in any process that maps the binary; only tasks named "bash" are reported.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define MAX_LINE_SIZE 80

struct event {
	u32 pid;
	char comm[16];
	char line[MAX_LINE_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

struct event *unused_event __attribute__((unused));

/* The tool attaches this to the bash binary it finds (or is given), so the section names no binary:
 * `uretprobe//bin/bash:readline` would tie it to one path. BPF_KRETPROBE is libbpf 1.1's spelling
 * of BPF_URETPROBE: the same code. */
SEC("uretprobe")
int BPF_KRETPROBE(printret, const void *ret)
{
	struct event event = {};
	char comm[16];

	if (!ret)
		return 0;
	bpf_get_current_comm(comm, sizeof(comm));
	if (comm[0] != 'b' || comm[1] != 'a' || comm[2] != 's' || comm[3] != 'h' || comm[4] != 0)
		return 0;
	event.pid = bpf_get_current_pid_tgid() >> 32;
	__builtin_memcpy(&event.comm, comm, sizeof(comm));
	bpf_probe_read_user_str(&event.line, sizeof(event.line), ret);
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &event, sizeof(event));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
