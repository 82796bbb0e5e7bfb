/*
 * The depot: per-cache lists of full and empty magazines, their working-set
 * estimate and reaping, and magazine growth.  The theory statement of the
 * magazine layer is at the top of magazine.c.
 */
#include "magazine_impl.h"

#define KMEM_DEPOT_CONTENTION	3	/* per update interval: grow */
#define KMEM_DEPOT_CONTENTION_NOW 256	/* since the last growth: grow now */
#define KMEM_DEPOT_TRAFFIC_NOW	4096	/* exchanges since the last growth */

/* A new empty magazine of mtp's size, or NULL; never sleeps. */
kmem_magazine_t *
kmi_magazine_create(kmem_magtype_t *mtp)
{
	kmem_magazine_t *mp = kmi_slab_alloc(mtp->mt_cache, KM_NOSLEEP_LAZY);

	if (mp != NULL)
		mp->mag_size = (uint32_t)mtp->mt_magsize;
	return (mp);
}

/* Free a magazine and return its first nrounds rounds to the slab layer. */
void
kmi_magazine_destroy(kmem_cache_t *cp, kmem_magazine_t *mp, int nrounds)
{
	kmem_magtype_t *mtp = kmi_magtype;

	while (mtp->mt_magsize != (int)mp->mag_size)
		mtp++;
	ASSERT(mtp < kmi_magtype + kmi_nmagtype);
	for (int i = 0; i < nrounds; i++)
		kmi_slab_free(cp, mp->mag_round[i]);
	kmi_slab_free(mtp->mt_cache, mp);
}

/* Free a list of magazines, each with its first mag_rounds rounds. */
void
kmi_magazines_destroy(kmem_cache_t *cp, kmem_magazine_t *mp)
{
	while (mp != NULL) {
		kmem_magazine_t *next = mp->mag_next;
		kmi_magazine_destroy(cp, mp, (int)mp->mag_rounds);
		mp = next;
	}
}

/* Put mp on *listp with its round count, for kmi_magazines_destroy(). */
void
kmi_magazine_retire(kmem_magazine_t **listp, kmem_magazine_t *mp,
    int nrounds)
{
	mp->mag_rounds = (uint32_t)nrounds;
	mp->mag_next = *listp;
	*listp = mp;
}

/*
 * Give a full or empty magazine to the depot.  A full one is welcome
 * whatever its size: the depot hands it out until it is gone.  An empty
 * one of a size the cache has outgrown goes on *retiredp instead.  Depot
 * lock held.
 */
void
kmi_depot_put(kmem_cache_t *cp, kmem_magazine_t *mp, bool full,
    kmem_magazine_t **retiredp)
{
	ASSERT(kmem_lock_held(&cp->cache_depot_lock));
	if (full) {
		kmem_maglist_push(&cp->cache_full, mp);
		kmem_store_relaxed(&cp->cache_depot_free,
		    cp->cache_depot_free + 1);
	} else if (mp->mag_size != (uint32_t)cp->cache_magtype->mt_magsize) {
		kmi_magazine_retire(retiredp, mp, 0);
	} else {
		kmem_maglist_push(&cp->cache_empty, mp);
	}
	ASSERT_EXPENSIVE(kmi_depot_is_valid(cp));
}

/* One depot list's counts match its magazines.  Depot lock held. */
static bool
maglist_is_valid(const kmem_maglist_t *mlp, uint32_t only_size)
{
	uint64_t n = 0, capacity = 0;

	for (const kmem_magazine_t *mp = mlp->ml_list; mp != NULL;
	    mp = mp->mag_next) {
		if (mp->mag_size == 0 || ++n > mlp->ml_total ||
		    (only_size != 0 && mp->mag_size != only_size))
			return (false);
		capacity += mp->mag_size;
	}
	return (n == mlp->ml_total && capacity == mlp->ml_capacity &&
	    mlp->ml_min <= mlp->ml_total);
}

/*
 * The depot's invariants (magazine.c): each list's count, capacity and
 * low-water mark agree with its magazines, and empty magazines are all of
 * the current size (outgrown ones are retired).  Depot lock held.
 */
bool
kmi_depot_is_valid(const kmem_cache_t *cp)
{
	return (maglist_is_valid(&cp->cache_full, 0) &&
	    maglist_is_valid(&cp->cache_empty,
	    (uint32_t)cp->cache_magtype->mt_magsize));
}

