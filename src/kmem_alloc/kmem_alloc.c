/*
 * kmem_alloc: general-purpose allocation on top of object caches.
 *
 * Theory of operation
 * -------------------
 * Size classes.  kmem_alloc(size) is served by the cache kmem_alloc_N for
 * the smallest class N >= size (the illumos tables: 8-byte steps at first,
 * then classes spaced so that internal fragmentation stays under about
 * 12.5%, up to 4096; then 8K, 12K, 16K and 8K steps up to 128K), and
 * beyond illumos, classes every 1/8 of a power of two up to 1 MiB: a large
 * buffer freed and requested again comes back from a magazine, with its
 * pages already faulted in, instead of from the oversize arena's lock and
 * fresh pages (4x faster and a third of the memory on the malloc suite's
 * mixed workload).  Two lookup tables indexed by (size-1) >> 3 and
 * (size-1) >> 12 find the cache in constant time.  Larger requests go to
 * the kmem_oversize arena.  The
 * caller passes the size to kmem_free(), so no header is needed and a
 * buffer's cache is found from the size alone.
 *
 * Alignment.  Every class is aligned to its largest power-of-two divisor,
 * at most 64 bytes for classes that are not powers of two: at least
 * 8 bytes (double word), 16 for every multiple of 16, and power-of-two
 * classes are naturally aligned (a 4096-byte buffer on a 4096 boundary).
 *
 * Arenas.  heap (the root, importing from the platform in chunks of
 * KMEM_HEAP_CHUNK, and keeping free spans unless noretain) feeds kmem_metadata (kmem's own structures, no quantum
 * caches, so bootstrap never recurses), kmem_default (slabs of every
 * cache, quantum-cached up to 8 pages, so most slab allocations never take
 * the arena lock), and kmem_oversize.
 *
 * Start-up.  kmem_init() builds the arenas and the internal caches in
 * dependency order: metadata arena, the cache of caches (static), slab and
 * bufctl caches, magazine caches, then the quantum-cached default arena and
 * the kmem_alloc_N caches.  Magazines are switched on last.  Hosted builds
 * call it on first use with the platform's option string; a kernel calls it
 * explicitly.  Initialisation is serialised by kmem_init_lock.
 */
#include "../magazine/magazine_impl.h"
#include "../debug/debug_impl.h"

#define KMEM_HEAP_CHUNK		(1024 * 1024)
#define KMEM_DEFAULT_QCACHE_PAGES 8

vmem_t *kmem_default_arena;
vmem_t *kmem_oversize_arena;
vmem_t *kmem_heap_arena;

static const size_t kmem_alloc_sizes[] = {
	8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256,
	320, 384, 448, 512, 640, 768, 896, 1152, 1344, 1600, 2048, 2688, 4096,
};
static const size_t kmem_big_alloc_sizes[] = {
	8192, 12288, 16384, 24576, 32768, 40960, 49152, 57344, 65536, 73728,
	81920, 90112, 98304, 106496, 114688, 122880, 131072,
	163840, 196608, 229376, 262144,			/* beyond illumos */
	327680, 393216, 458752, 524288, 655360, 786432, 917504, 1048576,
};

/*
 * Until kmem_init() fills them, the size tables point at the null cache:
 * it has no per-CPU slot, so the fast path always misses into
 * kmem_alloc_miss(), which sets kmem up (libumem's trick) -- the fast path
 * never tests whether kmem is initialised.
 */
static kmem_cache_t kmem_null_cache;
#define NULL4	&kmem_null_cache, &kmem_null_cache, &kmem_null_cache, \
		&kmem_null_cache
#define NULL16	NULL4, NULL4, NULL4, NULL4
#define NULL32	NULL16, NULL16
kmem_cache_t *kmem_alloc_table[KMEM_ALLOC_SMALL_MAX >> 3] = {
	NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32,
	NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32,
};
kmem_cache_t *kmem_big_alloc_table[KMEM_BIG_MAXBUF >> 12] = {
	NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32,
};

