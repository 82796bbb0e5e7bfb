/*
 * Per-CPU state, the interrupt descriptor table, and the interrupt-level
 * sections everything else builds on.
 *
 * Each CPU finds its kcpu_t through %gs: cpu_init_this() points the GS
 * base at kernel_cpus[index], whose first word points at itself, so
 * kcpu() is one load.  The index is the order in which CPUs came up (the
 * boot CPU is 0); the local APIC's ID is recorded beside it and checked
 * at every timer tick (intr.c), so a CPU that ever runs on another's
 * structure is counted.
 *
 * spl sections.  spl_raise() disables interrupts and counts;
 * spl_lower() counts down and enables them again at the outermost end
 * if they were enabled at the outermost start.  kmem's lock sections
 * (kmem_plat_lock_begin/end) and the kernel's spin locks are spl
 * sections, so an interrupt handler never finds its CPU inside one, and
 * they nest in any order.  Inside a handler interrupts are already off
 * and stay off.
 *
 * Barrier points.  cpu_fence_point() executes MFENCE and bumps the CPU's
 * kc_fence_gen: apic_fence_all() (kmem_plat_barrier_all) waits until
 * every other CPU's count moved.  Every loop in which a CPU can wait with
 * interrupts off calls it (spinning on a lock, waiting for a barrier, a
 * parked CPU), and so does the barrier IPI's handler, so the barrier
 * never waits for a CPU that cannot take the IPI.
 */
#include "kernel.h"
#include "kernel_vectors.h"

kcpu_t kernel_cpus[KERNEL_MAX_CPUS];
unsigned kernel_ncpus = 1;

typedef struct idt_entry {
	uint16_t	ie_off_lo;
	uint16_t	ie_sel;
	uint8_t		ie_ist;
	uint8_t		ie_type;	/* 0x8e: present interrupt gate */
	uint16_t	ie_off_mid;
	uint32_t	ie_off_hi;
	uint32_t	ie_zero;
} __attribute__((packed)) idt_entry_t;

static idt_entry_t cpu_idt[256] __attribute__((aligned(16)));
extern const uint64_t intr_stub_table[];	/* vector, stub; 0, 0 ends */

static void
idt_load(void)
{
	struct {
		uint16_t	limit;
		uint64_t	base;
	} __attribute__((packed)) desc = { sizeof (cpu_idt) - 1,
	    (uint64_t)(uintptr_t)cpu_idt };

	__asm__ __volatile__("lidt %0" : : "m"(desc));
}

void
cpu_init_boot(void)
{
	for (const uint64_t *e = intr_stub_table; e[1] != 0; e += 2) {
		idt_entry_t *ie = &cpu_idt[e[0]];
		ie->ie_off_lo = (uint16_t)e[1];
		ie->ie_sel = 0x08;
		ie->ie_type = 0x8e;
		ie->ie_off_mid = (uint16_t)(e[1] >> 16);
		ie->ie_off_hi = (uint32_t)(e[1] >> 32);
	}
}

void
cpu_init_this(unsigned index)
{
	kcpu_t *c = &kernel_cpus[index];

	c->kc_self = c;
	c->kc_index = index;
	wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)c);
	idt_load();
}

void
spl_raise(void)
{
	bool was_on = intr_enabled();

	intr_disable();
	kcpu_t *c = kcpu();
	if (c->kc_lock_depth++ == 0)
		c->kc_lock_intr = was_on;
}

void
spl_lower(void)
{
	kcpu_t *c = kcpu();

	if (c->kc_lock_depth == 0)
		kernel_panic("spl_lower: no section open on cpu %u",
		    c->kc_index);
	if (--c->kc_lock_depth == 0 && c->kc_lock_intr)
		intr_enable();
}

void
cpu_fence_point(void)
{
	mfence();
	kcpu_t *c = kcpu();
	__atomic_store_n(&c->kc_fence_gen, c->kc_fence_gen + 1,
	    __ATOMIC_RELEASE);
}

void
spin_enter(uint32_t *lock)
{
	spl_raise();
	while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE) != 0) {
		while (__atomic_load_n(lock, __ATOMIC_RELAXED) != 0) {
			cpu_fence_point();
			cpu_pause();
		}
	}
}

void
spin_exit(uint32_t *lock)
{
	__atomic_store_n(lock, 0, __ATOMIC_RELEASE);
	spl_lower();
}

bool
cpu_may_block(void)
{
	kcpu_t *c = kcpu();

	return (c->kc_intr_depth == 0 && c->kc_lock_depth == 0 &&
	    c->kc_preempt_off == 0 && intr_enabled());
}
