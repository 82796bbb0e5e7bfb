/*
 * Start-up: kmem_init() builds the arenas and caches of every layer and
 * wires the layers together.
 *
 * Theory of operation
 * -------------------
 * What exists after each step.  kmem_init() runs these steps in order,
 * under kmem_init_lock; each uses only what the steps before it built.
 *  1. Options parsed (kmem_init(9)'s string, KMEM_DEBUG, KMEM_LOGGING).
 *  2. heap: the root arena, importing chunks of pages from the platform
 *     under the memory budget (vmem_pages.c), aligned as asked so that
 *     naturally aligned slabs waste nothing; it keeps spans that become
 *     free (VMC_RETAIN) unless noretain, and gives them back whenever an
 *     import fails, before anyone fails or waits.
 *     kmem_metadata: kmem's own structures, from heap, no quantum caches,
 *     so nothing below ever recurses into the caches.
 *  3. The cache of caches (static structure), then the slab and bufctl
 *     caches, the per-thread record cache and the magazine caches, all
 *     on kmem_metadata.
 *  4. vmem's hooks: from here on, arenas may have quantum caches (kmem
 *     caches) and an arena that runs dry makes kmem reclaim.
 *  5. kmem_default (every cache's slabs; quantum-cached) and
 *     kmem_oversize (kmem_alloc beyond the size classes), both importing
 *     from heap with the alignment their spans need.
 *  6. The debug layer's logs and firewall arena.
 *  7. The kmem_alloc_N caches, filled into the size tables.
 *  8. Magazines switched on; kmem is ready.
 *
 * Nothing sleeps during start-up: every allocation is KM_NOSLEEP_LAZY
 * (the cache layer allocates that way until kmem is ready), so a budget
 * too small to start makes kmem_init() return -1 at once.  A failed start
 * is undone step by step in reverse (kmem_init_undo()), and a later call
 * may try again.
 *
 * Who calls it.  A kernel calls kmem_init() once, before any allocation.
 * Hosted builds set kmem up on first use: the size tables point at a null
 * cache that sends the first kmem_alloc() here, malloc() does the same,
 * and kmem_cache_create() and a quantum-cached vmem_create() call it.
 * After the first successful start the host's fork handlers and the
 * periodic kmem_update() are registered, outside the lock (they may
 * allocate, through kmem when kmem is malloc).
 */
#include "init_impl.h"
#include "../debug/debug_impl.h"

/*
 * The flag namespaces' relations, which the layers rely on: kmem passes
 * its KM_ allocation flags straight to vmem (masked with VM_KMFLAGS), and
 * a cache's cflags carry KMC_ creation flags beside KMF_ debug flags.
 */
_Static_assert(KM_SLEEP == VM_SLEEP && KM_NOSLEEP == VM_NOSLEEP &&
    KM_PANIC == VM_PANIC && KM_PUSHPAGE == VM_PUSHPAGE &&
    KM_NORMALPRI == VM_NORMALPRI && KM_VMFLAGS == VM_KMFLAGS,
    "KM_ allocation flags are VM_ flags");
_Static_assert(((KMF_DEBUG | KMF_NOMAGAZINE | KMF_HASH) &
    (KMC_NOTOUCH | KMC_NODEBUG | KMC_NOMAGAZINE | KMC_NOHASH | KMC_QCACHE |
    KMC_KMEM_ALLOC | KMC_IDENTIFIER)) == 0,
    "KMF_ and KMC_ flags are disjoint");
_Static_assert(((VM_KMFLAGS | VM_BESTFIT | VM_FIRSTFIT | VM_NEXTFIT |
    VM_ENDALLOC) & (VMC_POPULATOR | VMC_NO_QCACHE | VMC_IDENTIFIER |
    VMC_XALLOC | VMC_XALIGN | VMC_RETAIN)) == 0,
    "VM_ allocation and VMC_ creation flags are disjoint");
