/*
 * Cache statistics with the illumos kstat names, and the ::kmastat table.
 *
 * A snapshot gathers one cache's numbers from the three layers in lock
 * order (records, depot, slab).  Owners keep running while it is taken,
 * so figures that combine layers (buf_inuse) are exact only when the
 * cache is quiet -- as with kstats in a live kernel.
 */
#include "stats_impl.h"

typedef struct kmem_snapshot {
	uint64_t	ks_alloc;
	uint64_t	ks_free;
	uint64_t	ks_cpu_rounds;
	uint64_t	ks_depot_rounds;
	uint64_t	ks_full;
	uint64_t	ks_empty;
	uint64_t	ks_magsize;
	uint64_t	ks_depot_alloc;
	uint64_t	ks_depot_free;
	uint64_t	ks_depot_contention;
	uint64_t	ks_reap;
	uint64_t	ks_resize;
	uint64_t	ks_buftotal;
	uint64_t	ks_bufslab;
	uint64_t	ks_bufmax;
	uint64_t	ks_constructed_slab;
	uint64_t	ks_slab_create;
	uint64_t	ks_slab_destroy;
	uint64_t	ks_slab_alloc;
	uint64_t	ks_slab_free;
	uint64_t	ks_alloc_fail;
	uint64_t	ks_hash_size;
	uint64_t	ks_hash_lookup_depth;
	uint64_t	ks_hash_rescale;
} kmem_snapshot_t;

typedef struct kmem_named_stat {
	const char	*n;
	uint64_t	v;
} kmem_named_stat_t;

static uint64_t
ks_inuse(const kmem_snapshot_t *ks)
{
	uint64_t avail = ks->ks_bufslab + ks->ks_cpu_rounds +
	    ks->ks_depot_rounds;
	return (ks->ks_buftotal > avail ? ks->ks_buftotal - avail : 0);
}

/* Bytes of slabs the cache holds. */
static uint64_t
ks_memory(const kmem_cache_t *cp, const kmem_snapshot_t *ks)
{
	return ((ks->ks_slab_create - ks->ks_slab_destroy) *
	    cp->cache_slabsize);
}

static void
kmem_snapshot(kmem_cache_t *cp, kmem_snapshot_t *ks)
{
	uint64_t free;

	memset(ks, 0, sizeof (*ks));
	ks->ks_cpu_rounds = kmi_cpu_rounds(cp, &free);
	kmem_lock_enter(&cp->cache_depot_lock);
	ks->ks_magsize = (cp->cache_flags & KMF_NOMAGAZINE) ? 0 :
	    (uint64_t)cp->cache_magtype->mt_magsize;
	ks->ks_full = cp->cache_full.ml_total;
	ks->ks_empty = cp->cache_empty.ml_total;
	ks->ks_depot_rounds = cp->cache_full.ml_capacity;
	ks->ks_depot_alloc = cp->cache_depot_alloc;
	ks->ks_depot_free = cp->cache_depot_free;
	ks->ks_depot_contention = cp->cache_depot_contention;
	ks->ks_reap = cp->cache_reap;
	ks->ks_resize = cp->cache_resize;
	ks->ks_free = free + kmem_load_relaxed(&cp->cache_cpu_free);
	kmem_lock_exit(&cp->cache_depot_lock);
	kmem_lock_enter(&cp->cache_lock);
	ks->ks_buftotal = cp->cache_buftotal;
	ks->ks_bufslab = cp->cache_bufslab;
	ks->ks_bufmax = cp->cache_bufmax;
	ks->ks_constructed_slab = cp->cache_constructed_slab;
	ks->ks_slab_create = cp->cache_slab_create;
	ks->ks_slab_destroy = cp->cache_slab_destroy;
	ks->ks_slab_alloc = cp->cache_slab_alloc;
	ks->ks_slab_free = cp->cache_slab_free;
	ks->ks_alloc_fail = cp->cache_alloc_fail;
	uint64_t uncounted = cp->cache_free_uncounted;
	ks->ks_hash_size = (cp->cache_flags & KMF_HASH) ?
	    cp->cache_hash_mask + 1 : 0;
	ks->ks_hash_lookup_depth = cp->cache_hash_lookup_depth;
	ks->ks_hash_rescale = cp->cache_hash_rescale;
	kmem_lock_exit(&cp->cache_lock);
	ks->ks_free -= kmem_min(uncounted, ks->ks_free);
	/* Every allocated buffer was allocated and not yet freed. */
	ks->ks_alloc = ks->ks_free + ks_inuse(ks);
}

