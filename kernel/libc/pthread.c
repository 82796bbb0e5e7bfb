/*
 * POSIX threads for the test suites, on kernel threads: each new thread
 * goes to the next CPU in turn (the first to CPU 1, away from the main
 * thread on CPU 0); join, mutexes and barriers wait by yielding, as
 * every wait in this kernel does; usleep sleeps the same way.
 */
#include <pthread.h>
#include <unistd.h>

#include "kernel.h"

static unsigned pthread_next_cpu;

int
pthread_create(pthread_t *t, const pthread_attr_t *attr,
    void *(*fn)(void *), void *arg)
{
	(void)attr;
	unsigned cpu = __atomic_add_fetch(&pthread_next_cpu, 1,
	    __ATOMIC_RELAXED);
	*t = thread_create("pthread", fn, arg, cpu % kernel_ncpus);
	return (*t == NULL ? 11 : 0);	/* EAGAIN */
}

int
pthread_join(pthread_t t, void **result)
{
	void *r = thread_join(t);

	if (result != NULL)
		*result = r;
	return (0);
}

int
pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
	(void)attr;
	m->pm_held = 0;
	return (0);
}

int
pthread_mutex_lock(pthread_mutex_t *m)
{
	while (__atomic_exchange_n(&m->pm_held, 1, __ATOMIC_ACQUIRE) != 0)
		thread_yield();
	return (0);
}

int
pthread_mutex_unlock(pthread_mutex_t *m)
{
	__atomic_store_n(&m->pm_held, 0, __ATOMIC_RELEASE);
	return (0);
}

int
pthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *attr,
    unsigned count)
{
	(void)attr;
	b->pb_count = count;
	b->pb_arrived = 0;
	b->pb_round = 0;
	return (0);
}

/* The last to arrive starts the next round and is the serial thread. */
int
pthread_barrier_wait(pthread_barrier_t *b)
{
	unsigned round = __atomic_load_n(&b->pb_round, __ATOMIC_ACQUIRE);

	if (__atomic_add_fetch(&b->pb_arrived, 1, __ATOMIC_ACQ_REL) ==
	    b->pb_count) {
		__atomic_store_n(&b->pb_arrived, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&b->pb_round, round + 1, __ATOMIC_RELEASE);
		return (PTHREAD_BARRIER_SERIAL_THREAD);
	}
	while (__atomic_load_n(&b->pb_round, __ATOMIC_ACQUIRE) == round)
		thread_yield();
	return (0);
}

int
pthread_barrier_destroy(pthread_barrier_t *b)
{
	(void)b;
	return (0);
}

int
usleep(unsigned usec)
{
	thread_sleep_ns((uint64_t)usec * 1000);
	return (0);
}
