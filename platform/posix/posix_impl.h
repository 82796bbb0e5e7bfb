/*
 * What the hosted platform's files share (not part of the contract).
 */
#ifndef KMEM_POSIX_IMPL_H
#define KMEM_POSIX_IMPL_H

#include <pthread.h>

/* The signal kmem_findleaks() stops threads with (posix_leaks.c). */
#define KMEM_POSIX_LEAK_SIGNAL	SIGPWR

/*
 * Start one of kmem's own threads, detached: it takes no signal meant for
 * the program, only the leak scan's, which must stop it too.
 */
int kmem_plat_posix_thread(void *(*fn)(void *), void *arg);

#endif /* KMEM_POSIX_IMPL_H */
