/*
 * Run by tests/test_debug.c with KMEM_DEBUG=guards in the environment (the
 * kmem_alloc caches are created at start-up, so they are guarded only if
 * the process starts that way): commits the kmem_free bug named by argv[1].
 * Run by tests/valgrind_tracking.sh under valgrind: commits a use after
 * free (uaf) or reads memory never written (uninit).
 */
#include <string.h>

#include <kmem/kmem.h>

int
main(int argc, char **argv)
{
	if (argc < 2)
		return (2);
	if (strcmp(argv[1], "size") == 0) {
		void *p = kmem_alloc(100, KM_SLEEP);
		kmem_free(p, 110);		/* same size class, wrong size */
	} else if (strcmp(argv[1], "redzone") == 0) {
		char *p = kmem_alloc(100, KM_SLEEP);
		p[100] = 0;			/* one byte too far */
		kmem_free(p, 100);
	} else if (strcmp(argv[1], "uaf") == 0) {
		volatile char *p = kmem_alloc(100, KM_SLEEP);
		kmem_free((void *)p, 100);
		p[8] = 1;			/* use after free */
	} else if (strcmp(argv[1], "uninit") == 0) {
		volatile char *p = kmem_alloc(100, KM_SLEEP);
		if (p[5] == 7)			/* never written */
			return (7);
		kmem_free((void *)p, 100);
	} else if (strcmp(argv[1], "clean") == 0) {
		for (size_t size = 1; size < 5000; size += 7)
			kmem_free(kmem_alloc(size, KM_SLEEP), size);
	}
	return (0);
}
