/*
 * kmem_alloc tests: size classes, alignment, zero-size and NULL rules,
 * kmem_zalloc, oversize allocations.
 */
#include <stdio.h>
#include <string.h>

#include <stdint.h>

#include <kmem/kmem.h>
#include <kmem/vmem.h>
#include "../src/kmem_alloc/kmem_alloc_impl.h"
#include "harness.h"

typedef struct find {
	const char	*name;
	kmem_cache_t	*cp;
} find_t;

static int
find_cb(kmem_cache_t *cp, void *arg)
{
	find_t *f = arg;
	if (strcmp(kmem_cache_name(cp), f->name) != 0)
		return (0);
	f->cp = cp;
	return (1);
}

static kmem_cache_t *
cache_named(const char *name)
{
	find_t f = { name, NULL };
	kmem_cache_walk(find_cb, &f);
	return (f.cp);
}

/*
 * The table for sizes rounded to 16 bytes (malloc's): every size up to
 * 4096, 0 included, gets the class kmem_alloc gives its 16-byte multiple
 * -- never a larger one, never one of the 8-byte classes in between.
 */
static void
test_classes16(void)
{
	int wrong = 0;
	for (size_t size = 0; size <= KMEM_ALLOC_SMALL_MAX; size++) {
		size_t r = size == 0 ? 16 : P2ROUNDUP(size, 16);
		kmem_cache_t *cp = kmem_alloc_class16(size);
		wrong += cp != kmem_alloc_class(r) ||
		    cp->cache_bufsize % 16 != 0 || cp->cache_bufsize < r;
	}
	KT_EQ_U(wrong, 0);
}

/* A 14-byte request comes from kmem_alloc_16, and so on for every size. */
static void
test_classes(void)
{
	void *p = kmem_alloc(14, KM_SLEEP);
	kmem_cache_t *c16 = cache_named("kmem_alloc_16");
	KT_CHECK(c16 != NULL);
	KT_CHECK(kmem_cache_stat(c16, "buf_inuse") >= 1);
	uint64_t before = kmem_cache_stat(c16, "buf_inuse");
	kmem_free(p, 14);
	KT_EQ_U(kmem_cache_stat(c16, "buf_inuse"), before - 1);

	static const size_t sizes[] = { 8, 16, 24, 32, 40, 48, 56, 64, 80, 96,
	    112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896,
	    1024, 1152, 1344, 1600, 2048, 2688, 3072, 4096, 5120, 6144, 7168,
	    8192, 12288, 16384, 24576,
	    32768, 131072, 163840, 196608, 229376, 262144, 327680, 393216,
	    458752, 524288, 655360, 786432, 917504, 1048576 };
	size_t prev = 0;
	for (size_t i = 0; i < sizeof (sizes) / sizeof (sizes[0]); i++) {
		char name[32];
		snprintf(name, sizeof (name), "kmem_alloc_%zu", sizes[i]);
		kmem_cache_t *cp = cache_named(name);
		if (!KT_CHECK(cp != NULL))
			continue;
		KT_EQ_U(kmem_cache_stat(cp, "buf_size"), sizes[i]);
		/* The smallest and largest request of the class land here. */
		size_t lo = prev + 1, hi = sizes[i];
		uint64_t a0 = kmem_cache_stat(cp, "alloc");
		void *x = kmem_alloc(lo, KM_SLEEP), *y = kmem_alloc(hi, KM_SLEEP);
		KT_EQ_U(kmem_cache_stat(cp, "alloc"), a0 + 2);
		memset(x, 1, lo);
		memset(y, 2, hi);
		kmem_free(x, lo);
		kmem_free(y, hi);
		prev = sizes[i];
		if (sizes[i] == 32768)
			prev = 122880;
	}
}

static void
test_alignment(void)
{
	for (size_t size = 1; size <= 1100000; size += size < 512 ? 1 :
	    size < 8192 ? 61 : size < 140000 ? 4093 : 32749) {
		void *p = kmem_alloc(size, KM_SLEEP);
		uintptr_t a = (uintptr_t)p;
		KT_CHECK(p != NULL && a % 8 == 0);
		if (size > 8 && size % 16 == 0)
			KT_CHECK(a % 16 == 0);
		if ((size & (size - 1)) == 0 && size <= 1048576)
			KT_CHECK(a % size == 0);	/* natural */
		kmem_free(p, size);
	}
}

