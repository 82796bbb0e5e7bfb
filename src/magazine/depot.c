/*
 * The depot: per-cache lists of full and empty magazines, their working-set
 * estimate and reaping, and magazine growth.  The theory statement of the
 * magazine layer is at the top of magazine.c.
 */
#include "magazine_impl.h"

#define KMEM_DEPOT_CONTENTION	3	/* per update interval: grow */
#define KMEM_DEPOT_CONTENTION_NOW 256	/* since the last growth: grow now */
#define KMEM_DEPOT_TRAFFIC_NOW	4096	/* exchanges since the last growth */

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
				mp = kmem_maglist_pop(mlp);
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

/*
 * Called from the slow paths with no lock held: if the depot has been
 * contended a lot since magazines last grew, grow them now rather than at
 * the next kmem_update().  The cache list lock is only tried, so this is
 * safe from inside a purge or a thread exit that already holds it.
 */
void
kmem_magazine_grow_check(kmem_cache_t *cp)
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
