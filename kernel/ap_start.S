/*
 * The second (and any further) CPU's way from the start-up IPI to C.
 *
 * A CPU woken by INIT-SIPI-SIPI starts in 16-bit real mode at
 * AP_TRAMPOLINE (the SIPI vector times 4 KiB), below 1 MiB, where
 * apic.c copies ap_trampoline .. ap_trampoline_end.  The code there is
 * position dependent on that address: every address it uses is
 * AP_TRAMPOLINE plus an offset into the copy.  It loads the kernel's GDT
 * (through a descriptor inside the copy), turns protection on, jumps to
 * 32-bit code, and joins the boot CPU's path at boot_long_mode with ESI 0;
 * boot.S's 64-bit code sends it on to ap_long_mode here, which takes the
 * next CPU number and its stack and calls ap_main(index).
 */
#include "kernel_layout.h"

#define	TR(label)	(AP_TRAMPOLINE + (label) - ap_trampoline)

	.section .rodata
	.code16
	.globl	ap_trampoline, ap_trampoline_end
ap_trampoline:
	cli
	xorw	%ax, %ax
	movw	%ax, %ds
	lgdtl	TR(ap_gdt_desc)
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$0x18, $TR(ap_protected)

	.code32
ap_protected:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	xorl	%esi, %esi
	movl	$boot_long_mode, %eax
	jmp	*%eax

	.align 8
ap_gdt_desc:
	.word	0x1f
	.long	boot_gdt
ap_trampoline_end:

	.text
	.code64
	.globl	ap_long_mode
ap_long_mode:
	movl	$1, %edi
	lock xaddl %edi, ap_next_index	/* EDI: this CPU's number */
	cmpl	$KERNEL_MAX_CPUS, %edi
	jae	1f			/* no room: this CPU stays off */
	movl	%edi, %eax		/* stack: [index - 1, index) */
	shlq	$AP_STACK_SHIFT, %rax
	leaq	ap_stacks(%rax), %rsp
	xorl	%ebp, %ebp
	call	ap_main
1:	hlt
	jmp	1b

	.data
	.align 4
ap_next_index:	.long	1		/* the boot CPU is 0 */

	.section .bss.kstack, "aw", @nobits
	.align 4096
	.globl	ap_stacks
ap_stacks:	.skip	(KERNEL_MAX_CPUS - 1) << AP_STACK_SHIFT
