/*
 * Interrupt and exception entry.  Every vector the kernel uses has a stub
 * that pushes an error code (a zero where the CPU pushes none) and its
 * vector number, then intr_common saves the general registers, so that C
 * sees one struct intr_frame (kernel.h) and intr_dispatch(frame) returns
 * the frame to resume: the same one, or another thread's (a thread switch
 * is a return into a different saved frame).  The kernel runs in ring 0
 * only, so the CPU neither switches stacks nor needs a TSS: interrupts run
 * on the interrupted thread's stack, which is why the kernel is built
 * with -mno-red-zone.
 */
#include "kernel_vectors.h"

	.macro	STUB vector, has_error
	.text
	.align 16
1:
	.if	\has_error == 0
	pushq	$0
	.endif
	pushq	$\vector
	jmp	intr_common
	.section .rodata
	.quad	\vector, 1b
	.endm

	.section .rodata
	.align 8
	.globl	intr_stub_table
intr_stub_table:
	STUB 0, 0
	STUB 1, 0
	STUB 2, 0
	STUB 3, 0
	STUB 4, 0
	STUB 5, 0
	STUB 6, 0
	STUB 7, 0
	STUB 8, 1
	STUB 9, 0
	STUB 10, 1
	STUB 11, 1
	STUB 12, 1
	STUB 13, 1
	STUB 14, 1
	STUB 16, 0
	STUB 17, 1
	STUB 18, 0
	STUB 19, 0
	STUB VEC_TIMER, 0
	STUB VEC_FENCE, 0
	STUB VEC_STOP, 0
	STUB VEC_YIELD, 0
	STUB VEC_SPURIOUS, 0
	.section .rodata
	.quad	0, 0			/* the end */

	.text
intr_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi
	cld
	call	intr_dispatch
	movq	%rax, %rsp
	.globl	intr_resume
intr_resume:			/* a new thread's first frame starts here */
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	addq	$16, %rsp		/* vector, error code */
	iretq
