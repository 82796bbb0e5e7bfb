/*
 * Magazine and depot layer internals.  See the theory statement in
 * magazine.c.
 */
#ifndef KMEM_MAGAZINE_IMPL_H
#define KMEM_MAGAZINE_IMPL_H

#include "../slab/slab_impl.h"

/*
 * A slot's private reserve holds at most KMEM_RESERVE_BYTES in buffers,
 * and all of a record's reserves together at most KMEM_RESERVE_CPU_BYTES
 * (counted as the magazines they hold could hold: cpu_rbytes).
 */
#define KMEM_RESERVE_BYTES	(512 * 1024)
#define KMEM_RESERVE_CPU_BYTES	(1024 * 1024)
/* A slot asks for bigger magazines after this many loads from its reserve, */
/* up to magazines of KMEM_RESERVE_MAGAZINE_BYTES in buffers. */
#define KMEM_RESERVE_GROW	1024
#define KMEM_RESERVE_MAGAZINE_BYTES (64 * 1024)
/* Buffers taken from the slab layer at once to fill several magazines. */
#define KMEM_FILL_MAX		64

extern kmem_magtype_t kmi_magtype[];
extern uint32_t kmi_reserve_epoch;
extern const int kmi_nmagtype;
extern kmem_cache_t *kmi_cpu_record_cache;
extern bool kmi_cpu_enabled;

kmem_magazine_t *kmi_magazine_create(kmem_magtype_t *mtp);
void kmi_magazine_destroy(kmem_cache_t *cp, kmem_magazine_t *mp,
    int nrounds);
void kmi_magazine_retire(kmem_magazine_t **listp, kmem_magazine_t *mp,
    int nrounds);
void kmi_magazines_destroy(kmem_cache_t *cp, kmem_magazine_t *mp);
void kmi_depot_put(kmem_cache_t *cp, kmem_magazine_t *mp, bool full,
    kmem_magazine_t **retiredp);
void kmi_depot_take(kmem_cache_t *cp, kmem_magazine_t **retiredp);
void kmi_reserve_give(kmem_cpu_t *cpu, kmem_cache_t *cp,
    kmem_cpu_cache_t *ccp, uint32_t nfull, uint32_t nempty,
    kmem_magazine_t **retiredp);
void kmi_slot_retire(kmem_cpu_t *cpu, const kmem_cache_t *cp,
    kmem_cpu_cache_t *ccp, kmem_magazine_t **retiredp, bool with_rounds);
bool kmi_depot_is_valid(const kmem_cache_t *cp);

/*
 * The calling thread's (CPU's) record, or NULL: in a kernel it stays this
 * CPU's only while the caller is busy in it (an owner's slow path); others
 * use it only to tell their own record from the rest.
 */
static inline kmem_cpu_t *
kmem_cpu_self(void)
{
	kmem_cpu_t *cpu = kmem_plat_self_enter();

	kmem_plat_self_exit();
	return (cpu);
}

/* What slot ccp of cp adds to its record's cpu_rbytes. */
static inline uint64_t
kmem_slot_rbytes(const kmem_cache_t *cp, const kmem_cpu_cache_t *ccp)
{
	return ((uint64_t)(ccp->cc_nrfull + ccp->cc_nrempty) *
	    (uint32_t)ccp->cc_magsize * cp->cache_chunksize);
}

bool kmi_slot_is_valid(const kmem_cache_t *cp, const kmem_cpu_cache_t *ccp);
void kmi_depot_ws_update(kmem_cache_t *cp);
void kmi_depot_ws_reap(kmem_cache_t *cp);
void kmi_cpu_purge(kmem_cache_t *cp);
void kmi_cpu_purge_all(void);
void kmi_cpu_bypass(bool on);
void kmi_cpu_fork(int phase);
void kmi_cache_fork(int phase);
void kmi_magazine_resize(kmem_cache_t *cp, bool reserve_busy);
bool kmi_depot_wants_growth(kmem_cache_t *cp);
uint64_t kmi_cpu_rounds(kmem_cache_t *cp, uint64_t *freep);
uint32_t kmi_cpu_index_alloc(void);
void kmi_cpu_index_free(uint32_t index);
uint32_t kmi_counter_alloc(uint32_t n);
void kmi_counter_add(uint32_t i, uint64_t a, uint64_t b);
void kmi_counter_read(uint32_t i, uint32_t n, uint64_t *out);
bool kmi_counter_read_try(uint32_t i, uint32_t n, uint64_t *out);
void kmi_counter_retire(kmem_cpu_t *cpu);
void kmi_counter_free(kmem_cpu_t *cpu);


