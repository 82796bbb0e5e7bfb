/*
 * NetBSD pool(9) and pool_cache(9) on kmem.
 *
 * Theory of operation
 * -------------------
 * A pool is a kmem object cache of its own (pr_cache), named by the
 * pool's wchan, so pool_get() and pool_put() are kmem_cache_alloc() and
 * kmem_cache_free() with PR_NOWAIT translated to KM_NOSLEEP: kmem's
 * per-CPU magazines are the pool's per-CPU cache, safe where sleeping is
 * not (a kernel's interrupts: the busy flag of each per-CPU record).  A
 * pool cache is a pool whose object cache has the constructor and the
 * destructor, so constructed state survives put and get and the
 * destructor runs only when kmem gives the object's memory back.
 *
 * Pages come from kmem's default arena, or, for a custom struct
 * pool_allocator, from a vmem arena whose spans are the allocator's pages
 * one at a time (pool_page_import()); the object cache's slabs are then
 * exactly one page.  The arena's source is an empty arena that only names
 * the pool (vmem's import functions take no argument).
 *
 * Requests, releases, failures and pages are kmem's own counts of the
 * object cache, adjusted for the low-water reserve (a get's failure is
 * kmem's to count, so the inline pool_cache_get() checks nothing).  The fast paths (pr_fast) go
 * straight to the object cache; a pool with a hard limit, a low-water or
 * a high-water mark takes the slow path, under kmi_bsd_pool_lock:
 *   hard limit	pr_nout counts items out exactly; at the limit PR_NOWAIT
 *		(or PR_LIMITFAIL) fails, with the warning at most once per
 *		ratecap seconds, and PR_WAITOK sleeps until an item is put;
 *   low water	pr_reserve keeps that many free items (taken with
 *		KM_NOSLEEP, refilled by puts): a PR_NOWAIT get that kmem
 *		cannot serve at once gets one;
 *   high water	every 32 puts, if the cache holds more free items than
 *		the mark, its magazines and empty slabs are given back.
 * pool_prime() allocates and frees items, so their pages exist now.
 *
 * A waiting get from a pool with its own page allocator asks the
 * allocator with PR_WAITOK when it has no page at once (vmem's imports
 * never wait): the page is left in pr_spare for the next import.
 */
#include "bsd_impl.h"

#define POOL_MAGIC	0x706f6f6cUL	/* "pool" */
#define POOL_HIWAT_EVERY 32

struct pool *kmem_bsd_pools;		/* every pool; kmi_bsd_pool_lock */
struct pool_cache *kmem_bsd_pool_caches;
kmem_lock_t kmi_bsd_pool_lock = KMEM_LOCK_INIT;
static kmem_cv_t pool_cv;		/* limit waiters */
static bool pool_cv_ready;

/* ---- page allocators ---- */

static void *
pool_page_alloc_kmem(struct pool *pp, int flags)
{
	(void)pp;
	return (vmem_alloc(kmem_default_arena, kmem_plat_pagesize(),
	    (flags & PR_NOWAIT) ? VM_NOSLEEP : VM_SLEEP));
}

static void
pool_page_free_kmem(struct pool *pp, void *page)
{
	(void)pp;
	vmem_free(kmem_default_arena, page, kmem_plat_pagesize());
}

struct pool_allocator pool_allocator_kmem = {
	pool_page_alloc_kmem, pool_page_free_kmem, 0 };
struct pool_allocator pool_allocator_nointr = {
	pool_page_alloc_kmem, pool_page_free_kmem, 0 };
struct pool_allocator pool_allocator_meta = {
	pool_page_alloc_kmem, pool_page_free_kmem, 0 };

static bool
pool_allocator_is_kmem(const struct pool_allocator *pa)
{
	return (pa == NULL || pa == &pool_allocator_kmem ||
	    pa == &pool_allocator_nointr || pa == &pool_allocator_meta);
}

static size_t
pool_pagesz(const struct pool *pp)
{
	return (pool_allocator_is_kmem(pp->pr_alloc) ||
	    pp->pr_alloc->pa_pagesz == 0 ? kmem_plat_pagesize() :
	    pp->pr_alloc->pa_pagesz);
}

