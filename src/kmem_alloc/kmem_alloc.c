/*
 * kmem_alloc: general-purpose allocation on top of object caches.
 *
 * Theory of operation
 * -------------------
 * Size classes.  kmem_alloc(size) is served by the cache kmem_alloc_N for
 * the smallest class N >= size (the illumos tables: 8-byte steps at first,
 * then classes spaced so that internal fragmentation stays under about
 * 12.5%, up to 4096, with 1024 added: a kilobyte came from kmem_alloc_1152,
 * 128-byte aligned; then 8K, 12K, 16K and 8K steps up to 128K), and
 * beyond illumos, 3072 and 5120-7168 (a request of 2.7 to 8 KiB wasted a
 * quarter of its buffer on average) and classes every 1/8 of a power of
 * two up to 1 MiB: a large
 * buffer freed and requested again comes back from a magazine, with its
 * pages already faulted in, instead of from the oversize arena's lock and
 * fresh pages (4x faster and a third of the memory on the malloc suite's
 * mixed workload).  Two lookup tables indexed by (size-1) >> 3 and
 * (size-1) >> 10 find the cache in constant time; a third, derived from
 * the first and indexed by (size+15) >> 4, gives faces that round sizes
 * to 16 bytes (malloc(3)'s alignment) the class of a size up to 4096 in
 * one step, size 0 included.  Larger requests go to the kmem_oversize
 * arena.  The caller passes the size to kmem_free(), so no header is
 * needed and a buffer's cache is found from the size alone.
 *
 * Alignment.  Every class is aligned to its largest power-of-two divisor,
 * at most 64 bytes for classes that are not powers of two: at least
 * 8 bytes (double word), 16 for every multiple of 16, and power-of-two
 * classes are naturally aligned (a 4096-byte buffer on a 4096 boundary).
 *
 * Arenas and start-up are src/init/'s: the caches here take their slabs
 * from kmem_default, and requests beyond the classes go to kmem_oversize.
 */
#include "kmem_alloc_impl.h"
#include "../debug/debug_impl.h"

static const size_t kmem_alloc_sizes[] = {
	8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256,
	320, 384, 448, 512, 640, 768, 896, 1024, 1152, 1344, 1600, 2048, 2688,
	3072, 4096,
};
static const size_t kmem_big_alloc_sizes[] = {
	5120, 6144, 7168,				/* beyond illumos */
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
/* Set by start-up (init.c): where requests past the classes go. */
vmem_t *kmem_oversize_arena;

static kmem_cache_t kmem_null_cache;
#define NULL4	&kmem_null_cache, &kmem_null_cache, &kmem_null_cache, \
		&kmem_null_cache
#define NULL16	NULL4, NULL4, NULL4, NULL4
#define NULL32	NULL16, NULL16
kmem_cache_t *kmem_alloc_table[KMEM_ALLOC_SMALL_MAX >> 3] = {
	NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32,
	NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32,
};
kmem_cache_t *kmem_big_alloc_table[KMEM_BIG_MAXBUF >> 10] = {
	NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32,
	NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32,
	NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32,
	NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32,
};
kmem_cache_t *kmi_alloc_table16[KMEM_ALLOC_SMALL_MAX / 16 + 1] = {
	NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32, NULL32,
	&kmem_null_cache,
};

#define NCLASSES	(sizeof (kmem_alloc_sizes) / sizeof (size_t) + \
			sizeof (kmem_big_alloc_sizes) / sizeof (size_t))

static size_t
class_size(size_t i)
{
	size_t nsmall = sizeof (kmem_alloc_sizes) / sizeof (size_t);

	return (i < nsmall ? kmem_alloc_sizes[i] :
	    kmem_big_alloc_sizes[i - nsmall]);
}

