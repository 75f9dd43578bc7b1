// clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -I. -I/usr/include/x86_64-linux-gnu -c guarded.bpf.c -o guarded.bpf.o
//
// A poisoned relocation in dead code: bpf_core_field_exists() is 0 on this kernel, so the
// verifier never reaches the poisoned read and the program loads.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

__u64 out[4];

struct task_struct___guarded {
	int ebpf_ts_missing;
	int pid;
} __attribute__((preserve_access_index));

SEC("kprobe/do_nanosleep")
int guarded(void *ctx)
{
	struct task_struct___guarded *t = (void *)bpf_get_current_task();

	if (bpf_core_field_exists(t->ebpf_ts_missing))
		out[0] = BPF_CORE_READ(t, ebpf_ts_missing);
	else
		out[0] = BPF_CORE_READ(t, pid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
