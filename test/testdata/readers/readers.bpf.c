// Producers for the ring buffer, perf buffer and trace_pipe reader tests (test/ringbuf,
// test/perf, test/tracepipe). Every record carries its sequence number, its own length and a
// payload derived from the sequence number, so a reader can prove that no record is torn; the
// programs count what they could not emit in `stats`, so a reader's drop accounting can be checked
// against the producer's own count.
// Compile (from the repository root): bash scripts/build-testdata.sh test/testdata/readers
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* cfg indices */
#define CFG_COUNT 0         /* records per run (bpf_loop iterations) */
#define CFG_LEN_MIN 1       /* record length = LEN_MIN + seq % LEN_SPAN, clamped to [16, MAX_LEN] */
#define CFG_LEN_SPAN 2
#define CFG_DISCARD_EVERY 3 /* ringbuf: every Nth seq is reserved then discarded (0: never) */
#define CFG_RING 4          /* ringbuf: 0 -> rb, 1 -> rb2, 2 -> alternate by seq parity */
#define CFG_TGID 5          /* tracepoint programs: only this tgid */
#define CFG_MARKER 6        /* bpf_printk marker token */

/* stats indices */
#define STAT_SEQ 0        /* next sequence number = records attempted */
#define STAT_DROPPED 1    /* records the kernel refused (ring full / perf output error) */
#define STAT_DISCARDED 2  /* ringbuf records reserved then discarded */
#define STAT_DROP_CPU 8   /* + cpu: perf output errors on that CPU */
#define STAT_SENT_CPU 40  /* + cpu: perf records written on that CPU */
#define MAX_CPU 32

#define MAX_LEN 80

/* The record: 16-byte header, then 8 words derived from seq. Only the first `len` bytes are sent. */
struct rec {
	__u64 seq;
	__u32 len;
	__u32 check; /* (__u32)seq ^ 0xa5a5a5a5 */
	__u64 words[8]; /* words[k] = seq * 0x9E3779B97F4A7C15 + k */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 80);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rec);
} scratch SEC(".maps");

static __always_inline __u64 cfg_get(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&cfg, &k);
	return v ? *v : 0;
}

static __always_inline void stat_add(__u32 k, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &k);
	if (v)
		__sync_fetch_and_add(v, n);
}

static __always_inline void stat_set(__u32 k, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &k);
	if (v)
		*v = n;
}

static __always_inline __u64 next_seq(void)
{
	__u32 k = STAT_SEQ;
	__u64 *v = bpf_map_lookup_elem(&stats, &k);
	return v ? __sync_fetch_and_add(v, 1) : 0;
}

static __always_inline void fill(struct rec *r, __u64 seq, __u32 len)
{
	__u64 w = seq * 0x9E3779B97F4A7C15ULL;

	r->seq = seq;
	r->len = len;
	r->check = (__u32)seq ^ 0xa5a5a5a5;
	r->words[0] = w;
	r->words[1] = w + 1;
	r->words[2] = w + 2;
	r->words[3] = w + 3;
	r->words[4] = w + 4;
	r->words[5] = w + 5;
	r->words[6] = w + 6;
	r->words[7] = w + 7;
}

static __always_inline __u32 rec_len(__u64 seq)
{
	__u64 min = cfg_get(CFG_LEN_MIN), span = cfg_get(CFG_LEN_SPAN);
	__u64 len = min + (span ? seq % span : 0);

	if (len < 16)
		len = 16;
	if (len > MAX_LEN)
		len = MAX_LEN;
	return len;
}

static int rb_one(__u64 i, void *unused)
{
	__u64 seq = next_seq(), every = cfg_get(CFG_DISCARD_EVERY), ring = cfg_get(CFG_RING);
	__u32 zero = 0, len;
	struct rec *r;
	long err;

	if (every && seq % every == 0) {
		r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
		if (!r) {
			stat_add(STAT_DROPPED, 1);
			return 0;
		}
		fill(r, seq, sizeof(*r));
		bpf_ringbuf_discard(r, 0);
		stat_add(STAT_DISCARDED, 1);
		return 0;
	}
	r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 1;
	len = rec_len(seq);
	fill(r, seq, len);
	if (ring == 1 || (ring == 2 && (seq & 1)))
		err = bpf_ringbuf_output(&rb2, r, len, 0);
	else
		err = bpf_ringbuf_output(&rb, r, len, 0);
	if (err)
		stat_add(STAT_DROPPED, 1);
	return 0;
}

/* Run with BPF_PROG_TEST_RUN: emits cfg[CFG_COUNT] records into rb/rb2. */
SEC("raw_tp")
int rb_emit(void *ctx)
{
	bpf_loop(cfg_get(CFG_COUNT), rb_one, NULL, 0);
	return 0;
}

struct pb_ctx {
	void *ctx;
};

static int pb_one(__u64 i, struct pb_ctx *c)
{
	__u64 seq = next_seq();
	__u32 zero = 0, len, cpu = bpf_get_smp_processor_id() & (MAX_CPU - 1);
	struct rec *r = bpf_map_lookup_elem(&scratch, &zero);

	if (!r)
		return 1;
	len = rec_len(seq);
	fill(r, seq, len);
	if (bpf_perf_event_output(c->ctx, &pb, BPF_F_CURRENT_CPU, r, len)) {
		stat_add(STAT_DROPPED, 1);
		stat_add(STAT_DROP_CPU + cpu, 1);
	} else {
		stat_add(STAT_SENT_CPU + cpu, 1);
	}
	return 0;
}

/* Run with BPF_PROG_TEST_RUN (BPF_F_TEST_RUN_ON_CPU picks the CPU, hence the perf ring). */
SEC("raw_tp")
int pb_emit(void *ctx)
{
	struct pb_ctx c = { .ctx = ctx };

	bpf_loop(cfg_get(CFG_COUNT), pb_one, &c, 0);
	return 0;
}

/* One record per getppid() of the tgid in cfg[CFG_TGID], from whatever CPU it runs on: a producer
 * that runs concurrently with the reader. */
SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_rb(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != cfg_get(CFG_TGID))
		return 0;
	rb_one(0, NULL);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_pb(void *ctx)
{
	struct pb_ctx c = { .ctx = ctx };

	if ((bpf_get_current_pid_tgid() >> 32) != cfg_get(CFG_TGID))
		return 0;
	pb_one(0, &c);
	return 0;
}

/* What the kernel sees of rb: stats[STAT_QUERY + 0..2] = consumer position, producer position,
 * available bytes (bpf_ringbuf_query). */
#define STAT_QUERY 72
SEC("raw_tp")
int rb_query(void *ctx)
{
	stat_set(STAT_QUERY + 0, bpf_ringbuf_query(&rb, BPF_RB_CONS_POS));
	stat_set(STAT_QUERY + 1, bpf_ringbuf_query(&rb, BPF_RB_PROD_POS));
	stat_set(STAT_QUERY + 2, bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA));
	return 0;
}

/* bpf_printk from a tracepoint: one line per getppid() of the tgid in cfg[CFG_TGID]. */
SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_printk(void *ctx)
{
	__u64 tgid = bpf_get_current_pid_tgid() >> 32;

	if (tgid != cfg_get(CFG_TGID))
		return 0;
	bpf_printk("ebpf-ts-marker %llu seq=%llu", cfg_get(CFG_MARKER), next_seq());
	return 0;
}