/* The pool whose arena imports from src. */
static struct pool *
pool_of_source(vmem_t *src)
{
	kmem_lock_enter(&kmi_bsd_pool_lock);
	struct pool *pp = kmem_bsd_pools;
	while (pp != NULL && pp->pr_source != src)
		pp = pp->pr_next;
	kmem_lock_exit(&kmi_bsd_pool_lock);
	if (pp == NULL)
		kmi_panic("pool: no pool for page arena %p", (void *)src);
	return (pp);
}

/* One page from the pool's allocator (vmem imports never wait). */
static void *
pool_page_import(vmem_t *src, size_t size, int vmflag)
{
	struct pool *pp = pool_of_source(src);
	size_t pagesz = pool_pagesz(pp);

	(void)vmflag;
	if (size != pagesz)
		return (NULL);
	/* A page a waiting get asked for (pool_get_page()) goes first. */
	void *page = kmem_exchange(&pp->pr_spare, NULL);
	if (page == NULL)
		page = pp->pr_alloc->pa_alloc(pp, PR_NOWAIT);
	if (page != NULL && ((uintptr_t)page & (pagesz - 1)) != 0)
		kmi_panic("pool_get: [%s] pa_alloc returned %p, not aligned "
		    "to its page size %zu", pp->pr_wchan, page, pagesz);
	return (page);
}

static void
pool_page_release(vmem_t *src, void *page, size_t size)
{
	struct pool *pp = pool_of_source(src);

	(void)size;
	pp->pr_alloc->pa_free(pp, page);
}

/* fork(2): the child's waiters are gone, its condition variable new. */
void
kmi_bsd_pool_fork_child(void)
{
	if (pool_cv_ready)
		kmi_cv_init(&pool_cv);
	for (struct pool *pp = kmem_bsd_pools; pp != NULL; pp = pp->pr_next)
		pp->pr_waiters = 0;
}

/* ---- set-up ---- */

static void
pool_fast_update(struct pool *pp)
{
	kmem_store_release(&pp->pr_fast, pp->pr_hardlimit == 0 &&
	    pp->pr_minitems == 0 && pp->pr_maxitems == 0 &&
	    pp->pr_arena == NULL ? pp->pr_cache : NULL);
}

static void
pool_check(const struct pool *pp, const char *fn)
{
	if (pp == NULL || pp->pr_magic != POOL_MAGIC)
		kmi_panic("%s: %p is not an initialised pool", fn,
		    (const void *)pp);
}

static int
pool_ctor(void *buf, void *private, int kmflag)
{
	pool_cache_t pc = private;

	return (pc->pc_ctor(pc->pc_arg, buf, (kmflag & KM_NOSLEEP) ?
	    PR_NOWAIT : PR_WAITOK));
}

static void
pool_dtor(void *buf, void *private)
{
	pool_cache_t pc = private;

	pc->pc_dtor(pc->pc_arg, buf);
}

/*
 * Is pp a pool already?  Its own memory is not read: pool_init() is
 * given an uninitialised struct pool, as in NetBSD, whose bytes say
 * nothing (and a memory checker would rightly object to reading them).
 */
static bool
pool_is_listed(const struct pool *pp)
{
	kmem_lock_enter(&kmi_bsd_pool_lock);
	const struct pool *p = kmem_bsd_pools;
	while (p != NULL && p != pp)
		p = p->pr_next;
	kmem_lock_exit(&kmi_bsd_pool_lock);
	return (p != NULL);
}

