/*
 * Magazine layer tests: reuse through magazines, the depot, cross-thread
 * frees, thread exit, purges that take magazines from live threads,
 * magazine growth under contention and working-set reaping.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/kmem.h>
#include "../src/magazine/magazine_impl.h"
#include "harness.h"

/* Allocate n buffers into bufs[], then free them in the same order. */
static void
alloc_then_free(kmem_cache_t *cp, void **bufs, int n)
{
	for (int i = 0; i < n; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	for (int i = 0; i < n; i++)
		kmem_cache_free(cp, bufs[i]);
}

/*
 * The most rounds a thread's record keeps for cp: its loaded and previous
 * magazines and its private reserve (KMEM_RESERVE_BYTES of buffers, less
 * if the thread's other reserves leave less of KMEM_RESERVE_CPU_BYTES).
 * What the thread frees beyond that goes to the depot.
 */
static int
record_holds(kmem_cache_t *cp)
{
	size_t magsize = kmem_cache_stat(cp, "magazine_size");
	size_t bytes = magsize * kmem_cache_stat(cp, "chunk_size");
	kmem_cpu_t *cpu = kmem_plat_self_enter();
	/* What this thread's other reserves leave of its record's bound. */
	uint64_t left = KMEM_RESERVE_CPU_BYTES - (cpu != NULL ?
	    cpu->cpu_rbytes : 0);
	kmem_plat_self_exit();

	return ((int)(kmem_min(KMEM_RESERVE_BYTES / bytes, left / bytes) *
	    magsize + 2 * magsize));
}

static void
test_reuse(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_reuse", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	void *a = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, a);
	void *b = kmem_cache_alloc(cp, KM_SLEEP);
	KT_CHECK(a == b);		/* last freed, first allocated */
	kmem_cache_free(cp, b);
	KT_EQ_U(kmem_cache_stat(cp, "alloc"), 2);
	KT_EQ_U(kmem_cache_stat(cp, "free"), 2);
	KT_EQ_U(kmem_cache_stat(cp, "buf_inuse"), 0);
	KT_EQ_U(kmem_cache_stat(cp, "magazine_size"), 15);
	kmem_cache_destroy(cp);
}

static void
test_depot(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_depot", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	/* The largest magazines: a reserve this size asks for no growth. */
	cp->cache_magtype = &kmi_magtype[kmi_nmagtype - 1];
	int magsize = (int)kmem_cache_stat(cp, "magazine_size");
	int held = record_holds(cp), n = held + 20 * magsize;
	void **bufs = malloc((size_t)n * sizeof (void *));
	alloc_then_free(cp, bufs, n);
	/* What the record did not keep went to the depot, full.  (Counted, */
	/* not predicted: in a kernel the CPU's record is shared with */
	/* interrupts and the maintenance, which change what is left of */
	/* its bound meanwhile.) */
	uint64_t full = kmem_cache_stat(cp, "full_magazines"), dummy;
	uint64_t kept = kmi_cpu_rounds(cp, &dummy);
	KT_EQ_U(full * (uint64_t)magsize, (uint64_t)n - kept);
	KT_CMP_U(kmem_cache_stat(cp, "depot_free"), >=, full);
	uint64_t slab_alloc = kmem_cache_stat(cp, "slab_alloc");
	KT_CMP_U(slab_alloc, <=, n + KMEM_FILL_MAX);	/* filled in batches */
	uint64_t depot_alloc = kmem_cache_stat(cp, "depot_alloc");
	for (int i = 0; i < n; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	KT_CMP_U(kmem_cache_stat(cp, "depot_alloc") - depot_alloc, >=, full);
	KT_EQ_U(kmem_cache_stat(cp, "slab_alloc"), slab_alloc);	/* no slabs */
	for (int i = 0; i < n; i++)
		kmem_cache_free(cp, bufs[i]);
	/* A reap frees the depot's magazines and the slabs they emptied. */
	kmem_cache_reap_now(cp);
	KT_EQ_U(kmem_cache_stat(cp, "full_magazines"), 0);
	KT_EQ_U(kmem_cache_stat(cp, "empty_magazines"), 0);
	KT_EQ_U(kmem_cache_stat(cp, "buf_avail"), kmem_cache_stat(cp,
	    "buf_total"));
	KT_CHECK(kmem_cache_stat(cp, "reap") > 0);
	KT_CHECK(kmi_cache_slabs_are_valid(cp));
	kmem_cache_destroy(cp);
	free(bufs);
}

/*
 * The swap, which the fast paths do themselves: a thread whose allocations
 * and frees cross between its two magazines again and again (after an
 * exchange it starts on the boundary) never gets a buffer twice, finds
 * each as it left it, and needs neither the depot nor the slab layer.
 */
static void
test_swap(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_swap", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	enum { N = 30, STEPS = 20000 };
	void *live[N];
	int nlive = 0;
	uint64_t seed = 12345;

	alloc_then_free(cp, live, N);	/* both magazines, full */
	uint64_t depot = kmem_cache_stat(cp, "depot_alloc") +
	    kmem_cache_stat(cp, "depot_free");
	uint64_t slab_alloc = kmem_cache_stat(cp, "slab_alloc");
	for (int step = 0; step < STEPS; step++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		bool up = (seed >> 33) & 1;
		if (nlive == N || (nlive > 0 && !up)) {
			unsigned char *b = live[--nlive];
			for (int i = 0; i < 64; i++)
				KT_CHECK(b[i] == (unsigned char)(uintptr_t)b);
			kmem_cache_free(cp, b);
		} else {
			unsigned char *b = kmem_cache_alloc(cp, KM_SLEEP);
			for (int i = 0; i < nlive; i++)
				KT_CHECK(live[i] != b);
			memset(b, (unsigned char)(uintptr_t)b, 64);
			live[nlive++] = b;
		}
	}
	while (nlive > 0)
		kmem_cache_free(cp, live[--nlive]);
	KT_EQ_U(kmem_cache_stat(cp, "depot_alloc") +
	    kmem_cache_stat(cp, "depot_free"), depot);
	KT_EQ_U(kmem_cache_stat(cp, "slab_alloc"), slab_alloc);
	KT_EQ_U(kmem_cache_stat(cp, "buf_inuse"), 0);
	KT_EQ_U(kmem_cache_stat(cp, "alloc"), kmem_cache_stat(cp, "free"));
	kmem_cache_destroy(cp);
}

/*
 * The private reserve: a thread that allocates and frees a batch larger
 * than two magazines keeps it to itself -- the same buffers come back,
 * with no depot traffic and no slab allocation -- and the rounds are
 * counted as cached.
 */
static void
test_reserve(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_reserve", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	enum { N = 1000 };
	void **first = malloc(N * sizeof (void *));
	void **bufs = malloc(N * sizeof (void *));

	KT_CMP_U(record_holds(cp), >=, N);
	alloc_then_free(cp, first, N);
	KT_EQ_U(kmem_cache_stat(cp, "buf_inuse"), 0);
	/* The first freed sits deep in the reserve: free, says ::whatis. */
	kt_capture_t cap = { 0 };
	KT_EQ_U(kmem_whatis(first[0], kt_capture_line, &cap), 1);
	KT_CHECK(strstr(cap.kc_buf, "freed from t_reserve") != NULL);
	kt_capture_free(&cap);
	uint64_t depot = kmem_cache_stat(cp, "depot_alloc") +
	    kmem_cache_stat(cp, "depot_free");
	uint64_t slab_alloc = kmem_cache_stat(cp, "slab_alloc");
	for (int round = 0; round < 3; round++)
		alloc_then_free(cp, bufs, N);
	KT_EQ_U(kmem_cache_stat(cp, "depot_alloc") +
	    kmem_cache_stat(cp, "depot_free"), depot);
	KT_EQ_U(kmem_cache_stat(cp, "slab_alloc"), slab_alloc);
	int same = 0;
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N && same <= i; j++)
			same += bufs[i] == first[j];
	KT_EQ_U(same, N);
	/* Another thread's purge takes the reserve back to the slabs. */
	kmem_cache_reap_now(cp);
	KT_EQ_U(kmem_cache_stat(cp, "buf_avail"), kmem_cache_stat(cp,
	    "buf_total"));
	KT_CHECK(kmi_cache_slabs_are_valid(cp));
	kmem_cache_destroy(cp);
	free(first);
	free(bufs);
}

/*
 * A thread's reserves together stay within KMEM_RESERVE_CPU_BYTES, one
 * cache may have more than the old 128 KiB, and cpu_rbytes counts exactly
 * what the slots' reserves hold, to 0 after a purge.  A fresh thread, so
 * that only these caches count.
 */
enum { BOUND_CACHES = 8, BOUND_BATCH = 4000 };

static void *
bound_thread(void *arg)
{
	kmem_cache_t **caches = arg;
	void **bufs = malloc(BOUND_BATCH * sizeof (void *));

	for (int round = 0; round < 3; round++)
		for (int k = 0; k < BOUND_CACHES; k++)
			alloc_then_free(caches[k], bufs, BOUND_BATCH);
	kmem_cpu_t *cpu = kmem_plat_self_enter();
	uint64_t sum = 0, most = 0;
	for (int k = 0; k < BOUND_CACHES; k++) {
		kmem_cpu_cache_t *ccp = &cpu->cpu_cc[caches[k]->cache_slot];
		uint64_t b = kmem_slot_rbytes(caches[k], ccp);
		sum += b;
		most = kmem_max(most, b);
		KT_CHECK(kmi_slot_is_valid(caches[k], ccp));
	}
	KT_EQ_U(cpu->cpu_rbytes, sum);
	KT_CMP_U(sum, <=, KMEM_RESERVE_CPU_BYTES);
	KT_CMP_U(most, >, 128 * 1024);
	kmem_plat_self_exit();
	kmi_cpu_purge_all();
	KT_EQ_U(cpu->cpu_rbytes, 0);
	free(bufs);
	return (NULL);
}

static void
test_reserve_bound(void)
{
	kmem_cache_t *caches[BOUND_CACHES];
	pthread_t t;

	for (int k = 0; k < BOUND_CACHES; k++)
		caches[k] = kmem_cache_create("t_reserve_bound", 256, 0, NULL,
		    NULL, NULL, NULL, NULL, 0);
	pthread_create(&t, NULL, bound_thread, caches);
	pthread_join(t, NULL);
	for (int k = 0; k < BOUND_CACHES; k++)
		kmem_cache_destroy(caches[k]);
}

/*
 * A thread that cycles batches through its reserve never touches the
 * depot, yet its magazines grow -- its slot asks after KMEM_RESERVE_GROW
 * loads from the reserve, and pours its buffers into the new size -- but
 * only up to KMEM_RESERVE_MAGAZINE_BYTES in buffers: from 15 rounds of 64
 * bytes to 143, from 3 of 512 to 95.
 */
static void
test_reserve_grows(void)
{
	static const struct { size_t size; uint64_t most; } c[] = {
		{ 64, 143 }, { 512, 95 } };
	enum { N = 200 };	/* within the reserve: no depot traffic */
	void **bufs = malloc(N * sizeof (void *));

	for (size_t k = 0; k < sizeof (c) / sizeof (c[0]); k++) {
		kmem_cache_t *cp = kmem_cache_create("t_reserve_grows",
		    c[k].size, 0, NULL, NULL, NULL, NULL, NULL, 0);
		KT_CMP_U(kmem_cache_stat(cp, "magazine_size"), <=, 15);
		for (int round = 0; round < 2000; round++)
			alloc_then_free(cp, bufs, N);
		KT_EQ_U(kmem_cache_stat(cp, "magazine_size"), c[k].most);
		/* This thread's slot poured its buffers into the new size, */
		/* keeping every one: no slab allocation since. */
		kmem_cpu_t *cpu = kmem_plat_self_enter();
		kmem_cpu_cache_t *ccp = &cpu->cpu_cc[cp->cache_slot];
		KT_EQ_U(ccp->cc_magsize, c[k].most);
		KT_CHECK(kmi_slot_is_valid(cp, ccp));
		kmem_plat_self_exit();
		uint64_t slab_alloc = kmem_cache_stat(cp, "slab_alloc");
		for (int round = 0; round < 10; round++)
			alloc_then_free(cp, bufs, N);
		KT_EQ_U(kmem_cache_stat(cp, "slab_alloc"), slab_alloc);
		KT_EQ_U(kmem_cache_stat(cp, "buf_inuse"), 0);
		KT_CHECK(kmi_cache_slabs_are_valid(cp));
		kmem_cache_destroy(cp);
	}
	free(bufs);
}

/*
 * Reserves decay: what sat in a thread's reserve through a whole interval
 * goes to the depot when the thread next uses it, and the depot's working
 * set reap frees it after another idle interval.
 */
static void
test_reserve_decay(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_decay", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	enum { N = 1000, SOME = 40 };
	void *bufs[N];

	alloc_then_free(cp, bufs, N);
	uint64_t full = kmem_cache_stat(cp, "full_magazines");
	kmem_update();			/* interval 1 */
	alloc_then_free(cp, bufs, SOME);	/* past two magazines */
	KT_EQ_U(kmem_cache_stat(cp, "full_magazines"), full);
	kmem_update();			/* interval 2: most stayed idle */
	alloc_then_free(cp, bufs, SOME);
	uint64_t moved = kmem_cache_stat(cp, "full_magazines") - full;
	KT_CMP_U(moved, >=, (N - 2 * SOME - 30) / 15);
	KT_EQ_U(kmem_cache_stat(cp, "buf_inuse"), 0);
	kmem_update();
	kmem_update();			/* idle in the depot too: freed */
	KT_EQ_U(kmem_cache_stat(cp, "full_magazines"), 0);
	KT_CMP_U(kmem_cache_stat(cp, "buf_total") - kmem_cache_stat(cp,
	    "buf_avail"), ==, 0);
	KT_CHECK(kmi_cache_slabs_are_valid(cp));
	kmem_cache_destroy(cp);
}

/* Working set: magazines idle for a whole interval are freed. */
static void
test_working_set(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_ws", 64, 0, NULL, NULL, NULL,
	    NULL, NULL, 0);
	int n = record_holds(cp) + 300;
	void **bufs = malloc((size_t)n * sizeof (void *));
	alloc_then_free(cp, bufs, n);
	uint64_t full = kmem_cache_stat(cp, "full_magazines");
	KT_CHECK(full > 0);
	kmem_update();		/* interval 1 starts: nothing idle yet */
	KT_EQ_U(kmem_cache_stat(cp, "full_magazines"), full);
	kmem_update();		/* idle for a whole interval: freed */
	KT_EQ_U(kmem_cache_stat(cp, "full_magazines"), 0);
	kmem_cache_destroy(cp);
	free(bufs);
}

