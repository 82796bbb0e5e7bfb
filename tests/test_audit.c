/*
 * Auditing and the other debug features built on it: the audit bufctl of
 * each buffer (KMEM_DEBUG=audit), the transaction, contents and failure
 * logs (KMEM_LOGGING) and their walk, firewall caches (a guard page after
 * each buffer) and nosignal.  The functions named *_site are global so
 * that the recorded stacks can be checked to name them (dladdr(3)).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/kmem_debug.h>
#include "../src/debug/debug_impl.h"
#include "harness.h"

static kmem_cache_t *
debug_cache(const char *name, size_t size, int flags,
    kmem_constructor_t *ctor)
{
	return (kmem_cache_create(name, size, 0, ctor, NULL, NULL, NULL, NULL,
	    flags));
}

/*
 * Does the printed transaction show a frame in function name?  Prints the
 * transaction if the answer is not the one expected.
 */
static bool
stack_shows(const kmem_bufctl_audit_t *bcp, const char *name, bool expect)
{
	kt_capture_t c = { NULL, 0, 0 };
	char pat[96];

	kmem_audit_print(bcp, kt_capture_line, &c);
	snprintf(pat, sizeof (pat), "    %s+0x", name);
	bool found = c.kc_buf != NULL && strstr(c.kc_buf, pat) != NULL;
	if (found != expect)
		printf("    %s %s in:\n%s\n", found ? "unexpected" : "no",
		    name, c.kc_buf);
	kt_capture_free(&c);
	return (found);
}

void *alloc_site(kmem_cache_t *cp);
void *
alloc_site(kmem_cache_t *cp)
{
	void *p = kmem_cache_alloc(cp, KM_NOSLEEP);
	return (p);
}

void free_site(kmem_cache_t *cp, void *p);
void
free_site(kmem_cache_t *cp, void *p)
{
	kmem_cache_free(cp, p);
}

static void *
thread_alloc(void *arg)
{
	return (alloc_site(arg));
}

/* Each transaction: event, thread, time, slab and a stack naming the site. */
static void
check_audit(size_t size)
{
	kmem_cache_t *cp = debug_cache("t_audit", size, KMF_BUFTAG | KMF_AUDIT,
	    NULL);
	void *chunk;

	char *p = alloc_site(cp);
	const kmem_bufctl_audit_t *bcp = kmem_buffer_audit(cp, p);
	if (!KT_CHECK(bcp != NULL))
		return;
	KT_CHECK(bcp->bc_addr == p && bcp->bc_cache == cp);
	KT_EQ_U(bcp->bc_event, KMEM_AUDIT_ALLOC);
	KT_EQ_U(bcp->bc_thread, (uintptr_t)pthread_self());
	KT_CHECK(bcp->bc_slab == kmi_slab_find(cp, p, &chunk));
	KT_CHECK(bcp->bc_depth > 0 && bcp->bc_depth <= KMEM_STACK_DEPTH);
	KT_CHECK(stack_shows(bcp, "alloc_site", true));
	uint64_t t_alloc = bcp->bc_timestamp;

	free_site(cp, p);
	KT_EQ_U(bcp->bc_event, KMEM_AUDIT_FREE);
	KT_CHECK(bcp->bc_timestamp >= t_alloc);
	KT_CHECK(stack_shows(bcp, "free_site", true));
	KT_CHECK(!stack_shows(bcp, "alloc_site", false));

	/* Another thread's allocation names that thread. */
	pthread_t tid;
	void *q;
	pthread_create(&tid, NULL, thread_alloc, cp);
	pthread_join(tid, &q);
	bcp = kmem_buffer_audit(cp, q);
	KT_CHECK(bcp != NULL && bcp->bc_thread == (uintptr_t)tid);
	kmem_cache_free(cp, q);

	/* Only an audited cache's buffers, at their first byte, have one. */
	KT_CHECK(kmem_buffer_audit(cp, (char *)q + 8) == NULL);
	kmem_cache_destroy(cp);
	cp = debug_cache("t_plain", size, KMF_BUFTAG, NULL);
	p = kmem_cache_alloc(cp, KM_SLEEP);
	KT_CHECK(kmem_buffer_audit(cp, p) == NULL);
	kmem_cache_free(cp, p);
	kmem_cache_destroy(cp);
}