static void
pool_setup(struct pool *pp, size_t size, unsigned int align,
    unsigned int align_offset, int flags, const char *wchan,
    struct pool_allocator *palloc, int ipl, pool_cache_t pc)
{
	if (pool_is_listed(pp))
		kmi_panic("pool_init: pool %s already initialised", wchan);
	if (align_offset != 0)
		kmi_panic("pool_init: [%s] align_offset %u is not supported",
		    wchan, align_offset);
	if (align != 0 && !IS_P2(align))
		kmi_panic("pool_init: [%s] alignment %u is not a power of 2",
		    wchan, align);
	if (!kmem_face_init())
		kmi_panic("pool_init: kmem could not start (see kmem_init(9))");
	kmi_bsd_face_init();
	memset(pp, 0, sizeof (*pp));
	pp->pr_wchan = wchan;
	pp->pr_size = kmem_max(size, 1);
	pp->pr_align = align;
	pp->pr_flags = flags;
	pp->pr_ipl = ipl;
	pp->pr_alloc = palloc;
	pp->pr_pc = pc;

	vmem_t *arena = kmem_default_arena;
	size_t slabsize = 0;
	if (!pool_allocator_is_kmem(palloc)) {
		size_t pagesz = pool_pagesz(pp);
		if (!IS_P2(pagesz) || pagesz < 64)
			kmi_panic("pool_init: [%s] page size %zu is not a power "
			    "of 2 of at least 64", wchan, pagesz);
		if (pp->pr_size > pagesz)
			kmi_panic("pool_init: [%s] pool item size (%zu) larger "
			    "than page size (%zu)", wchan, pp->pr_size,
			    pagesz);
		if (align > pagesz)
			kmi_panic("pool_init: [%s] alignment %u larger than "
			    "page size (%zu)", wchan, align, pagesz);
		pp->pr_source = vmem_create(wchan, NULL, 0, pagesz, NULL, NULL,
		    NULL, 0, VM_SLEEP);
		kmem_lock_enter(&kmi_bsd_pool_lock);
		pp->pr_next = kmem_bsd_pools;	/* imports look it up */
		kmem_bsd_pools = pp;
		kmem_lock_exit(&kmi_bsd_pool_lock);
		arena = pp->pr_arena = vmem_create(wchan, NULL, 0, pagesz,
		    pool_page_import, pool_page_release, pp->pr_source, 0,
		    VM_SLEEP);
		slabsize = pagesz;
	}
	int cflags = (flags & (PR_NOTOUCH | PR_PSERIALIZE)) ? KMC_NOTOUCH : 0;
	pp->pr_cache = kmem_face_cache_create(wchan, pp->pr_size, align,
	    pc != NULL && pc->pc_ctor != NULL ? pool_ctor : NULL,
	    pc != NULL && pc->pc_dtor != NULL ? pool_dtor : NULL,
	    pc != NULL ? (void *)pc : (void *)pp, arena, cflags, slabsize);
	if (pp->pr_cache == NULL && slabsize != 0)
		kmi_panic("pool_init: [%s] pool item size (%zu) and kmem's "
		    "per-item overhead (a constructor's link, KMEM_DEBUG's "
		    "tag) do not fit a page of %zu bytes", wchan, pp->pr_size,
		    slabsize);
	if (pp->pr_cache == NULL)
		kmi_panic("pool_init: [%s] no memory for its cache", wchan);
	kmem_lock_enter(&kmi_bsd_pool_lock);
	if (pp->pr_arena == NULL) {
		pp->pr_next = kmem_bsd_pools;
		kmem_bsd_pools = pp;
	}
	if (!pool_cv_ready) {
		kmi_cv_init(&pool_cv);
		pool_cv_ready = true;
	}
	pp->pr_magic = POOL_MAGIC;
	pool_fast_update(pp);
	kmem_lock_exit(&kmi_bsd_pool_lock);
}

void
pool_init(struct pool *pp, size_t size, unsigned int align,
    unsigned int align_offset, int flags, const char *wchan,
    struct pool_allocator *palloc, int ipl)
{
	pool_setup(pp, size, align, align_offset, flags, wchan, palloc, ipl,
	    NULL);
}

/* ---- statistics (kmem's counts of the cache, and the reserve's) ---- */

/*
 * Gets that returned NULL: kmem's failures of the cache, less those the
 * reserve rescued and those that were no get's (the reserve's refills, a
 * waiting get's tries, priming), plus the hard limit's.
 */
