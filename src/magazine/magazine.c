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
 * swapped (by the fast path itself); only otherwise does the CPU go to the
 * reserve (below) or the cache's depot, which holds
 * lists of full and empty magazines under one lock, and exchange a
 * magazine.  So a CPU touches shared state at most once every M operations,
 * and two swaps in a row can never thrash the depot.  The slab layer sees
 * only depot misses.  Magazines start at a size chosen from the chunk size
 * (kmi_magtype[]) and grow to the next size when the depot lock was
 * contended more than KMEM_DEPOT_CONTENTION times in an update interval,
 * as in illumos, and also at once, from a slow path, after 256 contended
 * depot acquisitions or 4096 depot exchanges since the last growth
 * (depot.c): in user space a bigger magazine costs little memory.  A slot
 * that loads KMEM_RESERVE_GROW magazines from its private reserve asks
 * for growth too, up to magazines of KMEM_RESERVE_MAGAZINE_BYTES (64 KiB)
 * in buffers, and pours its own buffers into the new size
 * (slot_upgrade()): a thread whose batches fit its reserve never reaches
 * the depot, where slots otherwise change size, and with 15 rounds a
 * batch benchmark of 1000 buffers took the slow path for one allocation
 * in 15 (one in 144 after), on two threads 8-10 or 20 ns a pair from run
 * to run (6-9 after).
 *
 * Growth stops no one and frees no buffer.  A magazine knows its
 * capacity, so under the depot lock the size changes and the depot's
 * empty magazines go; its full ones stay and are handed out until used
 * up.  Each record keeps its own pair until its next depot exchange, where
 * its full magazines join the depot's and its empty ones of the old size
 * go.  (Stopping every record to take its magazines, as a purge does, cost
 * the 4-thread server benchmark a fifth of its run time: while a purger
 * waited for a preempted busy thread, every other thread bypassed its
 * magazines.)
 *
 * The private reserve.  Before the depot, each slot keeps lists of full
 * and empty magazines of its own, up to KMEM_RESERVE_BYTES of buffers
 * (none for chunks past it), and all of a record's slots together up to
 * KMEM_RESERVE_CPU_BYTES (cpu_rbytes counts what their magazines could
 * hold): a magazine leaving the slot goes there if there is room, and a
 * slot that needs one takes it from there first, with no lock.  So a
 * thread that allocates and frees in batches larger than two magazines
 * gets its own buffers back, and another thread's never: when magazines
 * went through the depot, two threads doing so took each other's freed
 * magazines and every buffer's cache line moved between cores (batches of
 * 1000 ran 3 times slower on two threads than on one).
 * Buffers still travel between threads when one only allocates and
 * another only frees: a slot keeps full magazines only in an interval in
 * which its thread took full ones (cc_rallocs), so a consumer's go to the
 * depot for the producers, as before (kept, a 2-thread producer/consumer
 * benchmark peaked at twice its memory).  The record's bound lets a thread
 * keep a batch of 1000 256-byte buffers of one size (2-thread batches of
 * them: 16.7-19.6 ns a pair with 128 KiB a slot and no bound, 11.6-14.4
 * with these) while one that uses every size keeps less than before
 * (`xthread`: 21.4 -> 19.8-19.9 MiB).  A reserve decays as the depot's working
 * set does: each slot keeps its lists' low-water marks for the interval of
 * kmi_reserve_epoch (one kmem_update() each), and what sat unused through
 * a whole interval goes to the depot the next time its thread needs a
 * magazine; a purge takes it all.
 *
 * When the depot has no full magazine, magazines are filled from the slab
 * layer in one batch, a slab's worth or KMEM_FILL_MAX buffers at most: one
 * to load, the rest for the reserve.  So each thread gets runs of
 * neighbouring buffers of its own, sharing lines (or the pairs of lines
 * processors prefetch together) with another thread's only where two runs
 * meet: in an experiment, two threads whose buffers alternated in runs of
 * 15 ran a batch benchmark 3.5 times slower than with runs of their own.
 * For the same reason per-CPU records are aligned to two cache lines
 * (magazines are not: with runs of their own, aligning them so made no
 * measurable difference and cost a third more magazine memory).
 *
 * Working set.  Each depot list tracks the lowest number of magazines it
 * held during the current interval; kmem_update() turns that into a reap
 * limit, so a reap frees only magazines that sat unused for a whole
 * interval (kmi_depot_ws_reap()).
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
 * Memory pressure.  cpu_stop has a second bit, KMEM_CPU_STOP_BYPASS, set on
 * every record while anyone waits for memory or a reclaim runs: every free
 * then reaches the slab layer, where it wakes the waiters, and no buffer
 * hides in a thread's magazine.  When an allocation finds no memory,
 * KM_NOSLEEP reclaims (reclaim callbacks, every magazine, empty slabs) and
 * tries once more; KM_NOSLEEP_LAZY gives up at once; KM_SLEEP reclaims,
 * then waits for memory to be freed anywhere (vmem_pages.c) and tries
 * again, until it succeeds.
 *
 * Locking and context.  Inside a busy section nothing sleeps: new
 * magazines are allocated KM_NOSLEEP_LAZY, and no constructor or client
 * callback runs.  cache_depot_lock protects the depot lists and their
 * working-set numbers; kmem_cpu_list_lock the list of records.
 *
 * Invariants.
 *  1. A slot's cc_loaded is NULL only when cc_magsize is 0; cc_ploaded is
 *     NULL, empty (cc_prounds == 0) or full (cc_prounds == cc_magsize);
 *     both have capacity (mag_size) cc_magsize, which may be a size the
 *     cache has outgrown.
 *  2. Magazines on cache_empty have the capacity of cache_magtype, which
 *     changes only under the depot lock.  Those on cache_full are full,
 *     of that size or an outgrown one (ml_capacity counts their rounds);
 *     every round is a constructed buffer of the cache, in no slab.
 *  3. While a purger holds a record stopped, its owner touches no slot.
 *  4. A slot's reserve holds cc_nrfull full and cc_nrempty empty magazines,
 *     all of capacity cc_magsize, together at most reserve_max()
 *     (kmi_slot_is_valid()); a record's cpu_rbytes is the sum over its
 *     slots of kmem_slot_rbytes(), at most KMEM_RESERVE_CPU_BYTES
 *     (checked as a purge empties every slot: it comes to 0).
 */
