/*
 * Time: the time-stamp counter, calibrated once against the PIT.
 *
 * The boot CPU gates PIT channel 2 for 10 ms (11932 ticks of its 1.193182
 * MHz clock, counted down in mode 0 with the speaker off) and measures
 * how far the TSC and the local APIC timer (divided by 16) moved meanwhile.
 * clock_ns() is then (TSC - TSC at boot) scaled by a 32.32 fixed-point
 * factor; QEMU keeps the CPUs' TSCs in step, so any CPU may read it.  The
 * APIC rate sets the timer's period (apic.c).
 */
#include "kernel.h"

#define	PIT_HZ		1193182
#define	CAL_MS		10
#define	APIC_BASE_VA	0xfee00000u
#define	APIC_TIMER_INIT	0x380
#define	APIC_TIMER_CUR	0x390
#define	APIC_TIMER_DIV	0x3e0

static uint64_t clock_tsc0;
static uint64_t clock_ns_per_tick_32;	/* ns per TSC tick, << 32 */
static uint64_t clock_apic_per_ms;

static volatile uint32_t *
apic_reg(uint32_t off)
{
	return ((volatile uint32_t *)(uintptr_t)(APIC_BASE_VA + off));
}

void
clock_init(void)
{
	uint16_t count = PIT_HZ * CAL_MS / 1000;

	outb(0x61, (inb(0x61) & ~0x02) | 0x01);	/* gate on, speaker off */
	outb(0x43, 0xb0);			/* channel 2, lo/hi, mode 0 */
	outb(0x42, (uint8_t)count);
	outb(0x42, (uint8_t)(count >> 8));
	*apic_reg(APIC_TIMER_DIV) = 0x3;		/* divide by 16 */
	*apic_reg(APIC_TIMER_INIT) = 0xffffffffu;
	uint64_t t0 = rdtsc();
	while ((inb(0x61) & 0x20) == 0)
		cpu_pause();
	uint64_t t1 = rdtsc();
	uint32_t left = *apic_reg(APIC_TIMER_CUR);
	*apic_reg(APIC_TIMER_INIT) = 0;

	uint64_t tsc_per_ms = (t1 - t0) / CAL_MS;
	clock_ns_per_tick_32 = ((uint64_t)1000000 << 32) / tsc_per_ms;
	clock_apic_per_ms = (0xffffffffu - left) / CAL_MS;
	clock_tsc0 = t1;
}

uint64_t
clock_ns(void)
{
	unsigned __int128 ns = (unsigned __int128)(rdtsc() - clock_tsc0) *
	    clock_ns_per_tick_32;

	return ((uint64_t)(ns >> 32));
}

uint64_t
clock_apic_ticks_per_ms(void)
{
	return (clock_apic_per_ms);
}