unsigned long
kmi_bsd_pool_failures(struct pool *pp)
{
	uint64_t fails = kmem_cache_stat(pp->pr_cache, "alloc_fail") +
	    pp->pr_nfail;
	uint64_t not_gets = pp->pr_nreserve_get +
	    kmem_load_relaxed(&pp->pr_nretry);

	return ((unsigned long)(fails > not_gets ? fails - not_gets : 0));
}

unsigned int
pool_nget(struct pool *pp)
{
	pool_check(pp, "pool_nget");
	return ((unsigned int)(kmem_cache_stat(pp->pr_cache, "alloc") -
	    pp->pr_nreserve_fill - pp->pr_nprimed + pp->pr_nreserve_get));
}

unsigned int
pool_nput(struct pool *pp)
{
	pool_check(pp, "pool_nput");
	return ((unsigned int)(kmem_cache_stat(pp->pr_cache, "free") -
	    pp->pr_nreserve_drain - pp->pr_nprimed + pp->pr_nreserve_put));
}

unsigned int
pool_nfail(struct pool *pp)
{
	pool_check(pp, "pool_nfail");
	return ((unsigned int)kmi_bsd_pool_failures(pp));
}

/* Items clients hold: the cache's in use, less the reserve. */
static unsigned int
pool_out(struct pool *pp)
{
	return ((unsigned int)(kmem_cache_stat(pp->pr_cache, "buf_inuse") -
	    pp->pr_nreserve));
}

/* ---- the reserve (low water) ---- */

/* Top the reserve up to the low-water mark without sleeping. */
static void
pool_reserve_fill(struct pool *pp)
{
	for (;;) {
		kmem_lock_enter(&kmi_bsd_pool_lock);
		bool full = pp->pr_nreserve >= pp->pr_minitems;
		kmem_lock_exit(&kmi_bsd_pool_lock);
		if (full)
			return;
		void *item = kmem_cache_alloc(pp->pr_cache, KM_NOSLEEP);
		if (item == NULL) {
			kmem_fetch_add(&pp->pr_nretry, 1);
			return;
		}
		kmem_lock_enter(&kmi_bsd_pool_lock);
		if (pp->pr_nreserve < pp->pr_minitems) {
			((void **)pp->pr_reserve)[pp->pr_nreserve++] = item;
			pp->pr_nreserve_fill++;
			item = NULL;
		}
		kmem_lock_exit(&kmi_bsd_pool_lock);
		if (item != NULL) {
			kmem_cache_free(pp->pr_cache, item);
			return;
		}
	}
}

/* Give back what the reserve holds past n items. */
static void
pool_reserve_trim(struct pool *pp, unsigned int n)
{
	for (;;) {
		void *item = NULL;
		kmem_lock_enter(&kmi_bsd_pool_lock);
		if (pp->pr_nreserve > n) {
			item = ((void **)pp->pr_reserve)[--pp->pr_nreserve];
			pp->pr_nreserve_drain++;
		}
		kmem_lock_exit(&kmi_bsd_pool_lock);
		if (item == NULL)
			return;
		kmem_cache_free(pp->pr_cache, item);
	}
}

/* ---- get and put ---- */

/* The hard-limit warning, at most once per ratecap seconds. */
static void
pool_limit_warn(struct pool *pp)
{
	uint64_t now = kmem_plat_now_ns();
	uint64_t cap = (uint64_t)pp->pr_hardlimit_ratecap * 1000000000ULL;

	if (pp->pr_hardlimit_warning == NULL || (pp->pr_hardlimit_warned != 0 &&
	    now - pp->pr_hardlimit_warned < cap))
		return;
	pp->pr_hardlimit_warned = now != 0 ? now : 1;
	kmi_printf(NULL, NULL, "WARNING: %s", pp->pr_hardlimit_warning);
}

static void
pool_flags_check(const struct pool *pp, int flags, const char *fn)
{
	int how = flags & (PR_WAITOK | PR_NOWAIT);

	if (how != PR_WAITOK && how != PR_NOWAIT)
		kmi_panic("%s: [%s] flags 0x%x give %s of PR_WAITOK and "
		    "PR_NOWAIT: exactly one is required", fn, pp->pr_wchan,
		    (unsigned)flags, how == 0 ? "neither" : "both");
}