static kmem_lock_t kmem_init_lock = KMEM_LOCK_INIT;
static bool kmem_ready;
static bool kmem_opt_nomagazines;
static uint64_t kmem_opt_reap_interval = 15;	/* seconds; 0: none */
static bool kmem_opt_noretain;
static bool kmem_periodic_started;
static bool kmem_host_started;		/* atfork handlers registered */

/* ---- the root arena's import from the platform ---- */

/* Chunks of at least KMEM_HEAP_CHUNK, or exactly what fits the budget. */
static void *
heap_import(vmem_t *src, size_t *sizep, size_t align, int vmflag)
{
	size_t page = kmem_plat_pagesize();
	size_t size = P2ROUNDUP(kmem_max(*sizep, KMEM_HEAP_CHUNK), page);

	(void)src;
	(void)align;
	void *va = vmem_pages_map(size, vmflag);
	if (va == NULL && size > P2ROUNDUP(*sizep, page)) {
		size = P2ROUNDUP(*sizep, page);
		va = vmem_pages_map(size, vmflag);
	}
	if (va != NULL)
		*sizep = size;
	return (va);
}

static void
heap_release(vmem_t *src, void *va, size_t size)
{
	(void)src;
	vmem_pages_unmap(va, size);
}

static void
release_cb(void *arg, void *va, size_t size)
{
	(void)arg;
	kmem_plat_discard(va, size);
}

/*
 * Let the platform drop the pages behind free space in kmem's memory
 * arenas (hosted: madvise(MADV_DONTNEED)): the resident set shrinks while
 * the addresses stay ready for reuse.  Whole free spans of the heap have
 * already gone back (munmap) when they became free.
 */
void
kmem_release_free_pages(void)
{
	vmem_t *arenas[] = { kmem_default_arena, kmem_oversize_arena,
	    kmem_heap_arena };

	for (size_t i = 0; i < sizeof (arenas) / sizeof (arenas[0]); i++)
		if (arenas[i] != NULL)
			vmem_walk(arenas[i], VMEM_FREE, release_cb, NULL);
}

/* ---- vmem's quantum caches are kmem caches: the hooks vmem calls ---- */

static void *
qcache_create(const char *name, size_t size, size_t align, size_t slabsize,
    vmem_t *vmp)
{
	return (kmem_cache_create_slab(name, size, align, NULL, NULL, NULL, NULL,
	    vmp, KMC_QCACHE | KMC_NOTOUCH, slabsize));
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
	if (kmem_load_acquire(&kmem_ready))
		kmem_reclaim(vmflag);
}

/* Someone waits for memory: every free goes to the slab layer. */
static void
hook_wait(bool begin)
{
	kmem_cpu_bypass(begin);
}

static const vmem_hooks_t kmem_vmem_hooks = {
	qcache_create, qcache_alloc, qcache_free, qcache_destroy,
	hook_reclaim, hook_wait,
};

/* ---- options ---- */

/*
 * A log named in the options string: "transaction_log[=size]" is
 * KMEM_LOGGING's "transaction[=size]" (the suffix keeps "contents" for
 * the debug item).
 */
static bool
kmem_option_log(const char *name, bool has_value, const char *value)
{
	char stem[KMEM_OPTION_LEN];
	size_t len = kmem_strlen(name);

	if (len <= 4 || kmem_strcmp(name + len - 4, "_log") != 0)
		return (false);
	kmem_strlcpy(stem, name, len - 3);
	return (kmem_log_item(stem, has_value, value));
}

/*
 * One item of kmem_init()'s options: nomagazines, noretain, physmem=SIZE,
 * reap_interval=SECONDS, or a KMEM_DEBUG item, or a log.  Bad values are
 * reported and ignored.
 */
