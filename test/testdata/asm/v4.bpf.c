// Test program for src/asm: cpu v4 instructions: signed division and modulo, sign-extending
// loads and moves, unconditional byte swaps. Compiled with (from this directory):
//   clang-19 -O2 -g -target bpf -mcpu=v4 -c v4.bpf.c -o v4.bpf.o
// cflags: -mcpu=v4
#include "common.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} out SEC(".maps");

struct sample {
	__s8 a;
	__s16 b;
	__s32 c;
	__s64 d;
	__u64 e;
	__u32 f;
};

struct sample in;

static __noinline __s64 sdiv(__s64 x, __s64 y)
{
	return x / y + x % y;
}

static __noinline __s64 smod(__s64 x, __s64 y)
{
	return x % y;
}

static __noinline __s32 smod32(__s32 x)
{
	return x % -13;
}

static __noinline __s32 sdiv32(__s32 x, __s32 y)
{
	return x / y - x % y + x / -7;
}

SEC("xdp")
int xdp_v4(struct xdp_md *ctx)
{
	__u32 key = 0;
	__s64 *o = bpf_map_lookup_elem(&out, &key);
	volatile __s64 t;
	__s64 v;

	if (!o)
		return XDP_PASS;
	v = in.a + in.b + in.c;          /* ldsx */
	v += sdiv(in.d, in.c | 1);
	v += sdiv32(in.c, in.b | 1);
	v += smod(in.d, in.c | 1) + smod32(in.c);
	t = (__s8)in.e;                  /* movsx */
	v += t;
	t = (__s16)in.f;
	v += t;
	t = (__s32)in.e;
	v += t;
	v ^= __builtin_bswap64(in.e);    /* bswap64 */
	v ^= __builtin_bswap32(in.f);    /* bswap32 */
	v ^= __builtin_bswap16((__u16)in.f); /* bswap16 */
	*o = v;
	return XDP_PASS;
}
