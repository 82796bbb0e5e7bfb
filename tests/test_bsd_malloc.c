/*
 * The BSD malloc faces: NetBSD malloc(9) and DragonFly kmalloc(9) as a
 * kernel source uses them, every flag and rule of their manuals, limits
 * that block and wake, statistics that add up under threads, vmstat -m,
 * and the DIAGNOSTIC messages (in kmem_bsd_helper, under KMEM_DEBUG).
 *
 * This source includes <kmem/bsd/malloc.h> with its name map, so it is
 * also the test that malloc(n)/free(p) stay the C library's while
 * malloc(n, type, flags)/free(p, type) are kmem's.
 */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/kmem_posix.h>
#include <kmem/bsd/malloc.h>

#include "harness.h"

MALLOC_DEFINE(M_KTEST, "ktest", "test_bsd_malloc's buffers");
MALLOC_DEFINE(M_KLIMIT, "klimit", "test_bsd_malloc's limited buffers");
MALLOC_DEFINE(M_KTHREAD, "kthread", "test_bsd_malloc's threads' buffers");

static struct malloc_type_stat
stat_of(struct malloc_type *type)
{
	struct malloc_type_stat mts;

	KT_EQ_U(malloc_type_stat(type, &mts), 0);
	return (mts);
}

/*
 * Large buffers freed to a limited type are kept for reuse (large.c), but
 * the type is charged exactly what it asked for: a kept 8 MiB buffer is
 * not handed to a 5 MiB request (its free would credit 8), so memory in
 * use and the limit's reservation stay true through many cycles.
 */
MALLOC_DEFINE_LIMIT(M_KLARGE, "klarge", "kept large buffers", 32ul << 20);

static void
test_large_kept(void)
{
	size_t mib = (size_t)1 << 20;
	void *live = malloc(20 * mib, M_KLARGE, M_WAITOK);

	for (int i = 0; i < 6; i++) {
		void *p = malloc(8 * mib, M_KLARGE, M_WAITOK);
		free(p, M_KLARGE);
		void *q = malloc(5 * mib, M_KLARGE, M_WAITOK);
		KT_CHECK(q != p);
		free(q, M_KLARGE);
		KT_EQ_U(stat_of(M_KLARGE).mts_memuse, 20 * mib);
	}
	KT_CHECK(malloc(30 * mib, M_KLARGE, M_NOWAIT) == NULL);	/* > limit */
	free(live, M_KLARGE);
	KT_EQ_U(stat_of(M_KLARGE).mts_memuse, 0);
}

/* Sizes, alignment, the allocation unit, MALLOC()/FREE(). */
static void
test_basic(void)
{
	static const unsigned long sizes[] = { 0, 1, 15, 16, 17, 100, 1000,
	    4096, 65537, 1 << 20, (1 << 20) + 1, 8 << 20 };
	struct malloc_type_stat before = stat_of(M_KTEST);

	for (size_t i = 0; i < sizeof (sizes) / sizeof (sizes[0]); i++) {
		unsigned long n = sizes[i], unit = malloc_roundup(n);
		char *p = malloc(n, M_KTEST, M_WAITOK);
		KT_CHECK(p != NULL && ((uintptr_t)p & 15) == 0);
		KT_CMP_U(unit, >=, n);
		KT_CMP_U(unit, >=, 16);
		memset(p, 0xa5, unit);		/* the whole unit is usable */
		struct malloc_type_stat mts = stat_of(M_KTEST);
		KT_EQ_U(mts.mts_inuse, before.mts_inuse + 1);
		KT_EQ_U(mts.mts_memuse, before.mts_memuse + unit);
		free(p, M_KTEST);
	}
	KT_EQ_U(malloc_roundup(100), 112);	/* kmem_alloc_112 */
	KT_EQ_U(malloc_roundup(1), 16);
	KT_EQ_U(malloc_roundup((1 << 20) + 1), (1 << 20) + 4096);

	int *v;
	MALLOC(v, int *, 10 * sizeof (int), M_KTEST, M_WAITOK | M_ZERO);
	KT_CHECK(v != NULL && v[0] == 0 && v[9] == 0);
	FREE(v, M_KTEST);
	free(NULL, M_KTEST);			/* NetBSD: a no-op */

	struct malloc_type_stat after = stat_of(M_KTEST);
	KT_EQ_U(after.mts_inuse, before.mts_inuse);
	KT_EQ_U(after.mts_memuse, before.mts_memuse);
	KT_EQ_U(after.mts_calls, before.mts_calls + 13);
	KT_CMP_U(after.mts_maxused, >=, 8 << 20);
	KT_CHECK(after.mts_sizes != 0);
}

