/*
 * NetBSD malloc(9) and DragonFly kmalloc(9) on kmem: translators of
 * names, flags and rules onto kmem's size classes (kmem_face.h).
 *
 * Theory of operation
 * -------------------
 * A request is rounded up to a multiple of 16 (any object's alignment)
 * and served by the kmem_alloc_N class that fits, from this CPU's
 * magazine when it can: the fast path takes the buffer and adds to the
 * type's per-CPU counters in one busy section (malloc_type.c has the
 * counting).  Requests past the classes take whole pages from the
 * oversize arena.  free() has no size: the owner map gives the buffer's
 * class or large size from its address in constant time, and says
 * whether the address starts a buffer at all.
 *
 * Flags: malloc(9) waits unless M_NOWAIT (NetBSD's M_WAITOK is 0);
 * kmalloc(9) wants exactly one of M_WAITOK and M_NOWAIT.  Waiting is
 * KM_SLEEP, not waiting KM_NOSLEEP; M_USE_RESERVE and M_INTWAIT add
 * KM_PUSHPAGE.  A size that can never be allocated panics with "malloc:
 * allocation too large" unless M_NOWAIT or M_CANFAIL (then NULL).
 *
 * DIAGNOSTIC: with kmem debugging on for the size classes (KMEM_DEBUG),
 * each buffer carries its type in its buffer tag, so a free with another
 * type is "malloc: wrong bucket", and kmem's reports of a duplicate free
 * or of a free buffer written to are preceded by NetBSD's own words
 * (malloc_stat.c).
 */
#include "bsd_impl.h"

/* The size classes hand out multiples of 16 up to the largest class. */
static inline size_t
bsd_rsize(size_t size)
{
	return (P2ROUNDUP(kmem_max(size, 1), KMEM_BSD_ALIGN));
}

/* Bit of ks_size for large (page) allocations. */
#define BSD_SIZE_LARGE	63

/* Internal flag: the caller reserved the bytes against the type's limit. */
#define BSD_RESERVED	0x40000000

static KMEM_ALWAYS_INLINE void
bsd_note_class(struct malloc_type *type, unsigned bit)
{
	uint64_t mask = (uint64_t)1 << bit;

	if (KMEM_UNLIKELY(!(kmem_load_relaxed(&type->ks_size) & mask)))
		__atomic_fetch_or(&type->ks_size, mask, __ATOMIC_RELAXED);
}

/* ---- allocation ---- */

/* The bytes an allocation of size takes (0: more than can ever be). */
static size_t
bsd_unit(size_t size)
{
	if (size <= KMEM_FACE_CLASS_MAX)
		return (kmem_face_bufsize(kmem_face_class(bsd_rsize(size))));
	size_t page = kmem_plat_pagesize();
	return (size > SIZE_MAX - page ? 0 : P2ROUNDUP(size, page));
}

/* A waiting request that can never be satisfied: say so, and why. */
static _Noreturn KMEM_NOINLINE void
bsd_too_large(const char *fn, size_t size, const struct malloc_type *type,
    const char *why)
{
	kmi_printf(NULL, NULL, "malloc: allocation too large");
	kmi_panic("%s(%zu, %s, M_WAITOK): can never be satisfied: %s", fn,
	    size, type->ks_shortdesc, why);
}

/*
 * A waiting request past the size classes: at once if it can be, else
 * NULL under M_CANFAIL, or "malloc: allocation too large" if it could
 * never be satisfied, or wait.
 */
static void *
bsd_alloc_large_wait(size_t size, struct malloc_type *type, int flags,
    int kmflag, const char *fn)
{
	size_t page = kmem_plat_pagesize(), budget, meta;
	/* Exact: the type is charged for what it asked for (bsd_unit()). */
	void *buf = kmi_owner_large_alloc(size, page, (kmflag & KM_PUSHPAGE) |
	    KM_NOSLEEP_LAZY, true);

	if (buf != NULL)
		return (buf);
	if (!kmem_face_could_ever(P2ROUNDUP(size, page), kmflag, &budget,
	    &meta)) {
		char why[96];
		if (flags & M_CANFAIL)
			return (NULL);
		kmi_snprintf(why, sizeof (why), "larger than the memory budget "
		    "(physmem=%zu) less what kmem keeps (%zu)", budget, meta);
		bsd_too_large(fn, size, type, why);
	}
	return (kmi_owner_large_alloc(size, page, kmflag, true));
}

