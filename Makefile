# kmem -- the illumos kernel memory allocator, hosted and freestanding.
#
#   make demo      build and run the demo (the main job)
#   make test      every test: unit, model, stress, under release, ASan+UBSan
#                  and TSan builds, valgrind, the freestanding link test,
#                  the man page lint and the demo kernel under QEMU
#   make bench     benchmarks against glibc, jemalloc, tcmalloc and mimalloc
#   make install PREFIX=DIR
#
# MODE=release|debug|asan|tsan selects a build; objects go to build/$(MODE).

MODE	?= release
PREFIX	?= /usr/local
CC	?= cc
BUILD	:= build/$(MODE)
VERSION	:= 0.1.0

WARN	:= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASE	:= -std=c11 -g -fno-common -fPIC -fno-omit-frame-pointer $(WARN) -Iinclude -Iplatform
ifeq ($(MODE),release)
OPT	:= -O2 -DKMEM_DEBUG_LEVEL=0
else ifeq ($(MODE),debug)
OPT	:= -O1 -DKMEM_DEBUG_LEVEL=2 -DKMEM_TRACK_VALGRIND
else ifeq ($(MODE),asan)
OPT	:= -O1 -fsanitize=address,undefined \
	   -fno-sanitize-recover=undefined -DKMEM_DEBUG_LEVEL=1 -DKMEM_TRACK_ASAN
SANLD	:= -fsanitize=address,undefined
else ifeq ($(MODE),tsan)
OPT	:= -O1 -fsanitize=thread -DKMEM_DEBUG_LEVEL=1
SANLD	:= -fsanitize=thread
else
$(error unknown MODE $(MODE))
endif

