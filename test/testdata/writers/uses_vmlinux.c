// Fixture for test/btf/writers-clang: a BPF program written against the vmlinux.h that
// writeCHeader makes from the running kernel's BTF. Not committed as an object: the header
// depends on the kernel, so the test generates it and compiles this file each run:
//   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -I<dir of vmlinux.h> -c uses_vmlinux.c -o uses_vmlinux.bpf.o
// (Named .c, not .bpf.c, so that scripts/build-testdata.sh leaves it alone.)
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

/* Macros aren't in BTF: programs define the ones they use. */
#define ETH_P_IP 0x0800
#define TC_ACT_OK 0

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, pid_t);
	__type(value, u64);
} counts SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int on_execve(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	pid_t ppid = BPF_CORE_READ(task, real_parent, tgid);
	u64 one = 1, *n;

	n = bpf_map_lookup_elem(&counts, &ppid);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&counts, &ppid, &one, BPF_ANY);
	bpf_printk("execve %ld by %d", ctx->args[0], ppid);
	return 0;
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(on_sendmsg, struct sock *sk, struct msghdr *msg, size_t size)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (bpf_core_field_exists(sk->sk_protocol))
		bpf_printk("sendmsg %d %lu", family, size);
	return 0;
}

SEC("kprobe/__kfree_skb")
int BPF_KPROBE(on_kfree_skb, struct sk_buff *skb)
{
	unsigned int len = BPF_CORE_READ(skb, len);
	unsigned char *head = 0;

	/* What BPF_CORE_READ expands to: a relocated address, read through a helper. */
	bpf_probe_read_kernel(&head, sizeof(head), __builtin_preserve_access_index(&skb->head));
	bpf_printk("free skb %u %p", len, head);
	return 0;
}

SEC("xdp")
int count_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	return eth->h_proto == bpf_htons(ETH_P_IP) ? XDP_PASS : XDP_DROP;
}

SEC("tc")
int count_tc(struct __sk_buff *skb)
{
	return skb->len > 0 ? TC_ACT_OK : -1;
}
