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

/* The kmem_alloc size tables (kmem_alloc.c). */
#define KMEM_ALLOC_SMALL_MAX	4096
#define KMEM_BIG_MAXBUF		1048576
extern KMEM_HIDDEN kmem_cache_t *kmem_alloc_table[KMEM_ALLOC_SMALL_MAX >> 3];
extern KMEM_HIDDEN kmem_cache_t *kmem_big_alloc_table[KMEM_BIG_MAXBUF >> 12];

/* The size tables above KMEM_ALLOC_SMALL_MAX; NULL past them. */
static inline kmem_cache_t *
kmem_alloc_cache_big(size_t index)
{
	if (index < KMEM_BIG_MAXBUF)
		return (kmem_load_acquire(&kmem_big_alloc_table[index >> 12]));
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