#include "magazine_impl.h"
#include "../debug/debug_impl.h"

kmem_magtype_t kmi_magtype[] = {
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
const int kmi_nmagtype = sizeof (kmi_magtype) / sizeof (kmi_magtype[0]);

/*
 * What a slow path leaves to do once its record is no longer busy:
 * magazines to destroy, and whether the depot asks for bigger magazines
 * (decided under the depot lock, where its counters are at hand).
 */
typedef struct refill {
	kmem_magazine_t	*rf_retired;
	bool		rf_grow;	/* the depot's counters say grow */
	bool		rf_grow_now;	/* the slot's reserve traffic does */
} refill_t;

static void slot_upgrade(kmem_cache_t *cp);

static void
refill_finish(kmem_cache_t *cp, refill_t *rf)
{
	if (rf->rf_retired != NULL)
		kmi_magazines_destroy(cp, rf->rf_retired);
	if (rf->rf_grow || rf->rf_grow_now)
		kmi_magazine_resize(cp, rf->rf_grow_now);
	if (rf->rf_grow_now)
		slot_upgrade(cp);
}

/* ---- the private reserve ---- */

/*
 * How many magazines the slot's reserve may hold, full and empty together:
 * KMEM_RESERVE_BYTES of buffers (none for chunks past it).
 */
static uint32_t
reserve_max(const kmem_cache_t *cp, const kmem_cpu_cache_t *ccp)
{
	if (ccp->cc_magsize <= 0)
		return (0);
	return ((uint32_t)(KMEM_RESERVE_BYTES /
	    ((size_t)ccp->cc_magsize * cp->cache_chunksize)));
}

/*
 * Whether the slot's reserve may take one more magazine: within
 * reserve_max(), and within its record's KMEM_RESERVE_CPU_BYTES, so that a
 * thread's reserves together stay bounded however many caches it uses,
 * while one cache it uses hard may have up to KMEM_RESERVE_BYTES (a batch
 * of 1000 256-byte buffers fits).
 */
static bool
reserve_has_room(const kmem_cpu_t *cpu, const kmem_cache_t *cp,
    const kmem_cpu_cache_t *ccp)
{
	return (ccp->cc_nrfull + ccp->cc_nrempty < reserve_max(cp, ccp) &&
	    cpu->cpu_rbytes + (uint64_t)(uint32_t)ccp->cc_magsize *
	    cp->cache_chunksize <= KMEM_RESERVE_CPU_BYTES);
}

/* The interval of kmi_reserve_epoch, whose low-water marks start here. */
uint32_t kmi_reserve_epoch;

static void
reserve_mark(kmem_cpu_cache_t *ccp)
{
	ccp->cc_rminfull = ccp->cc_nrfull;
	ccp->cc_rminempty = ccp->cc_nrempty;
	ccp->cc_repoch = (uint16_t)kmem_load_relaxed(&kmi_reserve_epoch);
	ccp->cc_rallocs = 0;
}

/*
 * Put mp on the slot's full (or empty) reserve list, or take one off it
 * (lowering the list's low-water mark): cpu, the slot's record, counts
 * what the magazine can hold in cpu_rbytes.
 */
static void
reserve_push(kmem_cpu_t *cpu, const kmem_cache_t *cp, kmem_cpu_cache_t *ccp,
    kmem_magazine_t *mp, bool full)
{
	kmem_magazine_t **listp = full ? &ccp->cc_rfull : &ccp->cc_rempty;
	uint16_t *np = full ? &ccp->cc_nrfull : &ccp->cc_nrempty;

	mp->mag_next = *listp;
	*listp = mp;
	kmem_store_relaxed(np, (uint16_t)(*np + 1));
	cpu->cpu_rbytes += (uint64_t)mp->mag_size * cp->cache_chunksize;
}

static kmem_magazine_t *
reserve_pop(kmem_cpu_t *cpu, const kmem_cache_t *cp, kmem_cpu_cache_t *ccp,
    bool full)
{
	kmem_magazine_t **listp = full ? &ccp->cc_rfull : &ccp->cc_rempty;
	uint16_t *np = full ? &ccp->cc_nrfull : &ccp->cc_nrempty;
	uint16_t *minp = full ? &ccp->cc_rminfull : &ccp->cc_rminempty;
	kmem_magazine_t *mp = *listp;

	*listp = mp->mag_next;
	kmem_store_relaxed(np, (uint16_t)(*np - 1));
	if (*np < *minp)
		*minp = *np;
	cpu->cpu_rbytes -= (uint64_t)mp->mag_size * cp->cache_chunksize;
	return (mp);
}

/* Invariants 1 and 4 of one slot.  Its owner, busy. */
bool
kmi_slot_is_valid(const kmem_cache_t *cp, const kmem_cpu_cache_t *ccp)
{
	uint32_t size = (uint32_t)ccp->cc_magsize, n = 0;

	if ((ccp->cc_loaded == NULL) != (size == 0) ||
	    (ccp->cc_loaded != NULL && ccp->cc_loaded->mag_size != size) ||
	    (ccp->cc_ploaded != NULL && (ccp->cc_ploaded->mag_size != size ||
	    (ccp->cc_prounds != 0 && (uint32_t)ccp->cc_prounds != size))) ||
	    ccp->cc_nrfull + ccp->cc_nrempty > reserve_max(cp, ccp))
		return (false);
	for (const kmem_magazine_t *mp = ccp->cc_rfull; mp != NULL;
	    mp = mp->mag_next)
		if (mp->mag_size != size || ++n > ccp->cc_nrfull)
			return (false);
	if (n != ccp->cc_nrfull)
		return (false);
	n = 0;
	for (const kmem_magazine_t *mp = ccp->cc_rempty; mp != NULL;
	    mp = mp->mag_next)
		if (mp->mag_size != size || ++n > ccp->cc_nrempty)
			return (false);
	return (n == ccp->cc_nrempty);
}

/*
 * Give nfull full and nempty empty magazines of the slot's reserve to the
 * depot (what it cannot take goes on *retiredp).  Depot lock held; the
 * slot's owner, busy, or gone.
 */
void
kmi_reserve_give(kmem_cpu_t *cpu, kmem_cache_t *cp, kmem_cpu_cache_t *ccp,
    uint32_t nfull, uint32_t nempty, kmem_magazine_t **retiredp)
{
	for (; nfull > 0 && ccp->cc_rfull != NULL; nfull--)
		kmi_depot_put(cp, reserve_pop(cpu, cp, ccp, true), true,
		    retiredp);
	for (; nempty > 0 && ccp->cc_rempty != NULL; nempty--)
		kmi_depot_put(cp, reserve_pop(cpu, cp, ccp, false), false,
		    retiredp);
}

/*
 * A new interval (kmem_update()) since the slot's reserve last looked:
 * the magazines that sat in it through the whole interval before -- its
 * lists' low-water marks; all of them if it slept through more -- go to
 * the depot, whose working-set reap frees them if they stay idle there
 * too.  Busy, depot lock held.
 */
static void
reserve_decay(kmem_cache_t *cp, kmem_cpu_cache_t *ccp,
    kmem_magazine_t **retiredp)
{
	bool recent = (uint16_t)(ccp->cc_repoch + 1) ==
	    (uint16_t)kmem_load_relaxed(&kmi_reserve_epoch);

	kmi_reserve_give(kmem_cpu_self(), cp, ccp,
	    recent ? ccp->cc_rminfull : UINT32_MAX,
	    recent ? ccp->cc_rminempty : UINT32_MAX, retiredp);
	reserve_mark(ccp);
}

/*
 * The slot's previous magazine (full or empty) is leaving it: keep it in
 * the reserve if there is room -- a full one only if this thread took
 * full magazines this interval: one that only frees (a consumer) would
 * hoard what others allocate -- else give it to the depot.  Depot lock.
 */
static void
slot_keep_or_put(kmem_cache_t *cp, kmem_cpu_cache_t *ccp, kmem_magazine_t *mp,
    bool full, kmem_magazine_t **retiredp)
{
	kmem_cpu_t *cpu = kmem_cpu_self();

	if (reserve_has_room(cpu, cp, ccp) &&
	    mp->mag_size == (uint32_t)ccp->cc_magsize &&
	    (!full || ccp->cc_rallocs != 0))
		reserve_push(cpu, cp, ccp, mp, full);
	else
		kmi_depot_put(cp, mp, full, retiredp);
}

/* Let the reserve decay first if an interval began since it last did. */
static void
reserve_refresh(kmem_cache_t *cp, kmem_cpu_cache_t *ccp, refill_t *rf)
{
	if (KMEM_LIKELY(ccp->cc_repoch ==
	    (uint16_t)kmem_load_relaxed(&kmi_reserve_epoch)))
		return;
	kmem_depot_lock(cp);
	reserve_decay(cp, ccp, &rf->rf_retired);
	kmem_lock_exit(&cp->cache_depot_lock);
}

/*
 * A slot loaded a magazine from its reserve.  Every KMEM_RESERVE_GROW of
 * those it asks for bigger magazines (kmi_magazine_resize()): a thread
 * that allocates and frees in batches of its own never touches the depot,
 * whose traffic and contention grow magazines otherwise, and with 15
 * rounds a batch of a thousand is 67 magazines, each a slow path, each way.
 */
static void
reserve_count(kmem_cpu_cache_t *ccp, refill_t *rf)
{
	if (++ccp->cc_rexchanges >= KMEM_RESERVE_GROW) {
		ccp->cc_rexchanges = 0;
		rf->rf_grow_now = true;
	}
}

/*
 * Take every magazine off the slot -- loaded, previous, reserve -- onto
 * *retiredp, each with its rounds if with_rounds (else with none: the
 * caller has them elsewhere), and leave the slot with none; its record,
 * cpu, no longer counts its reserve.  Its owner, busy, or stopped, or
 * gone.
 */
void
kmi_slot_retire(kmem_cpu_t *cpu, const kmem_cache_t *cp,
    kmem_cpu_cache_t *ccp, kmem_magazine_t **retiredp, bool with_rounds)
{
	cpu->cpu_rbytes -= kmem_slot_rbytes(cp, ccp);
	if (ccp->cc_loaded != NULL)
		kmi_magazine_retire(retiredp, ccp->cc_loaded,
		    with_rounds ? ccp->cc_rounds : 0);
	if (ccp->cc_ploaded != NULL)
		kmi_magazine_retire(retiredp, ccp->cc_ploaded,
		    with_rounds ? ccp->cc_prounds : 0);
	for (int full = 0; full < 2; full++) {
		kmem_magazine_t *mp = full ? ccp->cc_rfull : ccp->cc_rempty;
		while (mp != NULL) {
			kmem_magazine_t *next = mp->mag_next;
			kmi_magazine_retire(retiredp, mp,
			    full && with_rounds ? (int)mp->mag_size : 0);
			mp = next;
		}
	}
	ccp->cc_rfull = ccp->cc_rempty = NULL;
	kmem_store_relaxed(&ccp->cc_nrfull, (uint16_t)0);
	kmem_store_relaxed(&ccp->cc_nrempty, (uint16_t)0);
	ccp->cc_loaded = ccp->cc_ploaded = NULL;
	kmem_store_relaxed(&ccp->cc_rounds, 0);
	kmem_store_relaxed(&ccp->cc_prounds, (int16_t)0);
}

/* Magazines being filled by slot_pour(): rounds go in at po_at of po_to. */
typedef struct pour {
	kmem_magazine_t	*po_to;
	uint32_t	po_at;
	uint32_t	po_size;	/* their capacity */
	kmem_magazine_t	*po_fresh;	/* empty ones still to fill */
	kmem_magazine_t	*po_full;	/* the filled ones */
} pour_t;

static void
pour_rounds(pour_t *po, const kmem_magazine_t *mp, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		po->po_to->mag_round[po->po_at++] = mp->mag_round[i];
		if (po->po_at == po->po_size) {
			po->po_to->mag_next = po->po_full;
			po->po_full = po->po_to;
			po->po_to = po->po_fresh;
			po->po_fresh = po->po_fresh->mag_next;
			po->po_at = 0;
		}
	}
}

