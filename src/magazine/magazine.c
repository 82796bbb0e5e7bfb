/*
 * The magazine layer: per-CPU caching of constructed buffers.
 *
 * Theory of operation
 * -------------------
 * Concepts (Bonwick & Adams 2001).  A magazine is an array of M rounds
 * (pointers to constructed buffers).  Each CPU keeps, per cache, a loaded
 * magazine and the previously loaded one; allocation pops a round from the
 * loaded magazine, free pushes one.  When the loaded magazine is empty (on
 * alloc) or full (on free) and the previous one can serve, the two are
 * swapped; only otherwise does the CPU go to the cache's depot, which holds
 * lists of full and empty magazines under one lock, and exchange a
 * magazine.  So a CPU touches shared state at most once every M operations,
 * and two swaps in a row can never thrash the depot.  The slab layer sees
 * only depot misses.  Magazines start at a size chosen from the chunk size
 * (kmem_magtype[]) and grow to the next size when the depot lock was
 * contended more than KMEM_DEPOT_CONTENTION times in an update interval.
 *
 * Working set.  Each depot list tracks the lowest number of magazines it
 * held during the current interval; kmem_update() turns that into a reap
 * limit, so a reap frees only magazines that sat unused for a whole
 * interval (kmem_depot_ws_reap()).
 *
 * Per-thread, not per-CPU, in user space.  In a kernel, a CPU's slots are
 * found through the platform's self slot with preemption disabled.  In user
 * space there is no cheap way to pin a thread to a CPU (libumem hashed
 * pthread_self() onto per-CPU slots, each with a mutex; on glibc every
 * thread landed on the same slot, and even when they spread, a lock per
 * operation costs more than the whole fast path of modern allocators).  So
 * hosted builds give each thread its own record, found through one
 * initial-exec TLS load.  A buffer freed by another thread simply goes into
 * the freeing thread's magazine -- magazines hold buffers of a cache, not
 * of a thread -- so cross-thread frees cost what local frees cost, and
 * producer/consumer traffic flows through the depot a magazine at a time.
 * Restartable sequences were the alternative; they need per-CPU slots that
 * threads migrate between, assembly per architecture, and give nothing a
 * per-thread record does not, at the price of memory per CPU instead of per
 * thread.  A thread's magazines go back to the depot when it exits.
 *
 * The handshake.  The owner uses its slots with no lock and no atomic
 * read-modify-write: it stores cpu_busy = 1, reads cpu_stop, and if that
 * is clear works on its slots and stores cpu_busy = 0 (a release store).
 * Someone who must take magazines away from other threads (cache destroy,
 * magazine resize, a purge for memory) holds kmem_cpu_list_lock, sets
 * cpu_stop on every record, calls kmem_plat_barrier_all() -- membarrier(2),
 * a cross-call in a kernel -- which orders every owner's earlier stores
 * before its later loads, then waits until each cpu_busy reads 0.  Every
 * owner has then either finished its operation or will see cpu_stop and
 * bypass its magazines (going straight to the slab layer, which is always
 * correct) until cpu_stop is cleared.  The cost of synchronisation is thus
 * moved entirely to the rare purge.  cpu_busy also makes the slots
 * reentrancy-safe: code that finds its own record busy (a signal handler,
 * an interrupt, a destructor run from inside a magazine operation) uses
 * the slab layer directly.
 *
 * Locking and context.  Inside a busy section nothing sleeps: new
 * magazines are allocated KM_NOSLEEP_LAZY, and no constructor or client
 * callback runs.  cache_depot_lock protects the depot lists and their
 * working-set numbers; kmem_cpu_list_lock the list of records.
 *
 * Invariants.
 *  1. A slot's cc_loaded is NULL only when cc_magsize is 0; cc_ploaded is
 *     NULL, empty (cc_prounds == 0) or full (cc_prounds == cc_magsize).
 *  2. Depot magazines on cache_full hold exactly the magtype's size rounds;
 *     every round is a constructed buffer of the cache, in no slab.
 *  3. While a purger holds a record stopped, its owner touches no slot.
 */
#include "magazine_impl.h"

#define KMEM_DEPOT_CONTENTION	3	/* per update interval: grow */
#define KMEM_DEPOT_CONTENTION_NOW 256	/* since the last growth: grow now */
#define KMEM_DEPOT_TRAFFIC_NOW	4096	/* exchanges since the last growth */

kmem_lock_t kmem_cpu_list_lock = KMEM_LOCK_INIT;
kmem_list_t kmem_cpu_list = { &kmem_cpu_list, &kmem_cpu_list };
kmem_cache_t *kmem_cpu_record_cache;
bool kmem_cpu_enabled;

