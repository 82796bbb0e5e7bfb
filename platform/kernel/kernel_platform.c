/*
 * The kmem platform of the demo kernel (kernel/): the contract of
 * platform/kmem_platform.h on the kernel's page allocator, CPUs, clock
 * and console.  docs/PORTING.md explains each choice for a porter.
 *
 *  - Pages: kmem_plat_map() takes runs of physical pages from the
 *    memory-map spans (kernel/mem.c), zeroed, at their addresses in the
 *    kernel's direct map of physical memory.  physmem is all of it.
 *  - Lock sections block interrupts (spl_raise/spl_lower), so a handler
 *    that calls kmem never spins on a lock its own CPU holds: KM_NOSLEEP
 *    allocations and frees are legal in interrupt handlers.
 *  - The self slot is per CPU (kcpu_t, through %gs, found from the local
 *    APIC's ID at start-up): kmem_plat_self_enter() counts preemption off
 *    (the scheduler switches no thread while the count is non-zero), so
 *    kmem's per-CPU magazines are used as in the original design.
 *  - Waiting is yielding: no thread blocks, so kmem_plat_wait() polls the
 *    word, yielding the CPU to its other threads where that is allowed,
 *    and kmem_plat_wake() has nothing to do.
 *  - An interrupt handler, and a thread inside kernel_nosleep_enter(),
 *    may not sleep: a KM_SLEEP allocation that would wait there is
 *    reported and fails.
 *  - The periodic update is a kernel thread.
 */
#include "kmem_platform.h"
#include "kernel.h"

size_t
kmem_plat_pagesize(void)
{
	return (4096);
}

unsigned
kmem_plat_ncpus(void)
{
	return (kernel_ncpus);
}

size_t
kmem_plat_physmem(void)
{
	return (mem_total());
}

void *
kmem_plat_map(size_t size)
{
	void *va = mem_pages_alloc(size);

	if (va != NULL)
		memset(va, 0, size);
	return (va);
}

void
kmem_plat_unmap(void *addr, size_t size)
{
	mem_pages_free(addr, size);
}

/* Physical memory stays where it is: keeping it is correct. */
void
kmem_plat_discard(void *addr, size_t size)
{
	(void)addr, (void)size;
}

/* The demo kernel maps its memory one way only. */
void
kmem_plat_large_pages(void *addr, size_t size, bool on)
{
	(void)addr, (void)size, (void)on;
}

/* Kernel memory is resident already: nothing to do. */
bool
kmem_plat_populate(void *addr, size_t size)
{
	(void)addr, (void)size;
	return (false);
}

/* Kernel memory is resident. */
bool
kmem_plat_wire(void *addr, size_t size, bool wire)
{
	(void)addr, (void)size, (void)wire;
	return (true);
}

#define	WAIT_POLLS	64

void
kmem_plat_wait(uint32_t *addr, uint32_t expected)
{
	for (int i = 0; i < WAIT_POLLS &&
	    __atomic_load_n(addr, __ATOMIC_ACQUIRE) == expected; i++) {
		cpu_fence_point();
		thread_yield();
	}
}

void
kmem_plat_wake(uint32_t *addr, bool all)
{
	(void)addr, (void)all;
}

void
kmem_plat_yield(void)
{
	cpu_fence_point();
	thread_yield();
}

bool
kmem_plat_may_sleep(void)
{
	return (kcpu()->kc_intr_depth == 0 && thread_self()->kt_nosleep == 0);
}

typedef struct periodic {
	void		(*pd_fn)(void);
	uint64_t	pd_interval;
} periodic_t;

static periodic_t kernel_periodic;

static void *
periodic_main(void *arg)
{
	periodic_t *pd = arg;

	for (;;) {
		thread_sleep_ns(pd->pd_interval);
		pd->pd_fn();
	}
	return (NULL);
}

/* On the last CPU, which the demo keeps least busy. */
bool
kmem_plat_periodic(void (*fn)(void), uint64_t interval_ns)
{
	kernel_periodic.pd_fn = fn;
	kernel_periodic.pd_interval = interval_ns;
	return (thread_create("kmem_update", periodic_main, &kernel_periodic,
	    kernel_ncpus - 1) != NULL);
}

/* No processes. */
void
kmem_plat_atfork(void (*prepare)(void), void (*parent)(void),
    void (*child)(void))
{
	(void)prepare, (void)parent, (void)child;
}

void
kmem_plat_barrier_all(void)
{
	apic_fence_all();
}

uint64_t
kmem_plat_now_ns(void)
{
	return (clock_ns());
}

uint64_t
kmem_plat_stamp_ns(void)
{
	return (clock_ns());
}

void
kmem_plat_write(const char *text, size_t len)
{
	console_write(text, len);
}

_Noreturn void
kmem_plat_panic(const char *msg)
{
	kernel_panic("%s", msg);
}

/* kmem's options are the kernel command line (kmain passes it too). */
const char *
kmem_plat_options(void)
{
	return (mem_cmdline());
}

/* The kernel calls kmem_init() itself, before any allocation. */
bool
kmem_plat_first_use(void)
{
	return (false);
}

/* Debug and log items are items of the command line (kmem_init(9)). */
const char *
kmem_plat_debug_options(void)
{
	return (NULL);
}

const char *
kmem_plat_logging_options(void)
{
	return (NULL);
}

void
kmem_plat_self_set(void *self)
{
	kcpu()->kc_kmem_self = self;
}

void *
kmem_plat_self_enter(void)
{
	kcpu_t *c = kcpu();

	c->kc_preempt_off++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return (c->kc_kmem_self);
}

void
kmem_plat_self_exit(void)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	kcpu()->kc_preempt_off--;
}

void
kmem_plat_lock_begin(void)
{
	spl_raise();
}

void
kmem_plat_lock_end(void)
{
	spl_lower();
}
