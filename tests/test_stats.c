/*
 * Statistics tests: ::kmastat and ::vmem tables, walks that stop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/kmem.h>
#include "harness.h"

static void
test_kmastat(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_statcache", 100, 0, NULL,
	    NULL, NULL, NULL, NULL, 0);
	void *p[10];
	for (int i = 0; i < 10; i++)
		p[i] = kmem_cache_alloc(cp, KM_SLEEP);
	kt_capture_t c = { NULL, 0, 0 };
	kmem_kmastat(kt_capture_line, &c);
	KT_CHECK(c.kc_buf != NULL && c.kc_lines > 40);
	KT_CHECK(strstr(c.kc_buf, "alloc") != NULL);
	KT_CHECK(strstr(c.kc_buf, "kmem_alloc_16 ") != NULL);
	KT_CHECK(strstr(c.kc_buf, "Total [kmem_default]") != NULL);
	KT_CHECK(strstr(c.kc_buf, "vmem name") != NULL);
	KT_CHECK(strstr(c.kc_buf, "kmem_oversize") != NULL);
	/* kmem's own caches and arenas keep their illumos names. */
	static const char *const own[] = { "kmem_cache ", "kmem_slab_cache ",
	    "kmem_bufctl_cache ", "kmem_magazine_15 ", "kmem_metadata",
	    "kmem_default_4096 ", "heap" };
	for (size_t i = 0; i < sizeof (own) / sizeof (own[0]); i++)
		if (!KT_CHECK(strstr(c.kc_buf, own[i]) != NULL))
			printf("    no \"%s\" in ::kmastat\n", own[i]);
	char *line = strstr(c.kc_buf, "t_statcache");
	KT_CHECK(line != NULL);
	if (line != NULL) {
		unsigned long size = 0, inuse = 0;
		KT_EQ_U(sscanf(line, "t_statcache %lu %lu", &size, &inuse), 2);
		KT_EQ_U(size, 100);
		KT_EQ_U(inuse, 10);
	}
	kt_capture_free(&c);
	for (int i = 0; i < 10; i++)
		kmem_cache_free(cp, p[i]);
	kmem_cache_destroy(cp);
}

static int
count_until(kmem_cache_t *cp, void *arg)
{
	(void)cp;
	return (--*(int *)arg == 0);
}

static void
test_walk_stops(void)
{
	int n = 3;
	KT_EQ_U(kmem_cache_walk(count_until, &n), 1);
	KT_EQ_U(n, 0);
	kmem_cache_t *cp = kmem_cache_create("t_unknown", 8, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	KT_EQ_U(kmem_cache_stat(cp, "no_such_stat"), 0);
	KT_EQ_U(kmem_cache_stat(cp, "buf_size"), 8);
	kmem_cache_destroy(cp);
}

/* ::whatis: cache and state of a buffer, an arena segment, nothing. */
static void
test_whatis(void)
{
	kmem_cache_t *cp = kmem_cache_create("kt_whatis", 200, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	kt_capture_t cap = { 0 };
	char want[160];
	char *a = kmem_cache_alloc(cp, KM_SLEEP);
	char *b = kmem_cache_alloc(cp, KM_SLEEP);

	KT_EQ_U(kmem_whatis(a + 10, kt_capture_line, &cap), 1);
	snprintf(want, sizeof (want), "%p is %p+0xa, allocated from "
	    "kt_whatis", (void *)(a + 10), (void *)a);
	KT_CHECK(strstr(cap.kc_buf, want) != NULL);
	kmem_cache_free(cp, b);		/* into this thread's magazine */
	kt_capture_reset(&cap);
	KT_EQ_U(kmem_whatis(b, kt_capture_line, &cap), 1);
	snprintf(want, sizeof (want), "%p is %p+0x0, freed from kt_whatis",
	    (void *)b, (void *)b);
	KT_CHECK(strstr(cap.kc_buf, want) != NULL);
	kmem_cache_free(cp, a);
	kmem_cache_reap_now(cp);	/* a goes back to its slab's list */
	kt_capture_reset(&cap);
	(void) kmem_whatis(a, kt_capture_line, &cap);
	KT_CHECK(strstr(cap.kc_buf, "freed from") != NULL);

	size_t big = 3 << 20;
	char *c = kmem_alloc(big, KM_SLEEP);
	kt_capture_reset(&cap);
	KT_EQ_U(kmem_whatis(c + 4096, kt_capture_line, &cap), 1);
	KT_CHECK(strstr(cap.kc_buf, "allocated from the kmem_oversize vmem "
	    "arena") != NULL);
	kmem_free(c, big);

	int local;
	kt_capture_reset(&cap);
	KT_EQ_U(kmem_whatis(&local, kt_capture_line, &cap), 0);
	KT_CHECK(strstr(cap.kc_buf, "is in no kmem cache or vmem arena") !=
	    NULL);
	kt_capture_free(&cap);
	kmem_cache_destroy(cp);
}

KT_SUITE(stats_suite,
	{ "stats:kmastat:table", test_kmastat },
	{ "stats:walk:stops", test_walk_stops },
	{ "stats:whatis:states", test_whatis },
);