/*
 * Pour the rounds of the slot's magazines -- loaded, previous and its
 * reserve's full ones, all of the old size -- into fresh magazines of
 * mtp's larger size: as many as fill become the reserve's full ones (the
 * depot takes those past reserve_max()), the rest is loaded, and the old
 * magazines go on *retiredp, empty.  Busy; nothing changes if fresh
 * magazines cannot be had.
 */
static void
slot_pour(kmem_cache_t *cp, kmem_cpu_cache_t *ccp, kmem_magtype_t *mtp,
    kmem_magazine_t **retiredp)
{
	uint32_t old = (uint32_t)ccp->cc_magsize;
	uint32_t total = (uint32_t)ccp->cc_rounds + (uint32_t)ccp->cc_prounds +
	    ccp->cc_nrfull * old;
	pour_t po = { NULL, 0, (uint32_t)mtp->mt_magsize, NULL, NULL };

	for (uint32_t n = 0; n <= total / po.po_size; n++) {
		kmem_magazine_t *mp = kmi_magazine_create(mtp);
		if (mp == NULL) {
			kmi_magazines_destroy(cp, po.po_fresh);	/* no rounds */
			return;
		}
		kmi_magazine_retire(&po.po_fresh, mp, 0);
	}
	po.po_to = po.po_fresh;
	po.po_fresh = po.po_fresh->mag_next;
	pour_rounds(&po, ccp->cc_loaded, (uint32_t)ccp->cc_rounds);
	if (ccp->cc_ploaded != NULL)
		pour_rounds(&po, ccp->cc_ploaded, (uint32_t)ccp->cc_prounds);
	for (kmem_magazine_t *mp = ccp->cc_rfull; mp != NULL; mp = mp->mag_next)
		pour_rounds(&po, mp, old);
	ASSERT(po.po_fresh == NULL);

	kmem_cpu_t *cpu = kmem_cpu_self();
	kmi_slot_retire(cpu, cp, ccp, retiredp, false);
	ccp->cc_loaded = po.po_to;
	kmem_store_relaxed(&ccp->cc_magsize, (int16_t)po.po_size);
	kmem_store_relaxed(&ccp->cc_rounds, (int32_t)po.po_at);
	while (po.po_full != NULL) {
		kmem_magazine_t *next = po.po_full->mag_next;
		if (reserve_has_room(cpu, cp, ccp)) {
			reserve_push(cpu, cp, ccp, po.po_full, true);
		} else {
			kmem_depot_lock(cp);
			kmi_depot_put(cp, po.po_full, true, retiredp);
			kmem_lock_exit(&cp->cache_depot_lock);
		}
		po.po_full = next;
	}
	ccp->cc_rminfull = ccp->cc_nrfull;
	ccp->cc_rminempty = 0;
	ASSERT_EXPENSIVE(kmi_slot_is_valid(cp, ccp));
}

