/*
 * Allocation pairs and batches, per API, size and thread count.
 *
 *   bench_pairs API SIZE THREADS WORKLOAD OPS
 *
 * API is malloc (whatever allocator is loaded: run it under LD_PRELOAD to
 * measure jemalloc, tcmalloc or mimalloc), kmem_alloc, kmem_cache, or
 * kmalloc (DragonFly kmalloc(9)/kfree(9) on kmem, a type's counts kept),
 * or pool_cache (NetBSD pool_cache(9) on kmem).
 * WORKLOAD is pair (allocate, touch, free) or batch (allocate 1000, free
 * them in reverse).  OPS is the number of alloc+free pairs per thread.
 * Prints the wall time per pair in nanoseconds and the throughput.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kmem/kmem.h>
#define KMEM_BSD_NO_NAME_MAP
#include <kmem/bsd/malloc.h>
#include <kmem/bsd/pool.h>

MALLOC_DEFINE(M_BENCH, "bench", "bench_pairs' buffers");

enum api { API_MALLOC, API_KMEM_ALLOC, API_KMEM_CACHE, API_KMALLOC,
    API_POOL_CACHE };
enum { BATCH = 1000 };

static enum api api;
static size_t size;
static long ops;
static int batch;
static kmem_cache_t *cache;
static pool_cache_t pc;
static pthread_barrier_t start;
/* Per thread: a shared sink would put every thread on one cache line. */
static _Thread_local void *volatile sink;

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec * 1e-9);
}

#define LOOPS(ALLOC, FREE) do {						\
	if (!batch) {							\
		for (long i = 0; i < ops; i++) {			\
			char *p = ALLOC;				\
			p[0] = (char)i;					\
			sink = p;					\
			FREE;						\
		}							\
	} else {							\
		for (long r = 0; r < ops / BATCH; r++) {		\
			for (int j = 0; j < BATCH; j++) {		\
				char *p = ALLOC;			\
				p[0] = (char)j;				\
				v[j] = p;				\
			}						\
			for (int j = BATCH - 1; j >= 0; j--) {		\
				char *p = v[j];				\
				FREE;					\
			}						\
		}							\
	}								\
} while (0)

static void *
worker(void *arg)
{
	void **v = malloc(sizeof (void *) * BATCH);
	(void)arg;
	pthread_barrier_wait(&start);
	switch (api) {
	case API_MALLOC:
		LOOPS(malloc(size), free(p));
		break;
	case API_KMEM_ALLOC:
		LOOPS(kmem_alloc(size, KM_SLEEP), kmem_free(p, size));
		break;
	case API_KMEM_CACHE:
		LOOPS(kmem_cache_alloc(cache, KM_SLEEP), kmem_cache_free(cache, p));
		break;
	case API_KMALLOC:
		LOOPS(kmalloc(size, M_BENCH, M_WAITOK), kfree(p, M_BENCH));
		break;
	case API_POOL_CACHE:
		LOOPS(pool_cache_get(pc, PR_WAITOK), pool_cache_put(pc, p));
		break;
	}
	pthread_barrier_wait(&start);
	free(v);
	return (NULL);
}

int
main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: bench_pairs malloc|kmem_alloc|kmem_cache|"
		    "kmalloc|pool_cache SIZE THREADS pair|batch OPS\n");
		return (2);
	}
	api = strcmp(argv[1], "malloc") == 0 ? API_MALLOC :
	    strcmp(argv[1], "kmem_alloc") == 0 ? API_KMEM_ALLOC :
	    strcmp(argv[1], "kmalloc") == 0 ? API_KMALLOC :
	    strcmp(argv[1], "pool_cache") == 0 ? API_POOL_CACHE :
	    API_KMEM_CACHE;
	size = strtoul(argv[2], NULL, 0);
	int nthreads = atoi(argv[3]);
	batch = strcmp(argv[4], "batch") == 0;
	ops = strtol(argv[5], NULL, 0);
	if (api == API_KMEM_CACHE)
		cache = kmem_cache_create("bench_cache", size, 0, NULL, NULL,
		    NULL, NULL, NULL, 0);
	if (api == API_POOL_CACHE)
		pc = pool_cache_init(size, 0, 0, 0, "bench_pc", NULL, IPL_NONE,
		    NULL, NULL, NULL);

	pthread_t t[64];
	pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	pthread_barrier_wait(&start);
	double t0 = now();
	pthread_barrier_wait(&start);
	double t1 = now();
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	double pairs = (double)ops * nthreads;
	printf("%.3f %.3f\n", (t1 - t0) * 1e9 / (double)ops,
	    pairs / (t1 - t0) / 1e6);
	return (0);
}