/*
 * A waiting get from a pool with its own page allocator: vmem's imports
 * never wait, so when the allocator has no page at once, ask it with
 * PR_WAITOK (it may sleep) and leave the page where the next import
 * takes it.  A failure with free buffers in the slabs is the
 * constructor's: then the get is made waiting, and its answer stands.
 */
static void *
pool_get_wait_page(struct pool *pp)
{
	for (;;) {
		void *item = kmem_cache_alloc(pp->pr_cache, KM_NOSLEEP);
		if (item != NULL)
			return (item);
		kmem_fetch_add(&pp->pr_nretry, 1);	/* not the get's */
		if (kmem_face_slab_free(pp->pr_cache) != 0)
			return (kmem_cache_alloc(pp->pr_cache, KM_SLEEP));
		void *page = pp->pr_alloc->pa_alloc(pp, PR_WAITOK);
		if (page == NULL) {
			kmem_plat_yield();
			continue;
		}
		if ((page = kmem_exchange(&pp->pr_spare, page)) != NULL)
			pp->pr_alloc->pa_free(pp, page);
	}
}

static KMEM_NOINLINE void *
pool_get_slow(struct pool *pp, int flags, bool tried)
{
	pool_check(pp, "pool_get");
	pool_flags_check(pp, flags, "pool_get");
	bool nowait = (flags & PR_NOWAIT) != 0;
	void *item = NULL;

	kmem_lock_enter(&kmi_bsd_pool_lock);
	bool limited = pp->pr_hardlimit != 0;
	while (limited && pp->pr_nout >= pp->pr_hardlimit) {
		if (!nowait && !(flags & PR_LIMITFAIL) &&
		    !kmem_plat_may_sleep()) {
			kmi_warn("pool_get: [%s] PR_WAITOK at the hard limit "
			    "in a context that cannot sleep", pp->pr_wchan);
			nowait = true;
		}
		if (nowait || (flags & PR_LIMITFAIL)) {
			pool_limit_warn(pp);
			pp->pr_nfail++;
			kmem_lock_exit(&kmi_bsd_pool_lock);
			return (NULL);
		}
		pp->pr_waiters++;
		kmi_cv_wait(&pool_cv, &kmi_bsd_pool_lock);
		pp->pr_waiters--;
		limited = pp->pr_hardlimit != 0;
	}
	if (limited)
		pp->pr_nout++;
	/* A PR_NOWAIT get the cache cannot serve takes from the reserve. */
	bool reserve_first = nowait && tried && pp->pr_nreserve > 0;
	if (reserve_first) {
		item = ((void **)pp->pr_reserve)[--pp->pr_nreserve];
		pp->pr_nreserve_get++;
	}
	kmem_lock_exit(&kmi_bsd_pool_lock);

	/* A pool with its own page allocator waits here, asking it. */
	if (item == NULL && !tried && !nowait && pp->pr_arena != NULL)
		item = pool_get_wait_page(pp);
	else if (item == NULL && !tried)
		item = kmem_cache_alloc(pp->pr_cache, nowait ? KM_NOSLEEP :
		    KM_SLEEP);
	if (item == NULL) {
		kmem_lock_enter(&kmi_bsd_pool_lock);
		if (pp->pr_nreserve > 0) {
			item = ((void **)pp->pr_reserve)[--pp->pr_nreserve];
			pp->pr_nreserve_get++;
		} else if (limited) {
			pp->pr_nout--;	/* kmem counted the failure */
		}
		kmem_lock_exit(&kmi_bsd_pool_lock);
		if (item == NULL)
			return (NULL);
	}
	if (pp->pr_minitems != 0)
		pool_reserve_fill(pp);
	if (flags & PR_ZERO)
		memset(item, 0, pp->pr_size);
	return (item);
}

