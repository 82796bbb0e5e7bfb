/*
 * kmem platform contract.
 *
 * Everything the core (src/) needs from the machine it runs on, and nothing
 * more.  The core includes only this header and the freestanding C headers;
 * a platform is one directory under platform/ that implements the functions
 * below and supplies <kmem_plat_inline.h> for the two hot-path helpers.
 *
 * Preconditions, stated once for every function here:
 *  - sizes and addresses passed to the page functions are multiples of
 *    kmem_plat_pagesize() and non-zero;
 *  - none of these functions calls back into kmem (they must not allocate
 *    through kmem_alloc or malloc when kmem is the process allocator);
 *  - functions that may block say so; everything else is safe to call with
 *    kmem's own locks held.
 *
 * Functions the core provides to the host are at the end of this file.
 */
#ifndef KMEM_PLATFORM_H
#define KMEM_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Size of a page: the quantum of the root arena.  A power of two. */
size_t kmem_plat_pagesize(void);

/* Number of CPUs that may run kmem code at once (sizes per-CPU tables). */
unsigned kmem_plat_ncpus(void);

/* Bytes of memory in the machine: the default memory budget. */
size_t kmem_plat_physmem(void);

/*
 * Map `size` bytes of fresh, zero-filled, read-write memory aligned to at
 * least a page.  Returns NULL when the machine has no more.  Never blocks.
 */
void *kmem_plat_map(size_t size);

/* Give a mapping (or a page-aligned part of one) back to the machine. */
void kmem_plat_unmap(void *addr, size_t size);

/*
 * The contents of [addr, addr+size) are no longer needed: the platform may
 * drop the physical pages behind it (they read back as zero) while keeping
 * the addresses valid.  A no-op is a correct implementation.
 */
void kmem_plat_discard(void *addr, size_t size);

/*
 * [addr, addr + size) is one large buffer whose user will likely touch all
 * of it (on is true), or no longer is (false): the platform may back it
 * with large pages, so that filling it takes one fault per large page
 * instead of one per page.  A no-op is a correct implementation.
 */
void kmem_plat_large_pages(void *addr, size_t size, bool on);

/*
 * [addr, addr + size) of kmem's memory will be written soon: the platform
 * may make its pages resident now, in one step, instead of one fault per
 * page as the writes come.  True if it did; returning false and doing
 * nothing is a correct implementation.
 */
bool kmem_plat_populate(void *addr, size_t size);

/*
 * Keep the pages of [addr, addr + size) resident (wire is true) or let
 * them be paged again (false); false if the platform would not (a hosted
 * process may lack the privilege).  A kernel, whose memory is resident,
 * returns true and does nothing.  Used by uvm_km(9)'s UVM_KMF_WIRED.
 */
bool kmem_plat_wire(void *addr, size_t size, bool wire);

/*
 * Futex-style waiting, used by kmem's own locks and condition variables.
 * kmem_plat_wait blocks while *addr == expected; it may return spuriously.
 * kmem_plat_wake wakes one waiter (all == false) or every waiter on addr.
 * A platform without a scheduler may make wait a pause and wake a no-op.
 */
void kmem_plat_wait(uint32_t *addr, uint32_t expected);
void kmem_plat_wake(uint32_t *addr, bool all);

/* Let another thread run (a hint; a no-op is correct). */
void kmem_plat_yield(void);

/*
 * false when the caller runs in a context that must not block (an
 * interrupt handler in a kernel): a KM_SLEEP allocation that would have to
 * wait there is reported as an error instead of hanging.
 */
bool kmem_plat_may_sleep(void);

/*
 * Call fn every interval_ns nanoseconds from a context that may sleep (a
 * background thread in hosted builds).  Returns false if the platform has
 * no such facility; the kernel then calls kmem_update() itself.
 */
bool kmem_plat_periodic(void (*fn)(void), uint64_t interval_ns);

/*
 * Run prepare before the process forks, parent after in the parent, child
 * after in the child (hosted: pthread_atfork(3)).  A kernel ignores this.
 */
