/*
 * Memory pressure: the budget, KM_SLEEP that waits and wakes, KM_NOSLEEP
 * that reclaims, KM_NOSLEEP_LAZY that does not, the same for identifier
 * arenas, reaping, a KM_SLEEP in a context that cannot sleep, and a stress
 * run around the budget.  Each test sets the budget a few megabytes above
 * what kmem has mapped, and restores it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/kmem_posix.h>
#include "harness.h"

static size_t saved_budget;

/* Budget = what is mapped now (after a reap) + extra. */
static size_t
budget_tight(size_t extra)
{
	kmem_memstat_t ms;

	saved_budget = kmem_physmem();
	kmem_reap();
	kmem_memstat(&ms);
	size_t budget = ms.ms_mapped + extra;
	kmem_physmem_set(budget);
	return (budget);
}

static void
budget_restore(void)
{
	kmem_physmem_set(saved_budget);
}

static size_t
mapped_now(void)
{
	kmem_memstat_t ms;
	kmem_memstat(&ms);
	return (ms.ms_mapped);
}

enum { HOLD = 65536 };
static void *held[HOLD];
static size_t held_size[HOLD];

/* Allocate size-byte buffers with KM_NOSLEEP until NULL; returns count. */
static int
fill(size_t size)
{
	int n = 0;
	while (n < HOLD) {
		void *p = kmem_alloc(size, KM_NOSLEEP);
		if (p == NULL)
			break;
		memset(p, 0x33, size);
		held[n] = p;
		held_size[n++] = size;
	}
	return (n);
}

static void
release(int n)
{
	for (int i = 0; i < n; i++)
		if (held[i] != NULL)
			kmem_free(held[i], held_size[i]);
	memset(held, 0, sizeof (held));
}

static void
test_nosleep_limit(void)
{
	static const size_t sizes[] = { 256, 65536, 300000 };
	for (size_t k = 0; k < 3; k++) {
		size_t budget = budget_tight(8 << 20);
		int n = 0;
		bool within = true;
		while (n < HOLD) {
			void *p = kmem_alloc(sizes[k], KM_NOSLEEP);
			within &= mapped_now() <= budget;
			if (p == NULL)
				break;
			held[n] = p;
			held_size[n++] = sizes[k];
		}
		KT_CHECK(within);
		KT_CHECK(n < HOLD);			/* it did run out */
		KT_CMP_U((uint64_t)n * sizes[k], >=, 4 << 20);	/* not too early */
		kmem_memstat_t ms;
		kmem_memstat(&ms);
		KT_CHECK(ms.ms_fail > 0);
		KT_CMP_U(ms.ms_inuse, >=, (uint64_t)n * sizes[k]);
		/* The reserve is still there for KM_PUSHPAGE (what fits it). */
		size_t psize = sizes[k] < ms.ms_reserve / 4 ? sizes[k] :
		    ms.ms_reserve / 4;
		void *push = kmem_alloc(psize, KM_NOSLEEP | KM_PUSHPAGE);
		KT_CHECK(push != NULL);
		KT_CHECK(mapped_now() <= budget);
		kmem_free(push, psize);
		release(n);
		budget_restore();
	}
}

typedef struct sleeper {
	size_t		size;
	void		*got;
	int		done;
} sleeper_t;

static void *
sleeper_main(void *arg)
{
	sleeper_t *s = arg;
	s->got = kmem_alloc(s->size, KM_SLEEP);
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return (NULL);
}

static bool
is_done(sleeper_t *s)
{
	return (__atomic_load_n(&s->done, __ATOMIC_ACQUIRE) != 0);
}

/* A KM_SLEEP allocation waits, then succeeds when another thread frees. */
static void
test_sleep_wakes(void)
{
	budget_tight(4 << 20);
	int n = fill(65536);
	KT_CHECK(n > 0 && n < HOLD);

	sleeper_t s = { 65536, NULL, 0 };
	pthread_t t;
	pthread_create(&t, NULL, sleeper_main, &s);
	usleep(100000);
	KT_CHECK(!is_done(&s));			/* it is really waiting */
	kmem_free(held[n - 1], 65536);		/* one buffer comes back */
	held[n - 1] = NULL;
	pthread_join(t, NULL);
	KT_CHECK(s.got != NULL);
	kmem_free(s.got, 65536);
	release(n);
	budget_restore();
}

