// BTF of `struct anchor_event`, the record of ../shared/anchors (bpf/common.h; keep in sync):
// the anchors' objects reach it only through a void pointer, so their BTF lacks it. bench/
// (api=decoded) builds its BTF codec from this object's BTF. The map only makes clang emit the type.
// Compile (from the repository root): bash scripts/build-testdata.sh test/testdata/readers
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct anchor_event {
	__u64 seq;      /* stats[STAT_SEQ] at emission time (per-object counter) */
	__u32 pid;      /* tgid of the current task (0 if unavailable) */
	__u32 cpu;      /* bpf_get_smp_processor_id() */
	__u8 comm[16];  /* current->comm, or "xdp_testrun" for the XDP producers */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct anchor_event);
} anchor_event_btf SEC(".maps");
