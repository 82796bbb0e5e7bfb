/*
 * Interrupt dispatch: intr_stubs.S hands every interrupt and exception
 * here with the saved registers, and resumes the frame returned.
 *
 *  - An exception is a kernel bug: panic, with the registers and a
 *    backtrace of the interrupted code.
 *  - The timer (every CPU, TIMER_HZ) counts the tick, checks that the
 *    local APIC's ID is the one this CPU's structure recorded, runs the
 *    tick function (the demo's interrupt-context allocations; kmem sees
 *    interrupt context: kmem_plat_may_sleep() is false), and every
 *    SLICE_TICKS switches threads if the interrupted code may be
 *    preempted (no kmem per-CPU section open: kmem_plat_self_enter()).
 *  - VEC_FENCE runs a barrier for kmem_plat_barrier_all(); VEC_STOP parks
 *    the CPU for a leak scan; VEC_YIELD (int $VEC_YIELD) is a thread's
 *    voluntary switch.
 * Handlers run with interrupts off (interrupt gates) and never nest.
 */
#include "kernel.h"
#include "kernel_vectors.h"

#define	SLICE_TICKS	10

static intr_tick_fn *intr_tick;

void
intr_set_tick(intr_tick_fn *fn)
{
	__atomic_store_n(&intr_tick, fn, __ATOMIC_RELEASE);
}

static _Noreturn void
intr_exception(intr_frame_t *f)
{
	uint64_t cr2;

	__asm__ __volatile__("movq %%cr2, %0" : "=r"(cr2));
	kprintf("exception %llu (error %#llx) on cpu %u at rip %#llx, "
	    "rsp %#llx, cr2 %#llx\n", (unsigned long long)f->vector,
	    (unsigned long long)f->error, kcpu()->kc_index,
	    (unsigned long long)f->rip, (unsigned long long)f->rsp,
	    (unsigned long long)cr2);
	kprintf("rax %#llx rbx %#llx rcx %#llx rdx %#llx rsi %#llx rdi %#llx "
	    "rbp %#llx\n", (unsigned long long)f->rax,
	    (unsigned long long)f->rbx, (unsigned long long)f->rcx,
	    (unsigned long long)f->rdx, (unsigned long long)f->rsi,
	    (unsigned long long)f->rdi, (unsigned long long)f->rbp);
	uintptr_t pcs[16];
	int n = kernel_backtrace((uintptr_t)f->rbp, pcs, 16);
	char name[96];
	(void)kernel_symbol((uintptr_t)f->rip, name, sizeof (name));
	kprintf("  %s\n", name);
	for (int i = 0; i < n; i++) {
		(void)kernel_symbol(pcs[i], name, sizeof (name));
		kprintf("  %s\n", name);
	}
	kernel_panic("unexpected exception");
}

static intr_frame_t *
intr_timer(kcpu_t *c, intr_frame_t *f)
{
	c->kc_intr_depth++;
	c->kc_ticks++;
	if (apic_id() != c->kc_apic_id)
		c->kc_apic_mismatch++;
	intr_tick_fn *fn = __atomic_load_n(&intr_tick, __ATOMIC_ACQUIRE);
	if (fn != NULL)
		fn(c);
	c->kc_intr_depth--;
	apic_eoi();
	if (c->kc_ticks % SLICE_TICKS == 0 && c->kc_preempt_off == 0 &&
	    c->kc_lock_depth == 0)
		f = thread_switch(f);
	return (f);
}

intr_frame_t *intr_dispatch(intr_frame_t *f);

intr_frame_t *
intr_dispatch(intr_frame_t *f)
{
	kcpu_t *c = kcpu();

	switch (f->vector) {
	case VEC_TIMER:
		return (intr_timer(c, f));
	case VEC_FENCE:
		cpu_fence_point();
		apic_eoi();
		return (f);
	case VEC_STOP:
		apic_eoi();
		apic_park(f);
		return (f);
	case VEC_YIELD:
		return (thread_switch(f));
	case VEC_SPURIOUS:
		return (f);
	default:
		intr_exception(f);
	}
}
