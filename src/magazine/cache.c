/*
 * Object cache life cycle: creation (layout by the slab layer, magazine
 * type and per-CPU slot by this layer), destruction, reaping and the
 * periodic update.  Caches are on kmem_cache_list, in creation order.
 */
#include "magazine_impl.h"
#include "../debug/debug_impl.h"

/*
 * Set by start-up (init.c), which sits above this layer: the arena that
 * caches without one of their own take slabs from, and whether start-up
 * is done (until then nothing here may sleep).
 */
vmem_t *kmem_default_arena;
bool kmi_ready;

bool
kmi_is_ready(void)
{
	return (kmem_load_acquire(&kmi_ready));
}

kmem_lock_t kmem_cache_list_lock = KMEM_LOCK_INIT;
kmem_list_t kmem_cache_list = { &kmem_cache_list, &kmem_cache_list };
const uint32_t kmem_layout_version = KMEM_LAYOUT_VERSION;

/* The cache of caches; its own structure is static. */
static kmem_cache_t kmem_cache_cache_static;
static kmem_cache_t *kmem_cache_cache;

/*
 * The largest buffer size and alignment a cache takes: far beyond any
 * memory, yet small enough that no layout computation (buffer tags,
 * rounding to the alignment, slabs of up to 8 chunks) can wrap.
 */
#define KMEM_CACHE_MAXBUF	(SIZE_MAX >> 8)

/* Bad arguments are a programming error: report and stop, as illumos. */
static void
cache_check_args(const char *name, size_t bufsize, size_t align, int cflags)
{
	if (name == NULL || bufsize == 0)
		kmi_panic("kmem_cache_create: bad arguments (name %p, "
		    "bufsize %zu)", (const void *)name, bufsize);
	if (bufsize > KMEM_CACHE_MAXBUF)
		kmi_panic("kmem_cache_create: '%s': bufsize %zu is too large "
		    "(at most %zu)", name, bufsize, (size_t)KMEM_CACHE_MAXBUF);
	if (!IS_P2(align) || align > KMEM_CACHE_MAXBUF)
		kmi_panic("kmem_cache_create: '%s': bad alignment %zu", name,
		    align);
	if ((cflags & (KMC_NOHASH | KMC_NOTOUCH)) ==
	    (KMC_NOHASH | KMC_NOTOUCH))
		kmi_panic("kmem_cache_create: '%s': KMC_NOHASH and "
		    "KMC_NOTOUCH are exclusive", name);
}

/*
 * The debug flags: the cache's own (cflags) and KMEM_DEBUG's.  A firewall
 * (asked for, or KMEM_DEBUG=firewall=SIZE and buffers that big) replaces
 * the buftag, as in illumos; it applies to caches of the default arena
 * whose slabs may be hashed (not KMC_NOHASH).
 */
static void
cache_debug_init(kmem_cache_t *cp, int cflags)
{
	int flags = (cflags | kmi_debug_flags) & KMF_DEBUG;
	bool firewall = ((flags & KMF_FIREWALL) || (kmi_minfirewall != 0 &&
	    cp->cache_bufsize >= kmi_minfirewall)) &&
	    cp->cache_arena == kmem_default_arena &&
	    kmi_firewall_arena != NULL && !(cflags & KMC_NOHASH);

	if (flags & (KMF_AUDIT | KMF_CONTENTS | KMF_CHECKSIGNAL))
		flags |= KMF_REDZONE | KMF_AUDIT;
	flags &= ~KMF_FIREWALL;
	if (firewall) {
		flags &= ~(KMF_BUFTAG | KMF_AUDIT | KMF_CONTENTS |
		    KMF_CHECKSIGNAL | KMF_LITE);
		flags |= KMF_FIREWALL | KMF_NOMAGAZINE;
		cp->cache_arena = kmi_firewall_arena;
	}
	cp->cache_flags |= flags;
	if (flags & KMF_BUFTAG)
		cp->cache_debug = &kmi_debug_ops;
	cp->cache_mtbf = kmi_debug_mtbf;
	cp->cache_verify = (flags & KMF_LITE) ? sizeof (uint64_t) :
	    kmi_maxverify;
}