static KMEM_NOINLINE void *
bsd_alloc_slow(size_t size, struct malloc_type *type, int flags, int kmflag,
    const char *fn)
{
	uint32_t ctr = kmi_bsd_type_check(type, fn);
	if ((flags & M_POWEROF2) && size > 1 && size <= KMEM_FACE_CLASS_MAX)
		size = (size_t)1 << highbit(size - 1);
	bool nowait = (kmflag & KM_NOSLEEP) != 0;
	size_t unit = bsd_unit(size);
	kmem_cache_t *cp = NULL;
	void *buf = NULL;

	if (unit == 0) {		/* past the address space */
		if (!nowait && !(flags & M_CANFAIL))
			bsd_too_large(fn, size, type, "larger than the address "
			    "space");
		kmi_bsd_failed(type);
		return (NULL);
	}
	bool limited = !(flags & BSD_RESERVED) &&
	    kmem_load_relaxed(&type->ks_limit) != 0;
	int lt = limited ? kmi_bsd_limit_take(type, unit, !nowait &&
	    !(flags & M_NULLOK), fn) : LIMIT_OK;
	if (lt == LIMIT_NEVER && !nowait && !(flags & (M_CANFAIL | M_NULLOK))) {
		char why[64];
		kmi_snprintf(why, sizeof (why), "larger than the type's limit "
		    "(%lu)", type->ks_limit);
		bsd_too_large(fn, size, type, why);
	}
	if (lt != LIMIT_OK) {
		kmi_bsd_failed(type);
		return (NULL);
	}
	if (size <= KMEM_FACE_CLASS_MAX) {
		cp = kmem_face_class(bsd_rsize(size));
		buf = kmem_alloc(bsd_rsize(size), kmflag);
	} else if (nowait) {
		buf = kmi_owner_large_alloc(size, kmem_plat_pagesize(),
		    kmflag, true);
	} else {
		buf = bsd_alloc_large_wait(size, type, flags, kmflag, fn);
	}
	if (buf == NULL) {
		if (limited)
			kmi_bsd_limit_give(type, unit);
		kmi_bsd_failed(type);
		if (cp != NULL && kmem_face_guarded(cp))
			kmi_printf(NULL, NULL, "malloc: out of space in "
			    "kmem_map (%s: %zu bytes of %s, M_NOWAIT)", fn,
			    size, type->ks_shortdesc);
		return (NULL);
	}
	kmem_face_count(ctr + MT_ALLOCS, 1, unit);
	bsd_note_class(type, cp != NULL ? kmem_face_class_index(cp) :
	    BSD_SIZE_LARGE);
	if (cp != NULL && kmem_face_guarded(cp))
		kmem_face_tag_set(cp, buf, kmem_bsd_tag(type));
	kmi_bsd_sample(type);
	if (flags & M_ZERO)
		memset(buf, 0, size);
	return (buf);
}

static KMEM_NOINLINE void *
bsd_zero(void *buf, size_t size)
{
	return (memset(buf, 0, size));
}

/*
 * The fast path: a registered type without a limit, a size class, this
 * CPU's magazine, counted in the same busy section.  Everything else --
 * first use, limits, M_POWEROF2, large sizes, misses -- is the slow path's.
 */
static KMEM_ALWAYS_INLINE void *
bsd_alloc(size_t size, struct malloc_type *type, int flags, int kmflag,
    const char *fn)
{
	uint32_t ctr = kmem_bsd_fast_key(type);
	void *buf;

	if (KMEM_LIKELY(ctr != 0 && size - 1 < KMEM_FACE_CLASS_MAX &&
	    !(flags & M_POWEROF2))) {
		kmem_cache_t *cp = kmem_face_class(bsd_rsize(size));
		if (KMEM_LIKELY(kmem_face_alloc_counted(cp, &buf,
		    ctr + MT_ALLOCS))) {
			bsd_note_class(type, kmem_face_class_index(cp));
			if (flags & M_ZERO)
				return (bsd_zero(buf, size));
			return (buf);
		}
	}
	return (bsd_alloc_slow(size, type, flags, kmflag, fn));
}

