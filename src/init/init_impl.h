/*
 * Start-up internals (init.c): the root arena, and what the periodic
 * work and reaping do with the arenas.
 */
#ifndef KMEM_INIT_IMPL_H
#define KMEM_INIT_IMPL_H

#include "../kmem_alloc/kmem_alloc_impl.h"

extern vmem_t *kmem_heap_arena;
void kmi_release_free_pages(void);

#endif /* KMEM_INIT_IMPL_H */
