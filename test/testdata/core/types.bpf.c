// clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -I. -c types.bpf.c -o types.bpf.o
//
// Type- and enum-based CO-RE relocations against kernel types: type id local/target, type
// exists/size/matches (with flavours that match and that don't, a type the kernel lacks,
// typedefs), enum value exists/value (enum bpf_map_type, a flavoured enum with a fake
// enumerator, a 64-bit enum whose value needs ld_imm64).
//
// As in fields.bpf.c, results go to out[] without branches, so xlated lines up with the object.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

__u64 out[64];

/* No kernel type has this name. */
struct ebpf_ts_no_such_type {
	int x;
};

/* Matches task_struct: a subset of its members, with the kernel's types. */
struct task_struct___match {
	pid_t pid;
	pid_t tgid;
	char comm[16];
	struct task_struct *real_parent;
};

/* Doesn't match: pid is 64-bit here. */
struct task_struct___nomatch {
	long long pid;
};

/* Doesn't match: a member the kernel lacks. */
struct task_struct___extra {
	pid_t pid;
	int ebpf_ts_missing;
};

/* A flavour of enum bpf_map_type: one real enumerator (local value differs), one fake. */
enum bpf_map_type___fake {
	BPF_MAP_TYPE_RINGBUF___fake = 100,
	BPF_MAP_TYPE_EBPF_TS_FAKE___fake = 1000,
};

/* Matches bpf_map_type: a subset of its enumerators, same size. */
enum bpf_map_type___subset {
	BPF_MAP_TYPE_HASH___subset = 1,
	BPF_MAP_TYPE_ARRAY___subset = 2,
};

typedef int ebpf_ts_no_such_typedef;

SEC("kprobe/do_nanosleep")
int type_relos(void *ctx)
{
	out[0] = bpf_core_type_id_local(struct task_struct);
	out[1] = bpf_core_type_id_kernel(struct task_struct);
	out[2] = bpf_core_type_id_kernel(struct ebpf_ts_no_such_type);
	out[3] = bpf_core_type_id_local(struct task_struct___match);
	out[4] = bpf_core_type_id_kernel(union bpf_attr);

	out[10] = bpf_core_type_exists(struct task_struct);
	out[11] = bpf_core_type_exists(struct ebpf_ts_no_such_type);
	out[12] = bpf_core_type_exists(struct task_struct___nomatch); /* compatible: any struct */
	out[13] = bpf_core_type_exists(union bpf_attr);
	out[14] = bpf_core_type_exists(u64);
	out[15] = bpf_core_type_exists(ebpf_ts_no_such_typedef);
	out[16] = bpf_core_type_exists(enum bpf_map_type);
	out[17] = bpf_core_type_exists(struct nf_conn); /* two candidates: nf_conn, nf_conn___init */

	out[20] = bpf_core_type_size(struct task_struct);
	out[21] = bpf_core_type_size(struct ebpf_ts_no_such_type);
	out[22] = bpf_core_type_size(struct task_struct___match);
	out[23] = bpf_core_type_size(union bpf_attr);
	out[24] = bpf_core_type_size(u64);
	out[25] = bpf_core_type_size(enum bpf_map_type);
	out[26] = bpf_core_type_size(struct sk_buff);
	out[27] = bpf_core_type_size(struct nf_conn); /* both candidates are 248 bytes */

	out[30] = bpf_core_type_matches(struct task_struct___match);
	out[31] = bpf_core_type_matches(struct task_struct___nomatch);
	out[32] = bpf_core_type_matches(struct task_struct___extra);
	out[33] = bpf_core_type_matches(enum bpf_map_type___subset);
	out[34] = bpf_core_type_matches(enum bpf_map_type___fake);
	out[35] = bpf_core_type_matches(u32);
	out[36] = bpf_core_type_matches(struct ebpf_ts_no_such_type);
	out[37] = bpf_core_type_matches(struct task_struct);
	out[38] = bpf_core_type_matches(struct nf_conn); /* 0: clang's 'unsigned long' is the kernel's 'long unsigned int' */

	out[40] = bpf_core_enum_value_exists(enum bpf_map_type, BPF_MAP_TYPE_ARRAY);
	out[41] = bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF);
	out[42] = bpf_core_enum_value_exists(enum bpf_map_type___fake, BPF_MAP_TYPE_EBPF_TS_FAKE___fake);
	out[43] = bpf_core_enum_value_exists(enum bpf_map_type___fake, BPF_MAP_TYPE_RINGBUF___fake);
	out[44] = bpf_core_enum_value(enum bpf_map_type___fake, BPF_MAP_TYPE_RINGBUF___fake);
	out[45] = bpf_core_enum_value(enum perf_callchain_context, PERF_CONTEXT_KERNEL);
	out[46] = bpf_core_enum_value_exists(enum perf_callchain_context, PERF_CONTEXT_USER);
	out[47] = bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NOT_SPECIFIED);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
