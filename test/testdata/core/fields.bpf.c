// clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -I. -c fields.bpf.c -o fields.bpf.o
//
// Field-based CO-RE relocations against kernel types: offsets (direct loads in a tp_btf
// program, BPF_CORE_READ in a kprobe), nested and anonymous members, arrays, bitfields, field
// size/existence/signedness, a ___flavour struct with a field the kernel lacks, and a load
// whose size libbpf adjusts (u32 locally, unsigned long in the kernel).
//
// Every result is stored into out[]: no branch depends on a relocated value, so the verifier
// neither removes nor moves instructions, and the xlated program lines up with the object.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

__u64 out[64];

/* A local flavour: matched against struct task_struct by its essential name. */
struct task_struct___mine {
	int pid;
	int no_such_field;
	unsigned int atomic_flags; /* unsigned long in the kernel: the load size gets adjusted */
	char comm[16];
} __attribute__((preserve_access_index));

/* Signedness differs from the kernel's: a signed local bitfield, unsigned in the kernel. */
struct sk_buff___signed {
	int pkt_type : 3;
} __attribute__((preserve_access_index));

SEC("tp_btf/sched_switch")
int BPF_PROG(direct_loads, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct task_struct___mine *m = (void *)prev;

	out[0] = prev->pid;                             /* LDX: byte_off */
	out[1] = prev->comm[3];                         /* array element */
	out[2] = prev->se.vruntime;                     /* nested struct */
	out[3] = prev->se.vlag;                         /* anonymous union in a nested struct */
	out[4] = (__u64)prev->pid_links[1].next;        /* array of structs, then a member */
	out[5] = prev->restart_block.nanosleep.expires; /* named member of an anonymous union */
	out[6] = m->atomic_flags;                       /* u32 load widened to u64 */
	out[7] = m->pid;                                /* flavour, existing field */
	out[8] = m->comm[5];
	out[9] = next->tgid;
	return 0;
}

SEC("kprobe/kfree_skb_reason")
int BPF_KPROBE(core_reads, struct sk_buff *skb)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct tcp_sock *tp = (void *)BPF_CORE_READ(skb, sk);
	struct nf_conn *ct = (void *)BPF_CORE_READ(skb, _nfct);

	out[10] = (__u64)BPF_CORE_READ(skb, dev);         /* union in struct in union, all anonymous */
	out[11] = BPF_CORE_READ(skb, len);
	out[12] = BPF_CORE_READ(skb, tstamp);             /* anonymous union */
	out[13] = BPF_CORE_READ(skb, dev, ifindex);       /* through a pointer */
	out[14] = BPF_CORE_READ(task, real_parent, tgid);
	out[15] = BPF_CORE_READ(skb, mark);               /* union in the first of two identical anonymous structs */
	out[16] = BPF_CORE_READ(tp, srtt_us);
	out[17] = BPF_CORE_READ(ct, status);             /* the kernel also has nf_conn___init */

	/* bitfields */
	out[20] = __builtin_preserve_field_info(skb->pkt_type, BPF_FIELD_BYTE_OFFSET);
	out[21] = __builtin_preserve_field_info(skb->pkt_type, BPF_FIELD_BYTE_SIZE);
	out[22] = __builtin_preserve_field_info(skb->pkt_type, BPF_FIELD_LSHIFT_U64);
	out[23] = __builtin_preserve_field_info(skb->pkt_type, BPF_FIELD_RSHIFT_U64);
	out[24] = __builtin_preserve_field_info(skb->pkt_type, BPF_FIELD_SIGNED);
	out[25] = __builtin_preserve_field_info(skb->fclone, BPF_FIELD_LSHIFT_U64);
	out[26] = __builtin_preserve_field_info(skb->fclone, BPF_FIELD_RSHIFT_U64);
	out[27] = __builtin_preserve_field_info(skb->csum_level, BPF_FIELD_BYTE_OFFSET);
	out[28] = __builtin_preserve_field_info(skb->csum_level, BPF_FIELD_LSHIFT_U64);
	out[29] = __builtin_preserve_field_info(tp->repair, BPF_FIELD_LSHIFT_U64);
	out[30] = __builtin_preserve_field_info(tp->nonagle, BPF_FIELD_RSHIFT_U64);
	out[31] = __builtin_preserve_field_info(tp->nonagle, BPF_FIELD_BYTE_OFFSET);
	out[32] = __builtin_preserve_field_info(((struct sk_buff___signed *)skb)->pkt_type, BPF_FIELD_SIGNED);
	out[33] = __builtin_preserve_field_info(((struct sk_buff___signed *)skb)->pkt_type, BPF_FIELD_LSHIFT_U64);

	/* size, existence, signedness of plain fields */
	out[40] = bpf_core_field_size(task->comm);
	out[41] = bpf_core_field_size(task->pid);
	out[42] = bpf_core_field_size(((struct task_struct___mine *)task)->atomic_flags);
	out[43] = bpf_core_field_exists(((struct task_struct___mine *)task)->no_such_field);
	out[44] = bpf_core_field_exists(((struct task_struct___mine *)task)->pid);
	out[45] = __builtin_preserve_field_info(task->pid, BPF_FIELD_SIGNED);
	out[46] = __builtin_preserve_field_info(skb->len, BPF_FIELD_SIGNED);
	out[47] = bpf_core_field_offset(task->se.vruntime);
	out[48] = bpf_core_field_offset(task->comm[7]);
	out[49] = bpf_core_field_size(skb->cb);
	out[50] = bpf_core_field_size(task->pid_links[2]);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
