// A syscall program that reports what its CO-RE relocations resolved to, so a test can run it
// (BPF_PROG_TEST_RUN) and compare every value with the kernel's BTF. Built against vmlinux.h:
// test/testdata/include's copy by scripts/build-testdata.sh, and the header ebpf-ts writes itself
// in test/collection/core_run.test.ts.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* A local flavor of task_struct with a field no kernel has. */
struct task_struct___fake {
	int pid;
	long no_such_field;
} __attribute__((preserve_access_index));

__u64 results[16];

SEC("syscall")
int core_report(void *ctx)
{
	results[0] = bpf_core_field_offset(struct task_struct, pid);
	results[1] = bpf_core_field_size(struct task_struct, comm);
	results[2] = bpf_core_field_exists(struct task_struct, pid);
	results[3] = bpf_core_field_exists(struct task_struct___fake, no_such_field);
	results[4] = __builtin_preserve_field_info(___bpf_field_ref(struct task_struct, pid), BPF_FIELD_SIGNED);
	results[5] = bpf_core_type_size(struct sk_buff);
	results[6] = bpf_core_type_exists(struct task_struct);
	results[7] = bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF);
	results[8] = bpf_core_enum_value_exists(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF);
	results[9] = bpf_core_field_offset(struct sk_buff, mark);
	results[10] = __builtin_preserve_field_info(___bpf_field_ref(struct sk_buff, pkt_type), BPF_FIELD_LSHIFT_U64);
	results[11] = __builtin_preserve_field_info(___bpf_field_ref(struct sk_buff, pkt_type), BPF_FIELD_RSHIFT_U64);
	results[12] = bpf_core_field_offset(struct task_struct, se.vruntime);
	results[13] = bpf_core_type_id_kernel(struct task_struct);
	results[14] = 0x1234; /* marks a completed run */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
