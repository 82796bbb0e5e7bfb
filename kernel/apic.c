/*
 * The local APIC (xAPIC, memory-mapped at 0xfee00000 on every CPU): the
 * periodic timer, interprocessor interrupts, and starting the other CPUs.
 *
 * Starting CPUs.  The boot CPU copies ap_start.S's trampoline to
 * AP_TRAMPOLINE and sends INIT, then two start-up IPIs, to every other
 * CPU (the "all excluding self" shorthand, so no ACPI table is read);
 * each CPU that wakes takes the next index and stack in ap_start.S and
 * reaches ap_main() (kmain.c), which counts it online.  The boot CPU
 * waits until no CPU has come for 100 ms.
 *
 * Barriers (kmem_plat_barrier_all).  apic_fence_all() records every other
 * online CPU's barrier count (cpu.c), sends VEC_FENCE to all of them and
 * waits, running barrier points itself, until each count moved: each CPU
 * has then executed MFENCE after the call began, in the IPI's handler or
 * in a loop where it waits with interrupts off.
 *
 * Stopping (the leak scan's kmem_plat_world_stop).  VEC_STOP parks the
 * other CPUs in apic_park() with their registers saved in the interrupt
 * frame, until apic_resume_others().  A CPU spinning with interrupts off
 * cannot take the IPI; after 100 ms it is counted as not stopped.
 */
#include "kernel.h"
#include "kernel_vectors.h"

#define	APIC_BASE_VA	0xfee00000u
#define	APIC_ID		0x020
#define	APIC_TPR	0x080
#define	APIC_EOI	0x0b0
#define	APIC_SVR	0x0f0
#define	APIC_ICR_LO	0x300
#define	APIC_ICR_HI	0x310
#define	APIC_LVT_TIMER	0x320
#define	APIC_LVT_LINT0	0x350
#define	APIC_LVT_LINT1	0x360
#define	APIC_LVT_ERROR	0x370
#define	APIC_TIMER_INIT	0x380
#define	APIC_TIMER_DIV	0x3e0

#define	SVR_ENABLE	0x100
#define	LVT_MASKED	0x10000
#define	LVT_PERIODIC	0x20000
#define	ICR_PENDING	0x1000
#define	ICR_ASSERT	0x4000
#define	ICR_OTHERS	0xc0000		/* all excluding self */
#define	ICR_INIT	0x500
#define	ICR_STARTUP	0x600

extern const char ap_trampoline[], ap_trampoline_end[];

static volatile uint32_t *
apic_reg(uint32_t off)
{
	return ((volatile uint32_t *)(uintptr_t)(APIC_BASE_VA + off));
}

uint32_t
apic_id(void)
{
	return (*apic_reg(APIC_ID) >> 24);
}

void
apic_eoi(void)
{
	*apic_reg(APIC_EOI) = 0;
}

void
apic_enable_this(void)
{
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | 0x800);
	*apic_reg(APIC_TPR) = 0;
	*apic_reg(APIC_LVT_TIMER) = LVT_MASKED;
	*apic_reg(APIC_LVT_LINT0) = LVT_MASKED;
	*apic_reg(APIC_LVT_LINT1) = LVT_MASKED;
	*apic_reg(APIC_LVT_ERROR) = LVT_MASKED;
	*apic_reg(APIC_SVR) = SVR_ENABLE | VEC_SPURIOUS;
	kcpu()->kc_apic_id = apic_id();
}

void
apic_timer_start(void)
{
	*apic_reg(APIC_TIMER_DIV) = 0x3;	/* by 16, as calibrated */
	*apic_reg(APIC_LVT_TIMER) = LVT_PERIODIC | VEC_TIMER;
	*apic_reg(APIC_TIMER_INIT) =
	    (uint32_t)(clock_apic_ticks_per_ms() * 1000 / TIMER_HZ);
}

static void
apic_ipi_others(uint32_t icr)
{
	while (*apic_reg(APIC_ICR_LO) & ICR_PENDING)
		cpu_pause();
	*apic_reg(APIC_ICR_HI) = 0;
	*apic_reg(APIC_ICR_LO) = ICR_OTHERS | icr;
	while (*apic_reg(APIC_ICR_LO) & ICR_PENDING)
		cpu_pause();
}

static void
apic_delay_ns(uint64_t ns)
{
	uint64_t end = clock_ns() + ns;

	while (clock_ns() < end)
		cpu_pause();
}

