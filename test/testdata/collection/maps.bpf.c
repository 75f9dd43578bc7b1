// Every BTF map definition style: key/value types, key_size/value_size without types, flags,
// numa_node, map_extra (bloom filter hash count), PERF_EVENT_ARRAY without max_entries
// (sized by the possible CPUs at load), ring buffer, per-CPU and LRU maps, LPM trie, queue,
// map-in-map (array and hash of maps) with inner map definitions and initial values, and a
// prog array with initial values used for a tail call.
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/collection`),
// which runs in this directory:
//   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -I. -I/usr/include/x86_64-linux-gnu -c maps.bpf.c -o maps.bpf.o
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct value {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct value);
} typed_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__uint(key_size, 4);
	__uint(value_size, 16);
	__uint(numa_node, 0);
} sized_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u32);
} lru SEC(".maps");

struct lpm_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 16);
	__type(value, __u32);
} queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 32);
	__type(value, __u32);
	__uint(map_extra, 3);
} bloom SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ring SEC(".maps");

/* Inner maps referenced by the outer maps' initial values. */
struct inner_array {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};
struct inner_array inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_array);
} outer_array SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_HASH);
		__uint(max_entries, 2);
		__type(key, __u32);
		__type(value, __u64);
	});
} outer_hash SEC(".maps");

int tail_target(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__array(values, int(struct xdp_md *));
} jump SEC(".maps") = {
	.values = { [1] = (void *)&tail_target },
};

/* Jumps through the prog array to tail_target, which returns XDP_TX (3); 1 (XDP_DROP) if the
 * tail call fails. Touches the other maps so that they are all referenced. */
SEC("xdp")
int tail_entry(struct xdp_md *ctx)
{
	__u32 k = 0, *inner, one = 1;
	struct value *v;
	void *m;

	v = bpf_map_lookup_elem(&typed_hash, &k);
	if (v)
		v->packets++;
	m = bpf_map_lookup_elem(&outer_array, &k);
	if (m) {
		inner = bpf_map_lookup_elem(m, &k);
		if (inner)
			*inner += 1;
	}
	bpf_map_push_elem(&queue, &one, 0);
	bpf_tail_call(ctx, &jump, 1);
	return XDP_DROP;
}

SEC("xdp")
int tail_target(struct xdp_md *ctx)
{
	return XDP_TX;
}

SEC("socket")
int touch_all(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 key64 = 1;
	struct lpm_key lk = { 32, 0 };

	bpf_map_lookup_elem(&sized_array, &k);
	bpf_map_lookup_elem(&percpu, &k);
	bpf_map_lookup_elem(&lru, &key64);
	bpf_map_lookup_elem(&lpm, &lk);
	bpf_map_lookup_elem(&outer_hash, &k);
	bpf_map_peek_elem(&bloom, &k);
	bpf_ringbuf_output(&ring, &k, sizeof(k), 0);
	bpf_perf_event_output(skb, &events, BPF_F_CURRENT_CPU, &k, sizeof(k));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
