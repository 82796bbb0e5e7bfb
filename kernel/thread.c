/*
 * Kernel threads: each pinned to the CPU it was created on, switched
 * round-robin by the timer (every SLICE_TICKS, intr.c) and when a thread
 * waits (thread_yield(): int $VEC_YIELD).
 *
 * A switch is a return into another saved interrupt frame: a thread that
 * is not running is its intr_frame_t on its own stack (kt_frame), and a
 * new thread's stack starts with a frame whose RIP is thread_start.  Each
 * CPU's first thread is the flow that booted it (kmain on the boot CPU,
 * ap_main's idle loop on the others), on its boot stack.
 *
 * No switch happens inside an spl section (a kmem lock, a kernel spin
 * lock), inside kmem's per-CPU section (kmem_plat_self_enter(), which is
 * what "preemption off" means here), or in an interrupt handler: the
 * timer checks, and thread_yield() becomes a pause there.  So a CPU's
 * kmem magazines are only ever used by one thread at a time, and a
 * thread never waits for a lock held by a thread of its own CPU that
 * cannot run.  There is no blocking: waiting is yielding in a loop.
 *
 * Life cycle.  A finished thread is KT_DONE until the next switch on its
 * CPU takes it off the list (KT_GONE; its stack is no longer in use), and
 * thread_join() then frees its slot.  Stacks and thread structures come
 * from a static pool of KTHREAD_MAX.
 */
#include "kernel.h"
#include "kernel_vectors.h"

#define	KTHREAD_MAX	32

static kthread_t thread_pool[KTHREAD_MAX];
static bool thread_used[KTHREAD_MAX];
static char thread_stacks[KTHREAD_MAX][KERNEL_STACK_SIZE]
    __attribute__((aligned(16), section(".bss.kstack")));
static uint32_t thread_pool_lock;
static kthread_t *thread_retiring[KERNEL_MAX_CPUS];

static kthread_t *
thread_slot(void)
{
	kthread_t *t = NULL;

	spin_enter(&thread_pool_lock);
	for (int i = 0; i < KTHREAD_MAX && t == NULL; i++) {
		if (!thread_used[i]) {
			thread_used[i] = true;
			t = &thread_pool[i];
			*t = (kthread_t){ 0 };
			t->kt_stack_lo = (uintptr_t)thread_stacks[i];
			t->kt_stack_hi = t->kt_stack_lo + KERNEL_STACK_SIZE;
		}
	}
	spin_exit(&thread_pool_lock);
	return (t);
}

static void
thread_add(kcpu_t *c, kthread_t *t)
{
	t->kt_cpu = c;
	spin_enter(&c->kc_threads_lock);
	t->kt_next = c->kc_threads;
	c->kc_threads = t;
	spin_exit(&c->kc_threads_lock);
}

void
thread_init_this(kcpu_t *c, uintptr_t stack_lo, uintptr_t stack_hi)
{
	kthread_t *t = thread_slot();

	t->kt_name = c->kc_index == 0 ? "main" : "idle";
	t->kt_stack_lo = stack_lo;
	t->kt_stack_hi = stack_hi;
	c->kc_thread = t;
	thread_add(c, t);
}

static _Noreturn void
thread_start(kthread_t *t)
{
	t->kt_result = t->kt_fn(t->kt_arg);
	__atomic_store_n(&t->kt_state, KT_DONE, __ATOMIC_RELEASE);
	for (;;)
		thread_yield();
}

kthread_t *
thread_create(const char *name, void *(*fn)(void *), void *arg, unsigned cpu)
{
	kthread_t *t = thread_slot();

	if (t == NULL)
		return (NULL);
	t->kt_name = name;
	t->kt_fn = fn;
	t->kt_arg = arg;
	intr_frame_t *f = (intr_frame_t *)(t->kt_stack_hi - 8) - 1;
	*f = (intr_frame_t){ 0 };
	f->rip = (uint64_t)(uintptr_t)thread_start;
	f->rdi = (uint64_t)(uintptr_t)t;
	f->cs = 0x08;
	f->ss = 0x10;
	f->rflags = RFLAGS_IF | 0x2;
	f->rsp = t->kt_stack_hi - 8;	/* as if called: aligned + 8 */
	t->kt_frame = f;
	thread_add(&kernel_cpus[cpu % kernel_ncpus], t);
	return (t);
}

void *
thread_join(kthread_t *t)
{
	while (__atomic_load_n(&t->kt_state, __ATOMIC_ACQUIRE) != KT_GONE)
		thread_yield();
	void *result = t->kt_result;
	spin_enter(&thread_pool_lock);
	thread_used[t - thread_pool] = false;
	spin_exit(&thread_pool_lock);
	return (result);
}

void
thread_yield(void)
{
	if (cpu_may_block())
		__asm__ __volatile__("int %0" : : "i"(VEC_YIELD) : "memory");
	else
		cpu_pause();
}

void
thread_sleep_ns(uint64_t ns)
{
	uint64_t end = clock_ns() + ns;

	while (clock_ns() < end)
		thread_yield();
}

/* The next thread after cur on c's list, cur itself if it is alone. */
static kthread_t *
thread_next(kcpu_t *c, kthread_t *cur)
{
	kthread_t *t = cur->kt_next != NULL ? cur->kt_next : c->kc_threads;

	while (t != cur && t->kt_state != KT_RUNNABLE)
		t = t->kt_next != NULL ? t->kt_next : c->kc_threads;
	return (t);
}

static void
thread_unlink(kcpu_t *c, kthread_t *t)
{
	kthread_t **pp = &c->kc_threads;

	while (*pp != t)
		pp = &(*pp)->kt_next;
	*pp = t->kt_next;
}

intr_frame_t *
thread_switch(intr_frame_t *f)
{
	kcpu_t *c = kcpu();
	kthread_t *cur = c->kc_thread;

	spin_enter(&c->kc_threads_lock);
	kthread_t *gone = thread_retiring[c->kc_index];
	if (gone != NULL) {
		__atomic_store_n(&gone->kt_state, KT_GONE, __ATOMIC_RELEASE);
		thread_retiring[c->kc_index] = NULL;
	}
	cur->kt_frame = f;
	kthread_t *next = thread_next(c, cur);
	if (cur->kt_state == KT_DONE) {
		thread_unlink(c, cur);
		thread_retiring[c->kc_index] = cur;
	}
	c->kc_thread = next;
	spin_exit(&c->kc_threads_lock);
	return (next->kt_frame);
}

/*
 * The live part of every thread's stack, for a leak scan that stopped
 * the other CPUs: from the saved frame (registers included) of a thread
 * that is not running or whose CPU is parked, from here for this one,
 * whole for one running on a CPU that could not be stopped.
 */
void
thread_roots(void (*fn)(void *arg, const void *base, size_t size), void *arg)
{
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);

	for (unsigned i = 0; i < kernel_ncpus; i++) {
		kcpu_t *c = &kernel_cpus[i];
		for (kthread_t *t = c->kc_threads; t != NULL; t = t->kt_next) {
			uintptr_t from = (uintptr_t)t->kt_frame;
			if (t == thread_self())
				from = here;
			else if (t == c->kc_thread && !c->kc_stopped)
				from = t->kt_stack_lo;
			if (from >= t->kt_stack_lo && from < t->kt_stack_hi)
				fn(arg, (const void *)from,
				    t->kt_stack_hi - from);
		}
	}
}

void
kernel_nosleep_enter(void)
{
	thread_self()->kt_nosleep++;
}

void
kernel_nosleep_exit(void)
{
	thread_self()->kt_nosleep--;
}
