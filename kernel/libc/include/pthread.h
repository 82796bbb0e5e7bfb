/*
 * The demo kernel's <pthread.h> for the test suites (pthread.c): threads
 * are kernel threads spread over the CPUs; mutexes and barriers wait by
 * yielding.  Attributes are accepted and ignored (NULL in every test).
 */
#ifndef KLIBC_PTHREAD_H
#define KLIBC_PTHREAD_H

#include <stdint.h>

struct kthread;
typedef struct kthread *pthread_t;
typedef struct pthread_attr pthread_attr_t;
typedef struct pthread_mutexattr pthread_mutexattr_t;
typedef struct pthread_barrierattr pthread_barrierattr_t;

typedef struct {
	uint32_t	pm_held;
} pthread_mutex_t;
#define	PTHREAD_MUTEX_INITIALIZER	{ 0 }

typedef struct {
	unsigned	pb_count;
	unsigned	pb_arrived;
	unsigned	pb_round;
} pthread_barrier_t;
#define	PTHREAD_BARRIER_SERIAL_THREAD	(-1)

int pthread_create(pthread_t *t, const pthread_attr_t *attr,
    void *(*fn)(void *), void *arg);
int pthread_join(pthread_t t, void **result);
int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr);
int pthread_mutex_lock(pthread_mutex_t *m);
int pthread_mutex_unlock(pthread_mutex_t *m);
int pthread_barrier_init(pthread_barrier_t *b,
    const pthread_barrierattr_t *attr, unsigned count);
int pthread_barrier_wait(pthread_barrier_t *b);
int pthread_barrier_destroy(pthread_barrier_t *b);

#endif
