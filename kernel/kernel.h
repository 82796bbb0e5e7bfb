/*
 * The demo kernel's services, as the rest of the kernel and its kmem
 * platform (platform/kernel/) see them.  The kernel is deliberately small:
 * ring 0 only, memory identity-mapped (and direct-mapped high for kmem), one CPU structure per CPU found
 * through %gs, threads pinned to the CPU they were created on and
 * switched by the timer or when they wait.  Every file's own theory is at
 * its top; this header groups the interfaces by file.
 */
#ifndef KERNEL_H
#define KERNEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel_layout.h"
#include "x86.h"

/* ---- the registers an interrupt saved (intr_stubs.S) ---- */
typedef struct intr_frame {
	uint64_t	r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t	rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t	vector, error;
	uint64_t	rip, cs, rflags, rsp, ss;	/* pushed by the CPU */
} intr_frame_t;

struct kthread;

/* ---- per-CPU state (cpu.c) ---- */
typedef struct kcpu {
	struct kcpu	*kc_self;	/* at %gs:0 */
	unsigned	kc_index;	/* 0 .. kernel_ncpus - 1 */
	uint32_t	kc_apic_id;	/* read from the local APIC at start */
	void		*kc_kmem_self;	/* kmem's self slot (per CPU) */
	uint32_t	kc_preempt_off;	/* kmem_plat_self_enter() depth */
	uint32_t	kc_lock_depth;	/* lock sections (spl_raise) */
	bool		kc_lock_intr;	/* interrupts were on at the first */
	uint32_t	kc_intr_depth;	/* in an interrupt handler */
	uint64_t	kc_fence_gen;	/* memory barriers executed */
	uint64_t	kc_ticks;	/* timer interrupts taken */
	struct kthread	*kc_thread;	/* running here */
	struct kthread	*kc_threads;	/* every thread here (kt_next) */
	uint32_t	kc_threads_lock;
	uint32_t	kc_apic_mismatch; /* ticks whose APIC ID was not ours */
	bool		kc_stopped;	/* parked by a leak scan */
} kcpu_t;

extern kcpu_t kernel_cpus[KERNEL_MAX_CPUS];
extern unsigned kernel_ncpus;		/* CPUs started */

static inline kcpu_t *
kcpu(void)
{
	kcpu_t *c;

	__asm__ __volatile__("movq %%gs:0, %0" : "=r"(c));
	return (c);
}

void cpu_init_boot(void);		/* GDT, IDT on the boot CPU */
void cpu_init_this(unsigned index);	/* %gs and the IDT on this CPU */

/*
 * Interrupt-safe nesting sections: spl_raise() blocks interrupts on this
 * CPU and spl_lower() unblocks them when the outermost section ends (if
 * they were on at its start).  kmem's lock sections are these.
 */
void spl_raise(void);
void spl_lower(void);

/* Spin locks for the kernel's own data, inside an spl section. */
void spin_enter(uint32_t *lock);
void spin_exit(uint32_t *lock);

/* A point where this CPU executed a full barrier (see apic_fence_all). */
void cpu_fence_point(void);

/* Whether code here may block: no interrupt, no lock, no preemption off. */
bool cpu_may_block(void);

/* ---- interrupts (intr.c) ---- */
typedef void intr_tick_fn(kcpu_t *c);
void intr_set_tick(intr_tick_fn *fn);	/* called at every timer tick */

/* ---- the local APIC: timer, IPIs, the other CPUs (apic.c) ---- */
void apic_enable_this(void);		/* on, every local interrupt masked */
void apic_timer_start(void);		/* periodic, TIMER_HZ */
uint32_t apic_id(void);
void apic_eoi(void);
void apic_start_cpus(void);		/* INIT-SIPI-SIPI; kernel_ncpus */
void apic_fence_all(void);		/* every other CPU runs a barrier */
unsigned apic_stop_others(void);	/* park them; how many did not */
void apic_resume_others(void);
void apic_park(intr_frame_t *f);	/* VEC_STOP's handler */
#define	TIMER_HZ	1000

/* ---- time (clock.c) ---- */
void clock_init(void);			/* calibrate the TSC on the PIT */
uint64_t clock_ns(void);		/* since boot */
uint64_t clock_apic_ticks_per_ms(void);

/* ---- physical memory (mem.c) ---- */
void mem_init(uint32_t magic, uint32_t info);
void *mem_pages_alloc(size_t size);	/* page multiple; NULL if none */
void mem_pages_free(void *va, size_t size);
size_t mem_total(void);			/* bytes the allocator manages */
const char *mem_cmdline(void);		/* the multiboot command line */
extern char __data_start[], _end[];	/* the image's writable data */
extern char __stacks_start[], __stacks_end[];	/* every stack, within */

/* ---- threads (thread.c) ---- */
typedef struct kthread {
	intr_frame_t	*kt_frame;	/* saved while not running */
	kcpu_t		*kt_cpu;
	struct kthread	*kt_next;	/* on kc_threads */
	const char	*kt_name;
	void		*(*kt_fn)(void *);
	void		*kt_arg;
	void		*kt_result;
	uintptr_t	kt_stack_lo, kt_stack_hi;
	uint32_t	kt_state;	/* KT_* */
	uint32_t	kt_nosleep;	/* kernel_nosleep_enter() depth */
} kthread_t;
#define	KT_RUNNABLE	0
#define	KT_DONE		1	/* finished; still on its CPU's list */
#define	KT_GONE		2	/* off the list: join may free it */

void thread_init_this(kcpu_t *c, uintptr_t stack_lo, uintptr_t stack_hi);
kthread_t *thread_create(const char *name, void *(*fn)(void *), void *arg,
    unsigned cpu);
void *thread_join(kthread_t *t);
void thread_yield(void);
void thread_sleep_ns(uint64_t ns);
void thread_roots(void (*fn)(void *arg, const void *base, size_t size),
    void *arg);			/* the live stacks, world stopped */
intr_frame_t *thread_switch(intr_frame_t *f);	/* from an interrupt */
static inline kthread_t *
thread_self(void)
{
	return (kcpu()->kc_thread);
}

/* Sections where a KM_SLEEP allocation must not wait (tests). */
void kernel_nosleep_enter(void);
void kernel_nosleep_exit(void);

/* ---- console (console.c) ---- */
void console_init(void);
void console_write(const char *s, size_t len);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list ap);
bool console_saw(const char *text);	/* in the message buffer? */
/* The core's formatter (src/base/fmt.c), freestanding: reused, not copied. */
int kmi_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap);
int kmi_snprintf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- the memory functions (libc/string.c) ---- */
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* ---- stopping (kmain.c) ---- */
_Noreturn void kernel_exit(bool passed);	/* isa-debug-exit */
_Noreturn void kernel_panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
int kernel_backtrace(uintptr_t fp, uintptr_t *pcs, int max);
bool kernel_symbol(uintptr_t pc, char *buf, size_t len);

#endif
