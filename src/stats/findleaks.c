/*
 * ::findleaks: the allocated buffers no one points to.
 *
 * Theory of operation
 * -------------------
 * A conservative mark, as illumos's leaky.c does it on a crash dump:
 *
 * 1. The world stands still.  Every kmem and vmem lock is taken in lock
 *    order (fork(2)'s prepare, kmi_world_lock()), then the platform stops
 *    every other thread (kmem_plat_world_stop()).  A thread stopped inside
 *    a magazine transfer holds its buffer in a register, which the scan
 *    reads: a buffer in flight is never called leaked.  Nothing below
 *    allocates: tables come straight from the platform (kmem_plat_map()),
 *    outside kmem's arenas and budget.
 *
 * 2. The "mtab": every allocated buffer of every client cache (not kmem's
 *    own metadata caches, not vmem's quantum caches), in address order.
 *    A small slab's buffers are allocated when they are below its bump
 *    index and on neither free list; a hashed cache's are exactly those
 *    in its hash table.  Rounds in magazines (per-CPU and depot) are free:
 *    they are sorted and taken out.  Each kmem_oversize segment (big
 *    kmem_alloc buffers) is an entry too.  An entry is 16 bytes: the base
 *    (its low bit is the mark) and the cache's index.
 *
 * 3. Roots: what the platform reports (data and bss, thread stacks from
 *    their stack pointers up, saved registers, a C library's heap), less
 *    kmem's own memory (the spans of every root arena under a client
 *    cache, the owner map's leaves, these tables); plus every cache
 *    structure (its private pointer), and the free buffers of caches with
 *    a constructor (a constructed object may own other buffers).  Each
 *    aligned word of a root that falls inside an entry -- interior
 *    pointers count -- marks it, and the entry's buffer is pushed on an
 *    explicit stack and scanned in turn: no recursion, and each entry is
 *    pushed at most once, so the stack has room for every entry.
 *
 * 4. The world runs again; what is unmarked leaked.  Audited caches group
 *    their leaks by cache and allocation stack (a hash of it), each group
 *    shown by its oldest buffer's bufctl; others group by cache.  Stacks
 *    are copied while the world stands; symbols are looked up (which may
 *    take the loader's locks) only after it runs again.
 *
 * Output is ::findleaks's layout (kmem_findleaks(9)); the gdb extension
 * (tools/gdb/kmem.py) prints the same from a core.  Memory: 16 bytes an
 * allocated buffer for the mtab, as much again while it is sorted, 4 for
 * the stack.
 */
#include "findleaks_impl.h"

/* ---- tables from the platform ---- */

static void *
leak_table(leak_t *lk, size_t bytes)
{
	size_t size = P2ROUNDUP(kmem_max(bytes, 1), lk->lk_page);
	void *base;

	if (lk->lk_ntables == (int)(sizeof (lk->lk_tables) /
	    sizeof (lk->lk_tables[0])) || size < bytes ||
	    (base = kmem_plat_map(size)) == NULL)
		return (NULL);
	lk->lk_tables[lk->lk_ntables].lt_base = base;
	lk->lk_tables[lk->lk_ntables++].lt_bytes = size;
	return (base);
}

static void
leak_tables_free(leak_t *lk)
{
	while (lk->lk_ntables > 0) {
		leak_table_t *lt = &lk->lk_tables[--lk->lk_ntables];
		kmem_plat_unmap(lt->lt_base, lt->lt_bytes);
	}
}

/* ---- what is kmem's, and which caches are clients' ---- */

static bool
leak_is_client(const kmem_cache_t *cp)
{
	return (cp->cache_arena != kmem_metadata_arena &&
	    !(cp->cache_cflags & (KMC_QCACHE | KMC_IDENTIFIER)));
}

/* Can an entry's buffer be read?  (KMC_NOTOUCH: maybe not memory.) */
static bool
leak_readable(const leak_t *lk, const leak_buf_t *lb)
{
	return (lb->lb_cache == LEAK_OVERSIZE ||
	    !(lk->lk_caches[lb->lb_cache]->cache_cflags & KMC_NOTOUCH));
}

static vmem_t *
leak_root_arena(vmem_t *vmp)
{
	for (int depth = 0; vmp->vm_source != NULL && depth < 64; depth++)
		vmp = vmp->vm_source;
	return (vmp);
}

/*
 * Count (table NULL) or record a range.  Tables are sized by a counting
 * pass over the same still world, so a recording pass never overflows.
 */
