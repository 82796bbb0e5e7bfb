/*
 * malloc(3) on kmem: libkmem_malloc.so, a drop-in replacement for the C
 * library's allocator (LD_PRELOAD or link with -lkmem_malloc).
 *
 * Theory of operation
 * -------------------
 * Requests up to 1 MiB are rounded up to a multiple of 16 (glibc's
 * alignment guarantee) and served by kmem_alloc(), so they get kmem's
 * per-thread magazines; larger ones come from the kmem_oversize arena,
 * page aligned.  KM_NOSLEEP gives malloc's contract: reclaim, then NULL
 * with errno ENOMEM.
 *
 * free() has no size, so a page map finds a buffer's cache from its address
 * alone, in constant time: a two-level radix table over the 48-bit address
 * space, two words per page.  The slab layer reports every kmem_alloc slab
 * it creates or destroys (kmem_slab_map_hook), so each page that holds a
 * slab's chunks maps to its cache's class (below) and to the slab's first
 * buffer; the first page of an oversize allocation maps to the oversize
 * class and its length.  Leaves (one per GiB of address space) are mapped
 * on first use and never freed, so readers need no lock.
 *
 * free(), realloc() and malloc_usable_size() check, always, that a pointer
 * starts a buffer: the first page of an oversize allocation, or a chunk
 * of its slab.  A class holds its cache's chunk size c = 2^k * d (d odd)
 * as k and the inverse of d modulo 2^64, so that for the offset x of a
 * pointer from its slab's first buffer (wrapped if below it), rotr(x *
 * inverse, k) is x / c when c divides x and exceeds (2^64 - 1) / c
 * otherwise (Granlund and Montgomery's divisibility test): one multiply,
 * one rotate and one comparison with the slab's chunk count n say that x
 * is 0, c, 2c, ... or (n - 1)c, with no division on the fast path (8
 * instructions on x86-64).  The oversize class has no chunks, so the same
 * test sends its buffers to the slow path, which checks that they start
 * their page.  Anything else is reported as "free(ADDR): invalid or
 * corrupted buffer" and the process aborts (with KMEM_DEBUG, a guarded
 * cache's own report comes instead).  A buffer freed twice still starts a
 * chunk: only KMEM_DEBUG catches that.
 *
 * Every size a caller passes is checked before it is rounded: no rounding
 * wraps to a small size.  A request larger than the address space the page
 * map covers, or aligned beyond it, fails at once with ENOMEM.
 *
 * Alignment requests pick the smallest size class whose alignment suffices
 * (every class is aligned to its largest power-of-two divisor, power-of-two
 * classes naturally), so memalign'd buffers are ordinary buffers that
 * free() handles like any other; past 1 MiB the oversize arena aligns.
 *
 * calloc() calls this file's functions, never malloc() and memset() by
 * name, so a compiler cannot turn its body into a call to calloc (the
 * recursion that crashed the portable libumem).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "../../src/magazine/magazine_impl.h"

#define MALLOC_ALIGN		16
#define MALLOC_SMALL_MAX	1048576
#define MALLOC_NCLASS		128	/* kmem_alloc caches: 58 today */
#define PM_VA_BITS		48
#define PM_LEAF_BITS		18
#define PM_ROOT_ENTRIES		((size_t)1 << (PM_VA_BITS - 12 - PM_LEAF_BITS))
#define PM_LEAF_ENTRIES		((size_t)1 << PM_LEAF_BITS)
#define MALLOC_VA_LIMIT		((size_t)1 << PM_VA_BITS)

/*
 * A kmem_alloc cache as the checks see it (the theory statement): its
 * chunk size 2^mc_shift * d and the inverse of d modulo 2^64, and the
 * chunks in each of its slabs.  Written once, before mc_cache is
 * published; never freed.
 */
typedef struct malloc_class {
	kmem_cache_t	*mc_cache;
	uint64_t	mc_inverse;
	uint64_t	mc_shift;
	uint64_t	mc_chunks;	/* 64 bits: compared without a load */
} malloc_class_t;

/* A page: its class (NULL: nothing of malloc's), and where its buffer is. */
typedef struct pm_entry {
	const malloc_class_t *pe_class;
	union {
		uintptr_t pe_first;	/* a slab's page: its first buffer */
		size_t	pe_size;	/* malloc_oversize: the buffer's size */
	};
} pm_entry_t;

static pm_entry_t *pm_root[PM_ROOT_ENTRIES];
static const pm_entry_t pm_none;
static const malloc_class_t malloc_oversize;	/* no chunks */
static kmem_lock_t pm_lock = KMEM_LOCK_INIT;
static unsigned pm_shift;
static size_t pm_page;
static bool malloc_ready;
static malloc_class_t malloc_classes[MALLOC_NCLASS];