typedef struct xfer {
	kmem_cache_t	*cp;
	void		**bufs;
	int		n;
} xfer_t;

static void *
free_all(void *arg)
{
	xfer_t *x = arg;
	for (int i = 0; i < x->n; i++)
		kmem_cache_free(x->cp, x->bufs[i]);
	return (NULL);
}

/* n buffers of cp, in a new array. */
static void **
alloc_n(kmem_cache_t *cp, int n)
{
	void **bufs = malloc((size_t)n * sizeof (void *));
	for (int i = 0; i < n; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	return (bufs);
}

/* This thread takes n buffers (and frees them) without a slab allocation. */
static void
reuse_without_slabs(kmem_cache_t *cp, void **bufs, int n)
{
	uint64_t slab_alloc = kmem_cache_stat(cp, "slab_alloc");
	for (int i = 0; i < n; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	KT_EQ_U(kmem_cache_stat(cp, "slab_alloc"), slab_alloc);
	for (int i = 0; i < n; i++)
		kmem_cache_free(cp, bufs[i]);
}

/* Buffers allocated here, freed by another thread that then exits. */
static void
test_cross_thread_exit(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_xthread", 128, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	enum { N = 500 };
	void **bufs = alloc_n(cp, N);
	xfer_t x = { cp, bufs, N };
	pthread_t t;
	pthread_create(&t, NULL, free_all, &x);
	pthread_join(t, NULL);
	KT_EQ_U(kmem_cache_stat(cp, "buf_inuse"), 0);
	KT_EQ_U(kmem_cache_stat(cp, "free"), N);
	/* The exiting thread's full magazines went to the depot ... */
	KT_CHECK(kmem_cache_stat(cp, "full_magazines") > 0);
	/* ... and this thread gets them from there, not from slabs. */
	reuse_without_slabs(cp, bufs, N / 2);
	free(bufs);
	kmem_cache_destroy(cp);
}

/* free_all(), then wait twice at consumer_bar (the thread stays alive). */
static pthread_barrier_t consumer_bar;

static void *
free_all_and_wait(void *arg)
{
	free_all(arg);
	pthread_barrier_wait(&consumer_bar);
	pthread_barrier_wait(&consumer_bar);
	return (NULL);
}

/*
 * A thread that only frees (a consumer) keeps no full magazine in its
 * reserve: they go to the depot, where the producer finds them, while
 * the consumer is still alive (it kept them all once, and a producer /
 * consumer program's memory doubled).
 */
static void
test_consumer_keeps_nothing(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_consumer", 128, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	enum { N = 500 };
	void **bufs = alloc_n(cp, N);
	xfer_t x = { cp, bufs, N };
	pthread_t t;
	pthread_barrier_init(&consumer_bar, NULL, 2);
	pthread_create(&t, NULL, free_all_and_wait, &x);
	pthread_barrier_wait(&consumer_bar);	/* all freed, thread alive */
	uint64_t magsize = kmem_cache_stat(cp, "magazine_size");
	KT_CMP_U(kmem_cache_stat(cp, "full_magazines"), >=,
	    (N - 2 * magsize) / magsize);
	reuse_without_slabs(cp, bufs, N / 2);
	pthread_barrier_wait(&consumer_bar);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&consumer_bar);
	free(bufs);
	kmem_cache_destroy(cp);
}

/*
 * A constructor that fails while a magazine is being filled for a thread
 * that already has a record: the allocation fails cleanly (it once loaded
 * a magazine of -1 rounds and handed out a garbage pointer).
 */
static void
test_ctor_fails_with_record(void)
{
	kmem_cache_t *warm = kmem_cache_create("t_warm", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	kmem_cache_free(warm, kmem_cache_alloc(warm, KM_SLEEP));
	kmem_cache_t *cp = kmem_cache_create("t_refuse", 64, 0, kt_ctor_refuse,
	    NULL, NULL, NULL, NULL, 0);
	kmem_cache_free(warm, kmem_cache_alloc(warm, KM_SLEEP));
	for (int i = 0; i < 3; i++)
		KT_CHECK(kmem_cache_alloc(cp, KM_NOSLEEP) == NULL);
	KT_EQ_U(kmem_cache_stat(cp, "buf_inuse"), 0);
	KT_EQ_U(kmem_cache_stat(cp, "alloc_fail"), 3);
	kmem_cache_destroy(cp);
	kmem_cache_destroy(warm);
}

/* A live thread holds magazines; destroying the cache takes them back. */
typedef struct holder {
	kmem_cache_t	*cp;
	pthread_barrier_t *bar;
} holder_t;

static uint64_t hold_ctor, hold_dtor;

static int
hold_ctor_fn(void *buf, void *priv, int flag)
{
	(void)buf, (void)priv, (void)flag;
	__atomic_fetch_add(&hold_ctor, 1, __ATOMIC_RELAXED);
	return (0);
}

static void
hold_dtor_fn(void *buf, void *priv)
{
	(void)buf, (void)priv;
	__atomic_fetch_add(&hold_dtor, 1, __ATOMIC_RELAXED);
}

static void *
holder_main(void *arg)
{
	holder_t *h = arg;
	void *bufs[40];
	alloc_then_free(h->cp, bufs, 40);
	pthread_barrier_wait(h->bar);	/* magazines loaded */
	pthread_barrier_wait(h->bar);	/* cache destroyed */
	return (NULL);
}

static void
test_purge_live(void)
{
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, 2);
	hold_ctor = hold_dtor = 0;
	kmem_cache_t *cp = kmem_cache_create("t_purge", 96, 0, hold_ctor_fn,
	    hold_dtor_fn, NULL, NULL, NULL, 0);
	holder_t h = { cp, &bar };
	pthread_t t;
	pthread_create(&t, NULL, holder_main, &h);
	pthread_barrier_wait(&bar);
	KT_CHECK(kmem_cache_stat(cp, "buf_constructed") >= 40);
	kmem_cache_destroy(cp);
	KT_EQ_U(hold_dtor, hold_ctor);
	KT_CMP_U(hold_ctor, >=, 40);
	pthread_barrier_wait(&bar);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&bar);
}

