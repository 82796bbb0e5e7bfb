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

KT_SUITE(stats_suite,
	{ "stats:kmastat:table", test_kmastat },
	{ "stats:walk:stops", test_walk_stops },
);
