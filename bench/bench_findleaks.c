/*
 * kmem_findleaks() at scale: N buffers of 64 bytes on a list, every other
 * one cut out (leaked), then one scan.  Prints
 *   N seconds ns-per-buffer scratch-bytes-per-buffer leaked
 * where scratch is the growth of the peak resident set during the scan
 * (the scan's tables: it allocates nothing else).
 *
 *   bench_findleaks N
 */
#include <kmem/kmem.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct node {
	struct node	*n_next;
	char		n_pad[56];
} node_t;

node_t *list_head;	/* a root: not static, so the stores stay */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static long
peak_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_maxrss);
}

static void
quiet(void *arg, const char *line)
{
	(void)arg;
	(void)line;
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 0) : 1000000;
	kmem_cache_t *cp = kmem_cache_create("bench_node", sizeof (node_t), 0,
	    NULL, NULL, NULL, NULL, NULL, 0);

	for (size_t i = 0; i < n; i++) {
		node_t *np = kmem_cache_alloc(cp, KM_SLEEP);
		np->n_next = list_head;
		list_head = np;
	}
	for (node_t *np = list_head; np != NULL && np->n_next != NULL;
	    np = np->n_next)
		np->n_next = np->n_next->n_next;
	long before = peak_kib();
	double t0 = now();
	size_t leaked = kmem_findleaks(quiet, NULL);
	double t = now() - t0;
	printf("%zu %.3f %.1f %.1f %zu\n", n, t, t * 1e9 / (double)n,
	    (double)(peak_kib() - before) * 1024 / (double)n, leaked);
	return (leaked == n / 2 ? 0 : 1);
}
