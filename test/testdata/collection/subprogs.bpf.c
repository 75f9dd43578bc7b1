// Several programs, several programs per section, and BPF-to-BPF calls: static and global
// subprograms in .text, a chain of calls (entry -> mix -> square), one subprogram (mix) shared
// by three programs, and a callback passed to bpf_loop (an ld_imm64 of a function address).
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/collection`),
// which runs in this directory:
//   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -I. -I/usr/include/x86_64-linux-gnu -c subprogs.bpf.c -o subprogs.bpf.o
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static long (*bpf_loop_)(__u32 nr_loops, void *callback_fn, void *callback_ctx, __u64 flags) = (void *)181;

static __noinline __u32 square(__u32 x)
{
	return x * x;
}

/* Global: verified on its own, called through a relocation against its symbol. */
__noinline __u32 mix(__u32 a, __u32 b)
{
	return square(a) + 3 * b + 1;
}

static __noinline __u32 first_byte(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (data + 1 > data_end)
		return 0;
	return *(__u8 *)data;
}

struct loop_ctx {
	__u32 sum;
};

static long add_index(__u32 index, void *arg)
{
	struct loop_ctx *c = arg;

	c->sum += index;
	return 0;
}

/* XDP_PASS (2) when mix(first byte, 5) is odd, else XDP_DROP (1). */
SEC("xdp")
int xdp_mix(struct xdp_md *ctx)
{
	__u32 v = mix(first_byte(ctx), 5);

	return (v & 1) ? XDP_PASS : XDP_DROP;
}

/* A second program in the same section: returns square(first byte) % 4 (0..3, all XDP codes). */
SEC("xdp")
int xdp_square(struct xdp_md *ctx)
{
	return square(first_byte(ctx)) % 4;
}

/* Socket filter returning mix(len, 2): the subprogram shared with the XDP program. */
SEC("socket")
int sock_mix(struct __sk_buff *skb)
{
	return mix(skb->len, 2);
}

/* tc classifier: sum of 0..len-1 via bpf_loop and a callback, plus mix(1, 1). */
SEC("tc")
int tc_loop(struct __sk_buff *skb)
{
	struct loop_ctx c = { .sum = 0 };

	bpf_loop_(skb->len & 63, add_index, &c, 0);
	return c.sum + mix(1, 1);
}

char LICENSE[] SEC("license") = "GPL";
