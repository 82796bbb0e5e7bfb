/*
 * The hosted (Linux user space) platform: the contract of
 * platform/kmem_platform.h on mmap, futexes, membarrier and POSIX threads.
 * Nothing here allocates through malloc, so kmem can be the process's
 * malloc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kmem_platform.h"
#include "posix_impl.h"
#include <kmem/kmem_posix.h>

_Thread_local void *kmem_plat_tls_self __attribute__((tls_model("initial-exec")));

static size_t posix_pagesize;
static pthread_key_t posix_exit_key;
static pthread_once_t posix_exit_once = PTHREAD_ONCE_INIT;

size_t
kmem_plat_pagesize(void)
{
	if (posix_pagesize == 0)
		posix_pagesize = (size_t)sysconf(_SC_PAGESIZE);
	return (posix_pagesize);
}

unsigned
kmem_plat_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return (n > 0 ? (unsigned)n : 1);
}

size_t
kmem_plat_physmem(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	return (pages > 0 ? (size_t)pages * kmem_plat_pagesize() : SIZE_MAX);
}

/*
 * Hosted code that must not block (a signal handler, a real-time loop)
 * brackets itself with kmem_posix_nosleep_enter()/exit(); a KM_SLEEP
 * allocation that would wait inside is reported instead of hanging.
 */
static _Thread_local unsigned posix_nosleep_depth;

void
kmem_posix_nosleep_enter(void)
{
	posix_nosleep_depth++;
}

void
kmem_posix_nosleep_exit(void)
{
	posix_nosleep_depth--;
}

bool
kmem_plat_may_sleep(void)
{
	return (posix_nosleep_depth == 0);
}

typedef struct posix_periodic {
	void		(*pp_fn)(void);
	uint64_t	pp_interval;
} posix_periodic_t;

static posix_periodic_t posix_periodic_arg;

static void *
posix_periodic_main(void *arg)
{
	posix_periodic_t *pp = arg;
	struct timespec ts = {
		.tv_sec = (time_t)(pp->pp_interval / 1000000000u),
		.tv_nsec = (long)(pp->pp_interval % 1000000000u),
	};
	for (;;) {
		while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
			;
		ts.tv_sec = (time_t)(pp->pp_interval / 1000000000u);
		ts.tv_nsec = (long)(pp->pp_interval % 1000000000u);
		pp->pp_fn();
	}
	return (NULL);
}

int
kmem_plat_posix_thread(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t mask, old;

	if (pthread_attr_init(&attr) != 0)
		return (-1);
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&mask);
	sigdelset(&mask, KMEM_POSIX_LEAK_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &mask, &old);
	int rc = pthread_create(&tid, &attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return (rc);
}

bool
kmem_plat_periodic(void (*fn)(void), uint64_t interval_ns)
{
	posix_periodic_arg.pp_fn = fn;
	posix_periodic_arg.pp_interval = interval_ns;
	return (kmem_plat_posix_thread(posix_periodic_main,
	    &posix_periodic_arg) == 0);
}

/* Hosted: kmem sets itself up on first use, from KMEM_OPTIONS. */
bool
kmem_plat_first_use(void)
{
	return (kmem_init(NULL) == 0);
}

void
kmem_plat_atfork(void (*prepare)(void), void (*parent)(void),
    void (*child)(void))
{
	(void)pthread_atfork(prepare, parent, child);
}

/* Fault injection (kmem_posix_fail_map()): requests made, and which fail. */
static unsigned long posix_map_calls;
static unsigned long posix_map_fail_at;	/* 0: none */
static int posix_map_fail_persist;

void
kmem_posix_fail_map(unsigned long nth, int persist)
{
	unsigned long now = __atomic_load_n(&posix_map_calls, __ATOMIC_RELAXED);

	__atomic_store_n(&posix_map_fail_persist, persist, __ATOMIC_RELAXED);
	__atomic_store_n(&posix_map_fail_at, nth == 0 ? 0 : now + nth,
	    __ATOMIC_RELAXED);
}

unsigned long
kmem_posix_map_count(void)
{
	return (__atomic_load_n(&posix_map_calls, __ATOMIC_RELAXED));
}

static bool
posix_map_injected(void)
{
	unsigned long n = __atomic_add_fetch(&posix_map_calls, 1,
	    __ATOMIC_RELAXED);
	unsigned long at = __atomic_load_n(&posix_map_fail_at,
	    __ATOMIC_RELAXED);

	return (at != 0 && (n == at || (n > at &&
	    __atomic_load_n(&posix_map_fail_persist, __ATOMIC_RELAXED))));
}

void *
kmem_plat_map(size_t size)
{
	if (posix_map_injected())
		return (NULL);
	void *va = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return (va == MAP_FAILED ? NULL : va);
}

bool
kmem_plat_wire(void *addr, size_t size, bool wire)
{
	return ((wire ? mlock(addr, size) : munlock(addr, size)) == 0);
}

void
kmem_plat_unmap(void *addr, size_t size)
{
	(void)munmap(addr, size);
}

void
kmem_plat_discard(void *addr, size_t size)
{
	(void)madvise(addr, size, MADV_DONTNEED);
}

