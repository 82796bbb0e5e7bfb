/*
 * The program tests/gdb/run.sh debugs with tools/gdb/kmem.py.
 *
 * It builds a heap whose answers are known, has the library print its
 * own tables into files, and stops in target_stop_here(), where the
 * driver attaches its breakpoint (and makes a core file):
 *  - caches: gdb_node (list nodes), gdb_leaky, gdb_ctor (a constructor
 *    that allocates: constructed free objects hold pointers), gdb_guarded
 *    (the seeded corruption), and gdb_arena_cache on a client arena over
 *    static memory (gdb_static: its memory is not a root);
 *  - reachable buffers: pointers in globals (keep[]), an interior pointer
 *    (g_interior), a list whose nodes are reachable only through each
 *    other (g_list), a buffer reachable only from another thread's stack
 *    (the worker, blocked on a barrier while the main thread stops), an
 *    oversize buffer (g_big), and the constructors' sub-allocations;
 *  - leaks, each from a named function: leak_three() (3 gdb_leaky),
 *    leak_two_alloc() (2 kmem_alloc(700): kmem_alloc_768),
 *    leak_in_static_arena() (1 gdb_arena_cache), leak_oversize() (one
 *    3 MiB kmem_alloc from the kmem_oversize arena) -- 7 buffers;
 *  - under KMEM_DEBUG (guards): a write into a freed gdb_guarded buffer,
 *    which kmem_verify() reports.
 *
 * Usage: target WHATIS VERIFY FINDLEAKS KMASTAT VMEM
 * Each argument is a file the library's printer writes: kmem_whatis() of
 * every whatis_targets[] address, kmem_verify(), kmem_findleaks(),
 * kmem_kmastat(), vmem_print().
 * kmem_verify() runs first (it purges the magazines); then traffic fills
 * the magazines again (per thread, the worker's too, and the depot), so
 * that the other tables count rounds; kmem_findleaks() runs on a
 * scrubbed stack (a live scan reads its own thread's stack, stale words
 * included).  Nothing changes kmem's state after kmem_kmastat(), so every
 * table equals what the debugger reads at the stop.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/kmem.h>
#include <kmem/vmem.h>
#include <kmem/bsd/malloc.h>

#define NOINLINE	__attribute__((noinline))
#define LEAK_OVERSIZE	(3u << 20)
#define STATIC_POOL	(256u << 10)

/* Global, so that audit stacks name them (-rdynamic, dladdr(3)). */
void leak_three(void);
void leak_two_alloc(void);
void leak_in_static_arena(void);
void leak_oversize(void);
void fail_once(void);
void target_stop_here(void);

typedef struct node {
	struct node	*next;
	uint64_t	payload[4];
} node_t;

typedef struct ctor_obj {
	void		*ref;		/* kmem_alloc(32) by the constructor */
	uint64_t	words[6];
} ctor_obj_t;

/* ---- roots the debugger must find ---- */
void *keep[4];			/* plain pointers */
char *g_interior;		/* points 40 bytes into its buffer */
node_t *g_list;			/* head of a 3-node list */
void *g_big;			/* an oversize buffer */
void *g_freed;			/* a freed buffer: whatis says "freed" */
void *g_corrupt;		/* a freed, then written, guarded buffer */
const void *whatis_targets[9];	/* what WHATIS lists, in order */
void *g_kept;			/* a freed large buffer kmem keeps */
int whatis_count;
static char g_static_pool[STATIC_POOL] __attribute__((aligned(4096)));

static kmem_cache_t *node_cache, *leaky_cache, *ctor_cache, *guarded_cache;
static kmem_cache_t *arena_cache;
static vmem_t *static_arena;
static pthread_barrier_t ready, done;

static int
ctor(void *buf, void *priv, int kmflag)
{
	ctor_obj_t *o = buf;

	(void)priv;
	o->ref = kmem_alloc(32, kmflag);
	return (o->ref == NULL ? -1 : 0);
}

static void
dtor(void *buf, void *priv)
{
	ctor_obj_t *o = buf;

	(void)priv;
	kmem_free(o->ref, 32);
}

