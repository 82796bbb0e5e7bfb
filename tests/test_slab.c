/*
 * Slab layer tests: layouts, constructed-state caching, constructor
 * failure, colouring, NOTOUCH caches over identifiers, validators.
 */
#include <stdlib.h>
#include <string.h>

#include <kmem/kmem.h>
#include "../src/magazine/magazine_impl.h"
#include "harness.h"

typedef struct obj {
	uint64_t	magic;
	uint64_t	payload[5];
} obj_t;

#define OBJ_MAGIC	0x0b1ec7ed0b1ec7edULL

static uint64_t ctor_calls, dtor_calls;
static int ctor_fail_after = -1;

static int
obj_ctor(void *buf, void *priv, int kmflag)
{
	(void)kmflag;
	KT_CHECK(priv == &ctor_calls);
	if (ctor_fail_after == 0)
		return (-1);
	if (ctor_fail_after > 0)
		ctor_fail_after--;
	((obj_t *)buf)->magic = OBJ_MAGIC;
	__atomic_fetch_add(&ctor_calls, 1, __ATOMIC_RELAXED);
	return (0);
}

static void
obj_dtor(void *buf, void *priv)
{
	(void)priv;
	KT_EQ_U(((obj_t *)buf)->magic, OBJ_MAGIC);
	((obj_t *)buf)->magic = 0;
	__atomic_fetch_add(&dtor_calls, 1, __ATOMIC_RELAXED);
}

static bool
slabs_valid(kmem_cache_t *cp)
{
	return (kmi_cache_slabs_are_valid(cp));
}

static void
test_layouts(void)
{
	kmem_cache_t *small = kmem_cache_create("t_small", 40, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	kmem_cache_t *large = kmem_cache_create("t_large", 3000, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	kmem_cache_t *nohash = kmem_cache_create("t_nohash", 1000, 0, NULL,
	    NULL, NULL, NULL, NULL, KMC_NOHASH);

	KT_EQ_U(kmem_cache_stat(small, "chunk_size"), 40);
	KT_EQ_U(kmem_cache_stat(small, "slab_size"), 4096);
	KT_EQ_U(kmem_cache_stat(small, "hash_size"), 0);
	KT_CHECK(kmem_cache_stat(large, "hash_size") >= 64);
	/* A large slab wastes at most 1/8. */
	uint64_t ss = kmem_cache_stat(large, "slab_size");
	uint64_t cs = kmem_cache_stat(large, "chunk_size");
	KT_CHECK((ss - (ss / cs) * cs) * 8 <= ss);
	KT_EQ_U(kmem_cache_stat(nohash, "hash_size"), 0);

	kmem_cache_t *caches[] = { small, large, nohash };
	for (int c = 0; c < 3; c++) {
		void *bufs[300];
		for (int i = 0; i < 300; i++) {
			bufs[i] = kmem_cache_alloc(caches[c], KM_SLEEP);
			memset(bufs[i], 0xa5, kmem_cache_stat(caches[c],
			    "buf_size"));
		}
		KT_EQ_U(kmem_cache_stat(caches[c], "buf_inuse"), 300);
		KT_CHECK(slabs_valid(caches[c]));
		for (int i = 0; i < 300; i++)
			kmem_cache_free(caches[c], bufs[i]);
		KT_EQ_U(kmem_cache_stat(caches[c], "buf_inuse"), 0);
		KT_CHECK(slabs_valid(caches[c]));
		kmem_cache_destroy(caches[c]);
	}
}

/* A buffer is constructed once and destroyed when its slab goes. */
/* A hashed cache's table comes with its first slab, not at creation. */
static void
test_hash_lazy(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_hash_lazy", 16384, 0, NULL,
	    NULL, NULL, NULL, NULL, 0);

	KT_CHECK(cp->cache_flags & KMF_HASH);
	KT_CHECK(cp->cache_hash_table == NULL);
	kmem_cache_reap_now(cp);		/* no table: nothing to do */
	kmem_update();
	void *a = kmem_cache_alloc(cp, KM_SLEEP);
	KT_CHECK(cp->cache_hash_table != NULL);
	kmem_cache_free(cp, a);
	KT_CHECK(slabs_valid(cp));
	kmem_cache_destroy(cp);
}

/*
 * Hashed caches' first tables (512 bytes) share pages in kmem_hash: eight
 * of them take at most two pages of it (one page each took eight before),
 * and go back when their caches do.
 */
static void
test_hash_packed(void)
{
	enum { N = 9 };		/* the first sets up the tables of the */
	kmem_cache_t *caches[N];	/* caches its slabs come from */
	void *bufs[N];
	size_t used = 0, spans = 0;

	for (int i = 0; i < N; i++) {
		caches[i] = kmem_cache_create("t_hash_packed", 16384, 0, NULL,
		    NULL, NULL, NULL, NULL, 0);
		bufs[i] = kmem_cache_alloc(caches[i], KM_SLEEP);
		KT_CHECK(caches[i]->cache_hash_table != NULL);
		if (i == 0) {
			used = vmem_size(kmem_hash_arena, VMEM_ALLOC);
			spans = vmem_size(kmem_hash_arena,
			    VMEM_ALLOC | VMEM_FREE);
		}
	}
	KT_EQ_U(vmem_size(kmem_hash_arena, VMEM_ALLOC) - used,
	    (N - 1) * (caches[0]->cache_hash_mask + 1) * sizeof (void *));
	KT_CHECK(vmem_size(kmem_hash_arena, VMEM_ALLOC | VMEM_FREE) - spans <=
	    2 * kmem_plat_pagesize());
	for (int i = N - 1; i >= 0; i--) {
		kmem_cache_free(caches[i], bufs[i]);
		KT_CHECK(slabs_valid(caches[i]));
		kmem_cache_destroy(caches[i]);
		if (i == 1)
			KT_EQ_U(vmem_size(kmem_hash_arena, VMEM_ALLOC), used);
	}
}

static void
test_ctor_once(void)
{
	ctor_calls = dtor_calls = 0;
	kmem_cache_t *cp = kmem_cache_create("t_ctor", sizeof (obj_t), 0,
	    obj_ctor, obj_dtor, NULL, &ctor_calls, NULL, 0);
	enum { N = 1000 };
	obj_t **objs = malloc(N * sizeof (obj_t *));

	uint64_t first_round = 0;
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < N; i++) {
			objs[i] = kmem_cache_alloc(cp, KM_SLEEP);
			KT_EQ_U(objs[i]->magic, OBJ_MAGIC);
		}
		for (int i = 0; i < N; i++)
			kmem_cache_free(cp, objs[i]);
		if (round == 0)
			first_round = ctor_calls;
	}
	/* At most a fill's worth constructed ahead, never reconstructed. */
	KT_CMP_U(first_round, >=, N);
	KT_CMP_U(first_round, <=, N + KMEM_FILL_MAX);
	KT_EQ_U(ctor_calls, first_round);	/* not 5 * N */
	KT_EQ_U(dtor_calls, 0);
	KT_EQ_U(kmem_cache_stat(cp, "ctor_calls"), ctor_calls);
	KT_EQ_U(kmem_cache_stat(cp, "buf_constructed"), ctor_calls);
	kmem_cache_reap_now(cp);
	/* Reaping destroys only slabs that are entirely free. */
	KT_EQ_U(kmem_cache_stat(cp, "dtor_calls"), dtor_calls);
	KT_CHECK(slabs_valid(cp));
	kmem_cache_destroy(cp);
	KT_EQ_U(dtor_calls, ctor_calls);
	free(objs);
}