void *malloc(size_t size);
void free(void *buf);
void *calloc(size_t n, size_t size);
void *realloc(void *buf, size_t size);
void *reallocarray(void *buf, size_t n, size_t size);
int posix_memalign(void **bufp, size_t align, size_t size);
void *aligned_alloc(size_t align, size_t size);
void *memalign(size_t align, size_t size);
void *valloc(size_t size);
void *pvalloc(size_t size);
size_t malloc_usable_size(void *buf);

/* ---- the page map ---- */

static inline pm_entry_t *
pm_leaf(uintptr_t pn, bool create)
{
	size_t ri = pn >> PM_LEAF_BITS;

	if (ri >= PM_ROOT_ENTRIES)
		return (NULL);
	pm_entry_t *leaf = kmem_load_acquire(&pm_root[ri]);
	if (leaf != NULL || !create)
		return (leaf);
	kmem_lock_enter(&pm_lock);
	if ((leaf = pm_root[ri]) == NULL &&
	    (leaf = kmem_plat_map(PM_LEAF_ENTRIES * sizeof (pm_entry_t))) != NULL)
		kmem_store_release(&pm_root[ri], leaf);
	kmem_lock_exit(&pm_lock);
	return (leaf);
}

static void
pm_set(void *mem, size_t size, const malloc_class_t *mc, uintptr_t first)
{
	uintptr_t last = ((uintptr_t)mem + size - 1) >> pm_shift;

	for (uintptr_t pn = (uintptr_t)mem >> pm_shift; pn <= last; pn++) {
		pm_entry_t *leaf = pm_leaf(pn, true);
		if (leaf == NULL)
			kmem_panic("malloc: no memory for the page map "
			    "(address %p)", mem);
		pm_entry_t *pe = &leaf[pn & (PM_LEAF_ENTRIES - 1)];
		kmem_store_relaxed(&pe->pe_first, first);
		kmem_store_release(&pe->pe_class, mc);
	}
}

/* The entry for buf's page (pm_none where nothing is mapped). */
static inline const pm_entry_t *
pm_get(const void *buf)
{
	uintptr_t pn = (uintptr_t)buf >> pm_shift;
	size_t ri = pn >> PM_LEAF_BITS;

	if (KMEM_UNLIKELY(ri >= PM_ROOT_ENTRIES))
		return (&pm_none);
	pm_entry_t *leaf = kmem_load_acquire(&pm_root[ri]);
	return (KMEM_LIKELY(leaf != NULL) ?
	    &leaf[pn & (PM_LEAF_ENTRIES - 1)] : &pm_none);
}

/* ---- classes: is a pointer the start of a chunk? ---- */

static void
class_init(malloc_class_t *mc, kmem_cache_t *cp, size_t chunks)
{
	size_t chunk = cp->cache_chunksize;
	unsigned shift = (unsigned)lowbit(chunk) - 1;
	uint64_t odd = chunk >> shift, inverse = odd;

	for (int i = 0; i < 5; i++)	/* Newton: 3, 6, ... 96 good bits */
		inverse *= 2 - odd * inverse;
	mc->mc_inverse = inverse;
	mc->mc_shift = shift;
	mc->mc_chunks = chunks;
}

/* cp's class, made on its first slab (open addressing, never deleted). */
static malloc_class_t *
class_of(kmem_cache_t *cp, size_t chunks)
{
	size_t h = (uintptr_t)cp / KMEM_CACHE_LINE;

	for (size_t probe = 0; probe < MALLOC_NCLASS; probe++) {
		malloc_class_t *mc = &malloc_classes[(h + probe) % MALLOC_NCLASS];
		kmem_cache_t *owner = kmem_load_acquire(&mc->mc_cache);
		if (owner == NULL) {
			kmem_lock_enter(&pm_lock);
			if ((owner = mc->mc_cache) == NULL) {
				class_init(mc, cp, chunks);
				kmem_store_release(&mc->mc_cache, cp);
				owner = cp;
			}
			kmem_lock_exit(&pm_lock);
		}
		if (owner == cp) {
			/* The colour never costs a chunk (slab.c). */
			ASSERT(mc->mc_chunks == chunks);
			return (mc);
		}
	}
	kmem_panic("malloc: more than %d kmem_alloc caches", MALLOC_NCLASS);
}