static void
test_audit_small(void)
{
	check_audit(100);
}

static void
test_audit_large(void)
{
	check_audit(3000);		/* hashed slabs */
}

/* audit=N: N frames at most, and a smaller chunk. */
static void
test_audit_frames(void)
{
	kmem_cache_t *deep = debug_cache("t_deep", 64, KMF_BUFTAG | KMF_AUDIT,
	    NULL);
	uint32_t saved = kmi_audit_frames;
	kmi_audit_frames = 2;
	kmem_cache_t *cp = debug_cache("t_shallow", 64, KMF_BUFTAG | KMF_AUDIT,
	    NULL);
	kmi_audit_frames = saved;
	void *p = alloc_site(cp);
	KT_CHECK(kmem_buffer_audit(cp, p)->bc_depth <= 2);
	KT_EQ_U(kmem_cache_stat(deep, "chunk_size") -
	    kmem_cache_stat(cp, "chunk_size"),
	    (KMEM_STACK_DEPTH - 2) * sizeof (uintptr_t));
	kmem_cache_free(cp, p);
	kmem_cache_destroy(cp);
	kmem_cache_destroy(deep);
}

static void
logs_on(void)
{
	for (int log = 0; log < 3; log++)
		if (kmi_log_bytes[log] == 0)
			kmi_log_bytes[log] = 64 * 1024;
	kmi_log_init();
}

typedef struct collect {
	int		c_n;
	int		c_stop;		/* stop after this many; 0: never */
	kmem_bufctl_audit_t c_first[2];	/* the two newest (no stacks) */
	uintptr_t	c_frames[KMEM_STACK_MAX];
	const char	*c_site;	/* does the newest record name it? */
	bool		c_names_site;
	kmem_contents_t	c_kc;
	unsigned char	c_data[KMEM_CONTENTS_SIZE];
} collect_t;

static int
collect_audit(const void *rec, void *arg)
{
	collect_t *c = arg;
	const kmem_bufctl_audit_t *bcp = rec;

	if (c->c_n < 2)
		c->c_first[c->c_n] = *bcp;
	if (c->c_n == 0 && c->c_site != NULL)
		c->c_names_site = stack_shows(bcp, c->c_site, true);
	c->c_n++;
	return (c->c_stop != 0 && c->c_n >= c->c_stop);
}

static int
collect_contents(const void *rec, void *arg)
{
	collect_t *c = arg;
	const kmem_contents_t *kc = rec;

	if (c->c_n++ == 0) {
		c->c_kc = *kc;
		memcpy(c->c_data, kc->kc_data, kmem_min(kc->kc_size,
		    sizeof (c->c_data)));
	}
	return (0);
}

/*
 * The transaction log holds each transaction, newest first, chained per
 * buffer; the bufctl points at its latest record.  It wraps around.
 */
static void
test_log_transactions(void)
{
	logs_on();
	kmem_cache_t *cp = debug_cache("t_log", 100, KMF_BUFTAG | KMF_AUDIT,
	    NULL);
	void *p = alloc_site(cp);
	free_site(cp, p);

	collect_t c = { .c_stop = 0 };
	int n = kmem_log_walk(KMEM_LOG_TRANSACTION, collect_audit, &c);
	KT_CHECK(n >= 2 && n == c.c_n);
	KT_CHECK(c.c_first[0].bc_addr == p && c.c_first[1].bc_addr == p);
	KT_EQ_U(c.c_first[0].bc_event, KMEM_AUDIT_FREE);
	KT_EQ_U(c.c_first[1].bc_event, KMEM_AUDIT_ALLOC);
	const kmem_bufctl_audit_t *bcp = kmem_buffer_audit(cp, p);
	KT_CHECK(bcp->bc_lastlog != NULL &&
	    bcp->bc_lastlog->bc_event == KMEM_AUDIT_FREE);
	KT_CHECK(bcp->bc_lastlog->bc_lastlog != NULL &&
	    bcp->bc_lastlog->bc_lastlog->bc_event == KMEM_AUDIT_ALLOC);

	/* A walk stops when asked to. */
	collect_t one = { .c_stop = 1 };
	KT_EQ_U(kmem_log_walk(KMEM_LOG_TRANSACTION, collect_audit, &one), 1);

	/* Old records are overwritten: the walk sees at most a full ring. */
	size_t nrecs = kmem_logs[KMEM_LOG_TRANSACTION].log_nrecs;
	for (size_t i = 0; i < nrecs; i++)
		kmem_cache_free(cp, kmem_cache_alloc(cp, KM_SLEEP));
	collect_t all = { .c_stop = 0 };
	KT_EQ_U(kmem_log_walk(KMEM_LOG_TRANSACTION, collect_audit, &all),
	    nrecs);
	KT_EQ_U(kmem_log_walk(7, collect_audit, &all), (uint64_t)-1);
	kmem_cache_destroy(cp);
}

/* contents: a free saves the buffer's first bytes, linked from the bufctl. */
static void
test_log_contents(void)
{
	logs_on();
	kmem_cache_t *cp = debug_cache("t_contents", 100, KMF_BUFTAG |
	    KMF_AUDIT | KMF_CONTENTS, NULL);
	unsigned char *p = kmem_cache_alloc(cp, KM_SLEEP);
	memset(p, 0x5a, 100);
	p[99] = 0x11;
	kmem_cache_free(cp, p);

	const kmem_contents_t *kc = kmem_buffer_audit(cp, p)->bc_contents;
	KT_CHECK(kc != NULL && kc->kc_addr == p && kc->kc_cache == cp);
	KT_EQ_U(kc->kc_size, 100);
	KT_EQ_U(kc->kc_data[0], 0x5a);
	KT_EQ_U(kc->kc_data[99], 0x11);
	collect_t c = { .c_stop = 0 };
	KT_CHECK(kmem_log_walk(KMEM_LOG_CONTENTS, collect_contents, &c) >= 1);
	KT_CHECK(c.c_kc.kc_addr == p && c.c_data[98] == 0x5a);
	kmem_cache_destroy(cp);
}

/* An allocation that returns NULL is logged, with its stack. */
static void
test_log_fail(void)
{
	logs_on();
	kmem_cache_t *cp = kmem_cache_create("t_refuse", 64, 0, kt_ctor_refuse,
	    NULL, NULL, NULL, NULL, KMC_NODEBUG);
	collect_t before = { .c_stop = 0 };
	int n0 = kmem_log_walk(KMEM_LOG_FAIL, collect_audit, &before);
	KT_CHECK(alloc_site(cp) == NULL);
	collect_t c = { .c_stop = 1, .c_site = "alloc_site" };
	KT_EQ_U(kmem_log_walk(KMEM_LOG_FAIL, collect_audit, &c), 1);
	KT_CHECK(c.c_first[0].bc_cache == cp && c.c_first[0].bc_addr == NULL);
	KT_EQ_U(c.c_first[0].bc_event, KMEM_AUDIT_FAIL);
	KT_CHECK(c.c_names_site);
	collect_t after = { .c_stop = 0 };
	KT_CHECK(kmem_log_walk(KMEM_LOG_FAIL, collect_audit, &after) ==
	    n0 + 1 || n0 == (int)kmem_logs[KMEM_LOG_FAIL].log_nrecs);
	kmem_cache_destroy(cp);
}

/*
 * firewall: each buffer of the cache ends where a guard page begins, so a
 * write past it faults at once; a freed buffer's page goes away, so a use
 * after free faults too.
 */
enum { FW_SIZE = 3000 };
static kmem_cache_t *fw_cache;

static void
bug_fw_overrun(void)
{
	volatile char *p = kmem_cache_alloc(fw_cache, KM_SLEEP);
	p[FW_SIZE] = 1;
}

