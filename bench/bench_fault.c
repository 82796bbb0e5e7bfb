/*
 * What a page of fresh anonymous memory costs to make resident: touched a
 * page at a time (a page fault each) or made resident by
 * madvise(MADV_POPULATE_WRITE) in runs of a given size, as kmem's slab
 * layer does (kmem_init(9): nopopulate).  No allocator involved.
 *
 *   bench_fault [MiB]      (default 256)
 *
 * Prints microseconds per 4 KiB page for each way, least of 3 runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec * 1e-9);
}

/* Seconds to make size bytes resident, populating runs of run bytes. */
static double
one(size_t size, size_t run)
{
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("bench_fault: mmap");
		exit(1);
	}
	(void)madvise(p, size, MADV_NOHUGEPAGE);	/* a fault per page */
	double t = now();
	for (size_t off = 0; run != 0 && off < size; off += run)
		if (madvise(p + off, run, MADV_POPULATE_WRITE) != 0) {
			perror("bench_fault: MADV_POPULATE_WRITE");
			exit(1);
		}
	for (size_t off = 0; off < size; off += 4096)
		p[off] = 1;
	t = now() - t;
	munmap(p, size);
	return (t);
}

int
main(int argc, char **argv)
{
	static const size_t runs[] = { 0, 4096, 8192, 32768, 131072,
	    1 << 20 };
	size_t size = (size_t)(argc > 1 ? atol(argv[1]) : 256) << 20;

	for (size_t i = 0; i < sizeof (runs) / sizeof (runs[0]); i++) {
		double best = 1e9;
		for (int r = 0; r < 3; r++) {
			double t = one(size, runs[i]);
			best = t < best ? t : best;
		}
		char way[48];
		if (runs[i] == 0)
			snprintf(way, sizeof (way), "page faults");
		else
			snprintf(way, sizeof (way), "populated %zu KiB at a time",
			    runs[i] >> 10);
		printf("%-32s %6.2f us a page\n", way,
		    best / (double)(size / 4096) * 1e6);
	}
	return (0);
}