void *
pool_get(struct pool *pp, int flags)
{
	kmem_cache_t *cp = kmem_load_acquire(&pp->pr_fast);

	if (KMEM_LIKELY(cp != NULL && (unsigned)(flags & (PR_WAITOK |
	    PR_NOWAIT | PR_ZERO)) - 1 < 2)) {
		void *item = kmem_cache_alloc(cp, (flags & PR_NOWAIT) ?
		    KM_NOSLEEP : KM_SLEEP);
		if (KMEM_LIKELY(item != NULL))
			return (item);
		return (pool_get_slow(pp, flags, true));
	}
	return (pool_get_slow(pp, flags, false));
}

static KMEM_NOINLINE void
pool_put_slow(struct pool *pp, void *item)
{
	pool_check(pp, "pool_put");
	if (item == NULL)
		kmi_panic("pool_put: [%s] putting NULL", pp->pr_wchan);
	kmem_lock_enter(&kmi_bsd_pool_lock);
	if (pp->pr_hardlimit != 0) {
		if (pp->pr_nout > 0)
			pp->pr_nout--;
		if (pp->pr_waiters != 0)
			kmi_cv_broadcast(&pool_cv);
	}
	bool kept = pp->pr_nreserve < pp->pr_minitems;
	if (kept) {
		((void **)pp->pr_reserve)[pp->pr_nreserve++] = item;
		pp->pr_nreserve_put++;
	}
	bool check = pp->pr_maxitems != 0 &&
	    ++pp->pr_nputs % POOL_HIWAT_EVERY == 0;
	kmem_lock_exit(&kmi_bsd_pool_lock);
	if (!kept)
		kmem_cache_free(pp->pr_cache, item);
	if (check && kmem_cache_stat(pp->pr_cache, "buf_avail") >
	    pp->pr_maxitems)
		kmem_cache_reap_now(pp->pr_cache);
}

void
pool_put(struct pool *pp, void *item)
{
	kmem_cache_t *cp = kmem_load_acquire(&pp->pr_fast);

	if (KMEM_LIKELY(cp != NULL && item != NULL))
		kmem_cache_free(cp, item);
	else
		pool_put_slow(pp, item);
}

/* ---- water marks, limits, priming, reclaiming ---- */

void
pool_setlowat(struct pool *pp, int nitems)
{
	pool_check(pp, "pool_setlowat");
	unsigned int n = nitems > 0 ? (unsigned int)nitems : 0;
	void **array = n != 0 ? kmem_alloc(n * sizeof (void *), KM_SLEEP) :
	    NULL;

	pool_reserve_trim(pp, n);
	kmem_lock_enter(&kmi_bsd_pool_lock);
	void **old = pp->pr_reserve;
	unsigned int old_n = pp->pr_minitems;
	while (pp->pr_nreserve > n) {	/* a put raced the trim */
		kmem_lock_exit(&kmi_bsd_pool_lock);
		pool_reserve_trim(pp, n);
		kmem_lock_enter(&kmi_bsd_pool_lock);
	}
	for (unsigned int i = 0; i < pp->pr_nreserve; i++)
		array[i] = old[i];
	pp->pr_reserve = array;
	pp->pr_minitems = n;
	pool_fast_update(pp);
	kmem_lock_exit(&kmi_bsd_pool_lock);
	if (old != NULL)
		kmem_free(old, old_n * sizeof (void *));
	pool_reserve_fill(pp);
}

void
pool_sethiwat(struct pool *pp, int nitems)
{
	pool_check(pp, "pool_sethiwat");
	kmem_lock_enter(&kmi_bsd_pool_lock);
	pp->pr_maxitems = nitems > 0 ? (unsigned int)nitems : 0;
	pool_fast_update(pp);
	kmem_lock_exit(&kmi_bsd_pool_lock);
}

