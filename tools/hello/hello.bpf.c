// hello: the first program of every eBPF tutorial. A tracepoint on execve entry that writes one
// line to the kernel's trace buffer with bpf_printk; the tool prints the lines from trace_pipe.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tracepoint/syscalls/sys_enter_execve")
int hello(void *ctx)
{
	char comm[16];

	bpf_get_current_comm(comm, sizeof(comm));
	bpf_printk("ebpf-ts hello: execve by %s (pid %d)", comm, bpf_get_current_pid_tgid() >> 32);
	return 0;
}
