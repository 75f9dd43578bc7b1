// The target of the uprobe and USDT tests, compiled by the test with gcc (its USDT probes come
// from Debian's systemtap-sdt-dev <sys/sdt.h>). It prints "ready <pid>", waits for a line on
// stdin (the test attaches meanwhile), then calls target_fn and hits its probes N times, and
// prints "done <times the semaphore was set> <sum of target_fn's results>".
//   gcc -O2 -g -o uprobe_target uprobe_target.c
#define _SDT_HAS_SEMAPHORES 1
#include <stdio.h>
#include <stdlib.h>
#include <sys/sdt.h>
#include <unistd.h>

/* Probe semaphores: the kernel increments one while a uprobe with it as reference counter is
 * attached, so the program prepares the probe's arguments only then (ebpfts:gated). With
 * _SDT_HAS_SEMAPHORES every probe has one; ebpfts:plain fires whether its is set or not. */
unsigned short ebpfts_gated_semaphore __attribute__((unused)) __attribute__((section(".probes")));
unsigned short ebpfts_plain_semaphore __attribute__((unused)) __attribute__((section(".probes")));

__attribute__((noinline)) long target_fn(long x)
{
	__asm__ __volatile__("" ::: "memory");
	return 2 * x + 1;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	char line[16];
	volatile long sum = 0;
	int gated = 0;

	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin))
		return 1;
	for (int i = 0; i < n; i++) {
		long v = i + 40;
		int neg = -5 - i;
		sum += target_fn(v);
		DTRACE_PROBE3(ebpfts, plain, v, neg, 42);
		if (ebpfts_gated_semaphore) {
			gated++;
			DTRACE_PROBE3(ebpfts, gated, v * 3, neg, (char)-2);
		}
	}
	printf("done %d %ld\n", gated, (long)sum);
	fflush(stdout);
	return 0;
}
