// A map pinned by name (LIBBPF_PIN_BY_NAME): created and pinned at <pin path>/<name> on the
// first load, reused by later loads when compatible, refused when not.
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/collection`),
// which runs in this directory:
//   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -I. -I/usr/include/x86_64-linux-gnu -c pinning.bpf.c -o pinning.bpf.o
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ebpf_ts_pinned SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} not_pinned SEC(".maps");

/* Adds 1 to ebpf_ts_pinned[0] and to not_pinned[0]; returns the new pinned count. */
SEC("socket")
int bump_pinned(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 *a = bpf_map_lookup_elem(&ebpf_ts_pinned, &k), *b = bpf_map_lookup_elem(&not_pinned, &k);

	if (!a || !b)
		return 0;
	*b += 1;
	return __sync_add_and_fetch(a, 1);
}

char LICENSE[] SEC("license") = "GPL";
