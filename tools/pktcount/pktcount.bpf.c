// pktcount: an XDP program that counts the packets (and bytes) arriving on an interface per
// (source address, source port, destination port), for TCP and UDP over IPv4 and IPv6, in an LRU
// hash so that a flood of flows can't fill it. Sources listed in `excluded` are not counted.
// Every packet passes (XDP_PASS).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define AF_INET 2
#define AF_INET6 10

struct flow_key {
	u8 saddr[16];    /* IPv4: the first 4 bytes */
	u16 sport;       /* host byte order */
	u16 dport;
	u8 family;       /* AF_INET or AF_INET6 */
	u8 protocol;     /* IPPROTO_TCP or IPPROTO_UDP */
	u8 pad[2];
};

struct flow_count {
	u64 packets;
	u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_count);
} flows SEC(".maps");

/* Source addresses not to count, in the layout of flow_key.saddr (IPv4: first 4 bytes). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u8[16]);
	__type(value, u8);
} excluded SEC(".maps");

SEC("xdp")
int pktcount(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct flow_key key = {};
	struct flow_count *count;
	void *l4;
	u16 proto;
	u8 l4proto;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	proto = bpf_ntohs(eth->h_proto);
	l4 = eth + 1;
	if (proto == ETH_P_8021Q || proto == ETH_P_8021AD) {
		struct vlan_hdr { __be16 tci; __be16 proto; } *vlan = l4;

		if ((void *)(vlan + 1) > data_end)
			return XDP_PASS;
		proto = bpf_ntohs(vlan->proto);
		l4 = vlan + 1;
	}
	if (proto == ETH_P_IP) {
		struct iphdr *ip = l4;

		if ((void *)(ip + 1) > data_end || ip->ihl < 5)
			return XDP_PASS;
		/* Only first fragments carry the ports. */
		if (ip->frag_off & bpf_htons(0x1fff))
			return XDP_PASS;
		l4proto = ip->protocol;
		__builtin_memcpy(key.saddr, &ip->saddr, 4);
		key.family = AF_INET;
		l4 = (void *)ip + ip->ihl * 4;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = l4;

		if ((void *)(ip6 + 1) > data_end)
			return XDP_PASS;
		/* Extension headers are not followed: such packets are not counted. */
		l4proto = ip6->nexthdr;
		__builtin_memcpy(key.saddr, &ip6->saddr, 16);
		key.family = AF_INET6;
		l4 = ip6 + 1;
	} else {
		return XDP_PASS;
	}

	if (l4proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) > data_end)
			return XDP_PASS;
		key.sport = bpf_ntohs(tcp->source);
		key.dport = bpf_ntohs(tcp->dest);
	} else if (l4proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > data_end)
			return XDP_PASS;
		key.sport = bpf_ntohs(udp->source);
		key.dport = bpf_ntohs(udp->dest);
	} else {
		return XDP_PASS;
	}
	key.protocol = l4proto;

	if (bpf_map_lookup_elem(&excluded, key.saddr))
		return XDP_PASS;
	count = bpf_map_lookup_elem(&flows, &key);
	if (count) {
		__sync_fetch_and_add(&count->packets, 1);
		__sync_fetch_and_add(&count->bytes, data_end - data);
	} else {
		struct flow_count init = { .packets = 1, .bytes = data_end - data };

		/* Another CPU may have inserted it meanwhile: then add to its entry. */
		if (bpf_map_update_elem(&flows, &key, &init, BPF_NOEXIST)) {
			count = bpf_map_lookup_elem(&flows, &key);
			if (count) {
				__sync_fetch_and_add(&count->packets, 1);
				__sync_fetch_and_add(&count->bytes, data_end - data);
			}
		}
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