void
pool_sethardlimit(struct pool *pp, int limit, const char *warnmess,
    int ratecap)
{
	pool_check(pp, "pool_sethardlimit");
	kmem_lock_enter(&kmi_bsd_pool_lock);
	bool was = pp->pr_hardlimit != 0;
	pp->pr_hardlimit = limit > 0 ? (unsigned int)limit : 0;
	pp->pr_hardlimit_warning = warnmess;
	pp->pr_hardlimit_ratecap = ratecap > 0 ? (unsigned int)ratecap : 0;
	pp->pr_hardlimit_warned = 0;
	pool_fast_update(pp);
	kmem_lock_exit(&kmi_bsd_pool_lock);
	/* Count what is out from now on (a get in flight may be missed). */
	if (!was && limit > 0) {
		unsigned int out = pool_out(pp);
		kmem_lock_enter(&kmi_bsd_pool_lock);
		pp->pr_nout = out;
		kmem_lock_exit(&kmi_bsd_pool_lock);
	}
	kmem_lock_enter(&kmi_bsd_pool_lock);
	kmi_cv_broadcast(&pool_cv);
	kmem_lock_exit(&kmi_bsd_pool_lock);
}

/* Pages for nitems now: allocate them and give them back. */
void
pool_prime(struct pool *pp, int nitems)
{
	pool_check(pp, "pool_prime");
	if (nitems <= 0)
		return;
	size_t n = (size_t)nitems, got = 0;
	void **items = kmem_alloc(n * sizeof (void *), KM_SLEEP);
	/* Stop at a constructor's failure: it made no item. */
	while (got < n && (items[got] = kmem_cache_alloc(pp->pr_cache,
	    KM_SLEEP)) != NULL)
		got++;
	if (got < n)
		kmem_fetch_add(&pp->pr_nretry, 1);
	for (size_t i = got; i-- > 0; )
		kmem_cache_free(pp->pr_cache, items[i]);
	kmem_free(items, n * sizeof (void *));
	kmem_lock_enter(&kmi_bsd_pool_lock);
	pp->pr_nprimed += got;
	kmem_lock_exit(&kmi_bsd_pool_lock);
	size_t ipp = kmem_face_slab_chunks(pp->pr_cache);
	kmem_lock_enter(&kmi_bsd_pool_lock);
	pp->pr_minpages = (unsigned int)((n + ipp - 1) / ipp);
	kmem_lock_exit(&kmi_bsd_pool_lock);
}

/* Give back idle pages; nonzero if any went. */
int
pool_reclaim(struct pool *pp)
{
	pool_check(pp, "pool_reclaim");
	uint64_t before = kmem_cache_stat(pp->pr_cache, "slab_destroy");
	pool_reserve_trim(pp, pp->pr_minitems);
	kmem_cache_reap_now(pp->pr_cache);
	return (kmem_cache_stat(pp->pr_cache, "slab_destroy") != before);
}

static void
pool_teardown(struct pool *pp, const char *fn)
{
	pool_check(pp, fn);
	pool_reserve_trim(pp, 0);
	unsigned int out = pool_out(pp);
	if (out != 0)
		kmi_panic("%s: [%s] pool busy: still out: %u", fn,
		    pp->pr_wchan, out);
	kmem_lock_enter(&kmi_bsd_pool_lock);
	pp->pr_magic = 0;		/* walkers skip it from now on */
	pp->pr_fast = NULL;
	kmem_lock_exit(&kmi_bsd_pool_lock);
	/* Pages go back through pool_page_release(), which finds the pool */
	/* on the list: it leaves the list last. */
	kmem_cache_destroy(pp->pr_cache);
	if (pp->pr_arena != NULL) {
		vmem_destroy(pp->pr_arena);
		vmem_destroy(pp->pr_source);
		void *spare = kmem_exchange(&pp->pr_spare, NULL);
		if (spare != NULL)
			pp->pr_alloc->pa_free(pp, spare);
	}
	kmem_lock_enter(&kmi_bsd_pool_lock);
	for (struct pool **ppp = &kmem_bsd_pools; *ppp != NULL;
	    ppp = &(*ppp)->pr_next) {
		if (*ppp == pp) {
			*ppp = pp->pr_next;
			break;
		}
	}
	kmem_lock_exit(&kmi_bsd_pool_lock);
	if (pp->pr_reserve != NULL)
		kmem_free(pp->pr_reserve, pp->pr_minitems * sizeof (void *));
	pp->pr_reserve = NULL;
	pp->pr_cache = NULL;
}