/* The freed buffer sits in this thread's magazine: still found. */
static void
test_sleep_own_cache(void)
{
	budget_tight(4 << 20);
	int n = fill(4096);
	KT_CHECK(n > 0 && n < HOLD);
	kmem_free(held[0], 4096);		/* into this thread's magazine */
	held[0] = NULL;
	sleeper_t s = { 4096, NULL, 0 };
	pthread_t t;
	pthread_create(&t, NULL, sleeper_main, &s);
	pthread_join(t, NULL);			/* no free after this point */
	KT_CHECK(s.got != NULL);
	kmem_free(s.got, 4096);
	release(n);
	budget_restore();
}

static void
test_many_sleepers(void)
{
	enum { N = 6 };
	budget_tight(4 << 20);
	int n = fill(65536);
	KT_CHECK(n >= N);
	sleeper_t s[N];
	pthread_t t[N];
	for (int i = 0; i < N; i++) {
		s[i] = (sleeper_t){ 65536, NULL, 0 };
		pthread_create(&t[i], NULL, sleeper_main, &s[i]);
	}
	usleep(100000);
	int early = 0;
	for (int i = 0; i < N; i++)
		early += is_done(&s[i]);
	KT_EQ_U(early, 0);
	for (int i = 0; i < N; i++) {		/* one buffer per sleeper */
		kmem_free(held[n - 1 - i], 65536);
		held[n - 1 - i] = NULL;
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		KT_CHECK(s[i].got != NULL);
		kmem_free(s[i].got, 65536);
	}
	release(n);
	budget_restore();
}

/* A cache whose client keeps objects it can give back when asked. */
typedef struct stash {
	kmem_cache_t	*cp;
	void		*obj[HOLD];
	int		n;
	int		calls;
} stash_t;

static void
stash_reclaim(void *private)
{
	stash_t *st = private;
	st->calls++;
	for (int i = 0; i < 16 && st->n > 0; i++)
		kmem_cache_free(st->cp, st->obj[--st->n]);
}

static void
test_reclaim_callback(void)
{
	static stash_t st;
	memset(&st, 0, sizeof (st));
	st.cp = kmem_cache_create("t_stash", 8192, 0, NULL, NULL,
	    stash_reclaim, &st, NULL, 0);
	budget_tight(4 << 20);
	st.calls = 0;		/* budget_tight()'s reap called it once */
	while (st.n < HOLD) {
		void *p = kmem_cache_alloc(st.cp, KM_NOSLEEP_LAZY);
		if (p == NULL)
			break;
		st.obj[st.n++] = p;
	}
	KT_CHECK(st.n > 0 && st.n < HOLD);
	/* Lazy: no reclaim at all, so the callback is not called. */
	KT_CHECK(kmem_cache_alloc(st.cp, KM_NOSLEEP_LAZY) == NULL);
	KT_EQ_U(st.calls, 0);
	/* NOSLEEP: reclaims, the callback frees some, the allocation works. */
	void *p = kmem_cache_alloc(st.cp, KM_NOSLEEP);
	KT_CHECK(p != NULL);
	KT_CMP_U(st.calls, >=, 1);
	kmem_cache_free(st.cp, p);
	while (st.n > 0)
		kmem_cache_free(st.cp, st.obj[--st.n]);
	budget_restore();
	kmem_cache_destroy(st.cp);
}

/* Identifier arenas: VM_NOSLEEP fails at the limit, VM_SLEEP waits. */
typedef struct id_sleeper {
	vmem_t	*vmp;
	void	*got;
	int	done;
} id_sleeper_t;

static void *
id_sleeper_main(void *arg)
{
	id_sleeper_t *s = arg;
	s->got = vmem_alloc(s->vmp, 1, VM_SLEEP);
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return (NULL);
}

static void
test_identifiers(void)
{
	for (int qcache = 0; qcache <= 1; qcache++) {
		enum { IDS = 64 };
		vmem_t *vmp = vmem_create("t_idpress", (void *)1, IDS, 1, NULL,
		    NULL, NULL, qcache ? 4 : 0, VMC_IDENTIFIER);
		void *ids[IDS];
		int n = 0;
		while (n < IDS + 1) {
			void *id = vmem_alloc(vmp, 1, VM_NOSLEEP);
			if (id == NULL)
				break;
			ids[n++] = id;
		}
		KT_EQ_U(n, IDS);	/* every identifier, then NULL */
		id_sleeper_t s = { vmp, NULL, 0 };
		pthread_t t;
		pthread_create(&t, NULL, id_sleeper_main, &s);
		usleep(100000);
		KT_EQ_U(__atomic_load_n(&s.done, __ATOMIC_ACQUIRE), 0);
		vmem_free(vmp, ids[17], 1);	/* via this thread's magazine */
		pthread_join(t, NULL);
		KT_CHECK(s.got == ids[17]);
		ids[17] = s.got;
		for (int i = 0; i < n; i++)
			vmem_free(vmp, ids[i], 1);
		kmem_reap();
		KT_EQ_U(vmem_size(vmp, VMEM_ALLOC), 0);
		vmem_destroy(vmp);
	}
}

