/*
 * vmem tests: arenas over identifier ranges (no memory needed), the fit
 * policies, a model-based random test of vmem_xalloc constraints, import
 * and export of spans, quantum caches, walking, sleeping and failing.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include "../src/vmem/vmem_impl.h"
#include "harness.h"

#define BASE	((void *)0x100000)

static bool
arena_valid(vmem_t *vmp)
{
	kmem_lock_enter(&vmp->vm_lock);
	bool ok = vmi_is_valid(vmp);
	kmem_lock_exit(&vmp->vm_lock);
	return (ok);
}

static void
test_create_add(void)
{
	vmem_t *vmp = vmem_create("t_ids", BASE, 1 << 20, 16, NULL, NULL, NULL,
	    0, VMC_IDENTIFIER | VM_SLEEP);
	KT_CHECK(vmp != NULL);
	KT_EQ_U(vmem_size(vmp, VMEM_ALLOC | VMEM_FREE), 1 << 20);
	KT_EQ_U(vmem_size(vmp, VMEM_ALLOC), 0);
	KT_CHECK(vmem_contains(vmp, BASE, 1 << 20));
	KT_CHECK(!vmem_contains(vmp, (char *)BASE + (1 << 20), 16));
	KT_CHECK(vmem_add(vmp, (void *)0x900000, 4096, VM_SLEEP) != NULL);
	KT_EQ_U(vmem_size(vmp, VMEM_FREE), (1 << 20) + 4096);
	KT_CHECK(arena_valid(vmp));
	vmem_destroy(vmp);
}

/* Allocate everything in quanta, check disjointness, free in random order. */
static void
test_instant_fill(void)
{
	enum { N = 1024 };
	vmem_t *vmp = vmem_create("t_fill", BASE, N * 64, 64, NULL, NULL, NULL,
	    0, VMC_IDENTIFIER);
	uintptr_t addrs[N];
	uint64_t seed = 7;

	for (int i = 0; i < N; i++) {
		addrs[i] = (uintptr_t)vmem_alloc(vmp, 64, VM_NOSLEEP);
		KT_CHECK(addrs[i] >= (uintptr_t)BASE &&
		    addrs[i] < (uintptr_t)BASE + N * 64 && addrs[i] % 64 == 0);
	}
	KT_CHECK(vmem_alloc(vmp, 64, VM_NOSLEEP) == NULL);
	KT_EQ_U(vmem_stat(vmp, "fail"), 1);
	char *seen = calloc(N, 1);
	for (int i = 0; i < N; i++) {
		size_t slot = (addrs[i] - (uintptr_t)BASE) / 64;
		KT_CHECK(!seen[slot]);
		seen[slot] = 1;
	}
	free(seen);
	for (int i = N - 1; i > 0; i--) {
		int j = (int)(kt_rand(&seed) % (uint64_t)(i + 1));
		uintptr_t t = addrs[i];
		addrs[i] = addrs[j];
		addrs[j] = t;
	}
	for (int i = 0; i < N; i++)
		vmem_free(vmp, (void *)addrs[i], 64);
	KT_EQ_U(vmem_size(vmp, VMEM_ALLOC), 0);
	KT_EQ_U(vmem_stat(vmp, "segments"), 1);	/* fully coalesced */
	KT_CHECK(arena_valid(vmp));
	vmem_destroy(vmp);
}

