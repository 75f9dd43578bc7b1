// clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -I. -I/usr/include/x86_64-linux-gnu -c poison.bpf.c -o poison.bpf.o
//
// Relocations that libbpf poisons: the instruction becomes `call 0xbad2310` and, being
// reachable, the verifier rejects the program with "invalid func unknown#195896080". Every
// program here fails to load; the loadable ones are in fields.bpf.c and types.bpf.c.
// Local types only (no vmlinux.h): the object stays small.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

__u64 out[16];

struct task_struct___poison {
	int ebpf_ts_missing;
	int atomic_flags; /* signed int here, unsigned long in the kernel: no safe load size */
} __attribute__((preserve_access_index));

enum bpf_map_type___poison {
	BPF_MAP_TYPE_EBPF_TS_FAKE___poison = 1000,
};

enum perf_callchain_context___poison {
	PERF_CONTEXT_EBPF_TS_FAKE___poison = 0xfffffffffffff000ULL,
};

/* ALU: the offset of a field the kernel lacks (BPF_CORE_READ). */
SEC("kprobe/do_nanosleep")
int poison_alu(void *ctx)
{
	struct task_struct___poison *t = (void *)bpf_get_current_task();

	out[0] = BPF_CORE_READ(t, ebpf_ts_missing);
	return 0;
}

/* LDX: a direct load of a field the kernel lacks. */
SEC("tp_btf/sched_switch")
int poison_ldx(__u64 *ctx)
{
	struct task_struct___poison *prev = (void *)ctx[1];

	out[1] = prev->ebpf_ts_missing;
	return 0;
}

/* LDX: the field exists, but a 4-byte signed load can't follow it to 8 bytes. */
SEC("tp_btf/sched_switch")
int poison_memsz(__u64 *ctx)
{
	struct task_struct___poison *prev = (void *)ctx[1];

	out[2] = prev->atomic_flags;
	return 0;
}

/* ALU: the size of a field the kernel lacks. */
SEC("kprobe/do_nanosleep")
int poison_size(void *ctx)
{
	out[3] = bpf_core_field_size(((struct task_struct___poison *)0)->ebpf_ts_missing);
	return 0;
}

/* ld_imm64: the value of an enumerator the kernel lacks (both slots get poisoned). */
SEC("kprobe/do_nanosleep")
int poison_enum(void *ctx)
{
	out[4] = bpf_core_enum_value(enum bpf_map_type___poison, BPF_MAP_TYPE_EBPF_TS_FAKE___poison);
	return 0;
}

/* ld_imm64 with a 64-bit local value (enum64). */
SEC("kprobe/do_nanosleep")
int poison_enum64(void *ctx)
{
	out[5] = bpf_core_enum_value(enum perf_callchain_context___poison, PERF_CONTEXT_EBPF_TS_FAKE___poison);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