/*
 * The slot asked for bigger magazines (reserve_count()): if the cache's
 * are bigger than its own now, pour its buffers into ones of that size.
 * Without this a thread whose batches fit its reserve, and so never meets
 * the depot, where a slot changes size (slot_make_way()), kept its first
 * magazines for ever: a 2-thread batch benchmark took the slow path for
 * one allocation in 15 with magazines of 143 rounds to be had.
 */
static void
slot_upgrade(kmem_cache_t *cp)
{
	kmem_cpu_t *cpu = kmem_plat_self_enter();
	kmem_cpu_cache_t *ccp;
	kmem_magazine_t *retired = NULL;

	if (kmem_cpu_begin(cpu, cp->cache_slot, &ccp)) {
		kmem_magtype_t *mtp = kmem_load_relaxed(&cp->cache_magtype);
		if (ccp->cc_magsize > 0 && ccp->cc_magsize < mtp->mt_magsize)
			slot_pour(cp, ccp, mtp, &retired);
		kmem_cpu_end(cpu);
	}
	kmem_plat_self_exit();
	kmi_magazines_destroy(cp, retired);
}

/*
 * The loaded magazine is empty and the previous one too (or absent): load
 * a full one from the reserve; the loaded one becomes the previous one and
 * the previous one joins the reserve's empties.  Busy; false if the
 * reserve has none.  An idle reserve decays first (reserve_decay()).
 */