static bool
kmem_option_item(const char *name, bool has_value, const char *value)
{
	uint64_t num;

	if (kmem_strcmp(name, "nomagazines") == 0 && !has_value) {
		kmem_opt_nomagazines = true;
	} else if (kmem_strcmp(name, "noretain") == 0 && !has_value) {
		kmem_opt_noretain = true;
	} else if (kmem_strcmp(name, "physmem") == 0) {
		if (has_value && kmem_parse_size(value, &num) && num != 0)
			(void)kmem_physmem_set((size_t)num);
		else
			kmem_warn("option physmem: '%s' is not a size", value);
	} else if (kmem_strcmp(name, "reap_interval") == 0) {
		if (has_value && kmem_parse_size(value, &num))
			kmem_opt_reap_interval = num;
		else
			kmem_warn("option reap_interval: '%s' is not a number",
			    value);
	} else {
		return (kmem_debug_item(name, has_value, value) ||
		    kmem_option_log(name, has_value, value));
	}
	return (true);
}

/* ---- start-up ---- */

static int
kmem_alloc_caches_create(void)
{
	size_t prev = 0;

	for (size_t i = 0; i < sizeof (kmem_alloc_sizes) / sizeof (size_t) +
	    sizeof (kmem_big_alloc_sizes) / sizeof (size_t); i++) {
		size_t nsmall = sizeof (kmem_alloc_sizes) / sizeof (size_t);
		size_t size = i < nsmall ? kmem_alloc_sizes[i] :
		    kmem_big_alloc_sizes[i - nsmall];
		size_t align = (size_t)1 << (lowbit(size) - 1);
		char name[KMEM_CACHE_NAMELEN + 1];

		if (!IS_P2(size) && align > 64)
			align = 64;
		kmem_snprintf(name, sizeof (name), "kmem_alloc_%zu", size);
		kmem_cache_t *cp = kmem_cache_create_slab(name, size, align,
		    NULL, NULL, NULL, NULL, kmem_default_arena,
		    KMC_KMEM_ALLOC | (kmem_opt_nomagazines ? KMC_NOMAGAZINE : 0),
		    0);
		if (cp == NULL)
			return (-1);
		if (size <= KMEM_ALLOC_SMALL_MAX) {
			for (size_t s = prev; s < size; s += 8)
				kmem_store_release(&kmem_alloc_table[s >> 3], cp);
		} else {
			for (size_t s = kmem_max(prev, KMEM_ALLOC_SMALL_MAX);
			    s < size; s += 4096)
				kmem_store_release(&kmem_big_alloc_table[s >> 12],
				    cp);
		}
		prev = size;
	}
	return (0);
}