/* ---- freeing ---- */

/* A registered type whose tag is tag, or NULL. */
static struct malloc_type *
bsd_tag_type(uintptr_t tag)
{
	for (struct malloc_type *t = kmem_load_acquire(&kmem_bsd_types);
	    t != NULL; t = t->ks_next)
		if (kmem_bsd_tag(t) == tag)
			return (t);
	return (NULL);
}

/* A guarded buffer freed with another type than it was allocated with. */
static void
bsd_wrong_bucket(kmem_cache_t *cp, void *addr, struct malloc_type *type,
    const char *fn)
{
	struct malloc_type *was = bsd_tag_type(kmem_face_tag(cp, addr));
	char detail[200];

	kmi_printf(NULL, NULL, "malloc: wrong bucket");
	kmi_snprintf(detail, sizeof (detail), "%s(%p, %s): allocated %s%s",
	    fn, addr, type->ks_shortdesc, was != NULL ? "as type " :
	    "by kmem_alloc() or malloc(3), not malloc(9)",
	    was != NULL ? was->ks_shortdesc : "");
	kmem_face_error(cp, addr, detail);
}

/* Not the start of a buffer kmem handed out: say what it is. */
static void
bsd_bad_free(void *addr, struct malloc_type *type, const kmem_owner_t *ow,
    const char *fn)
{
	const kmem_owner_class_t *oc = kmem_owner_class(ow);

	if (oc == NULL && (vmem_contains(kmem_oversize_arena, addr, 1) ||
	    vmem_contains(vmem_source(kmem_oversize_arena), addr, 1)))
		kmi_panic("free: unaligned addr %p, type %s (%s): in kmem's "
		    "heap but not the start of an allocated buffer (inside "
		    "one, or freed already)", addr, type->ks_shortdesc, fn);
	if (oc == NULL)
		kmi_panic("free: addr %p not within kmem_map (%s, type %s): "
		    "not memory kmem allocated", addr, fn, type->ks_shortdesc);
	if (oc == &kmi_owner_large)
		kmi_panic("free: unaligned addr %p, type %s (%s): inside a "
		    "large allocation, not its start", addr,
		    type->ks_shortdesc, fn);
	kmem_cache_t *cp = oc->oc_cache;
	kmi_printf(NULL, NULL, "free: unaligned addr %p, size %zu, type %s, "
	    "mask %zu", addr, kmem_face_bufsize(cp), type->ks_shortdesc,
	    kmem_face_align(cp) - 1);
	if (kmem_face_guarded(cp)) {
		kmem_face_free_slow(cp, addr);	/* kmem's classified report */
		return;
	}
	kmi_panic("%s(%p, %s): not the start of a buffer of %s", fn, addr,
	    type->ks_shortdesc, cp->cache_name);
}

/* give: a limited type's bytes go back (not when realloc moves them). */
static KMEM_NOINLINE void
bsd_free_slow(void *addr, struct malloc_type *type, const char *fn, bool give)
{
	uint32_t ctr = kmi_bsd_type_check(type, fn);
	const kmem_owner_t *ow = kmem_owner_get(addr);
	bool limited = give && kmem_load_relaxed(&type->ks_limit) != 0;
	kmem_cache_t *cp = kmem_owner_cache(ow, addr);
	size_t large;

	if (cp != NULL) {
		if (kmem_face_guarded(cp)) {
			if (!kmem_face_allocated(cp, addr)) {
				/* Freed twice, or damaged: kmem says which. */
				kmem_face_free_slow(cp, addr);
				return;
			}
			if (kmem_face_tag(cp, addr) != kmem_bsd_tag(type))
				bsd_wrong_bucket(cp, addr, type, fn);
		}
		kmem_face_count(ctr + MT_FREES, 1, kmem_face_bufsize(cp));
		if (limited)
			kmi_bsd_limit_give(type, kmem_face_bufsize(cp));
		kmem_face_free_slow(cp, addr);
	} else if ((large = kmem_owner_large_size(ow, addr)) != 0) {
		kmem_face_count(ctr + MT_FREES, 1, large);
		if (limited)
			kmi_bsd_limit_give(type, large);
		kmi_owner_large_free(addr, large);
	} else if (addr == NULL) {
		if (kmi_strcmp(fn, "kfree") == 0)
			kmi_panic("kfree: trying to free NULL pointer (type %s)",
			    type->ks_shortdesc);
	} else {
		bsd_bad_free(addr, type, ow, fn);
	}
}