/* Depot contention makes the magazines grow at the next update. */
static void
test_resize(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_resize", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	int n = record_holds(cp) + 100;
	void **bufs = malloc((size_t)n * sizeof (void *));
	alloc_then_free(cp, bufs, 100);
	KT_EQ_U(kmem_cache_stat(cp, "magazine_size"), 15);
	kmem_lock_enter(&cp->cache_depot_lock);
	cp->cache_depot_contention += 10;	/* as if threads collided */
	kmem_lock_exit(&cp->cache_depot_lock);
	kmem_update();
	KT_EQ_U(kmem_cache_stat(cp, "magazine_size"), 31);
	KT_EQ_U(kmem_cache_stat(cp, "buf_inuse"), 0);
	alloc_then_free(cp, bufs, n);
	KT_CHECK(kmem_cache_stat(cp, "full_magazines") >= 2);
	KT_CHECK(kmi_cache_slabs_are_valid(cp));
	kmem_cache_destroy(cp);
	free(bufs);
}

/* Force one growth step, as heavy depot traffic would. */
static void
force_growth(kmem_cache_t *cp)
{
	kmem_lock_enter(&cp->cache_depot_lock);
	kmem_store_relaxed(&cp->cache_depot_contention,
	    cp->cache_depot_contention + 10);
	kmem_lock_exit(&cp->cache_depot_lock);
	kmi_magazine_resize(cp, false);
}