/* ---- depot lists (cache_depot_lock) ---- */

static inline void
kmem_depot_lock(kmem_cache_t *cp)
{
	if (!kmem_lock_tryenter(&cp->cache_depot_lock)) {
		kmem_lock_enter(&cp->cache_depot_lock);
		kmem_store_relaxed(&cp->cache_depot_contention,
		    cp->cache_depot_contention + 1);
	}
}


static inline kmem_magazine_t *
kmem_maglist_pop(kmem_maglist_t *mlp)
{
	kmem_magazine_t *mp = mlp->ml_list;

	if (mp != NULL) {
		mlp->ml_list = mp->mag_next;
		mlp->ml_capacity -= mp->mag_size;
		if (--mlp->ml_total < mlp->ml_min)
			mlp->ml_min = mlp->ml_total;
		mlp->ml_alloc++;
	}
	return (mp);
}

static inline void
kmem_maglist_push(kmem_maglist_t *mlp, kmem_magazine_t *mp)
{
	mp->mag_next = mlp->ml_list;
	mlp->ml_list = mp;
	mlp->ml_total++;
	mlp->ml_capacity += mp->mag_size;
}


/* ---- the fast paths, inlined into kmem_cache_* and kmem_alloc ---- */

/* The owner's side of the handshake (see the theory statement). */
/*
 * The fast paths pass cache_cpu_index (which makes guarded caches miss);
 * the slow paths pass cache_slot.
 */
static inline bool
kmem_cpu_begin(kmem_cpu_t *cpu, uint32_t index, kmem_cpu_cache_t **ccpp)
{
	if (KMEM_UNLIKELY(cpu == NULL || index >= cpu->cpu_ncc ||
	    cpu->cpu_busy))
		return (false);
	kmem_store_relaxed(&cpu->cpu_busy, 1);
	kmem_compiler_barrier();
	if (KMEM_UNLIKELY(kmem_load_acquire(&cpu->cpu_stop))) {
		kmem_store_release(&cpu->cpu_busy, 0);
		return (false);
	}
	*ccpp = &cpu->cpu_cc[index];
	return (true);
}

static inline void
kmem_cpu_end(kmem_cpu_t *cpu)
{
	kmem_store_release(&cpu->cpu_busy, 0);
}

/*
 * Take a round from the loaded magazine, which has one.  Busy.  (Rounds
 * are never negative: unsigned arithmetic spares the sign extension.)
 */
static inline void *
kmem_magazine_pop(kmem_cpu_cache_t *ccp)
{
	uint32_t rounds = (uint32_t)ccp->cc_rounds - 1;

	kmem_store_relaxed(&ccp->cc_rounds, (int32_t)rounds);
	return (ccp->cc_loaded->mag_round[rounds]);
}

/* Put a round in the loaded magazine, which has room.  Busy. */
static inline void
kmem_magazine_push(kmem_cpu_cache_t *ccp, void *buf)
{
	uint32_t rounds = (uint32_t)ccp->cc_rounds;

	ccp->cc_loaded->mag_round[rounds] = buf;
	kmem_store_relaxed(&ccp->cc_rounds, (int32_t)(rounds + 1));
	kmem_counter_add(&ccp->cc_free, 1);
}

