/*
 * The memory budget as a user meets it: every size class filled to the
 * budget, freed, and the budget then used by another size (without and
 * with sleeping); reclaim callbacks that allocate; requests that can
 * never be satisfied.  Each budget run is a fresh process
 * (kmem_fresh_helper) with its own physmem.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/vmem.h>

#include "harness.h"

static bool
helper_ok(char *const argv[], char *const envp[])
{
	return (KT_FRESH_HELPER(argv, envp, 0) != NULL);
}

/* The kmem_alloc_N classes, from the cache list. */
static size_t classes[128];
static int nclasses;

static int
class_cb(kmem_cache_t *cp, void *arg)
{
	unsigned long size;

	(void)arg;
	if (sscanf(kmem_cache_name(cp), "kmem_alloc_%lu", &size) == 1 &&
	    nclasses < 128)
		classes[nclasses++] = size;
	return (0);
}

/*
 * Each class reaches 90% of a 32 MiB budget, and after everything is
 * freed another size does too: the next class half the table away, or
 * (every other class) 2 MiB oversize buffers, which need the heap's
 * retained spans given back.  Then the first size again, and KM_SLEEP.
 */
static void
test_classes(void)
{
	char *envp[] = { "KMEM_OPTIONS=physmem=32m,reap_interval=0", NULL };
	char s1[32], s2[32];

	nclasses = 0;
	KT_EQ_U(kmem_init(NULL), 0);
	(void)kmem_cache_walk(class_cb, NULL);
	KT_CMP_U(nclasses, >=, 50);
	/* Every class in release builds; a sample where validators run. */
	int step = kt_quick || KMEM_DEBUG_LEVEL >= 2 ? 7 : 1;
	for (int i = 0; i < nclasses; i += step) {
		size_t other = (i % 2) ? (size_t)2 << 20 :
		    classes[(i + nclasses / 2) % nclasses];
		snprintf(s1, sizeof (s1), "%zu", classes[i]);
		snprintf(s2, sizeof (s2), "%zu", other);
		char *argv[] = { "kmem_fresh_helper", "budget", s1, s2, NULL };
		if (!helper_ok(argv, envp))
			break;
	}
}

/* Oversize buffers first, then the small classes, and back. */
static void
test_oversize_then_small(void)
{
	char *envp[] = { "KMEM_OPTIONS=physmem=32m,reap_interval=0", NULL };
	char *argv1[] = { "kmem_fresh_helper", "budget", "3145728", "64", NULL };
	char *argv2[] = { "kmem_fresh_helper", "budget", "1048577", "65536",
	    NULL };

	helper_ok(argv1, envp);
	helper_ok(argv2, envp);
}

/* The same with the heap keeping nothing (noretain). */
static void
test_noretain(void)
{
	char *envp[] = { "KMEM_OPTIONS=physmem=32m,noretain,reap_interval=0",
	    NULL };
	char *argv[] = { "kmem_fresh_helper", "budget", "65536", "2097152",
	    NULL };

	helper_ok(argv, envp);
}

/* Frees of kept large buffers wake a KM_SLEEP waiter (large.c). */
static void
test_large_wait(void)
{
	char *envp[] = { "KMEM_OPTIONS=physmem=40m,reap_interval=0", NULL };
	char *argv[] = { "kmem_fresh_helper", "large-wait", NULL };
	char *out = KT_FRESH_HELPER(argv, envp, 0);

	KT_CHECK(out != NULL && strstr(out, "large-wait: woken") != NULL);
}

/*
 * Every page request of the first BSD malloc(9)s failing in turn, the
 * owner map's leaf among them: NULL where one fails, never an abort
 * (fresh_helper.c).
 */
static void
test_owner_faults(void)
{
	char *envp[] = { "KMEM_OPTIONS=reap_interval=0", NULL };
	char nth[24];
	unsigned long n;

	for (n = 1; n < 200; n++) {
		snprintf(nth, sizeof (nth), "%lu", n);
		char *argv[] = { "kmem_fresh_helper", "init-owner-fault", nth,
		    NULL };
		char *out = KT_FRESH_HELPER(argv, envp, 0);
		if (out == NULL || strstr(out, "beyond") != NULL)
			break;
		KT_CHECK(strstr(out, "failed") != NULL);
	}
	KT_CMP_U(n, >, 2);		/* the requests were there to fail */
	KT_CMP_U(n, <, 200);
}