void
apic_start_cpus(void)
{
	char *dst = (char *)(uintptr_t)AP_TRAMPOLINE;

	for (const char *p = ap_trampoline; p < ap_trampoline_end; p++)
		*dst++ = *p;
	apic_ipi_others(ICR_INIT | ICR_ASSERT);
	apic_delay_ns(10000000);
	for (int i = 0; i < 2; i++) {
		apic_ipi_others(ICR_STARTUP | ICR_ASSERT |
		    (AP_TRAMPOLINE >> 12));
		apic_delay_ns(200000);
	}
	unsigned seen = 0;
	uint64_t quiet_since = clock_ns();
	while (clock_ns() - quiet_since < 100000000) {
		unsigned n = __atomic_load_n(&kernel_ncpus, __ATOMIC_ACQUIRE);
		if (n != seen) {
			seen = n;
			quiet_since = clock_ns();
		}
		cpu_pause();
	}
}

void
apic_fence_all(void)
{
	unsigned n = __atomic_load_n(&kernel_ncpus, __ATOMIC_ACQUIRE);
	unsigned self = kcpu()->kc_index;
	uint64_t seen[KERNEL_MAX_CPUS];

	cpu_fence_point();
	if (n == 1)
		return;
	for (unsigned i = 0; i < n; i++)
		seen[i] = __atomic_load_n(&kernel_cpus[i].kc_fence_gen,
		    __ATOMIC_ACQUIRE);
	apic_ipi_others(ICR_ASSERT | VEC_FENCE);
	for (unsigned i = 0; i < n; i++) {
		uint64_t *gen = &kernel_cpus[i].kc_fence_gen;
		while (i != self &&
		    __atomic_load_n(gen, __ATOMIC_ACQUIRE) == seen[i]) {
			cpu_fence_point();
			cpu_pause();
		}
	}
}

/* A stop request and the resume that ends it carry the same number. */
static uint32_t apic_stop_gen, apic_resume_gen;

unsigned
apic_stop_others(void)
{
	unsigned n = __atomic_load_n(&kernel_ncpus, __ATOMIC_ACQUIRE);
	unsigned self = kcpu()->kc_index, missing = 0;

	__atomic_fetch_add(&apic_stop_gen, 1, __ATOMIC_RELEASE);
	if (n == 1)
		return (0);
	apic_ipi_others(ICR_ASSERT | VEC_STOP);
	uint64_t deadline = clock_ns() + 100000000;
	for (unsigned i = 0; i < n; i++) {
		while (i != self && !__atomic_load_n(&kernel_cpus[i].kc_stopped,
		    __ATOMIC_ACQUIRE) && clock_ns() < deadline) {
			cpu_fence_point();
			cpu_pause();
		}
		if (i != self && !__atomic_load_n(&kernel_cpus[i].kc_stopped,
		    __ATOMIC_ACQUIRE))
			missing++;
	}
	return (missing);
}

void
apic_resume_others(void)
{
	uint32_t gen = __atomic_load_n(&apic_stop_gen, __ATOMIC_ACQUIRE);

	__atomic_store_n(&apic_resume_gen, gen, __ATOMIC_RELEASE);
	unsigned n = __atomic_load_n(&kernel_ncpus, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++)
		while (__atomic_load_n(&kernel_cpus[i].kc_stopped,
		    __ATOMIC_ACQUIRE))
			cpu_pause();
}

/*
 * Parked until the stop request that parked it is resumed.  A CPU the
 * scan gave up on takes the IPI late, finds its request resumed already
 * and goes on at once.
 */
void
apic_park(intr_frame_t *f)
{
	kcpu_t *c = kcpu();
	uint32_t gen = __atomic_load_n(&apic_stop_gen, __ATOMIC_ACQUIRE);

	if (__atomic_load_n(&apic_resume_gen, __ATOMIC_ACQUIRE) == gen)
		return;
	c->kc_thread->kt_frame = f;
	__atomic_store_n(&c->kc_stopped, true, __ATOMIC_RELEASE);
	while (__atomic_load_n(&apic_resume_gen, __ATOMIC_ACQUIRE) != gen) {
		cpu_fence_point();
		cpu_pause();
	}
	__atomic_store_n(&c->kc_stopped, false, __ATOMIC_RELEASE);
}
