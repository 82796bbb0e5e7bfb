/*
 * Run by the tests in a fresh process (tests/test_budget.c,
 * tests/test_init.c), where the memory budget and kmem's start-up are the
 * helper's own.  argv[1] names the scenario; the exit status is 0 on
 * success, and a message on stderr says what failed.  An alarm turns a
 * hang into a failure.
 *
 *   init                 kmem_init(NULL) (KMEM_OPTIONS from the caller)
 *   budget S1 S2         fill the budget with S1, free, fill with S2
 *                        (KM_NOSLEEP), then the same with KM_SLEEP for S2
 *   reclaim-sleep        a reclaim callback allocating with KM_SLEEP
 *   init-faults          fail each page request of kmem_init() in turn
 *   init-budget          start under budgets growing a page at a time
 *   qcache-double-free   free a quantum-cached segment twice
 *   sleep-below BYTES    kmem_alloc(KM_SLEEP) of BYTES less than the most
 *                        the budget can give: succeeds or panics, soon
 *   init-physmem-first   kmem_physmem_set() before the first allocation
 *                        outranks KMEM_OPTIONS' physmem
 *   init-unstarted MODE  kmem could not start: kmem_reap, kmem_update and
 *                        KM_NOSLEEP are harmless; MODE sleep/panic panic
 *   faults PERSIST       fail each page request of a workload in turn
 *   populate on|off      which new memory is made resident ahead of use
 *                        (off: run with the nopopulate option)
 *   init-owner-fault N   after kmem_init, the first BSD malloc(9)s with the
 *                        Nth page request failing (the owner map's among
 *                        them): NULL, never an abort, and all is well once
 *                        requests succeed
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <kmem/kmem.h>
#include <kmem/kmem_posix.h>
#include <kmem/vmem.h>
#include <kmem/bsd/malloc.h>
#include <pthread.h>

#define FAIL(...)	do { fprintf(stderr, __VA_ARGS__); \
			    fputc('\n', stderr); exit(1); } while (0)

static void
quiet(void *arg, const char *line)
{
	(void)arg;
	(void)line;
}

static void **bufs;
static size_t nbufs;

/* Allocate size with kmflag until it fails (or max); the count. */
static size_t
fill(size_t size, int kmflag, size_t max)
{
	size_t n = 0;

	while (n < max) {
		void *p = kmem_alloc(size, kmflag);
		if (p == NULL)
			break;
		memset(p, 0x5a, size < 64 ? size : 64);
		bufs[n++] = p;
	}
	return (n);
}

static void
release(size_t size, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kmem_free(bufs[i], size);
}

/*
 * Every class reaches 90% of the budget that ordinary allocations may
 * use (at most 10% lost to layout and metadata; the KM_PUSHPAGE reserve
 * is policy, not loss), and after a full free another size reaches it
 * too, without and with sleeping.
 */
static void
budget(size_t s1, size_t s2)
{
	kmem_memstat_t ms;

	kmem_memstat(&ms);
	size_t budget = ms.ms_physmem - ms.ms_reserve;
	size_t want1 = budget / 10 * 9 / s1, want2 = budget / 10 * 9 / s2;

	nbufs = budget / (s1 < s2 ? s1 : s2) + 1;
	bufs = malloc(nbufs * sizeof (void *));
	size_t n = fill(s1, KM_NOSLEEP, nbufs);
	if (n < want1)
		FAIL("size %zu: %zu buffers (%zu bytes) of a %zu-byte budget",
		    s1, n, n * s1, budget);
	release(s1, n);
	size_t pct = n * s1 * 100 / budget;
	n = fill(s2, KM_NOSLEEP, nbufs);
	if (n < want2)
		FAIL("size %zu after size %zu: %zu buffers (%zu bytes) of a "
		    "%zu-byte budget", s2, s1, n, n * s2, budget);
	release(s2, n);
	n = fill(s1, KM_NOSLEEP, nbufs);
	release(s1, n);
	n = fill(s2, KM_SLEEP, want2);	/* hangs (alarm) if it cannot */
	release(s2, n);
	printf("%zu then %zu: ok (%zu: %zu%% of the budget)\n", s1, s2, s1,
	    pct);
}