static void
test_ctor_fail(void)
{
	ctor_calls = dtor_calls = 0;
	kmem_cache_t *cp = kmem_cache_create("t_ctorfail", sizeof (obj_t), 0,
	    obj_ctor, obj_dtor, NULL, &ctor_calls, NULL, KMC_NOMAGAZINE);
	ctor_fail_after = 3;
	void *a[3];
	for (int i = 0; i < 3; i++)
		a[i] = kmem_cache_alloc(cp, KM_NOSLEEP);
	KT_CHECK(kmem_cache_alloc(cp, KM_NOSLEEP) == NULL);
	KT_EQ_U(kmem_cache_stat(cp, "alloc_fail"), 1);
	KT_EQ_U(kmem_cache_stat(cp, "buf_inuse"), 3);
	ctor_fail_after = -1;
	void *b = kmem_cache_alloc(cp, KM_NOSLEEP);	/* the raw chunk again */
	KT_CHECK(b != NULL && ((obj_t *)b)->magic == OBJ_MAGIC);
	kmem_cache_free(cp, b);
	for (int i = 0; i < 3; i++)
		kmem_cache_free(cp, a[i]);
	KT_CHECK(slabs_valid(cp));
	kmem_cache_destroy(cp);
	KT_EQ_U(ctor_calls, 4);
	KT_EQ_U(dtor_calls, 4);
}

static void
test_color_align(void)
{
	for (size_t align = 8; align <= 4096; align *= 2) {
		kmem_cache_t *cp = kmem_cache_create("t_align", 100, align,
		    NULL, NULL, NULL, NULL, NULL, KMC_NOMAGAZINE);
		for (int i = 0; i < 50; i++) {
			void *p = kmem_cache_alloc(cp, KM_SLEEP);
			KT_EQ_U((uintptr_t)p % align, 0);
			kmem_cache_free(cp, p);
		}
		kmem_cache_destroy(cp);
	}
	/* Successive slabs of a small-buffer cache start at different offsets. */
	kmem_cache_t *cp = kmem_cache_create("t_color", 200, 64, NULL, NULL,
	    NULL, NULL, NULL, KMC_NOMAGAZINE);
	void *first[4];
	int per_slab = (4096 - (int)sizeof (kmem_slab_t)) / 256;
	void **all = malloc(sizeof (void *) * (size_t)(4 * per_slab));
	for (int i = 0; i < 4 * per_slab; i++)
		all[i] = kmem_cache_alloc(cp, KM_SLEEP);
	int distinct = 0;
	for (int s = 0; s < 4; s++) {
		first[s] = all[s * per_slab];
		uintptr_t off = (uintptr_t)first[s] % 4096;
		bool seen = false;
		for (int t = 0; t < s; t++)
			seen |= (uintptr_t)first[t] % 4096 == off;
		distinct += !seen;
	}
	KT_CHECK(distinct >= 2);
	for (int i = 0; i < 4 * per_slab; i++)
		kmem_cache_free(cp, all[i]);
	free(all);
	kmem_cache_destroy(cp);
}