/*
 * The record of a thread that is exiting: no slots, so whatever it frees
 * on its way out (its own magazines' slabs, other libraries' destructors)
 * goes to the slab layer instead of building a new record.
 */
static kmem_cpu_t kmem_cpu_dead;
static vmem_t *kmem_cache_index_arena;

kmem_magtype_t kmem_magtype[] = {
	{ 1,	8,	3200,	65536,	NULL },
	{ 3,	16,	256,	32768,	NULL },
	{ 7,	32,	64,	16384,	NULL },
	{ 15,	64,	0,	8192,	NULL },
	{ 31,	64,	0,	4096,	NULL },
	{ 47,	64,	0,	2048,	NULL },
	{ 63,	64,	0,	1024,	NULL },
	{ 95,	64,	0,	512,	NULL },
	{ 143,	64,	0,	0,	NULL },
};
const int kmem_nmagtype = sizeof (kmem_magtype) / sizeof (kmem_magtype[0]);

/* ---- depot ---- */

static void
depot_lock(kmem_cache_t *cp)
{
	if (!kmem_lock_tryenter(&cp->cache_depot_lock)) {
		kmem_lock_enter(&cp->cache_depot_lock);
		kmem_store_relaxed(&cp->cache_depot_contention,
		    cp->cache_depot_contention + 1);
	}
}

/*
 * Called from the slow paths with no lock held: if the depot has been
 * contended a lot since magazines last grew, grow them now rather than at
 * the next kmem_update().  The cache list lock is only tried, so this is
 * safe from inside a purge or a thread exit that already holds it.
 */
static void
magazine_grow_check(kmem_cache_t *cp)
{
	uint64_t traffic = kmem_load_relaxed(&cp->cache_depot_alloc) +
	    kmem_load_relaxed(&cp->cache_depot_free);

	if (kmem_load_relaxed(&cp->cache_depot_contention) -
	    kmem_load_relaxed(&cp->cache_depot_contention_prev) <
	    KMEM_DEPOT_CONTENTION_NOW &&
	    traffic - kmem_load_relaxed(&cp->cache_depot_traffic_prev) <
	    KMEM_DEPOT_TRAFFIC_NOW)
		return;
	if (!kmem_lock_tryenter(&kmem_cache_list_lock))
		return;
	kmem_magazine_resize(cp);
	kmem_lock_exit(&kmem_cache_list_lock);
}

static kmem_magazine_t *
maglist_pop(kmem_maglist_t *mlp)
{
	kmem_magazine_t *mp = mlp->ml_list;

	if (mp != NULL) {
		mlp->ml_list = mp->mag_next;
		if (--mlp->ml_total < mlp->ml_min)
			mlp->ml_min = mlp->ml_total;
		mlp->ml_alloc++;
	}
	return (mp);
}

static void
maglist_push(kmem_maglist_t *mlp, kmem_magazine_t *mp)
{
	mp->mag_next = mlp->ml_list;
	mlp->ml_list = mp;
	mlp->ml_total++;
}

/* Free a magazine and return its rounds to the slab layer. */
void
kmem_magazine_destroy(kmem_cache_t *cp, kmem_magtype_t *mtp,
    kmem_magazine_t *mp, int nrounds)
{
	for (int i = 0; i < nrounds; i++)
		kmem_slab_free(cp, mp->mag_round[i]);
	kmem_slab_free(mtp->mt_cache, mp);
}

/* Start a new interval: what stays below ml_min until the next is idle. */
void
kmem_depot_ws_update(kmem_cache_t *cp)
{
	kmem_lock_enter(&cp->cache_depot_lock);
	cp->cache_full.ml_reaplimit = cp->cache_full.ml_min;
	cp->cache_full.ml_min = cp->cache_full.ml_total;
	cp->cache_empty.ml_reaplimit = cp->cache_empty.ml_min;
	cp->cache_empty.ml_min = cp->cache_empty.ml_total;
	kmem_lock_exit(&cp->cache_depot_lock);
}

/* Make every depot magazine reapable. */
void
kmem_depot_ws_zero(kmem_cache_t *cp)
{
	kmem_lock_enter(&cp->cache_depot_lock);
	cp->cache_full.ml_reaplimit = cp->cache_full.ml_total;
	cp->cache_full.ml_min = cp->cache_full.ml_total;
	cp->cache_empty.ml_reaplimit = cp->cache_empty.ml_total;
	cp->cache_empty.ml_min = cp->cache_empty.ml_total;
	kmem_lock_exit(&cp->cache_depot_lock);
}