/* A client that gives objects back under pressure, allocating as it does. */
static struct {
	kmem_cache_t	*cp;
	void		*obj[1 << 16];
	size_t		n;
	int		calls;
} held;

static void
reclaim_alloc(void *arg)
{
	(void)arg;
	held.calls++;
	void *note = kmem_alloc(4096, KM_SLEEP);	/* bookkeeping */
	while (held.n > 0 && held.n % 2048 != 0)
		kmem_cache_free(held.cp, held.obj[--held.n]);
	if (held.n > 0)
		kmem_cache_free(held.cp, held.obj[--held.n]);
	kmem_free(note, 4096);
}

static void
reclaim_sleep(void)
{
	held.cp = kmem_cache_create("reclaimer", 4096, 0, NULL, NULL,
	    reclaim_alloc, NULL, NULL, 0);
	while (held.n < sizeof (held.obj) / sizeof (held.obj[0])) {
		void *p = kmem_cache_alloc(held.cp, KM_NOSLEEP_LAZY);
		if (p == NULL)
			break;
		held.obj[held.n++] = p;
	}
	void *big = kmem_alloc(2 << 20, KM_SLEEP);
	if (big == NULL || held.calls == 0)
		FAIL("KM_SLEEP: %p after %d reclaim calls", big, held.calls);
	kmem_free(big, 2 << 20);
	while (held.n > 0)
		kmem_cache_free(held.cp, held.obj[--held.n]);
	kmem_cache_destroy(held.cp);
}

static int
count_cb(void *p, void *arg)
{
	(void)p;
	++*(int *)arg;
	return (0);
}

static int
count_arenas(void)
{
	int n = 0;

	(void)vmem_arena_walk((int (*)(vmem_t *, void *))count_cb, &n);
	return (n);
}

static int
count_caches(void)
{
	int n = 0;

	(void)kmem_cache_walk((int (*)(kmem_cache_t *, void *))count_cb, &n);
	return (n);
}

/*
 * Fail the 1st, 2nd, ... page request of kmem_init(): each failure is
 * -1 with nothing left behind (no arena, no cache), and the next attempt
 * starts from scratch; once init needs fewer requests, it succeeds.
 */
static void
init_faults(void)
{
	unsigned long nth;

	for (nth = 1; nth < 1000; nth++) {
		kmem_posix_fail_map(nth, 0);
		int rc = kmem_init(NULL);
		kmem_posix_fail_map(0, 0);
		if (rc == 0)
			break;
		if (rc != -1 || count_arenas() != 0 || count_caches() != 0)
			FAIL("init with request %lu failing: rc %d, %d arenas, "
			    "%d caches left", nth, rc, count_arenas(),
			    count_caches());
	}
	if (nth < 2)
		FAIL("kmem_init made no page request");
	void *p = kmem_alloc(100, KM_NOSLEEP);
	if (p == NULL || kmem_verify(quiet, NULL) != 0)
		FAIL("after %lu failed starts kmem does not work", nth - 1);
	kmem_free(p, 100);
	printf("%lu failed starts undone\n", nth - 1);
}

/*
 * Start under budgets from 16 KiB upwards, a page at a time, so that the
 * budget runs out at each of start-up's allocations in turn: each failure
 * leaves nothing behind, and the first budget large enough works.
 */
