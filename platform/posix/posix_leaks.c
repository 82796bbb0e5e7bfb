/*
 * The hosted platform's side of kmem_findleaks(9): stopping the other
 * threads, and the memory that may hold a program's pointers
 * (kmem_plat_world_stop(), kmem_plat_roots(), kmem_plat_world_resume() in
 * kmem_platform.h).
 *
 * Stopping.  Every other thread of the process (the entries of
 * /proc/self/task, read with getdents64: opendir(3) allocates) gets
 * LEAK_SIGNAL (rt_tgsigqueueinfo(2), with a value that marks it as
 * kmem's).  Its handler notes where its stack is,
 * says so, and waits on a futex until the world runs again.  The kernel
 * saved the thread's registers on that stack, above the handler's frame,
 * so scanning the stack from the handler's frame up reads them too.  A
 * thread that does not answer within STOP_TIMEOUT_NS (it blocks the
 * signal) is counted and left running; its stack mapping is reported
 * whole.  One that exits meanwhile (tgkill(2) with signal 0 finds it
 * gone) is not waited for.  The list is read until a pass finds no thread it had not
 * signalled, so a thread created meanwhile is stopped too.
 *
 * The handler is installed on first use and stays: a signal that comes
 * late (a thread that unblocks it after the timeout) finds the world
 * running and returns.  One without kmem's value goes to the handler
 * that was there before, so a program that uses the signal
 * keeps it.
 *
 * Roots.  Every readable, writable mapping of /proc/self/maps (read with
 * read(2) into pages of our own), except device mappings (a /dev file
 * other than /dev/zero and /dev/shm); a mapping that
 * holds a stopped thread's stack (or the caller's) is reported from that
 * thread's stack pointer up.  Under a sanitizer its shadow memory (any
 * mapping of 64 GiB or more) is skipped, and of other large mappings only
 * the resident pages are read.
 *
 * Nothing here allocates, and nothing calls into the C library beyond
 * system calls: a stopped thread may hold the C library's locks.
 */
#define _GNU_SOURCE
#include <kmem_platform.h>
#include "posix_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

#define LEAK_SIGNAL		KMEM_POSIX_LEAK_SIGNAL
#define STOP_MAX		4096	/* threads stopped at once */
#define STOP_TIMEOUT_NS		1000000000ULL
#define STOP_POLL_NS		10000000ULL	/* look for exited threads */
#define MAPS_MAX		(64u << 20)	/* /proc/self/maps read at most */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED		1
#define SHADOW_MIN		((uintptr_t)64 << 30)
#else
#define SANITIZED		0
#define SHADOW_MIN		UINTPTR_MAX
#endif
#define RESIDENT_CHUNK		((size_t)32 << 20)	/* mincore(2) at a time */

/* stop_gen: odd while the world is stopped. */
static uint32_t stop_gen;
static uint32_t stop_acks;
static uint32_t stop_nsp;
static uintptr_t stop_sp[STOP_MAX];
static pid_t stop_tid[STOP_MAX];	/* signalled this time */
static pid_t stop_acked[STOP_MAX];	/* answered, by stop_sp's index */
static uint32_t stop_ntid;
/*
 * The program's handler, field by field: a struct sigaction filled by
 * sigaction(2) carries stack garbage in its mask's unused words, which a
 * scan would read as pointers.
 */
static void (*stop_old_action)(int, siginfo_t *, void *);
static void (*stop_old_handler)(int);

static long
futex(uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	return (syscall(SYS_futex, addr, op, val, ts, NULL, 0));
}

static void
stop_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	uint32_t gen = __atomic_load_n(&stop_gen, __ATOMIC_ACQUIRE);

	if (si->si_code != SI_QUEUE || si->si_pid != getpid() ||
	    si->si_value.sival_ptr != (void *)&stop_gen) {
		/* Not ours: the program's own handler has it. */
		if (stop_old_action != NULL)
			stop_old_action(sig, si, uc);
		else if (stop_old_handler != SIG_IGN &&
		    stop_old_handler != SIG_DFL)
			stop_old_handler(sig);
		errno = saved;
		return;
	}
	if (gen % 2 == 1) {
		uint32_t i = __atomic_fetch_add(&stop_nsp, 1, __ATOMIC_RELAXED);
		if (i < STOP_MAX) {
			stop_sp[i] = (uintptr_t)&saved;
			__atomic_store_n(&stop_acked[i],
			    (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
		}
		__atomic_fetch_add(&stop_acks, 1, __ATOMIC_RELEASE);
		(void) futex(&stop_acks, FUTEX_WAKE_PRIVATE, 1, NULL);
		while (__atomic_load_n(&stop_gen, __ATOMIC_ACQUIRE) == gen)
			(void) futex(&stop_gen, FUTEX_WAIT_PRIVATE, gen, NULL);
	}
	errno = saved;
}

static bool
stop_install(void)
{
	struct sigaction sa, old;

	if (sigaction(LEAK_SIGNAL, NULL, &old) != 0)
		return (false);
	if ((old.sa_flags & SA_SIGINFO) && old.sa_sigaction == stop_handler)
		return (true);
	stop_old_action = (old.sa_flags & SA_SIGINFO) ? old.sa_sigaction :
	    NULL;
	stop_old_handler = (old.sa_flags & SA_SIGINFO) ? SIG_DFL :
	    old.sa_handler;
	memset(&old, 0, sizeof (old));
	memset(&sa, 0, sizeof (sa));
	sa.sa_sigaction = stop_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	(void) sigfillset(&sa.sa_mask);
	return (sigaction(LEAK_SIGNAL, &sa, NULL) == 0);
}

/* tgkill(2) with a value, so that the handler knows the signal is ours. */
static bool
stop_send(pid_t tid)
{
	siginfo_t si;

	memset(&si, 0, sizeof (si));
	si.si_signo = LEAK_SIGNAL;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_ptr = &stop_gen;
	return (syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, LEAK_SIGNAL,
	    &si) == 0);
}