/* M_ZERO zeroes what a dirty free left, on the fast path too. */
static void
test_zero(void)
{
	for (int round = 0; round < 200; round++) {
		size_t n = 8 + (size_t)round * 13;
		char *p = kmalloc(n, M_KTEST, M_WAITOK);
		memset(p, 0xff, n);
		kfree(p, M_KTEST);
		p = kmalloc(n, M_KTEST, M_WAITOK | M_ZERO);
		size_t nonzero = 0;
		for (size_t i = 0; i < n; i++)
			nonzero += p[i] != 0;
		KT_EQ_U(nonzero, 0);
		kfree(p, M_KTEST);
	}
}

/* One source, both allocators, told apart by argument count. */
static void
test_names(void)
{
	struct malloc_type_stat before = stat_of(M_KTEST);
	char *libc = malloc(40);
	char *bsd = malloc(40, M_KTEST, M_WAITOK);

	KT_CHECK(libc != NULL && bsd != NULL);
	libc = realloc(libc, 4000);		/* the C library's */
	KT_CHECK(libc != NULL);
	bsd = realloc(bsd, 4000, M_KTEST, M_WAITOK);
	KT_CHECK(bsd != NULL);
	KT_EQ_U(stat_of(M_KTEST).mts_inuse, before.mts_inuse + 1);
	free(libc);
	free(bsd, M_KTEST);
	KT_EQ_U(stat_of(M_KTEST).mts_inuse, before.mts_inuse);
}

/* M_CANFAIL and M_NOWAIT: NULL for what can never be, counted. */
static void
test_canfail(void)
{
	unsigned long failures = stat_of(M_KTEST).mts_failures;

	KT_CHECK(malloc(1UL << 50, M_KTEST, M_WAITOK | M_CANFAIL) == NULL);
	KT_CHECK(malloc(ULONG_MAX, M_KTEST, M_WAITOK | M_CANFAIL) == NULL);
	KT_CHECK(malloc(ULONG_MAX, M_KTEST, M_NOWAIT) == NULL);
	KT_CHECK(malloc(ULONG_MAX - 4095, M_KTEST, M_NOWAIT) == NULL);
	KT_CHECK(kmalloc(1UL << 50, M_KTEST, M_NOWAIT) == NULL);
	KT_EQ_U(stat_of(M_KTEST).mts_failures, failures + 5);
	/* A different size right after works. */
	void *p = malloc(100, M_KTEST, M_NOWAIT);
	KT_CHECK(p != NULL);
	free(p, M_KTEST);
}

static void
too_large(void)
{
	(void) malloc(1UL << 50, M_KTEST, M_WAITOK);
}

static struct malloc_type bogus_zeroed[1];

static void
bogus_type(void)
{
	(void) malloc(16, bogus_zeroed, M_WAITOK);
}

static void
bogus_free(void)
{
	void *p = malloc(16, M_KTEST, M_WAITOK);
	struct malloc_type fake = *M_KTEST;

	fake.ks_magic = 12345;
	free(p, &fake);
}

static void
kmalloc_neither(void)
{
	(void) kmalloc(16, M_KTEST, M_ZERO);
}

static void
kmalloc_both(void)
{
	(void) kmalloc(16, M_KTEST, M_WAITOK | M_NOWAIT);
}

static void
kfree_null(void)
{
	kfree(NULL, M_KTEST);
}

static void
krealloc_zero(void)
{
	(void) krealloc(NULL, 16, M_KTEST, M_WAITOK | M_ZERO);
}

static void
free_foreign(void)
{
	static char buf[64];

	free(buf, M_KTEST);
}

static void
free_interior(void)
{
	char *p = malloc(256, M_KTEST, M_WAITOK);

	free(p + 16, M_KTEST);
}

static void
test_panics(void)
{
	KT_EXPECT_PANIC(too_large, "malloc: allocation too large");
	KT_EXPECT_PANIC(bogus_type, "malloc - bogus type");
	KT_EXPECT_PANIC(bogus_free, "malloc - bogus type");
	KT_EXPECT_PANIC(kmalloc_neither, "neither of M_WAITOK and M_NOWAIT");
	KT_EXPECT_PANIC(kmalloc_both, "both of M_WAITOK and M_NOWAIT");
	KT_EXPECT_PANIC(kfree_null, "kfree: trying to free NULL pointer");
	KT_EXPECT_PANIC(krealloc_zero, "krealloc: M_ZERO is not supported");
	KT_EXPECT_PANIC(free_foreign, "not within kmem_map");
	KT_EXPECT_PANIC(free_interior, "free: unaligned addr");
}