static void
test_policies(void)
{
	vmem_t *vmp = vmem_create("t_pol", BASE, 1 << 16, 1, NULL, NULL, NULL,
	    0, VMC_IDENTIFIER);
	/* Holes of 100 and 30 bytes: best fit takes the 30-byte hole. */
	uintptr_t a = (uintptr_t)vmem_alloc(vmp, 100, VM_BESTFIT);
	uintptr_t b = (uintptr_t)vmem_alloc(vmp, 10, VM_BESTFIT);
	uintptr_t c = (uintptr_t)vmem_alloc(vmp, 30, VM_BESTFIT);
	uintptr_t d = (uintptr_t)vmem_alloc(vmp, 10, VM_BESTFIT);
	vmem_free(vmp, (void *)a, 100);
	vmem_free(vmp, (void *)c, 30);
	uintptr_t e = (uintptr_t)vmem_alloc(vmp, 25, VM_BESTFIT);
	KT_EQ_U(e, c);
	vmem_free(vmp, (void *)e, 25);
	uintptr_t f = (uintptr_t)vmem_alloc(vmp, 25, VM_FIRSTFIT);
	KT_CHECK(f != 0);
	vmem_free(vmp, (void *)f, 25);
	vmem_free(vmp, (void *)b, 10);
	vmem_free(vmp, (void *)d, 10);

	/* Next fit hands out increasing identifiers even after frees. */
	uintptr_t prev = 0;
	for (int i = 0; i < 100; i++) {
		uintptr_t id = (uintptr_t)vmem_alloc(vmp, 1, VM_NEXTFIT);
		KT_CHECK(id > prev);
		prev = id;
		vmem_free(vmp, (void *)id, 1);
	}
	KT_EQ_U(vmem_size(vmp, VMEM_ALLOC), 0);
	KT_CHECK(arena_valid(vmp));
	vmem_destroy(vmp);

	/* VM_ENDALLOC takes the top of the free segment: here, the arena's. */
	vmp = vmem_create("t_end", BASE, 1 << 16, 1, NULL, NULL, NULL, 0,
	    VMC_IDENTIFIER);
	uintptr_t top = (uintptr_t)vmem_alloc(vmp, 16, VM_ENDALLOC);
	KT_EQ_U(top, (uintptr_t)BASE + (1 << 16) - 16);
	uintptr_t al = (uintptr_t)vmem_xalloc(vmp, 16, 256, 0, 0, NULL, NULL,
	    VM_ENDALLOC);
	KT_EQ_U(al, (uintptr_t)BASE + (1 << 16) - 256);
	vmem_free(vmp, (void *)top, 16);
	vmem_xfree(vmp, (void *)al, 16);
	KT_CHECK(arena_valid(vmp));
	vmem_destroy(vmp);
}

/*
 * Model test: random vmem_xalloc/vmem_xfree with random constraints; every
 * result is checked against the constraints and a shadow list of live
 * allocations (no overlap), and the arena's invariants after every step.
 */
typedef struct live {
	uintptr_t	addr;
	size_t		size;
} live_t;

static void
test_xalloc_model(void)
{
	enum { Q = 16, ARENA = 1 << 20, MAXLIVE = 512 };
	int steps = kt_quick ? 3000 : 40000;
	vmem_t *vmp = vmem_create("t_model", BASE, ARENA, Q, NULL, NULL, NULL,
	    0, VMC_IDENTIFIER);
	live_t *live = calloc(MAXLIVE, sizeof (live_t));
	int nlive = 0, bad = 0, fails = 0;
	uint64_t seed = 42;

	for (int step = 0; step < steps && bad < 5; step++) {
		if (nlive == MAXLIVE || (nlive > 0 && kt_rand(&seed) % 3 == 0)) {
			int i = (int)(kt_rand(&seed) % (uint64_t)nlive);
			vmem_xfree(vmp, (void *)live[i].addr, live[i].size);
			live[i] = live[--nlive];
			continue;
		}
		size_t size = Q * (1 + kt_rand(&seed) % 64);
		size_t align = Q << (kt_rand(&seed) % 6);
		size_t phase = P2ALIGN(kt_rand(&seed) % align, Q);
		size_t nocross = 0;
		if (kt_rand(&seed) % 4 == 0) {
			nocross = 4096;
			if (size + phase > nocross)
				phase = 0;
		}
		uintptr_t minaddr = 0, maxaddr = 0;
		if (kt_rand(&seed) % 4 == 0) {
			minaddr = (uintptr_t)BASE +
			    P2ALIGN(kt_rand(&seed) % (ARENA / 2), Q);
			maxaddr = minaddr + P2ALIGN(ARENA / 4 +
			    kt_rand(&seed) % (ARENA / 4), Q);
		}
		int policy = (int)(kt_rand(&seed) % 4);
		int flags = VM_NOSLEEP | (policy == 1 ? VM_BESTFIT :
		    policy == 2 ? VM_FIRSTFIT : policy == 3 ? VM_NEXTFIT : 0);
		uintptr_t a = (uintptr_t)vmem_xalloc(vmp, size, align, phase,
		    nocross, (void *)minaddr, (void *)maxaddr, flags);
		if (a == 0) {
			fails++;
			continue;
		}
		bool ok = a % align == phase &&
		    a >= (uintptr_t)BASE && a + size <= (uintptr_t)BASE + ARENA &&
		    (nocross == 0 || !P2CROSS(a, a + size - 1, nocross)) &&
		    (minaddr == 0 || (a >= minaddr && a + size <= maxaddr));
		for (int i = 0; i < nlive && ok; i++)
			ok = a + size <= live[i].addr ||
			    live[i].addr + live[i].size <= a;
		if (!KT_CHECK(ok))
			bad++;
		live[nlive++] = (live_t){ a, size };
		if (step % 97 == 0 && !KT_CHECK(arena_valid(vmp)))
			bad++;
	}
	uint64_t inuse = 0;
	for (int i = 0; i < nlive; i++)
		inuse += live[i].size;
	KT_EQ_U(vmem_size(vmp, VMEM_ALLOC), inuse);
	while (nlive > 0) {
		nlive--;
		vmem_xfree(vmp, (void *)live[nlive].addr, live[nlive].size);
	}
	KT_EQ_U(vmem_size(vmp, VMEM_ALLOC), 0);
	/* One free segment, or two kept apart by the next-fit rotor. */
	KT_CMP_U(vmem_stat(vmp, "segments"), <=, 2);
	KT_CHECK(arena_valid(vmp));
	KT_CHECK(fails < steps / 2);
	free(live);
	vmem_destroy(vmp);
}