static void
leak_range_add(leak_range_t *table, size_t *np, uintptr_t start,
    uintptr_t end)
{
	if (table != NULL) {
		table[*np].lr_start = start;
		table[*np].lr_end = end;
	}
	(*np)++;
}

/* A range of kmem's own memory. */
static void
leak_skip_add(leak_t *lk, uintptr_t start, uintptr_t end)
{
	leak_range_add(lk->lk_skip, &lk->lk_nskip, start, end);
}

/*
 * A root arena's spans, once each: an arena done is marked by an empty
 * range (start: the arena), which the sort drops.
 */
static void
leak_skip_arena(leak_t *lk, vmem_t *root)
{
	for (size_t i = 0; lk->lk_skip != NULL && i < lk->lk_nskip; i++)
		if (lk->lk_skip[i].lr_start == (uintptr_t)root &&
		    lk->lk_skip[i].lr_end == 0)
			return;
	for (vmem_seg_t *vsp = root->vm_seg0.vs_anext; vsp != &root->vm_seg0;
	    vsp = vsp->vs_anext)
		if (vsp->vs_type == VMEM_SPAN)
			leak_skip_add(lk, vsp->vs_start, vsp->vs_end);
	leak_skip_add(lk, (uintptr_t)root, 0);
}

/*
 * kmem's own memory: root arenas under client caches, vmem's arenas and
 * segments (they name buffers: vs_start, vm_lo), the owner map.
 */
static void
leak_skip_collect(leak_t *lk)
{
	size_t leaf = KMEM_OWNER_LEAF_ENTRIES * sizeof (kmem_owner_t);

	lk->lk_nskip = 0;
	leak_skip_arena(lk, leak_root_arena(kmem_oversize_arena));
	leak_skip_arena(lk, leak_root_arena(kmem_metadata_arena));
	for (uint32_t i = 0; i < lk->lk_ncaches; i++)
		leak_skip_arena(lk, leak_root_arena(
		    lk->lk_caches[i]->cache_arena));
	for (vmem_seg_t *vsp = vmem_seg_chunks; vsp != NULL;
	    vsp = vsp->vs_anext)
		leak_skip_add(lk, vsp->vs_start, vsp->vs_end);
	for (vmem_t *vmp = vmem_list; vmp != NULL; vmp = vmp->vm_next)
		leak_skip_add(lk, (uintptr_t)vmp, (uintptr_t)(vmp + 1));
	for (size_t i = 0; i < KMEM_OWNER_ROOT_ENTRIES; i++)
		if (kmem_owner_root[i] != NULL)
			leak_skip_add(lk, (uintptr_t)kmem_owner_root[i],
			    (uintptr_t)kmem_owner_root[i] + leaf);
}

/* These tables are kmem's too: the skip list is taken last. */
static bool
leak_skip_prepare(leak_t *lk)
{
	leak_skip_collect(lk);
	/* Room for the ranges counted, this state and every table. */
	size_t room = lk->lk_nskip + 1 + sizeof (lk->lk_tables) /
	    sizeof (lk->lk_tables[0]);
	lk->lk_skip = leak_table(lk, room * sizeof (leak_range_t));
	if (lk->lk_skip == NULL)
		return (false);
	leak_skip_collect(lk);
	leak_skip_add(lk, (uintptr_t)lk, (uintptr_t)(lk + 1));
	for (int i = 0; i < lk->lk_ntables; i++)
		leak_skip_add(lk, (uintptr_t)lk->lk_tables[i].lt_base,
		    (uintptr_t)lk->lk_tables[i].lt_base +
		    lk->lk_tables[i].lt_bytes);
	/* Insertion sort: a few dozen ranges; markers (end 0) go away. */
	size_t n = 0;
	for (size_t i = 0; i < lk->lk_nskip; i++) {
		leak_range_t r = lk->lk_skip[i];
		if (r.lr_end <= r.lr_start)
			continue;
		size_t j = n++;
		for (; j > 0 && lk->lk_skip[j - 1].lr_start > r.lr_start; j--)
			lk->lk_skip[j] = lk->lk_skip[j - 1];
		lk->lk_skip[j] = r;
	}
	lk->lk_nskip = n;
	return (true);
}

/* ---- sorting: bottom-up merge sort, with a table as large ---- */

static void
leak_sort(leak_buf_t *a, leak_buf_t *tmp, size_t n)
{
	leak_buf_t *src = a, *dst = tmp;

	for (size_t width = 1; width < n; width *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = kmem_min(lo + width, n);
			size_t hi = kmem_min(lo + 2 * width, n);
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				dst[k++] = src[j].lb_base < src[i].lb_base ?
				    src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		leak_buf_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof (*a));
}