/* The kmem_alloc_N caches, into the size tables (kmem_init()). */
int
kmi_alloc_caches_create(int cflags)
{
	size_t prev = 0;

	for (size_t i = 0; i < NCLASSES; i++) {
		size_t size = class_size(i);
		size_t align = (size_t)1 << (lowbit(size) - 1);
		char name[KMEM_CACHE_NAMELEN + 1];

		if (!IS_P2(size) && align > 64)
			align = 64;
		kmi_snprintf(name, sizeof (name), "kmem_alloc_%zu", size);
		kmem_cache_t *cp = kmi_cache_create_slab(name, size, align,
		    NULL, NULL, NULL, NULL, kmem_default_arena,
		    KMC_KMEM_ALLOC | cflags, 0);
		if (cp == NULL)
			return (-1);
		cp->cache_class = (uint32_t)i + 1;
		if (size <= KMEM_ALLOC_SMALL_MAX) {
			for (size_t s = prev; s < size; s += 8)
				kmem_store_release(&kmem_alloc_table[s >> 3], cp);
		} else {
			for (size_t s = kmem_max(prev, KMEM_ALLOC_SMALL_MAX);
			    s < size; s += 1024)
				kmem_store_release(&kmem_big_alloc_table[s >> 10],
				    cp);
		}
		prev = size;
	}
	/* The class of each multiple of 16 (of 16 for size 0). */
	for (size_t i = 0; i <= KMEM_ALLOC_SMALL_MAX / 16; i++)
		kmem_store_release(&kmi_alloc_table16[i],
		    kmem_alloc_class(kmem_max(16 * i, (size_t)16)));
	return (0);
}

static void
table_forget(kmem_cache_t **table, size_t n, kmem_cache_t *cp)
{
	for (size_t i = 0; i < n; i++)
		if (table[i] == cp)
			kmem_store_release(&table[i], &kmem_null_cache);
}

/* Undo kmi_alloc_caches_create(), whatever part of it was done. */
void
kmi_alloc_caches_destroy(void)
{
	for (size_t i = NCLASSES; i-- > 0; ) {
		kmem_cache_t *cp = kmem_alloc_class(class_size(i));
		if (cp == &kmem_null_cache)
			continue;
		table_forget(kmem_alloc_table, KMEM_ALLOC_SMALL_MAX >> 3, cp);
		table_forget(kmi_alloc_table16, KMEM_ALLOC_SMALL_MAX / 16 + 1,
		    cp);
		table_forget(kmem_big_alloc_table, KMEM_BIG_MAXBUF >> 10, cp);
		kmem_cache_destroy(cp);
	}
}

_Static_assert(sizeof (kmem_alloc_table) == 512 * sizeof (void *) &&
    sizeof (kmem_big_alloc_table) == 1024 * sizeof (void *) &&
    sizeof (kmi_alloc_table16) == 257 * sizeof (void *),
    "size tables are fully initialised");

/*
 * kmem could not start (kmem_init() failed): KM_NOSLEEP gets NULL, but
 * KM_SLEEP never fails and KM_PANIC panics rather than fail.
 */
static void *
kmem_alloc_unstarted(size_t size, int kmflag)
{
	if (!(kmflag & KM_NOSLEEP) || (kmflag & KM_PANIC))
		kmi_panic("kmem_alloc(%zu, %s): kmem could not start (see "
		    "kmem_init(9))", size, (kmflag & KM_NOSLEEP) ?
		    "KM_NOSLEEP | KM_PANIC" : "KM_SLEEP");
	return (NULL);
}

/* The fast path missed, or kmem is not set up yet. */
static KMEM_NOINLINE void *
kmem_alloc_miss(kmem_cache_t *cp, size_t size, int kmflag)
{
	if (cp == &kmem_null_cache) {
		if (!kmem_plat_first_use())
			return (kmem_alloc_unstarted(size, kmflag));
		return (kmem_alloc(size, kmflag));
	}
	void *buf = kmi_cache_alloc_slow(cp, kmflag);
	if (buf != NULL && (cp->cache_flags & KMF_BUFTAG))
		kmi_debug_alloc_size(cp, buf, size);
	return (buf);
}

/*
 * Whether size bytes could ever be had -- the budget less the reserve
 * (unless KM_PUSHPAGE) and less what kmem keeps for itself for good (its
 * metadata, and the pages mapped outside the heap, such as vmem's segment
 * structures) -- or a KM_SLEEP request would wait forever.  Sets the
 * budget and what kmem keeps, for messages.
 */