/* The kmalloc(9) flags that allocate, and M_POWEROF2. */
static void
test_kmalloc_flags(void)
{
	static const int ok[] = { M_WAITOK, M_NOWAIT, M_INTWAIT, M_INTNOWAIT,
	    M_WAITOK | M_NULLOK, M_NOWAIT | M_USE_RESERVE, M_WAITOK | M_ZERO };

	for (size_t i = 0; i < sizeof (ok) / sizeof (ok[0]); i++) {
		char *p = kmalloc(300, M_KTEST, ok[i]);
		KT_CHECK(p != NULL);
		kfree(p, M_KTEST);
	}
	/* Rounded to a power of two, and aligned to it: every one a class. */
	int misaligned = 0;
	for (size_t p2 = 16; p2 <= ((size_t)1 << 20); p2 <<= 1) {
		char *p = kmalloc(p2 / 2 + 1, M_KTEST, M_WAITOK | M_POWEROF2);
		misaligned += p == NULL || ((uintptr_t)p & (p2 - 1)) != 0;
		kfree(p, M_KTEST);
	}
	KT_EQ_U(misaligned, 0);
	char *s = kstrdup("a string", M_KTEST);
	KT_CHECK(strcmp(s, "a string") == 0);
	kfree(s, M_KTEST);
	KT_CHECK(kstrdup(NULL, M_KTEST) == NULL);
}

/* krealloc(9): NULL, grow, shrink, size 0, and failure keeps the old. */
static void
test_krealloc(void)
{
	unsigned char *p = krealloc(NULL, 10, M_KLIMIT, M_WAITOK);

	KT_CHECK(p != NULL);
	for (int i = 0; i < 10; i++)
		p[i] = (unsigned char)i;
	static const size_t steps[] = { 20, 300, 5000, 2 << 20, 40, 12 };
	for (size_t s = 0; s < sizeof (steps) / sizeof (steps[0]); s++) {
		p = krealloc(p, steps[s], M_KLIMIT, M_WAITOK);
		size_t bad = 0;
		for (size_t i = 0; i < 10 && i < steps[s]; i++)
			bad += p[i] != (unsigned char)i;
		KT_EQ_U(bad, 0);
	}
	/* A limit makes growing fail: the old buffer is intact. */
	malloc_type_setlimit(M_KLIMIT, 64 << 10);
	KT_CHECK(krealloc(p, 1 << 20, M_KLIMIT, M_NOWAIT) == NULL);
	size_t bad = 0;
	for (size_t i = 0; i < 10; i++)
		bad += p[i] != (unsigned char)i;
	KT_EQ_U(bad, 0);
	malloc_type_setlimit(M_KLIMIT, 0);
	KT_CHECK(krealloc(p, 0, M_KLIMIT, M_WAITOK) == NULL);	/* frees */
	KT_EQ_U(stat_of(M_KLIMIT).mts_inuse, 0);
}

/* At the limit: M_NOWAIT and M_NULLOK get NULL; freeing makes room. */
static void
test_limit_nowait(void)
{
	enum { N = 16 };
	char *v[N];
	unsigned long failures = stat_of(M_KLIMIT).mts_failures;

	malloc_type_setlimit(M_KLIMIT, N * 4096);
	KT_EQ_U(stat_of(M_KLIMIT).mts_limit, N * 4096);
	for (int i = 0; i < N; i++)
		KT_CHECK((v[i] = malloc(4096, M_KLIMIT, M_NOWAIT)) != NULL);
	KT_CHECK(malloc(4096, M_KLIMIT, M_NOWAIT) == NULL);
	KT_CHECK(malloc(16, M_KLIMIT, M_NOWAIT) == NULL);
	KT_CHECK(kmalloc(16, M_KLIMIT, M_WAITOK | M_NULLOK) == NULL);
	KT_EQ_U(stat_of(M_KLIMIT).mts_failures, failures + 3);
	free(v[0], M_KLIMIT);
	KT_CHECK((v[0] = malloc(4096, M_KLIMIT, M_NOWAIT)) != NULL);
	for (int i = 0; i < N; i++)
		free(v[i], M_KLIMIT);
	/* Raising never lowers; 0 removes the limit. */
	kmalloc_raise_limit(M_KLIMIT, 100);
	KT_EQ_U(stat_of(M_KLIMIT).mts_limit, N * 4096);
	kmalloc_raise_limit(M_KLIMIT, 0);
	KT_EQ_U(stat_of(M_KLIMIT).mts_limit, 0);
	void *big = malloc(1 << 20, M_KLIMIT, M_NOWAIT);
	KT_CHECK(big != NULL);
	free(big, M_KLIMIT);
}

static volatile int limit_waiter_done;

static void *
limit_waiter(void *arg)
{
	void **out = arg;

	*out = malloc(4096, M_KLIMIT, M_WAITOK);
	__atomic_store_n(&limit_waiter_done, 1, __ATOMIC_RELEASE);
	return (NULL);
}

