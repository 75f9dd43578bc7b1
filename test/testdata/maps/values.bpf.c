// Types for the BTF codec tests (btf/codec.ts) and typed maps: every kind of member the codec
// handles (integers of each size, _Bool, char and byte arrays, bitfields signed and unsigned,
// enums, enum64, unions, anonymous members, nested structs and arrays, floats, pointers,
// __int128), maps typed with them, and programs (run with BPF_PROG_TEST_RUN) that store
// known values with C code and check values written by userspace.
// Build: bash scripts/build-testdata.sh test/testdata/maps
// target: bpfeb
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* The ring buffer record of ../shared/anchors (32 bytes). */
struct event {
	__u64 seq;
	__u32 pid;
	__u32 cpu;
	__u8 comm[16];
};

enum color { RED = 0, GREEN = 5, BLUE = -1 };
enum big64 { SMALL = 1, HUGE = 0x100000000ULL };

struct point {
	__s16 x;
	__s16 y;
};

struct kitchen {
	__u8 u8v;
	__s8 s8v;
	__u16 u16v;
	__s32 s32v;
	__u64 u64v;
	__s64 s64v;
	_Bool flag;
	char name[12];
	__u8 raw[4];
	unsigned int a : 3;
	unsigned int b : 5;
	int c : 4;
	_Bool on : 1;
	__u64 wide : 40;
	enum color color;
	enum big64 big;
	union {
		__u32 ip4;
		__u8 ip6[16];
	} addr;
	struct {
		__u16 sport;
		__u16 dport;
	};
	struct point points[3];
	__u32 matrix[2][3];
	int many[10];
	float f;
	double d;
	void *ptr;
	unsigned __int128 u128;
	char names[2][6];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct kitchen);
} kitchens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct event);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} result SEC(".maps");

/* Stores a kitchen with known values at kitchens[0] and an event at events[0]. */
SEC("xdp")
int store(struct xdp_md *ctx)
{
	__u32 k = 0;
	struct kitchen *v = bpf_map_lookup_elem(&kitchens, &k);
	struct event *e = bpf_map_lookup_elem(&events, &k);
	if (!v || !e)
		return XDP_ABORTED;
	v->u8v = 200;
	v->s8v = -100;
	v->u16v = 65000;
	v->s32v = -123456;
	v->u64v = 0xfedcba9876543210ULL;
	v->s64v = -5;
	v->flag = 1;
	__builtin_memcpy(v->name, "kitchen", 8);
	v->raw[0] = 1; v->raw[1] = 2; v->raw[2] = 254; v->raw[3] = 255;
	v->a = 5;
	v->b = 17;
	v->c = -3;
	v->on = 1;
	v->wide = 0xabcdef0123ULL;
	v->color = BLUE;
	v->big = HUGE;
	v->addr.ip4 = 0x0100007f;
	v->sport = 80;
	v->dport = 443;
	v->points[0].x = -1; v->points[0].y = 2;
	v->points[2].x = 300; v->points[2].y = -300;
	v->matrix[0][0] = 1; v->matrix[1][2] = 6;
	v->many[9] = 99;
	__u64 two_and_a_half = 0x4004000000000000ULL; /* 2.5 */
	__builtin_memcpy(&v->d, &two_and_a_half, 8);
	v->ptr = (void *)0xffff888012345678ULL;
	v->u128 = ((unsigned __int128)3 << 64) | 7;
	__builtin_memcpy(v->names[0], "ab", 3);
	__builtin_memcpy(v->names[1], "cdefg", 6);

	e->seq = 0x1122334455667788ULL;
	e->pid = 4242;
	e->cpu = 1;
	__builtin_memcpy(e->comm, "getpid_gen", 11);
	return XDP_PASS;
}

/* Checks the kitchen userspace wrote at kitchens[1]; result[0] gets a bit per wrong field. */
SEC("xdp")
int check(struct xdp_md *ctx)
{
	__u32 k = 1, z = 0;
	struct kitchen *v = bpf_map_lookup_elem(&kitchens, &k);
	__u64 *r = bpf_map_lookup_elem(&result, &z);
	if (!v || !r)
		return XDP_ABORTED;
	__u64 bad = 0;
	if (v->u8v != 7) bad |= 1 << 0;
	if (v->s8v != -7) bad |= 1 << 1;
	if (v->s32v != -70000) bad |= 1 << 2;
	if (v->u64v != 0x8000000000000001ULL) bad |= 1 << 3;
	if (v->flag != 1) bad |= 1 << 4;
	if (v->name[0] != 'h' || v->name[1] != 'i' || v->name[2] != 0 || v->name[11] != 0) bad |= 1 << 5;
	if (v->a != 6 || v->b != 31) bad |= 1 << 6;
	if (v->c != -8) bad |= 1 << 7;
	if (v->on != 1) bad |= 1 << 8;
	if (v->wide != 0xffffffffffULL) bad |= 1 << 9;
	if (v->color != GREEN) bad |= 1 << 10;
	if (v->big != HUGE) bad |= 1 << 11;
	if (v->addr.ip4 != 0x04030201) bad |= 1 << 12;
	if (v->sport != 1 || v->dport != 2) bad |= 1 << 13;
	if (v->points[1].x != -9 || v->points[1].y != 9) bad |= 1 << 14;
	if (v->matrix[1][0] != 10) bad |= 1 << 15;
	__u64 dbits;
	__builtin_memcpy(&dbits, &v->d, 8); /* BPF has no floating point: compare the bits of 0.25 */
	if (dbits != 0x3fd0000000000000ULL) bad |= 1 << 16;
	if (v->u128 != (((unsigned __int128)1 << 100) | 1)) bad |= 1 << 17;
	if (v->s64v != 0 || v->u16v != 0) bad |= 1 << 18; /* left out: zero */
	if (v->names[1][0] != 'x' || v->names[0][0] != 0) bad |= 1 << 19;
	*r = bad;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
