/*
 * Debugging (KMEM_DEBUG=guards): every kind of corruption the buffer tags
 * catch is a death test -- a child commits the bug in a guarded cache, and
 * the parent checks that it was stopped (SIGABRT) with the illumos
 * message for that class, naming the cache.  Plus: noabort goes on, and
 * correct use of a guarded cache raises no false alarm.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include "../src/debug/debug_impl.h"
#include "../src/base/track.h"
#include "harness.h"

enum { GUARD_SIZE = 100 };	/* buftag at 104 */

static kmem_cache_t *
guarded_cache(const char *name, kmem_constructor_t *ctor,
    kmem_destructor_t *dtor)
{
	return (kmem_cache_create(name, GUARD_SIZE, 0, ctor, dtor, NULL, NULL,
	    NULL, KMF_BUFTAG | KMF_AUDIT));
}

/*
 * bug() must stop the child with message (and detail) about cache; the
 * report must show the transaction that names the guilty function: the
 * buffer's previous one (prev) or the failing call.
 */
static void
expect_death_in(void (*bug)(void), const char *guilty, bool prev,
    const char *cache, const char *message, const char *detail)
{
	int status = 0;
	char *out = kt_run_child(bug, &status);
	char str[64];
	KT_CHECK(out != NULL);
	if (out == NULL)
		return;
	KT_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	KT_CHECK(strstr(out, "kernel memory allocator: ") != NULL);
	if (!KT_CHECK(strstr(out, message) != NULL))
		printf("    child said: %s\n", out);
	snprintf(str, sizeof (str), "cache: %s", cache);
	KT_CHECK(strstr(out, str) != NULL);
	KT_CHECK(strstr(out, "buffer=0x") != NULL && strstr(out, "slab=0x")
	    != NULL);
	KT_CHECK(strstr(out, "heap corruption detected") != NULL);
	if (detail != NULL)
		KT_CHECK(strstr(out, detail) != NULL);
	if (prev)
		KT_CHECK(strstr(out, "previous transaction on buffer") != NULL);
	if (guilty == NULL)
		return;
	snprintf(str, sizeof (str), "    %s+0x", guilty);
	if (!KT_CHECK(strstr(out, str) != NULL))
		printf("    child said: %s\n", out);
}

/* The bug functions are global: reports name them (dladdr(3)). */
#define EXPECT_DEATH(bug, prev, message, detail) \
	expect_death_in(bug, #bug, prev, "t_guard", message, detail)

void bug_modified(void);
void
bug_modified(void)
{
	kmem_cache_t *cp = guarded_cache("t_guard", NULL, NULL);
	char *p = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, p);
	kmem_track_unpoison(p, GUARD_SIZE);	/* get past ASan, to kmem */
	p[40] = 1;				/* use after free */
	(void)kmem_cache_alloc(cp, KM_SLEEP);	/* the same buffer again */
}

void bug_redzone(void);
void
bug_redzone(void)
{
	kmem_cache_t *cp = guarded_cache("t_guard", NULL, NULL);
	char *p = kmem_cache_alloc(cp, KM_SLEEP);
	memset(p, 0, GUARD_SIZE + 8);		/* 8 bytes too many */
	kmem_cache_free(cp, p);
}

void bug_dupfree(void);
void
bug_dupfree(void)
{
	kmem_cache_t *cp = guarded_cache("t_guard", NULL, NULL);
	char *p = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, p);
	kmem_cache_free(cp, p);
}

void bug_buftag(void);
void
bug_buftag(void)
{
	kmem_cache_t *cp = guarded_cache("t_guard", NULL, NULL);
	char *p = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_buftag(cp, p)->bt_bxstat ^= 0x10;	/* a stray write into it */
	kmem_cache_free(cp, p);
}

static void
test_death_modified(void)
{
	EXPECT_DEATH(bug_modified, true, "buffer modified after being freed",
	    "modification occurred at offset 0x28 (0xdeadbeefdeadbeef "
	    "replaced by 0xdeadbeefdeadbe01)");
}

static void
test_death_redzone(void)
{
	EXPECT_DEATH(bug_redzone, true, "redzone violation: write past end of buffer",
	    NULL);
}

