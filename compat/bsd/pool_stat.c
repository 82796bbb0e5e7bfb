/*
 * The pools' reports: the pool table of vmstat -m, vmstat -C for pool
 * caches, and NetBSD's pool DIAGNOSTIC words before kmem's report.
 *
 * A pool's figures are its object cache's (kmem_cache_stat(9)): Requests
 * and Releases are its allocations and frees (the low-water reserve's
 * own traffic counted as the pool's), Pgreq/Pgrel its slabs created and
 * destroyed, Npage the slabs it has, Hiwat the most it had (from the
 * most buffers), Idle its empty slabs.  For pool caches, the magazine
 * layer is the CPU layer, the depot the cache layer (a full magazine
 * taken is a hit, a buffer from the slabs a miss) and the slab layer the
 * pool layer.
 */
#include "bsd_impl.h"

#define POOL_BATCH	64

typedef struct pool_row {
	char		pw_name[32];
	size_t		pw_size;
	size_t		pw_pagesz;
	uint64_t	pw_nget, pw_nput, pw_nfail;
	uint64_t	pw_pgreq, pw_pgrel, pw_hiwat, pw_idle;
	unsigned int	pw_minpg, pw_hardlimit;
	size_t		pw_ipp;
	bool		pw_cache;	/* a pool cache's pool */
	uint64_t	pw_spin, pw_grpsz, pw_full, pw_empty;
	uint64_t	pw_depot, pw_slab, pw_alloc;
} pool_row_t;

static void
pool_row(struct pool *pp, pool_row_t *pw)
{
	kmem_cache_t *cp = pp->pr_cache;

	kmi_strlcpy(pw->pw_name, pp->pr_wchan, sizeof (pw->pw_name));
	pw->pw_size = pp->pr_size;
	pw->pw_pagesz = kmem_face_slab_size(cp);
	pw->pw_ipp = kmem_max(kmem_face_slab_chunks(cp), 1);
	pw->pw_nget = pool_nget(pp);
	pw->pw_nput = pool_nput(pp);
	pw->pw_nfail = kmi_bsd_pool_failures(pp);
	pw->pw_pgreq = kmem_cache_stat(cp, "slab_create");
	pw->pw_pgrel = kmem_cache_stat(cp, "slab_destroy");
	pw->pw_hiwat = (kmem_cache_stat(cp, "buf_max") + pw->pw_ipp - 1) /
	    pw->pw_ipp;
	pw->pw_idle = kmem_face_slabs_empty(cp);
	pw->pw_minpg = pp->pr_minpages;
	pw->pw_hardlimit = pp->pr_hardlimit;
	pw->pw_cache = pp->pr_pc != NULL;
	pw->pw_spin = kmem_cache_stat(cp, "depot_contention");
	pw->pw_grpsz = kmem_cache_stat(cp, "magazine_size");
	pw->pw_full = kmem_cache_stat(cp, "full_magazines");
	pw->pw_empty = kmem_cache_stat(cp, "empty_magazines");
	pw->pw_depot = kmem_cache_stat(cp, "depot_alloc");
	pw->pw_slab = kmem_cache_stat(cp, "slab_alloc");
	pw->pw_alloc = kmem_cache_stat(cp, "alloc");
}

/*
 * The pools' rows, POOL_BATCH at a time, taken under the pool lock (so
 * none is destroyed meanwhile) and printed outside it.
 */
static void
pool_walk(void (*row)(const pool_row_t *, void *), void *arg)
{
	static pool_row_t rows[POOL_BATCH];	/* under the walk lock */
	static kmem_lock_t walk_lock = KMEM_LOCK_INIT;
	size_t done = 0, n;

	kmem_lock_enter(&walk_lock);
	do {
		n = 0;
		kmem_lock_enter(&kmi_bsd_pool_lock);
		size_t skip = 0;
		for (struct pool *pp = kmem_bsd_pools; pp != NULL &&
		    n < POOL_BATCH; pp = pp->pr_next) {
			if (pp->pr_magic == 0 || pp->pr_cache == NULL)
				continue;
			if (skip++ < done)
				continue;
			pool_row(pp, &rows[n++]);
		}
		kmem_lock_exit(&kmi_bsd_pool_lock);
		for (size_t i = 0; i < n; i++)
			row(&rows[i], arg);
		done += n;
	} while (n == POOL_BATCH);
	kmem_lock_exit(&walk_lock);
}

