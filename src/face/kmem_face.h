/*
 * The face header: what a personality on kmem (libc malloc, NetBSD
 * malloc(9)/kmem(9)/pool(9), DragonFly kmalloc(9)) needs from the core,
 * and all it may include.  A face translates its names, flags and rules
 * into these calls; it never reaches into a layer's internals.
 *
 *   allocation	kmem_alloc()/kmem_free() and the object caches (public),
 *		plus the inline fast paths below for faces that look the
 *		size class up themselves;
 *   ownership	the owner map (src/owner/): from an address to its cache
 *		or large buffer in constant time, for frees without a size;
 *   large	buffers past the size classes, recorded in the owner map;
 *   counting	per-CPU counters, with fast paths that count as they
 *		allocate and free (statistics with nothing shared);
 *   debugging	a face's tag on each guarded buffer, and its own words
 *		before kmem's report of an error;
 *   set-up	kmem_face_init(): the owner map enabled, kmem started.
 */
#ifndef KMEM_FACE_H
#define KMEM_FACE_H

#include <kmem/kmem.h>
#include <kmem/vmem.h>
#include "../owner/owner.h"
#include "../debug/debug_impl.h"

/* Enable the owner map and start kmem; false if it cannot start. */
static inline bool
kmem_face_init(void)
{
	return (kmi_owner_enable() && (kmi_is_ready() ||
	    kmem_init(NULL) == 0));
}

/* The largest size the kmem_alloc size classes serve. */
#define KMEM_FACE_CLASS_MAX	KMEM_BIG_MAXBUF

/* The cache of the smallest class of at least size (1..CLASS_MAX). */
static KMEM_ALWAYS_INLINE kmem_cache_t *
kmem_face_class(size_t size)
{
	return (kmem_alloc_class(size));
}

/*
 * The cache of the smallest 16-byte multiple of at least size, for sizes
 * up to CLASS16_MAX (0 included: the 16-byte class): one table step.
 */
#define KMEM_FACE_CLASS16_MAX	KMEM_ALLOC_SMALL_MAX

static KMEM_ALWAYS_INLINE kmem_cache_t *
kmem_face_class16(size_t size)
{
	return (kmem_alloc_class16(size));
}

/* A buffer from this CPU's (thread's) magazine, if it has one. */
static KMEM_ALWAYS_INLINE bool
kmem_face_alloc_fast(kmem_cache_t *cp, void **bufp)
{
	return (kmem_magazine_alloc(cp, bufp));
}

/* kmem_alloc(size, kmflag) after kmem_face_alloc_fast() missed. */
static inline void *
kmem_face_alloc_slow(size_t size, int kmflag)
{
	return (kmi_alloc_slow(size, kmflag));
}

/*
 * A buffer of owner class oc (kmem_owner_holds() said so) back to this
 * CPU's magazine, if it has room: the slot comes from the class, a load
 * nearer than through its cache.
 */
static KMEM_ALWAYS_INLINE bool
kmem_face_free_owned(const kmem_owner_class_t *oc, void *buf)
{
	return (kmem_magazine_free_at(oc->oc_cache, oc->oc_free_index, buf));
}

/* The rest of kmem_cache_free(): depot, slab layer, debug checks. */
static inline void
kmem_face_free_slow(kmem_cache_t *cp, void *buf)
{
	kmi_cache_free_slow(cp, buf);
}

static inline size_t
kmem_face_bufsize(const kmem_cache_t *cp)
{
	return (cp->cache_bufsize);
}

static inline size_t
kmem_face_align(const kmem_cache_t *cp)
{
	return (cp->cache_align);
}

/* Whether cp checks its buffers (KMEM_DEBUG): it reports bad frees. */
static inline bool
kmem_face_guarded(const kmem_cache_t *cp)
{
	return ((cp->cache_flags & KMF_BUFTAG) != 0);
}

/* ---- object caches a face makes (pools) ---- */

/*
 * kmem_cache_create() with slabs from vmp of exactly slabsize bytes (0:
 * kmem's choice): a page allocator that hands out one page at a time.
 */
static inline kmem_cache_t *
kmem_face_cache_create(const char *name, size_t size, size_t align,
    kmem_constructor_t *ctor, kmem_destructor_t *dtor, void *private,
    vmem_t *vmp, int cflags, size_t slabsize)
{
	if (!kmem_face_init())
		return (NULL);
	return (kmi_cache_create_slab(name, size, align, ctor, dtor, NULL,
	    private, vmp, cflags, slabsize));
}

/* Destroy every constructed object cp holds free: magazines, depot, slabs. */
static inline void
kmem_face_cache_destruct(kmem_cache_t *cp)
{
	kmem_cache_reap_now(cp);
	kmi_slab_destruct_free(cp);
}