static void
test_death_dupfree(void)
{
	EXPECT_DEATH(bug_dupfree, true, "duplicate free: buffer freed twice", NULL);
}

static void
test_death_buftag(void)
{
	EXPECT_DEATH(bug_buftag, true, "boundary tag corrupted",
	    "buf ^ bxstat = a110c8fd, should be a110c8ed");
}

static kmem_cache_t *
lite_cache(void)
{
	return (kmem_cache_create("t_guard", GUARD_SIZE, 0, NULL, NULL, NULL,
	    NULL, NULL, KMF_BUFTAG | KMF_LITE));
}

void bug_lite_modified(void);
void
bug_lite_modified(void)
{
	kmem_cache_t *cp = lite_cache();
	char *p = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, p);
	kmem_track_unpoison(p, GUARD_SIZE);
	p[2] = 1;				/* in the first word */
	(void)kmem_cache_alloc(cp, KM_SLEEP);
}

/*
 * lite keeps the buftag, redzone and duplicate-free checks, and checks the
 * free pattern in the first word only: a write further in goes unseen.
 */
static void
test_lite(void)
{
	expect_death_in(bug_lite_modified, NULL, false, "t_guard",
	    "buffer modified after being freed",
	    "modification occurred at offset 0x0");
	kmem_cache_t *cp = lite_cache();
	KT_CHECK(kmem_cache_stat(cp, "buf_size") == GUARD_SIZE);
	char *p = kmem_cache_alloc(cp, KM_SLEEP);
	KT_EQ_U(kmem_buftag(cp, p)->bt_bxstat, (uintptr_t)p ^ KMEM_BUFTAG_ALLOC);
	kmem_cache_free(cp, p);
	kmem_track_unpoison(p, GUARD_SIZE);	/* the test's own use after free */
	KT_EQ_U(*(uint64_t *)(void *)p, KMEM_FREE_PATTERN);
	p[40] = 1;				/* past the first word */
	kmem_track_poison(p, GUARD_SIZE);
	char *q = kmem_cache_alloc(cp, KM_SLEEP);	/* not stopped */
	KT_CHECK(q == p);
	kmem_cache_free(cp, q);
	kmem_cache_destroy(cp);
	EXPECT_DEATH(bug_redzone, true, "redzone violation", NULL);
}

void bug_checknull(void);
void
bug_checknull(void)
{
	kmi_debug_parse("checknull");
	kmem_cache_t *cp = kmem_cache_create("t_nullctor", 64, 0, kt_ctor_refuse,
	    NULL, NULL, NULL, NULL, 0);
	if (kmem_cache_alloc(cp, KM_NOSLEEP) == NULL)
		_exit(3);			/* checknull let NULL through */
}

/* checknull: an allocation about to fail stops the process instead. */
static void
test_checknull(void)
{
	int status = 0;
	char *out = kt_run_child(bug_checknull, &status);
	KT_CHECK(out != NULL && strstr(out, "allocation of 64 bytes from "
	    "t_nullctor failed (checknull)") != NULL);
	if (!KT_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT))
		printf("    child said: %s (status %#x)\n", out, status);
}

/* maxverify=16: the pattern covers the first 16 bytes of each buffer. */
static void
test_maxverify(void)
{
	uint32_t saved = kmi_maxverify;
	kmi_debug_parse("maxverify=16");
	KT_EQ_U(kmi_maxverify, 16);
	kmem_cache_t *cp = guarded_cache("t_maxverify", NULL, NULL);
	kmi_maxverify = saved;		/* fixed per cache: no effect on cp */
	uint64_t *p = kmem_cache_alloc(cp, KM_SLEEP);
	KT_EQ_U(p[1], KMEM_UNINITIALIZED);
	memset(p, 0, GUARD_SIZE);
	kmem_cache_free(cp, p);
	kmem_track_unpoison(p, GUARD_SIZE);
	KT_EQ_U(p[0], KMEM_FREE_PATTERN);
	KT_EQ_U(p[1], KMEM_FREE_PATTERN);
	KT_EQ_U(p[2], 0);			/* beyond 16 bytes: left alone */
	kmem_track_poison(p, GUARD_SIZE);
	p = kmem_cache_alloc(cp, KM_SLEEP);	/* checks 16 bytes: clean */
	KT_EQ_U(p[1], KMEM_UNINITIALIZED);
	kmem_cache_free(cp, p);
	kmem_cache_destroy(cp);
}