typedef struct pool_print {
	void		(*pp_pr)(void *arg, const char *line);
	void		*pp_arg;
	uint64_t	pp_inuse, pp_total;	/* bytes */
	unsigned	pp_rows;
} pool_print_t;

static void
pool_print_row(const pool_row_t *pw, void *arg)
{
	pool_print_t *pt = arg;
	char line[200], maxpg[24];

	if (pw->pw_hardlimit != 0)
		kmi_snprintf(maxpg, sizeof (maxpg), "%zu",
		    (pw->pw_hardlimit + pw->pw_ipp - 1) / pw->pw_ipp);
	else
		kmi_strlcpy(maxpg, "inf", sizeof (maxpg));
	uint64_t npage = pw->pw_pgreq - pw->pw_pgrel;
	kmi_snprintf(line, sizeof (line), "%-11s%5zu %8llu %4llu %8llu %5llu "
	    "%5llu %5llu %5llu %5u %5s %4llu", pw->pw_name, pw->pw_size,
	    (unsigned long long)pw->pw_nget, (unsigned long long)pw->pw_nfail,
	    (unsigned long long)pw->pw_nput, (unsigned long long)pw->pw_pgreq,
	    (unsigned long long)pw->pw_pgrel, (unsigned long long)npage,
	    (unsigned long long)pw->pw_hiwat, pw->pw_minpg, maxpg,
	    (unsigned long long)pw->pw_idle);
	pt->pp_pr(pt->pp_arg, line);
	pt->pp_inuse += (pw->pw_nget - pw->pw_nput) * pw->pw_size;
	pt->pp_total += npage * pw->pw_pagesz;
	pt->pp_rows++;
}

/* The pool part of vmstat -m. */
void
kmi_bsd_pool_table(void (*pr)(void *arg, const char *line), void *arg)
{
	pool_print_t pt = { pr, arg, 0, 0, 0 };
	char line[120];

	pr(arg, "Memory resource pool statistics");
	pr(arg, "Name        Size Requests Fail Releases Pgreq Pgrel Npage "
	    "Hiwat Minpg Maxpg Idle");
	pool_walk(pool_print_row, &pt);
	uint64_t util = pt.pp_total != 0 ? pt.pp_inuse * 1000 / pt.pp_total :
	    0;
	kmi_snprintf(line, sizeof (line), "In use %lluK, total allocated "
	    "%lluK; utilization %llu.%llu%%",
	    (unsigned long long)(pt.pp_inuse / 1024),
	    (unsigned long long)(pt.pp_total / 1024),
	    (unsigned long long)(util / 10), (unsigned long long)(util % 10));
	pr(arg, line);
}

/*
 * The pools as a JSON list: the table's columns, maxpg null for no
 * limit, and the page size (total allocated is npage pages).
 */
static void
pool_json_row(const pool_row_t *pw, void *arg)
{
	kmem_json_t *kj = arg;

	kmi_json_row(kj, NULL);
	kmi_json_str(kj, "name", pw->pw_name);
	kmi_json_u64(kj, "size", pw->pw_size);
	kmi_json_u64(kj, "requests", pw->pw_nget);
	kmi_json_u64(kj, "fail", pw->pw_nfail);
	kmi_json_u64(kj, "releases", pw->pw_nput);
	kmi_json_u64(kj, "pgreq", pw->pw_pgreq);
	kmi_json_u64(kj, "pgrel", pw->pw_pgrel);
	kmi_json_u64(kj, "npage", pw->pw_pgreq - pw->pw_pgrel);
	kmi_json_u64(kj, "hiwat", pw->pw_hiwat);
	kmi_json_u64(kj, "minpg", pw->pw_minpg);
	if (pw->pw_hardlimit != 0)
		kmi_json_u64(kj, "maxpg", (pw->pw_hardlimit + pw->pw_ipp - 1) /
		    pw->pw_ipp);
	else
		kmi_json_str(kj, "maxpg", NULL);
	kmi_json_u64(kj, "idle", pw->pw_idle);
	kmi_json_u64(kj, "pagesize", pw->pw_pagesz);
	kmi_json_close(kj);
}