void kmem_plat_atfork(void (*prepare)(void), void (*parent)(void),
    void (*child)(void));

/*
 * Heavy side of the asymmetric barrier that protects per-CPU (per-thread)
 * magazines; see the theory statement in src/magazine/magazine.c.  When it
 * returns, every thread that runs kmem code has executed a full memory
 * barrier since the call began.  Hosted: membarrier(2).  Kernel: a
 * cross-call to every CPU, or nothing on a uniprocessor.
 */
void kmem_plat_barrier_all(void);

/* Monotonic time in nanoseconds. */
uint64_t kmem_plat_now_ns(void);

/*
 * The same clock, as cheaply as the platform can read it, for stamping
 * every audited transaction: it may be coarse (hosted: a few
 * milliseconds).  kmem_plat_now_ns() is a correct implementation.
 */
uint64_t kmem_plat_stamp_ns(void);

/* Write text to the console or error stream.  Never allocates. */
void kmem_plat_write(const char *text, size_t len);

/* Stop the system (kernel) or the process (hosted); msg says why. */
_Noreturn void kmem_plat_panic(const char *msg);

/*
 * The option string for kmem_init() when kmem sets itself up on first use:
 * KMEM_OPTIONS in hosted builds, the kernel command line elsewhere.  May
 * return NULL.
 */
const char *kmem_plat_options(void);

/*
 * kmem is used before kmem_init() was called (a first kmem_alloc(),
 * kmem_cache_create() or quantum-cached vmem_create()): set it up if this
 * platform does that (hosted builds call kmem_init(NULL), so that a
 * library or a drop-in malloc needs no set-up call) and say whether kmem
 * is ready.  A kernel calls kmem_init() itself and returns false.  The
 * core never calls kmem_init() from below: this is the only way up.
 */
bool kmem_plat_first_use(void);

/* The debugging items (KMEM_DEBUG in hosted builds); may return NULL. */
const char *kmem_plat_debug_options(void);

/* The debugging items for logs (KMEM_LOGGING in hosted builds); may be NULL. */
const char *kmem_plat_logging_options(void);

/*
 * Debugging support (KMEM_DEBUG=audit, firewall, nosignal).  A platform
 * may implement any of these as "not available": 0 from kmem_plat_thread
 * and kmem_plat_stack, "?" (and false) from kmem_plat_symbol, false from
 * the others.
 *
 * kmem_plat_thread: an identifier of the running thread (a thread pointer).
 * kmem_plat_stack: up to max return addresses of the caller's callers,
 *   innermost first; the number stored.  Must never fault or allocate,
 *   whatever the stack holds (bound the walk by the thread's stack).
 * kmem_plat_stack_unwinder: on: from now on, walk with an unwinder that
 *   reads the unwind tables, so that frames of code built without frame
 *   pointers are followed (KMEM_DEBUG=unwind); off: the default walk.
 *   false if the platform has no such unwinder.  The unwinder trusts the
 *   tables; if it allocates, the allocation's own walk must not use it.
 * kmem_plat_symbol: write "name+0xoffset" for pc into buf (NUL-terminated,
 *   truncated to len) and return true; false if no function is known
 *   (buf then names what is: "object+0xoffset", "0x...").  Called only
 *   to print reports; may take locks.
 * kmem_plat_signal_frame: whether pc is the return address of a signal
 *   handler (the signal-return trampoline): a stack holding one was
 *   captured inside a handler.
 * kmem_plat_guard: make [addr, addr+size) (whole pages of a mapping)
 *   inaccessible, so that any access faults at once.
 */
uintptr_t kmem_plat_thread(void);
int kmem_plat_stack(uintptr_t *pcs, int max);
bool kmem_plat_stack_unwinder(bool on);
bool kmem_plat_symbol(uintptr_t pc, char *buf, size_t len);
bool kmem_plat_signal_frame(uintptr_t pc);
bool kmem_plat_guard(void *addr, size_t size);

