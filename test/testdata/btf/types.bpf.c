// Exercises every BTF kind clang emits: VAR/DATASEC, DECL_TAG, TYPE_TAG, ENUM64, signed enums,
// FLOAT, bitfields (kind_flag members), anonymous members, forward-declared struct and union,
// static/global functions, multi-dimensional arrays, qualifiers.
//
// Compile: `bash scripts/build-testdata.sh test/testdata/btf` from the repository root, which runs
// (in this directory) for each target:
//   clang-19 -O2 -g -target bpf   -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -c types.bpf.c -o types.bpf.o
//   clang-19 -O2 -g -target bpfeb -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -c types.bpf.c -o types.bpfeb.o
// target: bpfeb
#define SEC(name) __attribute__((section(name), used))
#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __user __attribute__((btf_type_tag("user")))
#define __rcu __attribute__((btf_type_tag("rcu")))

typedef unsigned int u32;
typedef unsigned long long u64;
typedef u32 u32_alias;

enum small { SMALL_A = 1, SMALL_B = 2 };
enum neg { NEG_A = -1, NEG_B = 5 };
enum big64 { BIG_A = 0x100000000ULL, BIG_B = 0xffffffffffffffffULL };
enum sbig64 { SBIG_A = -0x100000000LL, SBIG_B = 1 };
enum tiny { TINY_A = 1 } __attribute__((packed));

union fwd_union;
struct fwd_struct;

struct bits {
	unsigned int a : 3;
	unsigned int b : 5;
	int c : 7;
	unsigned long long d : 40;
	char e;
	union {
		int u1;
		float u2;
	};
	struct {
		short s1, s2;
	} nested;
	_Bool flag;
} __tag("struct_tag");

struct holder {
	struct bits b;
	int __user *uptr;
	int __rcu __user *uptr2;
	union fwd_union *fu;
	struct fwd_struct *fs;
	float f;
	double d;
	enum small sm;
	enum neg ng;
	enum big64 bg;
	enum sbig64 sbg;
	enum tiny tn;
	int arr[4][3];
	const volatile int cv;
	int *restrict rp;
	u32_alias alias;
	int field __tag("member_tag");
	void (*callback)(int, ...);
	char tail[];
};

struct holder global_holder;
int data_var = 5;
const volatile int rodata_var = 7;
static int static_var;
float float_var = 1.5f;
__attribute__((visibility("hidden"))) int hidden_var = 3;
u64 big_array[8] SEC(".data.custom");

__attribute__((noinline)) static int static_fn(struct holder *h, int x)
{
	return h->b.c + x + static_var++;
}

__attribute__((noinline)) __tag("func_tag") int global_fn(struct holder *h __tag("param_tag"), u64 y)
{
	return h->field + (int)y + static_fn(h, 1);
}

SEC("tp/syscalls/sys_enter_getpid")
int prog(void *ctx)
{
	struct holder *h = &global_holder;
	big_array[1] = (u64)h->uptr + (u64)h->uptr2 + (u64)h->fu + (u64)h->fs + (u64)h->rp + h->bg + h->sbg;
	return global_fn(h, data_var) + hidden_var + rodata_var + (int)(u64)&float_var + (int)(u64)&h->f + (int)(u64)&h->d + h->sm + h->ng + h->tn +
	       h->arr[1][2] + h->cv + h->alias + h->b.a + h->b.b + (int)h->b.d + h->b.u1 + h->b.nested.s2 + h->b.flag +
	       (h->callback ? 1 : 0) + h->tail[0];
}

char LICENSE[] SEC("license") = "GPL";
