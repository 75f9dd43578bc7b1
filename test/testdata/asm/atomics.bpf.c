// Test program for src/asm: atomics (add/or/and/xor, fetch forms, xchg, cmpxchg), 32-bit ALU,
// 32-bit jumps, ring buffer helpers. Compiled with (from this directory):
//   clang-19 -O2 -g -target bpf -mcpu=v3 -c atomics.bpf.c -o atomics.bpf.o
// cflags: -mcpu=v3
#include "common.h"

char LICENSE[] SEC("license") = "GPL";

struct counters {
	__u64 hits;
	__u64 flags;
	__u32 small;
	__u32 mask;
	__u64 last;
	__u64 owner;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} ctrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct event {
	__u32 pid;
	__u32 old;
	__u64 prev;
};

__u32 seen32 = 0;
__u64 seen64 = 0;

static __noinline __u32 scale(__u32 v, __u32 by)
{
	__u32 r = v * by;
	r /= (by | 1);
	r %= 1000;
	r <<= 3;
	r ^= v >> 5;
	r = -r;
	return r + (v & 0x7fff) - (by | 16);
}

SEC("xdp")
int xdp_atomics(struct xdp_md *ctx)
{
	__u32 key = 0, len = ctx->data_end - ctx->data;
	struct counters *c = bpf_map_lookup_elem(&ctrs, &key);
	struct event *e;
	__u64 prev;
	__u32 old;

	if (!c)
		return XDP_PASS;
	__sync_fetch_and_add(&c->hits, 1);
	__sync_fetch_and_or(&c->flags, 4);
	__sync_fetch_and_and(&c->small, 0xf0);
	__sync_fetch_and_xor(&c->mask, len);
	prev = __sync_fetch_and_add(&c->last, len);
	old = __sync_fetch_and_or(&c->small, 1);
	old += __sync_fetch_and_xor(&seen32, old);
	old += __sync_fetch_and_and(&c->mask, 0x7);
	prev += __sync_lock_test_and_set(&seen64, prev);
	prev += __sync_val_compare_and_swap(&c->owner, 0, prev);
	old += __sync_val_compare_and_swap(&seen32, 5, old);
	if ((int)len < 64 || len > 9000)
		return XDP_DROP;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return XDP_PASS;
	e->pid = scale(len, old);
	e->old = old;
	e->prev = prev;
	bpf_ringbuf_submit(e, 0);
	return (int)(old & 1) + 1;
}