CORE_SRC := $(sort $(wildcard src/*/*.c))
PLAT_SRC := platform/posix/posix.c platform/posix/posix_debug.c \
	    platform/posix/posix_stack.c platform/posix/posix_leaks.c
# Reports on demand (atexit=, report_signal=).
PLAT_SRC += platform/posix/posix_report.c
# The BSD faces (malloc(9), kmalloc(9)) are part of libkmem; their
# kernel-only file is compiled by check-freestanding.
BSD_SRC	 := $(filter-out compat/bsd/malloc_kernel.c,$(sort $(wildcard compat/bsd/*.c)))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
PLAT_OBJ := $(PLAT_SRC:%.c=$(BUILD)/%.o)
BSD_OBJ	 := $(BSD_SRC:%.c=$(BUILD)/%.o)
LIB_OBJ	 := $(CORE_OBJ) $(PLAT_OBJ)
HEADERS	 := $(wildcard include/kmem/*.h include/kmem/bsd/*.h \
	    include/kmem/bsd/*/*.h platform/*.h platform/posix/*.h \
	    src/*/*.h compat/bsd/*.h compat/bsd/*.def)

TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(BUILD)/tests/kmem_test

.PHONY: all lib deps demo test test-examples test-gdb test-install test-malloc test-unit test-build check-freestanding check-layers check-symbols lint-man \
	bench install clean

all: lib
lib: $(BUILD)/libkmem.a $(BUILD)/libkmem.so $(BUILD)/libkmem_malloc.so

# Packed relative relocations (DT_RELR) where the linker and libc have
# them: the size tables' 1025 pointers to the null cache otherwise take
# 24 KiB of relocation records, all read at load.  (Older GNU ld and lld
# only warn about an unknown -z option: the probe makes that fatal.)
RELR	:= $(shell printf 'int x;' | $(CC) -shared -fPIC -x c - \
	    -Wl,--fatal-warnings -Wl,-z,pack-relative-relocs -o /dev/null \
	    2>/dev/null && echo -Wl,-z,pack-relative-relocs)

# The malloc library: never let the compiler turn its own calls into
# malloc or calloc calls.
NOBUILTIN := -fno-builtin-malloc -fno-builtin-calloc -fno-builtin-free \
	     -fno-builtin-realloc -fno-tree-loop-distribute-patterns
$(BUILD)/compat/%.o: compat/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(OPT) $(NOBUILTIN) -Iplatform/posix -c $< -o $@

# The BSD faces are freestanding C, as the core is.
$(BUILD)/compat/bsd/%.o: compat/bsd/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(OPT) -ffreestanding -Iplatform/posix -c $< -o $@

$(BUILD)/libkmem_malloc.so: $(LIB_OBJ) $(BUILD)/compat/malloc/malloc.o \
	    compat/malloc/malloc.map
	$(CC) -shared -Wl,-soname,libkmem_malloc.so -Wl,-z,nodelete $(RELR) \
	    -Wl,--version-script=compat/malloc/malloc.map -o $@ $(LIB_OBJ) \
	    $(BUILD)/compat/malloc/malloc.o $(SANLD) -lpthread

# The core is freestanding C11: no libc headers, no hosted assumptions.
$(BUILD)/src/%.o: src/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(OPT) -ffreestanding -Iplatform/posix -c $< -o $@

$(BUILD)/platform/%.o: platform/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(OPT) -Iplatform/posix -c $< -o $@

$(BUILD)/libkmem.a: $(LIB_OBJ) $(BSD_OBJ)
	@rm -f $@
	ar rcs $@ $^

# -z nodelete: dlclose() leaves kmem loaded (its threads, handlers and
# every buffer handed out point into it).
$(BUILD)/libkmem.so: $(LIB_OBJ) $(BSD_OBJ) platform/posix/libkmem.map
	$(CC) -shared -Wl,-soname,libkmem.so -Wl,-z,nodelete $(RELR) \
	    -Wl,--version-script=platform/posix/libkmem.map \
	    -o $@ $(LIB_OBJ) $(BSD_OBJ) $(SANLD) -lpthread

$(BUILD)/tests/%.o: tests/%.c $(HEADERS) tests/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(OPT) -fno-optimize-sibling-calls -Iplatform/posix \
	    -D_GNU_SOURCE -c $< -o $@

# -rdynamic: audit reports name the tests' functions (dladdr(3)).
$(TEST_BIN): $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.o) $(BUILD)/tests/harness.o \
	    $(BUILD)/tests/harness_checks.o \
	    $(BUILD)/tests/harness_child.o $(BUILD)/libkmem.a \
	    $(BUILD)/tests/kmem_debug_helper $(BUILD)/tests/kmem_fresh_helper \
	    $(BUILD)/tests/kmem_bsd_helper $(BUILD)/tests/kmem_leak_helper \
	    $(BUILD)/tests/kmem_report_helper
	$(CC) -rdynamic -o $@ $(filter %.o %.a,$^) $(SANLD) -lpthread

$(BUILD)/tests/kmem_debug_helper: $(BUILD)/tests/debug_helper.o $(BUILD)/libkmem.a
	$(CC) -rdynamic -o $@ $^ $(SANLD) -lpthread

$(BUILD)/tests/kmem_fresh_helper: $(BUILD)/tests/fresh_helper.o $(BUILD)/libkmem.a
	$(CC) -o $@ $^ $(SANLD) -lpthread

$(BUILD)/tests/kmem_bsd_helper: $(BUILD)/tests/bsd_helper.o $(BUILD)/libkmem.a
	$(CC) -o $@ $^ $(SANLD) -lpthread

$(BUILD)/tests/kmem_report_helper: $(BUILD)/tests/report_helper.o \
	    $(BUILD)/libkmem.a
	$(CC) -o $@ $^ $(SANLD) -lpthread

# -rdynamic: findleaks names the leaking functions.
$(BUILD)/tests/kmem_leak_helper: $(BUILD)/tests/leak_helper.o $(BUILD)/libkmem.a
	$(CC) -rdynamic -o $@ $^ $(SANLD) -lpthread

test-build: $(TEST_BIN)

# Run the suite of one build (MODE=...).
test-unit: $(TEST_BIN)
	$(TEST_BIN)

deps:
	@scripts/deps.sh test

# Everything, as CI runs it.
test: deps
	$(MAKE) MODE=release test-unit
	$(MAKE) MODE=asan test-unit
	$(MAKE) MODE=tsan test-unit
	$(MAKE) MODE=debug test-unit
	$(MAKE) MODE=release test-valgrind
	$(MAKE) MODE=debug test-valgrind
	$(MAKE) check-freestanding
	$(MAKE) check-layers
	$(MAKE) MODE=release check-symbols
	$(MAKE) MODE=release test-malloc
	$(MAKE) MODE=release test-examples
	$(MAKE) MODE=release test-gdb
	$(MAKE) test-install
	$(MAKE) lint-man
	$(MAKE) qemu

# The examples a user copies from: built and run, output checked.
test-examples: $(BUILD)/examples/bsd_driver $(BUILD)/examples/netbsd_driver
	$(CC) $(BASE) $(OPT) -Iinclude/kmem/bsd -D_GNU_SOURCE \
	    -o $(BUILD)/tests/libc_malloc_h tests/bsd/libc_malloc_h.c \
	    $(BUILD)/libkmem.a $(SANLD) -lpthread
	$(BUILD)/tests/libc_malloc_h
	for order in -DBOTH_ORDER -UBOTH_ORDER; do \
	    ! $(CC) -Iinclude -Iinclude/kmem/bsd $$order -c \
		tests/bsd/both_kmem_h.c -o /dev/null 2> $(BUILD)/both.err && \
	    grep -q 'give KM_SLEEP different values' $(BUILD)/both.err || \
		exit 1; \
	done
	$(BUILD)/examples/bsd_driver | grep -q '^    foobuffers    16 '
	$(BUILD)/examples/netbsd_driver | grep -q '^xxdescpl      16 '
	@echo "examples: bsd_driver and netbsd_driver ran; vmstat -m names" \
	    "their type and pool"

# The gdb extension (tools/gdb/kmem.py) on a stopped process and on its
# core, against the library's own printers (tests/gdb/run.py).  The
# target needs the debug info every build has (-g) and -rdynamic, for
# the audit stacks' names.
GDB_TARGET := $(BUILD)/tests/gdb/gdb_target
$(GDB_TARGET): tests/gdb/target.c $(BUILD)/libkmem.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(OPT) -fno-optimize-sibling-calls -D_GNU_SOURCE \
	    -rdynamic -o $@ tests/gdb/target.c $(BUILD)/libkmem.a $(SANLD) -lpthread

test-gdb: $(GDB_TARGET)
	python3 tests/gdb/run.py $(GDB_TARGET)

test-valgrind: $(TEST_BIN)
	valgrind --quiet --error-exitcode=99 --leak-check=no \
	    $(TEST_BIN) --quick
ifeq ($(MODE),debug)
	tests/valgrind_tracking.sh $(BUILD)/tests/kmem_debug_helper
endif

# The malloc library: its API tests, then real programs under LD_PRELOAD,
# their output compared with a run on the C library's malloc, without
# debugging and under every debug mode (all features and logs, then the
# unwinder's stacks, then audit, guards and lite alone).
MALLOC_ALL_DEBUG := KMEM_DEBUG=default,nosignal \
	KMEM_LOGGING=transaction,contents,fail
test-malloc: $(BUILD)/libkmem_malloc.so $(BUILD)/tests/malloc_api \
	    $(BUILD)/tests/cxx_containers
	LD_PRELOAD=$(CURDIR)/$(BUILD)/libkmem_malloc.so $(BUILD)/tests/malloc_api
	@echo "Real programs without debugging, then under each debug mode" \
	    "(python3 only under the first three):"
	PROGRAMS_HEAVY_MODES=3 tests/malloc/programs.sh \
	    $(CURDIR)/$(BUILD)/libkmem_malloc.so $(BUILD)/tests/cxx_containers \
	    "" "$(MALLOC_ALL_DEBUG)" "KMEM_DEBUG=default,nosignal,unwind" \
	    KMEM_DEBUG=audit KMEM_DEBUG=guards KMEM_DEBUG=lite

$(BUILD)/tests/malloc_api: tests/malloc/malloc_api.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O1 -g -fno-builtin -D_GNU_SOURCE $(WARN) -Iinclude -o $@ $< \
	    -ldl -lpthread

$(BUILD)/tests/cxx_containers: tests/malloc/cxx_containers.cc
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Werror -o $@ $< -lpthread

# Every include goes down the layer stack (docs/internals.md).
check-layers: lib
	@scripts/check_layers.sh $(BUILD)

# Exports are the public API; every other global is internal (kmi_, vmi_).
check-symbols: lib
	@scripts/check_symbols.sh $(BUILD)

# The core compiled as a kernel would compile it, then its undefined
# symbols checked against the platform contract plus memcpy and friends.
FS_BUILD := build/freestanding
check-freestanding:
	@rm -rf $(FS_BUILD) && mkdir -p $(FS_BUILD)
	@for f in $(CORE_SRC) $(wildcard compat/bsd/*.c); do \
	    $(CC) -std=c11 -O2 $(WARN) -ffreestanding -fno-stack-protector \
		-fno-pic -nostdinc -isystem $$($(CC) -print-file-name=include) \
		-D_KERNEL -Iinclude -Iplatform -Iplatform/freestanding \
		-c $$f -o $(FS_BUILD)/$$(echo $$f | tr / _).o || exit 1; \
	done
	ld -r -o $(FS_BUILD)/kmem_core.o $(FS_BUILD)/*.o
	nm -u $(FS_BUILD)/kmem_core.o | awk '{print $$2}' | sort > $(FS_BUILD)/undefined.txt
	@sort platform/allowlist.txt > $(FS_BUILD)/allowed.txt
	@extra=$$(comm -23 $(FS_BUILD)/undefined.txt $(FS_BUILD)/allowed.txt); \
	if [ -n "$$extra" ]; then \
	    echo "freestanding: symbols outside the platform contract:"; \
	    echo "$$extra"; exit 1; \
	fi; \
	echo "freestanding: core links against the contract only" \
	    "($$(wc -l < $(FS_BUILD)/undefined.txt) symbols)"

# make install into a scratch prefix, then build and run a client the way
# a user would: with pkg-config, against the static and the shared library.
INST := $(CURDIR)/build/install-test
test-install:
	@rm -rf $(INST)
	$(MAKE) MODE=release install PREFIX=$(INST) >/dev/null
	$(CC) -o $(INST)/client examples/client.c \
	    $$(PKG_CONFIG_PATH=$(INST)/lib/pkgconfig pkg-config --cflags --libs kmem)
	LD_LIBRARY_PATH=$(INST)/lib $(INST)/client
	$(CC) -o $(INST)/client-static examples/client.c \
	    $$(PKG_CONFIG_PATH=$(INST)/lib/pkgconfig pkg-config --cflags kmem) \
	    $(INST)/lib/libkmem.a -lpthread
	$(INST)/client-static
	$(CC) -o $(INST)/bsd_driver examples/bsd_driver.c \
	    $$(PKG_CONFIG_PATH=$(INST)/lib/pkgconfig pkg-config --cflags --libs kmem) \
	    -I$(INST)/include/kmem/bsd
	LD_LIBRARY_PATH=$(INST)/lib $(INST)/bsd_driver > /dev/null
	$(CC) -o $(INST)/netbsd_driver examples/netbsd_driver.c \
	    $$(PKG_CONFIG_PATH=$(INST)/lib/pkgconfig pkg-config --cflags --libs kmem) \
	    -I$(INST)/include/kmem/bsd
	LD_LIBRARY_PATH=$(INST)/lib $(INST)/netbsd_driver > /dev/null
	tests/malloc/link.sh $(INST)
	readelf -d $(INST)/lib/libkmem.so | grep -q NODELETE && \
	    readelf -d $(INST)/lib/libkmem_malloc.so | grep -q NODELETE
	test -f $(INST)/share/man/man1/kmem-gdb.1
	gdb -batch -nx -x $(INST)/share/kmem/gdb/kmem.py -ex 'help kmem' | \
	    grep -q '^kmem findleaks'

lint-man:
	@command -v mandoc >/dev/null || { echo "mandoc missing: apt-get install mandoc"; exit 1; }
	mandoc -Tlint -W warning man/*.[0-9]
	@echo "man pages: lint clean"

demo: deps $(BUILD)/examples/demo $(BUILD)/examples/bsd_driver \
	    $(BUILD)/examples/netbsd_driver
	$(BUILD)/examples/demo
	@echo; echo "A BSD driver on kmem (examples/bsd_driver.c):"
	$(BUILD)/examples/bsd_driver
	@echo; echo "A NetBSD driver's pools on kmem (examples/netbsd_driver.c):"
	$(BUILD)/examples/netbsd_driver

# Kernel sources keep their includes: <sys/malloc.h>, <sys/pool.h>,
# <sys/kmem.h> and <uvm/uvm_extern.h> are kmem/bsd's.
$(BUILD)/examples/%_driver: examples/%_driver.c $(BUILD)/libkmem.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(OPT) -Iinclude/kmem/bsd -D_GNU_SOURCE -o $@ $< \
	    $(BUILD)/libkmem.a $(SANLD) -lpthread

$(BUILD)/examples/%: examples/%.c $(BUILD)/libkmem.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(OPT) -D_GNU_SOURCE -rdynamic -o $@ $< $(BUILD)/libkmem.a \
	    $(SANLD) -lpthread

bench:
	$(MAKE) -C bench run

install: $(BUILD)/libkmem.a $(BUILD)/libkmem.so $(BUILD)/libkmem_malloc.so
	install -d $(DESTDIR)$(PREFIX)/include/kmem $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/share/man/man9 $(DESTDIR)$(PREFIX)/share/man/man3 \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/kmem/gdb
	install -m 644 include/kmem/*.h $(DESTDIR)$(PREFIX)/include/kmem/
	install -d $(DESTDIR)$(PREFIX)/include/kmem/bsd/sys
	install -m 644 include/kmem/bsd/*.h $(DESTDIR)$(PREFIX)/include/kmem/bsd/
	install -m 644 include/kmem/bsd/sys/*.h \
	    $(DESTDIR)$(PREFIX)/include/kmem/bsd/sys/
	install -d $(DESTDIR)$(PREFIX)/include/kmem/bsd/uvm
	install -m 644 include/kmem/bsd/uvm/*.h \
	    $(DESTDIR)$(PREFIX)/include/kmem/bsd/uvm/
	install -m 644 $(BUILD)/libkmem.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libkmem.so $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libkmem_malloc.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 man/*.9 $(DESTDIR)$(PREFIX)/share/man/man9/
	install -m 644 man/*.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 tools/gdb/kmem.py $(DESTDIR)$(PREFIX)/share/kmem/gdb/
	for pc in kmem kmem_malloc; do \
	    sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
		$$pc.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/$$pc.pc || exit 1; \
	done

clean:
	rm -rf build

# The demo kernel: make kernel, make qemu (kernel/kernel.mk).
include kernel/kernel.mk
