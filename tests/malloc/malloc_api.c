/*
 * The malloc library's contract, run with LD_PRELOAD=libkmem_malloc.so:
 * glibc's guarantees (16-byte alignment, malloc(0) unique, errno ENOMEM,
 * overflow-checked calloc), the alignment functions, malloc_usable_size,
 * realloc, threads with cross-thread frees, fork, and proof that kmem (not
 * the C library) served the requests.  Prints "N passed, N failed".
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int passed, failed;

#define CHECK(name, cond) do {						\
	if (cond) {							\
		passed++;						\
	} else {							\
		failed++;						\
		printf("FAIL %s: %s (line %d)\n", name, #cond, __LINE__);	\
	}								\
} while (0)

/* Sizes through every class boundary, and past the 1 MiB limit. */
static void
test_alignment_and_usable(void)
{
	int bad_align = 0, bad_usable = 0;
	for (size_t size = 0; size < 1300000; size += size < 1024 ? 1 :
	    size < 16384 ? 61 : size < 300000 ? 4093 : 16381) {
		unsigned char *p = malloc(size);
		if (p == NULL || (uintptr_t)p % 16 != 0)
			bad_align++;
		if (p != NULL && malloc_usable_size(p) < size)
			bad_usable++;
		if (p != NULL)
			memset(p, 0xab, malloc_usable_size(p));
		free(p);
	}
	CHECK("malloc:align16", bad_align == 0);
	CHECK("malloc:usable", bad_usable == 0);
	void *a = malloc(0), *b = malloc(0);
	CHECK("malloc:zero-unique", a != NULL && b != NULL && a != b);
	free(a);
	free(b);
	free(NULL);
}

static void
test_errors(void)
{
	/* volatile: the compiler must not see the overflow coming. */
	volatile size_t half = SIZE_MAX / 2, quarter = SIZE_MAX / 4;
	errno = 0;
	void *p = malloc(half);
	CHECK("malloc:huge-null", p == NULL && errno == ENOMEM);
	errno = 0;
	p = calloc(quarter, 8);
	CHECK("calloc:overflow", p == NULL && errno == ENOMEM);
	errno = 0;
	p = reallocarray(NULL, half, 4);
	CHECK("reallocarray:overflow", p == NULL && errno == ENOMEM);
	void *q = NULL;
	CHECK("posix_memalign:einval", posix_memalign(&q, 24, 100) == EINVAL);
}

static void
test_calloc_realloc(void)
{
	int dirty = 0;
	for (size_t size = 1; size < 200000; size = size * 3 + 1) {
		unsigned char *p = malloc(size);
		memset(p, 0xff, size);
		free(p);
		unsigned char *z = calloc(size, 1);
		for (size_t i = 0; i < size; i++)
			dirty += z[i] != 0;
		free(z);
	}
	CHECK("calloc:zeroed", dirty == 0);

	char *s = malloc(10);
	strcpy(s, "kmem");
	int lost = 0;
	for (size_t size = 16; size < 1 << 22; size *= 2) {
		s = realloc(s, size);
		lost += strcmp(s, "kmem") != 0;
		memset(s + 5, 'x', size - 6);
		s[size - 1] = '\0';
		s[4] = '\0';
	}
	s = realloc(s, 8);
	lost += strcmp(s, "kmem") != 0;
	CHECK("realloc:keeps", lost == 0);
	CHECK("realloc:zero-frees", realloc(s, 0) == NULL);
}

static void
test_memalign(void)
{
	int bad = 0;
	for (size_t align = 1; align <= 1 << 20; align *= 2) {
		for (size_t size = 1; size < 300000; size = size * 5 + 3) {
			void *p = NULL;
			if (align >= sizeof (void *)) {
				if (posix_memalign(&p, align, size) != 0 ||
				    (uintptr_t)p % align != 0)
					bad++;
				free(p);
			}
			p = aligned_alloc(align, size);
			bad += p == NULL || (uintptr_t)p % align != 0;
			free(p);
			p = memalign(align, size);
			bad += p == NULL || (uintptr_t)p % align != 0 ||
			    malloc_usable_size(p) < size;
			free(p);
		}
	}
	CHECK("memalign:aligned", bad == 0);
	long page = sysconf(_SC_PAGESIZE);
	void *v = valloc(100), *pv = pvalloc(100);
	CHECK("valloc:page", v != NULL && (uintptr_t)v % (uintptr_t)page == 0);
	CHECK("pvalloc:page", pv != NULL && (uintptr_t)pv % (uintptr_t)page == 0 &&
	    malloc_usable_size(pv) >= (size_t)page);
	free(v);
	free(pv);
}

enum { XN = 20000 };
static void *xfer[XN];

static void *
producer(void *arg)
{
	(void)arg;
	for (int i = 0; i < XN; i++) {
		xfer[i] = malloc(16 + i % 3000);
		memset(xfer[i], i & 0xff, 16);
	}
	return (NULL);
}