/* Heapsort of pointers: a cache's rounds, in place. */
static void
leak_sift(void **v, size_t root, size_t n)
{
	for (size_t child; (child = 2 * root + 1) < n; root = child) {
		if (child + 1 < n && (uintptr_t)v[child + 1] >
		    (uintptr_t)v[child])
			child++;
		if ((uintptr_t)v[root] >= (uintptr_t)v[child])
			return;
		void *t = v[root];
		v[root] = v[child];
		v[child] = t;
	}
}

static void
leak_sort_ptrs(void **v, size_t n)
{
	for (size_t i = n / 2; i-- > 0; )
		leak_sift(v, i, n);
	for (size_t end = n; end-- > 1; ) {
		void *t = v[0];
		v[0] = v[end];
		v[end] = t;
		leak_sift(v, 0, end);
	}
}

/* ---- the mtab ---- */

typedef void leak_round_fn(leak_t *lk, kmem_cache_t *cp, void *buf);

/*
 * Every round in cp's magazines (the world stands still): the records'
 * (loaded, previous and reserve), the depot's full ones, and those
 * detached (cache_detached).
 */
static size_t
leak_each_round(leak_t *lk, kmem_cache_t *cp, leak_round_fn *fn)
{
	size_t n = 0;
	uint32_t slot = cp->cache_slot;

	for (kmem_list_t *lp = kmem_cpu_list.next; lp != &kmem_cpu_list &&
	    slot != 0; lp = lp->next) {
		kmem_cpu_t *cpu = KMEM_CONTAINER(lp, kmem_cpu_t, cpu_link);
		if (slot >= cpu->cpu_ncc)
			continue;
		kmem_cpu_cache_t *ccp = &cpu->cpu_cc[slot];
		kmem_magazine_t *mags[2] = { ccp->cc_loaded, ccp->cc_ploaded };
		int rounds[2] = { ccp->cc_rounds, ccp->cc_prounds };
		for (int m = 0; m < 2; m++) {
			for (int r = 0; mags[m] != NULL && r < rounds[m] &&
			    r < (int)mags[m]->mag_size; r++, n++)
				if (fn != NULL)
					fn(lk, cp, mags[m]->mag_round[r]);
		}
		kmem_magazine_t *mp = ccp->cc_rfull;
		for (uint32_t k = 0; mp != NULL && k < ccp->cc_nrfull;
		    k++, mp = mp->mag_next) {
			for (uint32_t r = 0; r < mp->mag_size; r++, n++)
				if (fn != NULL)
					fn(lk, cp, mp->mag_round[r]);
		}
	}
	for (kmem_magazine_t *mp = cp->cache_full.ml_list; mp != NULL;
	    mp = mp->mag_next) {
		for (uint32_t r = 0; r < mp->mag_size; r++, n++)
			if (fn != NULL)
				fn(lk, cp, mp->mag_round[r]);
	}
	/* Taken off records that are gone (a fork's child), not yet freed. */
	for (kmem_magazine_t *mp = cp->cache_detached; mp != NULL;
	    mp = mp->mag_next) {
		for (uint32_t r = 0; r < mp->mag_rounds && r < mp->mag_size;
		    r++, n++)
			if (fn != NULL)
				fn(lk, cp, mp->mag_round[r]);
	}
	return (n);
}

static void
leak_add(leak_t *lk, uintptr_t base, uint32_t cache, uint32_t pages)
{
	if (lk->lk_nbuf == lk->lk_maxbuf)
		return;		/* cannot happen: counted from buftotal */
	leak_buf_t *lb = &lk->lk_buf[lk->lk_nbuf++];
	lb->lb_base = base;
	lb->lb_cache = cache;
	lb->lb_pages = pages;
}

static void
leak_note_round(leak_t *lk, kmem_cache_t *cp, void *buf)
{
	(void)cp;
	if (lk->lk_nrounds < lk->lk_maxrounds)
		lk->lk_rounds[lk->lk_nrounds++] = buf;
}

/*
 * A small slab's allocated chunks: not on a free list, below the bump.
 * A free list that leaves its slab or loops was damaged (a write after a
 * free): the slab is left out, and counted for the report.
 */
typedef struct leak_slab_arg {
	leak_t		*la_lk;
	uint32_t	la_cache;	/* its index in lk_caches */
} leak_slab_arg_t;

