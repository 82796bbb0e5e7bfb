/*
 * ::whatis: what an address is, as the debugger says it.
 *
 * The caches are searched first (through kmi_slab_find(), the slab
 * layer's own search): the address is inside a chunk of some slab, and
 * the cache with the smallest chunks names it (a slab is itself a
 * buffer of a quantum cache).  The
 * chunk is free if it is on its slab's free lists (or past a small slab's
 * bump pointer), or a round in a magazine (a per-CPU record's loaded or
 * previous magazine or its reserve's full ones, a full magazine in the
 * depot); guarded caches say so
 * in the buffer tag.  Otherwise it is allocated, and an audited cache
 * gives its last transaction.  An address in no cache is looked up in the
 * vmem arenas, the innermost first (an arena's spans are its source's
 * allocations), as an allocated or free segment; identifier arenas
 * (VMC_IDENTIFIER) hand out numbers, which say nothing of an address.
 *
 * On a live process other threads move buffers between their magazines
 * and the slabs as this runs: a free/allocated answer about such a
 * buffer is only as good as the moment it was read.
 */
#include "../init/init_impl.h"
#include "../debug/debug_impl.h"

typedef struct whatis {
	const void	*wi_addr;
	void		(*wi_pr)(void *arg, const char *line);
	void		*wi_arg;
	bool		wi_found;
	kmem_cache_t	*wi_cache;	/* the cache with the smallest chunks */
	void		*wi_chunk;	/* holding wi_addr, and its chunk */
} whatis_t;

static bool
in_magazine(const kmem_magazine_t *mp, int rounds, const void *buf)
{
	for (int i = 0; mp != NULL && i < rounds; i++)
		if (kmem_load_relaxed(&mp->mag_round[i]) == buf)
			return (true);
	return (false);
}

/* Is buf a round in one of cp's magazines? */
static bool
whatis_cached(kmem_cache_t *cp, const void *buf)
{
	bool found = false;
	uint32_t slot = cp->cache_slot;

	kmem_lock_enter(&kmem_cpu_list_lock);
	for (kmem_list_t *lp = kmem_cpu_list.next; lp != &kmem_cpu_list &&
	    !found && slot != 0; lp = lp->next) {
		kmem_cpu_t *cpu = KMEM_CONTAINER(lp, kmem_cpu_t, cpu_link);
		if (slot >= kmem_load_acquire(&cpu->cpu_ncc))
			continue;
		kmem_cpu_cache_t *ccp = &kmem_load_acquire(&cpu->cpu_cc)[slot];
		found = in_magazine(kmem_load_relaxed(&ccp->cc_loaded),
		    kmem_load_relaxed(&ccp->cc_rounds), buf) ||
		    in_magazine(kmem_load_relaxed(&ccp->cc_ploaded),
		    kmem_load_relaxed(&ccp->cc_prounds), buf);
		/* The reserve: as many magazines as its count says, at most */
		/* (its owner runs on: a racy answer, never an endless walk). */
		int size = kmem_load_relaxed(&ccp->cc_magsize);
		kmem_magazine_t *mp = kmem_load_relaxed(&ccp->cc_rfull);
		for (uint32_t n = kmem_load_relaxed(&ccp->cc_nrfull);
		    !found && mp != NULL && n > 0; n--) {
			found = in_magazine(mp, size, buf);
			mp = kmem_load_relaxed(&mp->mag_next);
		}
	}
	kmem_lock_exit(&kmem_cpu_list_lock);
	kmem_lock_enter(&cp->cache_depot_lock);
	for (kmem_magazine_t *mp = cp->cache_full.ml_list; mp != NULL &&
	    !found; mp = mp->mag_next)
		found = in_magazine(mp, (int)mp->mag_size, buf);
	kmem_lock_exit(&cp->cache_depot_lock);
	return (found);
}

/* Is chunk on its slab's free lists?  cache_lock held. */
static bool
whatis_slab_free(kmem_cache_t *cp, const kmem_slab_t *sp, const void *chunk)
{
	for (int list = 0; list < 2; list++) {
		for (kmem_bufctl_t *bcp = list == 0 ? sp->slab_head :
		    sp->slab_raw; bcp != NULL; bcp = slab_link_read(cp, bcp))
			if (slab_bufctl_buf(cp, bcp) == chunk)
				return (true);
	}
	return (slab_is_small(cp) && (size_t)((const char *)chunk -
	    sp->slab_base) / cp->cache_chunksize >= sp->slab_bump);
}