/* M_WAITOK at the limit sleeps until memory of the type is freed. */
static void
test_limit_wait(void)
{
	enum { N = 4 };
	void *v[N], *got = NULL;
	pthread_t t;

	malloc_type_setlimit(M_KLIMIT, N * 4096);
	for (int i = 0; i < N; i++)
		v[i] = malloc(4096, M_KLIMIT, M_WAITOK);
	unsigned long blocks = stat_of(M_KLIMIT).mts_limblocks;
	limit_waiter_done = 0;
	pthread_create(&t, NULL, limit_waiter, &got);
	/* Memory of another type does not wake it. */
	void *other = malloc(4096, M_KTEST, M_WAITOK);
	free(other, M_KTEST);
	usleep(100000);
	KT_CHECK(!__atomic_load_n(&limit_waiter_done, __ATOMIC_ACQUIRE));
	free(v[0], M_KLIMIT);
	for (int i = 0; i < 2000 &&
	    !__atomic_load_n(&limit_waiter_done, __ATOMIC_ACQUIRE); i++)
		usleep(10000);			/* fails after 20 s, no hang */
	KT_CHECK(__atomic_load_n(&limit_waiter_done, __ATOMIC_ACQUIRE));
	pthread_join(t, NULL);
	KT_CHECK(got != NULL);
	KT_EQ_U(stat_of(M_KLIMIT).mts_limblocks, blocks + 1);
	v[0] = got;
	for (int i = 0; i < N; i++)
		free(v[i], M_KLIMIT);
	malloc_type_setlimit(M_KLIMIT, 0);
}

/* ---- statistics under threads, with cross-thread frees ---- */

enum { NTHREAD = 4, PER_THREAD = 3000 };
static void *handoff[NTHREAD][PER_THREAD];
static size_t handoff_unit[NTHREAD][PER_THREAD];
static pthread_barrier_t stats_barrier;

static void *
stats_worker(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(me + 1);

	for (int i = 0; i < PER_THREAD; i++) {
		size_t n = 1 + kt_rand(&seed) % (i % 50 == 0 ? 200000 : 2000);
		handoff[me][i] = i % 2 ? kmalloc(n, M_KTHREAD, M_WAITOK) :
		    malloc(n, M_KTHREAD, M_WAITOK);
		handoff_unit[me][i] = malloc_roundup(n);
	}
	pthread_barrier_wait(&stats_barrier);	/* main checks the sums */
	pthread_barrier_wait(&stats_barrier);
	/* Free the next thread's buffers: every free crosses threads. */
	int victim = (me + 1) % NTHREAD;
	for (int i = 0; i < PER_THREAD; i++)
		(i % 3 ? kfree : kmem_bsd_free)(handoff[victim][i], M_KTHREAD);
	return (NULL);
}

static void
test_stats_threads(void)
{
	pthread_t t[NTHREAD];
	struct malloc_type_stat before = stat_of(M_KTHREAD);

	pthread_barrier_init(&stats_barrier, NULL, NTHREAD + 1);
	for (int i = 0; i < NTHREAD; i++)
		pthread_create(&t[i], NULL, stats_worker, (void *)(intptr_t)i);
	pthread_barrier_wait(&stats_barrier);
	unsigned long units = 0;
	for (int i = 0; i < NTHREAD; i++)
		for (int j = 0; j < PER_THREAD; j++)
			units += handoff_unit[i][j];
	struct malloc_type_stat mid = stat_of(M_KTHREAD);
	KT_EQ_U(mid.mts_inuse, before.mts_inuse + NTHREAD * PER_THREAD);
	KT_EQ_U(mid.mts_memuse, before.mts_memuse + units);
	KT_EQ_U(mid.mts_calls, before.mts_calls + NTHREAD * PER_THREAD);
	KT_CMP_U(mid.mts_maxused, >=, mid.mts_memuse);
	pthread_barrier_wait(&stats_barrier);
	for (int i = 0; i < NTHREAD; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&stats_barrier);
	struct malloc_type_stat after = stat_of(M_KTHREAD);
	KT_EQ_U(after.mts_inuse, before.mts_inuse);
	KT_EQ_U(after.mts_memuse, before.mts_memuse);
	KT_CMP_U(after.mts_maxused, >=, units);
	KT_EQ_U(after.mts_calls, mid.mts_calls);
}

/* ---- vmstat -m ---- */

