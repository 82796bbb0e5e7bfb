/*
 * The slab layer, inspected: which slab holds an address, and the slab
 * invariants of slab.c's theory statement as executable validators.  None
 * of it is on an allocation path: kmem_slab_find() runs after a bad free
 * and for tools, the validators under the debug build's assertions and
 * kmem_verify().
 */
#include "slab_impl.h"
#include "../debug/debug_impl.h"

/*
 * The slab of cp whose chunks hold addr, with the chunk's first byte in
 * *chunkp; NULL if no slab of cp holds addr.  A walk of the slab lists:
 * for classifying a bad free, not for any fast path.
 */
kmem_slab_t *
kmem_slab_find(kmem_cache_t *cp, const void *addr, void **chunkp)
{
	kmem_slab_t *found = NULL;

	kmem_lock_enter(&cp->cache_lock);
	for (int pass = 0; pass < 2 && found == NULL; pass++) {
		kmem_list_t *head = pass == 0 ? &cp->cache_partial :
		    &cp->cache_complete;
		for (kmem_list_t *lp = head->next; lp != head && found == NULL;
		    lp = lp->next) {
			kmem_slab_t *sp = KMEM_CONTAINER(lp, kmem_slab_t,
			    slab_link);
			uintptr_t off = (uintptr_t)addr -
			    (uintptr_t)sp->slab_base;
			if (off >= (uintptr_t)sp->slab_chunks *
			    cp->cache_chunksize)
				continue;
			*chunkp = sp->slab_base + off - off % cp->cache_chunksize;
			found = sp;
		}
	}
	kmem_lock_exit(&cp->cache_lock);
	return (found);
}

static bool
slab_bufctl_in_slab(const kmem_cache_t *cp, const kmem_slab_t *sp,
    const kmem_bufctl_t *bcp)
{
	const char *buf = slab_is_small(cp) ?
	    (const char *)bcp - cp->cache_bufctl : bcp->bc_addr;
	size_t off = (size_t)(buf - sp->slab_base);

	if (buf < sp->slab_base || off % cp->cache_chunksize != 0 ||
	    off / cp->cache_chunksize >= sp->slab_chunks)
		return (false);
	return (slab_is_small(cp) || bcp->bc_slab == sp);
}

/* Invariant 1 for one slab.  cache_lock held. */
bool
kmem_slab_is_valid(kmem_cache_t *cp, kmem_slab_t *sp)
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

/* Invariants 1-3 for a whole cache. */
bool
kmem_cache_slabs_are_valid(kmem_cache_t *cp)
{
	uint64_t total = 0, free = 0, empty = 0, constructed = 0;
	bool ok = true;

	kmem_lock_enter(&cp->cache_lock);
	for (int pass = 0; pass < 2 && ok; pass++) {
		kmem_list_t *head = pass == 0 ? &cp->cache_partial :
		    &cp->cache_complete;
		for (kmem_list_t *lp = head->next; lp != head && ok;
		    lp = lp->next) {
			kmem_slab_t *sp = KMEM_CONTAINER(lp, kmem_slab_t,
			    slab_link);
			ok = kmem_slab_is_valid(cp, sp) &&
			    slab_has_free(cp, sp) == (pass == 0);
			total += sp->slab_chunks;
			free += sp->slab_chunks - sp->slab_refcnt;
			constructed += sp->slab_nhead;
			empty += sp->slab_refcnt == 0;
		}
	}
	ok = ok && total == cp->cache_buftotal && free == cp->cache_bufslab &&
	    empty == cp->cache_nempty &&
	    constructed == cp->cache_constructed_slab;
	kmem_lock_exit(&cp->cache_lock);
	return (ok);
}