/* Free the magazines that were idle for a whole interval. */
void
kmem_depot_ws_reap(kmem_cache_t *cp)
{
	for (int full = 1; full >= 0; full--) {
		kmem_maglist_t *mlp = full ? &cp->cache_full : &cp->cache_empty;
		for (;;) {
			kmem_lock_enter(&cp->cache_depot_lock);
			kmem_magtype_t *mtp = cp->cache_magtype;
			kmem_magazine_t *mp = NULL;
			if (mlp->ml_reaplimit > 0 && mlp->ml_min > 0) {
				mp = maglist_pop(mlp);
				mlp->ml_reaplimit--;
				cp->cache_reap++;
			}
			kmem_lock_exit(&cp->cache_depot_lock);
			if (mp == NULL)
				break;
			kmem_magazine_destroy(cp, mtp, mp,
			    full ? mtp->mt_magsize : 0);
		}
	}
}

/* ---- per-CPU records ---- */

uint32_t
kmem_cpu_index_alloc(void)
{
	if (kmem_cache_index_arena == NULL)
		kmem_cache_index_arena = vmem_create("kmem_cache_index",
		    (void *)1, 65535, 1, NULL, NULL, NULL, 0,
		    VMC_IDENTIFIER | VM_NOSLEEP);
	if (kmem_cache_index_arena == NULL)
		return (0);
	return ((uint32_t)(uintptr_t)vmem_alloc(kmem_cache_index_arena, 1,
	    VM_NOSLEEP | VM_FIRSTFIT));
}

void
kmem_cpu_index_free(uint32_t index)
{
	if (index != 0)
		vmem_free(kmem_cache_index_arena, (void *)(uintptr_t)index, 1);
}

static kmem_cpu_cache_t *
cpu_table_alloc(uint32_t n)
{
	kmem_cpu_cache_t *cc = vmem_alloc(kmem_metadata_arena,
	    n * sizeof (kmem_cpu_cache_t), VM_NOSLEEP | VM_NORMALPRI);
	if (cc != NULL)
		memset(cc, 0, n * sizeof (kmem_cpu_cache_t));
	return (cc);
}

static void
cpu_table_free(kmem_cpu_cache_t *cc, uint32_t n)
{
	vmem_free(kmem_metadata_arena, cc, n * sizeof (kmem_cpu_cache_t));
}

/*
 * Make sure this thread (CPU) has a record with a slot for cp.  Returns
 * true if it changed anything, so the caller may retry the fast path.
 */
static bool
kmem_cpu_prepare(kmem_cache_t *cp)
{
	kmem_cpu_t *cpu = kmem_plat_self_enter();
	kmem_plat_self_exit();

	if (!kmem_cpu_enabled || cp->cache_cpu_index == 0 ||
	    cpu == &kmem_cpu_dead)
		return (false);
	uint32_t n = 64;
	while (n <= cp->cache_cpu_index)
		n *= 2;
	if (cpu == NULL) {
		cpu = kmem_slab_alloc(kmem_cpu_record_cache, KM_NOSLEEP_LAZY);
		if (cpu == NULL)
			return (false);
		memset(cpu, 0, sizeof (*cpu));
		if ((cpu->cpu_cc = cpu_table_alloc(n)) == NULL) {
			kmem_slab_free(kmem_cpu_record_cache, cpu);
			return (false);
		}
		cpu->cpu_ncc = n;
		kmem_lock_enter(&kmem_cpu_list_lock);
		kmem_list_insert_tail(&kmem_cpu_list, &cpu->cpu_link);
		kmem_lock_exit(&kmem_cpu_list_lock);
		kmem_plat_self_set(cpu);
		return (true);
	}
	if (cp->cache_cpu_index < cpu->cpu_ncc || cpu->cpu_busy)
		return (false);
	kmem_cpu_cache_t *cc = cpu_table_alloc(n), *old = cpu->cpu_cc;
	uint32_t old_n = cpu->cpu_ncc;
	if (cc == NULL)
		return (false);
	/* Swap tables inside a busy section, unless a purger holds us. */
	bool ok = kmem_plat_self_enter() == cpu;
	if (ok) {
		kmem_store_relaxed(&cpu->cpu_busy, 1);
		kmem_compiler_barrier();
		ok = !kmem_load_acquire(&cpu->cpu_stop);
		if (ok) {
			memcpy(cc, old, old_n * sizeof (kmem_cpu_cache_t));
			kmem_store_release(&cpu->cpu_cc, cc);
			kmem_store_release(&cpu->cpu_ncc, n);
		}
		kmem_cpu_end(cpu);
	}
	kmem_plat_self_exit();
	if (!ok) {
		cpu_table_free(cc, n);
		return (false);
	}
	/*
	 * Statistics readers may still be looking at the old table: retire
	 * it until the thread exits.  Slot 0 is never used by a cache, so it
	 * holds the link and the size.
	 */
	old[0].cc_loaded = (kmem_magazine_t *)(void *)cpu->cpu_retired;
	old[0].cc_free = old_n;
	cpu->cpu_retired = old;
	return (true);
}