static void
test_threads_fork(void)
{
	pthread_t t;
	pthread_create(&t, NULL, producer, NULL);
	pthread_join(t, NULL);
	int bad = 0;
	for (int i = 0; i < XN; i++) {	/* freed by another thread */
		bad += ((unsigned char *)xfer[i])[0] != (i & 0xff);
		free(xfer[i]);
	}
	CHECK("threads:cross-free", bad == 0);
	pid_t pid = fork();
	if (pid == 0) {
		void *p[1000];
		for (int i = 0; i < 1000; i++)
			p[i] = malloc(i * 10 + 1);
		for (int i = 0; i < 1000; i++)
			free(p[i]);
		_exit(0);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	CHECK("fork:child-allocates", WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
}

static void *heap_arena;

static int
find_heap(void *vmp, void *arg)
{
	typedef const char *(*name_fn_t)(void *);
	name_fn_t name = (name_fn_t)(uintptr_t)dlsym(RTLD_DEFAULT, "vmem_name");
	(void)arg;
	if (strcmp(name(vmp), "heap") == 0) {
		heap_arena = vmp;
		return (1);
	}
	return (0);
}

/*
 * A large buffer freed and asked for again reuses its span: no new memory
 * is mapped from the operating system, so no fresh pages are faulted in.
 */
static void
test_large_reuse(void)
{
	typedef int (*vwalk_fn_t)(int (*)(void *, void *), void *);
	typedef uint64_t (*vstat_fn_t)(void *, const char *);
	vwalk_fn_t walk = (vwalk_fn_t)(uintptr_t)dlsym(RTLD_DEFAULT,
	    "vmem_arena_walk");
	vstat_fn_t stat = (vstat_fn_t)(uintptr_t)dlsym(RTLD_DEFAULT,
	    "vmem_stat");
	if (walk == NULL || stat == NULL || !walk(find_heap, NULL)) {
		CHECK("large:reuses-spans", false);
		return;
	}
	enum { SIZE = 64 << 20, ROUNDS = 10 };	/* larger than any before */
	char *p = malloc(SIZE);
	memset(p, 1, SIZE);
	free(p);
	uint64_t imports = stat(heap_arena, "import");
	for (int i = 0; i < ROUNDS; i++) {
		p = malloc(SIZE);
		memset(p, i, SIZE);
		free(p);
	}
	CHECK("large:reuses-spans", stat(heap_arena, "import") == imports);
}

/*
 * libumem's portable port hashed pthread_self() onto per-CPU slots and put
 * every glibc thread on one slot and one lock.  Here two threads doing
 * 2,000,000 malloc/free pairs each meet at most at their first magazine
 * fills: the depot sees no steady contention.
 */
typedef uint64_t (*stat_fn_t)(void *, const char *);
typedef int (*walk_fn_t)(int (*)(void *, void *), void *);
static void *cache_64;

static int
find_64(void *cp, void *arg)
{
	typedef const char *(*name_fn_t)(void *);
	name_fn_t name = (name_fn_t)(uintptr_t)dlsym(RTLD_DEFAULT,
	    "kmem_cache_name");
	(void)arg;
	if (strcmp(name(cp), "kmem_alloc_64") == 0) {
		cache_64 = cp;
		return (1);
	}
	return (0);
}

static void *
pairs(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000000; i++) {
		void *p = malloc(64);
		*(volatile char *)p = 1;
		free(p);
	}
	return (NULL);
}

static void
test_threads_share_nothing(void)
{
	walk_fn_t walk = (walk_fn_t)(uintptr_t)dlsym(RTLD_DEFAULT,
	    "kmem_cache_walk");
	stat_fn_t stat = (stat_fn_t)(uintptr_t)dlsym(RTLD_DEFAULT,
	    "kmem_cache_stat");
	if (walk == NULL || stat == NULL || !walk(find_64, NULL)) {
		CHECK("threads:no-shared-slot", false);
		return;
	}
	uint64_t contention = stat(cache_64, "depot_contention");
	uint64_t depot = stat(cache_64, "depot_alloc");
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, pairs, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	/* The two threads' first magazine fills may meet once or twice at */
	/* the depot; a shared cache (libumem's bug) would meet millions. */
	CHECK("threads:no-shared-slot",
	    stat(cache_64, "depot_contention") - contention <= 2 &&
	    stat(cache_64, "depot_alloc") - depot < 10);
}

/* kmem, not the C library, served these requests. */
static void
test_is_kmem(void)
{
	typedef int (*walk_fn)(int (*)(void *, void *), void *);
	typedef uint64_t (*stat_fn)(void *, const char *);
	walk_fn walk = (walk_fn)(uintptr_t)dlsym(RTLD_DEFAULT,
	    "kmem_cache_walk");
	stat_fn stat = (stat_fn)(uintptr_t)dlsym(RTLD_DEFAULT,
	    "kmem_cache_stat");
	CHECK("kmem:loaded", walk != NULL && stat != NULL);
	if (walk == NULL || stat == NULL)
		return;
	void *p = malloc(100);
	CHECK("kmem:usable-is-class", malloc_usable_size(p) == 112);
	free(p);
}

int
main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	test_alignment_and_usable();
	test_errors();
	test_calloc_realloc();
	test_memalign();
	test_threads_fork();
	test_is_kmem();
	test_large_reuse();
	test_threads_share_nothing();
	printf("%d passed, %d failed\n", passed, failed);
	return (failed != 0);
}