/* The fast path: a registered type without a limit, a class buffer. */
static KMEM_ALWAYS_INLINE void
bsd_free(void *addr, struct malloc_type *type, const char *fn)
{
	uint32_t ctr = kmem_bsd_fast_key(type);
	const kmem_owner_t *ow = kmem_owner_get(addr);
	const kmem_owner_class_t *oc = kmem_owner_class(ow);

	if (KMEM_LIKELY(ctr != 0 && oc != NULL &&
	    kmem_owner_holds(oc, ow, addr) &&
	    kmem_face_free_counted(oc, addr, ctr + MT_FREES)))
		return;
	bsd_free_slow(addr, type, fn, true);
}

/* The usable size of addr, a buffer of the faces (or a bad free). */
static size_t
bsd_usable(void *addr, struct malloc_type *type, const char *fn)
{
	const kmem_owner_t *ow = kmem_owner_get(addr);
	kmem_cache_t *cp = kmem_owner_cache(ow, addr);
	size_t large;

	if (cp != NULL)
		return (kmem_face_bufsize(cp));
	if ((large = kmem_owner_large_size(ow, addr)) != 0)
		return (large);
	bsd_bad_free(addr, type, ow, fn);
	return (0);
}

/*
 * Resize a limited type's buffer: only the growth counts against the
 * limit (the old buffer's bytes pass to the new one), so a resize never
 * waits for its own buffer to be freed.
 */
static void *
bsd_realloc_limited(void *addr, size_t old, size_t size,
    struct malloc_type *type, int flags, int kmflag, const char *fn)
{
	size_t unit = bsd_unit(size);
	bool nowait = (kmflag & KM_NOSLEEP) != 0;

	if (unit == 0 || unit > kmem_load_relaxed(&type->ks_limit))
		return (bsd_alloc_slow(size, type, flags, kmflag, fn));
	size_t grow = unit > old ? unit - old : 0;
	if (grow != 0 && kmi_bsd_limit_take(type, grow, !nowait &&
	    !(flags & M_NULLOK), fn) != LIMIT_OK) {
		kmi_bsd_failed(type);
		return (NULL);
	}
	void *nbuf = bsd_alloc_slow(size, type, (flags & ~M_ZERO) |
	    BSD_RESERVED, grow != 0 ? kmflag : KM_NOSLEEP, fn);
	if (nbuf == NULL) {
		if (grow != 0)
			kmi_bsd_limit_give(type, grow);
		return (grow == 0 ? addr : NULL);	/* a shrink stays */
	}
	memcpy(nbuf, addr, kmem_min(old, size));
	bsd_free_slow(addr, type, fn, false);
	if (unit < old)
		kmi_bsd_limit_give(type, old - unit);
	return (nbuf);
}

/*
 * Resize: the same buffer while the new size fits it without wasting
 * more than half; else a new one, the contents copied, the old freed.
 * On failure the old buffer is untouched; a shrink that cannot get new
 * memory keeps its buffer.
 */
