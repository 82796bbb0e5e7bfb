/*
 * The malloc library's contract, run with LD_PRELOAD=libkmem_malloc.so:
 * glibc's guarantees (16-byte alignment, malloc(0) unique, errno ENOMEM,
 * overflow-checked calloc), the alignment functions, malloc_usable_size,
 * realloc, threads with cross-thread frees, fork, and proof that kmem (not
 * the C library) served the requests; sizes near SIZE_MAX and huge
 * alignments fail cleanly; pointers that start no buffer stop the process.
 * Prints "N passed, N failed".
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmem/kmem.h>

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

	/*
	 * A size the buffer holds with no more than half wasted stays in
	 * place; half or less moves, keeping the prefix; small classes and
	 * page-run buffers alike.
	 */
	int moved = 0, stayed = 0, bad = 0;
	for (size_t size = 24; size < 3 << 20; size = size * 5 / 2) {
		unsigned char *p = malloc(size);
		size_t usable = malloc_usable_size(p);
		memset(p, 0x5a, usable);
		moved += realloc(p, usable) != p;
		moved += realloc(p, usable / 2 + 1) != p;
		unsigned char *q = realloc(p, usable / 2);
		stayed += q == p;
		for (size_t i = 0; i < usable / 2; i++)
			bad += q[i] != 0x5a;
		free(q);
	}
	CHECK("realloc:fits-in-place", moved == 0);
	CHECK("realloc:half-moves", stayed == 0 && bad == 0);
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

/*
 * Run body(arg) in a child, its stderr into out (NUL-terminated); return
 * its wait status.  A crash in one case does not hide the others.
 */
static int
run_child(int (*body)(int), int arg, char *out, size_t outlen)
{
	int fds[2], status = -1;
	if (pipe(fds) != 0)
		return (-1);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		_exit(body(arg));
	}
	close(fds[1]);
	size_t n = 0;
	char chunk[512];
	for (ssize_t r; (r = read(fds[0], chunk, sizeof (chunk))) > 0; ) {
		size_t take = (size_t)r < outlen - 1 - n ? (size_t)r :
		    outlen - 1 - n;		/* the rest is read and dropped */
		memcpy(out + n, chunk, take);
		n += take;
	}
	out[n] = '\0';
	close(fds[0]);
	waitpid(pid, &status, 0);
	return (status);
}