/* Does buf start one of the chunks of the slab whose first is first? */
static KMEM_ALWAYS_INLINE bool
class_holds(const malloc_class_t *mc, const void *buf, uintptr_t first)
{
	uint64_t x = (uint64_t)((uintptr_t)buf - first) * mc->mc_inverse;
	unsigned k = (unsigned)mc->mc_shift;

	return (((x >> k) | (x << (-k & 63))) < mc->mc_chunks);
}

/* The slab layer's hook: first..first+size are a slab's chunks. */
static void
malloc_slab_map(void *first, size_t size, kmem_cache_t *owner)
{
	pm_set(first, size, owner == NULL ? NULL :
	    class_of(owner, size / owner->cache_chunksize), (uintptr_t)first);
}

static KMEM_NOINLINE bool
malloc_init(void)
{
	if (kmem_load_acquire(&malloc_ready))
		return (true);
	pm_page = kmem_plat_pagesize();
	pm_shift = (unsigned)highbit(pm_page) - 1;
	/* Before kmem makes its first kmem_alloc slab. */
	kmem_store_release(&kmem_slab_map_hook, malloc_slab_map);
	if (kmem_init(NULL) != 0)
		return (false);
	kmem_store_release(&malloc_ready, true);
	return (true);
}

/* ---- allocation ---- */

/* Whole pages from the oversize arena; size > 0. */
static void *
malloc_large(size_t size, size_t align)
{
	/* No mapping is larger than the address space, or aligned past it. */
	if (size > MALLOC_VA_LIMIT - pm_page || align >= MALLOC_VA_LIMIT)
		return (NULL);
	size_t rsize = P2ROUNDUP(size, pm_page);
	void *buf = vmem_xalloc(kmem_oversize_arena, rsize,
	    kmem_max(align, pm_page), 0, 0, NULL, NULL, VM_NOSLEEP);
	if (buf != NULL)
		pm_set(buf, pm_page, &malloc_oversize, rsize);
	return (buf);
}

static KMEM_NOINLINE void *
malloc_slow(size_t size)
{
	void *buf;

	if (!malloc_init())
		return (NULL);
	if (size <= MALLOC_SMALL_MAX)
		buf = kmem_alloc(size == 0 ? MALLOC_ALIGN :
		    P2ROUNDUP(size, MALLOC_ALIGN), KM_NOSLEEP);
	else
		buf = malloc_large(size, pm_page);
	if (buf == NULL)
		errno = ENOMEM;
	return (buf);
}

/*
 * The fast path: the size class's cache, then a round from this thread's
 * magazine (magazine_impl.h), with no call in between.  Until kmem is set
 * up the size tables point at kmem's null cache, whose magazine is always
 * empty, so the first call takes malloc_slow() and sets everything up: no
 * test here.
 */
static KMEM_ALWAYS_INLINE void *
malloc_impl(size_t size)
{
	void *buf;

	if (KMEM_LIKELY(size - 1 < MALLOC_SMALL_MAX)) {
		kmem_cache_t *cp = kmem_alloc_class(P2ROUNDUP(size,
		    MALLOC_ALIGN));
		if (KMEM_LIKELY(kmem_magazine_alloc(cp, &buf)))
			return (buf);
	}
	return (malloc_slow(size));
}

static void *
memalign_impl(size_t align, size_t size)
{
	if (align <= MALLOC_ALIGN)
		return (malloc_impl(size));
	if (!IS_P2(align)) {
		errno = EINVAL;
		return (NULL);
	}
	if (KMEM_UNLIKELY(!kmem_load_acquire(&malloc_ready)) && !malloc_init())
		return (NULL);
	size = kmem_max(size, 1);
	/* The smallest class at least size whose alignment suffices; */
	/* a size past the classes is not rounded (it could wrap). */
	size_t rsize = size <= MALLOC_SMALL_MAX ?
	    P2ROUNDUP(size, MALLOC_ALIGN) : SIZE_MAX;
	while (rsize <= MALLOC_SMALL_MAX) {
		kmem_cache_t *cp = kmem_alloc_class(rsize);
		if (cp->cache_align >= align)
			break;
		rsize = cp->cache_bufsize + MALLOC_ALIGN;
	}
	void *buf = rsize <= MALLOC_SMALL_MAX ? kmem_alloc(rsize, KM_NOSLEEP) :
	    malloc_large(size, align);
	if (buf == NULL)
		errno = ENOMEM;
	return (buf);
}

/* ---- checking and freeing ---- */

static _Noreturn KMEM_NOINLINE void
bad_pointer(const char *fn, const void *buf)
{
	kmem_panic("%s(%p): invalid or corrupted buffer", fn, buf);
}