static int
cache_init(kmem_cache_t *cp, const char *name, size_t bufsize, size_t align,
    kmem_constructor_t *ctor, kmem_destructor_t *dtor,
    kmem_reclaim_t *reclaim, void *private, vmem_t *vmp, int cflags,
    size_t slabsize)
{
	memset(cp, 0, sizeof (*cp));
	kmi_strlcpy(cp->cache_name, name, sizeof (cp->cache_name));
	if ((vmp->vm_cflags & VMC_IDENTIFIER) && (cflags & KMC_NOHASH))
		kmi_panic("kmem_cache_create: '%s': KMC_NOHASH on an arena of "
		    "identifiers (its buffers are not memory to keep slabs in)",
		    name);
	if (vmp->vm_cflags & VMC_IDENTIFIER)
		cflags |= KMC_NOTOUCH | KMC_IDENTIFIER;
	if (align == 0)
		align = KMEM_ALIGN;
	if (align < KMEM_ALIGN && !(cflags & KMC_NOTOUCH))
		align = KMEM_ALIGN;
	cp->cache_bufsize = bufsize;
	cp->cache_align = align;
	cp->cache_cflags = cflags;
	cp->cache_constructor = ctor;
	cp->cache_destructor = dtor;
	cp->cache_reclaim = reclaim;
	cp->cache_private = private;
	cp->cache_arena = vmp;
	cp->cache_slabsize = slabsize;
	if (cflags & KMC_NOMAGAZINE)
		cp->cache_flags |= KMF_NOMAGAZINE;
	if (!(cflags & (KMC_NODEBUG | KMC_NOTOUCH)))
		cache_debug_init(cp, cflags);
	kmem_lock_init(&cp->cache_depot_lock);
	kmem_list_init(&cp->cache_link);
	if (kmi_slab_cache_init(cp) != 0)
		return (-1);

	kmem_magtype_t *mtp = kmi_magtype;
	while (cp->cache_chunksize <= mtp->mt_minbuf)
		mtp++;
	cp->cache_magtype = mtp;
	if (!(cp->cache_flags & KMF_NOMAGAZINE) &&
	    (cp->cache_slot = kmi_cpu_index_alloc()) == 0)
		cp->cache_flags |= KMF_NOMAGAZINE;
	/* Guarded caches check every transaction: no fast path for them. */
	cp->cache_cpu_index = kmem_cache_fast_index(cp);

	kmem_lock_enter(&kmem_cache_list_lock);
	kmem_list_insert_tail(&kmem_cache_list, &cp->cache_link);
	kmem_lock_exit(&kmem_cache_list_lock);
	return (0);
}

/* Set up the cache of caches.  Called once by kmem_init(). */
void
kmi_cache_bootstrap(void)
{
	kmem_cache_cache = &kmem_cache_cache_static;
	VERIFY(cache_init(kmem_cache_cache, "kmem_cache", sizeof (kmem_cache_t),
	    KMEM_CACHE_LINE, NULL, NULL, NULL, NULL, kmem_metadata_arena,
	    KMC_NOHASH | KMC_NOMAGAZINE | KMC_NODEBUG, 0) == 0);
}

/* Undo kmi_cache_bootstrap() (a failed kmem_init()). */
void
kmi_cache_unbootstrap(void)
{
	if (kmem_cache_cache == NULL)
		return;
	kmem_lock_enter(&kmem_cache_list_lock);
	kmem_list_remove(&kmem_cache_cache->cache_link);
	kmem_lock_exit(&kmem_cache_list_lock);
	(void)kmi_slab_cache_fini(kmem_cache_cache);
	kmem_cache_cache = NULL;
}

/*
 * kmem_cache_create() with a preset slab size (quantum caches).  Until
 * kmem is ready (start-up), nothing sleeps: a budget too small to start
 * makes kmem_init() fail instead of waiting for memory nobody will free.
 */
kmem_cache_t *
kmi_cache_create_slab(const char *name, size_t bufsize, size_t align,
    kmem_constructor_t *ctor, kmem_destructor_t *dtor,
    kmem_reclaim_t *reclaim, void *private, vmem_t *vmp, int cflags,
    size_t slabsize)
{
	cache_check_args(name, bufsize, align, cflags);
	kmem_cache_t *cp = kmem_cache_alloc(kmem_cache_cache,
	    kmi_is_ready() ? KM_SLEEP : KM_NOSLEEP_LAZY);
	if (cp == NULL)
		return (NULL);
	if (cache_init(cp, name, bufsize, align, ctor, dtor, reclaim, private,
	    vmp, cflags, slabsize) != 0) {
		kmem_cache_free(kmem_cache_cache, cp);
		return (NULL);
	}
	return (cp);
}

kmem_cache_t *
kmem_cache_create(const char *name, size_t bufsize, size_t align,
    kmem_constructor_t *constructor, kmem_destructor_t *destructor,
    kmem_reclaim_t *reclaim, void *private, vmem_t *vmp, int cflags)
{
	if (!kmi_is_ready() && !kmem_plat_first_use())
		return (NULL);
	return (kmi_cache_create_slab(name, bufsize, align, constructor,
	    destructor, reclaim, private, vmp == NULL ? kmem_default_arena : vmp,
	    cflags & ~(KMC_KMEM_ALLOC | KMC_IDENTIFIER), 0));
}