/*
 * Take one slot's magazines off it, onto cp->cache_detached, and reset it.
 * The slot's owner is stopped (or gone).
 */
static void
slot_detach(kmem_cache_t *cp, kmem_cpu_cache_t *ccp)
{
	if (ccp->cc_loaded != NULL) {
		ccp->cc_loaded->mag_rounds = (uintptr_t)ccp->cc_rounds;
		ccp->cc_loaded->mag_next = cp->cache_detached;
		cp->cache_detached = ccp->cc_loaded;
	}
	if (ccp->cc_ploaded != NULL) {
		ccp->cc_ploaded->mag_rounds = (uintptr_t)ccp->cc_prounds;
		ccp->cc_ploaded->mag_next = cp->cache_detached;
		cp->cache_detached = ccp->cc_ploaded;
	}
	ccp->cc_loaded = ccp->cc_ploaded = NULL;
	kmem_store_relaxed(&ccp->cc_rounds, 0);
	kmem_store_relaxed(&ccp->cc_prounds, (int16_t)0);
	kmem_store_relaxed(&ccp->cc_magsize, (int16_t)0);
	/* The slot may serve another cache next: move its count to cp. */
	kmem_fetch_add(&cp->cache_cpu_free, ccp->cc_free);
	kmem_store_relaxed(&ccp->cc_free, 0);
}

static void
detached_destroy(kmem_cache_t *cp, kmem_magtype_t *mtp)
{
	kmem_magazine_t *mp = cp->cache_detached;

	cp->cache_detached = NULL;
	while (mp != NULL) {
		kmem_magazine_t *next = mp->mag_next;
		kmem_magazine_destroy(cp, mtp, mp, (int)mp->mag_rounds);
		mp = next;
	}
}

/* Take the depot's lists; the caller destroys them.  Records stopped. */
static void
depot_detach(kmem_cache_t *cp, kmem_magazine_t **fullp,
    kmem_magazine_t **emptyp)
{
	kmem_lock_enter(&cp->cache_depot_lock);
	*fullp = cp->cache_full.ml_list;
	*emptyp = cp->cache_empty.ml_list;
	cp->cache_full = (kmem_maglist_t){ NULL, 0, 0, 0,
	    cp->cache_full.ml_alloc };
	cp->cache_empty = (kmem_maglist_t){ NULL, 0, 0, 0,
	    cp->cache_empty.ml_alloc };
	kmem_lock_exit(&cp->cache_depot_lock);
}

static void
maglist_destroy(kmem_cache_t *cp, kmem_magtype_t *mtp, kmem_magazine_t *mp,
    int nrounds)
{
	while (mp != NULL) {
		kmem_magazine_t *next = mp->mag_next;
		kmem_magazine_destroy(cp, mtp, mp, nrounds);
		mp = next;
	}
}

/* What a purge took from one cache, destroyed once the records run again. */
typedef struct purged {
	kmem_magtype_t	*pu_magtype;
	kmem_magazine_t	*pu_full;
	kmem_magazine_t	*pu_empty;
} purged_t;

static void
purge_take(kmem_cache_t *cp, kmem_magtype_t *new_magtype, purged_t *pu)
{
	depot_detach(cp, &pu->pu_full, &pu->pu_empty);
	pu->pu_magtype = cp->cache_magtype;
	if (new_magtype != NULL) {
		kmem_lock_enter(&cp->cache_depot_lock);
		cp->cache_magtype = new_magtype;
		kmem_lock_exit(&cp->cache_depot_lock);
	}
}

static void
purge_destroy(kmem_cache_t *cp, purged_t *pu)
{
	detached_destroy(cp, pu->pu_magtype);
	maglist_destroy(cp, pu->pu_magtype, pu->pu_full,
	    pu->pu_magtype->mt_magsize);
	maglist_destroy(cp, pu->pu_magtype, pu->pu_empty, 0);
}

/*
 * Return every magazine of cp (of every cache, if cp is NULL) -- in every
 * record and in the depot -- and their rounds to the slab layer.  With
 * new_magtype, cp's magazines change to that size.  Everything is taken
 * while all records are stopped, so no record can mix magazine sizes or
 * see a depot magazine of the old size.  The caller holds
 * kmem_cache_list_lock.
 */
