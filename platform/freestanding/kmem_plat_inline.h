/*
 * Kernel (freestanding) hot-path helpers: the kernel implements these out of
 * line.  kmem_plat_self_enter() disables preemption and returns this CPU's
 * self slot; kmem_plat_self_exit() enables preemption again.
 * kmem_plat_lock_begin() blocks interrupts on this CPU (nesting) and
 * kmem_plat_lock_end() unblocks them at the outermost end.
 */
#ifndef KMEM_PLAT_INLINE_H
#define KMEM_PLAT_INLINE_H

void *kmem_plat_self_enter(void);
void kmem_plat_self_exit(void);
void kmem_plat_lock_begin(void);
void kmem_plat_lock_end(void);

#endif
