/*
 * A minimal kmem client, built by the install test with
 *   cc client.c $(pkg-config --cflags --libs kmem)
 */
#include <stdio.h>
#include <string.h>

#include <kmem/kmem.h>

int
main(void)
{
	kmem_cache_t *cp = kmem_cache_create("client_cache", 100, 0, NULL,
	    NULL, NULL, NULL, NULL, 0);
	char *p = kmem_cache_alloc(cp, KM_SLEEP);
	char *q = kmem_zalloc(1000, KM_SLEEP);

	strcpy(p, "hello from kmem");
	int ok = q[999] == 0 && kmem_cache_stat(cp, "buf_inuse") == 1;
	printf("%s: %s\n", p, ok ? "ok" : "FAILED");
	kmem_free(q, 1000);
	kmem_cache_free(cp, p);
	kmem_cache_destroy(cp);
	return (ok ? 0 : 1);
}
