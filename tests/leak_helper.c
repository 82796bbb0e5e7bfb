/*
 * kmem_leak_helper: a program with known buffers, for kmem_findleaks()
 * (tests/test_findleaks.c runs it under each debug mode).
 *
 *   kmem_leak_helper known   the layout below, then findleaks; prints the
 *                            report and "LEAKS n" (kmem_findleaks()'s value)
 *   kmem_leak_helper none    nothing leaked but what start-up holds
 *   kmem_leak_helper many N  N buffers reachable through a list, N/2 of
 *                            them leaked; prints the report and the time
 *                            and extra memory the scan took
 *   kmem_leak_helper unstarted  findleaks before kmem has started
 *   kmem_leak_helper nomem   the platform refuses the scan's tables
 *   kmem_leak_helper signal  the program's own SIGPWR handler keeps
 *                            working around a scan
 *   kmem_leak_helper blocked a thread that blocks SIGPWR (and holds the
 *                            only pointer to a buffer on its stack)
 *   kmem_leak_helper fork    findleaks in a fork's child, whose other
 *                            thread's magazines held free buffers
 *   kmem_leak_helper damaged a slab's free list overwritten after a free
 *
 * Reachable (must not be reported): a buffer in a global, one only in a
 * global's interior pointer, a list of three hanging off a global, one
 * only in another (blocked) thread's stack, one only in a C library heap
 * block, one only in a constructed free object of a cache with a
 * constructor, a kmem_oversize buffer in a global, and one each only in
 * memory from vmem_alloc(kmem_default_arena), from an arena importing
 * from it, and from a shared anonymous mapping.
 * Leaked (must be): three kmem_alloc(40) from leak_three(), two objects of
 * "leak_node" from leak_nodes(), a cycle of two kmem_alloc(100) from
 * leak_cycle(), one 4 MiB kmem_alloc from leak_big().
 */
#include <kmem/kmem.h>
#include <kmem/kmem_posix.h>

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define BIG	(4u << 20)

typedef struct node {
	struct node	*n_next;
	char		n_pad[56];
} node_t;

/* Not static: the compiler must keep every store (and the symbols). */
void leak_three(void);
void leak_nodes(void);
void leak_cycle(void);
void leak_big(void);
void reachable(void);
void clear_stack(void);

kmem_cache_t *node_cache, *owner_cache;
void *keep_global;
char *keep_interior;
node_t *keep_list;
void *keep_big;
void **keep_in_libc;
void **keep_in_vmem;		/* a page from kmem_default_arena */
void **keep_in_arena;		/* a page from an arena importing from it */
void **keep_in_shared;		/* MAP_SHARED | MAP_ANONYMOUS memory */
void *victim_keep[10];
pthread_barrier_t hold, release;

static void
out(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

/* A constructor that allocates: its object owns that buffer. */
static int
owner_ctor(void *buf, void *priv, int flags)
{
	(void)priv;
	*(void **)buf = kmem_alloc(48, flags);
	return (*(void **)buf == NULL ? -1 : 0);
}

static void
owner_dtor(void *buf, void *priv)
{
	(void)priv;
	kmem_free(*(void **)buf, 48);
}

static void *
holder(void *arg)
{
	void *volatile mine = kmem_alloc(72, KM_SLEEP);

	(void)arg;
	pthread_barrier_wait(&hold);
	pthread_barrier_wait(&release);
	kmem_free(mine, 72);
	return (NULL);
}

__attribute__((noinline)) void
leak_three(void)
{
	for (int i = 0; i < 3; i++)
		(void) kmem_alloc(40, KM_SLEEP);
}

__attribute__((noinline)) void
leak_nodes(void)
{
	for (int i = 0; i < 2; i++)
		(void) kmem_cache_alloc(node_cache, KM_SLEEP);
}

__attribute__((noinline)) void
leak_cycle(void)
{
	void **a = kmem_alloc(100, KM_SLEEP), **b = kmem_alloc(100, KM_SLEEP);

	*a = b;
	*b = a;
}

__attribute__((noinline)) void
leak_big(void)
{
	memset(kmem_alloc(BIG, KM_SLEEP), 0, 64);
}

__attribute__((noinline)) void
reachable(void)
{
	keep_global = kmem_alloc(24, KM_SLEEP);
	keep_interior = (char *)kmem_alloc(200, KM_SLEEP) + 77;
	for (int i = 0; i < 3; i++) {
		node_t *np = kmem_cache_alloc(node_cache, KM_SLEEP);
		np->n_next = keep_list;
		keep_list = np;
	}
	keep_in_libc = malloc(64);
	keep_in_libc[3] = kmem_alloc(56, KM_SLEEP);
	keep_big = kmem_alloc(BIG, KM_SLEEP);
	keep_in_vmem = vmem_alloc(kmem_default_arena, 8192, VM_SLEEP);
	keep_in_vmem[5] = kmem_alloc(24, KM_SLEEP);
	vmem_t *mine = vmem_create("leak_arena", NULL, 0, 4096, vmem_alloc,
	    vmem_free, kmem_default_arena, 0, VM_SLEEP);
	keep_in_arena = vmem_alloc(mine, 4096, VM_SLEEP);
	keep_in_arena[7] = kmem_alloc(24, KM_SLEEP);
	keep_in_shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	keep_in_shared[2] = kmem_alloc(24, KM_SLEEP);
	/* Constructed, then freed: it keeps its kmem_alloc(48). */
	kmem_cache_free(owner_cache, kmem_cache_alloc(owner_cache, KM_SLEEP));
}

/* Stale copies of pointers in dead frames: gone before the scan. */
__attribute__((noinline)) void
clear_stack(void)
{
	char junk[16384];

	memset(junk, 0, sizeof (junk));
	__asm__ volatile("" : : "r"(junk) : "memory");	/* keep the stores */
}

static int
known(void)
{
	pthread_t t;

	node_cache = kmem_cache_create("leak_node", sizeof (node_t), 0, NULL,
	    NULL, NULL, NULL, NULL, 0);
	owner_cache = kmem_cache_create("leak_owner", 32, 0, owner_ctor,
	    owner_dtor, NULL, NULL, NULL, 0);
	pthread_barrier_init(&hold, NULL, 2);
	pthread_barrier_init(&release, NULL, 2);
	pthread_create(&t, NULL, holder, NULL);
	pthread_barrier_wait(&hold);
	reachable();
	leak_three();
	leak_nodes();
	leak_cycle();
	leak_big();
	clear_stack();
	size_t n = kmem_findleaks(out, NULL);
	printf("LEAKS %zu\n", n);
	pthread_barrier_wait(&release);
	pthread_join(t, NULL);
	return (0);
}

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + ts.tv_nsec / 1e9);
}

static long
peak_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_maxrss);
}

/* n buffers of 64 bytes on a list; every other one is unlinked: leaked. */
static int
many(size_t n)
{
	node_cache = kmem_cache_create("leak_node", sizeof (node_t), 0, NULL,
	    NULL, NULL, NULL, NULL, 0);
	for (size_t i = 0; i < n; i++) {
		node_t *np = kmem_cache_alloc(node_cache, KM_SLEEP);
		/* Fresh buffers may hold anything (a page kmem used before */
		/* for magazines): the scan is conservative, so zero them. */
		memset(np, 0, sizeof (*np));
		np->n_next = keep_list;
		keep_list = np;
	}
	for (node_t *np = keep_list; np != NULL && np->n_next != NULL;
	    np = np->n_next)
		np->n_next = np->n_next->n_next;	/* drops it: a leak */
	clear_stack();
	long rss = peak_rss_kib();
	double t0 = seconds();
	size_t leaked = kmem_findleaks(NULL, NULL);
	double t = seconds() - t0;
	printf("MANY buffers %zu leaked %zu seconds %.3f ns/buffer %.1f "
	    "peak-rss-growth-kib %ld bytes/buffer %.1f\n", n, leaked, t,
	    t * 1e9 / (double)n, peak_rss_kib() - rss,
	    (double)(peak_rss_kib() - rss) * 1024 / (double)n);
	return (leaked == n / 2 ? 0 : 1);
}

static volatile sig_atomic_t own_signals;

static void
own_handler(int sig)
{
	(void)sig;
	own_signals++;
}

/* The program's SIGPWR handler still gets the program's SIGPWRs. */
static int
own_signal(void)
{
	signal(SIGPWR, own_handler);
	keep_global = kmem_alloc(24, KM_SLEEP);
	raise(SIGPWR);
	printf("LEAKS %zu\n", kmem_findleaks(out, NULL));
	raise(SIGPWR);
	printf("own handler ran %d times\n", (int)own_signals);
	return (own_signals == 2 ? 0 : 1);
}