_Static_assert(((KM_FLAGS | VM_KMFLAGS | VM_BESTFIT | VM_FIRSTFIT |
    VM_NEXTFIT | VM_ENDALLOC | VMC_POPULATOR | VMC_NO_QCACHE |
    VMC_IDENTIFIER | VMC_XALLOC | VMC_XALIGN | VMC_RETAIN) &
    KMI_POPULATE) == 0, "KMI_POPULATE is no public flag");

#define KMEM_DEFAULT_QCACHE_PAGES 8
#define KMEM_METADATA_IMPORT	(64 * 1024)

vmem_t *kmem_heap_arena;

static kmem_lock_t kmem_init_lock = KMEM_LOCK_INIT;
static bool kmem_host_started;		/* atfork handlers registered */

/* The options of kmem_init(9) other than the debug and log items. */
static struct {
	bool		nomagazines;
	bool		noretain;
	uint64_t	reap_interval;	/* seconds; 0: none */
	bool		from_environment; /* KMEM_OPTIONS, at lazy start */
} kmem_opt;

/* ---- vmem's quantum caches are kmem caches: the hooks vmem calls ---- */

static void *
qcache_create(const char *name, size_t size, size_t align, size_t slabsize,
    vmem_t *vmp)
{
	/* Under KMEM_DEBUG every free reaches the slab layer's checks. */
	int nomag = kmi_debug_flags != 0 ? KMC_NOMAGAZINE : 0;

	return (kmi_cache_create_slab(name, size, align, NULL, NULL, NULL, NULL,
	    vmp, KMC_QCACHE | KMC_NOTOUCH | nomag, slabsize));
}

static void *
qcache_alloc(void *cache, int vmflag)
{
	return (kmem_cache_alloc(cache, vmflag));
}

static void
qcache_free(void *cache, void *buf)
{
	kmem_cache_free(cache, buf);
}

static void
qcache_destroy(void *cache)
{
	kmem_cache_destroy(cache);
}

/* An arena ran dry: give back what caches hold (vmem_xalloc's reclaim). */
static void
hook_reclaim(int vmflag)
{
	if (kmem_load_acquire(&kmi_ready)) {
		kmi_large_flush(true);
		kmi_reclaim(vmflag);
	}
}

/* Someone waits for memory: every free goes to the slab layer. */
static void
hook_wait(bool begin)
{
	if (begin)
		kmi_large_flush(true);
	kmi_cpu_bypass(begin);
}

static const vmem_hooks_t kmem_vmem_hooks = {
	qcache_create, qcache_alloc, qcache_free, qcache_destroy,
	hook_reclaim, hook_wait, kmi_reclaiming,
};

static void
release_cb(void *arg, void *va, size_t size)
{
	(void)arg;
	kmem_plat_discard(va, size);
}

/*
 * Let the platform drop the pages behind free space in kmem's memory
 * arenas (hosted: madvise(MADV_DONTNEED)): the resident set shrinks while
 * the addresses stay ready for reuse.
 */
static void
release_free_pages(void)
{
	vmem_t *arenas[] = { kmem_default_arena, kmem_oversize_arena,
	    kmem_heap_arena };

	for (size_t i = 0; i < sizeof (arenas) / sizeof (arenas[0]); i++)
		if (arenas[i] != NULL)
			vmem_walk(arenas[i], VMEM_FREE, release_cb, NULL);
}

/* Reclaim everything, give the heap's free spans back, drop free pages. */
void
kmem_reap(void)
{
	if (!kmi_is_ready())
		return;		/* nothing to reap yet */
	kmi_large_flush(true);
	kmi_reclaim(KM_SLEEP);
	(void)vmem_release_spans(kmem_heap_arena);
	release_free_pages();
}

/*
 * The periodic update (every 15 seconds by default): the caches' working
 * sets and magazines, vmem's hash tables, and the pages of free space.
 */
void
kmem_update(void)
{
	if (!kmi_is_ready())
		return;
	kmi_cache_update_all();
	kmi_large_flush(false);
	vmem_update();
	release_free_pages();
}

/* ---- options ---- */