/*
 * Slabs of a big cache of small buffers are made resident at once, and
 * nothing else; nopopulate turns it off (fresh_helper.c).
 */
static void
test_populate(void)
{
	char *envp_on[] = { "KMEM_OPTIONS=reap_interval=0", NULL };
	char *envp_off[] = { "KMEM_OPTIONS=nopopulate,reap_interval=0", NULL };
	char *argv_on[] = { "kmem_fresh_helper", "populate", "on", NULL };
	char *argv_off[] = { "kmem_fresh_helper", "populate", "off", NULL };
	char *out = KT_FRESH_HELPER(argv_on, envp_on, 0);
	const char *key = "resident set +";
	char *at;
	unsigned long on = 0, off = 0;

	KT_CHECK(out != NULL && strstr(out, "populate on") != NULL);
	if (out != NULL && (at = strstr(out, key)) != NULL)
		on = strtoul(at + strlen(key), NULL, 10);
	out = KT_FRESH_HELPER(argv_off, envp_off, 0);
	KT_CHECK(out != NULL && strstr(out, "populate off") != NULL);
	if (out != NULL && (at = strstr(out, key)) != NULL)
		off = strtoul(at + strlen(key), NULL, 10);
	/* Sparse large buffers between the small: what is written, both. */
	KT_CMP_U(off, >, 0);
	KT_CMP_U(on, <=, off + 2048);
}

/* A reclaim callback that allocates with KM_SLEEP while memory is short. */
static void
test_reclaim_sleep(void)
{
	char *envp[] = { "KMEM_OPTIONS=physmem=32m,reap_interval=0", NULL };
	char *envp2[] = { "KMEM_OPTIONS=physmem=32m,noretain,reap_interval=0",
	    NULL };
	char *argv[] = { "kmem_fresh_helper", "reclaim-sleep", NULL };

	helper_ok(argv, envp);
	helper_ok(argv, envp2);
}

/* ---- requests that can never be satisfied panic, naming them ---- */

static void
never_kmem_alloc(void)
{
	(void)kmem_alloc((size_t)1 << 50, KM_SLEEP);
}

static void
never_cache(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_tera", (size_t)1 << 40, 0,
	    NULL, NULL, NULL, NULL, NULL, 0);
	(void)kmem_cache_alloc(cp, KM_SLEEP);
}

static void
never_fixed_arena(void)
{
	vmem_t *vmp = vmem_create("t_small", (void *)0x100000, 1 << 20, 4096,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	(void)vmem_alloc(vmp, 2 << 20, VM_SLEEP);
}

static void
never_range(void)
{
	vmem_t *vmp = vmem_create("t_small", (void *)0x100000, 1 << 20, 4096,
	    NULL, NULL, NULL, 0, VM_SLEEP);
	(void)vmem_xalloc(vmp, 4096, 0, 0, 0, (void *)0x10000000,
	    (void *)0x20000000, VM_SLEEP);
}

static void
never_import(void)
{
	(void)kmem_init(NULL);
	vmem_t *vmp = vmem_create("t_importer", NULL, 0, 4096, vmem_alloc,
	    vmem_free, kmem_default_arena, 0, VM_SLEEP);
	(void)vmem_alloc(vmp, (size_t)1 << 50, VM_SLEEP);
}

/* Within the budget, but not with the reserve and kmem's metadata. */
static void
never_metadata(void)
{
	kmem_memstat_t ms;

	(void)kmem_init(NULL);
	(void)kmem_physmem_set(64 << 20);
	kmem_memstat(&ms);
	/* 16 KiB short of the budget less the reserve: the metadata is more */
	(void)kmem_alloc(ms.ms_physmem - ms.ms_reserve - 16384, KM_SLEEP);
}

/*
 * KM_SLEEP requests around the most a 64 MiB budget can give, each in a
 * fresh process: each succeeds or panics ("can never be satisfied"), none
 * waits forever (the helper's alarm).
 */
static void
test_sleep_band(void)
{
	char *envp[] = { "KMEM_OPTIONS=physmem=64m,reap_interval=0", NULL };
	int hung = 0, other = 0, ok = 0, never = 0;
	char below[32];

	for (size_t b = 1536 << 10; b >= 16 << 10; b -= 48 << 10) {
		char *argv[] = { "kmem_fresh_helper", "sleep-below", below, NULL };
		int status = -1;
		snprintf(below, sizeof (below), "%zu", b);
		char *out = kt_run_helper("kmem_fresh_helper", argv, envp,
		    &status);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
		else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
		    out != NULL && strstr(out, "can never be satisfied"))
			never++;
		else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
			hung++;
		else
			other++;
	}
	KT_EQ_U(hung, 0);
	KT_EQ_U(other, 0);
	KT_CMP_U(ok, >, 0);
	KT_CMP_U(never, >, 0);
}

