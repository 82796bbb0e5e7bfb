/*
 * Boot: from the multiboot (v1) loader's 32-bit protected mode to long
 * mode, then kmain().
 *
 * QEMU's -kernel loads an ELF32 image whose first 8 KiB hold the
 * multiboot header; it enters boot32 with paging off, EAX the multiboot
 * magic and EBX the physical address of the multiboot information.  The
 * kernel is linked (64-bit, objcopy'd to elf32-i386) at 1 MiB and runs at
 * the addresses it was loaded at: the page tables built here map the first
 * 4 GiB one to one with 2 MiB pages (RAM, and the local APIC at
 * 0xfee00000), and again from DIRECT_MAP (0xffff800000000000), where the
 * page allocator hands memory out (mem.c).  Then: PAE on, EFER.LME on, paging on, a 64-bit GDT, a far
 * jump into 64-bit code, a stack, kmain(magic, info).  The second CPU
 * reaches long mode through the same page tables and GDT (ap_start.S).
 */
#define	MB_MAGIC	0x1badb002
#define	MB_FLAGS	0x00000003	/* page-aligned modules, memory info */

#define	CR0_PG		0x80000000
#define	CR4_PAE		0x00000020
#define	MSR_EFER	0xc0000080
#define	EFER_LME	0x00000100
#define	PTE_P_W		0x003
#define	PDE_LARGE	0x083		/* present, writable, 2 MiB */

	.section .multiboot, "a"
	.align 4
	.long	MB_MAGIC
	.long	MB_FLAGS
	.long	-(MB_MAGIC + MB_FLAGS)

	.section .boot32, "ax"
	.code32
	.globl	boot32
boot32:
	cli
	movl	%eax, %esi		/* the magic and the info survive */
	movl	%ebx, %ebp		/* in registers rep stos leaves */
	/* bss, page tables included, may not come zeroed */
	movl	$__bss_start, %edi
	movl	$_end, %ecx
	subl	%edi, %ecx
	xorl	%eax, %eax
	cld
	rep stosb

	/* PML4[0] and PML4[256] -> PDPT; PDPT[0..3] -> four directories */
	movl	$boot_pdpt, %eax
	orl	$PTE_P_W, %eax
	movl	%eax, boot_pml4
	movl	%eax, boot_pml4 + 256 * 8
	movl	$boot_pd, %eax
	orl	$PTE_P_W, %eax
	xorl	%ecx, %ecx
1:	movl	%eax, boot_pdpt(, %ecx, 8)
	addl	$4096, %eax
	incl	%ecx
	cmpl	$4, %ecx
	jne	1b
	/* 2048 PDEs: 2 MiB each, identity */
	movl	$PDE_LARGE, %eax
	xorl	%edx, %edx		/* bits 32.. of the physical address */
	xorl	%ecx, %ecx
2:	movl	%eax, boot_pd(, %ecx, 8)
	movl	%edx, boot_pd + 4(, %ecx, 8)
	addl	$0x200000, %eax
	adcl	$0, %edx
	incl	%ecx
	cmpl	$2048, %ecx
	jne	2b

	.globl	boot_long_mode
boot_long_mode:			/* also the APs' way in, with ESI 0 */
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$boot_pml4, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$CR0_PG, %eax
	movl	%eax, %cr0
	lgdt	boot_gdt_desc
	ljmp	$0x08, $boot64

	.code64
boot64:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	xorw	%ax, %ax
	movw	%ax, %fs
	movw	%ax, %gs
	testl	%esi, %esi		/* APs come with ESI 0 */
	jz	ap_long_mode
	movq	$boot_stack_top, %rsp
	movl	%esi, %edi
	movl	%ebp, %esi
	xorl	%ebp, %ebp		/* the last frame of every backtrace */
	call	kmain
3:	hlt
	jmp	3b

	.section .rodata
	.align 16
	.globl	boot_gdt
boot_gdt:
	.quad	0
	.quad	0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad	0x00cf92000000ffff	/* 0x10: data */
	.quad	0x00cf9a000000ffff	/* 0x18: 32-bit code (APs) */
boot_gdt_end:
	.globl	boot_gdt_desc
boot_gdt_desc:
	.word	boot_gdt_end - boot_gdt - 1
	.long	boot_gdt

	.bss
	.align 4096
	.globl	boot_pml4
boot_pml4:	.skip	4096
boot_pdpt:	.skip	4096
boot_pd:	.skip	4 * 4096
	.section .bss.kstack, "aw", @nobits
	.align 16
	.globl	boot_stack, boot_stack_top
boot_stack:	.skip	65536
boot_stack_top:
