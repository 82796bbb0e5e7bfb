/*
 * The test suites' heap: whole pages from the kernel's page allocator
 * (mem.c), beside kmem, with the size in a header; and abort, _exit and
 * rand_r.  The suites allocate little (arrays of pointers, captured
 * report lines), so a page per allocation is enough.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel.h"

#define	HEADER	16
#define	PAGE	4096

static size_t
heap_span(size_t size)
{
	return ((size + HEADER + PAGE - 1) & ~(size_t)(PAGE - 1));
}

void *
malloc(size_t size)
{
	if (size > SIZE_MAX - 2 * PAGE)
		return (NULL);
	size_t *h = mem_pages_alloc(heap_span(size));
	if (h == NULL)
		return (NULL);
	*h = size;
	return ((char *)h + HEADER);
}

void *
calloc(size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return (NULL);
	void *p = malloc(n * size);
	if (p != NULL)
		memset(p, 0, n * size);
	return (p);
}

void
free(void *p)
{
	if (p == NULL)
		return;
	size_t *h = (size_t *)(void *)((char *)p - HEADER);
	mem_pages_free(h, heap_span(*h));
}

void *
realloc(void *p, size_t size)
{
	size_t old = p != NULL ? *(size_t *)(void *)((char *)p - HEADER) : 0;

	if (p != NULL && heap_span(old) == heap_span(size)) {
		*(size_t *)(void *)((char *)p - HEADER) = size;
		return (p);
	}
	void *q = malloc(size);
	if (q != NULL && p != NULL) {
		memcpy(q, p, old < size ? old : size);
		free(p);
	}
	return (q);
}

_Noreturn void
abort(void)
{
	kernel_panic("abort() called");
}

_Noreturn void
_exit(int status)
{
	kernel_panic("_exit(%d) called: no processes in the kernel", status);
}

int
rand_r(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return ((int)((*seed >> 16) & 0x7fff));
}
