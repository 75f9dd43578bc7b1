// Names for bpf2ts's tests: C names that collide once camelCased (maps, programs, variables,
// custom sections), types named like what the generated module declares, a struct used only
// by a local variable (not in BTF), typedef'd anonymous structs, unions, enums, bitfields,
// nested and anonymous members, arrays, a per-CPU map.
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/bpf2ts`).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Named like the generated NamingObjects interface, and like a global the module uses. */
struct naming_objects {
	__u32 a;
};
struct Array {
	__u64 b;
};

enum color { RED = 1, GREEN = 2, BLUE = 4 };

typedef struct {
	__u16 port;
	__u8 proto;
} flow_t;

struct record {
	__u32 pid;
	char comm[16];
	__u8 raw[4];
	__s16 temps[3];
	enum color color;
	flow_t flow;
	union {
		__u32 as_u32;
		__u8 as_bytes[4];
	};
	struct {
		__u8 inner_flag;
	} nested;
	__u32 low : 4, high : 12;
	_Bool ok;
	void *ptr;
};

struct only_local {
	__u64 x;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct record);
} foo_bar SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct naming_objects);
} fooBar SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct Array);
} per_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, flow_t);
	__type(value, enum color);
} flows SEC(".maps");

const volatile __u32 max_count = 10;
const volatile __u32 maxCount = 20;
__u64 hits_total = 0;
__u64 class = 0;
__u32 custom_a SEC(".data.my_sec") = 1;
__u32 custom_b SEC(".data.mySec") = 2;

static __always_inline int touch(void)
{
	struct only_local l = { .x = max_count + maxCount + custom_a + custom_b };
	__u32 k = 0;
	struct Array *v = bpf_map_lookup_elem(&per_cpu, &k);

	if (v)
		v->b += l.x;
	__sync_fetch_and_add(&hits_total, 1);
	__sync_fetch_and_add(&class, 1);
	return bpf_map_lookup_elem(&foo_bar, &k) != 0 || bpf_map_lookup_elem(&fooBar, &k) != 0 ||
	       bpf_map_lookup_elem(&flows, &k) != 0;
}

SEC("xdp")
int handle_x(struct xdp_md *ctx)
{
	return touch() ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int handleX(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
