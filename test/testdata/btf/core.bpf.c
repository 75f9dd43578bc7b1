// CO-RE relocations of every kind, plus func_info/line_info, in .BTF.ext.
//
// Compile: `bash scripts/build-testdata.sh test/testdata/btf` from the repository root, which runs
// (in this directory):
//   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -c core.bpf.c -o core.bpf.o
#define SEC(name) __attribute__((section(name), used))

struct task {
	int pid;
	int tgid;
	struct {
		long x;
		long y;
	} anon;
	unsigned int flags : 4;
	int sflags : 3;
	char comm[16];
	struct task *parent;
} __attribute__((preserve_access_index));

enum state { RUNNING = 0, STOPPED = 1 };
typedef int pid_alias;

__attribute__((noinline)) static int sub(struct task *t)
{
	return t->parent->tgid;
}

SEC("tp/sched/sched_switch")
int core_prog(struct task *t)
{
	int r = t->pid;                                         /* FIELD_BYTE_OFFSET */
	r += t->anon.y;                                         /* nested FIELD_BYTE_OFFSET */
	r += t->comm[3];                                        /* array access */
	r += __builtin_preserve_field_info(t->flags, 1);        /* FIELD_BYTE_SIZE */
	r += __builtin_preserve_field_info(t->flags, 2);        /* FIELD_EXISTS */
	r += __builtin_preserve_field_info(t->sflags, 3);       /* FIELD_SIGNED */
	r += __builtin_preserve_field_info(t->flags, 4);        /* FIELD_LSHIFT_U64 */
	r += __builtin_preserve_field_info(t->flags, 5);        /* FIELD_RSHIFT_U64 */
	r += __builtin_btf_type_id(*t, 0);                      /* TYPE_ID_LOCAL */
	r += __builtin_btf_type_id(*t, 1);                      /* TYPE_ID_TARGET */
	r += __builtin_preserve_type_info(*t, 0);               /* TYPE_EXISTS */
	r += __builtin_preserve_type_info(*t, 1);               /* TYPE_SIZE */
	r += __builtin_preserve_type_info(*(pid_alias *)0, 2);  /* TYPE_MATCHES */
	r += __builtin_preserve_enum_value(*(enum state *)STOPPED, 0); /* ENUMVAL_EXISTS */
	r += __builtin_preserve_enum_value(*(enum state *)STOPPED, 1); /* ENUMVAL_VALUE */
	return r + sub(t);
}

SEC("xdp")
int second_prog(struct task *t)
{
	return t->tgid;
}

char LICENSE[] SEC("license") = "GPL";