void
kmem_cpu_purge(kmem_cache_t *cp, kmem_magtype_t *new_magtype)
{
	kmem_cpu_t *self = kmem_plat_self_enter();
	kmem_plat_self_exit();
	purged_t one;

	ASSERT(kmem_lock_held(&kmem_cache_list_lock));
	kmem_lock_enter(&kmem_cpu_list_lock);
	for (kmem_list_t *lp = kmem_cpu_list.next; lp != &kmem_cpu_list;
	    lp = lp->next) {
		kmem_cpu_t *cpu = KMEM_CONTAINER(lp, kmem_cpu_t, cpu_link);
		kmem_store_relaxed(&cpu->cpu_stop, 1);
	}
	kmem_plat_barrier_all();
	for (kmem_list_t *lp = kmem_cpu_list.next; lp != &kmem_cpu_list;
	    lp = lp->next) {
		kmem_cpu_t *cpu = KMEM_CONTAINER(lp, kmem_cpu_t, cpu_link);
		if (cpu == self && cpu->cpu_busy)
			continue;	/* our own interrupted operation */
		while (kmem_load_acquire(&cpu->cpu_busy))
			kmem_plat_yield();
		for (kmem_list_t *cl = kmem_cache_list.next;
		    cl != &kmem_cache_list; cl = cl->next) {
			kmem_cache_t *c = cp != NULL ? cp :
			    KMEM_CONTAINER(cl, kmem_cache_t, cache_link);
			uint32_t index = c->cache_cpu_index;
			if (index != 0 && index < cpu->cpu_ncc)
				slot_detach(c, &cpu->cpu_cc[index]);
			if (cp != NULL)
				break;
		}
	}
	if (cp != NULL) {
		purge_take(cp, new_magtype, &one);
	} else {
		/* Depot lists go on the detached list, with their counts. */
		for (kmem_list_t *cl = kmem_cache_list.next;
		    cl != &kmem_cache_list; cl = cl->next) {
			kmem_cache_t *c = KMEM_CONTAINER(cl, kmem_cache_t,
			    cache_link);
			kmem_magazine_t *full, *empty;
			depot_detach(c, &full, &empty);
			int magsize = c->cache_magtype->mt_magsize;
			for (int pass = 0; pass < 2; pass++) {
				kmem_magazine_t *mp = pass == 0 ? full : empty;
				while (mp != NULL) {
					kmem_magazine_t *next = mp->mag_next;
					mp->mag_rounds = pass == 0 ?
					    (uintptr_t)magsize : 0;
					mp->mag_next = c->cache_detached;
					c->cache_detached = mp;
					mp = next;
				}
			}
		}
	}
	for (kmem_list_t *lp = kmem_cpu_list.next; lp != &kmem_cpu_list;
	    lp = lp->next) {
		kmem_cpu_t *cpu = KMEM_CONTAINER(lp, kmem_cpu_t, cpu_link);
		kmem_store_release(&cpu->cpu_stop, 0);
	}
	kmem_lock_exit(&kmem_cpu_list_lock);

	if (cp != NULL) {
		purge_destroy(cp, &one);
		return;
	}
	for (kmem_list_t *cl = kmem_cache_list.next; cl != &kmem_cache_list;
	    cl = cl->next) {
		kmem_cache_t *c = KMEM_CONTAINER(cl, kmem_cache_t, cache_link);
		detached_destroy(c, c->cache_magtype);
	}
}

/* Purge every cache's magazines (memory pressure, tests). */
void
kmem_cpu_purge_all(void)
{
	kmem_lock_enter(&kmem_cache_list_lock);
	kmem_cpu_purge(NULL, NULL);
	kmem_lock_exit(&kmem_cache_list_lock);
}

/*
 * A thread is exiting: its full and empty magazines go to the depots,
 * partly filled ones back to the slabs, its counts to the caches.
 */
