/*
 * BSD malloc types: registration, limits, statistics and the DIAGNOSTIC
 * messages, shared by malloc(9) and kmalloc(9) (malloc.c).
 *
 * Theory of operation
 * -------------------
 * A type is a handle, struct malloc_type, that MALLOC_DEFINE() initialises
 * statically with M_MAGIC and its descriptions.  It is registered on first
 * use (or by malloc_type_attach()): it gets a run of kmem's per-CPU
 * counters and joins kmem_bsd_types, the list vmstat -m walks.  A handle
 * without M_MAGIC is "malloc - bogus type".
 *
 * Counting shares nothing on the fast path: each allocation and free adds
 * to this CPU's counters in the same busy section that takes the buffer
 * from (or puts it in) the magazine.  In use and memory in use are sums of
 * those counters, exact when the writers are quiet.  The high-water mark
 * is sampled: whenever an allocation misses the magazines (once per
 * magazine of allocations) the counters are summed -- unless another
 * thread holds the per-CPU records' lock, then that sample is skipped --
 * and every read raises it to the sum too.  A sample is the memory in use
 * at that moment, so the mark can miss a peak between samples but does
 * not pass the real one.
 *
 * A limit (malloc_type_setlimit(), kmalloc_raise_limit(),
 * MALLOC_DEFINE_LIMIT()) makes the type's accounting exact: each
 * allocation reserves its bytes in ks_reserved under kmi_bsd_type_lock
 * before it allocates, and a request that would pass the limit fails
 * (M_NOWAIT, M_NULLOK) or sleeps until memory of the type is freed.
 * Types without a limit take no lock.  A request larger than the limit
 * itself can never be satisfied: it fails, or panics as "malloc:
 * allocation too large" does.  A thread that may not sleep
 * (kmem_plat_may_sleep()) is told so and gets NULL instead of waiting.
 *
 * The face's locks are held across fork(2) (bsd_fork_*()), as kmem's are.
 */
#include "bsd_impl.h"

kmem_lock_t kmi_bsd_type_lock = KMEM_LOCK_INIT;
/*
 * Walks in progress (malloc_type_walk(), the vmstat printers): each calls
 * its function on types taken off the list under the lock, with the lock
 * dropped; malloc_type_detach() waits until none is left, so that a type
 * unloaded with its module is never read after it returns.
 */
static uint32_t type_walkers;
static kmem_cv_t type_walk_cv = KMEM_CV_INIT;
static kmem_cv_t bsd_limit_cv;
static bool bsd_limit_cv_ready;		/* kmi_bsd_type_lock */
struct malloc_type *kmem_bsd_types;	/* registered; kmi_bsd_type_lock */

#define X(name, shortdesc, longdesc)	MALLOC_DEFINE(name, shortdesc, longdesc);
#include "malloc_types.def"
#undef X

void
kmi_bsd_type_bogus(const struct malloc_type *type, const char *fn)
{
	kmi_panic("malloc - bogus type: %s: %p is not a malloc type (no "
	    "M_MAGIC: never defined with MALLOC_DEFINE(), or overwritten)",
	    fn, (const void *)type);
}

/* The fast paths' key follows registration and the limit (the lock). */
static void
type_fast_update(struct malloc_type *type)
{
	kmem_store_release(&type->ks_fast, type->ks_registered &&
	    type->ks_limit == 0 ? type->ks_counters : 0);
}

/*
 * Register type (its first use): counters, and a place on the list.
 * false if it is not a type at all.
 */
bool
kmi_bsd_type_register(struct malloc_type *type, const char *fn)
{
	if (type == NULL || kmem_load_relaxed(&type->ks_magic) != M_MAGIC)
		return (false);
	if (!kmem_face_init())
		kmi_panic("%s: kmem could not start (see kmem_init(9))", fn);
	kmi_bsd_face_init();
	kmem_lock_enter(&kmi_bsd_type_lock);
	if (!type->ks_registered) {
		uint32_t ctr = type->ks_counters;
		if (ctr == 0)
			ctr = kmem_face_counters(MALLOC_TYPE_NCOUNTERS);
		if (ctr == 0)
			kmi_panic("%s: no counters left for malloc type %s "
			    "(too many types)", fn, type->ks_shortdesc);
		kmem_store_release(&type->ks_counters, ctr);
		type->ks_next = kmem_bsd_types;
		kmem_bsd_types = type;
		type->ks_registered = 1;
		type_fast_update(type);
	}
	kmem_lock_exit(&kmi_bsd_type_lock);
	return (true);
}

