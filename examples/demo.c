/*
 * kmem demo: what a kernel subsystem does with kmem, in one process.
 *
 * Four threads share an object cache whose constructor builds a small
 * "connection" object once, allocate kmem_alloc buffers of sizes from 8
 * bytes to 256 KiB, hand buffers to each other to free, and draw
 * identifiers from a vmem arena (quantum-cached) and address ranges with
 * alignment constraints from another.  Then the ::kmastat table and the
 * vmem arenas are printed, as the debugger would show them.  Last, a
 * child process frees a buffer of an audited cache twice, and kmem's
 * report names the buffer, its cache and slab, and who freed it first.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmem/kmem.h>

typedef struct conn {
	uint64_t	c_magic;
	uint32_t	c_id;
	char		c_name[44];
} conn_t;

#define NTHREADS	4
#define CONN_MAGIC	0xc0ffee0dc0ffee0dULL

static kmem_cache_t *conn_cache;
static vmem_t *id_arena, *window_arena;
static uint64_t constructed, destroyed;
static pthread_mutex_t handoff_lock = PTHREAD_MUTEX_INITIALIZER;
static void *handoff[64];
static size_t handoff_size[64];
static int nhandoff;

static int
conn_construct(void *buf, void *priv, int kmflag)
{
	conn_t *c = buf;
	(void)priv;
	(void)kmflag;
	c->c_magic = CONN_MAGIC;
	snprintf(c->c_name, sizeof (c->c_name), "conn@%p", buf);
	__atomic_fetch_add(&constructed, 1, __ATOMIC_RELAXED);
	return (0);
}

static void
conn_destroy(void *buf, void *priv)
{
	(void)priv;
	((conn_t *)buf)->c_magic = 0;
	__atomic_fetch_add(&destroyed, 1, __ATOMIC_RELAXED);
}

static void *
worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
	conn_t *conns[32] = { 0 };

	for (int i = 0; i < 200000; i++) {
		seed = seed * 1103515245u + 12345u;
		int slot = (int)(seed >> 8) % 32;
		if (conns[slot] != NULL) {
			vmem_free(id_arena, (void *)(uintptr_t)conns[slot]->c_id, 1);
			kmem_cache_free(conn_cache, conns[slot]);
			conns[slot] = NULL;
		} else {
			conn_t *c = kmem_cache_alloc(conn_cache, KM_SLEEP);
			if (c->c_magic != CONN_MAGIC)
				fprintf(stderr, "demo: unconstructed object!\n");
			c->c_id = (uint32_t)(uintptr_t)vmem_alloc(id_arena, 1,
			    VM_SLEEP);
			conns[slot] = c;
		}
		size_t size = (size_t)8 << ((seed >> 16) % 16);	/* 8 .. 256K */
		size += (seed >> 4) % size;
		char *buf = kmem_alloc(size, KM_SLEEP);
		memset(buf, 0x42, size < 64 ? size : 64);
		pthread_mutex_lock(&handoff_lock);
		void *other = NULL;
		size_t other_size = 0;
		if (nhandoff == 64 || (nhandoff > 0 && (seed & 1))) {
			other = handoff[--nhandoff];
			other_size = handoff_size[nhandoff];
		}
		if (nhandoff < 64) {
			handoff[nhandoff] = buf;
			handoff_size[nhandoff++] = size;
			buf = NULL;
		}
		pthread_mutex_unlock(&handoff_lock);
		if (buf != NULL)
			kmem_free(buf, size);
		if (other != NULL)
			kmem_free(other, other_size);	/* another thread's */
		if (i % 1000 == 0) {
			void *w = vmem_xalloc(window_arena, 64 * 1024, 64 * 1024,
			    0, 1 << 20, NULL, NULL, VM_SLEEP);
			vmem_xfree(window_arena, w, 64 * 1024);
		}
	}
	for (int i = 0; i < 32; i++)
		if (conns[i] != NULL) {
			vmem_free(id_arena, (void *)(uintptr_t)conns[i]->c_id, 1);
			kmem_cache_free(conn_cache, conns[i]);
		}
	return (NULL);
}

static void
print_line(void *arg, const char *line)
{
	fprintf(arg, "%s\n", line);
}

/* The bug the audit catches: global, so that the report can name it. */
void release_request(kmem_cache_t *cp, void *req);
static int requests_released;

__attribute__((noinline)) void
release_request(kmem_cache_t *cp, void *req)
{
	kmem_cache_free(cp, req);
	requests_released++;
}

/*
 * A child process creates an audited cache (KMF_AUDIT in cflags; or set
 * KMEM_DEBUG=default for every cache) and frees a buffer twice: kmem
 * stops it with a report.
 */
static int
debug_demo(void)
{
	int status;

	printf("\ndemo: a child frees a buffer of an audited cache twice:\n\n");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		kmem_cache_t *cp = kmem_cache_create("demo_request_cache", 200,
		    0, NULL, NULL, NULL, NULL, NULL, KMF_AUDIT | KMF_BUFTAG);
		void *req = kmem_cache_alloc(cp, KM_SLEEP);
		release_request(cp, req);
		release_request(cp, req);	/* the bug */
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return (1);
	bool stopped = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
	printf("\ndemo: the child was %s\n", stopped ? "stopped (SIGABRT), "
	    "as it should be" : "NOT stopped");
	return (stopped ? 0 : 1);
}

int
main(void)
{
	pthread_t t[NTHREADS];

	if (kmem_init(NULL) != 0) {
		fprintf(stderr, "demo: kmem_init failed\n");
		return (1);
	}
	conn_cache = kmem_cache_create("demo_conn_cache", sizeof (conn_t), 64,
	    conn_construct, conn_destroy, NULL, NULL, NULL, 0);
	id_arena = vmem_create("demo_ids", (void *)1, 1 << 20, 1, NULL, NULL,
	    NULL, 8, VMC_IDENTIFIER | VM_SLEEP);
	window_arena = vmem_create("demo_windows", (void *)0x40000000,
	    (size_t)1 << 30, 4096, NULL, NULL, NULL, 0,
	    VMC_IDENTIFIER | VM_SLEEP);

	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	while (nhandoff > 0) {
		nhandoff--;
		kmem_free(handoff[nhandoff], handoff_size[nhandoff]);
	}

	printf("demo: %d threads, 200000 iterations each\n", NTHREADS);
	printf("demo: %s: %llu allocations, %llu objects constructed\n\n",
	    kmem_cache_name(conn_cache),
	    (unsigned long long)kmem_cache_stat(conn_cache, "alloc"),
	    (unsigned long long)constructed);
	kmem_kmastat(print_line, stdout);

	kmem_cache_destroy(conn_cache);
	vmem_destroy(id_arena);
	vmem_destroy(window_arena);
	printf("\ndemo: cache destroyed: %llu constructed, %llu destroyed%s\n",
	    (unsigned long long)constructed, (unsigned long long)destroyed,
	    constructed == destroyed ? " (balanced)" : " (MISMATCH)");
	if (constructed != destroyed)
		return (1);
	return (debug_demo());
}
