# The demo kernel (kernel/, platform/kernel/): kmem booted on x86-64 under
# QEMU, two CPUs, allocating from interrupt handlers.  Included by the
# top-level Makefile.
#   make kernel    build build/kernel/kmem-kernel (multiboot, elf32-i386)
#   make qemu      boot it under QEMU; 0 only if every check passed

K_BUILD	:= build/kernel
K_CFLAGS := -std=c11 -O2 -g $(WARN) -ffreestanding -nostdinc \
	    -isystem $(shell $(CC) -print-file-name=include) \
	    -mgeneral-regs-only -mno-red-zone -fno-stack-protector -fno-pie \
	    -fno-pic -mcmodel=small -fno-omit-frame-pointer \
	    -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns \
	    -D_KERNEL -DKMEM_DEBUG_LEVEL=1 \
	    -Iinclude -Iplatform -Iplatform/freestanding -Ikernel
K_SRC	:= $(sort $(wildcard kernel/*.c platform/kernel/*.c))
K_ASM	:= $(wildcard kernel/*.S)
# The suites of tests/ that need nothing hosted, unchanged, on the
# kernel's small C library (kernel/libc/); kernel/ktest.c runs them.
K_TESTS	:= vmem slab magazine kmem_alloc stats stress pressure debug
K_TEST_SRC := $(K_TESTS:%=tests/test_%.c) tests/harness_checks.c \
	      $(sort $(wildcard kernel/libc/*.c))
K_OBJ	:= $(K_SRC:%.c=$(K_BUILD)/%.o) $(K_ASM:%.S=$(K_BUILD)/%.o) \
	   $(CORE_SRC:%.c=$(K_BUILD)/%.o) $(K_TEST_SRC:%.c=$(K_BUILD)/%.o)
K_HDRS	:= $(HEADERS) $(wildcard kernel/*.h platform/kernel/*.h \
	   platform/freestanding/*.h)
K_LD	:= ld -m elf_x86_64 -nostdlib -z max-page-size=0x1000 -z noexecstack \
	   -T kernel/linker.ld

.PHONY: kernel qemu

kernel: $(K_BUILD)/kmem-kernel

$(K_BUILD)/%.o: %.c $(K_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(K_CFLAGS) -c $< -o $@

K_LIBC	:= -isystem kernel/libc/include -Itests
$(K_BUILD)/kernel/libc/%.o: kernel/libc/%.c $(K_HDRS) \
	    $(wildcard kernel/libc/include/*.h kernel/libc/include/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(K_CFLAGS) $(K_LIBC) -c $< -o $@

$(K_BUILD)/kernel/ktest.o: kernel/ktest.c $(K_HDRS) tests/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(K_CFLAGS) $(K_LIBC) -c $< -o $@

$(K_BUILD)/tests/%.o: tests/%.c $(K_HDRS) tests/harness.h \
	    $(wildcard kernel/libc/include/*.h kernel/libc/include/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(K_CFLAGS) $(K_LIBC) -fno-optimize-sibling-calls -D_GNU_SOURCE \
	    -c $< -o $@

$(K_BUILD)/%.o: %.S kernel/kernel_layout.h kernel/kernel_vectors.h
	@mkdir -p $(dir $@)
	$(CC) -Ikernel -c $< -o $@

# Linked twice: the second link adds the symbol table, after the code
# (kernel/ksyms.c), and must leave every function where it was.
$(K_BUILD)/kernel.elf: $(K_OBJ) kernel/linker.ld kernel/ksyms.sh
	kernel/ksyms.sh --empty > $(K_BUILD)/ksyms_empty.c
	$(CC) $(K_CFLAGS) -c $(K_BUILD)/ksyms_empty.c -o $(K_BUILD)/ksyms_empty.o
	$(K_LD) -o $@.pass1 $(K_OBJ) $(K_BUILD)/ksyms_empty.o
	kernel/ksyms.sh $@.pass1 > $(K_BUILD)/ksyms_table.c
	$(CC) $(K_CFLAGS) -c $(K_BUILD)/ksyms_table.c -o $(K_BUILD)/ksyms_table.o
	$(K_LD) -o $@ $(K_OBJ) $(K_BUILD)/ksyms_table.o
	nm -n $@.pass1 | grep ' [tT] ' > $(K_BUILD)/text.pass1
	nm -n $@ | grep ' [tT] ' > $(K_BUILD)/text.pass2
	cmp -s $(K_BUILD)/text.pass1 $(K_BUILD)/text.pass2 || \
	    { echo "kernel: the symbol table moved code"; exit 1; }

# QEMU loads 32-bit multiboot images only.
$(K_BUILD)/kmem-kernel: $(K_BUILD)/kernel.elf
	objcopy -O elf32-i386 --strip-debug $< $@

qemu: $(K_BUILD)/kmem-kernel
	kernel/qemu.sh $(K_BUILD)/kmem-kernel $(K_BUILD)/qemu.log
