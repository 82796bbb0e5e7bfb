/*
 * NetBSD's allocator family on kmem, as a NetBSD kernel source uses it:
 * kmem(9) with NetBSD's flags (linked with an illumos-style source),
 * pool(9) with hard limits, water marks and custom page allocators,
 * pool_cache(9) with constructors, uvm_km(9), the vmstat tables, and the
 * pool DIAGNOSTIC messages under KMEM_DEBUG (kmem_bsd_helper).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmem/kmem_posix.h>
#include <kmem/bsd/netbsd_kmem.h>
#include <kmem/bsd/pool.h>
#include <kmem/bsd/uvm_km.h>

#include "harness.h"

/* kmem's own, for the checks (its header cannot come in here). */
void kmem_cache_mtbf(struct kmem_cache *cp, unsigned mtbf);
uint64_t kmem_cache_stat(struct kmem_cache *cp, const char *name);
void *kt_illumos_alloc(size_t size);
void kt_illumos_free(void *buf, size_t size);

/* ---- kmem(9) ---- */

static void
test_kmem_flags(void)
{
	for (size_t size = 1; size <= (1 << 20); size *= 3) {
		char *a = kmem_alloc(size, KM_SLEEP);
		char *b = kmem_zalloc(size, KM_NOSLEEP);
		KT_CHECK(a != NULL && b != NULL);
		size_t nonzero = 0;
		for (size_t i = 0; i < size; i++)
			nonzero += b[i] != 0;
		KT_EQ_U(nonzero, 0);
		memset(a, 1, size);
		kmem_free(a, size);
		kmem_free(b, size);
		void *c = kmem_intr_zalloc(size, KM_NOSLEEP);
		KT_CHECK(c != NULL);
		kmem_intr_free(c, size);
	}
}

/* A NetBSD-style and an illumos-style source, one kmem. */
static void
test_kmem_link_both(void)
{
	char *n = kmem_alloc(100, KM_SLEEP);
	char *i = kt_illumos_alloc(100);

	memset(n, 'n', 100);
	KT_CHECK(i[99] == 'i');
	kmem_free(i, 100);
	kt_illumos_free(n, 100);
}

static void size_zero(void) { (void) kmem_alloc(0, KM_SLEEP); }
static void no_flag(void) { (void) kmem_alloc(8, 0); }
static void both_flags(void) { (void) kmem_alloc(8, KM_SLEEP | KM_NOSLEEP); }
static void free_null(void) { kmem_free(NULL, 8); }
static void free_size_zero(void) { kmem_free(kmem_alloc(8, KM_SLEEP), 0); }
static void strfree_null(void) { kmem_strfree(NULL); }

static void
test_kmem_panics(void)
{
	KT_EXPECT_PANIC(size_zero, "kmem_alloc(0, 0x1): size 0 is not allowed");
	KT_EXPECT_PANIC(no_flag, "exactly one of KM_SLEEP and KM_NOSLEEP");
	KT_EXPECT_PANIC(both_flags, "kmem_alloc(8, 0x3): exactly one");
	KT_EXPECT_PANIC(free_null, "kmem_free(0x0, 8): freeing NULL");
	KT_EXPECT_PANIC(free_size_zero, "size 0 (NetBSD kmem(9))");
	KT_EXPECT_PANIC(strfree_null, "freeing NULL");
}

static void
test_kmem_strings(void)
{
	char *s = kmem_asprintf("%s-%d-%x-%i-%X-%zu-%c", "net", -7, 255u, 42,
	    0xabcu, (size_t)12, 'z');
	KT_CHECK(strcmp(s, "net--7-ff-42-ABC-12-z") == 0);
	kmem_strfree(s);
	s = kmem_asprintf("%s", "");
	KT_CHECK(s != NULL && s[0] == '\0');
	kmem_strfree(s);
	size_t size = 0;
	s = kmem_strdupsize("bsd", &size, KM_SLEEP);
	KT_CHECK(strcmp(s, "bsd") == 0);
	KT_EQ_U(size, 4);
	kmem_free(s, size);
	s = kmem_strdup("pool", KM_NOSLEEP);
	KT_CHECK(strcmp(s, "pool") == 0);
	kmem_strfree(s);
	s = kmem_strndup("abcdef", 3, KM_SLEEP);
	KT_CHECK(strcmp(s, "abc") == 0);
	kmem_strfree(s);
	s = kmem_strndup("ab", 10, KM_SLEEP);
	KT_CHECK(strcmp(s, "ab") == 0);
	kmem_strfree(s);
}

/* ---- pool(9) ---- */

struct item {
	uint64_t	it_a, it_b;
	char		it_pad[40];
};

