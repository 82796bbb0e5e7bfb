/*
 * Reports on demand, hosted: atexit(3) for atexit=, and for
 * report_signal= a signal handler that wakes a reporter thread.
 *
 * Theory of operation
 * -------------------
 * The handler runs on whichever thread the signal interrupted, perhaps
 * inside kmem with its locks held, so it only counts the request in
 * posix_report_requests (an atomic add) and wakes the reporter (a futex
 * wake, a raw system call), keeping errno as it found it: both are
 * async-signal-safe.  The reporter, one of kmem's own threads (no signal
 * meant for the program reaches it), sleeps on that word and prints when
 * it changes; requests that arrive while it prints make one more report,
 * not one each.
 *
 * The handler is installed with SA_RESTART, so that the system calls it
 * interrupts resume rather than fail with EINTR where the kernel allows.
 * A signal the program already handles is left alone.  A child of
 * fork(2) inherits the handler but not the reporter: the signal is
 * counted and nothing is printed; exec(2) restores the default action.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kmem_platform.h"
#include "posix_impl.h"

/* Requests counted by the handler; the reporter waits on the word. */
static uint32_t posix_report_requests;
static uint32_t posix_report_done;	/* requests the reporter has served */
static bool posix_reporter_running;

#define POSIX_EXIT_WAIT_NS	2000000000ULL	/* for signals already taken */

/*
 * At exit: the reports of signals already taken are printed first (for
 * two seconds at most: the reporter may be stuck on a full pipe), then
 * atexit='s, under the report lock, which also waits for one in print.
 */
static void
posix_report_at_exit(void)
{
	uint64_t deadline = kmem_plat_now_ns() + POSIX_EXIT_WAIT_NS;

	while (__atomic_load_n(&posix_reporter_running, __ATOMIC_ACQUIRE) &&
	    __atomic_load_n(&posix_report_done, __ATOMIC_ACQUIRE) !=
	    __atomic_load_n(&posix_report_requests, __ATOMIC_ACQUIRE) &&
	    kmem_plat_now_ns() < deadline)
		(void)usleep(1000);
	kmi_report_exit();
}

/* A fork's child has no reporter: nothing to wait for at its exit. */
static void
posix_report_fork_child(void)
{
	__atomic_store_n(&posix_reporter_running, false, __ATOMIC_RELAXED);
}

bool
kmem_plat_at_exit(void)
{
	return (atexit(posix_report_at_exit) == 0);
}

/*
 * Signals never caught, those whose handler must not just return, and
 * kmem's own (the leak scan's).
 */
static const int posix_report_refused[] = {
	SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS,
	SIGABRT, KMEM_POSIX_LEAK_SIGNAL,
};

static int
posix_signal_by_name(const char *name)
{
	/* The C library's names, and the other names of the same signals. */
	static const struct {
		const char	*sa_name;
		int		sa_signo;
	} alias[] = { { "IO", SIGIO }, { "CLD", SIGCHLD }, { "IOT", SIGABRT } };

	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *abbrev = sigabbrev_np(i);
		if (abbrev != NULL && strcasecmp(abbrev, name) == 0)
			return (i);
	}
	for (size_t i = 0; i < sizeof (alias) / sizeof (alias[0]); i++)
		if (strcasecmp(alias[i].sa_name, name) == 0)
			return (alias[i].sa_signo);
	return (0);
}

int
kmem_plat_signal_number(const char *name)
{
	struct sigaction now;
	int signo = 0;

	if (name[0] >= '0' && name[0] <= '9') {
		char *end;
		long n = strtol(name, &end, 10);
		signo = *end == '\0' && n > 0 && n < NSIG ? (int)n : 0;
	} else {
		signo = posix_signal_by_name(name);
	}
	if (signo == 0)
		return (0);
	for (size_t i = 0; i < sizeof (posix_report_refused) /
	    sizeof (posix_report_refused[0]); i++)
		if (signo == posix_report_refused[i])
			return (-1);
	/* The C library keeps some real-time signals for itself. */
	return (sigaction(signo, NULL, &now) == 0 ? signo : -1);
}

static void
posix_report_handler(int signo)
{
	int saved = errno;

	(void)signo;
	(void)__atomic_add_fetch(&posix_report_requests, 1, __ATOMIC_RELEASE);
	kmem_plat_wake(&posix_report_requests, false);
	errno = saved;
}

static void *
posix_reporter_main(void *arg)
{
	uint32_t seen = 0, now;

	(void)arg;
	for (;;) {
		while ((now = __atomic_load_n(&posix_report_requests,
		    __ATOMIC_ACQUIRE)) == seen)
			kmem_plat_wait(&posix_report_requests, seen);
		seen = now;
		kmi_report_signalled();
		__atomic_store_n(&posix_report_done, now, __ATOMIC_RELEASE);
	}
	return (NULL);
}

int
kmem_plat_report_signal(int signo)
{
	struct sigaction sa, old;

	if (sigaction(signo, NULL, &old) != 0)
		return (-1);
	if ((old.sa_flags & SA_SIGINFO) || (old.sa_handler != SIG_DFL &&
	    old.sa_handler != SIG_IGN))
		return (1);
	if (kmem_plat_posix_thread(posix_reporter_main, NULL) != 0)
		return (-1);
	__atomic_store_n(&posix_reporter_running, true, __ATOMIC_RELEASE);
	(void)pthread_atfork(NULL, NULL, posix_report_fork_child);
	memset(&sa, 0, sizeof (sa));
	sa.sa_handler = posix_report_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	return (sigaction(signo, &sa, NULL) == 0 ? 0 : -1);
}