/* An arena importing from another: spans come and go whole. */
static size_t ximport_asked;

static void *
ximport(vmem_t *src, size_t *sizep, size_t align, int flag)
{
	ximport_asked = *sizep;
	*sizep = P2ROUNDUP(*sizep, 8192);	/* hand out more than asked */
	return (vmem_xalloc(src, *sizep, align, 0, 0, NULL, NULL, flag));
}

static void
test_import(void)
{
	vmem_t *src = vmem_create("t_src", BASE, 1 << 20, 4096, NULL, NULL,
	    NULL, 0, VMC_IDENTIFIER);
	vmem_t *vmp = vmem_create("t_imp", NULL, 0, 16, vmem_alloc, vmem_free,
	    src, 0, VMC_IDENTIFIER);
	void *a = vmem_alloc(vmp, 100, VM_SLEEP);
	KT_CHECK(a != NULL);
	KT_EQ_U(vmem_stat(vmp, "mem_import"), 4096);
	KT_EQ_U(vmem_size(src, VMEM_ALLOC), 4096);
	vmem_free(vmp, a, 100);
	KT_EQ_U(vmem_stat(vmp, "mem_import"), 0);	/* span went back */
	KT_EQ_U(vmem_size(src, VMEM_ALLOC), 0);
	vmem_destroy(vmp);

	vmp = vmem_xcreate("t_ximp", NULL, 0, 16, ximport, vmem_xfree, src, 0,
	    VMC_IDENTIFIER);
	a = vmem_alloc(vmp, 5000, VM_SLEEP);
	KT_CHECK(a != NULL && ximport_asked >= 5008);
	KT_EQ_U(vmem_stat(vmp, "mem_total"), 8192);
	void *b = vmem_alloc(vmp, 3000, VM_SLEEP);	/* fits the extra */
	KT_EQ_U(vmem_stat(vmp, "import"), 1);
	vmem_free(vmp, a, 5000);
	vmem_free(vmp, b, 3000);
	KT_EQ_U(vmem_size(src, VMEM_ALLOC), 0);
	vmem_destroy(vmp);
	vmem_destroy(src);
}

static int
find_cache(kmem_cache_t *cp, void *arg)
{
	return (strcmp(kmem_cache_name(cp), arg) == 0);
}

static void
test_qcache(void)
{
	vmem_t *vmp = vmem_create("t_qc", BASE, 1 << 20, 16, NULL, NULL, NULL,
	    64, VMC_IDENTIFIER);
	KT_EQ_U(vmem_stat(vmp, "qcache_max"), 64);
	KT_CHECK(kmem_cache_walk(find_cache, "t_qc_16"));
	KT_CHECK(kmem_cache_walk(find_cache, "t_qc_64"));
	KT_CHECK(!kmem_cache_walk(find_cache, "t_qc_80"));
	void *ids[100];
	for (int i = 0; i < 100; i++) {
		ids[i] = vmem_alloc(vmp, 48, VM_SLEEP);
		KT_CHECK(ids[i] != NULL && (uintptr_t)ids[i] % 16 == 0);
	}
	for (int i = 0; i < 100; i++)
		for (int j = i + 1; j < 100; j++)
			KT_CHECK(ids[i] != ids[j]);
	/* Slab-sized pieces came from the arena, not 100 single segments. */
	KT_CHECK(vmem_stat(vmp, "alloc") < 100);
	for (int i = 0; i < 100; i++)
		vmem_free(vmp, ids[i], 48);
	vmem_destroy(vmp);
	KT_CHECK(!kmem_cache_walk(find_cache, "t_qc_16"));
}

