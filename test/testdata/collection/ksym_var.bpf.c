// A typed ksym variable: the per-CPU kernel variable bpf_prog_active, through
// bpf_this_cpu_ptr (an ld_imm64 BPF_PSEUDO_BTF_ID of its BTF VAR). The verifier also needs the
// variable's address from kallsyms, which a kernel built without CONFIG_KALLSYMS_ALL lacks.
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/collection`),
// which runs in this directory:
//   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -I. -I/usr/include/x86_64-linux-gnu -c ksym_var.bpf.c -o ksym_var.bpf.o
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern const int bpf_prog_active __ksym;

__s32 out_active;

SEC("syscall")
int read_active(void *ctx)
{
	const int *p = bpf_this_cpu_ptr(&bpf_prog_active);

	out_active = *p;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
