// The simplest object: one XDP program counting packets by their first byte in a BTF hash map.
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/collection`),
// which runs in this directory:
//   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -I. -I/usr/include/x86_64-linux-gnu -c basic.bpf.c -o basic.bpf.o
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} packets SEC(".maps");

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 key;
	__u64 one = 1, *v;

	if (data + 1 > data_end)
		return XDP_DROP;
	key = *(__u8 *)data;
	v = bpf_map_lookup_elem(&packets, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&packets, &key, &one, BPF_NOEXIST);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