/* The slow paths' view of a type: its counters; panics if it is none. */
uint32_t
kmi_bsd_type_check(struct malloc_type *type, const char *fn)
{
	if (type == NULL || kmem_load_relaxed(&type->ks_magic) != M_MAGIC)
		kmi_bsd_type_bogus(type, fn);
	if (!kmem_load_acquire(&type->ks_registered))
		(void) kmi_bsd_type_register(type, fn);
	return (type->ks_counters);
}

void
malloc_type_attach(struct malloc_type *type)
{
	if (!kmi_bsd_type_register(type, "malloc_type_attach"))
		kmi_bsd_type_bogus(type, "malloc_type_attach");
}

/*
 * A module's types go when it is unloaded: off the list (its counters
 * stay its own, should it come back).  Memory still allocated is reported.
 */
void
malloc_type_detach(struct malloc_type *type)
{
	struct malloc_type_stat mts;

	if (malloc_type_stat(type, &mts) != 0)
		kmi_bsd_type_bogus(type, "malloc_type_detach");
	if (mts.mts_inuse != 0)
		kmi_printf(NULL, NULL, "malloc_type_detach: %lu bytes of '%s' "
		    "still allocated (%lu allocations)", mts.mts_memuse,
		    type->ks_shortdesc, mts.mts_inuse);
	kmem_lock_enter(&kmi_bsd_type_lock);
	for (struct malloc_type **tpp = &kmem_bsd_types; *tpp != NULL;
	    tpp = &(*tpp)->ks_next) {
		if (*tpp == type) {
			*tpp = type->ks_next;
			break;
		}
	}
	type->ks_next = NULL;
	/* Re-registered on its next use, with the same counters. */
	type->ks_registered = 0;
	type_fast_update(type);
	while (type_walkers > 0)	/* a walk may still read it */
		kmi_cv_wait(&type_walk_cv, &kmi_bsd_type_lock);
	kmem_lock_exit(&kmi_bsd_type_lock);
}

/* ---- statistics ---- */

/* What the counters say (MT_*). */
static void
type_counts(const struct malloc_type *type, uint64_t c[MALLOC_TYPE_NCOUNTERS])
{
	kmem_face_counters_read(type->ks_counters, MALLOC_TYPE_NCOUNTERS, c);
}

static void
raise_maxused(struct malloc_type *type, long used)
{
	unsigned long max = kmem_load_relaxed(&type->ks_maxused);

	while (used > 0 && (unsigned long)used > max &&
	    !kmem_cas(&type->ks_maxused, &max, (unsigned long)used))
		;
}

/* An allocation missed the magazines: sample the memory in use. */
void
kmi_bsd_sample(struct malloc_type *type)
{
	uint64_t c[MALLOC_TYPE_NCOUNTERS];

	if (kmem_face_counters_try(kmem_load_acquire(&type->ks_counters),
	    MALLOC_TYPE_NCOUNTERS, c) && c[MT_ALLOC_BYTES] >= c[MT_FREE_BYTES])
		raise_maxused(type, (long)(c[MT_ALLOC_BYTES] -
		    c[MT_FREE_BYTES]));
}

/* a - b, or 0 if a free was summed before its allocation. */
static uint64_t
count_diff(uint64_t a, uint64_t b)
{
	return (a > b ? a - b : 0);
}