typedef struct walk_sum {
	size_t	ws_count;
	size_t	ws_bytes;
} walk_sum_t;

static void
walk_cb(void *arg, void *va, size_t size)
{
	walk_sum_t *ws = arg;
	(void)va;
	ws->ws_count++;
	ws->ws_bytes += size;
}

static void
test_walk(void)
{
	vmem_t *vmp = vmem_create("t_walk", BASE, 1 << 16, 16, NULL, NULL,
	    NULL, 0, VMC_IDENTIFIER);
	void *a = vmem_alloc(vmp, 32, VM_SLEEP);
	void *b = vmem_alloc(vmp, 64, VM_SLEEP);
	walk_sum_t ws = { 0, 0 };
	vmem_walk(vmp, VMEM_ALLOC, walk_cb, &ws);
	KT_EQ_U(ws.ws_count, 2);
	KT_EQ_U(ws.ws_bytes, 96);
	ws = (walk_sum_t){ 0, 0 };
	vmem_walk(vmp, VMEM_FREE | VMEM_REENTRANT, walk_cb, &ws);
	KT_EQ_U(ws.ws_bytes, (1 << 16) - 96);
	ws = (walk_sum_t){ 0, 0 };
	vmem_walk(vmp, VMEM_SPAN, walk_cb, &ws);
	KT_EQ_U(ws.ws_count, 1);
	vmem_free(vmp, a, 32);
	vmem_free(vmp, b, 64);
	vmem_destroy(vmp);
}

/* A VM_SLEEP allocation waits until another thread frees. */
typedef struct sleeper {
	vmem_t		*vmp;
	void		*got;
	volatile int	done;
} sleeper_t;

static void *
sleeper_main(void *arg)
{
	sleeper_t *s = arg;
	s->got = vmem_alloc(s->vmp, 1, VM_SLEEP);
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return (NULL);
}

static void
test_sleep_wakes(void)
{
	vmem_t *vmp = vmem_create("t_sleep", (void *)1, 4, 1, NULL, NULL, NULL,
	    0, VMC_IDENTIFIER);
	void *ids[4];
	for (int i = 0; i < 4; i++)
		ids[i] = vmem_alloc(vmp, 1, VM_SLEEP);
	KT_CHECK(vmem_alloc(vmp, 1, VM_NOSLEEP) == NULL);
	sleeper_t s = { vmp, NULL, 0 };
	pthread_t t;
	pthread_create(&t, NULL, sleeper_main, &s);
	usleep(50000);
	KT_EQ_U(__atomic_load_n(&s.done, __ATOMIC_ACQUIRE), 0);
	vmem_free(vmp, ids[2], 1);
	pthread_join(t, NULL);
	KT_CHECK(s.got == ids[2]);
	KT_CHECK(vmem_stat(vmp, "wait") >= 1);
	vmem_free(vmp, s.got, 1);
	for (int i = 0; i < 4; i++)
		if (i != 2)
			vmem_free(vmp, ids[i], 1);
	vmem_destroy(vmp);
}

/* The hash grows with the number of segments: frees stay constant time. */
static void
test_hash_grows(void)
{
	int n = kt_quick ? 5000 : 100000;
	vmem_t *vmp = vmem_create("t_hash", BASE, (size_t)n * 2, 1, NULL, NULL,
	    NULL, 0, VMC_IDENTIFIER);
	uintptr_t *ids = malloc(sizeof (uintptr_t) * (size_t)n);
	for (int i = 0; i < n; i++)
		ids[i] = (uintptr_t)vmem_alloc(vmp, 1, VM_SLEEP);
	KT_CHECK(vmem_stat(vmp, "hash_size") * 2 >= (uint64_t)n);
	for (int i = 0; i < n; i++)
		vmem_free(vmp, (void *)ids[i], 1);
	/* About one lookup step per free. */
	KT_CHECK(vmem_stat(vmp, "lookup") < 3 * (uint64_t)n);
	vmem_update();
	KT_CHECK(vmem_stat(vmp, "hash_size") <= 64);
	free(ids);
	vmem_destroy(vmp);
}