static int
leak_small_slab(kmem_cache_t *cp, kmem_slab_t *sp, bool partial, void *arg)
{
	leak_t *lk = ((leak_slab_arg_t *)arg)->la_lk;
	uint32_t ci = ((leak_slab_arg_t *)arg)->la_cache;
	uint32_t n = kmem_min(sp->slab_bump, sp->slab_chunks), steps = 0;

	(void)partial;
	memset(lk->lk_bitmap, 0, ((size_t)n + 63) / 64 * sizeof (uint64_t));
	for (int list = 0; list < 2; list++) {
		for (kmem_bufctl_t *bcp = list == 0 ? sp->slab_head :
		    sp->slab_raw; bcp != NULL; bcp = slab_link_read(cp, bcp)) {
			if (!slab_bufctl_in_slab(cp, sp, bcp) ||
			    ++steps > sp->slab_chunks) {
				lk->lk_damaged[ci]++;	/* left out */
				return (0);
			}
			size_t i = (size_t)((char *)slab_bufctl_buf(cp, bcp) -
			    sp->slab_base) / cp->cache_chunksize;
			if (i < n)
				lk->lk_bitmap[i / 64] |= (uint64_t)1 << (i % 64);
		}
	}
	for (uint32_t i = 0; i < n; i++)
		if (!(lk->lk_bitmap[i / 64] & ((uint64_t)1 << (i % 64))))
			leak_add(lk, (uintptr_t)sp->slab_base +
			    i * cp->cache_chunksize, ci, 0);
	return (0);
}

/* cp's allocated buffers: what its slabs handed out, less the rounds. */
static void
leak_collect_cache(leak_t *lk, kmem_cache_t *cp, uint32_t ci, leak_buf_t *tmp)
{
	size_t first = lk->lk_nbuf;

	if (slab_is_small(cp)) {
		leak_slab_arg_t la = { lk, ci };
		(void) kmi_slab_walk(cp, leak_small_slab, &la);
	} else if (cp->cache_hash_table != NULL) {
		for (size_t b = 0; b <= cp->cache_hash_mask; b++)
			for (kmem_bufctl_t *bcp = cp->cache_hash_table[b];
			    bcp != NULL; bcp = bcp->bc_next)
				leak_add(lk, (uintptr_t)bcp->bc_addr, ci, 0);
	}
	lk->lk_nrounds = 0;
	(void) leak_each_round(lk, cp, leak_note_round);
	if (lk->lk_nrounds == 0)
		return;
	leak_sort(lk->lk_buf + first, tmp, lk->lk_nbuf - first);
	leak_sort_ptrs(lk->lk_rounds, lk->lk_nrounds);
	size_t out = first, r = 0;
	for (size_t i = first; i < lk->lk_nbuf; i++) {
		uintptr_t base = lk->lk_buf[i].lb_base;
		while (r < lk->lk_nrounds && (uintptr_t)lk->lk_rounds[r] < base)
			r++;
		if (r < lk->lk_nrounds && (uintptr_t)lk->lk_rounds[r] == base)
			continue;
		lk->lk_buf[out++] = lk->lk_buf[i];
	}
	lk->lk_nbuf = out;
}

static size_t
leak_oversize_segs(leak_t *lk, bool add)
{
	vmem_t *vmp = kmem_oversize_arena;
	size_t n = 0;

	for (vmem_seg_t *vsp = vmp->vm_seg0.vs_anext; vsp != &vmp->vm_seg0;
	    vsp = vsp->vs_anext) {
		/* Freed large buffers that kmem keeps are not leaks. */
		if (vsp->vs_type != VMEM_ALLOC ||
		    kmi_large_holds(vsp->vs_start, vs_size(vsp)))
			continue;
		n++;
		if (add)
			leak_add(lk, vsp->vs_start, LEAK_OVERSIZE,
			    (uint32_t)kmem_min(vs_size(vsp) / lk->lk_page,
			    UINT32_MAX));
	}
	return (n);
}

/* The most chunks a slab has (the bitmap's size). */
static int
leak_slab_chunks(kmem_cache_t *cp, kmem_slab_t *sp, bool partial, void *arg)
{
	size_t *maxp = arg;

	(void)cp, (void)partial;
	*maxp = kmem_max(*maxp, sp->slab_chunks);
	return (0);
}