static void
test_vmstat(void)
{
	kt_capture_t cap = { 0 };
	void *p[3];

	p[0] = malloc(100, M_KTEST, M_WAITOK);
	p[1] = malloc(100, M_KTEST, M_WAITOK);
	p[2] = malloc(3 << 20, M_KTEST, M_WAITOK);
	struct malloc_type_stat mts = stat_of(M_KTEST);
	kmem_vmstat_m(kt_capture_line, &cap);
	KT_CHECK(strstr(cap.kc_buf, "Memory statistics by bucket size\n"
	    "    Size   In Use   Free   Requests  HighWater  Couldfree\n") !=
	    NULL);
	KT_CHECK(strstr(cap.kc_buf, "Memory statistics by type") != NULL);
	KT_CHECK(strstr(cap.kc_buf, "         Type  InUse MemUse HighUse  "
	    "Limit Requests Limit Limit Size(s)\n") != NULL);
	KT_CHECK(strstr(cap.kc_buf, "Memory totals:  In Use    Free    "
	    "Requests\n") != NULL);
	/* The type's line: its short description, then its in-use count. */
	char *line = strstr(cap.kc_buf, "         ktest");
	unsigned long inuse = 0, calls = 0;
	char sizes[256] = "";
	KT_CHECK(line != NULL && sscanf(line, " ktest %lu %*s %*s %*s "
	    "%lu %*s %*s %255s", &inuse, &calls, sizes) == 3);
	KT_EQ_U(inuse, mts.mts_inuse);
	KT_EQ_U(calls, mts.mts_calls);
	KT_CHECK(strstr(sizes, "112") != NULL &&
	    strstr(sizes, "large") != NULL);
	/* The buckets' types. */
	KT_CHECK(strstr(cap.kc_buf, "     112  ") != NULL);
	for (int i = 0; i < 3; i++)
		free(p[i], M_KTEST);
	kt_capture_free(&cap);
}

/* Types registered on first use are walked; detach takes one off. */
MALLOC_DEFINE(M_KMODULE, "kmodule", "a module's type, detached");

static int
find_type(struct malloc_type *type, void *arg)
{
	return (type == arg);
}

static void
test_attach_detach(void)
{
	KT_EQ_U(malloc_type_walk(find_type, M_KMODULE), 0);
	malloc_type_attach(M_KMODULE);
	KT_EQ_U(malloc_type_walk(find_type, M_KMODULE), 1);
	void *p = malloc(64, M_KMODULE, M_WAITOK);
	free(p, M_KMODULE);
	malloc_type_detach(M_KMODULE);
	KT_EQ_U(malloc_type_walk(find_type, M_KMODULE), 0);
	p = malloc(64, M_KMODULE, M_WAITOK);	/* back on first use */
	KT_EQ_U(malloc_type_walk(find_type, M_KMODULE), 1);
	KT_EQ_U(stat_of(M_KMODULE).mts_calls, 2);
	free(p, M_KMODULE);
	KT_EQ_U(malloc_type_stat(bogus_zeroed, &(struct malloc_type_stat){0}),
	    (uint64_t)-1);
}

/* A detach waits for a walk that may still read the type (an unload). */
static int walk_state;		/* 1: in the walk, 2: done (atomics) */

static int
slow_walk(struct malloc_type *type, void *arg)
{
	(void)arg;
	if (type == M_KMODULE &&
	    __atomic_load_n(&walk_state, __ATOMIC_ACQUIRE) == 0) {
		__atomic_store_n(&walk_state, 1, __ATOMIC_RELEASE);
		usleep(kt_quick ? 20000 : 100000);
		__atomic_store_n(&walk_state, 2, __ATOMIC_RELEASE);
	}
	return (0);
}

static void *
walker(void *arg)
{
	(void) malloc_type_walk(slow_walk, arg);
	return (NULL);
}

static void
test_detach_waits_for_walk(void)
{
	pthread_t t;

	malloc_type_attach(M_KMODULE);
	__atomic_store_n(&walk_state, 0, __ATOMIC_RELEASE);
	pthread_create(&t, NULL, walker, NULL);
	while (__atomic_load_n(&walk_state, __ATOMIC_ACQUIRE) == 0)
		sched_yield();
	malloc_type_detach(M_KMODULE);
	/* The walk was done with it. */
	KT_EQ_U(__atomic_load_n(&walk_state, __ATOMIC_ACQUIRE), 2);
	pthread_join(t, NULL);
	KT_EQ_U(malloc_type_walk(find_type, M_KMODULE), 0);
}

/* ---- DIAGNOSTIC, in a process under KMEM_DEBUG ---- */

static char *
bsd_helper(const char *what, const char *env, int *status)
{
	char *argv[] = { "kmem_bsd_helper", (char *)what, NULL };
	char *envp[] = { (char *)env, NULL };

	return (kt_run_helper("kmem_bsd_helper", argv, envp, status));
}