/*
 * A quantum-cached arena of identifiers against a shadow bitmap: random
 * allocations of cached and uncached sizes and frees never overlap, stay
 * in the arena and balance; after everything is freed, every identifier
 * can be had (the quantum caches' slabs must not strand the last ones),
 * and a VM_SLEEP sleeper is woken by a free.
 */
static void *
qmodel_sleeper(void *arg)
{
	return (vmem_alloc(arg, 1, VM_SLEEP));
}

static void
test_qcache_model(void)
{
	enum { N = 2000, QMAX = 8, MAXLIVE = 400 };
	int steps = kt_quick ? 3000 : 30000;
	vmem_t *vmp = vmem_create("t_qmodel", (void *)1, N, 1, NULL, NULL,
	    NULL, QMAX, VMC_IDENTIFIER);
	uint8_t *held = calloc(N + 1, 1);
	live_t *live = calloc(MAXLIVE, sizeof (live_t));
	int nlive = 0, bad = 0;
	uint64_t seed = 7;

	for (int step = 0; step < steps && bad < 5; step++) {
		if (nlive == MAXLIVE || (nlive > 0 && kt_rand(&seed) % 3 == 0)) {
			int i = (int)(kt_rand(&seed) % (uint64_t)nlive);
			vmem_free(vmp, (void *)live[i].addr, live[i].size);
			memset(held + live[i].addr, 0, live[i].size);
			live[i] = live[--nlive];
			continue;
		}
		size_t size = 1 + kt_rand(&seed) % (QMAX + 4);
		uintptr_t a = (uintptr_t)vmem_alloc(vmp, size, VM_NOSLEEP);
		if (a == 0)
			continue;
		bool ok = a >= 1 && a + size <= N + 1;
		for (size_t j = 0; ok && j < size; j++)
			ok = held[a + j] == 0;
		if (!KT_CHECK(ok)) {
			bad++;
			continue;
		}
		memset(held + a, 1, size);
		live[nlive++] = (live_t){ a, size };
	}
	while (nlive > 0) {
		nlive--;
		vmem_free(vmp, (void *)live[nlive].addr, live[nlive].size);
	}
	memset(held, 0, N + 1);
	kmem_reap();
	KT_EQ_U(vmem_size(vmp, VMEM_ALLOC), 0);
	int n = 0, dup = 0;
	void *id;
	while (n <= N && (id = vmem_alloc(vmp, 1, VM_NOSLEEP)) != NULL) {
		dup += held[(uintptr_t)id]++;
		n++;
	}
	KT_EQ_U(n, N);		/* every identifier, once */
	KT_EQ_U(dup, 0);
	pthread_t t;
	void *got = NULL;
	pthread_create(&t, NULL, qmodel_sleeper, vmp);
	usleep(50000);
	vmem_free(vmp, (void *)(uintptr_t)777, 1);
	pthread_join(t, &got);
	KT_CHECK(got == (void *)(uintptr_t)777);
	for (uintptr_t i = 1; i <= N; i++)
		vmem_free(vmp, (void *)i, 1);
	kmem_reap();
	KT_EQ_U(vmem_size(vmp, VMEM_ALLOC), 0);
	free(live);
	free(held);
	vmem_destroy(vmp);
}

/* ---- bad input panics, naming the call ---- */

static void
bad_qcache_free(void)
{
	vmem_t *vmp = vmem_create("t_qbad", (void *)0x10000, 0x10000, 0x1000,
	    NULL, NULL, NULL, 0x4000, 0);
	vmem_free(vmp, (void *)0x7777000, 0x1000);
}

static void
bad_add_overlap(void)
{
	vmem_t *vmp = vmem_create("t_overlap", (void *)0x100000, 0x100000,
	    0x1000, NULL, NULL, NULL, 0, 0);
	(void)vmem_add(vmp, (void *)0x180000, 0x100000, VM_SLEEP);
}

static void
bad_add_wrap(void)
{
	vmem_t *vmp = vmem_create("t_wrap", NULL, 0, 0x1000, NULL, NULL, NULL,
	    0, 0);
	(void)vmem_add(vmp, (void *)(uintptr_t)-0x1000, 0x2000, VM_SLEEP);
}