/*
 * Whether the slot can allocate: a round in the loaded magazine, or else
 * a full previous one, which is swapped in.  Busy.  The swap is here, on
 * the fast path's miss, not in the slow path: a thread whose allocations
 * and frees of a size balance crosses between its two magazines all the
 * time (after every exchange it starts at the boundary), and on the
 * 4-thread server benchmark one operation in fifteen went the whole slow
 * way just to swap.
 */
static KMEM_ALWAYS_INLINE bool
kmem_magazine_can_alloc(kmem_cpu_cache_t *ccp)
{
	if (KMEM_LIKELY(ccp->cc_rounds > 0))
		return (true);
	int32_t prounds = ccp->cc_prounds;
	if (prounds <= 0)
		return (false);
	kmem_magazine_t *mp = ccp->cc_loaded;
	ccp->cc_loaded = ccp->cc_ploaded;
	ccp->cc_ploaded = mp;
	kmem_store_relaxed(&ccp->cc_rounds, prounds);
	kmem_store_relaxed(&ccp->cc_prounds, (int16_t)0);
	ccp->cc_rallocs = 1;		/* took a full magazine (magazine.c) */
	return (true);
}

/* The mirror image: room in the loaded magazine, or an empty previous. */
static KMEM_ALWAYS_INLINE bool
kmem_magazine_can_free(kmem_cpu_cache_t *ccp)
{
	if (KMEM_LIKELY(ccp->cc_rounds < ccp->cc_magsize))
		return (true);
	if (ccp->cc_ploaded == NULL || ccp->cc_prounds != 0)
		return (false);
	kmem_magazine_t *mp = ccp->cc_loaded;
	ccp->cc_loaded = ccp->cc_ploaded;
	ccp->cc_ploaded = mp;
	kmem_store_relaxed(&ccp->cc_prounds, (int16_t)ccp->cc_rounds);
	kmem_store_relaxed(&ccp->cc_rounds, 0);
	return (true);
}

/*
 * A client's buffer leaves or enters the cache (track.h): constructed and
 * pattern-filled buffers leave defined, others as garbage.
 */
static inline void
kmem_track_buf_alloc(const kmem_cache_t *cp, void *buf)
{
	if (cp->cache_cflags & KMC_NOTOUCH)
		return;
	if (cp->cache_constructor != NULL || (cp->cache_flags & KMF_DEADBEEF))
		kmem_track_unpoison(buf, cp->cache_bufsize);
	else
		kmem_track_undefined(buf, cp->cache_bufsize);
}

static inline void
kmem_track_buf_free(const kmem_cache_t *cp, void *buf)
{
	if (!(cp->cache_cflags & KMC_NOTOUCH))
		kmem_track_poison(buf, cp->cache_bufsize);
}

/*
 * Per-CPU counters (counter.c): add a to counter i of cpu's table and b
 * to counter i + 1, in a busy section; false if the record has no table
 * that long or is busy (an interrupted operation on this CPU).
 */
static KMEM_ALWAYS_INLINE bool
kmem_counter_add2(kmem_cpu_t *cpu, uint32_t i, uint64_t a, uint64_t b)
{
	if (KMEM_UNLIKELY(cpu == NULL || i + 1 >= cpu->cpu_nctr ||
	    cpu->cpu_busy))
		return (false);
	kmem_store_relaxed(&cpu->cpu_busy, 1);
	kmem_compiler_barrier();
	kmem_counter_add(&cpu->cpu_ctr[i], a);
	kmem_counter_add(&cpu->cpu_ctr[i + 1], b);
	kmem_store_release(&cpu->cpu_busy, 0);
	return (true);
}

/*
 * kmem_magazine_alloc() and kmem_magazine_free() that also count, in the
 * same busy section: 1 to counter ctr and the buffer size to ctr + 1.
 * index is cp's slot (cache_cpu_index, or for a free the one its owner
 * class holds, a load nearer).  false, and nothing done, if either cannot
 * be done here.
 */