/* Under each debug mode, seed 003's words come before kmem's report. */
static void
test_diagnostic(void)
{
	static const struct {
		const char	*what;
		const char	*bsd;
		const char	*kmem;
	} cases[] = {
		{ "dupfree", "multiply freed item", "duplicate free" },
		{ "dupfree", "free: duplicated free", "duplicate free" },
		{ "wrong-bucket", "malloc: wrong bucket", "bad free: free(" },
		{ "modified", "Data modified on freelist: word 3 of object",
		    "buffer modified after being freed" },
		{ "modified", "previous type helperbuf (0x",
		    "buffer modified after being freed" },
		{ "unaligned", "free: unaligned addr", "bad free: free address" },
		{ "too-large", "malloc: allocation too large",
		    "can never be satisfied" },
	};
	static const char *const modes[] = { "KMEM_DEBUG=guards,nosignal",
	    "KMEM_DEBUG=default,nosignal", "KMEM_DEBUG=lite,nosignal" };

	for (size_t m = 0; m < 3; m++) {
		for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]);
		    i++) {
			bool modified = strcmp(cases[i].what, "modified") == 0;
			/* lite checks one word: not the one written. */
			if (m == 2 && modified)
				continue;
			int status = 0;
			char *out = bsd_helper(cases[i].what, modes[m], &status);
			char *b = out != NULL ? strstr(out, cases[i].bsd) : NULL;
			char *k = b != NULL ? strstr(b, cases[i].kmem) : NULL;
			bool ok = WIFSIGNALED(status) &&
			    WTERMSIG(status) == SIGABRT && k != NULL;
#if defined(KMEM_TRACK_ASAN)
			/* Free buffers are poisoned: ASan stops the write. */
			if (modified)
				ok = out != NULL && strstr(out,
				    "AddressSanitizer: use-after-poison") != NULL;
#endif
			if (!KT_CHECK(ok))
				printf("    %s under %s (status 0x%x): %s\n",
				    cases[i].what, modes[m], status,
				    out != NULL ? out : "(nothing)");
		}
	}
	int status = 0;
	char *out = bsd_helper("foreign", "KMEM_DEBUG=guards", &status);
	KT_CHECK(WIFSIGNALED(status) && out != NULL &&
	    strstr(out, "not within kmem_map") != NULL);
	/* The budget exhausted under M_NOWAIT: a message, then NULL. */
	char *env[] = { "KMEM_DEBUG=guards",
	    "KMEM_OPTIONS=physmem=32m,reap_interval=0", NULL };
	char *argv[] = { "kmem_bsd_helper", "nowait-classes", NULL };
	out = kt_run_helper("kmem_bsd_helper", argv, env, &status);
	if (!KT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    out != NULL && strstr(out, "malloc: out of space in kmem_map") !=
	    NULL))
		printf("    %s\n", out != NULL ? out : "(nothing)");
}