static void
bad_create_null(void)
{
	(void)vmem_create(NULL, (void *)0x1000, 0x1000, 0x1000, NULL, NULL,
	    NULL, 0, 0);
}

static void
test_bad_input(void)
{
	KT_EXPECT_PANIC(bad_qcache_free, "vmem_free('t_qbad', 0x7777000, "
	    "4096): bad free: not a segment of the arena");
	KT_EXPECT_PANIC(bad_add_overlap, "vmem_add('t_overlap', 0x180000, "
	    "1048576): overlaps span [0x100000, 0x200000)");
	KT_EXPECT_PANIC(bad_add_wrap, "span wraps around the address space");
	KT_EXPECT_PANIC(bad_create_null, "vmem_create(NULL, 0x1000, 4096): "
	    "bad arguments: no name");

	/* Under KMEM_DEBUG a quantum cache's slab layer checks every free. */
	char *argv[] = { "kmem_fresh_helper", "qcache-double-free", NULL };
	char *envp[] = { "KMEM_DEBUG=guards", NULL };
	int status = -1;
	char *out = kt_run_helper("kmem_fresh_helper", argv, envp, &status);
	KT_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	KT_CHECK(out != NULL && strstr(out, "kmem_cache_free(t_qdouble_4096, "
	    "0x10000): invalid free: buffer not in cache") != NULL);
}

/*
 * The first arenas' structures are static: creating one while a slot is
 * free draws nothing from the platform, arenas past the slots (from pages)
 * work alongside them, and destroyed ones give their slots back.  Each
 * check asks only that some creation drew nothing, so a page mapped
 * meanwhile by another thread (the maintenance thread) cannot fail it.
 */
static vmem_t *
boot_arena(size_t *drawn)
{
	kmem_memstat_t before, after;

	kmem_memstat(&before);
	vmem_t *vmp = vmem_create("t_boot", BASE, 1 << 20, 4096, NULL, NULL,
	    NULL, 0, VM_SLEEP);
	kmem_memstat(&after);
	*drawn = after.ms_mapped - before.ms_mapped;
	KT_CHECK(vmp != NULL);
	void *a = vmem_alloc(vmp, 8192, VM_NOSLEEP);
	KT_CHECK(a != NULL);
	vmem_free(vmp, a, 8192);
	return (vmp);
}

static void
test_boot_structs(void)
{
	enum { N = 24 };
	vmem_t *arenas[N];
	size_t drawn[N];

	vmem_destroy(boot_arena(&drawn[0]));	/* segments for what follows */
	int free_slots = 0, mapped = 0;
	for (int i = 0; i < N; i++) {
		arenas[i] = boot_arena(&drawn[i]);
		free_slots += drawn[i] == 0;
		mapped += drawn[i] != 0;
	}
	KT_CHECK(free_slots > 0);	/* from the slots */
	KT_CHECK(mapped > 0);		/* and past them, from pages */
	for (int i = 0; i < N; i++) {
		for (int j = 0; j < i; j++)
			KT_CHECK(arenas[i] != arenas[j]);
		KT_CHECK(arena_valid(arenas[i]));
	}
	for (int i = 0; i < N; i++)
		vmem_destroy(arenas[i]);
	/* The slots came back: again some of N creations draw nothing. */
	free_slots = 0;
	for (int i = 0; i < N; i++) {
		arenas[i] = boot_arena(&drawn[i]);
		free_slots += drawn[i] == 0;
	}
	KT_CHECK(free_slots > 0);
	for (int i = 0; i < N; i++)
		vmem_destroy(arenas[i]);
}

KT_SUITE(vmem_suite,
	{ "vmem:create:add", test_create_add },
	{ "vmem:alloc:instant-fill", test_instant_fill },
	{ "vmem:alloc:policies", test_policies },
	{ "vmem:xalloc:model", test_xalloc_model },
	{ "vmem:import:spans", test_import },
	{ "vmem:qcache:caches", test_qcache },
	{ "vmem:walk:types", test_walk },
	{ "vmem:sleep:wakes", test_sleep_wakes },
	{ "vmem:hash:grows", test_hash_grows },
	{ "vmem:create:boot-structs", test_boot_structs },
	{ "vmem:qcache:model", test_qcache_model },
	{ "vmem:bad:panics", test_bad_input },
);