/* A cache over an identifier arena never touches its "buffers". */
static void
test_notouch_ids(void)
{
	vmem_t *ids = vmem_create("t_idspace", (void *)1, 100000, 1, NULL,
	    NULL, NULL, 0, VMC_IDENTIFIER);
	kmem_cache_t *cp = kmem_cache_create("t_idcache", 1, 1, NULL, NULL,
	    NULL, NULL, ids, 0);
	uintptr_t got[1000];
	for (int i = 0; i < 1000; i++) {
		got[i] = (uintptr_t)kmem_cache_alloc(cp, KM_SLEEP);
		KT_CHECK(got[i] >= 1 && got[i] < 100001);
	}
	for (int i = 1; i < 1000; i++)
		KT_CHECK(got[i] != got[i - 1]);
	for (int i = 0; i < 1000; i++)
		kmem_cache_free(cp, (void *)got[i]);
	kmem_cache_destroy(cp);
	KT_EQ_U(vmem_size(ids, VMEM_ALLOC), 0);
	vmem_destroy(ids);
}

static int
walk_find(kmem_cache_t *cp, void *arg)
{
	return (cp == arg);
}

static void
test_destroy_not_empty(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_leaky", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	void *p = kmem_cache_alloc(cp, KM_SLEEP);
	KT_CHECK(kmem_cache_walk(walk_find, cp));
	kmem_cache_destroy(cp);		/* warns: not empty */
	KT_CHECK(!kmem_cache_walk(walk_find, cp));
	memset(p, 0, 64);		/* its slab was kept for the client */
}


/* Sizes and alignments no layout can hold, and a cache destroyed twice. */
static void
bad_size_max(void)
{
	(void)kmem_cache_create("t_huge", SIZE_MAX, 0, NULL, NULL, NULL, NULL,
	    NULL, 0);
}

static void
bad_size_near_max(void)
{
	(void)kmem_cache_create("t_huge", SIZE_MAX - 100, 0, NULL, NULL, NULL,
	    NULL, NULL, 0);
}

static void
bad_align(void)
{
	(void)kmem_cache_create("t_align", 64, (size_t)1 << 63, NULL, NULL,
	    NULL, NULL, NULL, 0);
}

static void
bad_destroy_twice(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_twice", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	kmem_cache_destroy(cp);
	kmem_cache_destroy(cp);
}

static void
bad_nohash_ids(void)
{
	vmem_t *ids = vmem_create("t_nohash_ids", (void *)1, 100000, 1, NULL,
	    NULL, NULL, 0, VMC_IDENTIFIER);
	(void)kmem_cache_create("t_nohash", 1, 1, NULL, NULL, NULL, NULL, ids,
	    KMC_NOHASH);
}

static void
test_bad_args(void)
{
	KT_EXPECT_PANIC(bad_nohash_ids, "kmem_cache_create: 't_nohash': "
	    "KMC_NOHASH on an arena of identifiers");
	KT_EXPECT_PANIC(bad_size_max, "kmem_cache_create: 't_huge': bufsize "
	    "18446744073709551615 is too large");
	KT_EXPECT_PANIC(bad_size_near_max, "kmem_cache_create: 't_huge': "
	    "bufsize 18446744073709551515 is too large");
	KT_EXPECT_PANIC(bad_align, "kmem_cache_create: 't_align': bad "
	    "alignment 9223372036854775808");
	KT_EXPECT_PANIC(bad_destroy_twice, "): not a cache (destroyed twice?)");
	/* Far beyond memory but laid out fine: creating works. */
	kmem_cache_t *cp = kmem_cache_create("t_tera", (size_t)1 << 40, 0,
	    NULL, NULL, NULL, NULL, NULL, 0);
	KT_CHECK(cp != NULL && kmem_cache_alloc(cp, KM_NOSLEEP) == NULL);
	kmem_cache_destroy(cp);
}

KT_SUITE(slab_suite,
	{ "slab:layout:small-large-nohash", test_layouts },
	{ "slab:hash:lazy-table", test_hash_lazy },
	{ "slab:hash:packed", test_hash_packed },
	{ "slab:ctor:constructed-once", test_ctor_once },
	{ "slab:ctor:failure", test_ctor_fail },
	{ "slab:layout:color-align", test_color_align },
	{ "slab:notouch:identifiers", test_notouch_ids },
	{ "slab:destroy:not-empty", test_destroy_not_empty },
	{ "slab:create:bad-args", test_bad_args },
);
