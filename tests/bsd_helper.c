/*
 * kmem_bsd_helper: one misuse or shortage of the BSD malloc faces in a
 * process of its own, so that it can run under KMEM_DEBUG and a memory
 * budget of its own.  test_bsd_malloc.c checks what it says.
 *
 *   dupfree | wrong-bucket | modified | unaligned | foreign | too-large
 *   | nowait-budget | nowait-classes | krealloc-budget | late-start
 *   | pool-dupput | pool-modified | pool-redzone
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/bsd/malloc.h>
#include <kmem/bsd/pool.h>

MALLOC_DEFINE(M_HELPER, "helperbuf", "kmem_bsd_helper's buffers");

static int
fail(const char *what)
{
	printf("kmem_bsd_helper: %s\n", what);
	return (2);
}

static void
flush(void)
{
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IONBF, 0);
	atexit(flush);
	alarm(60);
	if (strcmp(what, "dupfree") == 0) {
		char *p = malloc(100, M_HELPER, M_WAITOK);
		free(p, M_HELPER);
		free(p, M_HELPER);
		return (fail("a duplicate free went unnoticed"));
	}
	if (strcmp(what, "wrong-bucket") == 0) {
		char *p = malloc(100, M_HELPER, M_WAITOK);
		free(p, M_TEMP);
		return (fail("a free with the wrong type went unnoticed"));
	}
	if (strcmp(what, "modified") == 0) {
		char *p = kmalloc(200, M_HELPER, M_WAITOK);
		kfree(p, M_HELPER);
		p[24] = 'x';			/* use after free */
		for (int i = 0; i < 1000; i++)
			p = kmalloc(200, M_HELPER, M_WAITOK);
		return (fail("a write to a free buffer went unnoticed"));
	}
	if (strcmp(what, "unaligned") == 0) {
		char *p = malloc(100, M_HELPER, M_WAITOK);
		free(p + 8, M_HELPER);
		return (fail("a free inside a buffer went unnoticed"));
	}
	if (strcmp(what, "foreign") == 0) {
		static char not_kmem[64] __attribute__((aligned(64)));
		kfree(not_kmem, M_HELPER);
		return (fail("a free of memory kmem never gave went unnoticed"));
	}
	if (strcmp(what, "too-large") == 0) {
		(void) malloc(1UL << 44, M_HELPER, M_WAITOK);
		return (fail("an impossible M_WAITOK request returned"));
	}
	if (strcmp(what, "nowait-budget") == 0) {
		/* 64 MiB budget: M_NOWAIT requests fail, then succeed. */
		void *v[64];
		int n = 0;
		while (n < 64 && (v[n] = malloc(4 << 20, M_HELPER,
		    M_NOWAIT)) != NULL)
			n++;
		if (n == 0 || n == 64)
			return (fail("the budget did not bound M_NOWAIT"));
		struct malloc_type_stat mts;
		malloc_type_stat(M_HELPER, &mts);
		if (mts.mts_failures != 1 || mts.mts_inuse != (unsigned)n)
			return (fail("failures or in-use miscounted"));
		while (n > 0)
			free(v[--n], M_HELPER);
		char *small = malloc(64, M_HELPER, M_NOWAIT);
		if (small == NULL)
			return (fail("nothing after the budget came back"));
		free(small, M_HELPER);
		printf("M_NOWAIT failed at the budget and recovered\n");
		return (0);
	}
	if (strncmp(what, "pool-", 5) == 0) {
		static struct pool pool;
		pool_init(&pool, 96, 0, 0, 0, "diagpl", NULL, IPL_NONE);
		char *item = pool_get(&pool, PR_WAITOK);
		if (strcmp(what, "pool-dupput") == 0) {
			pool_put(&pool, item);
			pool_put(&pool, item);
		} else if (strcmp(what, "pool-modified") == 0) {
			pool_put(&pool, item);
			item[40] = 1;		/* use after put */
			for (int i = 0; i < 1000; i++)
				(void) pool_get(&pool, PR_WAITOK);
		} else if (strcmp(what, "pool-redzone") == 0) {
			item[96] = 1;		/* one past the item */
			pool_put(&pool, item);
		}
		return (fail("a pool misuse went unnoticed"));
	}
	if (strcmp(what, "nowait-classes") == 0) {
		/* Under a budget, M_NOWAIT class buffers run out. */
		static void *v[4096];
		int n = 0;
		while (n < 4096 && (v[n] = malloc(60000, M_HELPER,
		    M_NOWAIT)) != NULL)
			n++;
		if (n == 4096)
			return (fail("the budget never ran out"));
		while (n > 0)
			free(v[--n], M_HELPER);
		printf("M_NOWAIT class buffers ran out and came back\n");
		return (0);
	}
	if (strcmp(what, "late-start") == 0) {
		/* kmem runs before the face's first use: the buffers its */
		/* magazines and slabs hold already must free by address. */
		void *v[2000];
		if (kmem_init(NULL) != 0)
			return (fail("kmem_init failed"));
		for (int i = 0; i < 2000; i++)
			v[i] = kmem_alloc(64 + (i % 4) * 100, KM_SLEEP);
		for (int i = 0; i < 2000; i += 2)
			kmem_free(v[i], 64 + (i % 4) * 100);
		for (int i = 0; i < 2000; i += 2)
			v[i] = kmalloc(64 + (i % 4) * 100, M_HELPER, M_WAITOK);
		for (int i = 0; i < 2000; i += 2)
			kfree(v[i], M_HELPER);
		for (int i = 1; i < 2000; i += 2)
			kmem_free(v[i], 64 + (i % 4) * 100);
		struct malloc_type_stat mts;
		malloc_type_stat(M_HELPER, &mts);
		if (mts.mts_inuse != 0 || mts.mts_calls != 1000)
			return (fail("late start miscounted"));
		printf("the face started after kmem: 1000 buffers freed by "
		    "address\n");
		return (0);
	}
	if (strcmp(what, "krealloc-budget") == 0) {
		/* 64 MiB budget: growing past it fails, the old stays. */
		size_t old = 8 << 20;
		unsigned char *p = kmalloc(old, M_HELPER, M_WAITOK);
		for (size_t i = 0; i < old; i++)
			p[i] = (unsigned char)(i * 7);
		if (krealloc(p, 96 << 20, M_HELPER, M_NOWAIT) != NULL)
			return (fail("krealloc past the budget succeeded"));
		for (size_t i = 0; i < old; i++)
			if (p[i] != (unsigned char)(i * 7))
				return (fail("krealloc failure changed the "
				    "old buffer"));
		unsigned char *q = krealloc(p, 16 << 20, M_HELPER, M_NOWAIT);
		if (q == NULL)
			return (fail("krealloc within the budget failed"));
		for (size_t i = 0; i < old; i++)
			if (q[i] != (unsigned char)(i * 7))
				return (fail("krealloc lost the contents"));
		kfree(q, M_HELPER);
		printf("krealloc failed past the budget, the old buffer "
		    "intact\n");
		return (0);
	}
	return (fail("usage: kmem_bsd_helper dupfree|wrong-bucket|modified|"
	    "unaligned|foreign|too-large|nowait-budget|nowait-classes|"
	    "krealloc-budget|late-start"));
}