void
kmem_thread_exit(void *self)
{
	kmem_cpu_t *cpu = self;

	if (cpu == NULL || cpu == &kmem_cpu_dead)
		return;
	kmem_plat_self_set(&kmem_cpu_dead);
	kmem_lock_enter(&kmem_cache_list_lock);
	kmem_lock_enter(&kmem_cpu_list_lock);
	kmem_list_remove(&cpu->cpu_link);
	kmem_lock_exit(&kmem_cpu_list_lock);
	for (kmem_list_t *cl = kmem_cache_list.next; cl != &kmem_cache_list;
	    cl = cl->next) {
		kmem_cache_t *cp = KMEM_CONTAINER(cl, kmem_cache_t, cache_link);
		uint32_t index = cp->cache_cpu_index;
		if (index == 0 || index >= cpu->cpu_ncc)
			continue;
		kmem_cpu_cache_t *ccp = &cpu->cpu_cc[index];
		kmem_magazine_t *mags[2] = { ccp->cc_loaded, ccp->cc_ploaded };
		int rounds[2] = { ccp->cc_rounds, ccp->cc_prounds };
		int magsize = ccp->cc_magsize;
		depot_lock(cp);
		for (int i = 0; i < 2; i++) {
			if (mags[i] == NULL)
				continue;
			if (rounds[i] == magsize) {
				maglist_push(&cp->cache_full, mags[i]);
				kmem_store_relaxed(&cp->cache_depot_free,
				    cp->cache_depot_free + 1);
				mags[i] = NULL;
			} else if (rounds[i] == 0) {
				maglist_push(&cp->cache_empty, mags[i]);
				mags[i] = NULL;
			}
		}
		kmem_fetch_add(&cp->cache_cpu_free, ccp->cc_free);
		kmem_magtype_t *mtp = cp->cache_magtype;
		kmem_lock_exit(&cp->cache_depot_lock);
		for (int i = 0; i < 2; i++)
			if (mags[i] != NULL)
				kmem_magazine_destroy(cp, mtp, mags[i],
				    rounds[i]);
	}
	kmem_lock_exit(&kmem_cache_list_lock);
	cpu_table_free(cpu->cpu_cc, cpu->cpu_ncc);
	while (cpu->cpu_retired != NULL) {
		kmem_cpu_cache_t *old = cpu->cpu_retired;
		cpu->cpu_retired = (kmem_cpu_cache_t *)(void *)old[0].cc_loaded;
		cpu_table_free(old, (uint32_t)old[0].cc_free);
	}
	kmem_slab_free(kmem_cpu_record_cache, cpu);
}

/*
 * Rounds of cp held in records, for statistics; also sums the records'
 * free counts.  Racy by nature (owners run on), never unsafe.
 */
uint64_t
kmem_cpu_rounds(kmem_cache_t *cp, uint64_t *freep)
{
	uint64_t rounds = 0, free = 0;
	uint32_t index = cp->cache_cpu_index;

	kmem_lock_enter(&kmem_cpu_list_lock);
	for (kmem_list_t *lp = kmem_cpu_list.next; lp != &kmem_cpu_list && index;
	    lp = lp->next) {
		kmem_cpu_t *cpu = KMEM_CONTAINER(lp, kmem_cpu_t, cpu_link);
		if (index >= kmem_load_acquire(&cpu->cpu_ncc))
			continue;
		kmem_cpu_cache_t *ccp = &kmem_load_acquire(&cpu->cpu_cc)[index];
		rounds += (uint64_t)kmem_load_relaxed(&ccp->cc_rounds) +
		    (uint64_t)kmem_load_relaxed(&ccp->cc_prounds);
		free += kmem_load_relaxed(&ccp->cc_free);
	}
	kmem_lock_exit(&kmem_cpu_list_lock);
	*freep = free;
	return (rounds);
}

/* ---- allocation and free ---- */

/* Loaded magazine is empty: swap or exchange with the depot.  Busy. */
static void *
cpu_alloc_refill(kmem_cache_t *cp, kmem_cpu_cache_t *ccp)
{
	if (ccp->cc_prounds > 0) {
		kmem_magazine_t *mp = ccp->cc_loaded;
		ccp->cc_loaded = ccp->cc_ploaded;
		ccp->cc_ploaded = mp;
		kmem_store_relaxed(&ccp->cc_rounds, (int32_t)ccp->cc_prounds);
		kmem_store_relaxed(&ccp->cc_prounds, (int16_t)0);
	} else {
		if (cp->cache_flags & KMF_NOMAGAZINE)
			return (NULL);
		depot_lock(cp);
		kmem_magazine_t *mp = maglist_pop(&cp->cache_full);
		if (mp != NULL) {
			kmem_store_relaxed(&cp->cache_depot_alloc,
			    cp->cache_depot_alloc + 1);
			if (ccp->cc_ploaded != NULL)
				maglist_push(&cp->cache_empty, ccp->cc_ploaded);
			ccp->cc_ploaded = ccp->cc_loaded;
			kmem_store_relaxed(&ccp->cc_prounds,
			    (int16_t)ccp->cc_rounds);
			ccp->cc_loaded = mp;
			kmem_store_relaxed(&ccp->cc_magsize,
			    (int16_t)cp->cache_magtype->mt_magsize);
			kmem_store_relaxed(&ccp->cc_rounds, (int32_t)ccp->cc_magsize);
		}
		kmem_lock_exit(&cp->cache_depot_lock);
		if (mp == NULL)
			return (NULL);
	}
	return (kmem_magazine_pop(ccp));
}

