/*
 * The demo kernel's debugging and reporting side of the kmem platform:
 * stacks by frame pointers within the running thread's stack, names from
 * the kernel's own symbol table (kernel/ksyms.c), threads, the leak
 * scan's stop-the-world by IPI, and no guard pages, signals or exit.
 */
#include "kmem_platform.h"
#include "kernel.h"

uintptr_t
kmem_plat_thread(void)
{
	return ((uintptr_t)thread_self());
}

__attribute__((noinline)) int
kmem_plat_stack(uintptr_t *pcs, int max)
{
	return (kernel_backtrace((uintptr_t)__builtin_frame_address(0), pcs,
	    max));
}

/* The kernel is built with frame pointers: no unwinder. */
bool
kmem_plat_stack_unwinder(bool on)
{
	(void)on;
	return (false);
}

bool
kmem_plat_symbol(uintptr_t pc, char *buf, size_t len)
{
	return (kernel_symbol(pc, buf, len));
}

bool
kmem_plat_signal_frame(uintptr_t pc)
{
	(void)pc;
	return (false);
}

/*
 * Memory is mapped with 2 MiB pages, so a page cannot be made
 * inaccessible alone: no firewalls.
 */
bool
kmem_plat_guard(void *addr, size_t size)
{
	(void)addr, (void)size;
	return (false);
}

unsigned
kmem_plat_world_stop(void)
{
	return (apic_stop_others());
}

/*
 * Every pointer the kernel keeps is in its image's data and bss (it has
 * no heap but kmem) or on a stack: the image less its stacks, then each
 * thread's live stack, where a parked CPU's registers are too (an
 * interrupt frame).  The dead part of a stack would keep stale pointers.
 */
void
kmem_plat_roots(kmem_plat_root_fn *fn, void *arg)
{
	fn(arg, __data_start, (size_t)(__stacks_start - __data_start));
	fn(arg, __stacks_end, (size_t)(_end - __stacks_end));
	thread_roots(fn, arg);
}

void
kmem_plat_world_resume(void)
{
	apic_resume_others();
}

/* Nothing exits: no atexit= reports. */
bool
kmem_plat_at_exit(void)
{
	return (false);
}

/* No signals. */
int
kmem_plat_signal_number(const char *name)
{
	(void)name;
	return (0);
}

int
kmem_plat_report_signal(int signo)
{
	(void)signo;
	return (-1);
}