/* Size the tables, then fill the mtab.  The world stands still. */
static bool
leak_build(leak_t *lk)
{
	size_t ncaches = 0, maxbuf = 0, maxchunks = 0;

	for (kmem_list_t *lp = kmem_cache_list.next; lp != &kmem_cache_list;
	    lp = lp->next)
		ncaches++;
	lk->lk_caches = leak_table(lk, ncaches * sizeof (kmem_cache_t *));
	lk->lk_damaged = leak_table(lk, ncaches * sizeof (uint32_t));
	if (lk->lk_caches == NULL || lk->lk_damaged == NULL)
		return (false);
	memset(lk->lk_damaged, 0, ncaches * sizeof (uint32_t));
	for (kmem_list_t *lp = kmem_cache_list.next; lp != &kmem_cache_list;
	    lp = lp->next) {
		kmem_cache_t *cp = KMEM_CONTAINER(lp, kmem_cache_t, cache_link);
		if (!leak_is_client(cp))
			continue;
		lk->lk_caches[lk->lk_ncaches++] = cp;
		maxbuf += cp->cache_buftotal;
		lk->lk_maxrounds = kmem_max(lk->lk_maxrounds,
		    leak_each_round(lk, cp, NULL));
		if (slab_is_small(cp))
			(void) kmi_slab_walk(cp, leak_slab_chunks, &maxchunks);
	}
	maxbuf += leak_oversize_segs(lk, false);
	lk->lk_maxbuf = maxbuf;
	lk->lk_bitmap_words = (maxchunks + 63) / 64;
	lk->lk_buf = leak_table(lk, maxbuf * sizeof (leak_buf_t));
	leak_buf_t *tmp = leak_table(lk, maxbuf * sizeof (leak_buf_t));
	lk->lk_rounds = leak_table(lk, lk->lk_maxrounds * sizeof (void *));
	lk->lk_bitmap = leak_table(lk, lk->lk_bitmap_words * sizeof (uint64_t));
	lk->lk_stack = leak_table(lk, maxbuf * sizeof (uint32_t));
	if (lk->lk_buf == NULL || tmp == NULL || lk->lk_rounds == NULL ||
	    lk->lk_bitmap == NULL || lk->lk_stack == NULL)
		return (false);
	for (uint32_t ci = 0; ci < lk->lk_ncaches; ci++)
		leak_collect_cache(lk, lk->lk_caches[ci], ci, tmp);
	(void) leak_oversize_segs(lk, true);
	leak_sort(lk->lk_buf, tmp, lk->lk_nbuf);
	lk->lk_min = lk->lk_nbuf > 0 ? lk->lk_buf[0].lb_base : 0;
	lk->lk_max = 0;
	for (size_t i = 0; i < lk->lk_nbuf; i++) {
		uintptr_t end = lk->lk_buf[i].lb_base + (lk->lk_buf[i].lb_cache
		    == LEAK_OVERSIZE ? (uintptr_t)lk->lk_buf[i].lb_pages *
		    lk->lk_page : lk->lk_caches[lk->lk_buf[i].lb_cache]->
		    cache_bufsize);
		lk->lk_max = kmem_max(lk->lk_max, end);
	}
	return (true);
}

/* ---- marking ---- */

/* Mark the entry holding v, if any, and queue it to be scanned. */
static inline void
leak_mark(leak_t *lk, uintptr_t v)
{
	size_t lo = 0, hi = lk->lk_nbuf;

	while (hi - lo > 1) {	/* the last base <= v */
		size_t mid = lo + (hi - lo) / 2;
		if ((lk->lk_buf[mid].lb_base & ~LEAK_MARK) <= v)
			lo = mid;
		else
			hi = mid;
	}
	leak_buf_t *lb = &lk->lk_buf[lo];
	uintptr_t base = lb->lb_base & ~LEAK_MARK;
	if ((lb->lb_base & LEAK_MARK) || v < base ||
	    v - base >= leak_size(lk, lb))
		return;
	lb->lb_base |= LEAK_MARK;
	lk->lk_stack[lk->lk_depth++] = (uint32_t)lo;
}

static KMEM_NO_SANITIZE void
leak_scan_words(leak_t *lk, uintptr_t start, uintptr_t end)
{
	const volatile uintptr_t *w = (const uintptr_t *)P2ROUNDUP(start,
	    sizeof (uintptr_t));

	for (; (uintptr_t)(w + 1) <= end; w++) {
		uintptr_t v = *w;
		if (v >= lk->lk_min && v < lk->lk_max)
			leak_mark(lk, v);
	}
}

/* Scan [start, end), then everything it reaches. */
static void
leak_scan(leak_t *lk, uintptr_t start, uintptr_t end)
{
	if (lk->lk_nbuf == 0)
		return;
	leak_scan_words(lk, start, end);
	while (lk->lk_depth > 0) {
		leak_buf_t *lb = &lk->lk_buf[lk->lk_stack[--lk->lk_depth]];
		uintptr_t base = lb->lb_base & ~LEAK_MARK;
		if (leak_readable(lk, lb))
			leak_scan_words(lk, base, base + leak_size(lk, lb));
	}
}