static void
bug_fw_use_after_free(void)
{
	volatile char *p = kmem_cache_alloc(fw_cache, KM_SLEEP);
	kmem_cache_free(fw_cache, (void *)p);
	p[0] = 1;
}

static bool
faulted(void (*bug)(void))
{
	int status = 0;
	char *out = kt_run_child(bug, &status);

	/* A sanitizer catches the fault and says SEGV. */
	return (out != NULL && ((WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGSEGV) || (WIFEXITED(status) &&
	    WEXITSTATUS(status) != 0 && strstr(out, "SEGV") != NULL)));
}

static void
test_firewall(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	kmi_minfirewall = 2048;
	KT_CHECK(kmi_debug_init() == 0 && kmi_firewall_arena != NULL);
	fw_cache = debug_cache("t_firewall", FW_SIZE, KMF_BUFTAG | KMF_AUDIT,
	    NULL);
	kmem_cache_t *small = debug_cache("t_nofirewall", 100, 0, NULL);
	kmi_minfirewall = 0;
	KT_CHECK(kmem_cache_stat(fw_cache, "buf_size") == FW_SIZE);
	KT_CHECK(fw_cache->cache_flags & KMF_FIREWALL);
	KT_CHECK(!(small->cache_flags & KMF_FIREWALL));

	char *p[8];
	for (int i = 0; i < 8; i++) {
		p[i] = kmem_cache_alloc(fw_cache, KM_SLEEP);
		KT_EQ_U(((uintptr_t)p[i] + FW_SIZE) % page, 0);
		memset(p[i], i, FW_SIZE);		/* all of it is usable */
	}
	for (int i = 0; i < 8; i++)
		kmem_cache_free(fw_cache, p[i]);
	KT_CHECK(faulted(bug_fw_overrun));
	KT_CHECK(faulted(bug_fw_use_after_free));
	kmem_cache_destroy(fw_cache);
	kmem_cache_destroy(small);
}

#if !defined(__SANITIZE_THREAD__)
/* nosignal: a transaction inside a signal handler stops the process. */
static kmem_cache_t *sig_cache;

static void
sig_handler(int sig)
{
	(void)sig;
	kmem_cache_free(sig_cache, kmem_cache_alloc(sig_cache, KM_NOSLEEP));
}

static void
bug_alloc_in_handler(void)
{
	signal(SIGUSR1, sig_handler);
	raise(SIGUSR1);
}

static void
test_nosignal(void)
{
	sig_cache = debug_cache("t_nosignal", 64, KMF_REDZONE | KMF_AUDIT |
	    KMF_CHECKSIGNAL, NULL);
	kmem_cache_free(sig_cache, kmem_cache_alloc(sig_cache, KM_SLEEP));
	int status = 0;
	char *out = kt_run_child(bug_alloc_in_handler, &status);
	KT_CHECK(out != NULL && WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGABRT);
	if (!KT_CHECK(out != NULL && strstr(out, "kmem_cache_alloc called "
	    "from a signal handler") != NULL))
		printf("    child said (status %x): %s\n", status, out);
	kmem_cache_destroy(sig_cache);
}
#endif

/*
 * Threads allocating from and freeing to one audited cache with every log
 * on, each freeing buffers another allocated: the records and logs stay
 * sound (and TSan sees no race).
 */
enum { ST_THREADS = 4, ST_SLOTS = 64 };
static struct {
	pthread_mutex_t	lock;
	void		*slot[ST_SLOTS];
	kmem_cache_t	*cp;
} st = { PTHREAD_MUTEX_INITIALIZER, { NULL }, NULL };

static void *
stress_thread(void *arg)
{
	uint64_t seed = 1 + (uintptr_t)arg;
	int ops = kt_quick ? 2000 : 20000;

	for (int i = 0; i < ops; i++) {
		void *mine = kmem_cache_alloc(st.cp, KM_SLEEP);
		memset(mine, (int)i, 48);
		size_t k = kt_rand(&seed) % ST_SLOTS;
		pthread_mutex_lock(&st.lock);
		void *theirs = st.slot[k];
		st.slot[k] = mine;
		pthread_mutex_unlock(&st.lock);
		if (theirs != NULL)
			kmem_cache_free(st.cp, theirs);
	}
	return (NULL);
}