/*
 * Growth stops no thread and frees no buffer: the depot keeps its full
 * magazines of the old size and hands them out, a thread keeps its loaded
 * rounds until its next depot exchange; nothing is lost or counted twice.
 */
static void
test_resize_keeps_records(void)
{
	hold_ctor = hold_dtor = 0;
	kmem_cache_t *cp = kmem_cache_create("t_regrow", 64, 0, hold_ctor_fn,
	    hold_dtor_fn, NULL, NULL, NULL, 0);
	int n = record_holds(cp) + 200;
	void **bufs = malloc((size_t)n * sizeof (void *));
	alloc_then_free(cp, bufs, n);
	alloc_then_free(cp, bufs, 10);
	uint64_t full = kmem_cache_stat(cp, "full_magazines");
	uint64_t avail = kmem_cache_stat(cp, "buf_avail");
	uint64_t slab_free = kmem_cache_stat(cp, "slab_free");
	uint64_t magsize = kmem_cache_stat(cp, "magazine_size");
	KT_CHECK(full >= 2);
	uint64_t resizes = kmem_cache_stat(cp, "magazine_resize");
	force_growth(cp);
	KT_EQ_U(kmem_cache_stat(cp, "magazine_resize"), resizes + 1);
	KT_CMP_U(kmem_cache_stat(cp, "magazine_size"), >, magsize);
	KT_EQ_U(kmem_cache_stat(cp, "full_magazines"), full);
	KT_EQ_U(kmem_cache_stat(cp, "buf_avail"), avail);
	/* The thread's magazine still holds its rounds, last freed first. */
	KT_CHECK(kmem_cache_alloc(cp, KM_SLEEP) == bufs[9]);
	KT_EQ_U(kmem_cache_stat(cp, "slab_free"), slab_free);
	kmem_cache_free(cp, bufs[9]);
	/* Enough traffic to exchange with the depot in both directions. */
	for (int round = 0; round < 3; round++) {
		alloc_then_free(cp, bufs, n);
	}
	KT_CHECK(kmem_cache_stat(cp, "full_magazines") >= 4);
	KT_EQ_U(kmem_cache_stat(cp, "slab_free"), slab_free);
	KT_EQ_U(kmem_cache_stat(cp, "buf_avail"),
	    kmem_cache_stat(cp, "buf_total"));
	KT_EQ_U(kmem_cache_stat(cp, "buf_inuse"), 0);
	KT_EQ_U(kmem_cache_stat(cp, "alloc"), kmem_cache_stat(cp, "free"));
	KT_CHECK(kmi_cache_slabs_are_valid(cp));
	kmem_cache_destroy(cp);
	KT_EQ_U(hold_dtor, hold_ctor);
	free(bufs);
}