static void
test_pool_basic(void)
{
	struct pool pool;
	void *v[500];

	memset(&pool, 0xa5, sizeof (pool));	/* embedded, uninitialised */
	pool.pr_magic = 0;
	pool_init(&pool, sizeof (struct item), 64, 0, 0, "ktestpl", NULL,
	    IPL_NONE);
	for (int i = 0; i < 500; i++) {
		v[i] = pool_get(&pool, i % 2 ? PR_WAITOK : PR_NOWAIT);
		KT_CHECK(v[i] != NULL && ((uintptr_t)v[i] & 63) == 0);
		memset(v[i], 0xff, sizeof (struct item));
	}
	KT_EQ_U(pool_nget(&pool), 500);
	for (int i = 0; i < 500; i++)
		pool_put(&pool, v[i]);
	KT_EQ_U(pool_nput(&pool), 500);
	struct item *z = pool_get(&pool, PR_WAITOK | PR_ZERO);
	KT_CHECK(z->it_a == 0 && z->it_b == 0 && z->it_pad[39] == 0);
	pool_put(&pool, z);
	KT_CMP_U(kmem_cache_stat(pool.pr_cache, "slab_create"), >=, 1);
	(void) pool_reclaim(&pool);
	KT_EQ_U(kmem_cache_stat(pool.pr_cache, "buf_inuse"), 0);
	pool_destroy(&pool);
	KT_EQ_U(pool.pr_magic, 0);
}

static struct pool busy_pool;

static void
destroy_busy(void)
{
	pool_init(&busy_pool, 32, 0, 0, 0, "busypl", NULL, IPL_NONE);
	(void) pool_get(&busy_pool, PR_WAITOK);
	pool_destroy(&busy_pool);
}

static void
init_twice(void)
{
	pool_init(&busy_pool, 32, 0, 0, 0, "twicepl", NULL, IPL_NONE);
	pool_init(&busy_pool, 32, 0, 0, 0, "twicepl", NULL, IPL_NONE);
}

static void
get_no_flags(void)
{
	pool_init(&busy_pool, 32, 0, 0, 0, "flagpl", NULL, IPL_NONE);
	(void) pool_get(&busy_pool, PR_ZERO);
}

static void
get_uninitialised(void)
{
	struct pool never;

	memset(&never, 0, sizeof (never));
	(void) pool_get(&never, PR_WAITOK);
}

static void
test_pool_panics(void)
{
	KT_EXPECT_PANIC(destroy_busy, "pool_destroy: [busypl] pool busy: "
	    "still out: 1");
	KT_EXPECT_PANIC(init_twice, "pool_init: pool twicepl already "
	    "initialised");
	KT_EXPECT_PANIC(get_no_flags, "neither of PR_WAITOK and PR_NOWAIT");
	KT_EXPECT_PANIC(get_uninitialised, "is not an initialised pool");
}

static struct pool limit_pool;
static volatile int limit_woke;

static void *
limit_getter(void *arg)
{
	void **out = arg;

	*out = pool_get(&limit_pool, PR_WAITOK);
	__atomic_store_n(&limit_woke, 1, __ATOMIC_RELEASE);
	return (NULL);
}

static void
limit_warns_once(void)
{
	pool_init(&limit_pool, 64, 0, 0, 0, "warnpl", NULL, IPL_NONE);
	pool_sethardlimit(&limit_pool, 2, "warnpl: limit reached", 3600);
	(void) pool_get(&limit_pool, PR_WAITOK);
	(void) pool_get(&limit_pool, PR_WAITOK);
	for (int i = 0; i < 5; i++)
		if (pool_get(&limit_pool, PR_NOWAIT) != NULL)
			_exit(2);
	_exit(0);
}

