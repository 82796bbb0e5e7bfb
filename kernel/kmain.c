/*
 * The demo kernel's start and end.
 *
 * kmain() (boot CPU, from boot.S): its CPU structure, the console, the
 * memory map, the legacy PIC remapped and masked (its timer would
 * otherwise arrive on vector 8, where it looks like a double fault), the
 * local APIC, the clock, the other CPUs (apic.c), then kmem_init() with
 * the kernel command line as kmem's option string, the timers, and the
 * work (run.c).  ap_main() brings a further CPU to the same state and
 * makes it idle: it runs threads created for it and takes timer
 * interrupts.
 *
 * The end.  kernel_exit() writes to QEMU's isa-debug-exit device (port
 * 0xf4), which makes QEMU exit with status (value << 1) | 1: 33 for a
 * pass, 35 for a failure; a panic is a failure.  On a machine without
 * that device the kernel halts.
 */
#include "kernel.h"
#include "kernel_vectors.h"
#include "kernel_run.h"
#include <kmem/kmem.h>

#define	DEBUG_EXIT_PORT	0xf4
#define	EXIT_PASS	0x10
#define	EXIT_FAIL	0x11

extern char boot_stack[], boot_stack_top[], ap_stacks[];
void kmain(uint32_t magic, uint32_t info);
void ap_main(unsigned index);


static void
pic_disable(void)
{
	static const uint8_t icw[2][4] = {
		{ 0x11, VEC_PIC_BASE, 0x04, 0x01 },
		{ 0x11, VEC_PIC_BASE + 8, 0x02, 0x01 },
	};
	for (int i = 0; i < 2; i++) {
		uint16_t port = i == 0 ? 0x20 : 0xa0;
		outb(port, icw[i][0]);
		for (int k = 1; k < 4; k++)
			outb(port + 1, icw[i][k]);
		outb(port + 1, 0xff);		/* every line masked */
	}
}

void
kmain(uint32_t magic, uint32_t info)
{
	cpu_init_this(0);
	cpu_init_boot();
	console_init();
	kprintf("kmem demo kernel: x86-64, long mode\n");
	mem_init(magic, info);
	pic_disable();
	apic_enable_this();
	clock_init();
	thread_init_this(&kernel_cpus[0], (uintptr_t)boot_stack,
	    (uintptr_t)boot_stack_top);
	apic_start_cpus();
	kprintf("cpus: %u\n", kernel_ncpus);
	kprintf("command line: \"%s\"\n", mem_cmdline());
	if (kmem_init(mem_cmdline()) != 0)
		kernel_panic("kmem_init(\"%s\") failed", mem_cmdline());
	apic_timer_start();
	intr_enable();
	kernel_run();
}

void
ap_main(unsigned index)
{
	cpu_init_this(index);
	apic_enable_this();
	uintptr_t hi = (uintptr_t)ap_stacks + ((uintptr_t)index <<
	    AP_STACK_SHIFT);
	thread_init_this(&kernel_cpus[index], hi - KERNEL_STACK_SIZE, hi);
	__atomic_fetch_add(&kernel_ncpus, 1, __ATOMIC_RELEASE);
	apic_timer_start();
	for (;;) {
		intr_enable();
		halt();
		thread_yield();
	}
}

_Noreturn void
kernel_exit(bool passed)
{
	outl(DEBUG_EXIT_PORT, passed ? EXIT_PASS : EXIT_FAIL);
	intr_disable();
	for (;;)
		halt();
}

_Noreturn void
kernel_panic(const char *fmt, ...)
{
	va_list ap;
	uintptr_t pcs[16], fp;
	char name[96];

	intr_disable();
	va_start(ap, fmt);
	kprintf("panic (cpu %u): ", kcpu()->kc_index);
	kvprintf(fmt, ap);
	va_end(ap);
	kprintf("\n");
	__asm__ __volatile__("movq %%rbp, %0" : "=r"(fp));
	int n = kernel_backtrace(fp, pcs, 16);
	for (int i = 0; i < n; i++) {
		(void)kernel_symbol(pcs[i], name, sizeof (name));
		kprintf("  %s\n", name);
	}
	kernel_exit(false);
}

/*
 * Return addresses from the frame-pointer chain starting at fp, bounded
 * by the running thread's stack (an interrupt runs on it too).
 */
int
kernel_backtrace(uintptr_t fp, uintptr_t *pcs, int max)
{
	kthread_t *t = kcpu()->kc_thread;
	uintptr_t lo = t != NULL ? t->kt_stack_lo : 0;
	uintptr_t hi = t != NULL ? t->kt_stack_hi : 0;
	int n = 0;

	while (n < max && fp >= lo && fp + 16 <= hi && fp % 8 == 0) {
		const uintptr_t *frame = (const uintptr_t *)fp;
		if (frame[1] == 0)
			break;
		pcs[n++] = frame[1];
		if (frame[0] <= fp)
			break;
		fp = frame[0];
	}
	return (n);
}