static void
init_budget(void)
{
	char opts[64];
	size_t budget;
	int rc = -1;

	for (budget = 16384; budget <= (4 << 20) && rc != 0; budget += 4096) {
		snprintf(opts, sizeof (opts), "physmem=%zu,reap_interval=0",
		    budget);
		rc = kmem_init(opts);
		if (rc != 0 && (count_arenas() != 0 || count_caches() != 0))
			FAIL("init under %zu bytes: %d arenas, %d caches left",
			    budget, count_arenas(), count_caches());
	}
	budget -= 4096;
	if (rc != 0)
		FAIL("no start under budgets up to %zu bytes", budget);
	(void)kmem_physmem_set(64 << 20);	/* room to work */
	void *p = kmem_alloc(100, KM_NOSLEEP);
	if (p == NULL || kmem_verify(quiet, NULL) != 0)
		FAIL("started under %zu bytes, but does not work", budget);
	kmem_free(p, 100);
	printf("starts at %zu bytes\n", budget);
}

static void
sleep_below(size_t below)
{
	kmem_memstat_t ms;

	alarm(10);		/* waiting forever is the failure */
	kmem_memstat(&ms);
	void *p = kmem_alloc(ms.ms_physmem - ms.ms_reserve - below, KM_SLEEP);
	if (p == NULL)
		FAIL("KM_SLEEP returned NULL");
}

/* The program's own budget, set before first use, stands. */
static void
init_physmem_first(void)
{
	if (kmem_physmem_set(48 << 20) != 0)
		FAIL("kmem_physmem_set failed");
	void *p = kmem_alloc(100, KM_NOSLEEP);	/* starts kmem */
	if (p == NULL || kmem_physmem() != (48 << 20))
		FAIL("budget %zu after start, 48 MiB was set", kmem_physmem());
	kmem_free(p, 100);
	printf("budget kept\n");
}

/* kmem_init() failed (a tiny budget): nothing crashes, nothing lies. */
static void
init_unstarted(const char *mode)
{
	kmem_reap();
	kmem_update();
	if (kmem_alloc(100, KM_NOSLEEP) != NULL ||
	    kmem_alloc(5 << 20, KM_NOSLEEP) != NULL)
		FAIL("an allocation succeeded although kmem could not start");
	if (strcmp(mode, "sleep") == 0)
		(void)kmem_alloc(100, KM_SLEEP);
	else if (strcmp(mode, "panic") == 0)
		(void)kmem_alloc(5 << 20, KM_NOSLEEP | KM_PANIC);
	printf("unstarted: %s returned\n", mode);
}

MALLOC_DEFINE(M_FRESH, "fresh", "kmem_fresh_helper's large buffers");

static void *
large_waiter(void *arg)
{
	(void)arg;
	kmem_free(kmem_alloc(12 << 20, KM_SLEEP), 12 << 20);
	return (NULL);
}

/*
 * A KM_SLEEP request waits for memory (a 40 MiB budget, 32 MiB of large
 * BSD buffers live); freeing two of them must wake it, though freed large
 * buffers are normally kept for reuse.  Hangs (the alarm) if not.
 */
static void
large_wait(void)
{
	void *b[4];
	pthread_t t;

	for (int i = 0; i < 4; i++) {
		b[i] = kmem_bsd_malloc(8 << 20, M_FRESH, M_WAITOK);
		memset(b[i], 1, 8 << 20);
	}
	alarm(20);
	pthread_create(&t, NULL, large_waiter, NULL);
	usleep(300000);
	kmem_bsd_free(b[0], M_FRESH);
	kmem_bsd_free(b[1], M_FRESH);
	pthread_join(t, NULL);
	printf("large-wait: woken\n");
}

/* Under KMEM_DEBUG a quantum cache checks every free in its slab layer. */
static void
qcache_double_free(void)
{
	vmem_t *vmp = vmem_create("t_qdouble", (void *)0x10000, 0x10000,
	    0x1000, NULL, NULL, NULL, 0x4000, VM_SLEEP);
	void *x = vmem_alloc(vmp, 0x1000, VM_NOSLEEP);

	vmem_free(vmp, x, 0x1000);
	vmem_free(vmp, x, 0x1000);
	printf("double free accepted\n");
}

static int
ctor(void *buf, void *priv, int kmflag)
{
	(void)priv;
	(void)kmflag;
	memset(buf, 0xc5, 256);
	return (0);
}