void bug_wrong_cache(void);
void
bug_wrong_cache(void)
{
	kmem_cache_t *cp = guarded_cache("t_guard", NULL, NULL);
	kmem_cache_t *other = guarded_cache("t_other", NULL, NULL);
	kmem_cache_free(cp, kmem_cache_alloc(other, KM_SLEEP));
}

static void
test_death_wrong_cache(void)
{
	EXPECT_DEATH(bug_wrong_cache, true, "buffer freed to wrong cache",
	    "buffer was allocated from t_other,\ncaller attempting free to "
	    "t_guard.");
}

/* The same between large (hashed) caches of one size. */
void bug_wrong_cache_large(void);
void
bug_wrong_cache_large(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_guard", 2000, 0, NULL, NULL,
	    NULL, NULL, NULL, KMF_BUFTAG | KMF_AUDIT);
	kmem_cache_t *other = kmem_cache_create("t_other", 2000, 0, NULL, NULL,
	    NULL, NULL, NULL, KMF_BUFTAG | KMF_AUDIT);
	void *p = kmem_cache_alloc(other, KM_SLEEP);
	kmem_cache_free(other, kmem_cache_alloc(other, KM_SLEEP));
	kmem_cache_free(cp, kmem_cache_alloc(cp, KM_SLEEP));
	kmem_cache_free(cp, p);
}

static void
test_death_wrong_cache_large(void)
{
	EXPECT_DEATH(bug_wrong_cache_large, true, "buffer freed to wrong cache",
	    "buffer was allocated from t_other,\ncaller attempting free to "
	    "t_guard.");
}

void bug_bad_base(void);
void
bug_bad_base(void)
{
	kmem_cache_t *cp = guarded_cache("t_guard", NULL, NULL);
	char *p = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, p + 8);
}

static void
test_death_bad_base(void)
{
	EXPECT_DEATH(bug_bad_base, true, "bad free: free address (", ") != alloc "
	    "address (");
}

static _Alignas(4096) char not_kmem[4096];

void bug_not_in_cache(void);
void
bug_not_in_cache(void)
{
	kmem_cache_t *cp = guarded_cache("t_guard", NULL, NULL);
	(void)kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, not_kmem + 64);
}

static void
test_death_not_in_cache(void)
{
	EXPECT_DEATH(bug_not_in_cache, false, "invalid free: buffer not in cache",
	    NULL);
}

/*
 * kmem_free with the wrong size: the kmem_alloc caches are guarded only in
 * a process started with KMEM_DEBUG=default, so run the helper that way.
 */
static const char *helper_bug;
static char *helper_env[] = { "KMEM_DEBUG=default", NULL, NULL };

static void
run_helper(void)
{
	char *argv[] = { "kmem_debug_helper", (char *)helper_bug, NULL };
	kt_exec_helper("kmem_debug_helper", argv, helper_env);
}

static void
test_death_badsize(void)
{
	helper_bug = "size";
	expect_death_in(run_helper, "main", true, "kmem_alloc_112",
	    "bad free: free size (110) != alloc size (100)", NULL);
	helper_bug = "redzone";
	expect_death_in(run_helper, "main", true, "kmem_alloc_112",
	    "redzone violation: write past end of buffer", NULL);
	int status = -1;
	helper_bug = "clean";
	(void)kt_run_child(run_helper, &status);
	KT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * KMEM_LOGGING and KMEM_DEBUG=firewall=SIZE take effect from the start;
 * so do debug and log items in kmem_init()'s options string.
 */
static void
test_environment(void)
{
	int status = -1;

	helper_bug = "logs";
	helper_env[1] = "KMEM_LOGGING=transaction=128k,contents,fail";
	(void)kt_run_child(run_helper, &status);
	KT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	helper_env[1] = NULL;
	(void)kt_run_child(run_helper, &status);	/* logs off */
	KT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 10);
	/* The same through kmem_init()'s options, as a kernel passes them. */
	helper_bug = "init-options";
	helper_env[0] = NULL;
	(void)kt_run_child(run_helper, &status);
	helper_env[0] = "KMEM_DEBUG=default";
	KT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	helper_bug = "firewall";
	helper_env[0] = "KMEM_DEBUG=firewall=4096";
	char *out = kt_run_child(run_helper, &status);
	helper_env[0] = "KMEM_DEBUG=default";
	KT_CHECK(out != NULL && ((WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGSEGV) || (WIFEXITED(status) &&
	    WEXITSTATUS(status) != 5 && strstr(out, "SEGV") != NULL)));
}

