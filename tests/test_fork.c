/*
 * fork(2): a child of a multi-threaded process can allocate, free, purge
 * and reap, even though other threads held magazines (or were in the
 * middle of an allocation) when it was forked.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include "../src/magazine/magazine_impl.h"
#include "harness.h"

static volatile int fork_stop;

static void *
churn(void *arg)
{
	kmem_cache_t *cp = arg;
	while (!__atomic_load_n(&fork_stop, __ATOMIC_ACQUIRE)) {
		void *a = kmem_alloc(100, KM_SLEEP), *b = kmem_cache_alloc(cp,
		    KM_SLEEP);
		kmem_free(a, 100);
		kmem_cache_free(cp, b);
		if (kt_quick)
			sched_yield();	/* valgrind runs one thread at a time */
	}
	return (NULL);
}

static int
child_work(kmem_cache_t *cp)
{
	/* Buffers in the other thread's magazines are lost to the child. */
	uint64_t inuse = kmem_cache_stat(cp, "buf_inuse");
	void *p[1000];
	for (int i = 0; i < 1000; i++)
		p[i] = kmem_alloc(1 + i * 37 % 5000, KM_SLEEP);
	for (int i = 0; i < 1000; i++)
		kmem_free(p[i], 1 + i * 37 % 5000);
	void *o = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, o);
	kmem_reap();		/* purges every record: must not wait forever */
	kmem_update();
	return (kmem_cache_stat(cp, "buf_inuse") <= inuse ? 0 : 3);
}

/* Fork; the child exits with child(cp); it must exit 0. */
static void
fork_check(int (*child)(kmem_cache_t *), kmem_cache_t *cp)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(child(cp));
	int status = -1;
	KT_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	KT_CHECK(WIFEXITED(status));
	KT_EQ_U(WEXITSTATUS(status), 0);
}

static void
test_fork(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_fork", 72, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	pthread_t t;
	fork_stop = 0;
	pthread_create(&t, NULL, churn, cp);
	for (int round = 0; round < (kt_quick ? 2 : 10); round++) {
		usleep(2000);
		fork_check(child_work, cp);
	}
	__atomic_store_n(&fork_stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	/* The parent goes on as before. */
	void *p = kmem_alloc(100, KM_SLEEP);
	KT_CHECK(p != NULL);
	kmem_free(p, 100);
	kmem_cache_destroy(cp);
}

/*
 * A thread in the middle of a magazine swap when another forks: for a
 * moment both of its slot's magazine pointers name one magazine.  The
 * child's purge gave that magazine back twice (the helper thread below
 * holds the moment open: busy, torn, for 100 ms), so fork(2) must wait
 * until no record is busy.
 */
static volatile int torn_state;		/* 1: torn, 2: mended */

static void *
tear_slot(void *arg)
{
	kmem_cache_t *cp = arg;
	void *b[100];

	for (int i = 0; i < 100; i++)
		b[i] = kmem_cache_alloc(cp, KM_SLEEP);
	for (int i = 0; i < 100; i++)
		kmem_cache_free(cp, b[i]);
	kmem_cpu_t *cpu = kmem_plat_self_enter();
	kmem_cpu_cache_t *ccp = &cpu->cpu_cc[cp->cache_slot];
	KT_CHECK(ccp->cc_loaded != NULL && ccp->cc_ploaded != NULL &&
	    ccp->cc_loaded != ccp->cc_ploaded);
	kmem_store_relaxed(&cpu->cpu_busy, 1);
	kmem_magazine_t *prev = ccp->cc_ploaded;
	ccp->cc_ploaded = ccp->cc_loaded;
	__atomic_store_n(&torn_state, 1, __ATOMIC_RELEASE);
	usleep(100000);
	ccp->cc_ploaded = prev;
	__atomic_store_n(&torn_state, 2, __ATOMIC_RELEASE);
	kmem_store_release(&cpu->cpu_busy, 0);
	kmem_plat_self_exit();
	return (NULL);
}

static int
child_mended(kmem_cache_t *cp)
{
	/* Forked only once the slot was mended; torn, the purge below */
	/* could loop for ever on a list it linked twice. */
	(void)cp;
	alarm(30);
	int mended = __atomic_load_n(&torn_state, __ATOMIC_ACQUIRE);
	kt_capture_t c = { 0 };
	kmem_reap();
	return (mended != 2 ? 4 :
	    kmem_verify(kt_capture_line, &c) != 0 ? 5 : 0);
}

static void
test_fork_torn(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_fork_torn", 72, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	pthread_t t;

	torn_state = 0;
	pthread_create(&t, NULL, tear_slot, cp);
	while (__atomic_load_n(&torn_state, __ATOMIC_ACQUIRE) == 0)
		usleep(1000);
	fork_check(child_mended, cp);
	pthread_join(t, NULL);
	kmem_cache_destroy(cp);
}

KT_SUITE(fork_suite,
	{ "fork:child:allocates-purges", test_fork },
	{ "fork:child:no-torn-slot", test_fork_torn },
);