/* One round of work; every allocation may fail.  Returns the failures. */
static int
workload(void)
{
	static const size_t sizes[] = { 8, 200, 3000, 40000, 300000, 5 << 20 };
	enum { N = 64 };
	void *p[6][N];
	int fails = 0;

	kmem_cache_t *cp = kmem_cache_create("faulty", 256, 0, ctor, NULL, NULL,
	    NULL, NULL, 0);
	vmem_t *vmp = vmem_create("faulty_ids", NULL, 0, 4096, vmem_alloc,
	    vmem_free, kmem_default_arena, 4 * 4096, VM_SLEEP);
	void *c[N], *v[N];
	for (int i = 0; i < N; i++) {
		for (int s = 0; s < 6; s++)
			fails += (p[s][i] = kmem_alloc(sizes[s], KM_NOSLEEP)) ==
			    NULL;
		fails += (c[i] = cp == NULL ? NULL :
		    kmem_cache_alloc(cp, KM_NOSLEEP)) == NULL;
		fails += (v[i] = vmp == NULL ? NULL :
		    vmem_alloc(vmp, 4096 * (size_t)(1 + i % 6), VM_NOSLEEP)) ==
		    NULL;
		if (c[i] != NULL && ((unsigned char *)c[i])[255] != 0xc5)
			FAIL("constructed object %p not constructed", c[i]);
	}
	for (int i = 0; i < N; i++) {
		for (int s = 0; s < 6; s++)
			kmem_free(p[s][i], sizes[s]);
		if (c[i] != NULL)
			kmem_cache_free(cp, c[i]);
		if (v[i] != NULL)
			vmem_free(vmp, v[i], 4096 * (size_t)(1 + i % 6));
	}
	if (vmp != NULL)
		vmem_destroy(vmp);
	if (cp != NULL)
		kmem_cache_destroy(cp);
	return (fails);
}

/*
 * Fail the nth page request of the workload, for every n it makes (and
 * every later one too if persist): it ends in NULLs, nothing leaks, and
 * kmem then runs it clean again.
 */
static void
faults(int persist)
{
	kmem_memstat_t ms;

	if (workload() != 0)
		FAIL("the workload fails without injection");
	kmem_reap();
	kmem_memstat(&ms);
	size_t base = ms.ms_mapped, base_inuse = ms.ms_inuse;
	unsigned long before = kmem_posix_map_count();
	(void)workload();
	unsigned long total = kmem_posix_map_count() - before;
	for (unsigned long nth = 1; nth <= total + 1; nth++) {
		kmem_posix_fail_map(nth, persist);
		int fails = workload();
		kmem_posix_fail_map(0, 0);
		if (kmem_verify(quiet, NULL) != 0)
			FAIL("request %lu failing: kmem_verify finds problems",
			    nth);
		if (workload() != 0)
			FAIL("request %lu failing: kmem does not recover", nth);
		kmem_reap();
		kmem_memstat(&ms);
		if (ms.ms_inuse != base_inuse || ms.ms_mapped > base + (1 << 20))
			FAIL("request %lu failing (%d NULLs): %zu bytes in use "
			    "(%zu before), %zu mapped (%zu before)", nth, fails,
			    ms.ms_inuse, base_inuse, ms.ms_mapped, base);
	}
	printf("%lu page requests failed in turn\n", total + 1);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

/* Whether this system makes pages resident on request (Linux 5.14). */
static bool
system_populates(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool yes = p != MAP_FAILED &&
	    madvise(p, 4096, MADV_POPULATE_WRITE) == 0;

	if (p != MAP_FAILED)
		munmap(p, 4096);
	return (yes);
}

/* Allocate from cp until it holds at least `bytes` in buffers. */
static void
grow_by(kmem_cache_t *cp, size_t bufsize, size_t bytes)
{
	for (size_t n = 0; n < bytes; n += bufsize)
		if (kmem_cache_alloc(cp, KM_NOSLEEP) == NULL)
			FAIL("populate: a cache of %zu-byte buffers ran out",
			    bufsize);
}

static size_t
resident_bytes(void)
{
	long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL || fscanf(f, "%ld %ld", &size, &resident) != 2)
		FAIL("populate: cannot read /proc/self/statm");
	fclose(f);
	return ((size_t)resident * (size_t)sysconf(_SC_PAGESIZE));
}

