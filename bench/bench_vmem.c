/*
 * vmem_alloc/vmem_free time as an arena grows from 100 to 1,000,000
 * allocated segments.
 *
 * For each population N an identifier arena is filled with N segments of
 * random sizes (1-8 quanta, with gaps so they never coalesce), then timed:
 *   steady:  free a random live segment and allocate one of the same size
 *            (the arena stays at N segments, fragmented);
 *   pair:    allocate a segment and free it at once.
 * Prints N, nanoseconds per alloc+free for each, the segments in the
 * arena, and for steady the hash-chain steps per free and the freelist
 * segments examined per allocation (the algorithm's work, which stays
 * constant while the time grows with cache misses).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <kmem/vmem.h>

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec * 1e-9);
}

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

int
main(int argc, char **argv)
{
	long ops = argc > 1 ? atol(argv[1]) : 2000000;
	static const long pops[] = { 100, 1000, 10000, 100000, 1000000 };

	for (size_t k = 0; k < sizeof (pops) / sizeof (pops[0]); k++) {
		long n = pops[k];
		vmem_t *vmp = vmem_create("bench_ids", (void *)1,
		    (size_t)1 << 40, 1, NULL, NULL, NULL, 0, VMC_IDENTIFIER);
		uintptr_t *addr = malloc(sizeof (uintptr_t) * (size_t)n);
		size_t *sz = malloc(sizeof (size_t) * (size_t)n);
		void **gap = malloc(sizeof (void *) * (size_t)n);
		uint64_t seed = 88172645463325252ULL;

		/* Fill, leaving a freed gap after each segment. */
		for (long i = 0; i < n; i++) {
			sz[i] = 1 + rnd(&seed) % 8;
			addr[i] = (uintptr_t)vmem_alloc(vmp, sz[i], VM_SLEEP);
			gap[i] = vmem_alloc(vmp, 1, VM_SLEEP);
		}
		for (long i = 0; i < n; i += 2)
			vmem_free(vmp, gap[i], 1);

		uint64_t lookup0 = vmem_stat(vmp, "lookup");
		uint64_t search0 = vmem_stat(vmp, "search");
		double t0 = now();
		for (long i = 0; i < ops; i++) {
			long j = (long)(rnd(&seed) % (uint64_t)n);
			vmem_free(vmp, (void *)addr[j], sz[j]);
			addr[j] = (uintptr_t)vmem_alloc(vmp, sz[j], VM_SLEEP);
		}
		double t1 = now();
		uint64_t lookup1 = vmem_stat(vmp, "lookup");
		uint64_t search1 = vmem_stat(vmp, "search");
		for (long i = 0; i < ops; i++) {
			void *p = vmem_alloc(vmp, 4, VM_SLEEP);
			vmem_free(vmp, p, 4);
		}
		double t2 = now();
		printf("%ld %.1f %.1f %lu %.2f %.2f\n", n,
		    (t1 - t0) * 1e9 / (double)ops, (t2 - t1) * 1e9 / (double)ops,
		    (unsigned long)vmem_stat(vmp, "segments"),
		    (double)(lookup1 - lookup0) / (double)ops,
		    (double)(search1 - search0) / (double)ops);
		for (long i = 0; i < n; i++) {
			vmem_free(vmp, (void *)addr[i], sz[i]);
			if (i % 2 == 1)
				vmem_free(vmp, gap[i], 1);
		}
		vmem_destroy(vmp);
		free(addr);
		free(sz);
		free(gap);
	}
	return (0);
}