static int
kmem_init_locked(const char *options)
{
	size_t page = kmem_plat_pagesize();
	int nomag = 0;

	kmem_option_each(options, "kmem options", kmem_option_item);
	kmem_debug_parse(kmem_plat_debug_options());
	kmem_log_parse(kmem_plat_logging_options());
	if (kmem_opt_nomagazines)
		nomag = KMC_NOMAGAZINE;
	/*
	 * The heap keeps spans that become free (VMC_RETAIN): a large buffer
	 * freed and asked for again reuses its pages instead of faulting in
	 * new ones.  kmem_update() hands the physical pages of idle space
	 * back (kmem_release_free_pages()); kmem_reap() unmaps the free
	 * spans too.  noretain unmaps them at once.
	 */
	kmem_heap_arena = vmem_xcreate("heap", NULL, 0, page, heap_import,
	    heap_release, NULL, 0, VM_SLEEP |
	    (kmem_opt_noretain ? 0 : VMC_RETAIN));
	kmem_metadata_arena = vmem_create("kmem_metadata", NULL, 0, page,
	    vmem_alloc, vmem_free, kmem_heap_arena, 0, VMC_NO_QCACHE);
	if (kmem_heap_arena == NULL || kmem_metadata_arena == NULL)
		return (-1);
	kmem_cache_bootstrap();
	/* kmem's own caches are never guarded: they are not clients'. */
	kmem_slab_cache = kmem_cache_create_slab("kmem_slab_cache",
	    sizeof (kmem_slab_t), 0, NULL, NULL, NULL, NULL,
	    kmem_metadata_arena, nomag | KMC_NODEBUG, 0);
	kmem_bufctl_cache = kmem_cache_create_slab("kmem_bufctl_cache",
	    sizeof (kmem_bufctl_t), 0, NULL, NULL, NULL, NULL,
	    kmem_metadata_arena, nomag | KMC_NODEBUG, 0);
	kmem_cpu_record_cache = kmem_cache_create_slab("kmem_cpu_cache",
	    sizeof (kmem_cpu_t), KMEM_CACHE_LINE, NULL, NULL, NULL, NULL,
	    kmem_metadata_arena, KMC_NOMAGAZINE | KMC_NODEBUG, 0);
	if (kmem_slab_cache == NULL || kmem_bufctl_cache == NULL ||
	    kmem_cpu_record_cache == NULL)
		return (-1);
	for (int i = 0; i < kmem_nmagtype; i++) {
		kmem_magtype_t *mtp = &kmem_magtype[i];
		char name[KMEM_CACHE_NAMELEN + 1];
		kmem_snprintf(name, sizeof (name), "kmem_magazine_%d",
		    mtp->mt_magsize);
		mtp->mt_cache = kmem_cache_create_slab(name,
		    (size_t)(mtp->mt_magsize + 2) * sizeof (void *),
		    mtp->mt_align, NULL, NULL, NULL, NULL, kmem_metadata_arena,
		    KMC_NOHASH | KMC_NOMAGAZINE | KMC_NODEBUG, 0);
		if (mtp->mt_cache == NULL)
			return (-1);
	}
	vmem_hooks_set(&kmem_vmem_hooks);
	kmem_default_arena = vmem_create("kmem_default", NULL, 0, page,
	    vmem_alloc, vmem_free, kmem_heap_arena,
	    KMEM_DEFAULT_QCACHE_PAGES * page, VM_SLEEP);
	kmem_oversize_arena = vmem_create("kmem_oversize", NULL, 0, page,
	    vmem_alloc, vmem_free, kmem_heap_arena, 0, VM_SLEEP);
	if (kmem_default_arena == NULL || kmem_oversize_arena == NULL ||
	    kmem_debug_init() != 0 || kmem_alloc_caches_create() != 0)
		return (-1);
	kmem_cpu_enabled = !kmem_opt_nomagazines;
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
	kmem_cache_fork(VMEM_FORK_PREPARE);
	vmem_fork(VMEM_FORK_PREPARE);
	kmem_log_fork(VMEM_FORK_PREPARE);
}

static void
kmem_fork_parent(void)
{
	kmem_log_fork(VMEM_FORK_PARENT);
	vmem_fork(VMEM_FORK_PARENT);
	kmem_cache_fork(VMEM_FORK_PARENT);
	kmem_lock_exit(&kmem_init_lock);
}

static void
kmem_fork_child(void)
{
	kmem_log_fork(VMEM_FORK_CHILD);
	vmem_fork(VMEM_FORK_CHILD);
	kmem_cache_fork(VMEM_FORK_CHILD);
	kmem_lock_init(&kmem_init_lock);
}

/*
 * Set kmem up.  options is a comma-separated list (see kmem_init(9));
 * NULL means the platform's (KMEM_OPTIONS in hosted builds).  Returns 0,
 * or -1 if memory for kmem's own structures could not be had.
 */
int
kmem_init(const char *options)
{
	int rc = 0;

	kmem_lock_enter(&kmem_init_lock);
	if (!kmem_load_acquire(&kmem_ready)) {
		rc = kmem_init_locked(options != NULL ? options :
		    kmem_plat_options());
		if (rc == 0)
			kmem_store_release(&kmem_ready, true);
	}
	bool first = rc == 0 && !kmem_host_started;
	kmem_host_started |= first;
	bool start = first && kmem_opt_reap_interval != 0;
	kmem_periodic_started |= start;
	kmem_lock_exit(&kmem_init_lock);
	/* After the lock: these may allocate (through kmem, as malloc). */
	if (first)
		kmem_plat_atfork(kmem_fork_prepare, kmem_fork_parent,
		    kmem_fork_child);
	if (start)
		(void)kmem_plat_periodic(kmem_update,
		    kmem_opt_reap_interval * 1000000000u);
	return (rc);
}