/* A user's arena of pages, recording every flag its imports were given. */
static int user_import_flags;

static void *
user_import(vmem_t *src, size_t size, int vmflag)
{
	(void)src;
	user_import_flags |= vmflag;
	void *va = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return (va == MAP_FAILED ? NULL : va);
}

static void
user_release(vmem_t *src, void *va, size_t size)
{
	(void)src;
	munmap(va, size);
}

/*
 * kmem_init(9)'s populating, counted by vmem_stat(9)'s "populate" of the
 * arena: a cache of 64-byte buffers has its slabs made resident at once
 * only once it holds 1 MiB; a cache of 16 KiB buffers (whose users need
 * not write every page) never; a cache on a user's arena never, and its
 * import function sees no internal flag.  Prints how much the resident set
 * grows with buffers of 896 KiB with one page written between small
 * ones: the test compares it with nopopulate's (populating never reaches
 * memory other than the small slabs').  off: run with nopopulate,
 * nothing is counted.
 */
static void
populate(bool on)
{
	kmem_cache_t *small = kmem_cache_create("populate_small", 64, 0,
	    NULL, NULL, NULL, NULL, NULL, 0);
	kmem_cache_t *big = kmem_cache_create("populate_big", 16384, 0,
	    NULL, NULL, NULL, NULL, NULL, 0);
	vmem_t *vmp = kmem_default_arena;

	if (small == NULL || big == NULL)
		FAIL("populate: kmem_cache_create failed");
	grow_by(small, 64, 768 << 10);
	uint64_t p0 = vmem_stat(vmp, "populate");
	if (p0 != 0)
		FAIL("populate: %lu bytes populated for a small cache of "
		    "768 KiB", (unsigned long)p0);
	grow_by(big, 16384, 16 << 20);
	uint64_t p1 = vmem_stat(vmp, "populate");
	if (p1 != p0)
		FAIL("populate: 16 KiB buffers: %lu bytes populated",
		    (unsigned long)(p1 - p0));
	grow_by(small, 64, 16 << 20);
	uint64_t p2 = vmem_stat(vmp, "populate") - p1;
	bool sys = system_populates();	/* else nothing is counted */
	if (on && sys ? p2 < (12 << 20) || p2 > (18 << 20) : p2 != 0)
		FAIL("populate (%s%s): 16 MiB of 64-byte buffers: %lu bytes "
		    "populated", on ? "on" : "off", sys ? "" :
		    ", no MADV_POPULATE_WRITE", (unsigned long)p2);

	size_t r0 = resident_bytes();
	for (int round = 0; round < 100; round++) {
		for (int i = 0; i < 1000; i++) {
			char *p = kmem_cache_alloc(small, KM_NOSLEEP);
			if (p == NULL)
				FAIL("populate: out of memory");
			memset(p, 1, 64);
		}
		char *b = kmem_alloc(917504, KM_NOSLEEP);
		if (b == NULL)
			FAIL("populate: out of memory");
		b[0] = 1;
	}
	size_t grown = resident_bytes() - r0;	/* the test compares */

	vmem_t *user = vmem_create("populate_user", NULL, 0, 4096,
	    user_import, user_release, NULL, 8 * 4096, 0);
	kmem_cache_t *mine = user == NULL ? NULL :
	    kmem_cache_create("populate_mine", 64, 0, NULL, NULL, NULL, NULL,
	    user, 0);
	if (mine == NULL)
		FAIL("populate: the user's arena or cache failed");
	grow_by(mine, 64, 4 << 20);
	if (vmem_stat(user, "populate") != 0 ||
	    (user_import_flags & ~0xffff) != 0)
		FAIL("populate: the user's arena: %lu bytes populated, import "
		    "flags %#x", (unsigned long)vmem_stat(user, "populate"),
		    user_import_flags);
	printf("populate %s%s: 64-byte buffers %lu bytes populated; sparse "
	    "896 KiB buffers: resident set +%zu KiB\n", on ? "on" : "off",
	    sys ? "" : " (no MADV_POPULATE_WRITE)", (unsigned long)p2,
	    grown >> 10);
}

