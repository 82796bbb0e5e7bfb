/*
 * Hosted (POSIX) extras of kmem, see kmem_physmem(9).  Code that must not
 * block -- a signal handler, a real-time loop -- brackets itself with
 * kmem_posix_nosleep_enter() and kmem_posix_nosleep_exit(): a KM_SLEEP or
 * VM_SLEEP allocation that would have to wait inside is reported and
 * fails instead of hanging, as it would in a kernel's interrupt context.
 *
 * kmem_posix_fail_map() injects failures of the platform's page requests,
 * so that a program can test its own error paths (and kmem's): the nth
 * request from now fails (1: the next one), and every later one too if
 * persist is set; 0 stops injecting.  kmem_posix_map_count() is the
 * number of page requests made so far.
 */
#ifndef KMEM_KMEM_POSIX_H
#define KMEM_KMEM_POSIX_H

#ifdef __cplusplus
extern "C" {
#endif

void kmem_posix_nosleep_enter(void);
void kmem_posix_nosleep_exit(void);
void kmem_posix_fail_map(unsigned long nth, int persist);
unsigned long kmem_posix_map_count(void);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_KMEM_POSIX_H */