static void
test_audit_threads(void)
{
	pthread_t tid[ST_THREADS];
	kt_capture_t c = { NULL, 0, 0 };

	logs_on();
	st.cp = debug_cache("t_audit_mt", 48, KMF_BUFTAG | KMF_AUDIT |
	    KMF_CONTENTS, NULL);
	for (uintptr_t i = 0; i < ST_THREADS; i++)
		pthread_create(&tid[i], NULL, stress_thread, (void *)i);
	for (int i = 0; i < ST_THREADS; i++)
		pthread_join(tid[i], NULL);
	for (int k = 0; k < ST_SLOTS; k++) {
		if (st.slot[k] != NULL) {
			const kmem_bufctl_audit_t *bcp =
			    kmem_buffer_audit(st.cp, st.slot[k]);
			KT_CHECK(bcp != NULL && bcp->bc_event ==
			    KMEM_AUDIT_ALLOC && bcp->bc_addr == st.slot[k]);
			kmem_cache_free(st.cp, st.slot[k]);
			st.slot[k] = NULL;
		}
	}
	KT_EQ_U(kmem_verify(kt_capture_line, &c), 0);
	collect_t all = { .c_stop = 0 };
	KT_EQ_U(kmem_log_walk(KMEM_LOG_TRANSACTION, collect_audit, &all),
	    kmem_logs[KMEM_LOG_TRANSACTION].log_nrecs);
	kmem_cache_destroy(st.cp);
	kt_capture_free(&c);
}

/* One cache asks for debugging in its cflags (illumos: cflags | kmem_flags). */
static void
test_cflags(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	kmem_cache_t *cp = kmem_cache_create("t_cflags", 100, 0, NULL, NULL,
	    NULL, NULL, NULL, KMF_AUDIT);
	void *p = alloc_site(cp);
	const kmem_bufctl_audit_t *bcp = kmem_buffer_audit(cp, p);
	KT_CHECK(bcp != NULL && stack_shows(bcp, "alloc_site", true));
	KT_EQ_U(kmem_buftag(cp, p)->bt_bxstat, (uintptr_t)p ^ KMEM_BUFTAG_ALLOC);
	kmem_cache_free(cp, p);
	kmem_cache_destroy(cp);

	cp = kmem_cache_create("t_cflags_fw", 700, 0, NULL, NULL, NULL, NULL,
	    NULL, KMF_FIREWALL);
	p = kmem_cache_alloc(cp, KM_SLEEP);
	KT_EQ_U(((uintptr_t)p + 704) % page, 0);
	kmem_cache_free(cp, p);
	kmem_cache_destroy(cp);

	cp = kmem_cache_create("t_cflags_nodebug", 100, 0, NULL, NULL, NULL,
	    NULL, NULL, KMF_AUDIT | KMC_NODEBUG);
	p = kmem_cache_alloc(cp, KM_SLEEP);
	KT_CHECK(kmem_buffer_audit(cp, p) == NULL);
	KT_EQ_U(kmem_cache_stat(cp, "chunk_size"), 104);
	kmem_cache_free(cp, p);
	kmem_cache_destroy(cp);
}

KT_SUITE(audit_suite,
	{ "audit:cflags:per-cache", test_cflags },
	{ "audit:bufctl:small", test_audit_small },
	{ "audit:bufctl:large", test_audit_large },
	{ "audit:bufctl:frames", test_audit_frames },
	{ "audit:log:transactions", test_log_transactions },
	{ "audit:log:contents", test_log_contents },
	{ "audit:log:fail", test_log_fail },
	{ "audit:threads:cross-free", test_audit_threads },
	{ "audit:firewall:faults", test_firewall },
#if !defined(__SANITIZE_THREAD__)
	{ "audit:nosignal:stops", test_nosignal },
#endif
);