/*
 * Leak detection (kmem_findleaks(9)).  The core holds every kmem lock
 * around these calls; none of them may allocate (from kmem or the C
 * library), and they must not wait for another thread's progress beyond
 * a bounded time.
 * kmem_plat_world_stop: stop every other thread of the program (hosted)
 *   or CPU (kernel) until kmem_plat_world_resume(), with its registers
 *   where kmem_plat_roots() reports them.  Returns how many could not be
 *   stopped (their registers are not seen; their stacks are reported
 *   whole).
 * kmem_plat_roots: call fn(arg, base, size) for every range of memory
 *   that may hold a pointer a program keeps: its loaded objects' data and
 *   bss, each thread's stack from its stack pointer up and its saved
 *   registers, and memory kmem does not own (a C library's heap).  Ranges
 *   may include kmem's own memory: the core skips it.
 */
typedef void kmem_plat_root_fn(void *arg, const void *base, size_t size);
unsigned kmem_plat_world_stop(void);
void kmem_plat_roots(kmem_plat_root_fn *fn, void *arg);
void kmem_plat_world_resume(void);

/*
 * Reports on demand (kmem_init(9)'s atexit= and report_signal=).
 * kmem_plat_at_exit: call kmi_report_exit() once when the process exits
 *   normally (hosted: atexit(3)); false where nothing exits (a kernel).
 * kmem_plat_signal_number: the number of the signal that name names, with
 *   or without "SIG", in either case, or as a number ("USR1", "SIGUSR1",
 *   "10"); 0 if there is none (a kernel has no signals); -1 if it may not
 *   carry report requests: it cannot be caught, it reports a fault or an
 *   abort (after which a handler must not simply return), or the
 *   platform uses it itself.
 * kmem_plat_report_signal: from now on, each time signal signo arrives,
 *   call kmi_report_signalled() from a thread that may take kmem's locks
 *   and print -- never from the handler, which runs on whichever thread
 *   the signal interrupted, perhaps inside kmem holding them; the handler
 *   only records the request (async-signal-safe code only).  Requests
 *   that arrive while a report is printed make one more report.  Returns
 *   0; 1 if the program handles signo already (left alone); -1 if no
 *   such thread could be started.
 */
bool kmem_plat_at_exit(void);
int kmem_plat_signal_number(const char *name);
int kmem_plat_report_signal(int signo);

/*
 * The "self" slot: one pointer per thread (hosted) or per CPU (kernel) that
 * the core owns.  kmem_plat_self_set() stores it; in hosted builds it also
 * arranges for kmem_thread_exit(self) to be called when the thread ends.
 * kmem_plat_self_enter() / kmem_plat_self_exit() come from
 * <kmem_plat_inline.h>: enter returns the slot's value and, in a kernel,
 * disables preemption until the matching exit.
 */
void kmem_plat_self_set(void *self);

/*
 * Lock sections, also from <kmem_plat_inline.h>: kmem calls
 * kmem_plat_lock_begin() before it takes one of its locks and
 * kmem_plat_lock_end() after it released it; sections nest.  A kernel
 * blocks interrupts on the CPU from the outermost begin to its end (and
 * switches no thread inside), so that an interrupt handler that calls
 * kmem never spins on a lock its own CPU holds.  Hosted: both do nothing.
 * A thread waits for a contended lock outside the section.
 */

#include <kmem_plat_inline.h>

/* ---- Provided by the core, called by the host ---- */

/* A thread that called kmem_plat_self_set() is exiting. */
void kmem_thread_exit(void *self);

/* Set kmem up (kmem_init(9)); kmem_plat_first_use() may call it. */
int kmem_init(const char *options);

/* Print the reports atexit= asked for (kmem_plat_at_exit()). */
void kmi_report_exit(void);

/* The report_signal= signal arrived: print its reports (may take locks). */
void kmi_report_signalled(void);

#endif /* KMEM_PLATFORM_H */
