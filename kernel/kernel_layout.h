/*
 * Constants shared by the kernel's assembly and C: where the second CPU
 * starts, how many CPUs the kernel takes, and their boot stacks.
 */
#ifndef KERNEL_LAYOUT_H
#define KERNEL_LAYOUT_H

#define	AP_TRAMPOLINE	0x8000		/* SIPI vector 0x08 */
#define	KERNEL_MAX_CPUS	8
#define	AP_STACK_SHIFT	16		/* 64 KiB boot stack per CPU */
#define	KERNEL_STACK_SIZE	(1 << AP_STACK_SHIFT)

#endif
