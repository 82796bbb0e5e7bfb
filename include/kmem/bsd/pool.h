/*
 * NetBSD pool(9) and pool_cache(9) on kmem: fixed-size items from a kmem
 * object cache of their own (its slabs from the pool's page allocator),
 * with kmem's per-CPU magazines.  Manuals: kmem_pool(9),
 * kmem_pool_cache(9).  Reached as <sys/pool.h> with
 * -I<prefix>/include/kmem/bsd.
 */
#ifndef KMEM_BSD_POOL_H
#define KMEM_BSD_POOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* pool_get() flags (NetBSD's values: PR_WAITOK == KM_SLEEP of kmem(9)). */
#define PR_WAITOK	0x01	/* may sleep */
#define PR_NOWAIT	0x02	/* never sleeps: interrupt context */
#define PR_LIMITFAIL	0x100	/* with PR_WAITOK: NULL at the hard limit */
#define PR_RECURSIVE	0x200	/* accepted (vmstat accounting only) */
#define PR_NOTOUCH	0x400	/* never write into free items */
#define PR_NOALIGN	0x800	/* accepted */
#define PR_LARGECACHE	0x1000	/* accepted */
#define PR_ZERO		0x8000	/* zero the item */
#define PR_PSERIALIZE	0x20000	/* accepted; implies PR_NOTOUCH */

/* Interrupt priority levels a pool may be used from (recorded only). */
#define IPL_NONE	0
#define IPL_SOFTCLOCK	1
#define IPL_SOFTBIO	2
#define IPL_SOFTNET	3
#define IPL_SOFTSERIAL	4
#define IPL_VM		5
#define IPL_SCHED	6
#define IPL_HIGH	7
#define IPL_BIO		IPL_VM		/* the old names NetBSD keeps */
#define IPL_NET		IPL_VM
#define IPL_TTY		IPL_VM
#define IPL_AUDIO	IPL_SCHED
#define IPL_CLOCK	IPL_SCHED
#define IPL_STATCLOCK	IPL_SCHED

#ifndef KMEM_BSD_NO_PADDR_T
typedef uintptr_t paddr_t;	/* hosted: an item's address is its paddr */
#endif
#define POOL_PADDR_INVALID	((paddr_t)-1)

struct pool;
struct kmem_cache;

/* A page allocator: pa_pagesz bytes (0: the page size) at a time. */
struct pool_allocator {
	void		*(*pa_alloc)(struct pool *pp, int flags);
	void		(*pa_free)(struct pool *pp, void *page);
	unsigned int	pa_pagesz;
};
/* kmem's own pages (the three are the same allocator here). */
extern struct pool_allocator pool_allocator_kmem;
extern struct pool_allocator pool_allocator_nointr;
extern struct pool_allocator pool_allocator_meta;

/*
 * A pool.  Clients embed it and call the functions below; the fields are
 * kmem's (vmstat -m and a debugger read them).
 */
struct pool {
	struct pool	*pr_next;	/* every pool, for vmstat -m */
	unsigned long	pr_magic;	/* initialised and not destroyed */
	struct kmem_cache *pr_cache;	/* the items' object cache */
	struct kmem_cache *pr_fast;	/* pr_cache while no limit, water */
					/* mark or page allocator of the */
					/* caller's needs the slow path */
	void		*pr_arena;	/* vmem arena over pr_alloc's pages */
	void		*pr_source;	/* its (empty) source: identifies pp */
	void		*pr_spare;	/* a page a waiting get fetched */
	struct pool_allocator *pr_alloc;
	const char	*pr_wchan;	/* the name */
	size_t		pr_size;	/* item size asked for */
	unsigned int	pr_align;
	int		pr_flags;
	int		pr_ipl;
	unsigned int	pr_hardlimit;	/* items; 0: none */
	unsigned int	pr_nout;	/* items out, while limited */
	unsigned int	pr_waiters;
	unsigned int	pr_minitems;	/* low water: items kept in reserve */
	unsigned int	pr_maxitems;	/* high water: free items kept */
	unsigned int	pr_minpages;	/* pool_prime() */
	unsigned int	pr_nreserve;	/* items in pr_reserve */
	void		*pr_reserve;	/* free items kept for the low water */
	const char	*pr_hardlimit_warning;
	unsigned int	pr_hardlimit_ratecap;	/* seconds */
	uint64_t	pr_hardlimit_warned;	/* when, ns; 0: never */
	unsigned long	pr_nfail;	/* failures kmem did not see (limit) */
	unsigned long	pr_nretry;	/* kmem failures that were no get's */
	unsigned long	pr_nreserve_get;	/* gets the reserve served */
	unsigned long	pr_nreserve_put;	/* puts the reserve took */
	unsigned long	pr_nreserve_fill;	/* items taken to fill it */
	unsigned long	pr_nreserve_drain;	/* items it gave back */
	unsigned long	pr_nprimed;	/* gets and puts pool_prime() made */
	unsigned int	pr_nputs;	/* puts since the high-water check */
	struct pool_cache *pr_pc;	/* the pool cache it belongs to */
};

