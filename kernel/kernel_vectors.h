/*
 * The interrupt vectors the kernel uses beyond the CPU's exceptions
 * (0-31).  The legacy PIC is remapped to 0x20-0x2f and masked.
 */
#ifndef KERNEL_VECTORS_H
#define KERNEL_VECTORS_H

#define	VEC_PIC_BASE	0x20	/* masked; never delivered */
#define	VEC_TIMER	0x40	/* local APIC timer, on every CPU */
#define	VEC_FENCE	0x41	/* IPI: execute a memory barrier */
#define	VEC_STOP	0x42	/* IPI: park until resumed (leak scan) */
#define	VEC_YIELD	0x43	/* int $VEC_YIELD: switch threads */
#define	VEC_SPURIOUS	0xff

#endif