/* A root from the platform, less kmem's own memory. */
static void
leak_root(void *arg, const void *base, size_t size)
{
	leak_t *lk = arg;
	uintptr_t start = (uintptr_t)base, end = start + size;

	if (end < start)
		end = UINTPTR_MAX;
	for (size_t i = 0; i < lk->lk_nskip && start < end; i++) {
		const leak_range_t *lr = &lk->lk_skip[i];
		if (lr->lr_end <= start || lr->lr_start >= end)
			continue;
		if (lr->lr_start > start)
			leak_scan(lk, start, lr->lr_start);
		start = kmem_max(start, lr->lr_end);
	}
	if (start < end)
		leak_scan(lk, start, end);
}

/* kmem's roots: cache structures, constructed free buffers. */
static void
leak_root_round(leak_t *lk, kmem_cache_t *cp, void *buf)
{
	leak_scan(lk, (uintptr_t)buf, (uintptr_t)buf + cp->cache_bufsize);
}

/* A slab's constructed free buffers (while its list holds). */
static int
leak_root_slab_head(kmem_cache_t *cp, kmem_slab_t *sp, bool partial,
    void *arg)
{
	uint32_t steps = 0;

	(void)partial;
	for (kmem_bufctl_t *bcp = sp->slab_head; bcp != NULL &&
	    (!slab_is_small(cp) || slab_bufctl_in_slab(cp, sp, bcp)) &&
	    ++steps <= sp->slab_chunks; bcp = slab_link_read(cp, bcp))
		leak_root_round(arg, cp, slab_bufctl_buf(cp, bcp));
	return (0);
}

static void
leak_kmem_roots(leak_t *lk)
{
	for (kmem_list_t *lp = kmem_cache_list.next; lp != &kmem_cache_list;
	    lp = lp->next) {
		kmem_cache_t *cp = KMEM_CONTAINER(lp, kmem_cache_t, cache_link);
		leak_scan(lk, (uintptr_t)cp, (uintptr_t)(cp + 1));
	}
	for (uint32_t ci = 0; ci < lk->lk_ncaches; ci++) {
		kmem_cache_t *cp = lk->lk_caches[ci];
		if (cp->cache_constructor == NULL ||
		    (cp->cache_cflags & KMC_NOTOUCH))
			continue;
		(void) leak_each_round(lk, cp, leak_root_round);
		(void) kmi_slab_walk(cp, leak_root_slab_head, lk);
	}
}

/* ---- memory a program took from kmem's arenas ---- */

/*
 * vmem_alloc() from kmem_default_arena, or from an arena of the
 * program's that imports from it, gives the program memory inside kmem's
 * heap, which the platform's roots skip: it is a root of its own.  The
 * roots are the allocated segments of every arena under the heap but
 * kmem's own (kmem_metadata, kmem_hash, and kmem_oversize, whose segments
 * are the mtab's entries) that no other arena imported (a span of its
 * own), less the slabs of client caches (whose buffers are scanned when
 * reached).
 * A quantum cache's free buffers are read too: a stale word there can
 * hide a leak, never make one.  Heap memory is always mapped readable.
 */
static bool
leak_vmem_program_arena(vmem_t *vmp)
{
	return (vmp != kmem_heap_arena && vmp != kmem_metadata_arena &&
	    vmp != kmem_hash_arena && vmp != kmem_oversize_arena &&
	    leak_root_arena(vmp) == kmem_heap_arena);
}

/* Count (lk_imports NULL) or record the spans arenas imported. */
static void
leak_imports_collect(leak_t *lk)
{
	lk->lk_nimports = 0;
	for (vmem_t *vmp = vmem_list; vmp != NULL; vmp = vmp->vm_next) {
		if (vmp->vm_source == NULL || vmp->vm_source == kmem_heap_arena ||
		    !leak_vmem_program_arena(vmp->vm_source))
			continue;
		for (vmem_seg_t *vsp = vmp->vm_seg0.vs_anext;
		    vsp != &vmp->vm_seg0; vsp = vsp->vs_anext) {
			if (vsp->vs_type != VMEM_SPAN)
				continue;
			if (lk->lk_imports != NULL) {
				leak_import_t *li =
				    &lk->lk_imports[lk->lk_nimports];
				li->li_start = vsp->vs_start;
				li->li_end = vsp->vs_end;
				li->li_source = vmp->vm_source;
			}
			lk->lk_nimports++;
		}
	}
}

