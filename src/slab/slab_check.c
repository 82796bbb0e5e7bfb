/*
 * The slab layer, inspected: which slab holds an address, and the slab
 * invariants of slab.c's theory statement as executable validators.  None
 * of it is on an allocation path: kmi_slab_find() runs after a bad free
 * and for tools, the validators under the debug build's assertions and
 * kmem_verify().
 */
#include "slab_impl.h"

/*
 * Call fn for every slab of cp, partial ones first, until it returns
 * non-zero, which is returned.  cache_lock held.  The one walk of the
 * slab lists: kmi_slab_find(), the validators, kmem_verify() and the
 * tools all use it.
 */
int
kmi_slab_walk(kmem_cache_t *cp, kmem_slab_walk_fn *fn, void *arg)
{
	for (int pass = 0; pass < 2; pass++) {
		kmem_list_t *head = pass == 0 ? &cp->cache_partial :
		    &cp->cache_complete;
		for (kmem_list_t *lp = head->next; lp != head; lp = lp->next) {
			int rc = fn(cp, KMEM_CONTAINER(lp, kmem_slab_t,
			    slab_link), pass == 0, arg);
			if (rc != 0)
				return (rc);
		}
	}
	return (0);
}

typedef struct slab_find_arg {
	uintptr_t	sf_addr;
	void		*sf_chunk;
	kmem_slab_t	*sf_slab;
} slab_find_arg_t;

static int
slab_find_cb(kmem_cache_t *cp, kmem_slab_t *sp, bool partial, void *arg)
{
	slab_find_arg_t *sf = arg;
	uintptr_t off = sf->sf_addr - (uintptr_t)sp->slab_base;

	(void)partial;
	if (off >= (uintptr_t)sp->slab_chunks * cp->cache_chunksize)
		return (0);
	sf->sf_chunk = sp->slab_base + off - off % cp->cache_chunksize;
	sf->sf_slab = sp;
	return (1);
}

/*
 * The slab of cp whose chunks hold addr, with the chunk's first byte in
 * *chunkp; NULL if no slab of cp holds addr.  A walk of the slab lists:
 * for classifying a bad free, not for any fast path.
 */
kmem_slab_t *
kmi_slab_find(kmem_cache_t *cp, const void *addr, void **chunkp)
{
	kmem_lock_enter(&cp->cache_lock);
	kmem_slab_t *sp = kmi_slab_find_locked(cp, addr, chunkp);
	kmem_lock_exit(&cp->cache_lock);
	return (sp);
}

/* The same, with cache_lock held (the slab stays while it is). */
kmem_slab_t *
kmi_slab_find_locked(kmem_cache_t *cp, const void *addr, void **chunkp)
{
	slab_find_arg_t sf = { (uintptr_t)addr, NULL, NULL };

	ASSERT(kmem_lock_held(&cp->cache_lock));
	(void)kmi_slab_walk(cp, slab_find_cb, &sf);
	if (sf.sf_slab != NULL)
		*chunkp = sf.sf_chunk;
	return (sf.sf_slab);
}

/* Invariant 1 for one slab.  cache_lock held. */
bool
kmi_slab_is_valid(kmem_cache_t *cp, kmem_slab_t *sp)
{
	uint32_t nhead = 0, nraw = 0;

	if (sp->slab_cache != cp || sp->slab_chunks == 0)
		return (false);
	for (kmem_bufctl_t *bcp = sp->slab_head; bcp != NULL;
	    bcp = slab_link_read(cp, bcp), nhead++)
		if (nhead > sp->slab_chunks || !slab_bufctl_in_slab(cp, sp, bcp))
			return (false);
	for (kmem_bufctl_t *bcp = sp->slab_raw; bcp != NULL;
	    bcp = slab_link_read(cp, bcp), nraw++)
		if (nraw > sp->slab_chunks || !slab_bufctl_in_slab(cp, sp, bcp))
			return (false);
	uint32_t never = slab_is_small(cp) ? sp->slab_chunks - sp->slab_bump : 0;
	return (nhead == sp->slab_nhead &&
	    sp->slab_refcnt + nhead + nraw + never == sp->slab_chunks);
}

typedef struct slab_count {
	uint64_t	sc_total;
	uint64_t	sc_free;
	uint64_t	sc_empty;
	uint64_t	sc_constructed;
} slab_count_t;

static int
slab_count_cb(kmem_cache_t *cp, kmem_slab_t *sp, bool partial, void *arg)
{
	slab_count_t *sc = arg;

	if (!kmi_slab_is_valid(cp, sp) || slab_has_free(cp, sp) != partial)
		return (1);
	sc->sc_total += sp->slab_chunks;
	sc->sc_free += sp->slab_chunks - sp->slab_refcnt;
	sc->sc_constructed += sp->slab_nhead;
	sc->sc_empty += sp->slab_refcnt == 0;
	return (0);
}

/* Invariants 1-3 for a whole cache. */
bool
kmi_cache_slabs_are_valid(kmem_cache_t *cp)
{
	slab_count_t sc = { 0, 0, 0, 0 };

	kmem_lock_enter(&cp->cache_lock);
	bool ok = kmi_slab_walk(cp, slab_count_cb, &sc) == 0 &&
	    sc.sc_total == cp->cache_buftotal &&
	    sc.sc_free == cp->cache_bufslab &&
	    sc.sc_empty == cp->cache_nempty &&
	    sc.sc_constructed == cp->cache_constructed_slab;
	kmem_lock_exit(&cp->cache_lock);
	return (ok);
}