/* ---- the leaks: each buffer's only pointer dies with the call ---- */
NOINLINE void
leak_three(void)
{
	for (int i = 0; i < 3; i++)
		memset(kmem_cache_alloc(leaky_cache, KM_SLEEP), 0x11, 200);
}

NOINLINE void
leak_two_alloc(void)
{
	memset(kmem_alloc(700, KM_SLEEP), 0x22, 700);
	memset(kmem_alloc(700, KM_SLEEP), 0x22, 700);
}

NOINLINE void
leak_in_static_arena(void)
{
	memset(kmem_cache_alloc(arena_cache, KM_SLEEP), 0x33, 128);
}

NOINLINE void
leak_oversize(void)
{
	memset(kmem_alloc(LEAK_OVERSIZE, KM_SLEEP), 0x44, 4096);
}

/*
 * Allocate and free n buffers of cp (or kmem_alloc(size)): the rounds
 * fill this thread's magazines and, past two magazines, the depot's.
 */
static void
traffic(kmem_cache_t *cp, size_t size, int n)
{
	void *bufs[200];

	for (int i = 0; i < n && i < 200; i++)
		bufs[i] = cp != NULL ? kmem_cache_alloc(cp, KM_SLEEP) :
		    kmem_alloc(size, KM_SLEEP);
	for (int i = 0; i < n && i < 200; i++) {
		if (cp != NULL)
			kmem_cache_free(cp, bufs[i]);
		else
			kmem_free(bufs[i], size);
	}
	memset(bufs, 0, sizeof (bufs));
}

/* The worker: its only pointer to its buffer is on its own stack. */
static void *
worker(void *arg)
{
	void *volatile mine = kmem_alloc(300, KM_SLEEP);

	(void)arg;
	memset(mine, 0x55, 300);
	traffic(node_cache, 0, 40);		/* rounds in its record */
	traffic(NULL, 64, 40);
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&done);	/* blocked here at the stop */
	kmem_free(mine, 300);
	return (NULL);
}