static bool
reserve_load_full(kmem_cache_t *cp, kmem_cpu_cache_t *ccp, refill_t *rf)
{
	reserve_refresh(cp, ccp, rf);
	if (ccp->cc_rfull == NULL)
		return (false);
	kmem_cpu_t *cpu = kmem_cpu_self();
	if (ccp->cc_ploaded != NULL)
		reserve_push(cpu, cp, ccp, ccp->cc_ploaded, false);
	ccp->cc_ploaded = ccp->cc_loaded;
	kmem_store_relaxed(&ccp->cc_prounds, (int16_t)0);
	ccp->cc_loaded = reserve_pop(cpu, cp, ccp, true);
	kmem_store_relaxed(&ccp->cc_rounds, (int32_t)ccp->cc_magsize);
	reserve_count(ccp, rf);
	return (true);
}

/* The mirror image for a free: load an empty one.  Busy. */
static bool
reserve_load_empty(kmem_cache_t *cp, kmem_cpu_cache_t *ccp, refill_t *rf)
{
	reserve_refresh(cp, ccp, rf);
	if (ccp->cc_rempty == NULL || ccp->cc_loaded == NULL)
		return (false);
	kmem_cpu_t *cpu = kmem_cpu_self();
	if (ccp->cc_ploaded != NULL)
		reserve_push(cpu, cp, ccp, ccp->cc_ploaded, true);
	ccp->cc_ploaded = ccp->cc_loaded;
	kmem_store_relaxed(&ccp->cc_prounds, (int16_t)ccp->cc_rounds);
	ccp->cc_loaded = reserve_pop(cpu, cp, ccp, false);
	kmem_store_relaxed(&ccp->cc_rounds, 0);
	reserve_count(ccp, rf);
	return (true);
}

/*
 * The slot is about to load a magazine of capacity size: its previous
 * magazine goes to the reserve or the depot and the loaded one becomes the
 * previous one, or goes too if its size differs (one of them outgrown), so
 * that the slot's two magazines keep one size; a change of size empties
 * the reserve into the depot.  Depot lock held.
 */
static void
slot_make_way(kmem_cache_t *cp, kmem_cpu_cache_t *ccp, uint32_t size,
    kmem_magazine_t **retiredp)
{
	if (ccp->cc_ploaded != NULL)
		slot_keep_or_put(cp, ccp, ccp->cc_ploaded,
		    ccp->cc_prounds != 0, retiredp);
	if (ccp->cc_loaded != NULL && ccp->cc_loaded->mag_size != size) {
		kmi_depot_put(cp, ccp->cc_loaded, ccp->cc_rounds != 0,
		    retiredp);
		ccp->cc_loaded = NULL;
		kmem_store_relaxed(&ccp->cc_rounds, 0);
	}
	if (size != (uint32_t)ccp->cc_magsize)	/* all of another size */
		kmi_reserve_give(kmem_cpu_self(), cp, ccp, UINT32_MAX,
		    UINT32_MAX, retiredp);
	ccp->cc_ploaded = ccp->cc_loaded;
	kmem_store_relaxed(&ccp->cc_prounds, (int16_t)ccp->cc_rounds);
}

/*
 * The loaded and previous magazines are empty (kmem_magazine_can_alloc()
 * said so): load a full one from the reserve or the depot.  Busy; what is
 * left to do once not busy goes in *rf.
 */
static void *
cpu_alloc_refill(kmem_cache_t *cp, kmem_cpu_cache_t *ccp, refill_t *rf)
{
	if (!reserve_load_full(cp, ccp, rf)) {
		if (cp->cache_flags & KMF_NOMAGAZINE)
			return (NULL);
		kmem_depot_lock(cp);
		rf->rf_grow = kmi_depot_wants_growth(cp);
		kmem_magazine_t *mp = kmem_maglist_pop(&cp->cache_full);
		ASSERT_EXPENSIVE(kmi_depot_is_valid(cp));
		if (mp != NULL) {
			kmem_store_relaxed(&cp->cache_depot_alloc,
			    cp->cache_depot_alloc + 1);
			slot_make_way(cp, ccp, mp->mag_size, &rf->rf_retired);
			ccp->cc_loaded = mp;
			kmem_store_relaxed(&ccp->cc_magsize, (int16_t)mp->mag_size);
			kmem_store_relaxed(&ccp->cc_rounds, (int32_t)mp->mag_size);
		}
		kmem_lock_exit(&cp->cache_depot_lock);
		if (mp == NULL)
			return (NULL);
	}
	ccp->cc_rallocs = 1;
	ASSERT_EXPENSIVE(kmi_slot_is_valid(cp, ccp));
	return (kmem_magazine_pop(ccp));
}

