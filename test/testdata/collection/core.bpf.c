// A CO-RE relocation (a field offset of a kernel struct, preserve_access_index): loading needs
// the relocation applied against the kernel's BTF.
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/collection`),
// which runs in this directory:
//   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -I. -I/usr/include/x86_64-linux-gnu -c core.bpf.c -o core.bpf.o
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct task_struct {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

__s32 out_pid;

SEC("tp_btf/sched_switch")
int core_switch(__u64 *ctx)
{
	struct task_struct *next = (void *)ctx[2];

	out_pid = next->pid;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