bool
kmi_alloc_could_ever(size_t size, int kmflag, size_t *budgetp, size_t *metap)
{
	size_t budget, reserve, mapped, peak;
	uint64_t refused;

	vmi_pages_stat(&budget, &reserve, &mapped, &peak, &refused);
	size_t limit = budget - ((kmflag & KM_PUSHPAGE) ? 0 : reserve);
	vmem_t *heap = vmem_source(kmem_oversize_arena);
	size_t heap_total = vmem_size(heap, VMEM_ALLOC | VMEM_FREE);
	size_t meta = vmem_size(kmem_metadata_arena, VMEM_ALLOC | VMEM_FREE) +
	    (mapped > heap_total ? mapped - heap_total : 0);
	*budgetp = budget;
	*metap = meta;
	return (size <= limit && limit - size >= meta);
}

/* A KM_SLEEP request that could never be satisfied: say so. */
static void
kmem_alloc_possible(size_t size, int kmflag)
{
	size_t budget, meta;

	if (!kmi_alloc_could_ever(size, kmflag, &budget, &meta))
		kmi_panic("kmem_alloc(%zu, KM_SLEEP): can never be satisfied: "
		    "larger than the memory budget (physmem=%zu) less %s"
		    "what kmem keeps for itself (%zu)", size, budget,
		    (kmflag & KM_PUSHPAGE) ? "" : "its reserve and ", meta);
}

static KMEM_NOINLINE void *
kmem_alloc_oversize(size_t size, int kmflag)
{
	if (size == 0)
		return (NULL);
	if (!kmi_is_ready() && !kmem_plat_first_use())
		return (kmem_alloc_unstarted(size, kmflag));
	if (KMEM_UNLIKELY(kmi_reclaiming()))
		kmflag |= KM_PUSHPAGE;	/* a reclaim callback */
	void *buf = NULL;
	if (!(kmflag & KM_NOSLEEP)) {
		/* Only a request that would wait pays for the check. */
		buf = vmem_alloc(kmem_oversize_arena, size,
		    (kmflag & KM_PUSHPAGE) | VM_NOSLEEP | VM_NORMALPRI);
		if (buf == NULL)
			kmem_alloc_possible(size, kmflag);
	}
	if (buf == NULL)
		buf = vmem_alloc(kmem_oversize_arena, size,
		    kmflag & VM_KMFLAGS);
	if (buf == NULL && (kmflag & KM_PANIC))
		kmi_panic("kmem_alloc(%zu): cannot satisfy mandatory "
		    "allocation", size);
	if (buf == NULL)
		kmi_debug_alloc_failed(NULL, "kmem_oversize", size);
	return (buf);
}

/* kmem_alloc() past its fast path (also for a face whose own one missed). */
KMEM_NOINLINE void *
kmi_alloc_slow(size_t size, int kmflag)
{
	kmem_cache_t *cp = kmem_alloc_class(size);

	return (cp == NULL ? kmem_alloc_oversize(size, kmflag) :
	    kmem_alloc_miss(cp, size, kmflag));
}

void *
kmem_alloc(size_t size, int kmflag)
{
	kmem_cache_t *cp = kmem_alloc_class(size);	/* NULL: oversize */
	void *buf;

	if (KMEM_LIKELY(cp != NULL) && KMEM_LIKELY(kmem_magazine_alloc(cp,
	    &buf)))
		return (buf);
	return (kmi_alloc_slow(size, kmflag));
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
			kmi_panic("kmem_free(%p, 0): bad free: size 0", buf);
		vmem_free(kmem_oversize_arena, buf, size);
		return;
	}
	if (cp == &kmem_null_cache)
		kmi_panic("kmem_free(%p, %zu): invalid free: kmem is not "
		    "initialised", buf, size);
	if (cp->cache_flags & KMF_BUFTAG)
		kmi_debug_free_size(cp, buf, size);
	kmi_cache_free_slow(cp, buf);
}

void
kmem_free(void *buf, size_t size)
{
	kmem_cache_t *cp;

	if (buf == NULL)
		return;
	cp = kmem_alloc_class(size);
	if (KMEM_LIKELY(cp != NULL) && KMEM_LIKELY(kmem_magazine_free(cp, buf)))
		return;
	kmem_free_miss(cp, buf, size);
}
