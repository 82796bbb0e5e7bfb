/*
 * The hosted platform's stack walk (kmem_plat_stack(), kmem_platform.h):
 * the return addresses of an audited transaction, by frame pointers, or
 * with KMEM_DEBUG=unwind by libunwind from the unwind tables.
 *
 * The frame-pointer walk
 * ----------------------
 * Code built with frame pointers (kmem is) keeps a chain of frame records:
 * at the frame pointer, the caller's frame pointer, then the return
 * address.  Code built without them -- most of a Linux distribution --
 * uses the register for anything, so a record's link may hold any value
 * (GNU as, gcc's cc1 and sed -E called malloc with 0xfffffffffffffff0
 * there).  The walk never faults, whatever the links hold, because it
 * reads only memory it knows to be mapped:
 *
 *  1. It starts at its own frame, and follows a link only to a record
 *     that lies strictly above the previous one (no loop, nothing below
 *     the stack in use), is word-aligned, and lies whole below the top of
 *     the stack: fp < hi && hi - fp >= 2 words, a test that no value of
 *     fp can make overflow.
 *  2. The stack is the thread's, [lo, hi) from pthread_getattr_np(3),
 *     asked on the thread's first walk.  Every address from a frame in use
 *     up to hi is mapped: a thread made by pthread_create(3) has one
 *     mapping (its guard page lies below lo); the main thread's stack
 *     mapping grows down on demand, so that below the lowest address in
 *     use [lo, hi) may be unmapped or a guard gap -- which is why the walk
 *     only goes up from a frame in use.  (A stack mapped by the program
 *     inside the main thread's reservation, below its stack mapping, would
 *     be taken for the thread's stack; the kernel puts nothing there
 *     unless asked to by address.)
 *  3. A signal handler on an alternate stack (sigaltstack(2)) runs outside
 *     [lo, hi): the walk asks sigaltstack for that stack's bounds and
 *     walks it, then follows the chain into the thread's stack (the
 *     interrupted code's frames) only at or above the lowest frame that a
 *     walk has started from on it (known to be mapped).
 *  4. Anywhere else the walk records no frames: on a stack of
 *     makecontext(3) or of a coroutine library, in a thread whose bounds
 *     cannot be found (the main thread without /proc, a thread made with
 *     clone(2)), in a walk started inside the bounds query (which may call
 *     malloc).
 *
 * The unwinder
 * ------------
 * kmem_plat_stack_unwinder(true) (KMEM_DEBUG=unwind) makes the walk call
 * libunwind's unw_backtrace(), which follows the DWARF call-frame
 * information (.eh_frame) that every object carries, with or without
 * frame pointers.  It trusts those tables: a frame described wrongly, or a
 * stack overwritten, may lead it astray (it checks addresses itself only
 * where a frame has no table).
 *
 * libunwind is loaded with dlopen(RTLD_LOCAL) by the first walk that wants
 * it, not linked: it also implements the C++ exception ABI (_Unwind_*),
 * and linked it would sit in every process's global scope, where C++ code
 * that a program loads later binds to it instead of to libgcc's.  The
 * first walk may run inside malloc called by the dynamic linker itself,
 * so loading waits while the linker is mid-change (_r_debug.r_state).
 * Both the loading and unw_backtrace() call malloc, and so re-enter kmem
 * when kmem is malloc: dlopen allocates, and a thread's first
 * unw_backtrace() allocates libunwind's thread-local variables (as
 * __tls_get_addr does for any library loaded by dlopen).  A thread already
 * inside either walks by frame pointers instead, as does a signal handler
 * that interrupts one.  libunwind's fast path keeps a frame cache per
 * thread (256 KiB, mapped on the thread's first walk, unmapped when it
 * exits) and reports each caller's return address minus one; the walk
 * adds it back, so both walks give the same addresses.  kmem holds no
 * lock while it walks, so libunwind's locks (and the dynamic linker's,
 * which dl_iterate_phdr(3) takes) never wait on kmem's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "kmem_platform.h"

#define TLS_IE		__attribute__((tls_model("initial-exec")))
#define WORD		sizeof (uintptr_t)
#define UNWIND_MAX	64		/* deepest unwinder walk */

enum { BOUNDS_UNASKED, BOUNDS_ASKING, BOUNDS_KNOWN, BOUNDS_NONE };

/* The thread's stack [stack_lo, stack_hi), and the lowest frame in use. */
static _Thread_local uintptr_t stack_lo TLS_IE;
static _Thread_local uintptr_t stack_hi TLS_IE;
static _Thread_local uintptr_t stack_used TLS_IE;
static _Thread_local uint8_t stack_bounds TLS_IE;
static _Thread_local bool stack_in_unwinder TLS_IE;

typedef int (*backtrace_fn_t)(void **, int);

static bool unwinder_on;
static backtrace_fn_t unwinder;		/* unw_backtrace, once loaded */
static bool unwinder_tried;		/* one thread loads it, once */

/* The thread's stack bounds, asked on its first walk. */
static bool
thread_bounds(void)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;

	if (stack_bounds != BOUNDS_UNASKED)
		return (stack_bounds == BOUNDS_KNOWN);
	stack_bounds = BOUNDS_ASKING;
	uint8_t found = BOUNDS_NONE;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		if (pthread_attr_getstack(&attr, &addr, &size) == 0 &&
		    size >= 2 * WORD && (uintptr_t)addr <= UINTPTR_MAX - size) {
			stack_lo = (uintptr_t)addr;
			stack_hi = stack_used = (uintptr_t)addr + size;
			found = BOUNDS_KNOWN;
		}
		(void)pthread_attr_destroy(&attr);
	}
	/* A handler on this thread sees the bounds before their state. */
	atomic_signal_fence(memory_order_seq_cst);
	stack_bounds = found;
	return (found == BOUNDS_KNOWN);
}

