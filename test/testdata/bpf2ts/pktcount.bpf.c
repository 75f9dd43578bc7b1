// The XDP packet counter of the tutorials, for bpf2ts's tests: packets and bytes per source
// MAC address (the 6 bytes as a u64 key, in an LRU hash), and every packet passed on.
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/bpf2ts`).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct counter {
	u64 packets;
	u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, u64);
	__type(value, struct counter);
} packets_by_mac SEC(".maps");

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct counter *c, fresh = {};
	u64 mac = 0;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	__builtin_memcpy(&mac, eth->h_source, 6);
	c = bpf_map_lookup_elem(&packets_by_mac, &mac);
	if (!c) {
		bpf_map_update_elem(&packets_by_mac, &mac, &fresh, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&packets_by_mac, &mac);
		if (!c)
			return XDP_PASS;
	}
	__sync_fetch_and_add(&c->packets, 1);
	__sync_fetch_and_add(&c->bytes, data_end - data);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