/* Take one depot list of cp onto *retiredp.  Depot lock held. */
static void
depot_take_list(kmem_cache_t *cp, bool full, kmem_magazine_t **retiredp)
{
	kmem_maglist_t *mlp = full ? &cp->cache_full : &cp->cache_empty;
	kmem_magazine_t *mp = mlp->ml_list;

	ASSERT(kmem_lock_held(&cp->cache_depot_lock));
	while (mp != NULL) {
		kmem_magazine_t *next = mp->mag_next;
		kmi_magazine_retire(retiredp, mp, full ? (int)mp->mag_size : 0);
		mp = next;
	}
	*mlp = (kmem_maglist_t){ NULL, 0, 0, 0, mlp->ml_alloc, 0 };
}

/* Take every depot magazine of cp onto *retiredp.  Depot lock held. */
void
kmi_depot_take(kmem_cache_t *cp, kmem_magazine_t **retiredp)
{
	depot_take_list(cp, true, retiredp);
	depot_take_list(cp, false, retiredp);
}

/* Start a new interval: what stays below ml_min until the next is idle. */
void
kmi_depot_ws_update(kmem_cache_t *cp)
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
kmi_depot_ws_reap(kmem_cache_t *cp)
{
	for (int full = 1; full >= 0; full--) {
		kmem_maglist_t *mlp = full ? &cp->cache_full : &cp->cache_empty;
		for (;;) {
			kmem_lock_enter(&cp->cache_depot_lock);
			kmem_magazine_t *mp = NULL;
			if (mlp->ml_reaplimit > 0 && mlp->ml_min > 0) {
				mp = kmem_maglist_pop(mlp);
				mlp->ml_reaplimit--;
				cp->cache_reap++;
			}
			kmem_lock_exit(&cp->cache_depot_lock);
			if (mp == NULL)
				break;
			kmi_magazine_destroy(cp, mp,
			    full ? (int)mp->mag_size : 0);
		}
	}
}

/*
 * Has the depot been contended or busy enough since magazines last grew
 * to grow them now rather than at the next kmem_update()?  Depot lock.
 */
bool
kmi_depot_wants_growth(kmem_cache_t *cp)
{
	return (cp->cache_depot_contention - cp->cache_depot_contention_prev >=
	    KMEM_DEPOT_CONTENTION_NOW || cp->cache_depot_alloc +
	    cp->cache_depot_free - cp->cache_depot_traffic_prev >=
	    KMEM_DEPOT_TRAFFIC_NOW);
}

/*
 * Grow the magazines of a cache whose depot was contended (illumos: more
 * than KMEM_DEPOT_CONTENTION times in an update interval), that moved
 * KMEM_DEPOT_TRAFFIC_NOW magazines since the last growth, or one of whose
 * slots exchanged KMEM_RESERVE_GROW with its reserve (reserve_busy; only
 * up to magazines of KMEM_RESERVE_MAGAZINE_BYTES in buffers): in user
 * space a larger magazine costs little, and the working-set reaper gives
 * idle ones back.  Only the depot changes, under its lock: its empty
 * magazines go as the size changes, its full ones stay to be used up, and
 * the records keep theirs until their next depot exchange (magazine.c).
 * So no record is stopped, and no buffer goes back to the slab layer.
 */
void
kmi_magazine_resize(kmem_cache_t *cp, bool reserve_busy)
{
	kmem_magazine_t *retired = NULL;

	if (cp->cache_flags & KMF_NOMAGAZINE)
		return;
	kmem_lock_enter(&cp->cache_depot_lock);
	kmem_magtype_t *mtp = cp->cache_magtype;
	uint64_t contention = cp->cache_depot_contention -
	    cp->cache_depot_contention_prev;
	uint64_t traffic = cp->cache_depot_alloc + cp->cache_depot_free;
	bool busy_depot = traffic - cp->cache_depot_traffic_prev >=
	    KMEM_DEPOT_TRAFFIC_NOW;
	bool depot_says = contention > KMEM_DEPOT_CONTENTION || busy_depot;
	bool grow = cp->cache_chunksize < mtp->mt_maxbuf &&
	    mtp + 1 < kmi_magtype + kmi_nmagtype && (depot_says ||
	    (reserve_busy && (mtp + 1)->mt_magsize * cp->cache_chunksize <=
	    KMEM_RESERVE_MAGAZINE_BYTES));
	if (grow) {
		depot_take_list(cp, false, &retired);
		kmem_store_relaxed(&cp->cache_magtype, mtp + 1);
		cp->cache_resize++;
	}
	/* A reserve's request leaves the depot's counts to their verdict. */
	if (grow || depot_says || !reserve_busy) {
		kmem_store_relaxed(&cp->cache_depot_contention_prev,
		    cp->cache_depot_contention);
		kmem_store_relaxed(&cp->cache_depot_traffic_prev, traffic);
	}
	kmem_lock_exit(&cp->cache_depot_lock);
	kmi_magazines_destroy(cp, retired);
}