static void *
bsd_realloc(void *addr, size_t size, struct malloc_type *type, int flags,
    int kmflag, const char *fn)
{
	if (addr == NULL)
		return (bsd_alloc(size, type, flags, kmflag, fn));
	size_t old = bsd_usable(addr, type, fn);
	if (old == 0)
		return (NULL);		/* noabort: a bad pointer stays */
	if (size <= old && size > old / 2)
		return (addr);
	if (kmem_load_relaxed(&type->ks_limit) != 0)
		return (bsd_realloc_limited(addr, old, size, type, flags,
		    kmflag, fn));
	bool shrink = size <= old;
	void *nbuf = bsd_alloc(size, type, flags & ~M_ZERO, shrink ?
	    KM_NOSLEEP : kmflag, fn);
	if (nbuf == NULL)
		return (shrink ? addr : NULL);
	memcpy(nbuf, addr, kmem_min(old, size));
	bsd_free(addr, type, fn);
	return (nbuf);
}

/* ---- NetBSD malloc(9) ---- */

static inline int
malloc9_kmflag(int flags)
{
	return (((flags & M_NOWAIT) ? KM_NOSLEEP : KM_SLEEP) |
	    ((flags & (M_USE_RESERVE | M_USE_INTERRUPT_RESERVE)) ?
	    KM_PUSHPAGE : 0));
}

void *
kmem_bsd_malloc(unsigned long size, struct malloc_type *type, int flags)
{
	return (bsd_alloc(size, type, flags, malloc9_kmflag(flags), "malloc"));
}

void
kmem_bsd_free(void *addr, struct malloc_type *type)
{
	bsd_free(addr, type, "free");
}

void *
kmem_bsd_realloc(void *addr, unsigned long size, struct malloc_type *type,
    int flags)
{
	(void) kmi_bsd_type_check(type, "realloc");
	if (addr != NULL && size == 0) {
		bsd_free(addr, type, "realloc");
		return (NULL);
	}
	return (bsd_realloc(addr, size, type, flags, malloc9_kmflag(flags),
	    "realloc"));
}

unsigned long
malloc_roundup(unsigned long size)
{
	if (!kmem_face_init())
		return (size);
	size_t unit = bsd_unit(size);
	return (unit == 0 ? size : unit);
}

/* ---- DragonFly kmalloc(9) ---- */

static _Noreturn KMEM_NOINLINE void
kmalloc_bad_flags(int flags, const char *fn)
{
	kmi_panic("%s: flags 0x%x give %s of M_WAITOK and M_NOWAIT: exactly "
	    "one (or M_INTWAIT) is required", fn, (unsigned)flags,
	    (flags & (M_WAITOK | M_NOWAIT)) == 0 ? "neither" : "both");
}

/* Exactly one of M_WAITOK and M_NOWAIT (M_INTWAIT has M_WAITOK). */
static KMEM_ALWAYS_INLINE int
kmalloc_kmflag(int flags, const char *fn)
{
	if (KMEM_UNLIKELY((unsigned)(flags & (M_WAITOK | M_NOWAIT)) - 1 > 1))
		kmalloc_bad_flags(flags, fn);
	return (malloc9_kmflag(flags));
}

void *
kmalloc(unsigned long size, struct malloc_type *type, int flags)
{
	return (bsd_alloc(size, type, flags, kmalloc_kmflag(flags, "kmalloc"),
	    "kmalloc"));
}

void
kfree(void *addr, struct malloc_type *type)
{
	bsd_free(addr, type, "kfree");
}

void *
krealloc(void *addr, unsigned long size, struct malloc_type *type, int flags)
{
	int kmflag = kmalloc_kmflag(flags, "krealloc");

	if (flags & M_ZERO)
		kmi_panic("krealloc: M_ZERO is not supported (flags 0x%x)",
		    (unsigned)flags);
	(void) kmi_bsd_type_check(type, "krealloc");
	if (addr != NULL && size == 0) {
		bsd_free(addr, type, "krealloc");
		return (NULL);
	}
	return (bsd_realloc(addr, size, type, flags, kmflag, "krealloc"));
}

char *
kstrdup(const char *str, struct malloc_type *type)
{
	if (str == NULL)
		return (NULL);
	size_t len = kmi_strlen(str) + 1;
	char *copy = kmalloc(len, type, M_WAITOK);
	memcpy(copy, str, len);
	return (copy);
}