static bool
cache_is_listed(const kmem_cache_t *cp)
{
	for (kmem_list_t *lp = kmem_cache_list.next; lp != &kmem_cache_list;
	    lp = lp->next)
		if (lp == &cp->cache_link)
			return (true);
	return (false);
}

void
kmem_cache_destroy(kmem_cache_t *cp)
{
	/*
	 * Purge while cp is still on the list, under the list lock: an exiting
	 * thread then either flushes its slot of cp itself or is purged.
	 */
	kmem_lock_enter(&kmem_cache_list_lock);
	if (cp == NULL || !cache_is_listed(cp))
		kmi_panic("kmem_cache_destroy(%p): not a cache (destroyed "
		    "twice?)", (void *)cp);
	kmi_cpu_purge(cp);
	kmem_list_remove(&cp->cache_link);
	kmem_lock_exit(&kmem_cache_list_lock);
	kmi_cpu_index_free(cp->cache_slot);
	if (!kmi_slab_cache_fini(cp)) {
		kmi_warn("kmem_cache_destroy: '%s' (%p) not empty",
		    cp->cache_name, (void *)cp);
		return;		/* its slabs stay: they hold live buffers */
	}
	kmem_cache_free(kmem_cache_cache, cp);
}

/*
 * Give back what a cache holds but does not need: its client's reclaim
 * callback runs, every thread's magazines and the depot go back to the
 * slabs, and empty slabs go back to the arena.  Constructed objects are
 * destroyed exactly once, when their slab goes.
 */
void
kmem_cache_reap_now(kmem_cache_t *cp)
{
	if (cp->cache_reclaim != NULL)
		cp->cache_reclaim(cp->cache_private);
	kmem_lock_enter(&kmem_cache_list_lock);
	kmi_cpu_purge(cp);
	kmem_lock_exit(&kmem_cache_list_lock);
	kmem_lock_enter(&cp->cache_depot_lock);
	cp->cache_reap++;
	kmem_lock_exit(&cp->cache_depot_lock);
	kmi_slab_reap(cp);
}

/*
 * Memory is short: the same for every cache.  Called by allocations that
 * failed (KM_NOSLEEP, KM_SLEEP; never KM_NOSLEEP_LAZY) and by vmem when an
 * arena runs dry.  While it runs, magazines are bypassed, so what the
 * reclaim callbacks and slab destruction free goes straight to the slab
 * layer; caches are reaped newest first, because a cache's slabs come from
 * caches created before it (quantum caches, the slab and bufctl caches).
 * One reclaim runs at a time; a KM_NOSLEEP caller that finds one running
 * does not wait for it.
 */
static kmem_lock_t kmem_reclaim_lock = KMEM_LOCK_INIT;
/* The thread running kmi_reclaim(), so that its callbacks may allocate. */
static uintptr_t kmem_reclaim_owner;

/* fork(2): the cache locks, in lock order, with the records' list. */
void
kmi_cache_fork(int phase)
{
	if (phase == VMEM_FORK_PREPARE) {
		kmem_lock_enter(&kmem_reclaim_lock);
		kmem_lock_enter(&kmem_cache_list_lock);
		kmi_cpu_fork(phase);
		for (kmem_list_t *lp = kmem_cache_list.next;
		    lp != &kmem_cache_list; lp = lp->next) {
			kmem_cache_t *cp = KMEM_CONTAINER(lp, kmem_cache_t,
			    cache_link);
			kmem_lock_enter(&cp->cache_depot_lock);
			kmem_lock_enter(&cp->cache_lock);
		}
		return;
	}
	for (kmem_list_t *lp = kmem_cache_list.next; lp != &kmem_cache_list;
	    lp = lp->next) {
		kmem_cache_t *cp = KMEM_CONTAINER(lp, kmem_cache_t, cache_link);
		if (phase == VMEM_FORK_PARENT) {
			kmem_lock_exit(&cp->cache_lock);
			kmem_lock_exit(&cp->cache_depot_lock);
		} else {
			kmem_lock_init(&cp->cache_lock);
			kmem_lock_init(&cp->cache_depot_lock);
		}
	}
	kmi_cpu_fork(phase);
	if (phase == VMEM_FORK_PARENT) {
		kmem_lock_exit(&kmem_cache_list_lock);
		kmem_lock_exit(&kmem_reclaim_lock);
	} else {
		kmem_lock_init(&kmem_cache_list_lock);
		kmem_lock_init(&kmem_reclaim_lock);
		kmem_reclaim_owner = 0;
	}
}