/* body(arg) ran in a child and returned 0. */
static void
check_in_child(const char *name, int (*body)(int), int arg)
{
	char out[4096];
	int status = run_child(body, arg, out, sizeof (out));
	CHECK(name, WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (WIFSIGNALED(status))
		printf("    %s: killed by signal %d\n", name, WTERMSIG(status));
	if (out[0] != '\0')
		printf("    %s said: %s\n", name, out);
}

/*
 * With the memory budget spent (kmem_physmem_set() a little above what is
 * mapped, then 16-byte buffers until malloc fails), realloc() that
 * shrinks a buffer to half or less -- whose move finds no memory --
 * returns the buffer itself, contents untouched (errno may tell of the
 * failed move, as a successful call may); one that grows fails with
 * ENOMEM and keeps the buffer.
 */
static int
shrink_body(int arg)
{
	int (*set)(size_t) = (int (*)(size_t))(uintptr_t)dlsym(RTLD_DEFAULT,
	    "kmem_physmem_set");
	void (*stat)(kmem_memstat_t *) = (void (*)(kmem_memstat_t *))
	    (uintptr_t)dlsym(RTLD_DEFAULT, "kmem_memstat");
	char *big = malloc(4 << 20), *mid = malloc(3000);
	kmem_memstat_t ms;

	(void)arg;
	if (set == NULL || stat == NULL || big == NULL || mid == NULL)
		return (1);
	memset(big, 'B', 4 << 20);
	memset(mid, 'M', 3000);
	stat(&ms);
	set(ms.ms_mapped + (4 << 20));
	void *head = NULL;
	for (void **p; (p = malloc(16)) != NULL; head = p)
		*p = head;
	char *s1 = realloc(big, 100), *s2 = realloc(mid, 1000);
	if (s1 != big || s2 != mid || big[99] != 'B' ||
	    mid[999] != 'M')
		return (2);
	if (realloc(mid, 1 << 20) != NULL || errno != ENOMEM ||
	    mid[2999] != 'M')
		return (3);
	return (0);
}

/*
 * Every allocating function, asked for SIZE_MAX - k bytes, k from 0 to a
 * little more than a page: NULL and ENOMEM (posix_memalign: ENOMEM
 * returned, errno and the pointer untouched), a buffer realloc'd keeps
 * its contents -- never a small buffer from a size that wrapped, never a
 * crash.  The memalign family runs at a small class's alignment, a page's
 * and one past the 1 MiB classes.
 */
enum { NEAR_MAX_FNS = 9, NEAR_MAX_ALIGNED = 3 * 3, NEAR_MAX_K = 4096 + 64 };
static const char *const near_max_names[NEAR_MAX_FNS + NEAR_MAX_ALIGNED] = {
	"size-max:malloc", "size-max:calloc(1,n)", "size-max:calloc(n,1)",
	"size-max:realloc(NULL)", "size-max:realloc(buf)",
	"size-max:reallocarray(NULL)", "size-max:reallocarray(buf)",
	"size-max:valloc", "size-max:pvalloc",
	"size-max:memalign(32)", "size-max:memalign(4096)",
	"size-max:memalign(2M)", "size-max:aligned_alloc(32)",
	"size-max:aligned_alloc(4096)", "size-max:aligned_alloc(2M)",
	"size-max:posix_memalign(32)", "size-max:posix_memalign(4096)",
	"size-max:posix_memalign(2M)",
};

/* Call function fn for size bytes; true if it failed as it must. */
static bool
near_max_fails(int fn, size_t size, char *buf)
{
	static const size_t aligns[] = { 32, 4096, 2 << 20 };
	size_t align = fn >= NEAR_MAX_FNS ? aligns[(fn - NEAR_MAX_FNS) % 3] : 0;
	void *p = NULL;

	errno = 0;
	switch (fn) {
	case 0: p = malloc(size); break;
	case 1: p = calloc(1, size); break;
	case 2: p = calloc(size, 1); break;
	case 3: p = realloc(NULL, size); break;
	case 4: p = realloc(buf, size); break;
	case 5: p = reallocarray(NULL, 1, size); break;
	case 6: p = reallocarray(buf, size, 1); break;
	case 7: p = valloc(size); break;
	case 8: p = pvalloc(size); break;
	default:
		switch ((fn - NEAR_MAX_FNS) / 3) {
		case 0: p = memalign(align, size); break;
		case 1: p = aligned_alloc(align, size); break;
		default:
			return (posix_memalign(&p, align, size) == ENOMEM &&
			    p == NULL && errno == 0);
		}
	}
	return (p == NULL && errno == ENOMEM);
}

static int
near_max_body(int fn)
{
	char *buf = malloc(100);
	int bad = 0;
	strcpy(buf, "kmem");
	for (size_t k = 0; k <= NEAR_MAX_K; k++) {
		if (!near_max_fails(fn, SIZE_MAX - k, buf) && bad++ == 0)
			fprintf(stderr, "SIZE_MAX - %zu did not fail ", k);
	}
	if (strcmp(buf, "kmem") != 0 || malloc_usable_size(buf) < 100)
		bad++;
	free(buf);
	return (bad != 0);
}

/* Alignments no address space can meet: ENOMEM, as glibc says. */
static int
huge_align_body(int unused)
{
	int bad = 0;
	(void)unused;
	for (int shift = 47; shift < 64; shift++) {
		size_t align = (size_t)1 << shift;
		void *p = NULL;
		errno = 0;
		bad += memalign(align, 1) != NULL || errno != ENOMEM;
		errno = 0;
		bad += aligned_alloc(align, 0) != NULL || errno != ENOMEM;
		bad += posix_memalign(&p, align, 1) != ENOMEM || p != NULL;
	}
	return (bad != 0);
}

/* Size 0 at every alignment past the classes: a unique, aligned buffer. */
static int
zero_huge_align_body(int unused)
{
	int bad = 0;
	(void)unused;
	for (size_t align = 2 << 20; align <= 8 << 20; align *= 2) {
		void *a = NULL, *b = aligned_alloc(align, 0);
		void *c = memalign(align, 0);
		bad += posix_memalign(&a, align, 0) != 0;
		bad += a == NULL || b == NULL || c == NULL || a == b || b == c ||
		    a == c;
		bad += ((uintptr_t)a | (uintptr_t)b | (uintptr_t)c) % align != 0;
		free(a);
		free(b);
		free(c);
	}
	return (bad != 0);
}

static void
test_size_max(void)
{
	for (int fn = 0; fn < NEAR_MAX_FNS + NEAR_MAX_ALIGNED; fn++)
		check_in_child(near_max_names[fn], near_max_body, fn);
	check_in_child("memalign:huge-align-enomem", huge_align_body, 0);
	check_in_child("realloc:shrink-never-fails", shrink_body, 0);
	check_in_child("memalign:zero-huge-align", zero_huge_align_body, 0);
}

/*
 * A pointer that starts no buffer stops the process with the message
 * libkmem_malloc(3) documents, from free, realloc and malloc_usable_size:
 * inside a small buffer, in a small slab's header, inside a large-slab
 * buffer (on a page boundary too), inside an oversize buffer, on the
 * stack.  Each call runs in a child.
 */
enum { BAD_CASES = 7 };
static const char *const bad_case_names[BAD_CASES] = {
	"small+16", "small+1", "slab-header", "large-slab+16",
	"large-slab+page", "oversize+page", "stack",
};
static const char *const bad_fn_names[3] = {
	"free", "realloc", "malloc_usable_size",
};
static char *bad_pointers[BAD_CASES];

static int
bad_pointer_body(int which)
{
	void *p = bad_pointers[which / 3];
	switch (which % 3) {
	case 0: free(p); break;
	case 1: p = realloc(p, 200); break;
	default: (void)malloc_usable_size(p); break;
	}
	return (0);		/* survived: the test fails */
}

static void
test_bad_pointers(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *small = malloc(100), *mid = malloc(1000), *big = malloc(20000);
	char *huge = malloc(3 << 20), stack[32];
	char *mine[] = {
		small + 16, small + 1,
		(char *)((uintptr_t)small & -(uintptr_t)page) + page - 16,
		mid + 16, (char *)(((uintptr_t)big + (uintptr_t)page) &
		    -(uintptr_t)page), huge + page, stack,
	};
	memcpy(bad_pointers, mine, sizeof (mine));
	for (int which = 0; which < BAD_CASES * 3; which++) {
		char name[64], want[128], guarded[128], out[4096];
		snprintf(name, sizeof (name), "%s:bad-pointer:%s",
		    bad_fn_names[which % 3], bad_case_names[which / 3]);
		void *bad = bad_pointers[which / 3];
		snprintf(want, sizeof (want), "%s(%p): invalid or corrupted "
		    "buffer", bad_fn_names[which % 3], bad);
		/* Under KMEM_DEBUG a guarded cache reports a bad free. */
		snprintf(guarded, sizeof (guarded), "bad free: free address "
		    "(%p)", bad);
		int status = run_child(bad_pointer_body, which, out,
		    sizeof (out));
		bool said = strstr(out, want) != NULL || (which % 3 == 0 &&
		    strstr(out, guarded) != NULL);
		CHECK(name, WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
		    said);
		if (!said)
			printf("    %s: wanted \"%s\", child said \"%s\"\n",
			    name, want, out);
	}
	free(small);
	free(mid);
	free(big);
	free(huge);
}

/*
 * No false alarm: every buffer of every class, from many slabs and so
 * many colours, starts a chunk (malloc_usable_size checks as free does).
 */
static int
every_buffer_body(int unused)
{
	enum { N = 2000 };
	static char *bufs[N];
	int bad = 0;
	(void)unused;
	for (size_t size = 16; size <= 1 << 20; size = size < 4096 ?
	    size + 16 * (size / 128 + 1) : size * 5 / 4) {
		int n = size < 4096 ? N : size < 65536 ? 64 : 12;
		for (int i = 0; i < n; i++) {
			bufs[i] = malloc(size);
			bad += bufs[i] == NULL || malloc_usable_size(bufs[i]) <
			    size;
		}
		for (int i = 0; i < n; i++)
			free(bufs[i]);
	}
	return (bad != 0);
}

static void
test_checks(void)
{
	test_bad_pointers();
	check_in_child("free:every-buffer-starts", every_buffer_body, 0);
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

/* The resident set, in KiB, from /proc/self/statm. */
static long
resident_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return (rss * (sysconf(_SC_PAGESIZE) / 1024));
}

static int
large_double_free_body(int arg)
{
	char *p = malloc(8 << 20);
	(void)arg;
	free(p);	/* kept for reuse, but no longer the caller's */
	free(p);
	return (0);	/* survived: the test fails */
}

/*
 * Freed large buffers are kept for reuse (large.c): the same size comes
 * back at the same address; a smaller request may take a buffer up to
 * twice its size (malloc_usable_size says so); a kept buffer freed again
 * is still a bad free; and a loop of large buffers of random sizes keeps
 * its resident set near its live heap (it reached 1.8 times that when
 * freed pages stayed resident until the periodic update).
 */
static void
test_large_cache(void)
{
	enum { MIB = 1 << 20 };
	/* Start with nothing kept (earlier tests freed large buffers). */
	void (*reap)(void) = (void (*)(void))(uintptr_t)dlsym(RTLD_DEFAULT,
	    "kmem_reap");
	CHECK("large:kmem-reap-exported", reap != NULL);
	if (reap != NULL)
		reap();
	char *p = malloc(8 * MIB);
	memset(p, 1, 8 * MIB);
	free(p);
	char *q = malloc(8 * MIB);
	CHECK("large:reuse-same-size", q == p);
	free(q);
	q = malloc(5 * MIB);
	CHECK("large:reuse-larger-buffer", q == p &&
	    malloc_usable_size(q) == 8 * MIB);
	free(q);
	q = malloc(3 * MIB);		/* 8 MiB is over twice 3: not reused */
	CHECK("large:no-reuse-past-twice", q != p &&
	    malloc_usable_size(q) == 3 * MIB);
	free(q);

	char out[4096], want[128];
	snprintf(want, sizeof (want), "invalid or corrupted buffer");
	int status = run_child(large_double_free_body, 0, out, sizeof (out));
	CHECK("large:double-free-of-kept", WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGABRT && (strstr(out, want) != NULL ||
	    getenv("KMEM_DEBUG") != NULL));

	enum { SLOTS = 12, OPS = 120 };
	char *slot[SLOTS] = { 0 };
	size_t len[SLOTS] = { 0 }, live = 0, peak_live = 0;
	long base = resident_kib(), worst = 0;
	uint64_t seed = 42;
	for (int op = 0; op < OPS; op++) {
		int i = (int)(seed % SLOTS);
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		free(slot[i]);
		live -= len[i];
		len[i] = (size_t)MIB + (size_t)(seed >> 40) % (16 * MIB);
		slot[i] = malloc(len[i]);
		memset(slot[i], op, len[i]);
		live += len[i];
		if (live > peak_live)
			peak_live = live;
		long over = resident_kib() - base - (long)(live / 1024);
		if (over > worst)
			worst = over;
	}
	/* Kept: at most an eighth of the large memory in use, 16 MiB at */
	/* least; plus up to 2 MiB a buffer of large pages at its end. */
	long allowed = (long)(peak_live / 8 / 1024) + 16 * 1024 +
	    SLOTS * 2 * 1024;
	CHECK("large:resident-near-live", worst <= allowed);
	if (worst > allowed)
		printf("    resident %ld KiB over the live heap, allowed %ld\n",
		    worst, allowed);
	for (int i = 0; i < SLOTS; i++)
		free(slot[i]);
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

/*
 * The platform's page requests failing one by one (kmem_posix_fail_map,
 * once and from then on): every malloc-family call returns a buffer it
 * can use, or NULL with ENOMEM (posix_memalign: ENOMEM); nothing crashes,
 * and everything works again once the failures stop.
 */
typedef void (*failmap_fn_t)(unsigned long, int);
typedef unsigned long (*mapcount_fn_t)(void);
static int fault_nulls;		/* requests that came back NULL */

static int
fault_round(void)
{
	static const size_t sizes[] = { 24, 700, 5000, 70000, 900000, 3 << 20 };
	void *p[6][24];
	int bad = 0;

	for (int i = 0; i < 24; i++) {
		for (int s = 0; s < 6; s++) {
			size_t size = sizes[s] + (size_t)i * 8;
			errno = 0;
			void *q = (i % 4 == 0) ? calloc(1, size) : (i % 4 == 1) ?
			    memalign(4096, size) : malloc(size);
			if (q == NULL) {
				bad += errno != ENOMEM;
				fault_nulls++;
			} else {
				memset(q, 0x5a, size);
				void *r = realloc(q, size * 2);
				if (r != NULL)
					q = r;
				else
					bad += errno != ENOMEM;
			}
			p[s][i] = q;
		}
	}
	for (int i = 0; i < 24; i++)
		for (int s = 0; s < 6; s++)
			free(p[s][i]);
	return (bad);
}

static void
test_faults(void)
{
	failmap_fn_t failmap = (failmap_fn_t)(uintptr_t)dlsym(RTLD_DEFAULT,
	    "kmem_posix_fail_map");
	mapcount_fn_t count = (mapcount_fn_t)(uintptr_t)dlsym(RTLD_DEFAULT,
	    "kmem_posix_map_count");
	void (*reap)(void) = (void (*)(void))(uintptr_t)dlsym(RTLD_DEFAULT,
	    "kmem_reap");
	CHECK("faults: hooks exported", failmap != NULL && count != NULL &&
	    reap != NULL);
	if (failmap == NULL || count == NULL || reap == NULL)
		return;
	reap();		/* every round below starts with nothing cached */
	unsigned long before = count();
	CHECK("faults: clean round", fault_round() == 0);
	unsigned long total = count() - before + 8;
	int bad = 0, recovered = 0;
	for (int persist = 0; persist <= 1; persist++) {
		for (unsigned long nth = 1; nth <= total; nth++) {
			reap();
			failmap(nth, persist);
			bad += fault_round();
			failmap(0, 0);
			recovered += fault_round() == 0;
		}
	}
	CHECK("faults: NULL with ENOMEM, or a usable buffer", bad == 0);
	CHECK("faults: the failures reached malloc", fault_nulls > 0);
	CHECK("faults: works again after each", recovered == (int)(2 * total));
}

/*
 * Run as "malloc_api unstarted" with a budget too small for kmem to start:
 * every allocating function fails with ENOMEM (posix_memalign returns it).
 */
static int
unstarted_main(void)
{
	void *p;

	errno = 0;
	if (malloc(16) != NULL || errno != ENOMEM)
		return (1);
	errno = 0;
	if (calloc(4, 4) != NULL || errno != ENOMEM)
		return (2);
	errno = 0;
	if (realloc(NULL, 16) != NULL || errno != ENOMEM)
		return (3);
	errno = 0;
	if (memalign(64, 16) != NULL || errno != ENOMEM)
		return (4);
	errno = 0;
	if (valloc(16) != NULL || errno != ENOMEM)
		return (5);
	if (posix_memalign(&p, 64, 16) != ENOMEM)
		return (6);
	return (0);
}

/*
 * Run as "malloc_api realloc-freed" under KMEM_DEBUG=guards,noabort:
 * realloc() of a freed buffer that would fit in place is reported (as
 * free reports it) and fails with EINVAL, the buffer not handed back.
 */
static int
realloc_freed_main(void)
{
	char *p = malloc(64);

	free(p);
	errno = 0;
	return (realloc(p, 60) == NULL && errno == EINVAL ? 0 : 1);
}

/* Checks that need a fresh process: "malloc_api MODE", with env. */
static const struct {
	const char	*mode, *env;
	int		(*check)(void);
} reexec[] = {
	{ "unstarted", "KMEM_OPTIONS=physmem=1k", unstarted_main },
	{ "realloc-freed", "KMEM_DEBUG=guards,noabort", realloc_freed_main },
};

/* This program again as reexec[which] (LD_PRELOAD kept). */
static int
reexec_body(int which)
{
	char preload[4096], *envp[] = { (char *)reexec[which].env, preload,
	    NULL };
	char *argv[] = { "malloc_api", (char *)reexec[which].mode, NULL };
	const char *lp = getenv("LD_PRELOAD");

	snprintf(preload, sizeof (preload), "LD_PRELOAD=%s", lp ? lp : "");
	execve("/proc/self/exe", argv, envp);
	return (9);
}

static void
test_reexec(void)
{
	char out[4096];

	check_in_child("errors:unstarted-enomem", reexec_body, 0);
	int status = run_child(reexec_body, 1, out, sizeof (out));
	CHECK("realloc:freed-reported", WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0 && strstr(out, "duplicate free") != NULL);
}

int
main(int argc, char **argv)
{
	for (size_t i = 0; argc > 1 && i < sizeof (reexec) / sizeof (reexec[0]);
	    i++)
		if (strcmp(argv[1], reexec[i].mode) == 0)
			return (reexec[i].check());
	setvbuf(stdout, NULL, _IONBF, 0);
	test_reexec();
	test_alignment_and_usable();
	test_errors();
	test_calloc_realloc();
	test_memalign();
	test_size_max();
	test_checks();
	test_threads_fork();
	test_is_kmem();
	test_large_reuse();
	test_large_cache();
	test_threads_share_nothing();
	test_faults();
	printf("%d passed, %d failed\n", passed, failed);
	return (failed != 0);
}
