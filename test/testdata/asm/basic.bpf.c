// Test program for src/asm: maps, global data, helpers, bpf-to-bpf calls, byte swaps, loops.
// Compiled with (from this directory):
//   clang-19 -O2 -g -target bpf -c basic.bpf.c -o basic.bpf.o
//   clang-19 -O2 -g -target bpfeb -c basic.bpf.c -o basic.bpfeb.o
// target: bpfeb
#include "common.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

__u64 packets = 0;          /* .bss */
__u32 threshold = 1500;     /* .data */
const volatile __u16 port = 8080; /* .rodata */

struct hdr {
	__u8 dst[6];
	__u8 src[6];
	__u16 proto;
};

static __noinline __u64 mix(__u64 a, __u64 b)
{
	__u64 x = a * 0x9e3779b97f4a7c15ULL;
	x ^= b >> 7;
	x = (x << 13) | (x >> 51);
	return x + (a & 0xff) - (b | 3);
}

static __noinline int count(__u32 key)
{
	__u64 one = 1, *v = bpf_map_lookup_elem(&counts, &key);
	if (v) {
		*v += 1;
		return 0;
	}
	return bpf_map_update_elem(&counts, &key, &one, BPF_ANY);
}

SEC("xdp")
int xdp_basic(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct hdr *h = data;
	__u32 key = 0;
	__u64 *s;

	if ((void *)(h + 1) > end)
		return XDP_DROP;
	packets++;
	if (h->proto == __builtin_bswap16(0x0800) && end - data > threshold)
		return XDP_DROP;
	count(__builtin_bswap16(h->proto));
	s = bpf_map_lookup_elem(&stats, &key);
	if (s)
		*s = mix(*s, bpf_ktime_get_ns()) + port;
	return XDP_PASS;
}

struct exec_args {
	__u64 pad;
	int nr;
	const char *filename;
};

SEC("tracepoint/syscalls/sys_enter_execve")
int trace_execve(struct exec_args *ctx)
{
	char comm[16];
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32;
	int i, sum = 0;

	bpf_get_current_comm(comm, sizeof(comm));
	for (i = 0; i < 16; i++) {
		if (comm[i] == 0)
			break;
		sum += comm[i] * (i + 1);
	}
	if (pid % 7 == 3 || sum < 0)
		return 1;
	count(pid ^ (__u32)sum);
	return (int)(mix(id, (__u64)(long)sum) & 1);
}