/*
 * A log named in the options string: "transaction_log[=size]" is
 * KMEM_LOGGING's "transaction[=size]" (the suffix keeps "contents" for
 * the debug item).
 */
static kmem_optres_t
kmem_option_log(const char *name, bool has_value, const char *value)
{
	char stem[KMEM_OPTION_LEN];
	size_t len = kmi_strlen(name);

	if (len <= 4 || kmi_strcmp(name + len - 4, "_log") != 0)
		return (KMEM_OPT_UNKNOWN);
	kmi_strlcpy(stem, name, len - 3);
	return (kmi_log_item(stem, has_value, value));
}

/*
 * One item of kmem_init()'s options: nomagazines, noretain, nohugepages,
 * nopopulate, physmem=SIZE,
 * reap_interval=SECONDS, a KMEM_DEBUG item, a log, or a report's
 * (atexit=, report_signal=).
 */
static kmem_optres_t
kmem_option_item(const char *name, bool has_value, const char *value)
{
	uint64_t num;

	if (kmi_strcmp(name, "nomagazines") == 0 ||
	    kmi_strcmp(name, "noretain") == 0 ||
	    kmi_strcmp(name, "nohugepages") == 0 ||
	    kmi_strcmp(name, "nopopulate") == 0) {
		if (has_value)
			return (KMEM_OPT_NO_VALUE);
		if (name[2] == 'm')
			kmem_opt.nomagazines = true;
		else if (name[2] == 'r')
			kmem_opt.noretain = true;
		else if (name[2] == 'p')
			vmi_pages_set_populate(false);
		else
			kmi_large_hugepages = false;
	} else if (kmi_strcmp(name, "physmem") == 0) {
		if (!has_value)
			return (KMEM_OPT_NEEDS_VALUE);
		if (!kmi_parse_size(value, &num) || num == 0 ||
		    num > SIZE_MAX)
			return (KMEM_OPT_BAD_VALUE);
		vmi_pages_set_budget((size_t)num, !kmem_opt.from_environment);
	} else if (kmi_strcmp(name, "reap_interval") == 0) {
		if (!has_value)
			return (KMEM_OPT_NEEDS_VALUE);
		if (!kmi_parse_size(value, &num))
			return (KMEM_OPT_BAD_VALUE);
		kmem_opt.reap_interval = num;
	} else {
		kmem_optres_t res = kmi_debug_item(name, has_value, value);
		if (res == KMEM_OPT_UNKNOWN)
			res = kmem_option_log(name, has_value, value);
		return (res != KMEM_OPT_UNKNOWN ? res :
		    kmi_report_item(name, has_value, value));
	}
	return (KMEM_OPT_OK);
}

/* ---- start-up and its undoing ---- */

static kmem_cache_t *
internal_cache(const char *name, size_t size, size_t align, int cflags)
{
	return (kmi_cache_create_slab(name, size, align, NULL, NULL, NULL,
	    NULL, kmem_metadata_arena, cflags | KMC_NODEBUG, 0));
}

static void
destroy_cache(kmem_cache_t **cpp)
{
	if (*cpp != NULL)
		kmem_cache_destroy(*cpp);
	*cpp = NULL;
}

static void
destroy_arena(vmem_t **vmpp)
{
	if (*vmpp != NULL)
		vmem_destroy(*vmpp);
	*vmpp = NULL;
}

/* Undo whatever steps of kmem_init_locked() were done, in reverse. */
static void
kmem_init_undo(void)
{
	kmi_alloc_caches_destroy();
	destroy_arena(&kmem_oversize_arena);
	destroy_arena(&kmem_default_arena);
	kmi_debug_fini();
	for (int i = kmi_nmagtype - 1; i >= 0; i--)
		destroy_cache(&kmi_magtype[i].mt_cache);
	destroy_cache(&kmi_cpu_record_cache);
	destroy_cache(&kmi_bufctl_cache);
	destroy_cache(&kmi_slab_cache);
	kmi_cache_unbootstrap();
	kmi_cpu_index_fini();
	vmi_hooks_set(NULL);
	destroy_arena(&kmem_hash_arena);
	destroy_arena(&kmem_metadata_arena);
	destroy_arena(&kmem_heap_arena);
}

