/*
 * kmem_findleaks()'s state, shared by the scan (findleaks.c, which has
 * the theory) and its report (findleaks_report.c).
 */
#ifndef KMEM_FINDLEAKS_IMPL_H
#define KMEM_FINDLEAKS_IMPL_H

#include "../init/init_impl.h"
#include "../debug/debug_impl.h"
#include "../owner/owner.h"

#define LEAK_MARK	((uintptr_t)1)
#define LEAK_OVERSIZE	UINT32_MAX	/* lb_cache of a kmem_oversize seg */
#define LEAK_MAXGROUP	4096		/* groups printed; more still count */

typedef struct leak_buf {
	uintptr_t	lb_base;	/* | LEAK_MARK once reached */
	uint32_t	lb_cache;	/* index in lk_caches, or LEAK_OVERSIZE */
	uint32_t	lb_pages;	/* kmem_oversize: the segment's pages */
} leak_buf_t;

typedef struct leak_range {
	uintptr_t	lr_start;
	uintptr_t	lr_end;
} leak_range_t;

/* A table in platform pages. */
typedef struct leak_table {
	void		*lt_base;
	size_t		lt_bytes;	/* mapped */
} leak_table_t;

/* A span an arena under kmem's heap imported from its source. */
typedef struct leak_import {
	uintptr_t	li_start;
	uintptr_t	li_end;
	const vmem_t	*li_source;
} leak_import_t;

/* A group of leaks, as printed. */
typedef struct leak_group {
	uint64_t	lg_key;		/* cache and stack hash */
	uint64_t	lg_time;	/* the oldest buffer's */
	uintptr_t	lg_addr;	/* its bufctl (audited) or buffer */
	uint32_t	lg_cache;
	uint32_t	lg_depth;
	size_t		lg_count;
	size_t		lg_bytes;
	uintptr_t	lg_stack[KMEM_STACK_MAX];
	char		lg_caller[96];	/* the first frame not kmem's */
} leak_group_t;

typedef struct leak {
	kmem_cache_t	**lk_caches;	/* client caches, by index */
	uint32_t	*lk_damaged;	/* by index: slabs left out */
	uint32_t	lk_ncaches;
	leak_buf_t	*lk_buf;	/* the mtab */
	size_t		lk_nbuf;
	size_t		lk_maxbuf;
	void		**lk_rounds;	/* one cache's magazine rounds */
	size_t		lk_nrounds;
	size_t		lk_maxrounds;
	uint64_t	*lk_bitmap;	/* one small slab's free chunks */
	size_t		lk_bitmap_words;
	uint32_t	*lk_stack;	/* entries to scan */
	size_t		lk_depth;
	leak_range_t	*lk_skip;	/* kmem's own memory, sorted */
	size_t		lk_nskip;
	uintptr_t	lk_min;		/* the lowest base, the highest end */
	uintptr_t	lk_max;
	size_t		lk_page;
	leak_group_t	*lk_group;
	size_t		lk_ngroup;
	size_t		lk_maxgroup;
	unsigned	lk_unstopped;
	leak_range_t	*lk_vmem;	/* program memory from kmem's arenas */
	size_t		lk_nvmem;
	leak_range_t	*lk_vskip;	/* less: client slabs */
	size_t		lk_nvskip;
	leak_import_t	*lk_imports;	/* arenas' spans, by source */
	size_t		lk_nimports;
	leak_table_t	lk_tables[13];
	int		lk_ntables;
} leak_t;

/* An entry's size: its cache's buffers, or the oversize segment's. */
static inline size_t
leak_size(const leak_t *lk, const leak_buf_t *lb)
{
	return (lb->lb_cache == LEAK_OVERSIZE ? (size_t)lb->lb_pages *
	    lk->lk_page : lk->lk_caches[lb->lb_cache]->cache_bufsize);
}

/* findleaks_report.c: group the unmarked entries (the world stands */
/* still), then print the groups (it runs again). */
void kmi_leak_group(leak_t *lk, size_t *nleak, size_t *bytes);
void kmi_leak_report(leak_t *lk, size_t nleak, size_t bytes,
    kmem_print_fn *pr, void *arg);

#endif /* KMEM_FINDLEAKS_IMPL_H */