/* The hard limit: NULL for PR_NOWAIT and PR_LIMITFAIL, sleep otherwise. */
static void
test_pool_hardlimit(void)
{
	void *v[8], *got = NULL;
	pthread_t t;

	pool_init(&limit_pool, 64, 0, 0, 0, "limitpl", NULL, IPL_NONE);
	pool_sethardlimit(&limit_pool, 8, NULL, 0);
	for (int i = 0; i < 8; i++)
		KT_CHECK((v[i] = pool_get(&limit_pool, PR_NOWAIT)) != NULL);
	KT_CHECK(pool_get(&limit_pool, PR_NOWAIT) == NULL);
	KT_CHECK(pool_get(&limit_pool, PR_WAITOK | PR_LIMITFAIL) == NULL);
	KT_EQ_U(pool_nfail(&limit_pool), 2);
	limit_woke = 0;
	pthread_create(&t, NULL, limit_getter, &got);
	usleep(100000);
	KT_CHECK(!__atomic_load_n(&limit_woke, __ATOMIC_ACQUIRE));
	pool_put(&limit_pool, v[0]);
	for (int i = 0; i < 2000 &&
	    !__atomic_load_n(&limit_woke, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	KT_CHECK(__atomic_load_n(&limit_woke, __ATOMIC_ACQUIRE));
	pthread_join(t, NULL);
	KT_CHECK(got != NULL);
	v[0] = got;
	/* Lifting the limit: every get succeeds again. */
	pool_sethardlimit(&limit_pool, 0, NULL, 0);
	void *extra = pool_get(&limit_pool, PR_NOWAIT);
	KT_CHECK(extra != NULL);
	pool_put(&limit_pool, extra);
	for (int i = 0; i < 8; i++)
		pool_put(&limit_pool, v[i]);
	pool_destroy(&limit_pool);

	/* The warning: at most once per ratecap seconds. */
	int status = 0;
	char *out = kt_run_child(limit_warns_once, &status);
	KT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	const char *first = out != NULL ? strstr(out, "WARNING: warnpl: "
	    "limit reached") : NULL;
	KT_CHECK(first != NULL && strstr(first + 1, "WARNING") == NULL);
}

/* Low water: a reserve PR_NOWAIT gets use when kmem fails them. */
static void
test_pool_lowat(void)
{
	struct pool pool;
	void *v[20];

	memset(&pool, 0, sizeof (pool));
	pool_init(&pool, 100, 0, 0, 0, "lowatpl", NULL, IPL_NONE);
	pool_setlowat(&pool, 16);
	KT_EQ_U(pool.pr_nreserve, 16);
	KT_EQ_U(pool_nget(&pool), 0);		/* the reserve is not a get */
	kmem_cache_mtbf(pool.pr_cache, 1);	/* every KM_NOSLEEP fails */
	for (int i = 0; i < 16; i++)
		KT_CHECK((v[i] = pool_get(&pool, PR_NOWAIT)) != NULL);
	KT_CHECK(pool_get(&pool, PR_NOWAIT) == NULL);
	KT_EQ_U(pool_nfail(&pool), 1);
	KT_EQ_U(pool_nget(&pool), 16);
	kmem_cache_mtbf(pool.pr_cache, 0);
	KT_CHECK((v[16] = pool_get(&pool, PR_WAITOK)) != NULL);
	for (int i = 0; i <= 16; i++)
		pool_put(&pool, v[i]);
	KT_EQ_U(pool.pr_nreserve, 16);		/* puts refilled it */
	KT_EQ_U(pool_nget(&pool) - pool_nput(&pool), 0);
	pool_setlowat(&pool, 0);
	KT_EQ_U(pool.pr_nreserve, 0);
	pool_destroy(&pool);
}

/* High water: free items past it go back; prime makes pages now. */
static void
test_pool_hiwat_prime(void)
{
	struct pool pool;
	void *v[400];

	memset(&pool, 0, sizeof (pool));
	pool_init(&pool, 200, 0, 0, 0, "hiwatpl", NULL, IPL_NONE);
	pool_prime(&pool, 300);
	KT_CMP_U(kmem_cache_stat(pool.pr_cache, "buf_total"), >=, 300);
	KT_CMP_U(pool.pr_minpages, >=, 1);
	pool_sethiwat(&pool, 8);
	for (int i = 0; i < 400; i++)
		v[i] = pool_get(&pool, PR_WAITOK);
	for (int i = 0; i < 400; i++)
		pool_put(&pool, v[i]);
	KT_CMP_U(kmem_cache_stat(pool.pr_cache, "buf_avail"), <, 300);
	KT_CMP_U(kmem_cache_stat(pool.pr_cache, "slab_destroy"), >, 0);
	pool_destroy(&pool);
}

/* A custom page allocator: every page comes from it and goes back. */
static int pages_out, pages_alloc;

static void *
test_page_alloc(struct pool *pp, int flags)
{
	(void)pp;
	(void)flags;
	void *p = aligned_alloc(8192, 8192);
	if (p != NULL) {
		__atomic_add_fetch(&pages_out, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&pages_alloc, 1, __ATOMIC_RELAXED);
	}
	return (p);
}

static void
test_page_free(struct pool *pp, void *page)
{
	(void)pp;
	__atomic_sub_fetch(&pages_out, 1, __ATOMIC_RELAXED);
	free(page);
}

static struct pool_allocator test_allocator = {
	test_page_alloc, test_page_free, 8192 };

static void
test_pool_allocator(void)
{
	struct pool pool;
	void *v[300];

	memset(&pool, 0, sizeof (pool));
	pool_init(&pool, 120, 0, 0, 0, "pagepl", &test_allocator, IPL_VM);
	for (int i = 0; i < 300; i++) {
		v[i] = pool_get(&pool, PR_WAITOK);
		KT_CHECK(v[i] != NULL);
	}
	KT_CMP_U(pages_alloc, >=, 300 * 120 / 8192);
	KT_EQ_U(kmem_cache_stat(pool.pr_cache, "slab_size"), 8192);
	for (int i = 0; i < 300; i++)
		pool_put(&pool, v[i]);
	pool_destroy(&pool);
	KT_EQ_U(pages_out, 0);
}

/* ---- pool_cache(9) ---- */

typedef struct ctor_counts {
	int	cc_ctor, cc_dtor;
	bool	cc_refuse_nowait;
} ctor_counts_t;

#define OBJ_MAGIC	0x6f626a21u

static int
obj_ctor(void *arg, void *obj, int flags)
{
	ctor_counts_t *cc = arg;

	if (cc->cc_refuse_nowait && (flags & PR_NOWAIT))
		return (12);
	*(uint32_t *)obj = OBJ_MAGIC;
	__atomic_add_fetch(&cc->cc_ctor, 1, __ATOMIC_RELAXED);
	return (0);
}

static void
obj_dtor(void *arg, void *obj)
{
	ctor_counts_t *cc = arg;

	KT_CHECK(*(uint32_t *)obj == OBJ_MAGIC);
	*(uint32_t *)obj = 0;
	__atomic_add_fetch(&cc->cc_dtor, 1, __ATOMIC_RELAXED);
}

static void
test_pool_cache_ctor(void)
{
	ctor_counts_t cc = { 0, 0, false };
	pool_cache_t pc = pool_cache_init(96, 32, 0, 0, "objpc", NULL,
	    IPL_NONE, obj_ctor, obj_dtor, &cc);
	void *v[100];
	paddr_t pa;

	for (int i = 0; i < 100; i++) {
		v[i] = pool_cache_get_paddr(pc, PR_WAITOK, &pa);
		KT_CHECK(v[i] != NULL && *(uint32_t *)v[i] == OBJ_MAGIC);
		KT_CHECK(pa == (paddr_t)v[i]);
	}
	int made = cc.cc_ctor;
	KT_CMP_U(made, >=, 100);
	for (int i = 0; i < 100; i++)
		pool_cache_put(pc, v[i]);
	/* Constructed state survives put and get: no new constructions. */
	for (int i = 0; i < 50; i++) {
		v[i] = pool_cache_get(pc, PR_NOWAIT);
		KT_CHECK(v[i] != NULL && *(uint32_t *)v[i] == OBJ_MAGIC);
	}
	KT_EQ_U(cc.cc_ctor, made);
	KT_EQ_U(cc.cc_dtor, 0);
	/* Invalidate: everything cached is destructed, what is out stays. */
	pool_cache_invalidate(pc);
	KT_EQ_U(cc.cc_ctor - cc.cc_dtor, 50);
	for (int i = 0; i < 50; i++)
		pool_cache_put_paddr(pc, v[i], POOL_PADDR_INVALID);
	KT_EQ_U(pool_cache_nget(pc) - pool_cache_nput(pc), 0);
	KT_EQ_U(pool_cache_nget(pc), 150);
	pool_cache_destroy(pc);
	KT_EQ_U(cc.cc_ctor, cc.cc_dtor);
}

/* A constructor may fail under PR_NOWAIT: the get returns NULL. */
static void
test_pool_cache_ctor_fails(void)
{
	ctor_counts_t cc = { 0, 0, true };
	pool_cache_t pc = pool_cache_init(64, 0, 0, 0, "failpc", NULL,
	    IPL_NONE, obj_ctor, obj_dtor, &cc);

	KT_CHECK(pool_cache_get(pc, PR_NOWAIT) == NULL);
	void *obj = pool_cache_get(pc, PR_WAITOK);
	KT_CHECK(obj != NULL && *(uint32_t *)obj == OBJ_MAGIC);
	pool_cache_put(pc, obj);
	pool_cache_destroy(pc);
	KT_EQ_U(cc.cc_ctor, cc.cc_dtor);
}

/* Limits on a pool cache go through the same slow path. */
static void
test_pool_cache_limit(void)
{
	pool_cache_t pc = pool_cache_init(64, 0, 0, 0, "limpc", NULL,
	    IPL_NONE, NULL, NULL, NULL);
	void *v[4];

	pool_cache_sethardlimit(pc, 4, NULL, 0);
	for (int i = 0; i < 4; i++)
		v[i] = pool_cache_get(pc, PR_NOWAIT);
	KT_CHECK(pool_cache_get(pc, PR_NOWAIT) == NULL);
	for (int i = 0; i < 4; i++)
		pool_cache_put(pc, v[i]);
	pool_cache_sethardlimit(pc, 0, NULL, 0);
	pool_cache_setlowat(pc, 4);
	pool_cache_sethiwat(pc, 64);
	pool_cache_prime(pc, 32);
	void *o = pool_cache_get(pc, PR_WAITOK | PR_ZERO);
	KT_CHECK(o != NULL && ((char *)o)[63] == 0);
	pool_cache_put(pc, o);
	pool_cache_reclaim(pc);
	pool_cache_setlowat(pc, 0);
	pool_cache_destroy(pc);
}

enum { PC_THREADS = 4, PC_ROUNDS = 20000 };
static pool_cache_t threads_pc;
static void *handoff[PC_THREADS][64];

static void *
pc_worker(void *arg)
{
	int me = (int)(intptr_t)arg;

	for (int r = 0; r < PC_ROUNDS / 64; r++) {
		for (int i = 0; i < 64; i++) {
			void *obj = pool_cache_get(threads_pc, PR_WAITOK);
			void *prev = __atomic_exchange_n(&handoff[me][i], obj,
			    __ATOMIC_ACQ_REL);
			if (prev != NULL)
				pool_cache_put(threads_pc, prev);
		}
		/* Put some of the next thread's objects: cross-CPU puts. */
		int victim = (me + 1) % PC_THREADS;
		void *prev = __atomic_exchange_n(&handoff[victim][r % 64],
		    NULL, __ATOMIC_ACQ_REL);
		if (prev != NULL)
			pool_cache_put(threads_pc, prev);
	}
	return (NULL);
}

static void
test_pool_cache_threads(void)
{
	ctor_counts_t cc = { 0, 0, false };
	pthread_t t[PC_THREADS];

	threads_pc = pool_cache_init(48, 0, 0, 0, "threadpc", NULL, IPL_NONE,
	    obj_ctor, obj_dtor, &cc);
	for (int i = 0; i < PC_THREADS; i++)
		pthread_create(&t[i], NULL, pc_worker, (void *)(intptr_t)i);
	for (int i = 0; i < PC_THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < PC_THREADS; i++)
		for (int j = 0; j < 64; j++)
			if (handoff[i][j] != NULL) {
				pool_cache_put(threads_pc, handoff[i][j]);
				handoff[i][j] = NULL;
			}
	KT_EQ_U(pool_cache_nget(threads_pc), PC_THREADS * (PC_ROUNDS / 64) *
	    64);
	KT_EQ_U(pool_cache_nget(threads_pc), pool_cache_nput(threads_pc));
	pool_cache_destroy(threads_pc);
	KT_EQ_U(cc.cc_ctor, cc.cc_dtor);
}

/* ---- uvm_km(9) ---- */

static size_t
rss_pages(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	size_t size = 0, rss = 0;

	if (f != NULL) {
		if (fscanf(f, "%zu %zu", &size, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return (rss);
}

static void
uvm_bad_type(void)
{
	(void) uvm_km_alloc(kernel_map, 4096, 0, UVM_KMF_WIRED |
	    UVM_KMF_PAGEABLE);
}

static void
uvm_wrong_free(void)
{
	vaddr_t va = uvm_km_alloc(kernel_map, 4096, 0, UVM_KMF_WIRED);
	uvm_km_free(kernel_map, va, 4096, UVM_KMF_PAGEABLE);
}

static void
uvm_bad_align(void)
{
	(void) uvm_km_alloc(kernel_map, 4096, 100, UVM_KMF_WIRED);
}

static void
test_uvm_km(void)
{
	vaddr_t w = uvm_km_alloc(kernel_map, 3 * 4096 + 1, 16384,
	    UVM_KMF_WIRED | UVM_KMF_ZERO);
	KT_CHECK(w != 0 && (w & 16383) == 0);
	size_t nonzero = 0;
	for (size_t i = 0; i < 4 * 4096; i++)
		nonzero += ((char *)w)[i] != 0;
	KT_EQ_U(nonzero, 0);
	memset((void *)w, 0x5a, 4 * 4096);
	uvm_km_free(kernel_map, w, 3 * 4096 + 1, UVM_KMF_WIRED);

	vaddr_t p = uvm_km_alloc(kernel_map, 8 * 4096, 0, UVM_KMF_PAGEABLE);
	KT_CHECK(p != 0 && ((char *)p)[8 * 4096 - 1] == 0);
	uvm_km_free(kernel_map, p, 8 * 4096, UVM_KMF_PAGEABLE);

	/* Address space only: 256 MiB that use no memory. */
	size_t before = rss_pages();
	vaddr_t va = uvm_km_alloc(kernel_map, 256 << 20, 1 << 21,
	    UVM_KMF_VAONLY);
	KT_CHECK(va != 0 && (va & ((1 << 21) - 1)) == 0);
	KT_CMP_U(rss_pages(), <, before + 1024);
	uvm_km_free(kernel_map, va, 256 << 20, UVM_KMF_VAONLY);

	/* Failure instead of waiting or panicking. */
	KT_EQ_U(uvm_km_alloc(kernel_map, (vsize_t)1 << 46, 0, UVM_KMF_WIRED |
	    UVM_KMF_CANFAIL), 0);
	KT_EQ_U(uvm_km_alloc(kernel_map, (vsize_t)1 << 46, 0, UVM_KMF_WIRED |
	    UVM_KMF_NOWAIT), 0);
	KT_EQ_U(uvm_km_alloc(kernel_map, SIZE_MAX - 100, 0, UVM_KMF_PAGEABLE |
	    UVM_KMF_CANFAIL), 0);
	KT_EXPECT_PANIC(uvm_bad_type, "exactly one of UVM_KMF_WIRED");
	KT_EXPECT_PANIC(uvm_wrong_free, "not a uvm_km_pageable allocation");
	KT_EXPECT_PANIC(uvm_bad_align, "alignment 100 is not a multiple");
}

/* ---- vmstat ---- */

static void
test_vmstat(void)
{
	struct pool pool;
	kt_capture_t cap = { 0 };
	ctor_counts_t cc = { 0, 0, false };
	pool_cache_t pc = pool_cache_init(64, 0, 0, 0, "statpc", NULL,
	    IPL_NONE, obj_ctor, obj_dtor, &cc);
	void *v[10];

	memset(&pool, 0, sizeof (pool));
	pool_init(&pool, 72, 0, 0, 0, "statpl", NULL, IPL_NONE);
	for (int i = 0; i < 10; i++)
		v[i] = pool_get(&pool, PR_WAITOK);
	for (int i = 0; i < 3; i++)
		pool_put(&pool, v[i]);
	pool_cache_put(pc, pool_cache_get(pc, PR_WAITOK));

	kmem_vmstat_m(kt_capture_line, &cap);
	KT_CHECK(strstr(cap.kc_buf, "Memory resource pool statistics\n"
	    "Name        Size Requests Fail Releases Pgreq Pgrel Npage Hiwat "
	    "Minpg Maxpg Idle\n") != NULL);
	char *line = strstr(cap.kc_buf, "\nstatpl ");
	unsigned long size = 0, req = 0, fail = 0, rel = 0;
	KT_CHECK(line != NULL && sscanf(line + 1, "statpl %lu %lu %lu %lu",
	    &size, &req, &fail, &rel) == 4);
	KT_EQ_U(size, 72);
	KT_EQ_U(req, 10);
	KT_EQ_U(fail, 0);
	KT_EQ_U(rel, 3);
	KT_CHECK(strstr(cap.kc_buf, "\nstatpc ") != NULL);
	KT_CHECK(strstr(cap.kc_buf, "In use ") != NULL);
	kt_capture_reset(&cap);
	kmem_vmstat_c(kt_capture_line, &cap);
	KT_CHECK(strstr(cap.kc_buf, "Pool cache statistics.\nName          "
	    "Spin GrpSz Full Emty PoolLayer CacheLayer  Hit%    CpuLayer  "
	    "Hit%\n") != NULL);
	KT_CHECK(strstr(cap.kc_buf, "\nstatpc ") != NULL);
	KT_CHECK(strstr(cap.kc_buf, "\nstatpl ") == NULL);	/* a pool */
	kt_capture_free(&cap);
	for (int i = 3; i < 10; i++)
		pool_put(&pool, v[i]);
	pool_destroy(&pool);
	pool_cache_destroy(pc);
}

/* ---- DIAGNOSTIC, in a process under KMEM_DEBUG ---- */

static void
test_diagnostic(void)
{
	static const struct {
		const char	*what;
		const char	*bsd;
		const char	*kmem;
	} cases[] = {
		{ "pool-dupput", "pool_put: [diagpl] 0x", "duplicate free" },
		{ "pool-modified", "pool_get: [diagpl] free list modified: "
		    "magic=", "buffer modified after being freed" },
		{ "pool-redzone", "pool_redzone_check: [diagpl] 0x",
		    "redzone violation" },
	};

	for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++) {
		char *argv[] = { "kmem_bsd_helper", (char *)cases[i].what,
		    NULL };
		char *envp[] = { "KMEM_DEBUG=default,nosignal", NULL };
		int status = 0;
		char *out = kt_run_helper("kmem_bsd_helper", argv, envp,
		    &status);
		char *b = out != NULL ? strstr(out, cases[i].bsd) : NULL;
		bool ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
		    b != NULL && strstr(b, cases[i].kmem) != NULL;
#if defined(KMEM_TRACK_ASAN)
		if (strcmp(cases[i].what, "pool-modified") == 0)
			ok = out != NULL && strstr(out, "AddressSanitizer") !=
			    NULL;
#endif
		if (!KT_CHECK(ok))
			printf("    %s (status 0x%x): %s\n", cases[i].what,
			    status, out != NULL ? out : "(nothing)");
	}
}

/* ---- from a new user's adversarial testing ---- */

static size_t var_pagesz = 4096;
static volatile int var_failing, var_calls;

static void *
var_page_alloc(struct pool *pp, int flags)
{
	(void)pp;
	(void)flags;
	__atomic_add_fetch(&var_calls, 1, __ATOMIC_RELAXED);
	if (__atomic_load_n(&var_failing, __ATOMIC_ACQUIRE))
		return (NULL);
	return (aligned_alloc(var_pagesz, var_pagesz));
}

static void
var_page_free(struct pool *pp, void *page)
{
	(void)pp;
	free(page);
}

static struct pool_allocator var_allocator = {
	var_page_alloc, var_page_free, 0 };

/* Every item size up to a page, on pages of 64 bytes to 8 KiB. */
static void
test_pool_allocator_sizes(void)
{
	static const size_t pages[] = { 64, 256, 1024, 4096, 8192 };

	for (size_t pg = 0; pg < sizeof (pages) / sizeof (pages[0]); pg++) {
		var_pagesz = pages[pg];
		var_allocator.pa_pagesz = (unsigned)pages[pg];
		for (size_t size = 8; size <= pages[pg] / 2; size *= 2) {
			for (size_t delta = 0; delta < 2; delta++) {
				struct pool pool;
				memset(&pool, 0, sizeof (pool));
				pool_init(&pool, size - delta * 4, 0, 0, 0,
				    "varpl", &var_allocator, IPL_NONE);
				void *a = pool_get(&pool, PR_NOWAIT);
				void *b = pool_get(&pool, PR_WAITOK);
				if (!KT_CHECK(a != NULL && b != NULL))
					printf("    page %zu item %zu\n",
					    pages[pg], size - delta * 4);
				if (a != NULL)
					pool_put(&pool, a);
				if (b != NULL)
					pool_put(&pool, b);
				pool_destroy(&pool);
			}
		}
	}
	var_pagesz = 4096;
	var_allocator.pa_pagesz = 0;
}

static int
ok_ctor(void *arg, void *obj, int flags)
{
	(void)arg;
	(void)flags;
	*(int *)obj = 1;
	return (0);
}

static void
page_item_with_ctor(void)
{
	var_allocator.pa_pagesz = 4096;
	(void) pool_cache_init(4096, 0, 0, 0, "fullpc", &var_allocator,
	    IPL_NONE, ok_ctor, NULL, NULL);
}

static void *
var_recover(void *arg)
{
	(void)arg;
	usleep(200000);
	__atomic_store_n(&var_failing, 0, __ATOMIC_RELEASE);
	return (NULL);
}

/* A waiting get asks a failing allocator again until it recovers. */
static void
test_pool_allocator_recovers(void)
{
	struct pool pool;
	pthread_t t;

	memset(&pool, 0, sizeof (pool));
	pool_init(&pool, 64, 0, 0, 0, "transpl", &var_allocator, IPL_NONE);
	var_failing = 1;
	KT_CHECK(pool_get(&pool, PR_NOWAIT) == NULL);
	pthread_create(&t, NULL, var_recover, NULL);
	void *item = pool_get(&pool, PR_WAITOK);
	pthread_join(t, NULL);
	KT_CHECK(item != NULL);
	pool_put(&pool, item);
	pool_destroy(&pool);
	KT_EXPECT_PANIC(page_item_with_ctor, "do not fit a page of 4096 "
	    "bytes");
}

static int fail_ctor_on;

static int
maybe_ctor(void *arg, void *obj, int flags)
{
	(void)arg;
	(void)flags;
	if (__atomic_load_n(&fail_ctor_on, __ATOMIC_ACQUIRE))
		return (12);
	*(int *)obj = 1;
	return (0);
}

static void
put_null(void)
{
	pool_cache_t pc = pool_cache_init(64, 0, 0, 0, "nullpc", NULL,
	    IPL_NONE, NULL, NULL, NULL);
	pool_cache_put(pc, NULL);
}

/* Failing constructors: nothing NULL is cached, and the counts say so. */
static void
test_pool_cache_failing_ctor(void)
{
	pool_cache_t pc = pool_cache_init(64, 0, 0, 0, "primepc", NULL,
	    IPL_NONE, maybe_ctor, NULL, NULL);

	fail_ctor_on = 1;
	pool_cache_prime(pc, 4);
	KT_CHECK(pool_cache_get(pc, PR_WAITOK) == NULL);
	KT_CHECK(pool_cache_get(pc, PR_NOWAIT) == NULL);
	KT_EQ_U(pool_nfail(&pc->pc_pool), 2);
	KT_EQ_U(pool_cache_nget(pc), 0);
	KT_EQ_U(pool_cache_nput(pc), 0);
	fail_ctor_on = 0;
	void *o = pool_cache_get(pc, PR_WAITOK);
	KT_CHECK(o != NULL && *(int *)o == 1);
	pool_cache_put(pc, o);
	KT_EQ_U(pool_cache_nget(pc), 1);
	pool_cache_destroy(pc);
	KT_EXPECT_PANIC(put_null, "pool_put: [nullpc] putting NULL");
}

static void
va_impossible(void)
{
	(void) uvm_km_alloc(kernel_map, (vsize_t)1 << 47, 0, UVM_KMF_VAONLY);
}

static void
test_uvm_va_impossible(void)
{
	KT_EQ_U(uvm_km_alloc(kernel_map, (vsize_t)1 << 47, 0,
	    UVM_KMF_VAONLY | UVM_KMF_CANFAIL), 0);
	KT_EXPECT_PANIC(va_impossible, "no address space for");
}

/* PR_WAITOK at a hard limit where sleeping is not allowed: NULL. */
static void
test_pool_limit_nosleep(void)
{
	struct pool pool;

	memset(&pool, 0, sizeof (pool));
	pool_init(&pool, 32, 0, 0, 0, "nosleeppl", NULL, IPL_NONE);
	pool_sethardlimit(&pool, 1, NULL, 0);
	void *a = pool_get(&pool, PR_WAITOK);
	kmem_posix_nosleep_enter();
	void *b = pool_get(&pool, PR_WAITOK);
	kmem_posix_nosleep_exit();
	KT_CHECK(a != NULL && b == NULL);
	pool_put(&pool, a);
	pool_destroy(&pool);
}

/* kmem_asprintf formats as the C library does, argument by argument. */
static void
test_kmem_formats(void)
{
	char want[160];
	char *s;

#define FMT_CHECK(...) do {						\
	s = kmem_asprintf(__VA_ARGS__);					\
	snprintf(want, sizeof (want), __VA_ARGS__);			\
	if (!KT_CHECK(strcmp(s, want) == 0))				\
		printf("    kmem [%s] C [%s]\n", s, want);		\
	kmem_strfree(s);						\
} while (0)
	FMT_CHECK("%.2s|%d", "abc", 5);
	FMT_CHECK("%hd %s", (short)1, "x");
	FMT_CHECK("%5.2d|%-5d|%05d|%+d|% d", 3, 4, -5, 6, 7);
	FMT_CHECK("%#x %#o %o %X %#X", 255u, 8u, 8u, 0xabcu, 0xabcu);
	FMT_CHECK("%jd %td %zu %hhd %lld", (intmax_t)-9, (ptrdiff_t)-3,
	    (size_t)7, (char)100, -1LL);
	FMT_CHECK("%*d|%-*d|%.*s|%*.*d", 5, 1, 5, 2, 2, "hello", 6, 3, 4);
	FMT_CHECK("%.0d|%.0x|%5.0d|%.3d|%8.3d", 0, 0u, 0, -5, 5);
	FMT_CHECK("%lu %ld %li 100%%", 123ul, -5l, 6l);
	FMT_CHECK("[%#.0o] [%#o] [%#.5o] [%#x] [%#.0x]", 0u, 0u, 8u, 0u, 0u);
#undef FMT_CHECK
}

/*
 * pool_init() takes an uninitialised struct pool (garbage in it is
 * fine: it is never read), and panics on one initialised already.
 */
static void
pool_init_twice(void)
{
	static struct pool twice;

	pool_init(&twice, 32, 0, 0, 0, "t_twice", NULL, IPL_NONE);
	pool_init(&twice, 32, 0, 0, 0, "t_twice", NULL, IPL_NONE);
}

static void
test_pool_init_garbage(void)
{
	struct pool *pp = malloc(sizeof (*pp));

	memset(pp, 0xa5, sizeof (*pp));
	pool_init(pp, 40, 0, 0, 0, "t_garbage", NULL, IPL_NONE);
	void *item = pool_get(pp, PR_WAITOK);
	KT_CHECK(item != NULL);
	pool_put(pp, item);
	pool_destroy(pp);
	free(pp);
	KT_EXPECT_PANIC(pool_init_twice,
	    "pool_init: pool t_twice already initialised");
}

KT_SUITE(netbsd_suite,
	{ "netbsd:kmem:flags", test_kmem_flags },
	{ "netbsd:pool:init-garbage", test_pool_init_garbage },
	{ "netbsd:kmem:link-both", test_kmem_link_both },
	{ "netbsd:kmem:panics", test_kmem_panics },
	{ "netbsd:kmem:strings", test_kmem_strings },
	{ "netbsd:pool:basic", test_pool_basic },
	{ "netbsd:pool:panics", test_pool_panics },
	{ "netbsd:pool:hardlimit", test_pool_hardlimit },
	{ "netbsd:pool:lowat", test_pool_lowat },
	{ "netbsd:pool:hiwat-prime", test_pool_hiwat_prime },
	{ "netbsd:pool:allocator", test_pool_allocator },
	{ "netbsd:pool_cache:ctor", test_pool_cache_ctor },
	{ "netbsd:pool_cache:ctor-fails", test_pool_cache_ctor_fails },
	{ "netbsd:pool_cache:limits", test_pool_cache_limit },
	{ "netbsd:pool_cache:threads", test_pool_cache_threads },
	{ "netbsd:uvm_km:types", test_uvm_km },
	{ "netbsd:stats:vmstat", test_vmstat },
	{ "netbsd:diagnostic:messages", test_diagnostic },
	{ "netbsd:pool:allocator-sizes", test_pool_allocator_sizes },
	{ "netbsd:pool:allocator-recovers", test_pool_allocator_recovers },
	{ "netbsd:pool_cache:failing-ctor", test_pool_cache_failing_ctor },
	{ "netbsd:uvm_km:va-impossible", test_uvm_va_impossible },
	{ "netbsd:pool:limit-nosleep", test_pool_limit_nosleep },
	{ "netbsd:kmem:formats", test_kmem_formats },
);
