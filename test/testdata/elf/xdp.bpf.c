// Fixture for test/elf: a small XDP program with a legacy-style map in "maps", a rodata
// table and a 64-bit constant, so the object has .rodata relocations of both kinds.
// Compiled from this directory:
//   clang-19 -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -fdebug-prefix-map=$PWD=. -c xdp.bpf.c -o xdp.bpf.o
#include <linux/bpf.h>

#define SEC(n) __attribute__((section(n), used))

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;

struct legacy_map_def {
  unsigned int type, key_size, value_size, max_entries, map_flags;
};

struct legacy_map_def pkt_count SEC("maps") = {
  .type = BPF_MAP_TYPE_PERCPU_ARRAY,
  .key_size = sizeof(__u32),
  .value_size = sizeof(__u64),
  .max_entries = 8,
};

static const __u32 verdicts[4] = {XDP_PASS, XDP_DROP, XDP_PASS, XDP_TX};
__u64 seen_bytes;

SEC("xdp")
int count_packets(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  __u32 key = (end - data) & 3;
  __u64 *c = bpf_map_lookup_elem(&pkt_count, &key);
  if (c)
    *c += 1;
  __sync_fetch_and_add(&seen_bytes, end - data);
  return verdicts[key];
}

char _license[] SEC("license") = "GPL";