/* A stray write into the audit bufctl is caught at the next free. */
void bug_bufctl(void);
void
bug_bufctl(void)
{
	kmem_cache_t *cp = guarded_cache("t_guard", NULL, NULL);
	char *p = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_audit(cp, p)->bc_addr = p + 1;
	kmem_cache_free(cp, p);
}

static void
test_death_bufctl(void)
{
	EXPECT_DEATH(bug_bufctl, false, "bufctl corrupted", NULL);
}

/*
 * noabort: reported, and the program goes on; the buffer freed twice is
 * not taken back twice, so it cannot be handed out twice.
 */
void bug_dupfree_noabort(void);
void
bug_dupfree_noabort(void)
{
	kmi_debug_parse("noabort");
	kmem_cache_t *cp = guarded_cache("t_guard", NULL, NULL);
	char *p = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, p);
	kmem_cache_free(cp, p);
	char *a = kmem_cache_alloc(cp, KM_SLEEP);
	char *b = kmem_cache_alloc(cp, KM_SLEEP);
	_exit(a == b ? 3 : 0);
}

static void
test_noabort(void)
{
	int status = -1;
	char *out = kt_run_child(bug_dupfree_noabort, &status);
	KT_CHECK(out != NULL && strstr(out, "duplicate free") != NULL);
	KT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

#if defined(KMEM_TRACK_ASAN)
/*
 * With ASan tracking, a free buffer is poisoned while it waits in a
 * magazine or slab, so ASan itself stops a use after free, in any cache,
 * guarded or not.
 */
void bug_asan_use_after_free(void);
void
bug_asan_use_after_free(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_plain", 48, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	char *p = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, p);
	((volatile char *)p)[8] = 1;
}

static void
test_asan_tracking(void)
{
	int status = -1;
	char *out = kt_run_child(bug_asan_use_after_free, &status);
	KT_CHECK(out != NULL && strstr(out, "use-after-poison") != NULL);
	KT_CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
}
#endif

#if defined(KMEM_TRACK_VALGRIND)
#include <valgrind/memcheck.h>

/*
 * With Valgrind tracking, memcheck sees a fresh buffer of a cache without
 * a constructor as undefined, a written one as defined, and a free one as
 * inaccessible (GET_VBITS answers 3 for an inaccessible byte, without
 * reporting an error).  Natively the requests answer 0.
 */
static void
test_valgrind_tracking(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_vg", 48, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	unsigned char vbits[8];
	char *p = kmem_cache_alloc(cp, KM_SLEEP);
	if (!RUNNING_ON_VALGRIND) {
		KT_EQ_U(VALGRIND_GET_VBITS(p, vbits, 8), 0);
		kmem_cache_free(cp, p);
		kmem_cache_destroy(cp);
		return;
	}
	KT_EQ_U(VALGRIND_GET_VBITS(p, vbits, 8), 1);
	KT_EQ_U(vbits[0], 0xff);		/* undefined */
	memset(p, 1, 48);
	KT_EQ_U(VALGRIND_GET_VBITS(p, vbits, 8), 1);
	KT_EQ_U(vbits[0], 0);			/* defined */
	kmem_cache_free(cp, p);
	KT_EQ_U(VALGRIND_GET_VBITS(p, vbits, 8), 3);	/* inaccessible */
	char *q = kmem_cache_alloc(cp, KM_SLEEP);
	KT_CHECK(q == p);			/* the same buffer again */
	KT_EQ_U(VALGRIND_GET_VBITS(q, vbits, 8), 1);
	kmem_cache_free(cp, q);
	kmem_cache_destroy(cp);
}
#endif

/* Correct use, with constructors and cross-thread frees: no alarm. */
static uint64_t g_ctor, g_dtor;

static int
g_ctor_fn(void *buf, void *priv, int flag)
{
	(void)priv, (void)flag;
	memset(buf, 0x11, GUARD_SIZE);
	__atomic_fetch_add(&g_ctor, 1, __ATOMIC_RELAXED);
	return (0);
}

static void
g_dtor_fn(void *buf, void *priv)
{
	(void)priv;
	if (((unsigned char *)buf)[GUARD_SIZE - 1] != 0x11)
		abort();
	__atomic_fetch_add(&g_dtor, 1, __ATOMIC_RELAXED);
}

static void *g_bufs[5000];

static void *
g_free_all(void *arg)
{
	kmem_cache_t *cp = arg;
	for (int i = 0; i < 5000; i++)
		kmem_cache_free(cp, g_bufs[i]);
	return (NULL);
}

static void
test_guarded_correct_use(void)
{
	g_ctor = g_dtor = 0;
	kmem_cache_t *cp = guarded_cache("t_guard_ok", g_ctor_fn, g_dtor_fn);
	KT_CHECK(kmem_cache_stat(cp, "chunk_size") >= GUARD_SIZE + 24);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 5000; i++) {
			g_bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
			KT_EQ_U(((unsigned char *)g_bufs[i])[0], 0x11);
		}
		pthread_t t;
		pthread_create(&t, NULL, g_free_all, cp);
		pthread_join(t, NULL);
	}
	KT_EQ_U(g_ctor, 15000);			/* one per allocation */
	KT_EQ_U(g_dtor, 15000);			/* one per free */
	KT_EQ_U(kmem_cache_stat(cp, "buf_inuse"), 0);
	kmem_cache_destroy(cp);
	KT_EQ_U(g_dtor, g_ctor);
}

