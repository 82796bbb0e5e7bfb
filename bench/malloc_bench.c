/*
 * Workloads that stand for real use of malloc, run on whatever allocator
 * is loaded (LD_PRELOAD: glibc, jemalloc, tcmalloc, mimalloc, kmem).
 *
 *   malloc_bench WORKLOAD
 *
 * server    4 threads keep pools of objects of a few sizes and replace them
 * prodcons  2 threads allocate, 2 other threads free (through a queue)
 * larson    threads churn slots of 16-1 KiB objects; each round new threads
 *           inherit and free the objects of the round before
 * mixed     2 threads, sizes from 8 bytes to 1 MiB (log-uniform)
 * realloc   buffers grown by realloc from 16 bytes to 1 MiB
 * frag      a live set that grows to ~200 MiB of small objects, shrinks to
 *           a tenth, then grows again with larger objects
 *
 * Prints: wall seconds, CPU seconds, peak resident MiB.
 */

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

static void
touch(void *p, size_t n)
{
	if (p == NULL) {
		fprintf(stderr, "malloc_bench: out of memory\n");
		exit(1);
	}
	((volatile char *)p)[0] = 1;
	((volatile char *)p)[n - 1] = 1;
}

/*
 * A thread keeps a pool of 2000 objects and, ops times, replaces a random
 * one with an object of size(seed) bytes.
 */
static void
pool_churn(uint64_t seed, long ops, size_t (*size)(uint64_t *))
{
	enum { POOL = 2000 };
	void **pool = calloc(POOL, sizeof (void *));
	for (long op = 0; op < ops; op++) {
		int i = (int)(rnd(&seed) % POOL);
		free(pool[i]);
		size_t n = size(&seed);
		pool[i] = malloc(n);
		touch(pool[i], n);
	}
	for (int i = 0; i < POOL; i++)
		free(pool[i]);
	free(pool);
}

/* ---- server: a few sizes ---- */
static size_t
server_size(uint64_t *seed)
{
	static const size_t sizes[] = { 32, 64, 128, 256, 512 };
	return (sizes[rnd(seed) % 5]);
}

static void *
server_thread(void *arg)
{
	pool_churn(1 + (uintptr_t)arg, 3000000, server_size);
	return (NULL);
}

/* ---- producer / consumer ---- */
enum { QCAP = 4096, PC_ITEMS = 2000000 };
static struct {
	pthread_mutex_t	lock;
	pthread_cond_t	cv;
	void		*item[QCAP];
	int		head, count, done;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { 0 }, 0, 0, 0 };

static void *
producer(void *arg)
{
	uint64_t seed = 7 + (uintptr_t)arg;
	void *batch[64];
	for (int made = 0; made < PC_ITEMS; made += 64) {
		for (int i = 0; i < 64; i++) {
			size_t n = 64 + rnd(&seed) % 192;
			batch[i] = malloc(n);
			touch(batch[i], n);
		}
		pthread_mutex_lock(&q.lock);
		while (q.count > QCAP - 64)
			pthread_cond_wait(&q.cv, &q.lock);
		for (int i = 0; i < 64; i++)
			q.item[(q.head + q.count++) % QCAP] = batch[i];
		pthread_cond_broadcast(&q.cv);
		pthread_mutex_unlock(&q.lock);
	}
	return (NULL);
}

static void *
consumer(void *arg)
{
	(void)arg;
	void *batch[64];
	for (;;) {
		int n = 0;
		pthread_mutex_lock(&q.lock);
		while (q.count == 0 && !q.done)
			pthread_cond_wait(&q.cv, &q.lock);
		if (q.count == 0 && q.done) {
			pthread_mutex_unlock(&q.lock);
			return (NULL);
		}
		while (q.count > 0 && n < 64) {
			batch[n++] = q.item[q.head];
			q.head = (q.head + 1) % QCAP;
			q.count--;
		}
		pthread_cond_broadcast(&q.cv);
		pthread_mutex_unlock(&q.lock);
		for (int i = 0; i < n; i++)
			free(batch[i]);
	}
}

/* ---- larson ---- */
enum { LSLOTS = 2000, LTHREADS = 4, LROUNDS = 20 };
static void *lslots[LTHREADS][LSLOTS];