/* A cache of identifiers whose client gives some back under pressure. */
static void
test_identifier_reclaim(void)
{
	enum { IDS = 256 };
	static stash_t st;
	memset(&st, 0, sizeof (st));
	vmem_t *vmp = vmem_create("t_idrecl", (void *)1, IDS, 1, NULL, NULL,
	    NULL, 0, VMC_IDENTIFIER);
	st.cp = kmem_cache_create("t_idstash", 1, 1, NULL, NULL, stash_reclaim,
	    &st, vmp, 0);
	while (st.n < HOLD) {
		void *id = kmem_cache_alloc(st.cp, KM_NOSLEEP_LAZY);
		if (id == NULL)
			break;
		st.obj[st.n++] = id;
	}
	KT_EQ_U(st.n, IDS);
	KT_CHECK(vmem_alloc(vmp, 1, VM_NOSLEEP | VM_NORMALPRI) == NULL);
	KT_EQ_U(st.calls, 0);
	void *id = vmem_alloc(vmp, 1, VM_NOSLEEP);	/* reclaims */
	KT_CHECK(id != NULL);
	KT_CMP_U(st.calls, >=, 1);
	vmem_free(vmp, id, 1);
	while (st.n > 0)
		kmem_cache_free(st.cp, st.obj[--st.n]);
	kmem_cache_destroy(st.cp);
	KT_EQ_U(vmem_size(vmp, VMEM_ALLOC), 0);
	vmem_destroy(vmp);
}

static uint64_t rp_ctor, rp_dtor;

static int
rp_ctor_fn(void *buf, void *priv, int flag)
{
	(void)buf, (void)priv, (void)flag;
	__atomic_fetch_add(&rp_ctor, 1, __ATOMIC_RELAXED);
	return (0);
}

static void
rp_dtor_fn(void *buf, void *priv)
{
	(void)buf, (void)priv;
	__atomic_fetch_add(&rp_dtor, 1, __ATOMIC_RELAXED);
}

/* Reaping gives back depot magazines and empty slabs; dtor once each. */
static void
test_reap(void)
{
	rp_ctor = rp_dtor = 0;
	kmem_cache_t *cp = kmem_cache_create("t_reap", 200, 0, rp_ctor_fn,
	    rp_dtor_fn, NULL, NULL, NULL, 0);
	enum { N = 4000 };	/* more than a slot's reserve keeps */
	void **b = malloc(N * sizeof (void *));
	for (int i = 0; i < N; i++)
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
	for (int i = 0; i < N; i++)
		kmem_cache_free(cp, b[i]);
	KT_CHECK(kmem_cache_stat(cp, "full_magazines") > 0);
	KT_EQ_U(kmem_cache_stat(cp, "buf_constructed"), rp_ctor);
	uint64_t total = kmem_cache_stat(cp, "buf_total");
	KT_CHECK(total >= N);
	kmem_cache_reap_now(cp);
	KT_EQ_U(kmem_cache_stat(cp, "full_magazines"), 0);
	KT_EQ_U(kmem_cache_stat(cp, "empty_magazines"), 0);
	KT_EQ_U(kmem_cache_stat(cp, "buf_total"), 0);	/* every slab freed */
	KT_CMP_U(kmem_cache_stat(cp, "slab_destroy"), >, 0);
	KT_EQ_U(rp_dtor, rp_ctor);		/* each destroyed exactly once */
	KT_EQ_U(kmem_cache_stat(cp, "buf_constructed"), 0);
	kmem_cache_destroy(cp);
	KT_EQ_U(rp_dtor, rp_ctor);
	free(b);
}

/* KM_SLEEP in a context that cannot sleep: reported, not a hang. */
static void
test_cannot_sleep(void)
{
	budget_tight(4 << 20);
	int n = fill(65536);
	kmem_posix_nosleep_enter();
	void *p = kmem_alloc(65536, KM_SLEEP);
	void *q = kmem_alloc(1 << 20, KM_SLEEP);	/* oversize: vmem */
	kmem_posix_nosleep_exit();
	KT_CHECK(p == NULL);
	KT_CHECK(q == NULL);
	release(n);
	budget_restore();
}