/* Buffers per slab, and slab size: a pool's items per page. */
static inline size_t
kmem_face_slab_chunks(const kmem_cache_t *cp)
{
	size_t usable = cp->cache_slabsize - ((cp->cache_flags & KMF_HASH) ?
	    0 : sizeof (kmem_slab_t));
	return (usable / cp->cache_chunksize);
}

static inline size_t
kmem_face_slab_size(const kmem_cache_t *cp)
{
	return (cp->cache_slabsize);
}

/* Free buffers in cp's slabs (racy: a hint). */
static inline uint64_t
kmem_face_slab_free(const kmem_cache_t *cp)
{
	return (kmem_load_relaxed(&cp->cache_bufslab));
}

/* Slabs with no buffer allocated (racy: for statistics). */
static inline uint64_t
kmem_face_slabs_empty(const kmem_cache_t *cp)
{
	return (kmem_load_relaxed(&cp->cache_nempty));
}

/* The class's index among the size classes, from 0. */
static inline unsigned
kmem_face_class_index(const kmem_cache_t *cp)
{
	return (cp->cache_class - 1);
}

/* Whether size bytes could ever be allocated (KM_SLEEP would not wait */
/* forever); budgetp and metap say against what. */
static inline bool
kmem_face_could_ever(size_t size, int kmflag, size_t *budgetp, size_t *metap)
{
	return (kmi_alloc_could_ever(size, kmflag, budgetp, metap));
}

/* ---- per-CPU counters (src/magazine/counter.c) ---- */

/* n consecutive counters, all zero; 0 if there are no more. */
static inline uint32_t
kmem_face_counters(uint32_t n)
{
	return (kmi_counter_alloc(n));
}

/* Counter i += a, counter i + 1 += b, for this CPU. */
static inline void
kmem_face_count(uint32_t i, uint64_t a, uint64_t b)
{
	kmi_counter_add(i, a, b);
}

/* out[k] = the sum over all CPUs of counter i + k. */
static inline void
kmem_face_counters_read(uint32_t i, uint32_t n, uint64_t *out)
{
	kmi_counter_read(i, n, out);
}

/* The same, unless it would wait for the records' lock: false then. */
static inline bool
kmem_face_counters_try(uint32_t i, uint32_t n, uint64_t *out)
{
	return (kmi_counter_read_try(i, n, out));
}

/*
 * The fast paths that count: a buffer from (to) this CPU's magazine,
 * counter ctr += 1 and ctr + 1 += the buffer size; false, with nothing
 * done, if either cannot be done here.
 */
static KMEM_ALWAYS_INLINE bool
kmem_face_alloc_counted(kmem_cache_t *cp, void **bufp, uint32_t ctr)
{
	return (kmem_magazine_xfer_counted(cp,
	    kmem_load_relaxed(&cp->cache_cpu_index), bufp, true, ctr));
}

/* The free of a buffer of owner class oc (kmem_owner_holds() said so). */
static KMEM_ALWAYS_INLINE bool
kmem_face_free_counted(const kmem_owner_class_t *oc, void *buf, uint32_t ctr)
{
	return (kmem_magazine_xfer_counted(oc->oc_cache, oc->oc_free_index,
	    &buf, false, ctr));
}

/* ---- debugging: guarded caches only ---- */

#define KMEM_FACE_ERR_MODIFIED	KMERR_MODIFIED
#define KMEM_FACE_ERR_DUPFREE	KMERR_DUPFREE
#define KMEM_FACE_ERR_REDZONE	KMERR_REDZONE

/* The face's word on buf (0 if none), kept until the next allocation. */
static inline uintptr_t
kmem_face_tag(const kmem_cache_t *cp, void *buf)
{
	return (kmem_buftag(cp, buf)->bt_tag);
}

static inline void
kmem_face_tag_set(const kmem_cache_t *cp, void *buf, uintptr_t tag)
{
	kmem_buftag(cp, buf)->bt_tag = tag;
}

/* Whether buf is allocated now, by its buffer tag. */
static inline bool
kmem_face_allocated(const kmem_cache_t *cp, void *buf)
{
	return (kmem_buftag(cp, buf)->bt_bxstat ==
	    ((uintptr_t)buf ^ KMEM_BUFTAG_ALLOC));
}

/* Called before kmem reports an error on a guarded buffer. */
static inline void
kmem_face_report_hook(void (*report)(const kmem_face_error_t *))
{
	kmem_store_release(&kmi_debug_face_report, report);
}

/* kmem's report on buf ("bad free: <detail>"), then stop unless noabort. */
static inline void
kmem_face_error(kmem_cache_t *cp, void *buf, const char *detail)
{
	kmi_error(KMERR_FACE, cp, buf, detail);
}

#endif /* KMEM_FACE_H */