/*
 * Follow the chain from the record at *fpp while it stays in [lo, hi) and
 * goes up, appending return addresses to pcs[n..max).  Returns the new
 * count; *fpp is then the link that left the range or did not go up (0:
 * the chain ended).
 */
__attribute__((no_sanitize_address)) static int
walk(uintptr_t *fpp, uintptr_t lo, uintptr_t hi, uintptr_t *pcs, int n,
    int max)
{
	uintptr_t fp = *fpp;

	while (n < max && fp >= lo && fp < hi && hi - fp >= 2 * WORD &&
	    fp % WORD == 0) {
		const uintptr_t *frame = (const uintptr_t *)fp;
		uintptr_t prev = fp;
		if (frame[1] == 0) {
			fp = 0;
			break;
		}
		pcs[n++] = frame[1];
		fp = frame[0];
		if (fp <= prev)
			break;
	}
	*fpp = fp;
	return (n);
}

/* The walk from fp, our own frame, by frame pointers. */
__attribute__((no_sanitize_address)) static int
walk_frames(uintptr_t fp, uintptr_t *pcs, int max)
{
	bool known = thread_bounds();
	stack_t ss;

	if (known && fp >= stack_lo && fp < stack_hi) {
		if (fp < stack_used)
			stack_used = fp;
		return (walk(&fp, fp, stack_hi, pcs, 0, max));
	}
	/* A handler on an alternate stack, or a stack we do not know. */
	if (sigaltstack(NULL, &ss) != 0 || !(ss.ss_flags & SS_ONSTACK) ||
	    (uintptr_t)ss.ss_sp > UINTPTR_MAX - ss.ss_size)
		return (0);
	uintptr_t top = (uintptr_t)ss.ss_sp + ss.ss_size;
	if (fp < (uintptr_t)ss.ss_sp || fp >= top)
		return (0);
	int n = walk(&fp, fp, top, pcs, 0, max);
	return (known ? walk(&fp, stack_used, stack_hi, pcs, n, max) : n);
}

/* unw_backtrace, loaded on first use; NULL while it cannot be. */
static backtrace_fn_t
unwinder_get(void)
{
	static const char warning[] = "kmem: KMEM_DEBUG=unwind: cannot load "
	    "libunwind.so.8 (libunwind8); stacks follow frame pointers\n";
	backtrace_fn_t fn = __atomic_load_n(&unwinder, __ATOMIC_ACQUIRE);

	if (fn != NULL || __atomic_load_n(&_r_debug.r_state,
	    __ATOMIC_RELAXED) != RT_CONSISTENT ||
	    __atomic_exchange_n(&unwinder_tried, true, __ATOMIC_ACQ_REL))
		return (fn);
	void *lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL)
		lib = dlopen("libunwind.so", RTLD_NOW | RTLD_LOCAL);
	void *sym = lib != NULL ? dlsym(lib, "unw_backtrace") : NULL;
	if (sym == NULL) {
		kmem_plat_write(warning, sizeof (warning) - 1);
		return (NULL);
	}
	memcpy(&fn, &sym, sizeof (fn));
	__atomic_store_n(&unwinder, fn, __ATOMIC_RELEASE);
	return (fn);
}

/*
 * The walk by the unwinder: -1 if it cannot walk now.  ra is the return
 * address into kmem_plat_stack()'s caller, the first to record: the
 * unwinder's first entries are its caller's own frames.
 */
static int
walk_unwinder(uintptr_t ra, uintptr_t *pcs, int max)
{
	void *buf[UNWIND_MAX + 4];
	int got = -1;

	stack_in_unwinder = true;
	atomic_signal_fence(memory_order_seq_cst);
	backtrace_fn_t fn = unwinder_get();
	if (fn != NULL)
		got = fn(buf, (max < UNWIND_MAX ? max : UNWIND_MAX) + 4);
	atomic_signal_fence(memory_order_seq_cst);
	stack_in_unwinder = false;
	for (int i = 0; i < got && i < 4; i++) {
		/* The fast path gives return addresses minus one. */
		uintptr_t adjust = (uintptr_t)buf[i] + 1 == ra ? 1 : 0;
		if ((uintptr_t)buf[i] + adjust != ra)
			continue;
		int n = 0;
		while (i < got && n < max)
			pcs[n++] = (uintptr_t)buf[i++] + adjust;
		return (n);
	}
	return (-1);
}

bool
kmem_plat_stack_unwinder(bool on)
{
	__atomic_store_n(&unwinder_on, on, __ATOMIC_RELAXED);
	return (true);
}

__attribute__((noinline, no_sanitize_address)) int
kmem_plat_stack(uintptr_t *pcs, int max)
{
	uintptr_t fp = (uintptr_t)__builtin_frame_address(0);

	if (max <= 0)
		return (0);
	if (__atomic_load_n(&unwinder_on, __ATOMIC_RELAXED) &&
	    !stack_in_unwinder) {
		int n = walk_unwinder((uintptr_t)__builtin_return_address(0),
		    pcs, max);
		if (n >= 0)
			return (n);
	}
	return (walk_frames(fp, pcs, max));
}