static int
kmem_init_locked(const char *options, const char *source)
{
	size_t page = kmem_plat_pagesize();

	kmem_opt.nomagazines = kmem_opt.noretain = false;
	kmi_large_hugepages = true;
	vmi_pages_set_populate(true);
	kmem_opt.reap_interval = 15;
	kmem_opt.from_environment = kmi_strcmp(source, "KMEM_OPTIONS") == 0;
	kmi_report_options_begin(source);
	kmi_option_each(options, source, kmem_option_item);
	kmi_debug_parse(kmem_plat_debug_options());
	kmi_log_parse(kmem_plat_logging_options());
	int nomag = kmem_opt.nomagazines ? KMC_NOMAGAZINE : 0;

	kmem_heap_arena = vmem_xcreate("heap", NULL, 0, page,
	    vmi_pages_import, vmi_pages_release, NULL, 0, VMC_XALIGN |
	    (kmem_opt.noretain ? 0 : VMC_RETAIN));
	if (kmem_heap_arena == NULL)
		return (-1);
	kmem_metadata_arena = vmem_create("kmem_metadata", NULL, 0, page,
	    vmem_alloc, vmem_free, kmem_heap_arena, 0, VMC_NO_QCACHE);
	if (kmem_heap_arena == NULL || kmem_metadata_arena == NULL)
		return (-1);
	/* Metadata in runs of pages, not one page in every chunk of heap. */
	kmem_metadata_arena->vm_min_import = KMEM_METADATA_IMPORT;
	kmem_hash_arena = vmem_create("kmem_hash", NULL, 0, KMEM_CACHE_LINE,
	    vmem_alloc, vmem_free, kmem_metadata_arena, 0, VMC_NO_QCACHE);
	if (kmem_hash_arena == NULL)
		return (-1);
	kmi_cache_bootstrap();
	/* kmem's own caches are never guarded: they are not clients'. */
	kmi_slab_cache = internal_cache("kmem_slab_cache",
	    sizeof (kmem_slab_t), 0, nomag);
	kmi_bufctl_cache = internal_cache("kmem_bufctl_cache",
	    sizeof (kmem_bufctl_t), 0, nomag);
	kmi_cpu_record_cache = internal_cache("kmem_cpu_cache",
	    sizeof (kmem_cpu_t), 2 * KMEM_CACHE_LINE, KMC_NOMAGAZINE);
	if (kmi_slab_cache == NULL || kmi_bufctl_cache == NULL ||
	    kmi_cpu_record_cache == NULL)
		return (-1);
	for (int i = 0; i < kmi_nmagtype; i++) {
		kmem_magtype_t *mtp = &kmi_magtype[i];
		char name[KMEM_CACHE_NAMELEN + 1];
		kmi_snprintf(name, sizeof (name), "kmem_magazine_%d",
		    mtp->mt_magsize);
		mtp->mt_cache = internal_cache(name,
		    (size_t)(mtp->mt_magsize + 2) * sizeof (void *),
		    mtp->mt_align, KMC_NOHASH | KMC_NOMAGAZINE);
		if (mtp->mt_cache == NULL)
			return (-1);
	}
	vmi_hooks_set(&kmem_vmem_hooks);
	kmem_default_arena = vmem_xcreate("kmem_default", NULL, 0, page,
	    vmi_xalloc_import, vmem_xfree, kmem_heap_arena,
	    KMEM_DEFAULT_QCACHE_PAGES * page, VMC_XALIGN);
	kmem_oversize_arena = vmem_xcreate("kmem_oversize", NULL, 0, page,
	    vmi_xalloc_import, vmem_xfree, kmem_heap_arena, 0, VMC_XALIGN);
	if (kmem_default_arena == NULL || kmem_oversize_arena == NULL ||
	    kmi_debug_init() != 0 ||
	    kmi_alloc_caches_create(nomag) != 0)
		return (-1);
	kmi_cpu_enabled = !kmem_opt.nomagazines;
	return (0);
}