/*
 * The owner map's leaves come from the platform too (4 MiB each): the
 * first malloc(9) of a small and of a large buffer, with page request n
 * failing, may fail, and the same succeed and free once none fails.
 * Prints whether request n was made.
 */
static void
owner_fault(unsigned long n)
{
	static const size_t sizes[] = { 64, 4 << 20 };

	if (kmem_init(NULL) != 0)	/* malloc(9) panics if kmem cannot */
		FAIL("owner-fault: kmem_init failed");
	kmem_posix_fail_map(n, 0);
	unsigned long before = kmem_posix_map_count();
	for (int i = 0; i < 2; i++) {
		void *p = kmem_bsd_malloc(sizes[i], M_FRESH, M_NOWAIT);
		if (p != NULL)
			kmem_bsd_free(p, M_FRESH);
	}
	unsigned long made = kmem_posix_map_count() - before;
	kmem_posix_fail_map(0, 0);
	for (int i = 0; i < 2; i++) {
		char *p = kmem_bsd_malloc(sizes[i], M_FRESH, M_NOWAIT);
		if (p == NULL)
			FAIL("owner-fault %lu: malloc(%zu) fails once requests "
			    "succeed", n, sizes[i]);
		p[0] = p[sizes[i] - 1] = 1;
		kmem_bsd_free(p, M_FRESH);
	}
	if (kmem_verify(quiet, NULL) != 0)
		FAIL("owner-fault %lu: kmem_verify finds problems", n);
	printf("owner-fault %lu: %s\n", n, made >= n ? "failed" : "beyond");
}

int
main(int argc, char **argv)
{
	alarm(120);
	if (argc >= 2 && strncmp(argv[1], "init-", 5) != 0 &&
	    kmem_init(NULL) != 0)
		FAIL("kmem_init failed");
	if (argc >= 2 && strcmp(argv[1], "init") == 0)
		return (0);
	if (argc >= 4 && strcmp(argv[1], "budget") == 0)
		budget(strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0));
	else if (argc >= 2 && strcmp(argv[1], "reclaim-sleep") == 0)
		reclaim_sleep();
	else if (argc >= 2 && strcmp(argv[1], "init-faults") == 0)
		init_faults();
	else if (argc >= 2 && strcmp(argv[1], "init-budget") == 0)
		init_budget();
	else if (argc >= 3 && strcmp(argv[1], "sleep-below") == 0)
		sleep_below(strtoull(argv[2], NULL, 0));
	else if (argc >= 2 && strcmp(argv[1], "init-physmem-first") == 0)
		init_physmem_first();
	else if (argc >= 3 && strcmp(argv[1], "init-unstarted") == 0)
		init_unstarted(argv[2]);
	else if (argc >= 2 && strcmp(argv[1], "qcache-double-free") == 0)
		qcache_double_free();
	else if (argc >= 3 && strcmp(argv[1], "faults") == 0)
		faults(atoi(argv[2]));
	else if (argc >= 2 && strcmp(argv[1], "large-wait") == 0)
		large_wait();
	else if (argc >= 3 && strcmp(argv[1], "init-owner-fault") == 0)
		owner_fault(strtoul(argv[2], NULL, 0));
	else if (argc >= 3 && strcmp(argv[1], "populate") == 0)
		populate(strcmp(argv[2], "on") == 0);
	else
		FAIL("usage: kmem_fresh_helper init|budget S1 S2|reclaim-sleep|"
		    "init-faults|init-budget|qcache-double-free|faults PERSIST");
	return (0);
}