/* Loaded magazine is full (or absent): swap or exchange.  Busy. */
static bool
cpu_free_refill(kmem_cache_t *cp, kmem_cpu_cache_t *ccp, void *buf)
{
	if (ccp->cc_ploaded != NULL && ccp->cc_prounds == 0) {
		kmem_magazine_t *mp = ccp->cc_loaded;
		ccp->cc_loaded = ccp->cc_ploaded;
		ccp->cc_ploaded = mp;
		kmem_store_relaxed(&ccp->cc_prounds, (int16_t)ccp->cc_rounds);
		kmem_store_relaxed(&ccp->cc_rounds, 0);
	} else {
		if (cp->cache_flags & KMF_NOMAGAZINE)
			return (false);
		depot_lock(cp);
		kmem_magtype_t *mtp = cp->cache_magtype;
		kmem_magazine_t *emp = maglist_pop(&cp->cache_empty);
		kmem_lock_exit(&cp->cache_depot_lock);
		if (emp == NULL &&
		    (emp = kmem_slab_alloc(mtp->mt_cache, KM_NOSLEEP_LAZY)) ==
		    NULL)
			return (false);
		if (ccp->cc_ploaded != NULL) {
			depot_lock(cp);
			maglist_push(&cp->cache_full, ccp->cc_ploaded);
			kmem_store_relaxed(&cp->cache_depot_free,
			    cp->cache_depot_free + 1);
			kmem_lock_exit(&cp->cache_depot_lock);
		}
		ccp->cc_ploaded = ccp->cc_loaded;
		kmem_store_relaxed(&ccp->cc_prounds, (int16_t)ccp->cc_rounds);
		ccp->cc_loaded = emp;
		kmem_store_relaxed(&ccp->cc_rounds, 0);
		kmem_store_relaxed(&ccp->cc_magsize, (int16_t)mtp->mt_magsize);
	}
	kmem_magazine_push(ccp, buf);
	return (true);
}

/*
 * The slow paths.  The fast paths (kmem_magazine_alloc/free in
 * magazine_impl.h) found the loaded magazine empty (full), or could not
 * use the record at all; try the swap and the depot, then the slab layer.
 */
/*
 * The depot had no full magazine: fill one from the slab layer in a single
 * batch (one acquisition of cache_lock instead of one per buffer) and load
 * it.  Each thread so gets a run of neighbouring buffers of its own, which
 * also keeps threads from sharing cache lines.  No lock held; may sleep
 * (KM_SLEEP) and run constructors.  Returns a buffer, or NULL to let the
 * caller take one buffer from the slab layer.
 */
static void *
cpu_alloc_fill(kmem_cache_t *cp, int kmflag)
{
	kmem_lock_enter(&cp->cache_depot_lock);
	kmem_magtype_t *mtp = cp->cache_magtype;
	kmem_magazine_t *mp = maglist_pop(&cp->cache_empty);
	kmem_lock_exit(&cp->cache_depot_lock);
	if (mp == NULL &&
	    (mp = kmem_slab_alloc(mtp->mt_cache, KM_NOSLEEP_LAZY)) == NULL)
		return (NULL);
	int n = kmem_slab_alloc_batch(cp, kmflag, mp->mag_round,
	    mtp->mt_magsize);
	if (n == 0) {
		kmem_slab_free(mtp->mt_cache, mp);
		return (NULL);
	}

	kmem_cpu_t *cpu = kmem_plat_self_enter();
	kmem_cpu_cache_t *ccp;
	void *buf = NULL;
	if (kmem_cpu_begin(cpu, cp, &ccp)) {
		/* Load it unless the slot changed meanwhile (or resized). */
		if (ccp->cc_rounds == 0 && cp->cache_magtype == mtp &&
		    (ccp->cc_magsize == 0 || ccp->cc_magsize == mtp->mt_magsize)) {
			kmem_magazine_t *empty = ccp->cc_loaded;
			if (empty != NULL && ccp->cc_ploaded == NULL) {
				ccp->cc_ploaded = empty;
				empty = NULL;
			}
			ccp->cc_loaded = mp;
			kmem_store_relaxed(&ccp->cc_rounds, n);
			kmem_store_relaxed(&ccp->cc_magsize,
			    (int16_t)mtp->mt_magsize);
			buf = kmem_magazine_pop(ccp);
			mp = NULL;
			if (empty != NULL) {
				depot_lock(cp);
				maglist_push(&cp->cache_empty, empty);
				kmem_lock_exit(&cp->cache_depot_lock);
			}
		}
		kmem_cpu_end(cpu);
	}
	kmem_plat_self_exit();
	if (mp != NULL) {
		buf = mp->mag_round[--n];
		kmem_magazine_destroy(cp, mtp, mp, n);
	}
	return (buf);
}