/* The size of the buffer that starts at buf, whose page's entry is pe. */
static size_t
usable_size(const char *fn, const void *buf, const pm_entry_t *pe)
{
	const malloc_class_t *mc = kmem_load_acquire(&pe->pe_class);

	if (mc == &malloc_oversize && P2PHASE((uintptr_t)buf, pm_page) == 0)
		return (pe->pe_size);
	if (mc != NULL && class_holds(mc, buf, pe->pe_first))
		return (mc->mc_cache->cache_bufsize);
	bad_pointer(fn, buf);
}

/* What the fast path leaves: oversize buffers and bad pointers. */
static KMEM_NOINLINE void
free_slow(void *buf, const pm_entry_t *pe)
{
	const malloc_class_t *mc = kmem_load_acquire(&pe->pe_class);

	if (mc == &malloc_oversize && P2PHASE((uintptr_t)buf, pm_page) == 0) {
		size_t size = pe->pe_size;
		pm_set(buf, pm_page, NULL, 0);
		vmem_xfree(kmem_oversize_arena, buf, size);
		return;
	}
	/* In a slab, starting no chunk: a guarded cache's own report */
	/* names the buffer and its history (and noabort goes on). */
	if (mc != NULL && mc != &malloc_oversize &&
	    (mc->mc_cache->cache_flags & KMF_BUFTAG)) {
		kmem_cache_free_slow(mc->mc_cache, buf);
		return;
	}
	bad_pointer("free", buf);
}

/* Free buf, whose page's entry is pe. */
static KMEM_ALWAYS_INLINE void
free_impl(void *buf, const pm_entry_t *pe)
{
	const malloc_class_t *mc = kmem_load_acquire(&pe->pe_class);

	if (KMEM_LIKELY(mc != NULL && class_holds(mc, buf, pe->pe_first))) {
		if (KMEM_LIKELY(kmem_magazine_free(mc->mc_cache, buf)))
			return;
		kmem_cache_free_slow(mc->mc_cache, buf);
	} else if (buf != NULL) {
		free_slow(buf, pe);
	}
}

/* ---- the C library interface ---- */

void *
malloc(size_t size)
{
	return (malloc_impl(size));
}

void
free(void *buf)
{
	free_impl(buf, pm_get(buf));
}

void *
calloc(size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return (NULL);
	}
	void *buf = malloc_impl(total);
	if (buf != NULL)
		memset(buf, 0, total);
	return (buf);
}

void *
realloc(void *buf, size_t size)
{
	if (buf == NULL)
		return (malloc_impl(size));
	if (size == 0) {
		free(buf);
		return (NULL);
	}
	const pm_entry_t *pe = pm_get(buf);
	size_t old = usable_size("realloc", buf, pe);
	if (size <= old && size > old / 2)
		return (buf);		/* fits, and not too much wasted */
	/*
	 * Growing by less than a quarter: take a quarter more (as tcmalloc
	 * does), so a buffer grown a step at a time is not copied at every
	 * step.
	 */
	size_t want = size > old && size - old < old / 4 ? old + old / 4 : size;
	void *nbuf = malloc_impl(want);
	if (nbuf == NULL && want != size)
		nbuf = malloc_impl(size);
	if (nbuf == NULL)
		return (NULL);
	memcpy(nbuf, buf, kmem_min(old, size));
	free_impl(buf, pe);
	return (nbuf);
}

void *
reallocarray(void *buf, size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return (NULL);
	}
	return (realloc(buf, total));
}

int
posix_memalign(void **bufp, size_t align, size_t size)
{
	if (align < sizeof (void *) || !IS_P2(align))
		return (EINVAL);
	int saved = errno;
	void *buf = memalign_impl(align, size);
	if (buf == NULL) {
		errno = saved;
		return (ENOMEM);
	}
	*bufp = buf;
	return (0);
}

void *
aligned_alloc(size_t align, size_t size)
{
	return (memalign_impl(align, size));
}

void *
memalign(size_t align, size_t size)
{
	return (memalign_impl(align, size));
}

void *
valloc(size_t size)
{
	if (!malloc_init())
		return (NULL);
	return (memalign_impl(pm_page, size));
}

void *
pvalloc(size_t size)
{
	if (!malloc_init())
		return (NULL);
	if (size > SIZE_MAX - pm_page) {	/* rounding would wrap */
		errno = ENOMEM;
		return (NULL);
	}
	return (memalign_impl(pm_page, P2ROUNDUP(kmem_max(size, 1), pm_page)));
}

size_t
malloc_usable_size(void *buf)
{
	return (buf == NULL ? 0 :
	    usable_size("malloc_usable_size", buf, pm_get(buf)));
}