int
malloc_type_stat(struct malloc_type *type, struct malloc_type_stat *mts)
{
	uint64_t c[MALLOC_TYPE_NCOUNTERS];

	if (type == NULL || type->ks_magic != M_MAGIC)
		return (-1);
	memset(mts, 0, sizeof (*mts));
	mts->mts_limit = kmem_load_relaxed(&type->ks_limit);
	if (kmem_load_acquire(&type->ks_counters) == 0)
		return (0);
	type_counts(type, c);
	uint64_t memuse = count_diff(c[MT_ALLOC_BYTES], c[MT_FREE_BYTES]);
	raise_maxused(type, (long)memuse);
	mts->mts_inuse = (unsigned long)count_diff(c[MT_ALLOCS], c[MT_FREES]);
	mts->mts_memuse = (unsigned long)memuse;
	mts->mts_maxused = kmem_load_relaxed(&type->ks_maxused);
	mts->mts_calls = (unsigned long)c[MT_ALLOCS];
	mts->mts_failures = kmem_load_relaxed(&type->ks_failures);
	mts->mts_limblocks = kmem_load_relaxed(&type->ks_limblocks);
	mts->mts_sizes = kmem_load_relaxed(&type->ks_size);
	return (0);
}

/*
 * Every registered type, newest first, until func returns nonzero: the
 * types registered when the walk starts (func may allocate, which may
 * register a type), each once.
 */
int
malloc_type_walk(int (*func)(struct malloc_type *type, void *arg), void *arg)
{
	struct malloc_type **list = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	for (;;) {
		kmem_lock_enter(&kmi_bsd_type_lock);
		size_t count = 0;
		for (struct malloc_type *t = kmem_bsd_types; t != NULL;
		    t = t->ks_next)
			count++;
		if (count <= cap) {
			n = 0;
			for (struct malloc_type *t = kmem_bsd_types; t != NULL;
			    t = t->ks_next)
				list[n++] = t;
			type_walkers++;
			kmem_lock_exit(&kmi_bsd_type_lock);
			break;
		}
		kmem_lock_exit(&kmi_bsd_type_lock);
		if (list != NULL)
			kmem_free(list, cap * sizeof (*list));
		cap = count + 16;
		list = kmem_alloc(cap * sizeof (*list), KM_SLEEP);
	}
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = func(list[i], arg);
	kmem_lock_enter(&kmi_bsd_type_lock);
	if (--type_walkers == 0)
		kmi_cv_broadcast(&type_walk_cv);
	kmem_lock_exit(&kmi_bsd_type_lock);
	if (list != NULL)
		kmem_free(list, cap * sizeof (*list));
	return (rc);
}

void
kmi_bsd_failed(struct malloc_type *type)
{
	kmem_fetch_add(&type->ks_failures, 1);
}

/* ---- limits ---- */

static void
limit_cv_init(void)
{
	if (!bsd_limit_cv_ready) {
		kmi_cv_init(&bsd_limit_cv);
		bsd_limit_cv_ready = true;
	}
}

/*
 * Reserve bytes of a limited type: LIMIT_OK, LIMIT_FULL if that would pass
 * the limit and wait is false (or the thread may not sleep), LIMIT_NEVER
 * if bytes alone pass it.  Waits for frees of the type otherwise.
 */
int
kmi_bsd_limit_take(struct malloc_type *type, size_t bytes, bool wait,
    const char *fn)
{
	bool waited = false;

	kmem_lock_enter(&kmi_bsd_type_lock);
	limit_cv_init();
	for (;;) {
		unsigned long limit = type->ks_limit;
		if (limit != 0 && bytes > limit) {
			kmem_lock_exit(&kmi_bsd_type_lock);
			return (LIMIT_NEVER);
		}
		if (limit == 0 || type->ks_reserved <= limit - bytes) {
			if (limit != 0)
				type->ks_reserved += bytes;
			break;
		}
		if (wait && !kmem_plat_may_sleep()) {
			kmi_warn("%s(%zu, %s, M_WAITOK): the type is at its "
			    "limit and this context cannot sleep", fn, bytes,
			    type->ks_shortdesc);
			wait = false;
		}
		if (!wait) {
			kmem_lock_exit(&kmi_bsd_type_lock);
			return (LIMIT_FULL);
		}
		if (!waited && type->ks_limblocks != ~0UL)
			type->ks_limblocks++;
		waited = true;
		type->ks_waiters++;
		kmi_cv_wait(&bsd_limit_cv, &kmi_bsd_type_lock);
		type->ks_waiters--;
	}
	kmem_lock_exit(&kmi_bsd_type_lock);
	return (LIMIT_OK);
}