/* Insertion sort: arenas of the program's own are few, and so are spans. */
static void
leak_imports_sort(leak_t *lk)
{
	for (size_t i = 1; i < lk->lk_nimports; i++) {
		leak_import_t li = lk->lk_imports[i];
		size_t j = i;
		for (; j > 0 && lk->lk_imports[j - 1].li_start > li.li_start;
		    j--)
			lk->lk_imports[j] = lk->lk_imports[j - 1];
		lk->lk_imports[j] = li;
	}
}

/* Did another arena import exactly this segment of vmp? */
static bool
leak_imported(const leak_t *lk, const vmem_t *vmp, const vmem_seg_t *vsp)
{
	size_t lo = 0, hi = lk->lk_nimports;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (lk->lk_imports[mid].li_start < vsp->vs_start)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < lk->lk_nimports &&
	    lk->lk_imports[lo].li_start == vsp->vs_start; lo++)
		if (lk->lk_imports[lo].li_end == vsp->vs_end &&
		    lk->lk_imports[lo].li_source == vmp)
			return (true);
	return (false);
}

/* A client slab: not a root (its buffers are scanned when reached). */
static int
leak_vmem_slab(kmem_cache_t *cp, kmem_slab_t *sp, bool partial, void *arg)
{
	leak_t *lk = arg;

	(void)partial;
	leak_range_add(lk->lk_vskip, &lk->lk_nvskip, (uintptr_t)sp->slab_mem,
	    (uintptr_t)sp->slab_mem + cp->cache_slabsize);
	return (0);
}

/*
 * Count (lk_vmem NULL) or record the roots, and the client slabs they
 * exclude.  lk_imports is ready.
 */
static void
leak_vmem_collect(leak_t *lk)
{
	lk->lk_nvmem = lk->lk_nvskip = 0;
	for (vmem_t *vmp = vmem_list; vmp != NULL; vmp = vmp->vm_next) {
		if (!leak_vmem_program_arena(vmp))
			continue;
		for (vmem_seg_t *vsp = vmp->vm_seg0.vs_anext;
		    vsp != &vmp->vm_seg0; vsp = vsp->vs_anext) {
			if (vsp->vs_type != VMEM_ALLOC ||
			    leak_imported(lk, vmp, vsp))
				continue;
			leak_range_add(lk->lk_vmem, &lk->lk_nvmem,
			    vsp->vs_start, vsp->vs_end);
		}
	}
	for (uint32_t ci = 0; ci < lk->lk_ncaches; ci++)
		(void) kmi_slab_walk(lk->lk_caches[ci], leak_vmem_slab, lk);
}

static void
leak_range_sift(leak_range_t *v, size_t root, size_t n)
{
	for (size_t child; (child = 2 * root + 1) < n; root = child) {
		if (child + 1 < n && v[child + 1].lr_start > v[child].lr_start)
			child++;
		if (v[root].lr_start >= v[child].lr_start)
			return;
		leak_range_t t = v[root];
		v[root] = v[child];
		v[child] = t;
	}
}

/* Heapsort of ranges by start, in place. */
static void
leak_sort_ranges(leak_range_t *v, size_t n)
{
	for (size_t i = n / 2; i-- > 0; )
		leak_range_sift(v, i, n);
	for (size_t end = n; end-- > 1; ) {
		leak_range_t t = v[0];
		v[0] = v[end];
		v[end] = t;
		leak_range_sift(v, 0, end);
	}
}

static bool
leak_vmem_prepare(leak_t *lk)
{
	leak_imports_collect(lk);
	if (lk->lk_nimports > 0) {
		lk->lk_imports = leak_table(lk, lk->lk_nimports *
		    sizeof (leak_import_t));
		if (lk->lk_imports == NULL)
			return (false);
		leak_imports_collect(lk);
		leak_imports_sort(lk);
	}
	leak_vmem_collect(lk);
	if (lk->lk_nvmem == 0)
		return (true);
	lk->lk_vmem = leak_table(lk, lk->lk_nvmem * sizeof (leak_range_t));
	lk->lk_vskip = leak_table(lk, kmem_max(lk->lk_nvskip, 1) *
	    sizeof (leak_range_t));
	if (lk->lk_vmem == NULL || lk->lk_vskip == NULL)
		return (false);
	leak_vmem_collect(lk);
	leak_sort_ranges(lk->lk_vskip, lk->lk_nvskip);
	size_t n = 0;		/* coalesce: sorted and disjoint */
	for (size_t i = 0; i < lk->lk_nvskip; i++) {
		leak_range_t *last = n > 0 ? &lk->lk_vskip[n - 1] : NULL;
		if (last != NULL && lk->lk_vskip[i].lr_start <= last->lr_end)
			last->lr_end = kmem_max(last->lr_end,
			    lk->lk_vskip[i].lr_end);
		else
			lk->lk_vskip[n++] = lk->lk_vskip[i];
	}
	lk->lk_nvskip = n;
	return (true);
}