/*
 * Returns the named statistic of cp.  Besides the illumos names listed in
 * kmem_cache_stat(9), "ctor_calls", "dtor_calls", "memory_inuse" and
 * "magazine_resize" are kept; an unknown name returns 0.
 */
uint64_t
kmem_cache_stat(kmem_cache_t *cp, const char *name)
{
	kmem_snapshot_t ks;

	kmem_snapshot(cp, &ks);
	uint64_t constructed = ks.ks_cpu_rounds + ks.ks_depot_rounds +
	    (cp->cache_constructor != NULL ? ks.ks_constructed_slab : 0);
	const kmem_named_stat_t table[] = {
		{ "buf_size", cp->cache_bufsize },
		{ "align", cp->cache_align },
		{ "chunk_size", cp->cache_chunksize },
		{ "slab_size", cp->cache_slabsize },
		{ "alloc", ks.ks_alloc },
		{ "alloc_fail", ks.ks_alloc_fail },
		{ "free", ks.ks_free },
		{ "depot_alloc", ks.ks_depot_alloc },
		{ "depot_free", ks.ks_depot_free },
		{ "depot_contention", ks.ks_depot_contention },
		{ "slab_alloc", ks.ks_slab_alloc },
		{ "slab_free", ks.ks_slab_free },
		{ "buf_constructed", constructed },
		{ "buf_avail", ks.ks_bufslab + ks.ks_cpu_rounds +
		    ks.ks_depot_rounds },
		{ "buf_inuse", ks_inuse(&ks) },
		{ "buf_total", ks.ks_buftotal },
		{ "buf_max", ks.ks_bufmax },
		{ "slab_create", ks.ks_slab_create },
		{ "slab_destroy", ks.ks_slab_destroy },
		{ "hash_size", ks.ks_hash_size },
		{ "hash_lookup_depth", ks.ks_hash_lookup_depth },
		{ "hash_rescale", ks.ks_hash_rescale },
		{ "full_magazines", ks.ks_full },
		{ "empty_magazines", ks.ks_empty },
		{ "magazine_size", ks.ks_magsize },
		{ "reap", ks.ks_reap },
		{ "magazine_resize", ks.ks_resize },
		{ "ctor_calls", kmem_load_relaxed(&cp->cache_ctor_calls) },
		{ "dtor_calls", kmem_load_relaxed(&cp->cache_dtor_calls) },
		{ "memory_inuse", ks_memory(cp, &ks) },
	};
	for (size_t i = 0; i < sizeof (table) / sizeof (table[0]); i++)
		if (kmi_strcmp(table[i].n, name) == 0)
			return (table[i].v);
	return (0);
}

/* Where kmem's memory is: the budget, what clients hold, what is cached. */
typedef struct memstat_arg {
	uint64_t	ma_inuse;
	uint64_t	ma_cached;
} memstat_arg_t;

static int
memstat_cache(kmem_cache_t *cp, void *arg)
{
	memstat_arg_t *ma = arg;
	kmem_snapshot_t ks;

	if (cp->cache_cflags & KMC_NOTOUCH)
		return (0);	/* identifiers or quantum caches: no memory */
	kmem_snapshot(cp, &ks);
	ma->ma_inuse += ks_inuse(&ks) * cp->cache_bufsize;
	ma->ma_cached += (ks.ks_bufslab + ks.ks_cpu_rounds +
	    ks.ks_depot_rounds) * cp->cache_chunksize;
	return (0);
}