/*
 * Threads allocate and free around the budget for a bounded number of
 * operations.  A thread uses KM_SLEEP only while it holds nothing (so the
 * test itself cannot deadlock), KM_NOSLEEP otherwise.
 */
enum { ST_THREADS = 4, ST_KEEP = 48 };
static int st_errors;

static void *
stress_main(void *arg)
{
	uint64_t seed = 99 + (uint64_t)(uintptr_t)arg;
	void *keep[ST_KEEP] = { 0 };
	size_t ks[ST_KEEP] = { 0 };
	int nkeep = 0;
	int ops = kt_quick ? 2000 : 20000;

	for (int op = 0; op < ops; op++) {
		uint64_t r = kt_rand(&seed);
		if (nkeep > 0 && (r % 3 == 0 || nkeep == ST_KEEP)) {
			int i = (int)(r % (uint64_t)nkeep);
			unsigned char *p = keep[i];
			if (p[0] != (unsigned char)ks[i])
				__atomic_fetch_add(&st_errors, 1, __ATOMIC_RELAXED);
			kmem_free(keep[i], ks[i]);
			keep[i] = keep[--nkeep];
			ks[i] = ks[nkeep];
			continue;
		}
		size_t size = 1 + (r >> 8) % ((r & 16) ? 200000 : 8192);
		void *p = kmem_alloc(size, nkeep == 0 ? KM_SLEEP : KM_NOSLEEP);
		if (p == NULL)
			continue;
		memset(p, (unsigned char)size, size < 64 ? size : 64);
		keep[nkeep] = p;
		ks[nkeep++] = size;
	}
	while (nkeep > 0) {
		nkeep--;
		kmem_free(keep[nkeep], ks[nkeep]);
	}
	return (NULL);
}

/* Bytes clients hold in kmem_alloc buffers. */
static int
alloc_inuse_cb(kmem_cache_t *cp, void *arg)
{
	if (strncmp(kmem_cache_name(cp), "kmem_alloc_", 11) == 0)
		*(uint64_t *)arg += kmem_cache_stat(cp, "buf_inuse") *
		    kmem_cache_stat(cp, "buf_size");
	return (0);
}

static uint64_t
alloc_inuse(void)
{
	uint64_t total = 0;
	kmem_cache_walk(alloc_inuse_cb, &total);
	return (total + vmem_size(kmem_oversize_arena, VMEM_ALLOC));
}

static void
test_stress_budget(void)
{
	kmem_memstat_t before, after;
	kmem_reap();
	kmem_memstat(&before);
	uint64_t inuse_before = alloc_inuse();
	size_t budget = budget_tight(6 << 20);
	st_errors = 0;
	pthread_t t[ST_THREADS];
	for (int i = 0; i < ST_THREADS; i++)
		pthread_create(&t[i], NULL, stress_main, (void *)(uintptr_t)i);
	for (int i = 0; i < ST_THREADS; i++)
		pthread_join(t[i], NULL);
	kmem_memstat(&after);
	KT_CMP_U(after.ms_peak, >=, after.ms_mapped);
	KT_CHECK(mapped_now() <= budget);
	KT_CHECK(after.ms_fail > before.ms_fail);	/* pressure happened */
	KT_EQ_U(st_errors, 0);
	budget_restore();
	kmem_reap();
	KT_EQ_U(alloc_inuse(), inuse_before);		/* nothing lost */
	KT_EQ_U(vmem_size(kmem_oversize_arena, VMEM_ALLOC), 0);
}

KT_SUITE(pressure_suite,
	{ "pressure:budget:nosleep-limit", test_nosleep_limit },
	{ "pressure:sleep:wakes-on-free", test_sleep_wakes },
	{ "pressure:sleep:own-magazine", test_sleep_own_cache },
	{ "pressure:sleep:many-sleepers", test_many_sleepers },
	{ "pressure:reclaim:callback", test_reclaim_callback },
	{ "pressure:vmem:identifiers", test_identifiers },
	{ "pressure:vmem:identifier-reclaim", test_identifier_reclaim },
	{ "pressure:reap:magazines-slabs", test_reap },
	{ "pressure:sleep:cannot-sleep", test_cannot_sleep },
	{ "pressure:stress:budget", test_stress_budget },
);