static KMEM_ALWAYS_INLINE bool
kmem_magazine_xfer_counted(kmem_cache_t *cp, uint32_t index, void **bufp,
    bool alloc, uint32_t ctr)
{
	kmem_cpu_t *cpu = kmem_plat_self_enter();
	kmem_cpu_cache_t *ccp;
	bool done = false;

	if (KMEM_LIKELY(ctr + 1 < (cpu != NULL ? cpu->cpu_nctr : 0) &&
	    kmem_cpu_begin(cpu, index, &ccp))) {
		if (alloc ? kmem_magazine_can_alloc(ccp) :
		    kmem_magazine_can_free(ccp)) {
			if (alloc) {
				*bufp = kmem_magazine_pop(ccp);
			} else {
				kmem_track_buf_free(cp, *bufp);
				kmem_magazine_push(ccp, *bufp);
			}
			uint64_t *c = &cpu->cpu_ctr[ctr];
			kmem_counter_add(&c[0], 1);
			kmem_counter_add(&c[1], cp->cache_bufsize);
			done = true;
		}
		kmem_cpu_end(cpu);
	}
	kmem_plat_self_exit();
	if (done && alloc)
		kmem_track_buf_alloc(cp, *bufp);
	return (done);
}

/* Take a round from this thread's loaded magazine; false if none. */
static inline bool
kmem_magazine_alloc(kmem_cache_t *cp, void **bufp)
{
	kmem_cpu_t *cpu = kmem_plat_self_enter();
	kmem_cpu_cache_t *ccp;
	bool done = false;

	uint32_t index = kmem_load_relaxed(&cp->cache_cpu_index);

	if (KMEM_LIKELY(kmem_cpu_begin(cpu, index, &ccp))) {
		if (KMEM_LIKELY(kmem_magazine_can_alloc(ccp))) {
			*bufp = kmem_magazine_pop(ccp);
			done = true;
		}
		kmem_cpu_end(cpu);
	}
	kmem_plat_self_exit();
	if (done)
		kmem_track_buf_alloc(cp, *bufp);
	return (done);
}

/*
 * Put buf in this thread's loaded magazine of cp, whose slot is index;
 * false if it cannot.
 */
static KMEM_ALWAYS_INLINE bool
kmem_magazine_free_at(kmem_cache_t *cp, uint32_t index, void *buf)
{
	kmem_cpu_t *cpu = kmem_plat_self_enter();
	kmem_cpu_cache_t *ccp;
	bool done = false;

	if (KMEM_LIKELY(kmem_cpu_begin(cpu, index, &ccp))) {
		if (KMEM_LIKELY(kmem_magazine_can_free(ccp))) {
			kmem_track_buf_free(cp, buf);
			kmem_magazine_push(ccp, buf);
			done = true;
		}
		kmem_cpu_end(cpu);
	}
	kmem_plat_self_exit();
	return (done);
}

/* Put buf in this thread's loaded magazine; false if it cannot. */
static inline bool
kmem_magazine_free(kmem_cache_t *cp, void *buf)
{
	return (kmem_magazine_free_at(cp,
	    kmem_load_relaxed(&cp->cache_cpu_index), buf));
}

void *kmi_cache_alloc_slow(kmem_cache_t *cp, int kmflag);
bool kmi_cpu_prepare(kmem_cache_t *cp);
void kmi_cache_free_slow(kmem_cache_t *cp, void *buf);

/* cache.c */
void kmi_reclaim(int kmflag);
bool kmi_reclaiming(void);

/* cache.c: life cycle */
extern bool kmi_ready;			/* set by init.c */
bool kmi_is_ready(void);
void kmi_cache_update_all(void);
void kmi_cache_bootstrap(void);
void kmi_cache_unbootstrap(void);
void kmi_cpu_index_fini(void);
kmem_cache_t *kmi_cache_create_slab(const char *name, size_t bufsize,
    size_t align, kmem_constructor_t *ctor, kmem_destructor_t *dtor,
    kmem_reclaim_t *reclaim, void *private, vmem_t *vmp, int cflags,
    size_t slabsize);

#endif /* KMEM_MAGAZINE_IMPL_H */
