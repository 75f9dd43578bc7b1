// bpf2ts: --perf events=event
// opensnoop: file opens, from the openat/openat2 syscall tracepoints (and, where the kernel has
// kprobes, a kprobe on do_sys_openat2 that the tool can choose instead), sent through a perf buffer.
// Entry stores the arguments per thread; exit adds the result and emits the event.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define NAME_MAX 255
/* -F: how many components of the working directory are read, and how long each may be. */
#define CWD_DEPTH 16
#define CWD_PART 64

/* Set by the tool before load. 0 / (u32)-1: no filter. */
const volatile pid_t target_tgid = 0;
const volatile pid_t target_pid = 0;
const volatile u32 target_uid = (u32)-1;
const volatile bool target_failed = false;
/* -F: with a relative file name, also send the opener's working directory. */
const volatile bool full_path = false;

struct args_t {
	const char *fname;
	int flags;
	u32 mode;
};

struct event {
	u64 ts;          /* bpf_ktime_get_ns() at exit */
	u32 pid;         /* tgid */
	u32 tid;
	u32 uid;
	s32 ret;         /* fd or -errno */
	s32 flags;
	u32 mode;
	char comm[16];
	char fname[NAME_MAX];
	/* -F and a relative fname: the working directory's components, innermost first. cwd_depth
	 * is how many were read; CWD_DEPTH + 1 means there were more. The event is sent without
	 * this part otherwise. */
	u32 cwd_depth;
	char cwd[CWD_DEPTH][CWD_PART];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, struct args_t);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

/* Per-CPU scratch for the event: 300 bytes is too much for comfort on the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct event);
} heap SEC(".maps");

struct event *unused_event __attribute__((unused));

static __always_inline bool trace_allowed(u32 tgid, u32 pid)
{
	if (target_tgid && target_tgid != tgid)
		return false;
	if (target_pid && target_pid != pid)
		return false;
	if (target_uid != (u32)-1 && target_uid != (u32)bpf_get_current_uid_gid())
		return false;
	return true;
}

static __always_inline int enter(const char *fname, int flags, u32 mode)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tgid = id >> 32, pid = (u32)id;
	struct args_t args = { .fname = fname, .flags = flags, .mode = mode };

	if (!trace_allowed(tgid, pid))
		return 0;
	bpf_map_update_elem(&start, &pid, &args, BPF_ANY);
	return 0;
}

/*
 * The current task's working directory, read where the task is: walking up from fs->pwd, and
 * across mount points to the mount's parent, as d_path() does. Done in the program because
 * the opener may be gone by the time user space sees the event.
 */
static __always_inline void read_cwd(struct event *event)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct dentry *dentry = BPF_CORE_READ(task, fs, pwd.dentry);
	struct vfsmount *vfsmnt = BPF_CORE_READ(task, fs, pwd.mnt);
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
	int i;

	/* The count lives in the event (map memory), not in a register: the verifier then sees an
	 * unknown bounded value and prunes the loop's paths instead of following each count. */
	event->cwd_depth = 0;
	for (i = 0; i < CWD_DEPTH * 2; i++) {
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		u32 depth;

		if (dentry == BPF_CORE_READ(mnt, mnt.mnt_root) || dentry == parent) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

			if (mnt == mnt_parent)
				break; /* the root of it all */
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			continue;
		}
		depth = event->cwd_depth;
		if (depth >= CWD_DEPTH) {
			event->cwd_depth = CWD_DEPTH + 1;
			break;
		}
		bpf_probe_read_kernel_str(event->cwd[depth & (CWD_DEPTH - 1)], CWD_PART, BPF_CORE_READ(dentry, d_name.name));
		event->cwd_depth = depth + 1;
		dentry = parent;
	}
}

static __always_inline int exit(void *ctx, long ret)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 pid = (u32)id, zero = 0;
	struct args_t *ap;
	struct event *event;

	ap = bpf_map_lookup_elem(&start, &pid);
	if (!ap)
		return 0;
	if (target_failed && ret >= 0)
		goto cleanup;
	event = bpf_map_lookup_elem(&heap, &zero);
	if (!event)
		goto cleanup;
	event->ts = bpf_ktime_get_ns();
	event->pid = id >> 32;
	event->tid = pid;
	event->uid = (u32)bpf_get_current_uid_gid();
	event->ret = ret;
	event->flags = ap->flags;
	event->mode = ap->mode;
	bpf_get_current_comm(&event->comm, sizeof(event->comm));
	if (bpf_probe_read_user_str(&event->fname, sizeof(event->fname), ap->fname) < 0)
		event->fname[0] = '\0';
	if (full_path && event->fname[0] != '/') {
		read_cwd(event);
		bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, event, sizeof(*event));
	} else {
		event->cwd_depth = 0;
		bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, event, offsetof(struct event, cwd));
	}
cleanup:
	bpf_map_delete_elem(&start, &pid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tracepoint__syscalls__sys_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)ctx->args[1], (int)ctx->args[2], (u32)ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int tracepoint__syscalls__sys_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int tracepoint__syscalls__sys_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return enter((const char *)ctx->args[1], (int)how.flags, (u32)how.mode);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int tracepoint__syscalls__sys_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return exit(ctx, ctx->ret);
}

/* The kprobe pair the tool uses instead of the four tracepoints where the kernel has kprobes:
 * do_sys_openat2 serves open, openat and openat2 alike. Not loaded by default. */
SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(kprobe_do_sys_openat2, int dfd, const char *filename, struct open_how *how)
{
	return enter(filename, (int)BPF_CORE_READ(how, flags), (u32)BPF_CORE_READ(how, mode));
}

SEC("kretprobe/do_sys_openat2")
int BPF_KRETPROBE(kretprobe_do_sys_openat2, long ret)
{
	return exit(ctx, ret);
}

char LICENSE[] SEC("license") = "GPL";