static bool
stop_signalled(pid_t tid)
{
	for (uint32_t i = 0; i < stop_ntid; i++)
		if (stop_tid[i] == tid)
			return (true);
	return (false);
}

/* Signal every thread not signalled yet; returns how many were. */
static uint32_t
stop_signal_new(pid_t self)
{
	char buf[4096];
	uint32_t sent = 0;
	int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return (0);
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof (buf));
		if (n <= 0)
			break;
		for (long off = 0; off < n; ) {
			const char *name = buf + off + 19;
			unsigned short reclen;
			memcpy(&reclen, buf + off + 16, sizeof (reclen));
			off += reclen;
			pid_t tid = 0;
			for (const char *p = name; *p >= '0' && *p <= '9'; p++)
				tid = tid * 10 + (*p - '0');
			if (tid <= 0 || tid == self || stop_signalled(tid) ||
			    stop_ntid == STOP_MAX || !stop_send(tid))
				continue;
			stop_tid[stop_ntid++] = tid;
			sent++;
		}
	}
	(void) close(fd);
	return (sent);
}

/* Signalled threads that have neither answered nor exited. */
static uint32_t
stop_missing(void)
{
	uint32_t n = __atomic_load_n(&stop_nsp, __ATOMIC_ACQUIRE);
	uint32_t missing = 0;

	for (uint32_t t = 0; t < stop_ntid; t++) {
		bool acked = false;
		for (uint32_t i = 0; i < n && i < STOP_MAX && !acked; i++)
			acked = __atomic_load_n(&stop_acked[i],
			    __ATOMIC_ACQUIRE) == stop_tid[t];
		if (!acked && syscall(SYS_tgkill, getpid(), stop_tid[t], 0) == 0)
			missing++;
	}
	return (missing);
}

/*
 * Wait until every signalled thread answered or exited (a thread on its
 * way out never answers), or the time is up; look again every
 * STOP_POLL_NS.  Returns how many are missing.
 */
static uint32_t
stop_wait(uint64_t deadline)
{
	for (;;) {
		uint32_t acks = __atomic_load_n(&stop_acks, __ATOMIC_ACQUIRE);
		uint32_t missing = stop_missing();
		uint64_t now = kmem_plat_now_ns();
		if (missing == 0 || now >= deadline)
			return (missing);
		uint64_t wait = deadline - now < STOP_POLL_NS ?
		    deadline - now : STOP_POLL_NS;
		struct timespec ts = { 0, (long)wait };
		(void) futex(&stop_acks, FUTEX_WAIT_PRIVATE, acks, &ts);
	}
}

unsigned
kmem_plat_world_stop(void)
{
	pid_t self = (pid_t)syscall(SYS_gettid);
	uint32_t missing = 0;

	stop_ntid = 0;
	__atomic_store_n(&stop_acks, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&stop_nsp, 0, __ATOMIC_RELAXED);
	memset(stop_acked, 0, sizeof (stop_acked));
	__atomic_fetch_add(&stop_gen, 1, __ATOMIC_RELEASE);	/* odd */
	if (!stop_install())
		return (0);
	uint64_t deadline = kmem_plat_now_ns() + STOP_TIMEOUT_NS;
	for (int pass = 0; pass < 16; pass++) {
		uint32_t more = stop_signal_new(self);
		missing = stop_wait(deadline);
		if (more == 0)
			break;
	}
	return (missing);
}

