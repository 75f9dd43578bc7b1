// Programs and BTF-typed maps for the CLI tests, which compare `ebpf-ts prog|map|btf ...` with
// bpftool on the same kernel objects. It has what those commands format specially:
//  - BTF line info and func info (source lines and prototypes in `prog dump xlated`),
//  - a bpf-to-bpf call (`call pc+N#bpf_prog_<tag>_<name>`), helper calls, map references
//    (`map[id:N]`) and global data references (`map[id:N][0]+OFF`),
//  - a program name longer than the kernel's 15 characters (bpftool shows the BTF name),
//  - maps whose keys and values are structs, unions, arrays, enums, bitfields, char strings,
//    pointers and bools (the BTF formatting of `map dump` and `map lookup`), a per-CPU map.
// Build (from the repository root): bash scripts/build-testdata.sh test/testdata/cli
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum color { RED = 1, GREEN = 2, BLUE = 4 };

struct point {
	int x;
	int y;
};

union word {
	__u32 value;
	unsigned char bytes[4];
};

struct record {
	__u32 count;
	short delta;
	unsigned char flag : 1;
	unsigned char level : 3;
	char name[8];
	enum color color;
	struct point pts[2];
	union word word;
	__u64 total;
	void *ptr;
	_Bool on;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct point);
	__type(value, struct record);
} records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

__u64 hits = 0;
const volatile __u32 answer = 42;
char greeting[16] = "hello";

static __attribute__((noinline)) int add_one(int x)
{
	return x + 1;
}

SEC("xdp")
int cli_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct point pt = { 1, 2 };
	struct record *r;
	__u32 key = 0;
	__u64 *v;

	if (data + 4 > data_end)
		return XDP_ABORTED;
	hits++;
	v = bpf_map_lookup_elem(&counts, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	v = bpf_map_lookup_elem(&percpu, &key);
	if (v)
		*v += add_one(answer);
	r = bpf_map_lookup_elem(&records, &pt);
	if (r)
		r->count++;
	/* Rewrites the first byte so that data_out differs from data_in. */
	*(unsigned char *)data = 0xab;
	return XDP_PASS;
}

SEC("socket")
int cli_socket_filter_long(struct __sk_buff *skb)
{
	return skb->len + greeting[0];
}

char LICENSE[] SEC("license") = "GPL";
