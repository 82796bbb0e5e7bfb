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
 * space, one word per page.  The slab layer reports every kmem_alloc slab
 * it creates or destroys (kmem_slab_map_hook), so each page of a slab maps
 * to its cache; the first page of an oversize allocation maps to its
 * length in pages, tagged with the low bit.  Leaves (one per GiB of
 * address space) are mapped on first use and never freed, so readers need
 * no lock.
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
#define PM_VA_BITS		48
#define PM_LEAF_BITS		18
#define PM_ROOT_ENTRIES		((size_t)1 << (PM_VA_BITS - 12 - PM_LEAF_BITS))
#define PM_LEAF_ENTRIES		((size_t)1 << PM_LEAF_BITS)

static uintptr_t *pm_root[PM_ROOT_ENTRIES];
static kmem_lock_t pm_lock = KMEM_LOCK_INIT;
static unsigned pm_shift;
static size_t pm_page;
static bool malloc_ready;

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

static inline uintptr_t *
pm_leaf(uintptr_t pn, bool create)
{
	size_t ri = pn >> PM_LEAF_BITS;

	if (ri >= PM_ROOT_ENTRIES)
		return (NULL);
	uintptr_t *leaf = kmem_load_acquire(&pm_root[ri]);
	if (leaf != NULL || !create)
		return (leaf);
	kmem_lock_enter(&pm_lock);
	if ((leaf = pm_root[ri]) == NULL &&
	    (leaf = kmem_plat_map(PM_LEAF_ENTRIES * sizeof (uintptr_t))) != NULL)
		kmem_store_release(&pm_root[ri], leaf);
	kmem_lock_exit(&pm_lock);
	return (leaf);
}

static void
pm_set(void *mem, size_t size, uintptr_t value)
{
	uintptr_t first = (uintptr_t)mem >> pm_shift;
	uintptr_t last = ((uintptr_t)mem + size - 1) >> pm_shift;

	for (uintptr_t pn = first; pn <= last; pn++) {
		uintptr_t *leaf = pm_leaf(pn, true);
		if (leaf == NULL)
			kmem_panic("malloc: no memory for the page map "
			    "(address %p)", mem);
		kmem_store_release(&leaf[pn & (PM_LEAF_ENTRIES - 1)], value);
	}
}

/* The entry for buf's page: a cache, a tagged oversize length, or 0. */
static inline uintptr_t
pm_get(const void *buf)
{
	uintptr_t pn = (uintptr_t)buf >> pm_shift;
	size_t ri = pn >> PM_LEAF_BITS;

	if (KMEM_UNLIKELY(ri >= PM_ROOT_ENTRIES))
		return (0);
	uintptr_t *leaf = kmem_load_acquire(&pm_root[ri]);
	return (KMEM_LIKELY(leaf != NULL) ?
	    kmem_load_acquire(&leaf[pn & (PM_LEAF_ENTRIES - 1)]) : 0);
}

static void
malloc_slab_map(void *mem, size_t size, kmem_cache_t *owner)
{
	pm_set(mem, size, (uintptr_t)owner);
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

static void *
malloc_large(size_t size, size_t align)
{
	if (size > SIZE_MAX - pm_page)
		return (NULL);
	size_t rsize = P2ROUNDUP(size, pm_page);
	void *buf = vmem_xalloc(kmem_oversize_arena, rsize,
	    kmem_max(align, pm_page), 0, 0, NULL, NULL, VM_NOSLEEP);
	if (buf != NULL)
		pm_set(buf, pm_page, ((rsize >> pm_shift) << 1) | 1);
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
	/* The smallest class at least size whose alignment suffices. */
	size_t rsize = P2ROUNDUP(kmem_max(size, 1), MALLOC_ALIGN);
	while (rsize <= MALLOC_SMALL_MAX) {
		kmem_cache_t *cp = kmem_alloc_class(rsize);
		if (cp->cache_align >= align) {
			void *buf = kmem_alloc(rsize, KM_NOSLEEP);
			if (buf == NULL)
				errno = ENOMEM;
			return (buf);
		}
		rsize = cp->cache_bufsize + MALLOC_ALIGN;
	}
	void *buf = malloc_large(size, align);
	if (buf == NULL)
		errno = ENOMEM;
	return (buf);
}

static size_t
usable_size(void *buf, uintptr_t v)
{
	if (v & 1)
		return ((v >> 1) << pm_shift);
	if (v == 0)
		kmem_panic("malloc_usable_size(%p): invalid or corrupted buffer",
		    buf);
	return (((kmem_cache_t *)v)->cache_bufsize);
}

static KMEM_NOINLINE void
free_slow(void *buf, uintptr_t v)
{
	if (v == 0 || ((v & 1) && P2PHASE((uintptr_t)buf, pm_page) != 0))
		kmem_panic("free(%p): invalid or corrupted buffer", buf);
	size_t size = usable_size(buf, v);
	pm_set(buf, pm_page, 0);
	vmem_xfree(kmem_oversize_arena, buf, size);
}

/* ---- the C library interface ---- */

void *
malloc(size_t size)
{
	return (malloc_impl(size));
}

/* Free buf, whose page map entry is v. */
static KMEM_ALWAYS_INLINE void
free_impl(void *buf, uintptr_t v)
{
	if (KMEM_LIKELY(v != 0 && !(v & 1))) {
		if (KMEM_LIKELY(kmem_magazine_free((kmem_cache_t *)v, buf)))
			return;
		kmem_cache_free_slow((kmem_cache_t *)v, buf);
	} else if (buf != NULL) {
		free_slow(buf, v);
	}
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
	uintptr_t v = pm_get(buf);
	size_t old = usable_size(buf, v);
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
	free_impl(buf, v);
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
	return (memalign_impl(pm_page, P2ROUNDUP(kmem_max(size, 1), pm_page)));
}

size_t
malloc_usable_size(void *buf)
{
	return (buf == NULL ? 0 : usable_size(buf, pm_get(buf)));
}