void
pool_destroy(struct pool *pp)
{
	if (pp != NULL && pp->pr_pc != NULL)
		kmi_panic("pool_destroy: [%s] belongs to a pool cache: use "
		    "pool_cache_destroy()", pp->pr_wchan);
	pool_teardown(pp, "pool_destroy");
}

/* ---- pool_cache(9) ---- */

pool_cache_t
pool_cache_init(size_t size, unsigned int align, unsigned int align_offset,
    int flags, const char *wchan, struct pool_allocator *palloc, int ipl,
    int (*ctor)(void *arg, void *obj, int flags),
    void (*dtor)(void *arg, void *obj), void *arg)
{
	if (!kmem_face_init())
		kmi_panic("pool_cache_init: kmem could not start (see "
		    "kmem_init(9))");
	pool_cache_t pc = kmem_zalloc(sizeof (*pc), KM_SLEEP);
	pc->pc_ctor = ctor;
	pc->pc_dtor = dtor;
	pc->pc_arg = arg;
	pool_setup(&pc->pc_pool, size, align, align_offset, flags, wchan,
	    palloc, ipl, pc);
	kmem_lock_enter(&kmi_bsd_pool_lock);
	pc->pc_next = kmem_bsd_pool_caches;
	kmem_bsd_pool_caches = pc;
	kmem_lock_exit(&kmi_bsd_pool_lock);
	return (pc);
}

void
pool_cache_destroy(pool_cache_t pc)
{
	if (pc == NULL || pc->pc_pool.pr_pc != pc)
		kmi_panic("pool_cache_destroy: %p is not a pool cache",
		    (void *)pc);
	kmem_lock_enter(&kmi_bsd_pool_lock);
	for (pool_cache_t *pcp = &kmem_bsd_pool_caches; *pcp != NULL;
	    pcp = &(*pcp)->pc_next) {
		if (*pcp == pc) {
			*pcp = pc->pc_next;
			break;
		}
	}
	kmem_lock_exit(&kmi_bsd_pool_lock);
	pool_teardown(&pc->pc_pool, "pool_cache_destroy");
	pc->pc_pool.pr_pc = NULL;
	kmem_free(pc, sizeof (*pc));
}

void *
pool_cache_get_paddr(pool_cache_t pc, int flags, paddr_t *pap)
{
	void *obj = pool_get(&pc->pc_pool, flags);

	if (pap != NULL)
		*pap = obj != NULL ? (paddr_t)obj : POOL_PADDR_INVALID;
	return (obj);
}

void
pool_cache_put_paddr(pool_cache_t pc, void *obj, paddr_t pa)
{
	(void)pa;
	pool_put(&pc->pc_pool, obj);
}

/* Destruct every object the cache holds (magazines, depot, slabs). */
void
pool_cache_invalidate(pool_cache_t pc)
{
	pool_check(&pc->pc_pool, "pool_cache_invalidate");
	pool_reserve_trim(&pc->pc_pool, 0);
	kmem_face_cache_destruct(pc->pc_pool.pr_cache);
	pool_reserve_fill(&pc->pc_pool);
}

void
pool_cache_reclaim(pool_cache_t pc)
{
	(void) pool_reclaim(&pc->pc_pool);
}

void
pool_cache_setlowat(pool_cache_t pc, int nitems)
{
	pool_setlowat(&pc->pc_pool, nitems);
}

void
pool_cache_sethiwat(pool_cache_t pc, int nitems)
{
	pool_sethiwat(&pc->pc_pool, nitems);
}

void
pool_cache_sethardlimit(pool_cache_t pc, int limit, const char *warnmess,
    int ratecap)
{
	pool_sethardlimit(&pc->pc_pool, limit, warnmess, ratecap);
}

void
pool_cache_prime(pool_cache_t pc, int nitems)
{
	pool_prime(&pc->pc_pool, nitems);
}

unsigned int
pool_cache_nget(pool_cache_t pc)
{
	return (pool_nget(&pc->pc_pool));
}

unsigned int
pool_cache_nput(pool_cache_t pc)
{
	return (pool_nput(&pc->pc_pool));
}