/* Transparent huge pages where the system lets a program ask for them. */
void
kmem_plat_large_pages(void *addr, size_t size, bool on)
{
	(void)madvise(addr, size, on ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23	/* Linux 5.14; older kernels: EINVAL */
#endif

static bool posix_populate_unsupported;

bool
kmem_plat_populate(void *addr, size_t size)
{
	if (__atomic_load_n(&posix_populate_unsupported, __ATOMIC_RELAXED))
		return (false);
	int saved = errno;	/* a malloc() that succeeds leaves it */
	bool done = madvise(addr, size, MADV_POPULATE_WRITE) == 0;
	if (!done && errno == EINVAL)	/* a kernel without it: ask no more */
		__atomic_store_n(&posix_populate_unsupported, true,
		    __ATOMIC_RELAXED);
	errno = saved;
	return (done);
}

void
kmem_plat_wait(uint32_t *addr, uint32_t expected)
{
	(void)syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected, NULL,
	    NULL, 0);
}

void
kmem_plat_wake(uint32_t *addr, bool all)
{
	(void)syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, all ? INT32_MAX : 1,
	    NULL, NULL, 0);
}

void
kmem_plat_yield(void)
{
	(void)sched_yield();
}

/*
 * membarrier(2) with MEMBARRIER_CMD_PRIVATE_EXPEDITED interrupts every CPU
 * running a thread of this process, which is exactly the heavy barrier the
 * magazine handshake needs.  Where it is missing (old kernels, some
 * sandboxes), changing the protection of a page this process has touched
 * forces a TLB shootdown on the same CPUs, with the same effect.
 */
enum { MB_UNKNOWN, MB_EXPEDITED, MB_MPROTECT };
static int posix_barrier_kind = MB_UNKNOWN;
static char *posix_barrier_page;

void
kmem_plat_barrier_all(void)
{
	int kind = __atomic_load_n(&posix_barrier_kind, __ATOMIC_ACQUIRE);

	if (kind == MB_UNKNOWN) {
		kind = syscall(SYS_membarrier,
		    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0 ?
		    MB_EXPEDITED : MB_MPROTECT;
		if (kind == MB_MPROTECT && posix_barrier_page == NULL)
			posix_barrier_page = kmem_plat_map(kmem_plat_pagesize());
		__atomic_store_n(&posix_barrier_kind, kind, __ATOMIC_RELEASE);
	}
	if (kind == MB_EXPEDITED &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0)
		return;
	if (posix_barrier_page != NULL) {
		size_t page = kmem_plat_pagesize();
		__atomic_store_n(posix_barrier_page, 1, __ATOMIC_SEQ_CST);
		(void)mprotect(posix_barrier_page, page, PROT_READ);
		(void)mprotect(posix_barrier_page, page, PROT_READ | PROT_WRITE);
	}
	/* A locked read-modify-write: a full barrier on this CPU. */
	static uint32_t posix_fence_word;
	(void)__atomic_fetch_add(&posix_fence_word, 0, __ATOMIC_SEQ_CST);
}

uint64_t
kmem_plat_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

/* The kernel's tick-based clock: about 4 ns to read instead of 20. */
uint64_t
kmem_plat_stamp_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

void
kmem_plat_write(const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, text, len);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return;
		}
		text += n;
		len -= (size_t)n;
	}
}

_Noreturn void
kmem_plat_panic(const char *msg)
{
	size_t n = 0;
	while (msg[n] != '\0')
		n++;
	kmem_plat_write(msg, n);
	kmem_plat_write("\n", 1);
	abort();
}

/*
 * The options.  As the process's malloc, kmem may be set up before the C
 * library's getenv() can see the environment (the dynamic linker
 * allocates first); then it is read from /proc/self/environ, with system
 * calls only.
 */
static char posix_environ_buf[32768];

static const char *
posix_environ_scan(const char *name)
{
	size_t len = strlen(name), n = 0;
	int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return (NULL);
	while (n < sizeof (posix_environ_buf) - 1) {
		ssize_t r = read(fd, posix_environ_buf + n,
		    sizeof (posix_environ_buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	posix_environ_buf[n] = '\0';
	for (size_t i = 0; i < n; i += strlen(posix_environ_buf + i) + 1)
		if (strncmp(posix_environ_buf + i, name, len) == 0 &&
		    posix_environ_buf[i + len] == '=')
			return (posix_environ_buf + i + len + 1);
	return (NULL);
}

static const char *
posix_getenv(const char *name)
{
	const char *value = getenv(name);

	return (value != NULL ? value : posix_environ_scan(name));
}

const char *
kmem_plat_options(void)
{
	return (posix_getenv("KMEM_OPTIONS"));
}

const char *
kmem_plat_debug_options(void)
{
	return (posix_getenv("KMEM_DEBUG"));
}

const char *
kmem_plat_logging_options(void)
{
	return (posix_getenv("KMEM_LOGGING"));
}

static void
posix_thread_exit(void *self)
{
	kmem_plat_tls_self = NULL;
	kmem_thread_exit(self);
}

static void
posix_exit_key_create(void)
{
	(void)pthread_key_create(&posix_exit_key, posix_thread_exit);
}

void
kmem_plat_self_set(void *self)
{
	kmem_plat_tls_self = self;
	(void)pthread_once(&posix_exit_once, posix_exit_key_create);
	(void)pthread_setspecific(posix_exit_key, self);
}