/* kmem_verify(): quiet on a healthy heap, loud on seeded damage. */
static void
test_verify_clean(void)
{
	kt_capture_t c = { NULL, 0, 0 };
	kmem_cache_t *cp = guarded_cache("t_verify_ok", NULL, NULL);
	void *p[200];
	for (int i = 0; i < 200; i++)
		p[i] = kmem_cache_alloc(cp, KM_SLEEP);
	for (int i = 0; i < 200; i += 2)
		kmem_cache_free(cp, p[i]);
	KT_EQ_U(kmem_verify(kt_capture_line, &c), 0);
	KT_CHECK(strstr(c.kc_buf, "t_verify_ok") != NULL);
	KT_CHECK(strstr(c.kc_buf, "corrupt") == NULL);
	for (int i = 1; i < 200; i += 2)
		kmem_cache_free(cp, p[i]);
	kmem_cache_destroy(cp);
	kt_capture_free(&c);
}

static void
test_verify_finds_damage(void)
{
	kt_capture_t c = { NULL, 0, 0 };
	kmem_cache_t *cp = guarded_cache("t_verify_bad", NULL, NULL);
	char *p[50];
	for (int i = 0; i < 50; i++)
		p[i] = kmem_cache_alloc(cp, KM_SLEEP);
	for (int i = 0; i < 50; i++)
		kmem_cache_free(cp, p[i]);
	kmem_track_unpoison(p[3], 64);	/* the test's own write after free */
	uint64_t saved = *(uint64_t *)(void *)(p[3] + 16);
	p[3][16] = 0x77;				/* write after free */
	kmem_buftag(cp, p[7])->bt_redzone = 0;		/* and past the end */
	kmem_audit(cp, p[9])->bc_cache = NULL;		/* and into the bufctl */
	KT_EQ_U(kmem_verify(kt_capture_line, &c), 3);
	KT_CHECK(strstr(c.kc_buf, "(free) seems corrupted") != NULL);
	KT_CHECK(strstr(c.kc_buf, "(free) corrupt redzone pattern") != NULL);
	KT_CHECK(strstr(c.kc_buf, "(free) corrupt bufctl") != NULL);
	KT_CHECK(strstr(c.kc_buf, "t_verify_bad") != NULL &&
	    strstr(c.kc_buf, "3 corrupt buffers") != NULL);
	kmem_audit(cp, p[9])->bc_cache = cp;
	kmem_track_unpoison(p[3], 64);	/* kmem_verify poisoned it again */
	*(uint64_t *)(void *)(p[3] + 16) = saved;	/* repair */
	kmem_track_poison(p[3], 64);
	kmem_buftag(cp, p[7])->bt_redzone = KMEM_REDZONE_PATTERN;

	kmem_cache_destroy(cp);

	/*
	 * Damage to a slab's bookkeeping is found too.  No magazines: a
	 * purge would free into the damaged slab, and a debug build's slab
	 * validator would stop there first.
	 */
	cp = kmem_cache_create("t_verify_slab", GUARD_SIZE, 0, NULL, NULL,
	    NULL, NULL, NULL, KMF_BUFTAG | KMF_AUDIT | KMC_NOMAGAZINE);
	void *q = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_slab_t *sp = KMEM_CONTAINER(cp->cache_partial.next, kmem_slab_t,
	    slab_link);
	sp->slab_nhead++;
	kt_capture_reset(&c);
	KT_CMP_U(kmem_verify(kt_capture_line, &c), >=, 1);
	KT_CHECK(strstr(c.kc_buf, "slab lists do not match") != NULL);
	sp->slab_nhead--;
	kt_capture_reset(&c);
	KT_EQ_U(kmem_verify(kt_capture_line, &c), 0);	/* repaired */
	kmem_cache_free(cp, q);
	kmem_cache_destroy(cp);
	kt_capture_free(&c);
}