static void
test_zero_null(void)
{
	KT_CHECK(kmem_alloc(0, KM_SLEEP) == NULL);
	KT_CHECK(kmem_alloc(0, KM_NOSLEEP) == NULL);
	KT_CHECK(kmem_zalloc(0, KM_SLEEP) == NULL);
	kmem_free(NULL, 0);
	KT_CHECK(true);
}

static void
test_zalloc(void)
{
	for (size_t size = 16; size <= 200000; size *= 3) {
		unsigned char *p = kmem_alloc(size, KM_SLEEP);
		memset(p, 0xff, size);
		kmem_free(p, size);
		unsigned char *q = kmem_zalloc(size, KM_SLEEP);
		size_t nonzero = 0;
		for (size_t i = 0; i < size; i++)
			nonzero += q[i] != 0;
		KT_EQ_U(nonzero, 0);
		kmem_free(q, size);
	}
}

static void
test_oversize(void)
{
	size_t inuse = vmem_size(kmem_oversize_arena, VMEM_ALLOC);
	char *p = kmem_alloc(3 << 20, KM_SLEEP);	/* past the classes */
	KT_CHECK(p != NULL);
	p[0] = 1;
	p[(3 << 20) - 1] = 2;
	KT_EQ_U(vmem_size(kmem_oversize_arena, VMEM_ALLOC), inuse + (3 << 20));
	char *q = kmem_alloc((1 << 20) + 1000, KM_NOSLEEP);
	KT_CHECK(q != NULL && (uintptr_t)q % 4096 == 0);
	kmem_free(p, 3 << 20);
	kmem_free(q, (1 << 20) + 1000);
	KT_EQ_U(vmem_size(kmem_oversize_arena, VMEM_ALLOC), inuse);
}

/*
 * Sizes near SIZE_MAX: every rounding on a caller's size (size classes,
 * pages, alignment, phase, import sizes) must fail cleanly, not wrap to a
 * small size.  KM_NOSLEEP: NULL; no arena grows.
 */
static void
test_size_max(void)
{
	vmem_t *ids = vmem_create("t_max_ids", (void *)1, 1 << 20, 1, NULL,
	    NULL, NULL, 16, VMC_IDENTIFIER);
	vmem_t *imp = vmem_create("t_max_imp", NULL, 0, 4096, vmem_alloc,
	    vmem_free, kmem_default_arena, 4 * 4096, 0);
	int got = 0;

	for (size_t k = 0; k <= 4200; k += (k < 64 ? 1 : 61)) {
		size_t size = SIZE_MAX - k;
		got += kmem_alloc(size, KM_NOSLEEP) != NULL;
		got += kmem_zalloc(size, KM_NOSLEEP) != NULL;
		got += vmem_alloc(ids, size, VM_NOSLEEP) != NULL;
		got += vmem_alloc(imp, size, VM_NOSLEEP) != NULL;
		got += vmem_xalloc(imp, size, 4096, 0, 0, NULL, NULL,
		    VM_NOSLEEP) != NULL;
		got += vmem_xalloc(imp, 4096 * (k % 8 + 1), (size_t)1 << 62,
		    ((size_t)1 << 62) - 4096, 0, NULL, NULL, VM_NOSLEEP) !=
		    NULL;
	}
	KT_EQ_U(got, 0);
	KT_EQ_U(vmem_size(imp, VMEM_ALLOC | VMEM_FREE), 0);
	KT_EQ_U(vmem_size(ids, VMEM_ALLOC), 0);
	vmem_destroy(imp);
	vmem_destroy(ids);
}

KT_SUITE(kmem_alloc_suite,
	{ "kmem_alloc:classes:by-size", test_classes },
	{ "kmem_alloc:classes:table16", test_classes16 },
	{ "kmem_alloc:align:guarantees", test_alignment },
	{ "kmem_alloc:zero:null-rules", test_zero_null },
	{ "kmem_alloc:zalloc:zeroed", test_zalloc },
	{ "kmem_alloc:oversize:arena", test_oversize },
	{ "kmem_alloc:size:near-size-max", test_size_max },
);