/*
 * The loaded magazine is full (or absent) and the previous one too
 * (kmem_magazine_can_free() said so): load an empty one from the reserve
 * or the depot.  Busy; what is left to do once not busy goes in *rf.
 */
static bool
cpu_free_refill(kmem_cache_t *cp, kmem_cpu_cache_t *ccp, void *buf,
    refill_t *rf)
{
	if (!reserve_load_empty(cp, ccp, rf)) {
		if (cp->cache_flags & KMF_NOMAGAZINE)
			return (false);
		kmem_depot_lock(cp);
		rf->rf_grow = kmi_depot_wants_growth(cp);
		kmem_magazine_t *emp = kmem_maglist_pop(&cp->cache_empty);
		if (emp == NULL) {
			kmem_magtype_t *mtp = cp->cache_magtype;
			kmem_lock_exit(&cp->cache_depot_lock);
			if ((emp = kmi_magazine_create(mtp)) == NULL)
				return (false);
			kmem_depot_lock(cp);
		}
		slot_make_way(cp, ccp, emp->mag_size, &rf->rf_retired);
		ASSERT_EXPENSIVE(kmi_depot_is_valid(cp));
		kmem_lock_exit(&cp->cache_depot_lock);
		ccp->cc_loaded = emp;
		kmem_store_relaxed(&ccp->cc_rounds, 0);
		kmem_store_relaxed(&ccp->cc_magsize, (int16_t)emp->mag_size);
	}
	ASSERT_EXPENSIVE(kmi_slot_is_valid(cp, ccp));
	kmem_magazine_push(ccp, buf);
	return (true);
}

/*
 * The slow paths.  The fast paths (kmem_magazine_alloc/free in
 * magazine_impl.h) found the loaded magazine empty (full), or could not
 * use the record at all (the swap is theirs); try the reserve and the
 * depot, then the slab layer.
 */
/*
 * An empty magazine for a fill: the depot's (not to leave them piling up
 * there while fills make new ones), else a new one; NULL if none.
 */
static kmem_magazine_t *
depot_take_empty(kmem_cache_t *cp)
{
	kmem_lock_enter(&cp->cache_depot_lock);
	kmem_magtype_t *mtp = cp->cache_magtype;
	kmem_magazine_t *mp = kmem_maglist_pop(&cp->cache_empty);
	kmem_lock_exit(&cp->cache_depot_lock);
	return (mp != NULL ? mp : kmi_magazine_create(mtp));
}

/*
 * Fill mp and, for the slot's reserve, up to max more magazines of its
 * size -- as many as make up a slab's worth of buffers with it, at most
 * KMEM_FILL_MAX buffers -- in one batch from the slab layer.  The extra
 * magazines come back on *morep, full; mp may be short.  Returns mp's
 * rounds (-1: a constructor failed before any buffer could be had).
 */
static int
cpu_fill(kmem_cache_t *cp, kmem_magazine_t *mp, uint32_t max, int kmflag,
    kmem_magazine_t **morep)
{
	size_t size = mp->mag_size;
	size_t per_slab = cp->cache_slabsize / cp->cache_chunksize;
	size_t nmore = kmem_min(kmem_min(per_slab, KMEM_FILL_MAX) / size,
	    (size_t)max + 1);

	*morep = NULL;
	if (nmore < 2)
		return (kmi_slab_alloc_batch(cp, kmflag, mp->mag_round,
		    (int)size));
	void *bufs[KMEM_FILL_MAX];
	int n = kmi_slab_alloc_batch(cp, kmflag, bufs, (int)(nmore * size));
	if (n <= 0)
		return (n);
	int first = kmem_min(n, (int)size), at = first;
	memcpy(mp->mag_round, bufs, (size_t)first * sizeof (void *));
	while (n - at >= (int)size) {
		kmem_magazine_t *more = depot_take_empty(cp);
		if (more == NULL || more->mag_size != size) {
			if (more != NULL)	/* the size changed */
				kmi_magazine_destroy(cp, more, 0);
			break;
		}
		memcpy(more->mag_round, bufs + at, size * sizeof (void *));
		at += (int)size;
		more->mag_next = *morep;
		*morep = more;
	}
	while (at < n)
		kmi_slab_free(cp, bufs[at++]);
	/* No stale pointers on the stack: a leak scan would follow them. */
	for (int i = 0; i < n; i++)
		kmem_store_relaxed(&bufs[i], NULL);
	kmem_compiler_barrier();
	return (first);
}

/*
 * The depot had no full magazine: fill one from the slab layer in a single
 * batch (one acquisition of cache_lock instead of one per buffer) and load
 * it, and fill more for the slot's reserve, up to a slab's worth in all.
 * Each thread so gets runs of neighbouring buffers of its own, a slab or
 * so long: two threads whose buffers alternate in runs of one magazine
 * (a kilobyte) ran a batch benchmark 3.5 times slower than with runs of
 * their own, though no buffer ever passed between them.  No lock held; may
 * sleep (KM_SLEEP) and run constructors.  Returns a buffer, or NULL to let
 * the caller take one buffer from the slab layer.
 */