void
kmem_memstat(kmem_memstat_t *ms)
{
	memstat_arg_t ma = { 0, 0 };
	size_t budget, reserve, mapped, peak;
	uint64_t fail;

	memset(ms, 0, sizeof (*ms));
	vmi_pages_stat(&budget, &reserve, &mapped, &peak, &fail);
	ms->ms_physmem = budget;
	ms->ms_reserve = reserve;
	ms->ms_mapped = mapped;
	ms->ms_peak = peak;
	ms->ms_fail = fail;
	if (!kmi_is_ready())
		return;
	kmem_cache_walk(memstat_cache, &ma);
	ms->ms_inuse = (size_t)ma.ma_inuse +
	    vmem_size(kmem_oversize_arena, VMEM_ALLOC);
	ms->ms_cached = (size_t)ma.ma_cached;
	ms->ms_arena_free = vmem_size(kmem_heap_arena, VMEM_FREE) +
	    vmem_size(kmem_default_arena, VMEM_FREE) +
	    vmem_size(kmem_oversize_arena, VMEM_FREE);
}

typedef struct kmastat_arg {
	kmem_print_fn	*ka_pr;
	void		*ka_arg;
	vmem_t		*ka_arena;	/* total only caches of this arena */
	uint64_t	ka_mem;
	uint64_t	ka_alloc;
	uint64_t	ka_fail;
} kmastat_arg_t;

static int
kmastat_cache(kmem_cache_t *cp, void *arg)
{
	kmastat_arg_t *ka = arg;
	kmem_snapshot_t ks;

	if (cp->cache_arena != ka->ka_arena)
		return (0);
	kmem_snapshot(cp, &ks);
	uint64_t mem = ks_memory(cp, &ks);
	kmi_printf(ka->ka_pr, ka->ka_arg, "%-25s %6zu %9lu %9lu %12lu %12lu "
	    "%5lu", cp->cache_name, cp->cache_bufsize,
	    (unsigned long)ks_inuse(&ks), (unsigned long)ks.ks_buftotal,
	    (unsigned long)mem, (unsigned long)ks.ks_alloc,
	    (unsigned long)ks.ks_alloc_fail);
	ka->ka_mem += mem;
	ka->ka_alloc += ks.ks_alloc;
	ka->ka_fail += ks.ks_alloc_fail;
	return (0);
}

static int
kmastat_arena(vmem_t *vmp, void *arg)
{
	kmastat_arg_t *ka = arg;
	kmastat_arg_t sub = { ka->ka_pr, ka->ka_arg, vmp, 0, 0, 0 };
	char total[VMEM_NAMELEN + 16];

	kmem_cache_walk(kmastat_cache, &sub);
	if (sub.ka_alloc == 0 && sub.ka_mem == 0)
		return (0);
	kmi_snprintf(total, sizeof (total), "Total [%s]", vmp->vm_name);
	kmi_printf(ka->ka_pr, ka->ka_arg, "%-25s %6s %9s %9s %12lu %12lu %5lu",
	    total, "", "", "", (unsigned long)sub.ka_mem,
	    (unsigned long)sub.ka_alloc, (unsigned long)sub.ka_fail);
	kmi_printf(ka->ka_pr, ka->ka_arg, "%s", "------------------------- "
	    "------ --------- --------- ------------ ------------ -----");
	ka->ka_mem += sub.ka_mem;
	ka->ka_alloc += sub.ka_alloc;
	ka->ka_fail += sub.ka_fail;
	return (0);
}

