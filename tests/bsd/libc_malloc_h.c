/*
 * Compiled with -I<prefix>/include/kmem/bsd (make test-examples): the
 * C library's <malloc.h> must still be reachable as <malloc.h>, beside
 * <sys/malloc.h>, in either order.
 */
#include <malloc.h>
#include <sys/malloc.h>
#include <stdio.h>

int
main(void)
{
	void *p = malloc(100);
	size_t usable = malloc_usable_size(p);

	free(p);
	void *q = malloc(100, M_TEMP, M_WAITOK);
	free(q, M_TEMP);
	if (usable < 100)
		return (1);
	printf("libc <malloc.h> and <sys/malloc.h> in one source\n");
	return (0);
}