/* Scan each root less the exclusions (sorted, disjoint). */
static void
leak_vmem_roots(leak_t *lk)
{
	for (size_t i = 0; i < lk->lk_nvmem; i++) {
		uintptr_t start = lk->lk_vmem[i].lr_start;
		uintptr_t end = lk->lk_vmem[i].lr_end;
		size_t lo = 0, hi = lk->lk_nvskip;
		while (lo < hi) {	/* the first exclusion ending past start */
			size_t mid = lo + (hi - lo) / 2;
			if (lk->lk_vskip[mid].lr_end <= start)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t j = lo; j < lk->lk_nvskip && start < end; j++) {
			const leak_range_t *x = &lk->lk_vskip[j];
			if (x->lr_start >= end)
				break;
			if (x->lr_start > start)
				leak_scan(lk, start, x->lr_start);
			start = kmem_max(start, x->lr_end);
		}
		if (start < end)
			leak_scan(lk, start, end);
	}
}

/*
 * The scan's state is not on the stack: the caller's stack is a root,
 * and this would hold buffer addresses (lk_min).  Static, and skipped;
 * leak_lock serialises scans (before kmem_init_lock in the lock order:
 * the report runs with every kmem lock dropped, so that pr may use kmem).
 */
static leak_t leak_state;
static kmem_lock_t leak_lock = KMEM_LOCK_INIT;
static bool leak_atfork;	/* the handlers below are registered */

/* A fork while a report prints: the child must find leak_lock free. */
static void
leak_fork_prepare(void)
{
	kmem_lock_enter(&leak_lock);
}

static void
leak_fork_parent(void)
{
	kmem_lock_exit(&leak_lock);
}

static void
leak_fork_child(void)
{
	kmem_lock_init(&leak_lock);
}

/*
 * Find the leaks and print them; returns how many buffers leaked, or
 * SIZE_MAX if the scan could not get memory for its tables.
 */
static KMEM_NOINLINE size_t
leak_find_all(kmem_print_fn *pr, void *arg)
{
	leak_t *lk = &leak_state;
	size_t nleak = 0, bytes = 0;

	kmem_lock_enter(&leak_lock);
	if (!leak_atfork) {	/* after kmem's: this prepare runs first */
		kmem_plat_atfork(leak_fork_prepare, leak_fork_parent,
		    leak_fork_child);
		leak_atfork = true;
	}
	kmi_world_lock();
	memset(lk, 0, sizeof (*lk));
	lk->lk_page = kmem_plat_pagesize();
	lk->lk_unstopped = kmem_plat_world_stop();
	bool ok = leak_build(lk);
	if (ok) {
		lk->lk_maxgroup = LEAK_MAXGROUP;
		lk->lk_group = leak_table(lk, lk->lk_maxgroup *
		    sizeof (leak_group_t));
		ok = lk->lk_group != NULL && leak_vmem_prepare(lk) &&
		    leak_skip_prepare(lk);
	}
	if (ok) {
		kmem_plat_roots(leak_root, lk);
		leak_kmem_roots(lk);
		leak_vmem_roots(lk);
		kmi_leak_group(lk, &nleak, &bytes);
	}
	kmem_plat_world_resume();
	kmi_world_unlock();
	if (ok)
		kmi_leak_report(lk, nleak, bytes, pr, arg);
	else
		kmi_printf(pr, arg, "findleaks: no memory for the scan's "
		    "tables");
	leak_tables_free(lk);
	memset(lk, 0, sizeof (*lk));	/* no buffer addresses left behind */
	kmem_lock_exit(&leak_lock);
	return (ok ? nleak : SIZE_MAX);
}

size_t
kmem_findleaks(void (*pr)(void *arg, const char *line), void *arg)
{
	if (pr == NULL)
		pr = kmi_print_console;
	if (!kmi_is_ready()) {
		kmi_printf(pr, arg, "   Total 0 buffers, 0 bytes");
		return (0);
	}
	return (leak_find_all(pr, arg));
}