/* bytes of a limited type are free (or were never allocated). */
void
kmi_bsd_limit_give(struct malloc_type *type, size_t bytes)
{
	kmem_lock_enter(&kmi_bsd_type_lock);
	type->ks_reserved -= kmem_min(bytes, type->ks_reserved);
	if (type->ks_waiters != 0)
		kmi_cv_broadcast(&bsd_limit_cv);
	kmem_lock_exit(&kmi_bsd_type_lock);
}

/*
 * Set a limit (0: none).  What the type holds now counts against it;
 * waiters wake to check the new one.
 */
static void
type_setlimit(struct malloc_type *type, unsigned long limit, const char *fn)
{
	struct malloc_type_stat mts;

	if (!kmi_bsd_type_register(type, fn))
		kmi_bsd_type_bogus(type, fn);
	kmem_lock_enter(&kmi_bsd_type_lock);
	bool was = type->ks_limit != 0;
	kmem_lock_exit(&kmi_bsd_type_lock);
	if (!was)
		(void) malloc_type_stat(type, &mts);
	kmem_lock_enter(&kmi_bsd_type_lock);
	limit_cv_init();
	if (!was && limit != 0)
		type->ks_reserved = mts.mts_memuse;
	kmem_store_relaxed(&type->ks_limit, limit);
	type_fast_update(type);
	kmi_cv_broadcast(&bsd_limit_cv);
	kmem_lock_exit(&kmi_bsd_type_lock);
}

void
malloc_type_setlimit(struct malloc_type *type, unsigned long limit)
{
	type_setlimit(type, limit, "malloc_type_setlimit");
}

/*
 * DragonFly: raise the limit to bytes (0: remove it); never lowers it,
 * and a type without a limit (no bound) keeps none.
 */
void
kmalloc_raise_limit(struct malloc_type *type, size_t bytes)
{
	if (type == NULL || kmem_load_relaxed(&type->ks_magic) != M_MAGIC)
		kmi_bsd_type_bogus(type, "kmalloc_raise_limit");
	unsigned long limit = kmem_load_relaxed(&type->ks_limit);

	if (bytes == 0 || limit == 0)
		type_setlimit(type, 0, "kmalloc_raise_limit");
	else if (bytes > limit)
		type_setlimit(type, bytes, "kmalloc_raise_limit");
}

/* ---- fork(2): the face's locks held across it, as kmem's are ---- */

static void
bsd_fork_prepare(void)
{
	kmem_lock_enter(&kmi_bsd_type_lock);
	kmem_lock_enter(&kmi_bsd_pool_lock);
}

static void
bsd_fork_parent(void)
{
	kmem_lock_exit(&kmi_bsd_pool_lock);
	kmem_lock_exit(&kmi_bsd_type_lock);
}

static void
bsd_fork_child(void)
{
	kmem_lock_init(&kmi_bsd_pool_lock);
	kmem_lock_init(&kmi_bsd_type_lock);
	type_walkers = 0;		/* the walking threads did not follow */
	kmi_cv_init(&type_walk_cv);
	kmi_bsd_pool_fork_child();
	if (bsd_limit_cv_ready)
		kmi_cv_init(&bsd_limit_cv);
	for (struct malloc_type *t = kmem_bsd_types; t != NULL; t = t->ks_next)
		t->ks_waiters = 0;
}

/* The face's set-up, once: fork handlers and the report hook. */
void
kmi_bsd_face_init(void)
{
	static uint32_t done;
	uint32_t no = 0;

	if (kmem_load_acquire(&done) || !kmem_cas(&done, &no, 1))
		return;
	kmem_plat_atfork(bsd_fork_prepare, bsd_fork_parent, bsd_fork_child);
	kmi_bsd_debug_init();
}