void
kmem_plat_world_resume(void)
{
	if (__atomic_load_n(&stop_gen, __ATOMIC_RELAXED) % 2 == 0)
		return;
	__atomic_fetch_add(&stop_gen, 1, __ATOMIC_RELEASE);	/* even */
	(void) futex(&stop_gen, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
}

/* ---- roots ---- */

/* /proc/self/maps, whole, into pages of our own; NULL if it won't fit. */
static char *
maps_read(size_t *lenp, size_t *mappedp)
{
	for (size_t size = 1u << 16; size <= MAPS_MAX; size *= 4) {
		char *buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED)
			return (NULL);
		int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
		size_t len = 0;
		ssize_t n = 0;
		while (fd >= 0 && len < size &&
		    (n = read(fd, buf + len, size - len)) > 0)
			len += (size_t)n;
		if (fd >= 0)
			(void) close(fd);
		if (fd >= 0 && n == 0 && len < size) {
			*lenp = len;
			*mappedp = size;
			return (buf);
		}
		(void) munmap(buf, size);
		if (fd < 0)
			return (NULL);
	}
	return (NULL);
}

static uintptr_t
parse_hex(const char **pp)
{
	uintptr_t v = 0;
	const char *p = *pp;

	for (;; p++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' :
		    *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
		if (d < 0)
			break;
		v = v * 16 + (uintptr_t)d;
	}
	*pp = p;
	return (v);
}

static bool
maps_has_prefix(const char *path, const char *eol, const char *prefix)
{
	size_t n = strlen(prefix);

	return ((size_t)(eol - path) >= n && memcmp(path, prefix, n) == 0);
}

/*
 * A device's memory (reading it may have effects, or fault): a mapping
 * of a /dev file, but not shared anonymous memory (/dev/zero) or POSIX
 * shared memory (/dev/shm), which hold a program's pointers like any.
 */
static bool
maps_is_device(const char *path, const char *eol)
{
	return (maps_has_prefix(path, eol, "/dev/") &&
	    !maps_has_prefix(path, eol, "/dev/zero") &&
	    !maps_has_prefix(path, eol, "/dev/shm/"));
}

/* The lowest recorded stack pointer in [start, end), or end. */
static uintptr_t
stack_pointer_in(uintptr_t start, uintptr_t end, uintptr_t self_sp)
{
	uintptr_t sp = end;
	uint32_t n = __atomic_load_n(&stop_nsp, __ATOMIC_ACQUIRE);

	if (self_sp >= start && self_sp < end)
		sp = self_sp;
	for (uint32_t i = 0; i < n && i < STOP_MAX; i++)
		if (stop_sp[i] >= start && stop_sp[i] < end && stop_sp[i] < sp)
			sp = stop_sp[i];
	return (sp);
}

/*
 * A sanitizer's runtime reserves gigabytes it never touches; reading them
 * would fault in zero pages by the million.  Under a sanitizer only the
 * resident pages of a large mapping are roots (mincore(2)); elsewhere every
 * page is, swapped out or not.
 */
static void
roots_resident(kmem_plat_root_fn *fn, void *arg, uintptr_t start,
    uintptr_t end)
{
	static unsigned char vec[RESIDENT_CHUNK / 4096];
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (!SANITIZED || end - start <= RESIDENT_CHUNK || page != 4096) {
		fn(arg, (const void *)start, end - start);
		return;
	}
	uintptr_t run = 0;		/* start of a resident run, or 0 */
	for (uintptr_t at = start & ~(uintptr_t)(page - 1); at < end;
	    at += RESIDENT_CHUNK) {
		size_t len = end - at < RESIDENT_CHUNK ? end - at :
		    RESIDENT_CHUNK;
		bool ok = mincore((void *)at, len, vec) == 0;
		for (size_t i = 0; i < (len + page - 1) / page; i++) {
			uintptr_t pg = at + i * page;
			bool in = !ok || (vec[i] & 1);
			if (in && run == 0)
				run = pg < start ? start : pg;
			else if (!in && run != 0) {
				fn(arg, (const void *)run, pg - run);
				run = 0;
			}
		}
	}
	if (run != 0)
		fn(arg, (const void *)run, end - run);
}

/* Below the caller's frame, where its registers were spilled. */
static __attribute__((noinline)) void
roots_from_maps(kmem_plat_root_fn *fn, void *arg)
{
	uintptr_t self_sp = (uintptr_t)__builtin_frame_address(0);
	size_t len, mapped;
	char *maps = maps_read(&len, &mapped);

	if (maps == NULL)
		return;
	for (const char *p = maps, *end = maps + len; p < end; ) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		const char *q = p;
		uintptr_t start = parse_hex(&q);
		q++;
		uintptr_t stop = parse_hex(&q);
		bool rw = q + 2 < eol && q[1] == 'r' && q[2] == 'w';
		const char *path = memchr(q, '/', (size_t)(eol - q));
		bool device = path != NULL && maps_is_device(path, eol);
		if (rw && !device && stop > start &&
		    stop - start < SHADOW_MIN) {
			uintptr_t sp = stack_pointer_in(start, stop, self_sp);
			uintptr_t from = sp < stop ? sp : start;
			roots_resident(fn, arg, from, stop);
		}
		p = eol + 1;
	}
	(void) munmap(maps, mapped);
}

void
kmem_plat_roots(kmem_plat_root_fn *fn, void *arg)
{
	/* The caller's registers, spilled into this frame. */
	__builtin_unwind_init();
	roots_from_maps(fn, arg);
}
