/*
 * Locks and condition variables built on the platform's futex-style
 * wait/wake, so that one implementation serves hosted and kernel builds and
 * a lock is one 32-bit word (it fits anywhere, and a debugger can read it).
 *
 * The mutex is the three-state futex mutex: 0 free, 1 held, 2 held and
 * possibly contended.  A thread that finds the lock held spins briefly, then
 * marks it contended and waits; kmem_lock_exit() wakes one waiter only when
 * the state was 2.  The condition variable is a sequence number: waiters
 * sample it under the mutex, drop the mutex and wait for it to change;
 * signal and broadcast bump it and wake.  A waiter re-takes the mutex in the
 * contended state, so no wake-up is lost when several waiters return.
 *
 * Lock sections.  A lock is held inside kmem_plat_lock_begin() ...
 * kmem_plat_lock_end(), which nest: a kernel blocks interrupts on the CPU
 * from the outermost begin to its end, so that an interrupt handler that
 * allocates or frees never spins on a lock its own CPU holds (and no
 * thread switch happens with a lock held); hosted builds make both
 * nothing.  A thread that must wait for a lock, or on a condition
 * variable, waits outside the section it was about to open.
 */
#include "base.h"

#define KMEM_LOCK_SPINS	100

/*
 * Take the lock in the contended state, waiting outside the lock section
 * (a kernel takes its interrupts meanwhile, unless an outer lock is held).
 */
static void
lock_enter_contended(kmem_lock_t *lk)
{
	kmem_plat_lock_begin();
	while (kmem_exchange(&lk->lk_state, 2) != 0) {
		kmem_plat_lock_end();
		kmem_plat_wait(&lk->lk_state, 2);
		kmem_plat_lock_begin();
	}
}

void
kmi_lock_enter_slow(kmem_lock_t *lk)
{
	for (int i = 0; i < KMEM_LOCK_SPINS; i++) {
		uint32_t s = kmem_load_relaxed(&lk->lk_state);
		if (s == 0 && kmem_lock_tryenter(lk))
			return;
		if (s == 2)
			break;
		kmem_cpu_relax();
	}
	lock_enter_contended(lk);
}

void
kmi_lock_exit_slow(kmem_lock_t *lk)
{
	kmem_plat_wake(&lk->lk_state, false);
}

void
kmi_cv_init(kmem_cv_t *cv)
{
	cv->cv_seq = 0;
}

void
kmi_cv_wait(kmem_cv_t *cv, kmem_lock_t *lk)
{
	uint32_t seq = kmem_load_acquire(&cv->cv_seq);

	kmem_lock_exit(lk);
	kmem_plat_wait(&cv->cv_seq, seq);
	lock_enter_contended(lk);
}

void
kmi_cv_signal(kmem_cv_t *cv)
{
	kmem_fetch_add(&cv->cv_seq, 1);
	kmem_plat_wake(&cv->cv_seq, false);
}

void
kmi_cv_broadcast(kmem_cv_t *cv)
{
	kmem_fetch_add(&cv->cv_seq, 1);
	kmem_plat_wake(&cv->cv_seq, true);
}