static void
whatis_report(whatis_t *wi)
{
	kmem_cache_t *cp = wi->wi_cache;
	void *chunk = wi->wi_chunk;
	char line[160];

	kmem_lock_enter(&cp->cache_lock);
	void *found;
	kmem_slab_t *sp = kmi_slab_find_locked(cp, chunk, &found);
	bool free = sp == NULL || (!(cp->cache_flags & KMF_BUFTAG) &&
	    whatis_slab_free(cp, sp, chunk));
	kmem_lock_exit(&cp->cache_lock);
	if (sp != NULL && (cp->cache_flags & KMF_BUFTAG))
		free = kmem_buftag(cp, chunk)->bt_bxstat !=
		    ((uintptr_t)chunk ^ KMEM_BUFTAG_ALLOC);
	else if (!free)
		free = whatis_cached(cp, chunk);
	const kmem_bufctl_audit_t *bca = (cp->cache_flags & KMF_AUDIT) ?
	    kmem_buffer_audit(cp, chunk) : NULL;
	if (bca != NULL && bca->bc_event == 0)
		bca = NULL;	/* never handed out: no transaction to show */
	size_t off = (size_t)((const char *)wi->wi_addr - (char *)chunk);
	if (bca != NULL)
		kmi_snprintf(line, sizeof (line), "%p is %p+0x%zx, bufctl %p "
		    "%s %s", wi->wi_addr, chunk, off, (const void *)bca,
		    free ? "freed from" : "allocated from", cp->cache_name);
	else
		kmi_snprintf(line, sizeof (line), "%p is %p+0x%zx, %s %s",
		    wi->wi_addr, chunk, off, free ? "freed from" :
		    "allocated from", cp->cache_name);
	if (off >= cp->cache_bufsize)
		kmi_strlcpy(line + kmi_strlen(line), " (past the buffer: its "
		    "redzone or tag)", sizeof (line) - kmi_strlen(line));
	wi->wi_pr(wi->wi_arg, line);
	if (bca != NULL)
		kmem_audit_print(bca, wi->wi_pr, wi->wi_arg);
	wi->wi_found = true;
}

/* The innermost arena segment holding the address. */
typedef struct whatis_seg {
	const void	*ws_addr;
	void		*ws_start;
	size_t		ws_size;
} whatis_seg_t;

typedef struct whatis_best {
	const void	*wb_addr;
	vmem_t		*wb_arena;
	int		wb_depth;	/* source hops to the root arena */
	int		wb_type;
	whatis_seg_t	wb_seg;
} whatis_best_t;

static void
whatis_seg_cb(void *arg, void *vaddr, size_t size)
{
	whatis_seg_t *ws = arg;

	if ((const char *)ws->ws_addr >= (char *)vaddr &&
	    (const char *)ws->ws_addr < (char *)vaddr + size) {
		ws->ws_start = vaddr;
		ws->ws_size = size;
	}
}

static int
whatis_arena(vmem_t *vmp, void *arg)
{
	whatis_best_t *wb = arg;
	int depth = 0;

	if (vmp->vm_cflags & VMC_IDENTIFIER)
		return (0);	/* its segments are numbers, not addresses */

	for (vmem_t *src = vmem_source(vmp); src != NULL && depth < 16;
	    src = vmem_source(src))
		depth++;
	for (int type = VMEM_ALLOC; type <= VMEM_FREE; type <<= 1) {
		whatis_seg_t ws = { wb->wb_addr, NULL, 0 };
		vmem_walk(vmp, type, whatis_seg_cb, &ws);
		if (ws.ws_start != NULL && (wb->wb_arena == NULL ||
		    depth > wb->wb_depth)) {
			wb->wb_arena = vmp;
			wb->wb_depth = depth;
			wb->wb_type = type;
			wb->wb_seg = ws;
		}
	}
	return (0);
}

int
kmem_whatis(const void *addr, void (*pr)(void *arg, const char *line),
    void *arg)
{
	whatis_t wi = { addr, pr != NULL ? pr : kmi_print_console, arg,
	    false, NULL, NULL };
	char line[160];

	if (!kmi_is_ready())
		return (0);
	wi.wi_cache = kmi_cache_holding(addr, &wi.wi_chunk);
	if (wi.wi_cache != NULL)
		whatis_report(&wi);
	whatis_best_t wb = { addr, NULL, 0, 0, { addr, NULL, 0 } };
	if (!wi.wi_found)
		(void) vmem_arena_walk(whatis_arena, &wb);
	if (wb.wb_arena != NULL) {
		/* A freed large buffer that kmem keeps (large.c) is free. */
		bool cached = false;
		if (wb.wb_arena == kmem_oversize_arena &&
		    wb.wb_type == VMEM_ALLOC) {
			kmem_lock_enter(&kmem_large_cache.lc_lock);
			cached = kmi_large_holds((uintptr_t)wb.wb_seg.ws_start,
			    wb.wb_seg.ws_size);
			kmem_lock_exit(&kmem_large_cache.lc_lock);
		}
		kmi_snprintf(line, sizeof (line), "%p is %p+0x%zx, %s the %s "
		    "vmem arena%s", addr, wb.wb_seg.ws_start,
		    (size_t)((const char *)addr - (char *)wb.wb_seg.ws_start),
		    wb.wb_type == VMEM_ALLOC && !cached ? "allocated from" :
		    "freed from", vmem_name(wb.wb_arena),
		    cached ? " (kept for reuse)" : "");
		wi.wi_pr(wi.wi_arg, line);
		wi.wi_found = true;
	}
	if (!wi.wi_found) {
		kmi_snprintf(line, sizeof (line), "%p is in no kmem cache or "
		    "vmem arena", addr);
		wi.wi_pr(wi.wi_arg, line);
	}
	return (wi.wi_found);
}
