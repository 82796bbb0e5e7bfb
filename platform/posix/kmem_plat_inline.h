/*
 * Hosted (POSIX threads) hot-path helpers: the self slot is a thread-local
 * pointer in the initial-exec TLS model, so reading it is one instruction.
 */
#ifndef KMEM_PLAT_INLINE_H
#define KMEM_PLAT_INLINE_H

extern _Thread_local void *kmem_plat_tls_self
    __attribute__((tls_model("initial-exec")));

static inline void *
kmem_plat_self_enter(void)
{
	return (kmem_plat_tls_self);
}

static inline void
kmem_plat_self_exit(void)
{
}

/* No interrupts in a process: lock sections cost nothing. */
static inline void
kmem_plat_lock_begin(void)
{
}

static inline void
kmem_plat_lock_end(void)
{
}

#endif