/*
 * A VM_SLEEP waiter of an arena with quantum caches that imports from a
 * source: woken by a free of a cached size (which goes to the quantum
 * cache, never to the source).  It slept in the source before.
 */
static void *
qwake_waiter(void *arg)
{
	return (vmem_alloc(arg, 0x2000, VM_SLEEP));
}

static void
test_qcache_import_wakes(void)
{
	vmem_t *src = vmem_create("t_qsrc", (void *)0x100000, 0x40000, 0x1000,
	    NULL, NULL, NULL, 0, VMC_IDENTIFIER);
	vmem_t *vmp = vmem_create("t_qimp", NULL, 0, 0x1000, vmem_alloc,
	    vmem_free, src, 0x4000, VMC_IDENTIFIER);
	void *ids[64];
	int n = 0;
	while (n < 64 && (ids[n] = vmem_alloc(vmp, 0x2000, VM_NOSLEEP)) != NULL)
		n++;
	KT_CMP_U(n, >, 8);
	KT_CMP_U(n, <, 64);
	pthread_t t;
	void *got = NULL;
	pthread_create(&t, NULL, qwake_waiter, vmp);
	usleep(100000);
	vmem_free(vmp, ids[3], 0x2000);		/* one free: enough */
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 20;
	/* A lost wake-up fails the test instead of hanging the suite. */
	if (!KT_CHECK(pthread_timedjoin_np(t, &got, &deadline) == 0))
		return;		/* the sleeper and its arena stay */
	KT_CHECK(got == ids[3]);
	ids[3] = got;
	for (int i = 0; i < n; i++)
		vmem_free(vmp, ids[i], 0x2000);
	kmem_reap();
	vmem_destroy(vmp);
	vmem_destroy(src);
}

static void
test_never(void)
{
	KT_EXPECT_PANIC(never_kmem_alloc, "kmem_alloc(1125899906842624, "
	    "KM_SLEEP): can never be satisfied: larger than the memory budget");
	KT_EXPECT_PANIC(never_cache, "kmem_cache_alloc(t_tera, KM_SLEEP): can "
	    "never be satisfied: a slab of");
	KT_EXPECT_PANIC(never_fixed_arena, "vmem_xalloc('t_small', 2097152, "
	    "4096, 0, 0, 0x0, 0x0, VM_SLEEP): can never be satisfied: no "
	    "span of the arena can hold it");
	KT_EXPECT_PANIC(never_range, "vmem_xalloc('t_small', 4096, 4096, 0, 0, "
	    "0x10000000, 0x20000000, VM_SLEEP): can never be satisfied");
	KT_EXPECT_PANIC(never_import, "vmem_xalloc('t_importer', "
	    "1125899906842624, 4096, 0, 0, 0x0, 0x0, VM_SLEEP): can never "
	    "be satisfied: larger than the memory budget");
	KT_EXPECT_PANIC(never_metadata, "KM_SLEEP): can never be satisfied: "
	    "larger than the memory budget (physmem=67108864) less its "
	    "reserve and what kmem keeps for itself");
}

KT_SUITE(budget_suite,
	{ "budget:classes:fill-free-refill", test_classes },
	{ "budget:classes:oversize-then-small", test_oversize_then_small },
	{ "budget:classes:noretain", test_noretain },
	{ "budget:large:kept-frees-wake-waiters", test_large_wait },
	{ "budget:populate:big-small-caches-only", test_populate },
	{ "budget:owner:leaf-faults-fail-softly", test_owner_faults },
	{ "budget:reclaim:callback-sleeps", test_reclaim_sleep },
	{ "budget:never:panics", test_never },
	{ "budget:sleep:qcache-import-wakes", test_qcache_import_wakes },
	{ "budget:sleep:succeeds-or-never", test_sleep_band },
);
