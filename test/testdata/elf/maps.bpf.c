// Fixture for test/elf: a tracepoint program with BTF-defined maps, global data in .bss,
// .data and .rodata, a static subprogram (a call relocation) and a global function.
// Compiled twice, little- and big-endian, from this directory:
//   clang-19 -O2 -g -target bpf   -I/usr/include/x86_64-linux-gnu -fdebug-prefix-map=$PWD=. -c maps.bpf.c -o maps.bpf.o
//   clang-19 -O2 -g -target bpfeb -I/usr/include/x86_64-linux-gnu -fdebug-prefix-map=$PWD=. -c maps.bpf.c -o maps.bpfeb.o
// target: bpfeb
#include <linux/bpf.h>

#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value,
                                   __u64 flags) = (void *)BPF_FUNC_map_update_elem;
static __u64 (*bpf_get_current_pid_tgid)(void) = (void *)BPF_FUNC_get_current_pid_tgid;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u32);
  __type(value, __u64);
} counts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 4);
  __type(key, __u32);
  __type(value, __u32);
} config SEC(".maps");

__u64 total_calls;               // .bss
__u32 sample_rate = 7;           // .data
const volatile __u32 min_pid = 100; // .rodata
char LICENSE[] SEC("license") = "GPL";

static __attribute__((noinline)) __u64 bump(__u32 pid) {
  __u64 one = 1, *v = bpf_map_lookup_elem(&counts, &pid);
  if (v) {
    __sync_fetch_and_add(v, 1);
    return *v;
  }
  bpf_map_update_elem(&counts, &pid, &one, BPF_ANY);
  return 1;
}

__attribute__((noinline)) int global_helper(int x) {
  __u32 key = 0, *rate = bpf_map_lookup_elem(&config, &key);
  return rate ? x * (int)*rate : x * (int)sample_rate;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int on_execve(void *ctx) {
  __u32 pid = bpf_get_current_pid_tgid() >> 32;
  if (pid < min_pid)
    return 0;
  total_calls += bump(pid);
  return global_helper(1) > 0;
}

SEC("kprobe/do_unlinkat")
int on_unlink(void *ctx) {
  __u32 pid = bpf_get_current_pid_tgid() >> 32;
  bump(pid);
  return 0;
}