void
kmi_bsd_pool_json(kmem_json_t *kj)
{
	kmi_json_list(kj, "pools");
	pool_walk(pool_json_row, kj);
	kmi_json_close(kj);
}

static void
pool_cache_row(const pool_row_t *pw, void *arg)
{
	pool_print_t *pt = arg;
	char line[200];

	if (!pw->pw_cache)
		return;
	uint64_t cache = pw->pw_depot + pw->pw_slab;
	uint64_t chit = cache != 0 ? pw->pw_depot * 1000 / cache : 0;
	uint64_t cpu = pw->pw_alloc;
	uint64_t phit = cpu != 0 && cpu >= cache ? (cpu - cache) * 1000 /
	    cpu : 0;
	kmi_snprintf(line, sizeof (line), "%-13s%5llu %5llu %4llu %4llu "
	    "%9llu %10llu %3llu.%llu %11llu %3llu.%llu", pw->pw_name,
	    (unsigned long long)pw->pw_spin, (unsigned long long)pw->pw_grpsz,
	    (unsigned long long)pw->pw_full, (unsigned long long)pw->pw_empty,
	    (unsigned long long)pw->pw_slab, (unsigned long long)cache,
	    (unsigned long long)(chit / 10), (unsigned long long)(chit % 10),
	    (unsigned long long)cpu, (unsigned long long)(phit / 10),
	    (unsigned long long)(phit % 10));
	pt->pp_pr(pt->pp_arg, line);
}

void
kmem_vmstat_c(void (*pr)(void *arg, const char *line), void *arg)
{
	pool_print_t pt = { pr != NULL ? pr : kmi_print_console, arg, 0, 0,
	    0 };

	pt.pp_pr(arg, "Pool cache statistics.");
	pt.pp_pr(arg, "Name          Spin GrpSz Full Emty PoolLayer "
	    "CacheLayer  Hit%    CpuLayer  Hit%");
	pool_walk(pool_cache_row, &pt);
}

/* ---- DIAGNOSTIC ---- */

/*
 * kmem found an error on a buffer of a pool's cache: NetBSD's words
 * first.  Runs in kmem's error path, so it takes no lock: the list is
 * read as it is.  false if the buffer is no pool's.
 */
bool
kmi_bsd_pool_report(const kmem_face_error_t *fe)
{
	struct pool *pp = kmem_load_acquire(&kmem_bsd_pools);

	while (pp != NULL && pp->pr_cache != fe->fe_cache)
		pp = pp->pr_next;
	if (pp == NULL)
		return (false);
	uintptr_t page = (uintptr_t)fe->fe_buf &
	    ~(uintptr_t)(kmem_face_slab_size(fe->fe_cache) - 1);
	switch (fe->fe_type) {
	case KMEM_FACE_ERR_MODIFIED:
		kmi_printf(NULL, NULL, "pool_get: [%s] free list modified: "
		    "magic=%x; page %p; item addr %p", pp->pr_wchan,
		    (unsigned)fe->fe_found, (void *)page, fe->fe_buf);
		break;
	case KMEM_FACE_ERR_DUPFREE:
		kmi_printf(NULL, NULL, "pool_put: [%s] %p already freed",
		    pp->pr_wchan, fe->fe_buf);
		break;
	case KMEM_FACE_ERR_REDZONE: {
		/* The first byte of the redzone that differs. */
		unsigned shift = 0;
		while (shift < 56 && ((fe->fe_found ^ fe->fe_expected) >>
		    shift & 0xff) == 0)
			shift += 8;
		kmi_printf(NULL, NULL, "pool_redzone_check: [%s] 0x%02x != "
		    "0x%02x", pp->pr_wchan,
		    (unsigned)(fe->fe_found >> shift & 0xff),
		    (unsigned)(fe->fe_expected >> shift & 0xff));
		break;
	}
	default:
		kmi_printf(NULL, NULL, "pool_put: [%s] item %p not part of "
		    "pool", pp->pr_wchan, fe->fe_buf);
		break;
	}
	return (true);
}
