/*
 * The statistics layer's shared internals: what its files use of each
 * other.
 */
#ifndef KMEM_STATS_IMPL_H
#define KMEM_STATS_IMPL_H

#include "../init/init_impl.h"

/* Every arena's ::vmem row as a JSON list "arenas" (vmem_stat.c). */
void vmi_json_arenas(kmem_json_t *kj);

#endif /* KMEM_STATS_IMPL_H */
