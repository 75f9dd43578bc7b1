/*
 * The anchors' `maps` workload (../shared/anchors/README.md) through libbpf, in a process that
 * has a second, idle thread, as every Node.js process has (V8's platform workers, libuv).
 *
 * Why: for a map fd, the kernel's fdget() takes no reference while the process's fd table has
 * one user, and an atomic reference (get and put) once threads share it. So a multi-threaded
 * process pays more per bpf() call than the single-threaded C anchor, before any library code
 * runs. This program measures that floor in the same run as the anchors and ebpf-ts
 * (bench/compare-anchors.sh prints ebpf-ts against both).
 *
 *   maps_threads            lines `anchor=libbpf-threads metric=... value=... api=... ok=1`
 *   maps_threads --single   the same without the extra thread (`anchor=libbpf-single`)
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ENTRIES 65536
#define OPS 1000000L
#define DUMPS 5

static const char *anchor = "libbpf-threads";

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static void fail(const char *what)
{
	fprintf(stderr, "maps_threads: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void line(const char *metric, double value, const char *api, int ok, const char *extra)
{
	printf("anchor=%s metric=%s value=%.0f api=%s ok=%d %s\n", anchor, metric, value, api, ok, extra);
}

int main(int argc, char **argv)
{
	static __u32 keys[ENTRIES];
	static __u64 vals[ENTRIES], last[ENTRIES];
	char extra[128];
	double t0, t1;
	__u64 expect = 0;
	long bad = 0;
	pthread_t thread;
	int fd;

	if (argc > 1 && strcmp(argv[1], "--single") == 0)
		anchor = "libbpf-single";
	else if (pthread_create(&thread, NULL, idle_thread, NULL) != 0)
		fail("pthread_create");

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "hmap", sizeof(__u32), sizeof(__u64), ENTRIES, NULL);
	if (fd < 0)
		fail("bpf_map_create");

	t0 = now_s();
	for (long i = 0; i < OPS; i++) {
		__u32 k = i & (ENTRIES - 1);
		__u64 v = i;

		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
			fail("update");
	}
	t1 = now_s();
	for (long i = 0; i < OPS; i++)
		last[i & (ENTRIES - 1)] = i;
	for (int k = 0; k < ENTRIES; k++)
		expect += last[k];
	snprintf(extra, sizeof(extra), "ns_per_op=%.1f", (t1 - t0) * 1e9 / OPS);
	line("map_update_ops_per_s", OPS / (t1 - t0), "bpf_map_update_elem", 1, extra);

	t0 = now_s();
	for (long i = 0; i < OPS; i++) {
		__u32 k = i & (ENTRIES - 1);
		__u64 v;

		if (bpf_map_lookup_elem(fd, &k, &v))
			fail("lookup");
		bad += v != last[k];
	}
	t1 = now_s();
	snprintf(extra, sizeof(extra), "ns_per_op=%.1f", (t1 - t0) * 1e9 / OPS);
	line("map_lookup_ops_per_s", OPS / (t1 - t0), "bpf_map_lookup_elem", bad == 0, extra);

	bad = 0;
	t0 = now_s();
	for (int r = 0; r < DUMPS; r++) {
		__u32 cur, next, *prev = NULL;
		__u64 v, sum = 0, n = 0;

		while (bpf_map_get_next_key(fd, prev, &next) == 0) {
			if (bpf_map_lookup_elem(fd, &next, &v))
				fail("lookup during iterate");
			sum += v;
			n++;
			cur = next;
			prev = &cur;
		}
		bad += n != ENTRIES || sum != expect;
	}
	t1 = now_s();
	snprintf(extra, sizeof(extra), "ms_per_dump=%.3f", (t1 - t0) * 1e3 / DUMPS);
	line("map_iterate_entries_per_s", DUMPS * ENTRIES / (t1 - t0), "bpf_map_get_next_key+bpf_map_lookup_elem", bad == 0, extra);

	bad = 0;
	t0 = now_s();
	for (int r = 0; r < DUMPS; r++) {
		__u32 in_batch, out_batch, count;
		__u64 sum = 0;
		long n = 0;
		int err, first = 1;

		do {
			LIBBPF_OPTS(bpf_map_batch_opts, opts);

			count = ENTRIES - n;
			err = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch, keys + n, vals + n, &count, &opts);
			if (err && errno != ENOENT)
				fail("lookup_batch");
			n += count;
			in_batch = out_batch;
			first = 0;
		} while (!err && n < ENTRIES);
		for (long i = 0; i < n; i++)
			sum += vals[i];
		bad += n != ENTRIES || sum != expect;
	}
	t1 = now_s();
	snprintf(extra, sizeof(extra), "ms_per_dump=%.3f", (t1 - t0) * 1e3 / DUMPS);
	line("map_batch_dump_entries_per_s", DUMPS * ENTRIES / (t1 - t0), "bpf_map_lookup_batch", bad == 0, extra);
	close(fd);
	return 0;
}