/*
 * fork(2): every kmem and vmem lock is taken before, in lock order, so the
 * child starts from consistent structures; the parent releases them; the
 * child re-initialises them and keeps only its own per-thread record.  The
 * child gets no maintenance thread: creating threads in the child of a
 * multi-threaded process is not allowed before exec; it still reclaims
 * under pressure and when it calls kmem_reap() or kmem_update().
 */
static void
kmem_fork_prepare(void)
{
	kmem_lock_enter(&kmem_init_lock);
	kmi_cache_fork(VMEM_FORK_PREPARE);
	vmi_fork(VMEM_FORK_PREPARE);
	kmi_log_fork(VMEM_FORK_PREPARE);
	kmi_large_fork(VMEM_FORK_PREPARE);
}

static void
kmem_fork_parent(void)
{
	kmi_large_fork(VMEM_FORK_PARENT);
	kmi_log_fork(VMEM_FORK_PARENT);
	vmi_fork(VMEM_FORK_PARENT);
	kmi_cache_fork(VMEM_FORK_PARENT);
	kmem_lock_exit(&kmem_init_lock);
}

static void
kmem_fork_child(void)
{
	kmi_large_fork(VMEM_FORK_CHILD);
	kmi_log_fork(VMEM_FORK_CHILD);
	vmi_fork(VMEM_FORK_CHILD);
	kmi_cache_fork(VMEM_FORK_CHILD);
	kmem_lock_init(&kmem_init_lock);
}

/*
 * Every kmem and vmem lock, taken in order as fork(2)'s prepare takes
 * them, for a reader that must see still structures (kmem_findleaks()).
 */
void
kmi_world_lock(void)
{
	kmem_fork_prepare();
}

void
kmi_world_unlock(void)
{
	kmem_fork_parent();
}

/* A failed start: say why (once) when the budget is the reason. */
static void
kmem_init_failed(void)
{
	static bool warned;
	size_t budget, reserve, mapped, peak;
	uint64_t refused;

	if (warned)
		return;
	warned = true;
	vmi_pages_stat(&budget, &reserve, &mapped, &peak, &refused);
	if (!vmi_pages_within_budget(mapped + VMEM_PAGES_CHUNK, 0))
		kmi_warn("kmem_init: the memory budget (physmem=%zu) is too "
		    "small for kmem to start", budget);
	else
		kmi_warn("kmem_init: no memory for kmem's own structures");
}

/*
 * Set kmem up.  options is a comma-separated list (see kmem_init(9));
 * NULL means the platform's (KMEM_OPTIONS in hosted builds).  Returns 0,
 * or -1, with nothing left behind, if memory for kmem's own structures
 * could not be had.
 */
int
kmem_init(const char *options)
{
	int rc = 0;

	kmem_lock_enter(&kmem_init_lock);
	if (!kmem_load_acquire(&kmi_ready)) {
		rc = options != NULL ? kmem_init_locked(options, "kmem_init") :
		    kmem_init_locked(kmem_plat_options(), "KMEM_OPTIONS");
		if (rc == 0) {
			kmem_store_release(&kmi_ready, true);
		} else {
			kmem_init_failed();
			kmem_init_undo();
		}
	}
	bool first = rc == 0 && !kmem_host_started;
	kmem_host_started |= first;
	bool start = first && kmem_opt.reap_interval != 0;
	kmem_lock_exit(&kmem_init_lock);
	/* After the lock: these may allocate (through kmem, as malloc). */
	if (first)
		kmem_plat_atfork(kmem_fork_prepare, kmem_fork_parent,
		    kmem_fork_child);
	if (start)
		(void)kmem_plat_periodic(kmem_update,
		    kmem_opt.reap_interval * 1000000000u);
	if (first)
		kmi_report_start();
	return (rc);
}
