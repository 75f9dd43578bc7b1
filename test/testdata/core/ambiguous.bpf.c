// clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -I. -I/usr/include/x86_64-linux-gnu -c ambiguous.bpf.c -o ambiguous.bpf.o
//
// The kernel has two candidates for struct nf_conn (nf_conn and nf_conn___init) that both
// satisfy a TYPE_ID_TARGET relocation with different ids: libbpf refuses the object
// ("relocation decision ambiguity"), and so must the engine.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

__u64 out[4];

/* Local types only (no vmlinux.h, the object stays small): any struct is TYPE_ID-compatible. */
struct nf_conn {
	int status;
};

SEC("kprobe/do_nanosleep")
int ambiguous(void *ctx)
{
	out[0] = bpf_core_type_id_kernel(struct nf_conn);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