static void
make_caches(void)
{
	static_arena = vmem_create("gdb_static", g_static_pool, STATIC_POOL,
	    4096, NULL, NULL, NULL, 0, VM_SLEEP);
	node_cache = kmem_cache_create("gdb_node", sizeof (node_t), 0, NULL,
	    NULL, NULL, NULL, NULL, 0);
	leaky_cache = kmem_cache_create("gdb_leaky", 200, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	ctor_cache = kmem_cache_create("gdb_ctor", sizeof (ctor_obj_t), 0,
	    ctor, dtor, NULL, NULL, NULL, 0);
	guarded_cache = kmem_cache_create("gdb_guarded", 96, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	arena_cache = kmem_cache_create("gdb_arena_cache", 128, 0, NULL,
	    NULL, NULL, NULL, static_arena, 0);
	if (static_arena == NULL || node_cache == NULL || leaky_cache == NULL ||
	    ctor_cache == NULL || guarded_cache == NULL || arena_cache == NULL) {
		fprintf(stderr, "target: cannot create the caches\n");
		exit(2);
	}
}

static void
make_reachable(void)
{
	keep[0] = kmem_cache_alloc(node_cache, KM_SLEEP);
	keep[1] = kmem_cache_alloc(ctor_cache, KM_SLEEP);
	keep[2] = kmem_cache_alloc(arena_cache, KM_SLEEP);
	keep[3] = kmem_alloc(5000, KM_SLEEP);
	g_interior = (char *)kmem_alloc(100, KM_SLEEP) + 40;
	for (int i = 0; i < 3; i++) {
		node_t *n = kmem_cache_alloc(node_cache, KM_SLEEP);
		n->next = g_list;
		g_list = n;
	}
	g_big = kmem_alloc(2u << 20, KM_SLEEP);
	/* Freed constructed objects keep their sub-allocations. */
	void *tmp[5];
	for (int i = 0; i < 5; i++)
		tmp[i] = kmem_cache_alloc(ctor_cache, KM_SLEEP);
	for (int i = 0; i < 5; i++)
		kmem_cache_free(ctor_cache, tmp[i]);
}

MALLOC_DEFINE(M_GDBT, "gdb_target", "gdb target");

static void
make_freed(bool debug)
{
	g_freed = kmem_cache_alloc(node_cache, KM_SLEEP);
	kmem_cache_free(node_cache, g_freed);
	/* Kept for reuse: free to whatis, not a leak to findleaks. */
	g_kept = kmalloc(3u << 20, M_GDBT, M_WAITOK);
	kfree(g_kept, M_GDBT);
	if (!debug)
		return;
	/* The seeded corruption: nothing allocates from it afterwards. */
	g_corrupt = kmem_cache_alloc(guarded_cache, KM_SLEEP);
	kmem_cache_free(guarded_cache, g_corrupt);
	((volatile uint64_t *)g_corrupt)[2] = 0x0123456789abcdefULL;
}

/*
 * A failed allocation, for the failure log: first, and without a
 * reclaim (KM_NOSLEEP alone would reap every cache's magazines and
 * empty slabs).
 */
NOINLINE void
fail_once(void)
{
	void *p = kmem_alloc((size_t)1 << 50, KM_NOSLEEP_LAZY);

	if (p != NULL)
		kmem_free(p, (size_t)1 << 50);
}

static void
print_line(void *arg, const char *line)
{
	fprintf(arg, "%s\n", line);
}

static FILE *
open_out(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		perror(path);
		exit(2);
	}
	return (f);
}

static void
write_whatis(const char *path, bool debug)
{
	FILE *f = open_out(path);

	whatis_targets[whatis_count++] = keep[0];
	whatis_targets[whatis_count++] = g_interior;
	whatis_targets[whatis_count++] = g_freed;
	whatis_targets[whatis_count++] = (char *)g_big + 12345;
	whatis_targets[whatis_count++] = keep[2];
	whatis_targets[whatis_count++] = &keep[0];
	whatis_targets[whatis_count++] = (char *)keep[3] + 100;
	whatis_targets[whatis_count++] = (char *)g_kept + 64;
	if (debug)
		whatis_targets[whatis_count++] = g_corrupt;
	for (int i = 0; i < whatis_count; i++) {
		fprintf(f, "== %d\n", i);
		(void)kmem_whatis(whatis_targets[i], print_line, f);
	}
	fclose(f);
}

/* Stale pointers below the stack pointer are no roots; clear them too. */
static NOINLINE void
scrub_stack(void)
{
	volatile char pad[32768];

	memset((char *)pad, 0, sizeof (pad));
}

NOINLINE void
target_stop_here(void)
{
	__asm__ volatile("" ::: "memory");
}

int
main(int argc, char **argv)
{
	pthread_t tid;
	const char *dbg = getenv("KMEM_DEBUG");
	bool debug = dbg != NULL && strstr(dbg, "guards") != NULL;

	if (argc != 6) {
		fprintf(stderr, "usage: target WHATIS VERIFY FINDLEAKS KMASTAT "
		    "VMEM\n");
		return (2);
	}
	make_caches();
	fail_once();
	pthread_barrier_init(&ready, NULL, 2);
	pthread_barrier_init(&done, NULL, 2);
	pthread_create(&tid, NULL, worker, NULL);
	pthread_barrier_wait(&ready);
	make_reachable();
	leak_three();
	leak_two_alloc();
	leak_in_static_arena();
	leak_oversize();
	make_freed(debug);

	/*
	 * kmem_verify() purges every magazine first (whatever it says holds
	 * until the stop: nothing below touches gdb_guarded); then traffic
	 * fills magazines again, per thread and in the depot, for the rest.
	 */
	FILE *f = open_out(argv[2]);
	(void)kmem_verify(print_line, f);
	fclose(f);
	traffic(node_cache, 0, 200);
	traffic(ctor_cache, 0, 100);
	traffic(NULL, 64, 200);
	traffic(NULL, 5000, 50);		/* a hashed cache */

	/* findleaks on a stack no earlier call left pointers on. */
	scrub_stack();
	f = open_out(argv[3]);
	(void)kmem_findleaks(print_line, f);
	fclose(f);
	write_whatis(argv[1], debug);
	f = open_out(argv[4]);
	kmem_kmastat(print_line, f);
	fclose(f);
	f = open_out(argv[5]);
	vmem_print(print_line, f);
	fclose(f);

	scrub_stack();
	target_stop_here();
	pthread_barrier_wait(&done);
	pthread_join(tid, NULL);
	return (0);
}
