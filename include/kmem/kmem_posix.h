/*
 * Hosted (POSIX) extras of kmem, see kmem_physmem(9).  Code that must not
 * block -- a signal handler, a real-time loop -- brackets itself with
 * kmem_posix_nosleep_enter() and kmem_posix_nosleep_exit(): a KM_SLEEP or
 * VM_SLEEP allocation that would have to wait inside is reported and
 * fails instead of hanging, as it would in a kernel's interrupt context.
 */
#ifndef KMEM_KMEM_POSIX_H
#define KMEM_KMEM_POSIX_H

#ifdef __cplusplus
extern "C" {
#endif

void kmem_posix_nosleep_enter(void);
void kmem_posix_nosleep_exit(void);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_KMEM_POSIX_H */