KMEM_NOINLINE void *
kmem_cache_alloc_slow(kmem_cache_t *cp, int kmflag)
{
	kmem_cpu_t *cpu = kmem_plat_self_enter();
	kmem_cpu_cache_t *ccp;
	void *buf;

	if (kmem_cpu_begin(cpu, cp, &ccp)) {
		buf = ccp->cc_rounds > 0 ? kmem_magazine_pop(ccp) :
		    cpu_alloc_refill(cp, ccp);
		kmem_cpu_end(cpu);
		kmem_plat_self_exit();
		if (cp->cache_flags & KMF_NOMAGAZINE)
			goto slab;
		magazine_grow_check(cp);
		if (buf != NULL || (buf = cpu_alloc_fill(cp, kmflag)) != NULL)
			return (buf);
	} else {
		kmem_plat_self_exit();
		if (kmem_cpu_prepare(cp))
			return (kmem_cache_alloc(cp, kmflag));
	}
slab:
	if ((buf = kmem_slab_alloc(cp, kmflag)) == NULL) {
		if (kmflag & KM_PANIC)
			kmem_panic("kmem_cache_alloc(%s): cannot satisfy "
			    "mandatory allocation", cp->cache_name);
		return (NULL);
	}
	return (buf);
}

KMEM_NOINLINE void
kmem_cache_free_slow(kmem_cache_t *cp, void *buf)
{
	kmem_cpu_t *cpu = kmem_plat_self_enter();
	kmem_cpu_cache_t *ccp;

	if (kmem_cpu_begin(cpu, cp, &ccp)) {
		bool done = ccp->cc_rounds < ccp->cc_magsize ?
		    (kmem_magazine_push(ccp, buf), true) :
		    cpu_free_refill(cp, ccp, buf);
		kmem_cpu_end(cpu);
		kmem_plat_self_exit();
		if (!(cp->cache_flags & KMF_NOMAGAZINE))
			magazine_grow_check(cp);
		if (done)
			return;
	} else {
		kmem_plat_self_exit();
		if (kmem_cpu_prepare(cp)) {
			kmem_cache_free(cp, buf);
			return;
		}
	}
	kmem_fetch_add(&cp->cache_cpu_free, 1);
	kmem_slab_free(cp, buf);
}

void *
kmem_cache_alloc(kmem_cache_t *cp, int kmflag)
{
	void *buf;

	if (KMEM_LIKELY(kmem_magazine_alloc(cp, &buf)))
		return (buf);
	return (kmem_cache_alloc_slow(cp, kmflag));
}

void
kmem_cache_free(kmem_cache_t *cp, void *buf)
{
	if (KMEM_UNLIKELY(!kmem_magazine_free(cp, buf)))
		kmem_cache_free_slow(cp, buf);
}

/*
 * Grow the magazines of a cache whose depot was contended (illumos: more
 * than KMEM_DEPOT_CONTENTION times in an update interval) or that moved
 * KMEM_DEPOT_TRAFFIC_NOW magazines since the last growth: in user space a
 * larger magazine costs little, and the working-set reaper gives idle ones
 * back.  Caller holds kmem_cache_list_lock.
 */
void
kmem_magazine_resize(kmem_cache_t *cp)
{
	kmem_magtype_t *mtp = cp->cache_magtype;

	if (mtp == NULL || (cp->cache_flags & KMF_NOMAGAZINE))
		return;
	kmem_lock_enter(&cp->cache_depot_lock);
	uint64_t contention = cp->cache_depot_contention -
	    cp->cache_depot_contention_prev;
	uint64_t traffic = cp->cache_depot_alloc + cp->cache_depot_free;
	bool busy_depot = traffic - cp->cache_depot_traffic_prev >=
	    KMEM_DEPOT_TRAFFIC_NOW;
	kmem_store_relaxed(&cp->cache_depot_contention_prev,
	    cp->cache_depot_contention);
	kmem_store_relaxed(&cp->cache_depot_traffic_prev, traffic);
	kmem_lock_exit(&cp->cache_depot_lock);
	if ((contention > KMEM_DEPOT_CONTENTION || busy_depot) &&
	    cp->cache_chunksize < mtp->mt_maxbuf &&
	    mtp + 1 < kmem_magtype + kmem_nmagtype)
		kmem_cpu_purge(cp, mtp + 1);
}