static void *
cpu_alloc_fill(kmem_cache_t *cp, int kmflag)
{
	kmem_magazine_t *mp = depot_take_empty(cp);
	if (mp == NULL)
		return (NULL);
	kmem_magazine_t *more;
	int n = cpu_fill(cp, mp, (uint32_t)(KMEM_RESERVE_BYTES /
	    (mp->mag_size * cp->cache_chunksize)), kmflag, &more);
	if (n <= 0) {		/* none, or a constructor failed (-1) */
		kmi_magazine_destroy(cp, mp, 0);
		return (NULL);
	}

	kmem_cpu_t *cpu = kmem_plat_self_enter();
	kmem_cpu_cache_t *ccp;
	kmem_magazine_t *retired = NULL;
	void *buf = NULL;
	if (kmem_cpu_begin(cpu, cp->cache_slot, &ccp)) {
		/* Load it unless the slot was refilled meanwhile. */
		if (ccp->cc_rounds == 0) {
			kmem_depot_lock(cp);
			slot_make_way(cp, ccp, mp->mag_size, &retired);
			ccp->cc_loaded = mp;
			kmem_store_relaxed(&ccp->cc_rounds, n);
			kmem_store_relaxed(&ccp->cc_magsize,
			    (int16_t)mp->mag_size);
			ccp->cc_rallocs = 1;	/* keep the fill's others */
			while (more != NULL) {
				kmem_magazine_t *next = more->mag_next;
				slot_keep_or_put(cp, ccp, more, true, &retired);
				more = next;
			}
			kmem_lock_exit(&cp->cache_depot_lock);
			buf = kmem_magazine_pop(ccp);
			mp = NULL;
		}
		kmem_cpu_end(cpu);
	}
	kmem_plat_self_exit();
	if (mp != NULL) {
		buf = mp->mag_round[--n];
		kmi_magazine_retire(&retired, mp, n);
	}
	while (more != NULL) {
		kmem_magazine_t *next = more->mag_next;
		kmi_magazine_retire(&retired, more, (int)more->mag_size);
		more = next;
	}
	kmi_magazines_destroy(cp, retired);
	return (buf);
}

/*
 * One attempt through the magazine and slab layers; never sleeps for
 * memory.  Sets *ctor_failed when the reason for NULL is a constructor.
 */
static void *
cache_alloc_attempt(kmem_cache_t *cp, int kmflag, bool *ctor_failed)
{
	kmem_cpu_t *cpu = kmem_plat_self_enter();
	kmem_cpu_cache_t *ccp;
	void *buf;

	if (kmem_cpu_begin(cpu, cp->cache_slot, &ccp)) {
		refill_t rf = { NULL, false, false };
		buf = kmem_magazine_can_alloc(ccp) ? kmem_magazine_pop(ccp) :
		    cpu_alloc_refill(cp, ccp, &rf);
		kmem_cpu_end(cpu);
		kmem_plat_self_exit();
		refill_finish(cp, &rf);
		if (!(cp->cache_flags & KMF_NOMAGAZINE)) {
			if (buf != NULL ||
			    (buf = cpu_alloc_fill(cp, kmflag)) != NULL)
				return (buf);
		}
	} else {
		kmem_plat_self_exit();
		if (kmi_cpu_prepare(cp))
			return (cache_alloc_attempt(cp, kmflag, ctor_failed));
	}
	int n = kmi_slab_alloc_batch(cp, kmflag, &buf, 1);
	*ctor_failed = n < 0;
	return (n == 1 ? buf : NULL);
}

/* A KM_SLEEP allocation about to wait: panic if it would wait forever. */
static void
cache_alloc_possible(kmem_cache_t *cp, int kmflag)
{
	if (!vmi_can_ever_alloc(cp->cache_arena, cp->cache_slabsize,
	    kmi_slab_mem_align(cp), kmflag))
		kmi_panic("kmem_cache_alloc(%s, KM_SLEEP): can never be "
		    "satisfied: a slab of %zu bytes cannot be had from arena "
		    "'%s' (memory budget physmem=%zu)", cp->cache_name,
		    cp->cache_slabsize, vmem_name(cp->cache_arena),
		    kmem_physmem());
}

/*
 * Memory is short.  KM_NOSLEEP reclaims (reclaim callbacks, every
 * magazine, empty slabs) and tries again; KM_NOSLEEP_LAZY gives up at
 * once; KM_SLEEP reclaims, then waits for memory to be freed anywhere and
 * tries again each time, until it succeeds.
 */
static KMEM_NOINLINE void *
cache_alloc_pressure(kmem_cache_t *cp, int kmflag)
{
	bool ctor_failed = false;
	void *buf = NULL;

	if ((kmflag & KM_NOSLEEP_LAZY) != KM_NOSLEEP_LAZY) {
		kmi_reclaim(kmflag);
		buf = cache_alloc_attempt(cp, kmflag, &ctor_failed);
	}
	if (buf == NULL && !ctor_failed && !(kmflag & KM_NOSLEEP)) {
		if (!kmem_plat_may_sleep() || kmi_reclaiming()) {
			kmi_warn("kmem_cache_alloc(%s): KM_SLEEP allocation in "
			    "a context that cannot sleep%s", cp->cache_name,
			    kmi_reclaiming() ? " (a reclaim callback), with "
			    "the reserve spent" : "");
		} else {
			uint64_t gen;
			cache_alloc_possible(cp, kmflag);
			vmi_memwait_enter(&gen);
			while ((buf = cache_alloc_attempt(cp, kmflag,
			    &ctor_failed)) == NULL && !ctor_failed)
				vmi_memwait_sleep(&gen);
			vmi_memwait_exit();
		}
	}
	if (buf == NULL) {
		kmem_lock_enter(&cp->cache_lock);
		cp->cache_alloc_fail++;
		kmem_lock_exit(&cp->cache_lock);
		if (kmflag & KM_PANIC)
			kmi_panic("kmem_cache_alloc(%s): cannot satisfy "
			    "mandatory allocation", cp->cache_name);
	} else {
		kmem_track_buf_alloc(cp, buf);
	}
	return (buf);
}