bool
kmem_is_ready(void)
{
	return (kmem_load_acquire(&kmem_ready));
}

_Static_assert(sizeof (kmem_alloc_table) == 512 * sizeof (void *) &&
    sizeof (kmem_big_alloc_table) == 256 * sizeof (void *),
    "size tables are fully initialised");

/* The fast path missed, or kmem is not set up yet. */
static KMEM_NOINLINE void *
kmem_alloc_miss(kmem_cache_t *cp, size_t size, int kmflag)
{
	if (cp == &kmem_null_cache) {
		if (kmem_init(NULL) != 0)
			return (NULL);
		return (kmem_alloc(size, kmflag));
	}
	void *buf = kmem_cache_alloc_slow(cp, kmflag);
	if (buf != NULL && (cp->cache_flags & KMF_BUFTAG))
		kmem_debug_alloc_size(cp, buf, size);
	return (buf);
}

static KMEM_NOINLINE void *
kmem_alloc_oversize(size_t size, int kmflag)
{
	if (size == 0)
		return (NULL);
	if (!kmem_load_acquire(&kmem_ready) && kmem_init(NULL) != 0)
		return (NULL);
	void *buf = vmem_alloc(kmem_oversize_arena, size, kmflag & VM_KMFLAGS);
	if (buf == NULL && (kmflag & KM_PANIC))
		kmem_panic("kmem_alloc(%zu): cannot satisfy mandatory "
		    "allocation", size);
	if (buf == NULL)
		kmem_debug_alloc_failed(NULL, "kmem_oversize", size);
	return (buf);
}

void *
kmem_alloc(size_t size, int kmflag)
{
	size_t index = size - 1;	/* size 0 wraps: oversize, NULL */
	kmem_cache_t *cp;
	void *buf;

	if (KMEM_LIKELY(index < KMEM_ALLOC_SMALL_MAX))
		cp = kmem_load_acquire(&kmem_alloc_table[index >> 3]);
	else if ((cp = kmem_alloc_cache_big(index)) == NULL)
		return (kmem_alloc_oversize(size, kmflag));
	if (KMEM_LIKELY(kmem_magazine_alloc(cp, &buf)))
		return (buf);
	return (kmem_alloc_miss(cp, size, kmflag));
}

void *
kmem_zalloc(size_t size, int kmflag)
{
	void *buf = kmem_alloc(size, kmflag);

	if (buf != NULL)
		memset(buf, 0, size);
	return (buf);
}

static KMEM_NOINLINE void
kmem_free_miss(kmem_cache_t *cp, void *buf, size_t size)
{
	if (cp == NULL) {
		if (size == 0)
			kmem_panic("kmem_free(%p, 0): bad free: size 0", buf);
		vmem_free(kmem_oversize_arena, buf, size);
		return;
	}
	if (cp == &kmem_null_cache)
		kmem_panic("kmem_free(%p, %zu): invalid free: kmem is not "
		    "initialised", buf, size);
	if (cp->cache_flags & KMF_BUFTAG)
		kmem_debug_free_size(cp, buf, size);
	kmem_cache_free_slow(cp, buf);
}

void
kmem_free(void *buf, size_t size)
{
	size_t index = size - 1;
	kmem_cache_t *cp;

	if (buf == NULL)
		return;
	if (KMEM_LIKELY(index < KMEM_ALLOC_SMALL_MAX))
		cp = kmem_load_acquire(&kmem_alloc_table[index >> 3]);
	else if ((cp = kmem_alloc_cache_big(index)) == NULL)
		goto miss;
	if (KMEM_LIKELY(kmem_magazine_free(cp, buf)))
		return;
miss:
	kmem_free_miss(cp, buf, size);
}
