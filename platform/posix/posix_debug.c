/*
 * The hosted platform's debugging support (see kmem_platform.h): thread
 * identifiers, symbols by dladdr(3), the signal-return trampoline, and
 * guard pages; the stack walk is posix_stack.c.  Like posix.c, nothing
 * here allocates through malloc on the paths kmem calls per transaction.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "kmem_platform.h"

uintptr_t
kmem_plat_thread(void)
{
	return ((uintptr_t)pthread_self());
}

bool
kmem_plat_symbol(uintptr_t pc, char *buf, size_t len)
{
	Dl_info info;

	/* pc - 1: a return address may lie just past its function. */
	if (dladdr((void *)(pc - 1), &info) != 0 && info.dli_sname != NULL) {
		(void)snprintf(buf, len, "%s+0x%lx", info.dli_sname,
		    (unsigned long)(pc - (uintptr_t)info.dli_saddr));
		return (true);
	} else if (info.dli_fname != NULL && info.dli_fbase != NULL) {
		const char *base = strrchr(info.dli_fname, '/');
		(void)snprintf(buf, len, "%s+0x%lx", base != NULL ? base + 1 :
		    info.dli_fname, (unsigned long)(pc -
		    (uintptr_t)info.dli_fbase));
	} else {
		(void)snprintf(buf, len, "0x%lx", (unsigned long)pc);
	}
	return (false);
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
