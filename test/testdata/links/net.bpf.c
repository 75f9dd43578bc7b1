// Networking programs for the links tests. Each counts the IPv4 UDP packets to `port` (set by
// the test in .bss) that it sees, so unrelated traffic (ARP, IPv6 neighbour discovery, other
// tests) doesn't change the counts; the *_drop variants also drop them.
// Compile (from the repository root): bash scripts/build-testdata.sh test/testdata/links
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800
#define IPPROTO_UDP_ 17
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

__u16 port;
__u64 xdp_seen, tc_seen, cg_egress_seen, connect_denied, connect_allowed, lookups, filtered_out;

/* A UDP packet to `port` in [data, end) starting with an Ethernet header? */
static __always_inline int udp_to_port_eth(void *data, void *end)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP_ || ip->ihl != 5)
		return 0;
	struct udphdr *udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end)
		return 0;
	return udp->dest == bpf_htons(port);
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	if (udp_to_port_eth((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		__sync_fetch_and_add(&xdp_seen, 1);
	return XDP_PASS;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	if (udp_to_port_eth((void *)(long)ctx->data, (void *)(long)ctx->data_end)) {
		__sync_fetch_and_add(&xdp_seen, 1);
		return XDP_DROP;
	}
	return XDP_PASS;
}

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	if (udp_to_port_eth((void *)(long)skb->data, (void *)(long)skb->data_end))
		__sync_fetch_and_add(&tc_seen, 1);
	return TC_ACT_OK;
}

SEC("tc")
int tc_drop(struct __sk_buff *skb)
{
	if (udp_to_port_eth((void *)(long)skb->data, (void *)(long)skb->data_end)) {
		__sync_fetch_and_add(&tc_seen, 1);
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

/* cgroup skb programs see the packet from its IP header. */
SEC("cgroup_skb/egress")
int cg_egress(struct __sk_buff *skb)
{
	struct iphdr ip;
	struct udphdr udp;

	if (skb->protocol != bpf_htons(ETH_P_IP) || bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.protocol != IPPROTO_UDP_)
		return 1;
	if (bpf_skb_load_bytes(skb, ip.ihl * 4, &udp, sizeof(udp)) == 0 && udp.dest == bpf_htons(port))
		__sync_fetch_and_add(&cg_egress_seen, 1);
	return 1;
}

/* connect() to `port` is refused (EPERM) for processes in the cgroup. */
SEC("cgroup/connect4")
int cg_connect4(struct bpf_sock_addr *ctx)
{
	if (ctx->user_port == bpf_htons(port)) {
		__sync_fetch_and_add(&connect_denied, 1);
		return 0;
	}
	__sync_fetch_and_add(&connect_allowed, 1);
	return 1;
}

/* A socket filter on a UDP socket: the packet starts at the UDP header; datagrams whose
 * payload starts with 'D' are dropped (0), others kept whole. */
SEC("socket")
int drop_d(struct __sk_buff *skb)
{
	char c;

	if (bpf_skb_load_bytes(skb, 8, &c, 1) == 0 && c == 'D') {
		__sync_fetch_and_add(&filtered_out, 1);
		return 0;
	}
	return skb->len;
}

SEC("sk_lookup")
int count_lookup(struct bpf_sk_lookup *ctx)
{
	if (ctx->protocol == IPPROTO_UDP_ && ctx->local_port == port)
		__sync_fetch_and_add(&lookups, 1);
	return SK_PASS;
}

__u64 msgs_seen;

/* On a sockmap: runs for every sendmsg on the sockets in the map. */
SEC("sk_msg")
int msg_count(struct sk_msg_md *msg)
{
	__sync_fetch_and_add(&msgs_seen, 1);
	return SK_PASS;
}