/* Every cache's magazines are purged already: reap, newest cache first. */
static void
reclaim_reap_all(void)
{
	for (kmem_list_t *lp = kmem_cache_list.prev; lp != &kmem_cache_list;
	    lp = lp->prev) {
		kmem_cache_t *cp = KMEM_CONTAINER(lp, kmem_cache_t, cache_link);
		kmem_lock_enter(&cp->cache_depot_lock);
		cp->cache_reap++;
		kmem_lock_exit(&cp->cache_depot_lock);
		kmi_slab_reap(cp);
	}
}

/* Whether this thread runs kmi_reclaim() (its callbacks, destructors). */
bool
kmi_reclaiming(void)
{
	uintptr_t owner = kmem_load_relaxed(&kmem_reclaim_owner);

	return (owner != 0 && owner == kmem_plat_thread());
}

void
kmi_reclaim(int kmflag)
{
	uintptr_t self = kmem_plat_thread();

	/*
	 * A reclaim callback (or a destructor it caused) allocating while
	 * memory is short: it must not wait for the reclaim it is part of.
	 * It reaps empty slabs again (this thread holds the list lock) and
	 * runs no callback twice.
	 */
	if (self != 0 && kmem_load_relaxed(&kmem_reclaim_owner) == self) {
		reclaim_reap_all();
		return;
	}
	if (kmflag & KM_NOSLEEP) {
		if (!kmem_lock_tryenter(&kmem_reclaim_lock))
			return;
	} else {
		kmem_lock_enter(&kmem_reclaim_lock);
	}
	kmi_cpu_bypass(true);		/* and purge every magazine */
	kmem_lock_enter(&kmem_cache_list_lock);
	kmem_store_relaxed(&kmem_reclaim_owner, self);
	for (kmem_list_t *lp = kmem_cache_list.next; lp != &kmem_cache_list;
	    lp = lp->next) {
		kmem_cache_t *cp = KMEM_CONTAINER(lp, kmem_cache_t, cache_link);
		if (cp->cache_reclaim != NULL)
			cp->cache_reclaim(cp->cache_private);
	}
	reclaim_reap_all();
	kmem_store_relaxed(&kmem_reclaim_owner, 0);
	kmem_lock_exit(&kmem_cache_list_lock);
	kmi_cpu_bypass(false);
	kmem_lock_exit(&kmem_reclaim_lock);
}

/*
 * The caches' part of the periodic update (kmem_update()): rescale hash
 * tables, start a new working-set interval and free the magazines that
 * were idle for the whole last one, grow contended magazines.
 */
void
kmi_cache_update_all(void)
{
	kmem_lock_enter(&kmem_cache_list_lock);
	/* Reserves idle for the interval that ends go to the depots. */
	kmem_store_relaxed(&kmi_reserve_epoch, kmi_reserve_epoch + 1);
	for (kmem_list_t *lp = kmem_cache_list.next; lp != &kmem_cache_list;
	    lp = lp->next) {
		kmem_cache_t *cp = KMEM_CONTAINER(lp, kmem_cache_t, cache_link);
		kmi_slab_hash_update(cp);
		kmi_depot_ws_update(cp);
		kmi_depot_ws_reap(cp);
		kmi_magazine_resize(cp, false);
	}
	kmem_lock_exit(&kmem_cache_list_lock);
}

/*
 * Fault injection: make 1 KM_NOSLEEP allocation in mtbf fail (0: none), to
 * exercise callers' error paths.  KM_SLEEP allocations never fail.
 */
void
kmem_cache_mtbf(kmem_cache_t *cp, unsigned mtbf)
{
	kmem_store_relaxed(&cp->cache_mtbf, mtbf);
	kmem_store_relaxed(&cp->cache_cpu_index, kmem_cache_fast_index(cp));
}

const char *
kmem_cache_name(kmem_cache_t *cp)
{
	return (cp->cache_name);
}

int
kmem_cache_walk(int (*func)(kmem_cache_t *cp, void *arg), void *arg)
{
	int rc = 0;

	kmem_lock_enter(&kmem_cache_list_lock);
	for (kmem_list_t *lp = kmem_cache_list.next;
	    lp != &kmem_cache_list && rc == 0; lp = lp->next)
		rc = func(KMEM_CONTAINER(lp, kmem_cache_t, cache_link), arg);
	kmem_lock_exit(&kmem_cache_list_lock);
	return (rc);
}
