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
 * randsmall one thread per core (2) replacing random slots of a 1024-slot
 *           working set with sizes from 4 bytes to 32 KiB, weighted to the
 *           small ones (1/size: glibc's bench-malloc-thread)
 * randsmall1  the same on one thread
 * large     20 slots of blocks of 1 to 25 MiB replaced in a loop, every
 *           page written (a program of large buffers)
 * small     a small single-threaded program: a search tree of 20,000
 *           nodes with string keys, churned (a few MiB live)
 * xthread   2 threads hand batches of random-size blocks (16 bytes to
 *           8 KiB) to each other to free; the batch size, and so the
 *           working set, changes every 2,000 batches
 * base      a program that allocates a few KiB: the allocator's own footprint
 *
 * Prints: wall seconds, CPU seconds, peak resident MiB (VmHWM: the
 * process's own peak, not one inherited through exec).
 */

#include <math.h>
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
 * A thread keeps a pool of npool objects and, ops times, replaces a random
 * one with an object of size(seed) bytes.
 */
static void
pool_churn(uint64_t seed, long ops, size_t (*size)(uint64_t *), int npool)
{
	void **pool = calloc((size_t)npool, sizeof (void *));
	for (long op = 0; op < ops; op++) {
		int i = (int)(rnd(&seed) % (uint64_t)npool);
		free(pool[i]);
		size_t n = size(&seed);
		pool[i] = malloc(n);
		touch(pool[i], n);
	}
	for (int i = 0; i < npool; i++)
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
	pool_churn(1 + (uintptr_t)arg, 3000000, server_size, 2000);
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
	pool_churn(31 + (uintptr_t)arg, 600000, mixed_size, 2000);
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

/* ---- randsmall: glibc's bench-malloc-thread pattern ---- */
/* 4 * 8192^u for u uniform in [0, 1): density 1/size, 4 bytes to 32 KiB. */
enum { RS_TABLE = 4096 };
static size_t rs_size[RS_TABLE];

static void
randsmall_table(void)
{
	for (int i = 0; i < RS_TABLE; i++)
		rs_size[i] = (size_t)(4.0 * exp((i + 0.5) / RS_TABLE *
		    log(8192.0)));
}

static size_t
randsmall_size(uint64_t *seed)
{
	return (rs_size[rnd(seed) % RS_TABLE]);
}

static void *
randsmall_thread(void *arg)
{
	pool_churn(17 + (uintptr_t)arg * 31, 4000000, randsmall_size, 1024);
	return (NULL);
}

/* ---- large: blocks of 1 to 25 MiB, every page written ---- */
static void
large_blocks(void)
{
	enum { SLOTS = 20 };
	void *slot[SLOTS] = { 0 };
	uint64_t seed = 23;
	for (int op = 0; op < 120; op++) {
		int i = (int)(rnd(&seed) % SLOTS);
		free(slot[i]);
		size_t n = ((size_t)1 << 20) + rnd(&seed) % ((size_t)24 << 20);
		char *p = malloc(n);
		touch(p, n);
		for (size_t off = 0; off < n; off += 4096)
			p[off] = (char)op;
		slot[i] = p;
	}
	for (int i = 0; i < SLOTS; i++)
		free(slot[i]);
}

/* ---- small: a search tree with string keys, churned ---- */
struct node {
	struct node	*left, *right;
	char		*key;
	long		value;
};

static char *
make_key(uint64_t *seed)
{
	size_t n = 4 + rnd(seed) % 40;
	char *k = malloc(n + 1);
	touch(k, n + 1);
	for (size_t i = 0; i < n; i++)
		k[i] = (char)('a' + rnd(seed) % 26);
	k[n] = '\0';
	return (k);
}

static struct node *
tree_insert(struct node *t, struct node *n)
{
	struct node **pp = &t;
	while (*pp != NULL)
		pp = strcmp(n->key, (*pp)->key) < 0 ? &(*pp)->left :
		    &(*pp)->right;
	*pp = n;
	return (t);
}

/* Remove the leftmost node under *pp and return it. */
static struct node *
tree_pop_min(struct node **pp)
{
	while ((*pp)->left != NULL)
		pp = &(*pp)->left;
	struct node *n = *pp;
	*pp = n->right;
	return (n);
}

static void
tree_free(struct node *t)
{
	if (t == NULL)
		return;
	tree_free(t->left);
	tree_free(t->right);
	free(t->key);
	free(t);
}

static void
small_program(void)
{
	uint64_t seed = 3;
	struct node *t = NULL;
	for (int round = 0; round < 40; round++) {
		for (int i = 0; i < 20000; i++) {
			struct node *n = malloc(sizeof (*n));
			touch(n, sizeof (*n));
			n->left = n->right = NULL;
			n->key = make_key(&seed);
			n->value = i;
			t = tree_insert(t, n);
		}
		/* Churn: take the smallest keys out, put new ones in. */
		for (int i = 0; i < 30000; i++) {
			struct node *n = tree_pop_min(&t);
			free(n->key);
			n->key = make_key(&seed);
			n->left = n->right = NULL;
			t = tree_insert(t, n);
		}
		tree_free(t);
		t = NULL;
	}
}

/* ---- xthread: batches freed by the other thread ---- */
enum { XBOX = 4, XBATCHES = 12000 };
struct batch {
	int	n;
	void	*p[];
};
static struct mailbox {
	pthread_mutex_t	lock;
	pthread_cond_t	cv;
	struct batch	*b[XBOX];
	int		head, count;
} xbox[2] = {
	{ PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { 0 }, 0, 0 },
	{ PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { 0 }, 0, 0 },
};

static void
xbox_put(struct mailbox *m, struct batch *b)
{
	pthread_mutex_lock(&m->lock);
	while (m->count == XBOX)
		pthread_cond_wait(&m->cv, &m->lock);
	m->b[(m->head + m->count++) % XBOX] = b;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->lock);
}

static struct batch *
xbox_get(struct mailbox *m)
{
	pthread_mutex_lock(&m->lock);
	while (m->count == 0)
		pthread_cond_wait(&m->cv, &m->lock);
	struct batch *b = m->b[m->head];
	m->head = (m->head + 1) % XBOX;
	m->count--;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->lock);
	return (b);
}

static void *
xthread_thread(void *arg)
{
	static const int sizes[] = { 64, 1000, 200, 3000, 20 };
	int t = (int)(uintptr_t)arg;
	uint64_t seed = 41 + (uint64_t)t;
	for (int k = 0; k < XBATCHES; k++) {
		int n = sizes[(k / 2000) % 5];
		struct batch *b = malloc(sizeof (*b) + n * sizeof (void *));
		touch(b, sizeof (*b));
		b->n = n;
		for (int i = 0; i < n; i++) {
			size_t sz = 16 + (rs_size[rnd(&seed) % RS_TABLE] *
			    2 & 8191);
			b->p[i] = malloc(sz);
			touch(b->p[i], sz);
		}
		xbox_put(&xbox[1 - t], b);
		b = xbox_get(&xbox[t]);
		for (int i = 0; i < b->n; i++)
			free(b->p[i]);
		free(b);
	}
	return (NULL);
}

/* The process's peak resident set in KiB, from /proc (0 if unknown). */
static long
peak_rss_kib(void)
{
	char line[256];
	long kib = 0;
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return (0);
	while (fgets(line, sizeof (line), f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return (kib);
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
	} else if (strcmp(w, "base") == 0) {
		void *p[64];
		for (int i = 0; i < 64; i++)
			touch(p[i] = malloc(64), 64);
		for (int i = 0; i < 64; i++)
			free(p[i]);
	} else if (strcmp(w, "randsmall") == 0) {
		randsmall_table();
		run_threads(randsmall_thread, 2);
	} else if (strcmp(w, "randsmall1") == 0) {
		randsmall_table();
		run_threads(randsmall_thread, 1);
	} else if (strcmp(w, "large") == 0) {
		large_blocks();
	} else if (strcmp(w, "small") == 0) {
		small_program();
	} else if (strcmp(w, "xthread") == 0) {
		randsmall_table();
		run_threads(xthread_thread, 2);
	} else {
		fprintf(stderr, "malloc_bench: unknown workload %s\n", w);
		return (2);
	}
	double wall = now() - t0;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
	long peak = peak_rss_kib();
	printf("%.3f %.3f %.1f\n", wall, cpu,
	    (peak != 0 ? peak : ru.ru_maxrss) / 1024.0);
	return (0);
}
