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
 * free() has no size: the core's owner map (src/owner/owner.c) finds a
 * buffer's cache from its address alone, in constant time, and says
 * whether the pointer starts a buffer at all: a chunk of its slab, or the
 * first page of a large allocation.  Anything else is reported as
 * "free(ADDR): invalid or corrupted buffer" and the process aborts (with
 * KMEM_DEBUG, a guarded cache's own report comes instead).  A buffer
 * freed twice still starts a chunk: only KMEM_DEBUG catches that.
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

#include "../../src/face/kmem_face.h"

#define MALLOC_ALIGN		16
#define MALLOC_SMALL_MAX	KMEM_FACE_CLASS_MAX

static size_t malloc_page;
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

static KMEM_NOINLINE bool
malloc_start(void)
{
	malloc_page = kmem_plat_pagesize();
	if (!kmem_face_init()) {
		errno = ENOMEM;
		return (false);
	}
	kmem_store_release(&malloc_ready, true);
	return (true);
}

static inline bool
malloc_init(void)
{
	return (kmem_load_acquire(&malloc_ready) || malloc_start());
}

/* ---- allocation ---- */

/* Whole pages, recorded in the owner map; size > 0. */
static void *
malloc_large(size_t size, size_t align)
{
	return (kmi_owner_large_alloc(size, align, KM_NOSLEEP, false));
}

static KMEM_NOINLINE void *
malloc_slow(size_t size)
{
	void *buf;

	if (!malloc_init())
		return (NULL);
	if (size <= MALLOC_SMALL_MAX)	/* the fast path missed, or size 0 */
		buf = kmem_face_alloc_slow(size == 0 ? MALLOC_ALIGN :
		    P2ROUNDUP(size, MALLOC_ALIGN), KM_NOSLEEP);
	else
		buf = malloc_large(size, malloc_page);
	if (buf == NULL)
		errno = ENOMEM;
	return (buf);
}

/*
 * The fast path: the size class's cache, then a round from this thread's
 * magazine (kmem_face.h), with no call in between.  Until kmem is set
 * up the size tables point at kmem's null cache, whose magazine is always
 * empty, so the first call takes malloc_slow() and sets everything up: no
 * test here.
 */
static KMEM_ALWAYS_INLINE void *
malloc_impl(size_t size)
{
	kmem_cache_t *cp;
	void *buf;

	if (KMEM_LIKELY(size <= KMEM_FACE_CLASS16_MAX))
		cp = kmem_face_class16(size);	/* 0 too: 16 bytes */
	else if (size <= MALLOC_SMALL_MAX)
		cp = kmem_face_class(P2ROUNDUP(size, MALLOC_ALIGN));
	else
		return (malloc_slow(size));
	if (KMEM_LIKELY(kmem_face_alloc_fast(cp, &buf)))
		return (buf);
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
	if (!malloc_init())
		return (NULL);
	size = kmem_max(size, 1);
	/* The smallest class at least size whose alignment suffices; */
	/* a size past the classes is not rounded (it could wrap). */
	size_t rsize = size <= MALLOC_SMALL_MAX ?
	    P2ROUNDUP(size, MALLOC_ALIGN) : SIZE_MAX;
	while (rsize <= MALLOC_SMALL_MAX) {
		kmem_cache_t *cp = kmem_face_class(rsize);
		if (kmem_face_align(cp) >= align)
			break;
		rsize = kmem_face_bufsize(cp) + MALLOC_ALIGN;
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
	kmi_panic("%s(%p): invalid or corrupted buffer", fn, buf);
}

/* The size of the large buffer at buf (page entry ow); else fn's report. */
static size_t
large_size(const char *fn, const void *buf, const kmem_owner_t *ow)
{
	size_t large = kmem_owner_large_size(ow, buf);

	if (large == 0)
		bad_pointer(fn, buf);
	return (large);
}

/* The size of the buffer that starts at buf, whose page's entry is ow. */
static size_t
usable_size(const char *fn, const void *buf, const kmem_owner_t *ow)
{
	kmem_cache_t *cp = kmem_owner_cache(ow, buf);

	return (cp != NULL ? kmem_face_bufsize(cp) : large_size(fn, buf, ow));
}

/* What the fast path leaves: large buffers and bad pointers. */
static KMEM_NOINLINE void
free_slow(void *buf, const kmem_owner_t *ow)
{
	size_t large = kmem_owner_large_size(ow, buf);

	if (large != 0) {
		kmi_owner_large_free(buf, large);
		return;
	}
	/* In a slab, starting no chunk: a guarded cache's own report */
	/* names the buffer and its history (and noabort goes on). */
	const kmem_owner_class_t *oc = kmem_owner_class(ow);
	if (oc != NULL && oc != &kmi_owner_large &&
	    kmem_face_guarded(oc->oc_cache)) {
		kmem_face_free_slow(oc->oc_cache, buf);
		return;
	}
	bad_pointer("free", buf);
}

/* Free buf, whose page's entry is ow. */
static KMEM_ALWAYS_INLINE void
free_impl(void *buf, const kmem_owner_t *ow)
{
	const kmem_owner_class_t *oc = kmem_owner_class(ow);

	if (KMEM_LIKELY(oc != NULL && kmem_owner_holds(oc, ow, buf))) {
		if (KMEM_LIKELY(kmem_face_free_owned(oc, buf)))
			return;
		kmem_face_free_slow(oc->oc_cache, buf);
	} else if (buf != NULL) {
		free_slow(buf, ow);
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
	free_impl(buf, kmem_owner_get(buf));
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

/*
 * realloc() of buf, whose page's entry is ow and whose usable size is old,
 * when it cannot stay where it is: size 0, growing, or shrinking to half
 * or less.  Apart so that realloc() itself, which mostly finds the buffer
 * big enough, saves no registers and makes no call.
 */
static KMEM_NOINLINE void *
realloc_move(void *buf, const kmem_owner_t *ow, size_t old, size_t size)
{
	if (size == 0) {
		free_impl(buf, ow);
		return (NULL);
	}
	/*
	 * Growing by less than a quarter: take a quarter more (as tcmalloc
	 * does), so a buffer grown a step at a time is not copied at every
	 * step.
	 */
	size_t want = size > old && size - old < old / 4 ? old + old / 4 : size;
	void *nbuf = malloc_impl(want);
	if (nbuf == NULL && want != size)
		nbuf = malloc_impl(size);
	if (nbuf == NULL)	/* a shrink that cannot move stays */
		return (size <= old ? buf : NULL);
	memcpy(nbuf, buf, kmem_min(old, size));
	free_impl(buf, ow);
	return (nbuf);
}

/* KMEM_DEBUG: realloc() of a buffer already freed; free's checks say so. */
static KMEM_NOINLINE void *
realloc_freed(kmem_cache_t *cp, void *buf)
{
	kmem_face_free_slow(cp, buf);
	errno = EINVAL;
	return (NULL);
}

void *
realloc(void *buf, size_t size)
{
	if (buf == NULL)
		return (malloc_impl(size));
	const kmem_owner_t *ow = kmem_owner_get(buf);
	kmem_cache_t *cp = kmem_owner_cache(ow, buf);
	size_t old = KMEM_LIKELY(cp != NULL) ? kmem_face_bufsize(cp) :
	    large_size("realloc", buf, ow);
	if (KMEM_UNLIKELY(cp != NULL && kmem_face_guarded(cp)) &&
	    !kmem_face_allocated(cp, buf))
		return (realloc_freed(cp, buf));
	if (size <= old && size > old / 2)
		return (buf);		/* fits, and not too much wasted */
	return (realloc_move(buf, ow, old, size));
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
	return (memalign_impl(malloc_page, size));
}

void *
pvalloc(size_t size)
{
	if (!malloc_init())
		return (NULL);
	if (size > SIZE_MAX - malloc_page) {	/* rounding would wrap */
		errno = ENOMEM;
		return (NULL);
	}
	return (memalign_impl(malloc_page, P2ROUNDUP(kmem_max(size, 1),
	    malloc_page)));
}

size_t
malloc_usable_size(void *buf)
{
	return (buf == NULL ? 0 :
	    usable_size("malloc_usable_size", buf, kmem_owner_get(buf)));
}
