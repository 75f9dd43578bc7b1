// Global data: .data, .rodata, .bss, custom .data.*/.rodata.* sections, static and hidden
// variables, a string literal (.rodata.str1.1), structs and arrays. A syscall program copies
// the .rodata constants (set by the test before load) into .bss, which the test then reads
// through mmap; a socket filter returns a .rodata constant plus a .data counter it bumps.
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/collection`),
// which runs in this directory:
//   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -I. -I/usr/include/x86_64-linux-gnu -c globals.bpf.c -o globals.bpf.o
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct settings {
	__u32 mode;
	__s16 bias;
	__u8 flags[2];
	__u64 limit;
};

/* .rodata: typed constants the loader may change before load. */
const volatile __u32 magic = 0x1234;
const volatile __s64 offset = -5;
const volatile struct settings cfg = { .mode = 1, .bias = -2, .flags = { 3, 4 }, .limit = 1000 };
const volatile char label[8] = "default";
const volatile _Bool enabled = 1;

/* .data */
__u64 counter = 100;
__u32 table[4] = { 1, 2, 3, 4 };

/* .bss */
__u64 out_magic;
__s64 out_offset;
__u64 out_sum;
__u32 out_mode;
__s32 out_bias;
__u64 out_limit;
char out_label[8];
__u32 out_str;
__u64 out_custom;

/* static and hidden variables: in the sections, but not exposed like the others. */
static __u32 hidden_static = 9;
__hidden __u32 hidden_global = 11;

/* custom sections: their own maps, named after the section. */
__u64 custom_data SEC(".data.custom") = 77;
const volatile __u32 custom_ro SEC(".rodata.custom") = 88;

SEC("syscall")
int copy_consts(void *ctx)
{
	const char *s = "xyz"; /* a string literal in .rodata.str1.1 */
	int i;

	out_magic = magic;
	out_offset = offset;
	out_mode = cfg.mode;
	out_bias = cfg.bias;
	out_limit = cfg.limit;
	for (i = 0; i < 8; i++)
		out_label[i] = label[i];
	out_sum = 0;
	for (i = 0; i < 4; i++)
		out_sum += table[i];
	out_sum += hidden_static + hidden_global + cfg.flags[0] + cfg.flags[1];
	out_str = s[0] + s[1] + s[2];
	out_custom = custom_data + custom_ro;
	return enabled ? 1 : 0;
}

SEC("socket")
int sock_counter(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&counter, 1);
	return magic + 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
