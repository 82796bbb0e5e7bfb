/*
 * The x86-64 instructions the kernel needs, as inline functions: port
 * I/O, model-specific registers, the time-stamp counter, interrupt flag,
 * memory fences.
 */
#ifndef KERNEL_X86_H
#define KERNEL_X86_H

#include <stdbool.h>
#include <stdint.h>

#define	RFLAGS_IF	0x200
#define	MSR_APIC_BASE	0x1b
#define	MSR_GS_BASE	0xc0000101

static inline void
outb(uint16_t port, uint8_t v)
{
	__asm__ __volatile__("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t
inb(uint16_t port)
{
	uint8_t v;
	__asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port));
	return (v);
}

static inline void
outl(uint16_t port, uint32_t v)
{
	__asm__ __volatile__("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint64_t
rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ __volatile__("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32 | lo);
}

static inline void
wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ __volatile__("wrmsr" : : "c"(msr), "a"((uint32_t)v),
	    "d"((uint32_t)(v >> 32)));
}

static inline uint64_t
rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32 | lo);
}

static inline uint64_t
read_rflags(void)
{
	uint64_t f;
	__asm__ __volatile__("pushfq; popq %0" : "=r"(f));
	return (f);
}

static inline bool
intr_enabled(void)
{
	return ((read_rflags() & RFLAGS_IF) != 0);
}

static inline void
intr_disable(void)
{
	__asm__ __volatile__("cli" : : : "memory");
}

static inline void
intr_enable(void)
{
	__asm__ __volatile__("sti" : : : "memory");
}

static inline void
cpu_pause(void)
{
	__asm__ __volatile__("pause" : : : "memory");
}

static inline void
mfence(void)
{
	__asm__ __volatile__("mfence" : : : "memory");
}

static inline void
halt(void)
{
	__asm__ __volatile__("hlt" : : : "memory");
}

#endif
