// Legacy map definitions: `struct bpf_map_def` in the "maps" section (iproute2 and old
// libbpf objects). libbpf 1.0+ refuses them; ebpf-ts still loads them, as cilium/ebpf does.
// Compile (from the repository root: `bash scripts/build-testdata.sh test/testdata/collection`),
// which runs in this directory:
//   clang-19 -O2 -g -target bpf -D__TARGET_ARCH_x86 -fdebug-prefix-map=$PWD=. -I. -I/usr/include/x86_64-linux-gnu -c legacy.bpf.c -o legacy.bpf.o
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 4,
};

struct bpf_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u32),
	.max_entries = 32,
	.map_flags = BPF_F_NO_PREALLOC,
};

SEC("socket")
int legacy_prog(struct __sk_buff *skb)
{
	__u32 k = 1, v = 5;
	__u64 *c = bpf_map_lookup_elem(&legacy_counts, &k);

	if (c)
		__sync_fetch_and_add(c, 1);
	bpf_map_update_elem(&legacy_hash, &k, &v, BPF_ANY);
	return 7;
}

char LICENSE[] SEC("license") = "GPL";
__u32 _version SEC("version") = 0x060000;