static void cache_free_body(kmem_cache_t *cp, void *buf);

static void *
cache_alloc_guarded(kmem_cache_t *cp, void *buf, int kmflag)
{
	if (buf == NULL || cp->cache_debug->do_alloc(cp, buf, kmflag) == 0)
		return (buf);
	/* The constructor failed: the buffer goes back, and the cache's */
	/* counts show a failure, not an allocation and a free. */
	kmem_lock_enter(&cp->cache_lock);
	cp->cache_alloc_fail++;
	cp->cache_free_uncounted++;
	kmem_lock_exit(&cp->cache_lock);
	cache_free_body(cp, buf);
	return (NULL);
}

/* Fault injection (kmem_cache_mtbf()): is this allocation to fail? */
static bool
cache_alloc_inject(kmem_cache_t *cp, int kmflag)
{
	uint32_t mtbf = kmem_load_relaxed(&cp->cache_mtbf);

	if (mtbf == 0 || !(kmflag & KM_NOSLEEP) ||
	    (kmem_fetch_add(&cp->cache_mtbf_count, 1) + 1) % mtbf != 0)
		return (false);
	kmem_lock_enter(&cp->cache_lock);
	cp->cache_alloc_fail++;
	kmem_lock_exit(&cp->cache_lock);
	return (true);
}

static void *
cache_alloc_slow_body(kmem_cache_t *cp, int kmflag)
{
	if (KMEM_UNLIKELY(cp->cache_mtbf != 0) && cache_alloc_inject(cp, kmflag))
		return (NULL);
	bool ctor_failed = false;
	void *buf = cache_alloc_attempt(cp, kmflag, &ctor_failed);
	if (buf != NULL)
		kmem_track_buf_alloc(cp, buf);

	if (KMEM_UNLIKELY(cp->cache_flags & KMF_BUFTAG)) {
		if (buf == NULL && !ctor_failed)
			buf = cache_alloc_pressure(cp, kmflag);
		return (cache_alloc_guarded(cp, buf, kmflag));
	}
	if (KMEM_LIKELY(buf != NULL))
		return (buf);
	if (ctor_failed) {
		kmem_lock_enter(&cp->cache_lock);
		cp->cache_alloc_fail++;
		kmem_lock_exit(&cp->cache_lock);
		return (NULL);
	}
	return (cache_alloc_pressure(cp, kmflag));
}

KMEM_NOINLINE void *
kmi_cache_alloc_slow(kmem_cache_t *cp, int kmflag)
{
	/* Reclaim callbacks free memory: they may use the reserve. */
	if (KMEM_UNLIKELY(kmi_reclaiming()))
		kmflag |= KM_PUSHPAGE;
	void *buf = cache_alloc_slow_body(cp, kmflag);

	if (KMEM_UNLIKELY(buf == NULL))
		kmi_debug_alloc_failed(cp, cp->cache_name,
		    cp->cache_bufsize);
	return (buf);
}

/* Put a free buffer in this thread's magazine, or in its slab. */
static void
cache_free_body(kmem_cache_t *cp, void *buf)
{
	kmem_cpu_t *cpu = kmem_plat_self_enter();
	kmem_cpu_cache_t *ccp;

	kmem_track_buf_free(cp, buf);
	if (kmem_cpu_begin(cpu, cp->cache_slot, &ccp)) {
		refill_t rf = { NULL, false, false };
		bool done = kmem_magazine_can_free(ccp) ?
		    (kmem_magazine_push(ccp, buf), true) :
		    cpu_free_refill(cp, ccp, buf, &rf);
		kmem_cpu_end(cpu);
		kmem_plat_self_exit();
		refill_finish(cp, &rf);
		if (done)
			return;
	} else {
		kmem_plat_self_exit();
		if (kmi_cpu_prepare(cp)) {
			cache_free_body(cp, buf);
			return;
		}
	}
	kmem_fetch_add(&cp->cache_cpu_free, 1);
	kmi_slab_free(cp, buf);
}

KMEM_NOINLINE void
kmi_cache_free_slow(kmem_cache_t *cp, void *buf)
{
	if (KMEM_UNLIKELY(cp->cache_flags & KMF_BUFTAG) &&
	    !cp->cache_debug->do_free(cp, buf))	/* every free is checked */
		return;				/* reported; not taken back */
	cache_free_body(cp, buf);
}

void *
kmem_cache_alloc(kmem_cache_t *cp, int kmflag)
{
	void *buf;

	if (KMEM_LIKELY(kmem_magazine_alloc(cp, &buf)))
		return (buf);
	return (kmi_cache_alloc_slow(cp, kmflag));
}

void
kmem_cache_free(kmem_cache_t *cp, void *buf)
{
	if (KMEM_UNLIKELY(!kmem_magazine_free(cp, buf)))
		kmi_cache_free_slow(cp, buf);
}