/* Under a memory budget: M_NOWAIT fails and recovers; krealloc fails */
/* cleanly. */
static void
test_budget(void)
{
	const char *env = "KMEM_OPTIONS=physmem=64m,reap_interval=0";
	int status = 0;
	char *out = bsd_helper("nowait-budget", env, &status);

	if (!KT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		printf("    %s\n", out != NULL ? out : "(nothing)");
	out = bsd_helper("krealloc-budget", env, &status);
	if (!KT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		printf("    %s\n", out != NULL ? out : "(nothing)");
}

/* kmem started (and filled its magazines) before the face's first use. */
static void
test_late_start(void)
{
	int status = 0;
	char *out = bsd_helper("late-start", "KMEM_OPTIONS=reap_interval=0",
	    &status);

	if (!KT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		printf("    %s\n", out != NULL ? out : "(nothing)");
}

/* A type defined with a limit is limited from its first use. */
MALLOC_DEFINE_LIMIT(M_KDEFLIMIT, "kdeflimit", "limited at definition",
    8192);

static void
test_define_limit(void)
{
	void *a = malloc(4096, M_KDEFLIMIT, M_NOWAIT);
	void *b = malloc(4096, M_KDEFLIMIT, M_NOWAIT);

	KT_CHECK(a != NULL && b != NULL);
	KT_CHECK(malloc(16, M_KDEFLIMIT, M_NOWAIT) == NULL);
	KT_EQ_U(stat_of(M_KDEFLIMIT).mts_limit, 8192);
	free(a, M_KDEFLIMIT);
	free(b, M_KDEFLIMIT);
	KT_EQ_U(stat_of(M_KDEFLIMIT).mts_memuse, 0);
}

/* ---- from a new user's adversarial testing ---- */

/* A producer and a consumer: the high-water mark stays near the peak. */
enum { PC_Q = 64 };
static unsigned pc_n;			/* items through the ring */
static void *pc_ring[PC_Q];
MALLOC_DEFINE(M_KPRODCONS, "kprodcons", "producer/consumer buffers");

static void *
hw_producer(void *arg)
{
	(void)arg;
	for (unsigned i = 0, n = 0; n < pc_n; i++) {
		unsigned k = i % PC_Q;
		if (__atomic_load_n(&pc_ring[k], __ATOMIC_ACQUIRE) == NULL) {
			__atomic_store_n(&pc_ring[k], malloc(64, M_KPRODCONS,
			    M_WAITOK), __ATOMIC_RELEASE);
			n++;
		} else if (k == PC_Q - 1) {
			sched_yield();	/* the ring is full: let it drain */
		}
	}
	return (NULL);
}

static void *
hw_consumer(void *arg)
{
	(void)arg;
	for (unsigned i = 0, n = 0; n < pc_n; i++) {
		void *p = __atomic_exchange_n(&pc_ring[i % PC_Q], NULL,
		    __ATOMIC_ACQ_REL);
		if (p != NULL) {
			free(p, M_KPRODCONS);
			n++;
		} else if (i % PC_Q == PC_Q - 1) {
			sched_yield();	/* the ring is empty: let it fill */
		}
	}
	return (NULL);
}

static void
test_highwater_crossthread(void)
{
	pthread_t p, c;

	pc_n = kt_quick ? 5000 : 100000;
	pthread_create(&p, NULL, hw_producer, NULL);
	pthread_create(&c, NULL, hw_consumer, NULL);
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	struct malloc_type_stat mts = stat_of(M_KPRODCONS);
	KT_EQ_U(mts.mts_inuse, 0);
	KT_CMP_U(mts.mts_maxused, <=, (PC_Q + 16) * 64);
	KT_CMP_U(mts.mts_maxused, >=, 64);
}

/* Resizing at a type's limit: a shrink needs no memory, a grow only */
/* its growth. */
MALLOC_DEFINE_LIMIT(M_KSHRINK, "kshrink", "resized at the limit", 4096);

static void
test_realloc_at_limit(void)
{
	char *p = kmalloc(4096, M_KSHRINK, M_WAITOK);

	strcpy(p, "hello");
	char *q = krealloc(p, 100, M_KSHRINK, M_WAITOK | M_NULLOK);
	KT_CHECK(q != NULL && strcmp(q, "hello") == 0);
	q = krealloc(q, 100, M_KSHRINK, M_WAITOK);
	KT_CHECK(q != NULL && strcmp(q, "hello") == 0);
	q = krealloc(q, 4000, M_KSHRINK, M_WAITOK);	/* 100 + 4000 > limit */
	KT_CHECK(q != NULL && strcmp(q, "hello") == 0);
	KT_EQ_U(stat_of(M_KSHRINK).mts_memuse, malloc_roundup(4000));
	KT_CHECK(krealloc(q, 8192, M_KSHRINK, M_WAITOK | M_NULLOK) == NULL);
	KT_CHECK(strcmp(q, "hello") == 0);
	kfree(q, M_KSHRINK);
	KT_EQ_U(stat_of(M_KSHRINK).mts_memuse, 0);
	/* Before its first use, a limited type says so. */
	KT_EQ_U(stat_of(M_KSHRINK).mts_limit, 4096);
}

MALLOC_DEFINE_LIMIT(M_KNEVER, "knever", "requests past the limit", 4096);

static void
past_limit(void)
{
	(void) malloc(8192, M_KNEVER, M_WAITOK);
}

static void
null_type_malloc(void)
{
	(void) malloc(16, (struct malloc_type *)NULL, M_WAITOK);
}

static void
null_type_kfree(void)
{
	kfree(kmalloc(16, M_KTEST, M_WAITOK), NULL);
}

static void
null_type_raise(void)
{
	kmalloc_raise_limit(NULL, 100);
}

static void
large_interior(void)
{
	char *p = malloc(3 << 20, M_KTEST, M_WAITOK);

	free(p + 8192, M_KTEST);
}

static void
large_twice(void)
{
	char *p = malloc(3 << 20, M_KTEST, M_WAITOK);

	free(p, M_KTEST);
	free(p, M_KTEST);
}

static void
test_more_panics(void)
{
	KT_EXPECT_PANIC(past_limit, "larger than the type's limit (4096)");
	KT_CHECK(malloc(8192, M_KNEVER, M_WAITOK | M_CANFAIL) == NULL);
	KT_CHECK(malloc(8192, M_KNEVER, M_NOWAIT) == NULL);
	KT_EXPECT_PANIC(null_type_malloc, "malloc - bogus type");
	KT_EXPECT_PANIC(null_type_kfree, "malloc - bogus type");
	KT_EXPECT_PANIC(null_type_raise, "malloc - bogus type: "
	    "kmalloc_raise_limit");
	KT_EXPECT_PANIC(large_interior, "in kmem's heap but not the start");
	KT_EXPECT_PANIC(large_twice, "in kmem's heap but not the start");
}

/* A thread that may not sleep gets NULL at the limit, not a hang. */
MALLOC_DEFINE_LIMIT(M_KNOSLEEP, "knosleep", "limited, no sleeping", 4096);

static void
test_limit_nosleep(void)
{
	void *a = malloc(4096, M_KNOSLEEP, M_WAITOK);

	kmem_posix_nosleep_enter();
	void *b = malloc(16, M_KNOSLEEP, M_WAITOK);
	kmem_posix_nosleep_exit();
	KT_CHECK(b == NULL);
	free(a, M_KNOSLEEP);
}

/* fork(2) while another thread uses a limited type. */
MALLOC_DEFINE_LIMIT(M_KFORK, "kfork", "limited, forked", 1UL << 30);
static volatile int fork_stop;

static void *
fork_hammer(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&fork_stop, __ATOMIC_ACQUIRE))
		free(malloc(64, M_KFORK, M_WAITOK), M_KFORK);
	return (NULL);
}

static void
test_fork_limited(void)
{
	pthread_t t;
	int hung = 0, bad = 0;

	fork_stop = 0;
	pthread_create(&t, NULL, fork_hammer, NULL);
	for (int i = 0; i < 20; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			alarm(5);
			free(malloc(64, M_KFORK, M_WAITOK), M_KFORK);
			struct malloc_type_stat mts;
			malloc_type_stat(M_KFORK, &mts);
			_exit(0);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		hung += WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM;
		bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	__atomic_store_n(&fork_stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	KT_EQ_U(hung, 0);
	KT_EQ_U(bad, 0);
}

/* A walk whose function registers a type visits each type once. */
static struct malloc_type walk_types[40];
static char walk_names[40][16];
static int walk_seen[40], walk_visits;

static int
walk_cb(struct malloc_type *t, void *arg)
{
	(void)arg;
	if (t >= walk_types && t < walk_types + 40)
		walk_seen[t - walk_types]++;
	if (++walk_visits == 3)
		free(malloc(16, &walk_types[39], M_WAITOK), &walk_types[39]);
	return (0);
}

static void
test_walk_registering(void)
{
	for (int i = 0; i < 40; i++) {
		snprintf(walk_names[i], sizeof (walk_names[i]), "kw%d", i);
		walk_types[i].ks_magic = M_MAGIC;
		walk_types[i].ks_shortdesc = walk_names[i];
		walk_types[i].ks_longdesc = walk_names[i];
	}
	for (int i = 0; i < 39; i++)
		malloc_type_attach(&walk_types[i]);
	(void) malloc_type_walk(walk_cb, NULL);
	int twice = 0, missed = 0;
	for (int i = 0; i < 39; i++) {
		twice += walk_seen[i] > 1;
		missed += walk_seen[i] == 0;
	}
	KT_EQ_U(twice, 0);
	KT_EQ_U(missed, 0);
	for (int i = 0; i < 40; i++)
		malloc_type_detach(&walk_types[i]);
}

KT_SUITE(bsd_suite,
	{ "bsd:malloc:basic", test_basic },
	{ "bsd:malloc:large-kept-exact", test_large_kept },
	{ "bsd:malloc:zero", test_zero },
	{ "bsd:malloc:names", test_names },
	{ "bsd:malloc:canfail", test_canfail },
	{ "bsd:malloc:panics", test_panics },
	{ "bsd:kmalloc:flags", test_kmalloc_flags },
	{ "bsd:kmalloc:krealloc", test_krealloc },
	{ "bsd:limit:nowait", test_limit_nowait },
	{ "bsd:limit:wait-wake", test_limit_wait },
	{ "bsd:stats:threads", test_stats_threads },
	{ "bsd:stats:vmstat", test_vmstat },
	{ "bsd:types:attach-detach", test_attach_detach },
	{ "bsd:types:detach-waits-for-walk", test_detach_waits_for_walk },
	{ "bsd:diagnostic:messages", test_diagnostic },
	{ "bsd:budget:nowait-krealloc", test_budget },
	{ "bsd:start:after-kmem", test_late_start },
	{ "bsd:limit:at-definition", test_define_limit },
	{ "bsd:stats:highwater-crossthread", test_highwater_crossthread },
	{ "bsd:limit:realloc", test_realloc_at_limit },
	{ "bsd:malloc:more-panics", test_more_panics },
	{ "bsd:limit:nosleep", test_limit_nosleep },
	{ "bsd:fork:limited-type", test_fork_limited },
	{ "bsd:types:walk-registering", test_walk_registering },
);