static void *
blocker(void *arg)
{
	sigset_t set;
	void *volatile mine = kmem_alloc(72, KM_SLEEP);

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGPWR);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_barrier_wait(&hold);
	pthread_barrier_wait(&release);
	kmem_free(mine, 72);
	return (NULL);
}

/* A thread that will not stop: reported, its stack still scanned. */
static int
blocked(void)
{
	pthread_t t;

	pthread_barrier_init(&hold, NULL, 2);
	pthread_barrier_init(&release, NULL, 2);
	pthread_create(&t, NULL, blocker, NULL);
	pthread_barrier_wait(&hold);
	leak_three();
	clear_stack();
	printf("LEAKS %zu\n", kmem_findleaks(out, NULL));
	pthread_barrier_wait(&release);
	pthread_join(t, NULL);
	return (0);
}

static void *
filler(void *arg)
{
	/* Rounds in this thread's magazines: free, in a fork's child too. */
	for (int i = 0; i < 50; i++)
		kmem_free(kmem_alloc(40, KM_SLEEP), 40);
	pthread_barrier_wait(&hold);
	pthread_barrier_wait(&release);
	return (arg);
}

/* In a fork's child, other threads' magazines hold free buffers. */
static int
forked(void)
{
	pthread_t t;
	int status;

	pthread_barrier_init(&hold, NULL, 2);
	pthread_barrier_init(&release, NULL, 2);
	pthread_create(&t, NULL, filler, NULL);
	pthread_barrier_wait(&hold);
	pid_t pid = fork();
	if (pid == 0) {
		printf("LEAKS %zu\n", kmem_findleaks(out, NULL));
		kmem_reap();
		_exit(0);
	}
	waitpid(pid, &status, 0);
	pthread_barrier_wait(&release);
	pthread_join(t, NULL);
	return (WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

/*
 * A write after a free damages a slab's free list: kmem_verify() says so,
 * and findleaks leaves the slab out and says so too, without crashing.
 */
static int
damaged(void)
{
	kmem_cache_t *cp = kmem_cache_create("leak_victim", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, KMC_NOMAGAZINE);
	void **keep = victim_keep;

	for (int i = 0; i < 10; i++)
		keep[i] = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, keep[5]);
	memset(keep[5], 0x41, 64);	/* the free-list link too */
	(void) kmem_verify(out, NULL);
	printf("LEAKS %zu\n", kmem_findleaks(out, NULL));
	return (0);
}

/* Every page request fails from now: the scan says so, loses nothing. */
static int
nomem(void)
{
	void *p = kmem_alloc(40, KM_SLEEP);

	kmem_posix_fail_map(1, 1);
	size_t n = kmem_findleaks(out, NULL);
	kmem_posix_fail_map(0, 0);
	printf("LEAKS %zd\n", (ssize_t)n);
	kmem_free(p, 40);
	printf("LEAKS %zu\n", kmem_findleaks(out, NULL));
	return (0);
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "known") == 0)
		return (known());
	if (argc >= 2 && strcmp(argv[1], "none") == 0) {
		kmem_free(kmem_alloc(8, KM_SLEEP), 8);
		printf("LEAKS %zu\n", kmem_findleaks(out, NULL));
		return (0);
	}
	if (argc >= 3 && strcmp(argv[1], "many") == 0)
		return (many(strtoul(argv[2], NULL, 0)));
	if (argc >= 2 && strcmp(argv[1], "unstarted") == 0) {
		printf("LEAKS %zu\n", kmem_findleaks(out, NULL));
		return (0);
	}
	if (argc >= 2 && strcmp(argv[1], "nomem") == 0)
		return (nomem());
	if (argc >= 2 && strcmp(argv[1], "signal") == 0)
		return (own_signal());
	if (argc >= 2 && strcmp(argv[1], "blocked") == 0)
		return (blocked());
	if (argc >= 2 && strcmp(argv[1], "fork") == 0)
		return (forked());
	if (argc >= 2 && strcmp(argv[1], "damaged") == 0)
		return (damaged());
	fprintf(stderr, "usage: kmem_leak_helper known|none|many N|unstarted|"
	    "nomem|signal|blocked|fork|damaged\n");
	return (2);
}
