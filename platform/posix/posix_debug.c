/*
 * The hosted platform's debugging support (see kmem_platform.h): thread
 * identifiers, stack traces by frame-pointer walk, symbols by dladdr(3),
 * the signal-return trampoline, and guard pages.  Like posix.c, nothing
 * here allocates through malloc on the paths kmem calls per transaction.
 *
 * The stack walk follows the frame-pointer chain (kmem and its tests are
 * built with -fno-omit-frame-pointer; frames of code built without it are
 * skipped or end the walk).  It never faults: every frame must lie inside
 * the running thread's stack, above the previous one.  The bounds come
 * from pthread_getattr_np() on the thread's first walk, which may itself
 * call malloc; a walk started inside that call records no frames.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "kmem_platform.h"

#define TLS_IE	__attribute__((tls_model("initial-exec")))

static _Thread_local uintptr_t posix_stack_lo TLS_IE;
static _Thread_local uintptr_t posix_stack_hi TLS_IE;
static _Thread_local bool posix_stack_busy TLS_IE;

uintptr_t
kmem_plat_thread(void)
{
	return ((uintptr_t)pthread_self());
}

static bool
posix_stack_bounds(void)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;

	if (posix_stack_hi != 0)
		return (true);
	if (posix_stack_busy)
		return (false);
	posix_stack_busy = true;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
			posix_stack_lo = (uintptr_t)addr;
			posix_stack_hi = (uintptr_t)addr + size;
		}
		(void)pthread_attr_destroy(&attr);
	}
	posix_stack_busy = false;
	return (posix_stack_hi != 0);
}

/* A frame record: the caller's frame pointer, then the return address. */
__attribute__((noinline, no_sanitize_address)) int
kmem_plat_stack(uintptr_t *pcs, int max)
{
	uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
	int n = 0;

	if (!posix_stack_bounds())
		return (0);
	while (n < max && fp >= posix_stack_lo && (fp & 7) == 0 &&
	    fp + 2 * sizeof (uintptr_t) <= posix_stack_hi) {
		const uintptr_t *frame = (const uintptr_t *)fp;
		if (frame[1] == 0)
			break;
		pcs[n++] = frame[1];
		if (frame[0] <= fp)
			break;
		fp = frame[0];
	}
	return (n);
}

void
kmem_plat_symbol(uintptr_t pc, char *buf, size_t len)
{
	Dl_info info;

	/* pc - 1: a return address may lie just past its function. */
	if (dladdr((void *)(pc - 1), &info) != 0 && info.dli_sname != NULL) {
		(void)snprintf(buf, len, "%s+0x%lx", info.dli_sname,
		    (unsigned long)(pc - (uintptr_t)info.dli_saddr));
	} else if (info.dli_fname != NULL && info.dli_fbase != NULL) {
		const char *base = strrchr(info.dli_fname, '/');
		(void)snprintf(buf, len, "%s+0x%lx", base != NULL ? base + 1 :
		    info.dli_fname, (unsigned long)(pc -
		    (uintptr_t)info.dli_fbase));
	} else {
		(void)snprintf(buf, len, "0x%lx", (unsigned long)pc);
	}
}

/*
 * The signal-return trampoline's address, found once by catching a
 * signal: a handler's return address is the trampoline (the C library's
 * restorer, or the vDSO's), the same for every signal and thread.
 */
static uintptr_t posix_sigtramp;
static pthread_once_t posix_sigtramp_once = PTHREAD_ONCE_INIT;

__attribute__((noinline)) static void
posix_sigtramp_catch(int sig)
{
	(void)sig;
	posix_sigtramp = (uintptr_t)__builtin_return_address(0);
}

/* The highest real-time signal free to use (Valgrind keeps SIGRTMAX). */
static void
posix_sigtramp_probe(void)
{
	struct sigaction sa, old;
	sigset_t set, oldset;

	memset(&sa, 0, sizeof (sa));
	sa.sa_handler = posix_sigtramp_catch;
	sigemptyset(&sa.sa_mask);
	for (int sig = SIGRTMAX; sig >= SIGRTMIN; sig--) {
		if (sigaction(sig, &sa, &old) != 0)
			continue;
		sigemptyset(&set);
		sigaddset(&set, sig);
		(void)pthread_sigmask(SIG_UNBLOCK, &set, &oldset);
		(void)raise(sig);
		(void)pthread_sigmask(SIG_SETMASK, &oldset, NULL);
		(void)sigaction(sig, &old, NULL);
		return;
	}
}

bool
kmem_plat_signal_frame(uintptr_t pc)
{
	(void)pthread_once(&posix_sigtramp_once, posix_sigtramp_probe);
	return (posix_sigtramp != 0 && pc == posix_sigtramp);
}

bool
kmem_plat_guard(void *addr, size_t size)
{
	return (mprotect(addr, size, PROT_NONE) == 0);
}
