// .kconfig externs: LINUX_KERNEL_VERSION, an int (CONFIG_HZ), a bool (CONFIG_BPF_SYSCALL), a
// tristate (CONFIG_BPF_LSM, through enum libbpf_tristate), a string (CONFIG_DEFAULT_HOSTNAME),
// and weak externs the kernel config lacks (which read as 0). A syscall program copies them
// all into .bss.
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/collection`),
// which runs in this directory:
//   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -I. -I/usr/include/x86_64-linux-gnu -c kconfig.bpf.c -o kconfig.bpf.o
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern __u32 LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig;
extern _Bool CONFIG_BPF_SYSCALL __kconfig;
extern enum libbpf_tristate CONFIG_BPF_LSM __kconfig;
extern char CONFIG_DEFAULT_HOSTNAME[16] __kconfig;
extern int CONFIG_EBPF_TS_DOES_NOT_EXIST __kconfig __weak;
extern _Bool CONFIG_EBPF_TS_MISSING_BOOL __kconfig __weak;

__u32 out_version;
__s32 out_hz;
__u32 out_syscall;
__u32 out_lsm;
char out_hostname[16];
__s32 out_missing;
__u32 out_missing_bool;

SEC("syscall")
int read_kconfig(void *ctx)
{
	int i;

	out_version = LINUX_KERNEL_VERSION;
	out_hz = CONFIG_HZ;
	out_syscall = CONFIG_BPF_SYSCALL;
	out_lsm = CONFIG_BPF_LSM;
	for (i = 0; i < 16; i++)
		out_hostname[i] = CONFIG_DEFAULT_HOSTNAME[i];
	out_missing = CONFIG_EBPF_TS_DOES_NOT_EXIST;
	out_missing_bool = CONFIG_EBPF_TS_MISSING_BOOL;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
