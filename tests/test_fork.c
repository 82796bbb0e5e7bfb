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
		pid_t pid = fork();
		if (pid == 0)
			_exit(child_work(cp));
		int status = -1;
		KT_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
		KT_CHECK(WIFEXITED(status));
		KT_EQ_U(WEXITSTATUS(status), 0);
	}
	__atomic_store_n(&fork_stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	/* The parent goes on as before. */
	void *p = kmem_alloc(100, KM_SLEEP);
	KT_CHECK(p != NULL);
	kmem_free(p, 100);
	kmem_cache_destroy(cp);
}

KT_SUITE(fork_suite,
	{ "fork:child:allocates-purges", test_fork },
);
