/*
 * Start-up internals (init.c): the root arena.
 */
#ifndef KMEM_INIT_IMPL_H
#define KMEM_INIT_IMPL_H

#include "../kmem_alloc/kmem_alloc_impl.h"

extern vmem_t *kmem_heap_arena;
void kmi_world_lock(void);
void kmi_world_unlock(void);

#endif /* KMEM_INIT_IMPL_H */