/*
 * A thread whose magazines are of an outgrown size, both empty, meets a
 * depot with no full magazine: the batch filled for it from the slabs
 * must be loaded, not freed again for want of a slot of its size.
 */
static void
test_resize_outgrown_fill(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_regrow_fill", 64, 0, NULL,
	    NULL, NULL, NULL, NULL, 0);
	enum { N = 100 };
	void *bufs[N];
	alloc_then_free(cp, bufs, 5);
	for (int i = 0; i < 5; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	KT_EQ_U(kmem_cache_stat(cp, "full_magazines"), 0);
	force_growth(cp);
	uint64_t slab_free = kmem_cache_stat(cp, "slab_free");
	for (int i = 5; i < N; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	KT_EQ_U(kmem_cache_stat(cp, "slab_free"), slab_free);
	KT_CMP_U(kmem_cache_stat(cp, "slab_alloc"), <=,
	    N + 2 * kmem_cache_stat(cp, "magazine_size"));
	for (int i = 0; i < N; i++)
		kmem_cache_free(cp, bufs[i]);
	KT_EQ_U(kmem_cache_stat(cp, "buf_inuse"), 0);
	KT_CHECK(kmi_cache_slabs_are_valid(cp));
	kmem_cache_destroy(cp);
}

/*
 * Threads churn while the magazines grow through every size under them:
 * the first thread forces a growth every 50 rounds and purges every 70
 * (taking magazines of several sizes from live threads), so the others
 * are mid-churn (and no thread waits on another to be scheduled).
 */
typedef struct churn {
	kmem_cache_t	*cp;
	unsigned	seed;
	bool		grower;
} churn_t;

static void *
churn_main(void *arg)
{
	churn_t *c = arg;
	void *bufs[300];
	for (int round = 0; round < (kt_quick ? 400 : 2000); round++) {
		if (c->grower && round % 50 == 49)
			force_growth(c->cp);
		if (c->grower && round % 70 == 69)
			kmem_cache_reap_now(c->cp);	/* purge, mixed sizes */
		int n = (int)(rand_r(&c->seed) % 300) + 1;
		alloc_then_free(c->cp, bufs, n);
	}
	return (NULL);
}

static void
test_resize_under_load(void)
{
	enum { T = 3 };
	hold_ctor = hold_dtor = 0;
	for (int rep = 0; rep < 4; rep++) {
		kmem_cache_t *cp = kmem_cache_create("t_growload", 64, 0,
		    hold_ctor_fn, hold_dtor_fn, NULL, NULL, NULL, 0);
		uint64_t magsize = kmem_cache_stat(cp, "magazine_size");
		int steps = 0;
		while (kmi_magtype[kmi_nmagtype - 1 - steps].mt_magsize !=
		    (int)magsize)
			steps++;
		churn_t c[T];
		pthread_t t[T];
		for (int i = 0; i < T; i++) {
			c[i] = (churn_t){ cp, (unsigned)(rep * T + i), i == 0 };
			pthread_create(&t[i], NULL, churn_main, &c[i]);
		}
		for (int i = 0; i < T; i++)
			pthread_join(t[i], NULL);
		KT_EQ_U(kmem_cache_stat(cp, "magazine_size"),
		    kmi_magtype[kmi_nmagtype - 1].mt_magsize);
		KT_EQ_U(kmem_cache_stat(cp, "magazine_resize"), steps);
		KT_EQ_U(kmem_cache_stat(cp, "buf_inuse"), 0);
		KT_EQ_U(kmem_cache_stat(cp, "alloc"),
		    kmem_cache_stat(cp, "free"));
		KT_CHECK(kmi_cache_slabs_are_valid(cp));
		kmem_cache_destroy(cp);
		KT_EQ_U(hold_dtor, hold_ctor);
	}
}

static void
test_nomagazine(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_nomag", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, KMC_NOMAGAZINE);
	for (int i = 0; i < 100; i++)
		kmem_cache_free(cp, kmem_cache_alloc(cp, KM_SLEEP));
	KT_EQ_U(kmem_cache_stat(cp, "magazine_size"), 0);
	KT_EQ_U(kmem_cache_stat(cp, "slab_alloc"), 100);
	KT_EQ_U(kmem_cache_stat(cp, "alloc"), 100);
	kmem_cache_destroy(cp);
}

KT_SUITE(magazine_suite,
	{ "magazine:cpu:reuse", test_reuse },
	{ "magazine:depot:exchange-reap", test_depot },
	{ "magazine:depot:working-set", test_working_set },
	{ "magazine:swap:fast-path", test_swap },
	{ "magazine:reserve:private", test_reserve },
	{ "magazine:reserve:decay", test_reserve_decay },
	{ "magazine:reserve:grows", test_reserve_grows },
	{ "magazine:reserve:thread-bound", test_reserve_bound },
	{ "magazine:reserve:consumer-keeps-nothing",
	    test_consumer_keeps_nothing },
	{ "magazine:thread:cross-free-exit", test_cross_thread_exit },
	{ "magazine:ctor:fails-with-record", test_ctor_fails_with_record },
	{ "magazine:purge:live-thread", test_purge_live },
	{ "magazine:depot:resize", test_resize },
	{ "magazine:depot:resize-keeps-records", test_resize_keeps_records },
	{ "magazine:depot:resize-outgrown-fill", test_resize_outgrown_fill },
	{ "magazine:depot:resize-under-load", test_resize_under_load },
	{ "magazine:cflags:nomagazine", test_nomagazine },
);
