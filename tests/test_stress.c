/*
 * Multi-threaded stress: threads allocate from kmem_alloc and from a cache
 * with a constructor, hand half of their buffers to a neighbour through a
 * locked mailbox (cross-thread frees), check buffer contents, and race
 * against concurrent reaps, updates and purges.  Bounded in operations.
 * At the end every buffer is freed, the caches' validators pass and the
 * constructor and destructor counts balance.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/kmem.h>
#include "../src/magazine/magazine_impl.h"
#include "harness.h"

enum { NTHREADS = 4, MAILBOX = 256 };

typedef struct mailbox {
	pthread_mutex_t	lock;
	void		*buf[MAILBOX];
	size_t		size[MAILBOX];
	int		n;
} mailbox_t;

static mailbox_t boxes[NTHREADS];
static kmem_cache_t *stress_cache;
static uint64_t st_ctor, st_dtor;
static int stress_errors;
static volatile int stress_stop;

static int
st_ctor_fn(void *buf, void *priv, int flag)
{
	(void)priv, (void)flag;
	memset(buf, 0x5a, 48);
	__atomic_fetch_add(&st_ctor, 1, __ATOMIC_RELAXED);
	return (0);
}

static void
st_dtor_fn(void *buf, void *priv)
{
	(void)priv;
	if (((unsigned char *)buf)[0] != 0x5a)
		__atomic_fetch_add(&stress_errors, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&st_dtor, 1, __ATOMIC_RELAXED);
}

/* size 0 in a mailbox means "an object of stress_cache". */
static void
release(void *buf, size_t size)
{
	unsigned char *p = buf;
	if (size == 0) {
		if (p[0] != 0x5a || p[47] != 0x5a)
			__atomic_fetch_add(&stress_errors, 1, __ATOMIC_RELAXED);
		kmem_cache_free(stress_cache, buf);
		return;
	}
	if (p[0] != (unsigned char)size || p[size - 1] != (unsigned char)size)
		__atomic_fetch_add(&stress_errors, 1, __ATOMIC_RELAXED);
	kmem_free(buf, size);
}

static void *
stress_main(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t seed = 1234 + (uint64_t)me;
	int ops = kt_quick ? 3000 : 60000;
	enum { KEEP = 64 };
	void *keep[KEEP] = { 0 };
	size_t ksize[KEEP] = { 0 };

	for (int op = 0; op < ops; op++) {
		int slot = (int)(kt_rand(&seed) % KEEP);
		if (keep[slot] != NULL) {
			release(keep[slot], ksize[slot]);
			keep[slot] = NULL;
		}
		size_t size;
		void *p;
		uint64_t r = kt_rand(&seed);
		if (r % 5 == 0) {
			size = 0;
			p = kmem_cache_alloc(stress_cache, KM_SLEEP);
		} else {
			size = 1 + (r >> 8) % (r % 50 == 1 ? 300000 : 2000);
			p = kmem_alloc(size, KM_SLEEP);
			memset(p, (unsigned char)size, size);
		}
		if (r % 2 == 0) {
			keep[slot] = p;
			ksize[slot] = size;
			continue;
		}
		/* Cross-thread: the neighbour frees it. */
		mailbox_t *mb = &boxes[(me + 1) % NTHREADS];
		pthread_mutex_lock(&mb->lock);
		if (mb->n < MAILBOX) {
			mb->buf[mb->n] = p;
			mb->size[mb->n++] = size;
			p = NULL;
		}
		pthread_mutex_unlock(&mb->lock);
		if (p != NULL)
			release(p, size);
		mb = &boxes[me];
		pthread_mutex_lock(&mb->lock);
		while (mb->n > 0) {
			mb->n--;
			release(mb->buf[mb->n], mb->size[mb->n]);
		}
		pthread_mutex_unlock(&mb->lock);
	}
	for (int i = 0; i < KEEP; i++)
		if (keep[i] != NULL)
			release(keep[i], ksize[i]);
	return (NULL);
}

static void *
reaper_main(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stress_stop, __ATOMIC_ACQUIRE)) {
		kmem_reap();
		kmem_update();
		kmi_cpu_purge_all();
	}
	return (NULL);
}

static int
cache_check(kmem_cache_t *cp, void *arg)
{
	int *bad = arg;
	if (!kmi_cache_slabs_are_valid(cp))
		(*bad)++;
	return (0);
}

static void
test_threads(void)
{
	pthread_t t[NTHREADS], reaper;
	st_ctor = st_dtor = 0;
	stress_errors = 0;
	stress_stop = 0;
	stress_cache = kmem_cache_create("t_stress", 48, 0, st_ctor_fn,
	    st_dtor_fn, NULL, NULL, NULL, 0);
	for (int i = 0; i < NTHREADS; i++) {
		pthread_mutex_init(&boxes[i].lock, NULL);
		boxes[i].n = 0;
	}
	pthread_create(&reaper, NULL, reaper_main, NULL);
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, stress_main, (void *)(intptr_t)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	__atomic_store_n(&stress_stop, 1, __ATOMIC_RELEASE);
	pthread_join(reaper, NULL);
	for (int i = 0; i < NTHREADS; i++)
		while (boxes[i].n > 0) {
			boxes[i].n--;
			release(boxes[i].buf[boxes[i].n], boxes[i].size[boxes[i].n]);
		}
	KT_EQ_U(stress_errors, 0);
	KT_EQ_U(kmem_cache_stat(stress_cache, "buf_inuse"), 0);
	KT_EQ_U(kmem_cache_stat(stress_cache, "alloc"),
	    kmem_cache_stat(stress_cache, "free"));
	int bad = 0;
	kmem_cache_walk(cache_check, &bad);
	KT_EQ_U(bad, 0);
	kmem_cache_destroy(stress_cache);
	KT_EQ_U(st_ctor, st_dtor);
	KT_EQ_U(vmem_size(kmem_oversize_arena, VMEM_ALLOC), 0);
}

KT_SUITE(stress_suite,
	{ "stress:threads:cross-free-reap", test_threads },
);
