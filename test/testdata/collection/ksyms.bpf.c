// .ksyms externs: an untyped ksym (address from /proc/kallsyms), typed kfuncs (BTF ids of
// kernel functions, called as BPF_PSEUDO_KFUNC_CALL), and a weak typed ksym the kernel lacks
// (which resolves to 0, so bpf_ksym_exists() is false).
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/collection`),
// which runs in this directory:
//   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -I. -I/usr/include/x86_64-linux-gnu -c ksyms.bpf.c -o ksyms.bpf.o
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Not in the 6.1 uapi headers this is compiled against. */
struct bpf_iter_num {
	__u64 __opaque[1];
} __attribute__((aligned(8)));

extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;

extern const void schedule __ksym;                      /* untyped: a kallsyms address */
extern const int ebpf_ts_no_such_var __ksym __weak;     /* typed, weak, missing */

__u64 out_schedule;
__u64 out_missing;
__s32 out_sum;

SEC("syscall")
int use_ksyms(void *ctx)
{
	struct bpf_iter_num it;
	int *v, sum = 0;

	out_schedule = (__u64)&schedule;
	out_missing = (__u64)&ebpf_ts_no_such_var;
	bpf_iter_num_new(&it, 0, 5);
	while ((v = bpf_iter_num_next(&it)))
		sum += *v;
	bpf_iter_num_destroy(&it);
	out_sum = sum;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
