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
 * is sampled: whenever an allocation misses the magazines, the thread adds
 * what it gained since its last sample to ks_loose (an estimate of the
 * memory in use) and raises ks_maxused to it; every read raises it to the
 * exact figure and settles ks_loose.
 *
 * A limit (malloc_type_setlimit(), kmalloc_raise_limit(),
 * MALLOC_DEFINE_LIMIT()) makes the type's accounting exact: each
 * allocation reserves its bytes in ks_reserved under kmi_bsd_type_lock
 * before it allocates, and a request that would pass the limit fails
 * (M_NOWAIT, M_NULLOK) or sleeps until memory of the type is freed.
 * Types without a limit take no lock.
 */
#include "bsd_impl.h"

kmem_lock_t kmi_bsd_type_lock = KMEM_LOCK_INIT;
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
	kmi_bsd_debug_init();
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
	kmem_lock_exit(&kmi_bsd_type_lock);
}

/* ---- statistics ---- */

/* What the counters say: allocations, bytes, frees, bytes, synced. */
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

/*
 * An allocation missed the magazines: add what this thread gained since
 * its last sample to the estimate, and raise the high-water mark to it.
 */
void
kmi_bsd_sync(struct malloc_type *type)
{
	uint64_t c[MALLOC_TYPE_NCOUNTERS];
	uint32_t ctr = kmem_load_acquire(&type->ks_counters);

	kmem_face_counters_self(ctr, MALLOC_TYPE_NCOUNTERS, c);
	int64_t net = (int64_t)(c[MT_ALLOC_BYTES] - c[MT_FREE_BYTES]);
	int64_t delta = net - (int64_t)c[MT_SYNCED];
	if (delta == 0)
		return;
	kmem_face_count(ctr + MT_SYNCED, (uint64_t)delta, 0);
	raise_maxused(type, kmem_fetch_add(&type->ks_loose, (long)delta) +
	    (long)delta);
}

int
malloc_type_stat(struct malloc_type *type, struct malloc_type_stat *mts)
{
	uint64_t c[MALLOC_TYPE_NCOUNTERS];

	if (type == NULL || type->ks_magic != M_MAGIC)
		return (-1);
	memset(mts, 0, sizeof (*mts));
	if (kmem_load_acquire(&type->ks_counters) == 0)
		return (0);
	type_counts(type, c);
	uint64_t memuse = c[MT_ALLOC_BYTES] - c[MT_FREE_BYTES];
	/* Settle the estimate: the samples add up to c[MT_SYNCED]. */
	kmem_store_relaxed(&type->ks_loose, (long)c[MT_SYNCED]);
	raise_maxused(type, (long)memuse);
	mts->mts_inuse = (unsigned long)(c[MT_ALLOCS] - c[MT_FREES]);
	mts->mts_memuse = (unsigned long)memuse;
	mts->mts_maxused = kmem_load_relaxed(&type->ks_maxused);
	mts->mts_limit = kmem_load_relaxed(&type->ks_limit);
	mts->mts_calls = (unsigned long)c[MT_ALLOCS];
	mts->mts_failures = kmem_load_relaxed(&type->ks_failures);
	mts->mts_limblocks = kmem_load_relaxed(&type->ks_limblocks);
	mts->mts_sizes = kmem_load_relaxed(&type->ks_size);
	return (0);
}

/* Every registered type, newest first, until func returns nonzero. */
int
malloc_type_walk(int (*func)(struct malloc_type *type, void *arg), void *arg)
{
	struct malloc_type *list[256];
	size_t n = 0, done = 0;
	int rc = 0;

	/* In batches: func may allocate, which may register a type. */
	do {
		kmem_lock_enter(&kmi_bsd_type_lock);
		struct malloc_type *type = kmem_bsd_types;
		for (size_t skip = 0; type != NULL && skip < done; skip++)
			type = type->ks_next;
		for (n = 0; type != NULL && n < 256; type = type->ks_next)
			list[n++] = type;
		kmem_lock_exit(&kmi_bsd_type_lock);
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = func(list[i], arg);
		done += n;
	} while (n == 256 && rc == 0);
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
 * Reserve bytes of a limited type; false if that would pass the limit and
 * wait is false.  Waits for frees of the type otherwise.
 */
bool
kmi_bsd_limit_take(struct malloc_type *type, size_t bytes, bool wait)
{
	bool waited = false;

	kmem_lock_enter(&kmi_bsd_type_lock);
	limit_cv_init();
	for (;;) {
		unsigned long limit = type->ks_limit;
		if (limit == 0 || (bytes <= limit &&
		    type->ks_reserved <= limit - bytes)) {
			if (limit != 0)
				type->ks_reserved += bytes;
			break;
		}
		if (!wait) {
			kmem_lock_exit(&kmi_bsd_type_lock);
			return (false);
		}
		if (!waited && type->ks_limblocks != ~0UL)
			type->ks_limblocks++;
		waited = true;
		type->ks_waiters++;
		kmi_cv_wait(&bsd_limit_cv, &kmi_bsd_type_lock);
		type->ks_waiters--;
	}
	kmem_lock_exit(&kmi_bsd_type_lock);
	return (true);
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
void
malloc_type_setlimit(struct malloc_type *type, unsigned long limit)
{
	struct malloc_type_stat mts;

	if (!kmi_bsd_type_register(type, "malloc_type_setlimit"))
		kmi_bsd_type_bogus(type, "malloc_type_setlimit");
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

/* DragonFly: raise the limit to bytes (0: remove it); never lowers it. */
void
kmalloc_raise_limit(struct malloc_type *type, size_t bytes)
{
	unsigned long limit = kmem_load_relaxed(&type->ks_limit);

	if (bytes == 0 || limit == 0)
		malloc_type_setlimit(type, 0);
	else if (bytes > limit)
		malloc_type_setlimit(type, bytes);
}
