/*
 * kmem_alloc internals: the size tables that kmem_alloc(), kmem_free()
 * and the faces (src/face/kmem_face.h) look a size class up in.
 */
#ifndef KMEM_ALLOC_IMPL_H
#define KMEM_ALLOC_IMPL_H

#include "../magazine/magazine_impl.h"

/* kmem_alloc.c */
int kmi_alloc_caches_create(int cflags);
void kmi_alloc_caches_destroy(void);
bool kmi_alloc_could_ever(size_t size, int kmflag, size_t *budgetp,
    size_t *metap);
void *kmi_alloc_slow(size_t size, int kmflag);

/* large.c: the cache of freed large buffers (theory there). */
#define KMEM_LARGE_SLOTS	16
#define KMEM_LARGE_MIN		((size_t)16 << 20)
#define KMEM_LARGE_HUGE		((size_t)2 << 20)	/* large pages from */

typedef struct kmem_large {
	uintptr_t	le_addr;
	size_t		le_size;	/* a multiple of the page size */
	uint64_t	le_epoch;	/* lc_epoch when it was freed */
} kmem_large_t;

typedef struct kmem_large_cache {
	kmem_lock_t	lc_lock;
	uint32_t	lc_n;		/* entries, oldest first */
	size_t		lc_bytes;	/* their sizes' sum */
	size_t		lc_dirty;	/* given back resident since the */
					/* last discard of the free pages */
	uint64_t	lc_epoch;	/* kmem_update() intervals */
	kmem_large_t	lc_ent[KMEM_LARGE_SLOTS];
} kmem_large_cache_t;

extern kmem_large_cache_t kmem_large_cache;

/* A cached buffer of size bytes (page-rounded), or unless exact of up */
/* to twice that, its size in *sizep; NULL if none. */
void *kmi_large_take(size_t size, bool exact, size_t *sizep);
/* Free a large buffer of kmem_oversize (size page-rounded): cached. */
void kmi_large_free(void *buf, size_t size);
void kmi_large_flush(bool all);
/* Is [addr, addr + size) in a cached buffer?  lc_lock held (or the */
/* world stopped). */
bool kmi_large_holds(uintptr_t addr, size_t size);
void kmi_large_fork(int phase);
/* A new large buffer from vmem: large pages, unless nohugepages. */
void kmi_large_advise(void *buf, size_t size);
extern bool kmi_large_hugepages;

/* The kmem_alloc size tables (kmem_alloc.c). */
#define KMEM_ALLOC_SMALL_MAX	4096
#define KMEM_BIG_MAXBUF		1048576
extern KMEM_HIDDEN kmem_cache_t *kmem_alloc_table[KMEM_ALLOC_SMALL_MAX >> 3];
extern KMEM_HIDDEN kmem_cache_t *kmem_big_alloc_table[KMEM_BIG_MAXBUF >> 10];
extern KMEM_HIDDEN kmem_cache_t
    *kmi_alloc_table16[KMEM_ALLOC_SMALL_MAX / 16 + 1];

/* The class of the smallest multiple of 16 >= size (0..SMALL_MAX). */
static inline kmem_cache_t *
kmem_alloc_class16(size_t size)
{
	return (kmem_load_acquire(&kmi_alloc_table16[(size + 15) >> 4]));
}

/* The size tables above KMEM_ALLOC_SMALL_MAX; NULL past them. */
static inline kmem_cache_t *
kmem_alloc_cache_big(size_t index)
{
	if (index < KMEM_BIG_MAXBUF)
		return (kmem_load_acquire(&kmem_big_alloc_table[index >> 10]));
	return (NULL);
}

/* The kmem_alloc_N cache that serves size bytes; NULL above 1 MiB or 0. */
static inline kmem_cache_t *
kmem_alloc_class(size_t size)
{
	size_t index = size - 1;

	if (KMEM_LIKELY(index < KMEM_ALLOC_SMALL_MAX))
		return (kmem_load_acquire(&kmem_alloc_table[index >> 3]));
	return (kmem_alloc_cache_big(index));
}
#endif /* KMEM_ALLOC_IMPL_H */
