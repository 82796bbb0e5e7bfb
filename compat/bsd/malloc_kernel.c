/*
 * In a kernel build (_KERNEL), malloc(9), free(9) and realloc(9) are real
 * functions with the BSD signatures; hosted, <sys/malloc.h> maps them by
 * argument count instead (the C library keeps its own).
 */
#include "bsd_impl.h"

#ifdef _KERNEL
void *
malloc(unsigned long size, struct malloc_type *type, int flags)
{
	return (kmem_bsd_malloc(size, type, flags));
}

void
free(void *addr, struct malloc_type *type)
{
	kmem_bsd_free(addr, type);
}

void *
realloc(void *addr, unsigned long size, struct malloc_type *type, int flags)
{
	return (kmem_bsd_realloc(addr, size, type, flags));
}
#endif