static void *
larson_thread(void *arg)
{
	int t = (int)(uintptr_t)arg;
	uint64_t seed = 99 + (uint64_t)t * 7919 + (uint64_t)time(NULL) % 2;
	for (int op = 0; op < 150000; op++) {
		int i = (int)(rnd(&seed) % LSLOTS);
		free(lslots[t][i]);	/* often allocated by another thread */
		size_t n = 16 + rnd(&seed) % 1009;
		lslots[t][i] = malloc(n);
		touch(lslots[t][i], n);
	}
	return (NULL);
}

/* ---- mixed: 8 bytes to 1 MiB, log-uniform ---- */
static size_t
mixed_size(uint64_t *seed)
{
	size_t n = (size_t)8 << (rnd(seed) % 18);
	n += rnd(seed) % n;
	return (n > (1 << 20) ? 1 << 20 : n);
}

static void *
mixed_thread(void *arg)
{
	pool_churn(31 + (uintptr_t)arg, 600000, mixed_size);
	return (NULL);
}

static void
run_threads(void *(*fn)(void *), int n)
{
	pthread_t t[16];
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, fn, (void *)(uintptr_t)i);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

static void
realloc_growth(void)
{
	uint64_t seed = 5;
	for (int round = 0; round < 16000; round++) {
		enum { N = 16 };
		char *b[N] = { 0 };
		size_t len[N] = { 0 };
		for (int step = 0; step < 300; step++) {
			int i = (int)(rnd(&seed) % N);
			size_t n = len[i] < 16 ? 16 : len[i] + len[i] / 8 + 16;
			if (n > (1 << 20))
				n = 16;
			b[i] = realloc(b[i], n);
			touch(b[i], n);
			len[i] = n;
		}
		for (int i = 0; i < N; i++)
			free(b[i]);
	}
}

static void
frag(void)
{
	enum { N = 2000000 };
	void **p = calloc(N, sizeof (void *));
	uint64_t seed = 11;
	for (int i = 0; i < N; i++) {
		size_t n = 16 + rnd(&seed) % 180;
		p[i] = malloc(n);
		touch(p[i], n);
	}
	for (int i = 0; i < N; i++)
		if (rnd(&seed) % 10 != 0) {
			free(p[i]);
			p[i] = NULL;
		}
	for (int i = 0; i < N / 4; i++) {
		int k = (int)(rnd(&seed) % N);
		free(p[k]);
		size_t n = 200 + rnd(&seed) % 800;
		p[k] = malloc(n);
		touch(p[k], n);
	}
	for (int i = 0; i < N; i++)
		free(p[i]);
	free(p);
}

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec * 1e-9);
}

int
main(int argc, char **argv)
{
	const char *w = argc > 1 ? argv[1] : "server";
	double t0 = now();

	if (strcmp(w, "server") == 0) {
		run_threads(server_thread, 4);
	} else if (strcmp(w, "prodcons") == 0) {
		pthread_t c[2];
		for (int i = 0; i < 2; i++)
			pthread_create(&c[i], NULL, consumer, NULL);
		run_threads(producer, 2);
		pthread_mutex_lock(&q.lock);
		q.done = 1;
		pthread_cond_broadcast(&q.cv);
		pthread_mutex_unlock(&q.lock);
		for (int i = 0; i < 2; i++)
			pthread_join(c[i], NULL);
	} else if (strcmp(w, "larson") == 0) {
		for (int r = 0; r < LROUNDS; r++) {
			/* Threads exit; the next round's frees their objects. */
			run_threads(larson_thread, LTHREADS);
			void *first[LSLOTS];
			memcpy(first, lslots[0], sizeof (first));
			for (int t = 0; t < LTHREADS - 1; t++)
				memcpy(lslots[t], lslots[t + 1], sizeof (first));
			memcpy(lslots[LTHREADS - 1], first, sizeof (first));
		}
		for (int t = 0; t < LTHREADS; t++)
			for (int i = 0; i < LSLOTS; i++)
				free(lslots[t][i]);
	} else if (strcmp(w, "mixed") == 0) {
		run_threads(mixed_thread, 2);
	} else if (strcmp(w, "realloc") == 0) {
		realloc_growth();
	} else if (strcmp(w, "frag") == 0) {
		frag();
	} else {
		fprintf(stderr, "malloc_bench: unknown workload %s\n", w);
		return (2);
	}
	double wall = now() - t0;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
	printf("%.3f %.3f %.1f\n", wall, cpu, ru.ru_maxrss / 1024.0);
	return (0);
}