void	pool_init(struct pool *pp, size_t size, unsigned int align,
	    unsigned int align_offset, int flags, const char *wchan,
	    struct pool_allocator *palloc, int ipl);
void	pool_destroy(struct pool *pp);
void	*pool_get(struct pool *pp, int flags);
void	pool_put(struct pool *pp, void *item);
void	pool_prime(struct pool *pp, int nitems);
void	pool_setlowat(struct pool *pp, int nitems);
void	pool_sethiwat(struct pool *pp, int nitems);
void	pool_sethardlimit(struct pool *pp, int limit, const char *warnmess,
	    int ratecap);
int	pool_reclaim(struct pool *pp);
unsigned int pool_nget(struct pool *pp);
unsigned int pool_nput(struct pool *pp);
unsigned int pool_nfail(struct pool *pp);	/* kmem's: gets that failed */

/* ---- pool_cache(9) ---- */

typedef struct pool_cache *pool_cache_t;

struct pool_cache {
	struct pool	pc_pool;	/* listed by vmstat -m as a pool */
	int		(*pc_ctor)(void *arg, void *obj, int flags);
	void		(*pc_dtor)(void *arg, void *obj);
	void		*pc_arg;
	struct pool_cache *pc_next;	/* every pool cache, for vmstat -C */
};

pool_cache_t pool_cache_init(size_t size, unsigned int align,
	    unsigned int align_offset, int flags, const char *wchan,
	    struct pool_allocator *palloc, int ipl,
	    int (*ctor)(void *arg, void *obj, int flags),
	    void (*dtor)(void *arg, void *obj), void *arg);
void	pool_cache_destroy(pool_cache_t pc);
void	*pool_cache_get_paddr(pool_cache_t pc, int flags, paddr_t *pap);
void	pool_cache_put_paddr(pool_cache_t pc, void *obj, paddr_t pa);
void	pool_cache_invalidate(pool_cache_t pc);
void	pool_cache_reclaim(pool_cache_t pc);
void	pool_cache_setlowat(pool_cache_t pc, int nitems);
void	pool_cache_sethiwat(pool_cache_t pc, int nitems);
void	pool_cache_sethardlimit(pool_cache_t pc, int limit,
	    const char *warnmess, int ratecap);
void	pool_cache_prime(pool_cache_t pc, int nitems);
unsigned int pool_cache_nget(pool_cache_t pc);
unsigned int pool_cache_nput(pool_cache_t pc);

/* vmstat -m (malloc types, then pools) and vmstat -C (kmem_vmstat_m(9)). */
void	kmem_vmstat_m(void (*pr)(void *arg, const char *line), void *arg);
void	kmem_vmstat_m_json(void (*pr)(void *arg, const char *line),
	    void *arg);
void	kmem_vmstat_c(void (*pr)(void *arg, const char *line), void *arg);

/*
 * The fast paths: straight to kmem's object cache (kmem_cache_alloc(9),
 * whose flags are 0 to sleep, 1 not to), unless the pool needs its slow
 * path (a hard limit, a low-water reserve, PR_ZERO, bad flags).
 */
void	*kmem_cache_alloc(struct kmem_cache *cp, int kmflag);
void	kmem_cache_free(struct kmem_cache *cp, void *buf);

/* A failure here is kmem's to count (its "alloc_fail"): no check. */
static inline void *
pool_cache_get(pool_cache_t pc, int flags)
{
	struct kmem_cache *cp = pc->pc_pool.pr_fast;

	if (__builtin_expect(cp != NULL &&
	    (unsigned)(flags & (PR_WAITOK | PR_NOWAIT | PR_ZERO)) - 1 < 2, 1))
		return (kmem_cache_alloc(cp, (flags & PR_NOWAIT) ? 1 : 0));
	return (pool_cache_get_paddr(pc, flags, NULL));
}

static inline void
pool_cache_put(pool_cache_t pc, void *obj)
{
	struct kmem_cache *cp = pc->pc_pool.pr_fast;

	if (__builtin_expect(cp != NULL && obj != NULL, 1))
		kmem_cache_free(cp, obj);
	else
		pool_cache_put_paddr(pc, obj, POOL_PADDR_INVALID);
}

#ifdef __cplusplus
}
#endif

#endif /* KMEM_BSD_POOL_H */