/* Fault injection: exactly 1 KM_NOSLEEP allocation in N fails. */
static void
test_mtbf(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_mtbf", 64, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	void *p[400];
	kmem_cache_mtbf(cp, 4);
	int failed = 0;
	for (int i = 0; i < 400; i++)
		failed += (p[i] = kmem_cache_alloc(cp, KM_NOSLEEP)) == NULL;
	KT_EQ_U(failed, 100);
	KT_EQ_U(kmem_cache_stat(cp, "alloc_fail"), 100);
	for (int i = 0; i < 400; i++)
		if (p[i] != NULL)
			kmem_cache_free(cp, p[i]);
	failed = 0;
	for (int i = 0; i < 400; i++) {		/* KM_SLEEP never fails */
		p[i] = kmem_cache_alloc(cp, KM_SLEEP);
		failed += p[i] == NULL;
	}
	KT_EQ_U(failed, 0);
	for (int i = 0; i < 400; i++)
		kmem_cache_free(cp, p[i]);
	kmem_cache_mtbf(cp, 0);			/* and off again */
	for (int i = 0; i < 400; i++)
		failed += (p[i] = kmem_cache_alloc(cp, KM_NOSLEEP)) == NULL;
	KT_EQ_U(failed, 0);
	for (int i = 0; i < 400; i++)
		kmem_cache_free(cp, p[i]);
	kmem_cache_destroy(cp);
}

KT_SUITE(debug_suite,
	{ "debug:mtbf:one-in-n", test_mtbf },
	{ "debug:verify:clean", test_verify_clean },
	{ "debug:verify:finds-damage", test_verify_finds_damage },
	{ "debug:death:modified-after-free", test_death_modified },
	{ "debug:death:redzone", test_death_redzone },
	{ "debug:death:duplicate-free", test_death_dupfree },
	{ "debug:death:boundary-tag", test_death_buftag },
	{ "debug:death:bad-free-size", test_death_badsize },
	{ "debug:death:bufctl", test_death_bufctl },
	{ "debug:environment:logs-firewall", test_environment },
	{ "debug:death:wrong-cache", test_death_wrong_cache },
	{ "debug:death:wrong-cache-large", test_death_wrong_cache_large },
	{ "debug:lite:first-word", test_lite },
	{ "debug:maxverify:bytes", test_maxverify },
	{ "debug:checknull:stops", test_checknull },
	{ "debug:death:bad-base", test_death_bad_base },
	{ "debug:death:not-in-cache", test_death_not_in_cache },
	{ "debug:noabort:goes-on", test_noabort },
#if defined(KMEM_TRACK_VALGRIND)
	{ "debug:valgrind:buffer-states", test_valgrind_tracking },
#endif
#if defined(KMEM_TRACK_ASAN)
	{ "debug:asan:use-after-free", test_asan_tracking },
#endif
	{ "debug:guards:correct-use", test_guarded_correct_use },
);