/* Print the ::kmastat table: caches grouped by arena, then the arenas. */
void
kmem_kmastat(void (*pr)(void *arg, const char *line), void *arg)
{
	kmastat_arg_t ka = { pr, arg, NULL, 0, 0, 0 };
	vmem_t *vmp;
	const char *rule = "------------------------- ------ --------- "
	    "--------- ------------ ------------ -----";

	kmi_printf(pr, arg, "%-25s %6s %9s %9s %12s %12s %5s", "cache", "buf",
	    "buf", "buf", "memory", "alloc", "alloc");
	kmi_printf(pr, arg, "%-25s %6s %9s %9s %12s %12s %5s", "name", "size",
	    "in use", "total", "in use", "succeed", "fail");
	kmi_printf(pr, arg, "%s", rule);
	/* Not under vmem_list_lock: the caches' locks come before it. */
	for (unsigned n = 0; (vmp = vmi_arena_nth(n)) != NULL; n++)
		(void) kmastat_arena(vmp, &ka);
	kmi_printf(pr, arg, "%-25s %6s %9s %9s %12lu %12lu %5lu", "Total", "",
	    "", "", (unsigned long)ka.ka_mem, (unsigned long)ka.ka_alloc,
	    (unsigned long)ka.ka_fail);
	kmi_printf(pr, arg, "%s", "");
	vmem_print(pr, arg);

	kmem_memstat_t ms;
	kmem_memstat(&ms);
	kmi_printf(pr, arg, "%s", "");
	kmi_printf(pr, arg, "memory budget (physmem) %14zu  reserve %12zu  "
	    "refused %lu", ms.ms_physmem, ms.ms_reserve,
	    (unsigned long)ms.ms_fail);
	kmi_printf(pr, arg, "mapped now %14zu  peak %14zu  in use %14zu",
	    ms.ms_mapped, ms.ms_peak, ms.ms_inuse);
	kmi_printf(pr, arg, "cached in free buffers %14zu  free in arenas %14zu",
	    ms.ms_cached, ms.ms_arena_free);
}

/*
 * The same data as JSON (kmem_cache_stat(9)): a row for every cache, in
 * creation order, with its arena; the arenas (vmem_print_json); the
 * memory.  The table's totals are sums of the rows.  Each cache is one
 * snapshot, as in the table.
 */
static int
kmastat_json_cache(kmem_cache_t *cp, void *arg)
{
	kmem_json_t *kj = arg;
	kmem_snapshot_t ks;

	kmem_snapshot(cp, &ks);
	kmi_json_row(kj, NULL);
	kmi_json_str(kj, "name", cp->cache_name);
	kmi_json_str(kj, "arena", cp->cache_arena->vm_name);
	kmi_json_u64(kj, "buf_size", cp->cache_bufsize);
	kmi_json_u64(kj, "buf_inuse", ks_inuse(&ks));
	kmi_json_u64(kj, "buf_total", ks.ks_buftotal);
	kmi_json_u64(kj, "memory_inuse", ks_memory(cp, &ks));
	kmi_json_u64(kj, "alloc", ks.ks_alloc);
	kmi_json_u64(kj, "alloc_fail", ks.ks_alloc_fail);
	kmi_json_close(kj);
	return (0);
}

static void
kmastat_json_memory(kmem_json_t *kj)
{
	kmem_memstat_t ms;

	kmem_memstat(&ms);
	kmi_json_row(kj, "memory");
	kmi_json_u64(kj, "physmem", ms.ms_physmem);
	kmi_json_u64(kj, "reserve", ms.ms_reserve);
	kmi_json_u64(kj, "mapped", ms.ms_mapped);
	kmi_json_u64(kj, "peak", ms.ms_peak);
	kmi_json_u64(kj, "inuse", ms.ms_inuse);
	kmi_json_u64(kj, "cached", ms.ms_cached);
	kmi_json_u64(kj, "arena_free", ms.ms_arena_free);
	kmi_json_u64(kj, "fail", ms.ms_fail);
	kmi_json_close(kj);
}

void
kmem_kmastat_json(void (*pr)(void *arg, const char *line), void *arg)
{
	kmem_json_t kj;

	kmi_json_begin(&kj, pr, arg, "kmastat");
	kmi_json_list(&kj, "caches");
	(void)kmem_cache_walk(kmastat_json_cache, &kj);
	kmi_json_close(&kj);
	vmi_json_arenas(&kj);
	kmastat_json_memory(&kj);
	kmi_json_end(&kj);
}
