/*
 * kmem_report_helper: a program whose reports kmem prints on demand
 * (KMEM_OPTIONS atexit= and report_signal=, from the caller), for
 * tests/test_report.c.  Its own lines go to standard output, unbuffered;
 * kmem's reports to standard error.  An alarm turns a hang into a failure.
 *
 *   exit            five buffers of cache "t_exit" held; prints
 *                   "t_exit buf_inuse N alloc N buf_total N", then
 *                   "main returns"
 *   exit-leaks      the same, and before returning leaks a buffer of
 *                   "t_leak" and prints "findleaks:" and what
 *                   kmem_findleaks() says now
 *                   (the program's exit handler, registered after kmem
 *                   started, prints "program's exit handler")
 *   end HOW         kmem used, then HOW: _exit(2), abort(3), or SIGTERM
 *                   with its default action
 *   fork-exit       a child allocates three buffers of "t_child" and
 *                   calls exit(3); the parent waits for it and returns
 *   signal PATH N MARKER [MODE [SIGNO]]
 *                   standard error goes to PATH; works while it asks for
 *                   N reports with kill(2), one at a time, each finished
 *                   when PATH holds one more MARKER; first it checks that
 *                   a read(2) the signal interrupts goes on (SA_RESTART);
 *                   prints "reports N rounds R sum S" and "results ok" if
 *                   its work came out right ("ignore": the signal is
 *                   ignored before kmem starts; "noise": another thread
 *                   writes lines "noise" to standard error meanwhile);
 *                   the signal is SIGUSR1, or SIGNO
 *   storm PATH      standard error goes to PATH; 300 caches; a hundred
 *                   SIGUSR1 without waiting, then returns as soon as a
 *                   report has begun
 *   taken           the program's own handler for SIGUSR1 is installed
 *                   before kmem starts; prints "own handler ran N"
 *   taken-later     the same, installed after kmem started
 *   fork-signal     a child sends itself SIGUSR1 and waits; the parent
 *                   prints "child exited N" or "child killed by N"
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kmem/kmem.h>

#define FAIL(...)	do { printf(__VA_ARGS__); putchar('\n'); \
			    exit(1); } while (0)

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
print_line(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

/* Not static: the compiler must keep every store. */
void *exit_bufs[5];
uintptr_t leaked_masked;
void leak_one(void);
void clear_stack(void);

/* One buffer no one points to: only its address xor a mask is kept. */
__attribute__((noinline)) void
leak_one(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_leak", 40, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);

	leaked_masked = (uintptr_t)kmem_cache_alloc(cp, KM_SLEEP) ^
	    (uintptr_t)0x5a5a5a5a5a5a5a5aULL;
}

/* No stale copy of it below the callers' frames. */
__attribute__((noinline)) void
clear_stack(void)
{
	volatile char pad[16384];

	memset((char *)pad, 0, sizeof (pad));
}

/* The program's own exit handler, registered after kmem started. */
static void
program_exit_handler(void)
{
	printf("program's exit handler\n");
}

/* Kept buffers (one leaked), then what the reports at exit must show. */
static void
at_exit_scenario(bool leaks)
{
	kmem_cache_t *cp = kmem_cache_create("t_exit", 96, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);

	atexit(program_exit_handler);

	for (int i = 0; i < 5; i++)
		exit_bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	printf("t_exit buf_inuse %llu alloc %llu buf_total %llu\n",
	    (unsigned long long)kmem_cache_stat(cp, "buf_inuse"),
	    (unsigned long long)kmem_cache_stat(cp, "alloc"),
	    (unsigned long long)kmem_cache_stat(cp, "buf_total"));
	if (leaks) {
		leak_one();
		clear_stack();
		printf("findleaks:\n");
		(void)kmem_findleaks(print_line, NULL);
	}
	printf("main returns\n");
}

/* A child's exit reports the child's memory. */
static void
fork_exit_scenario(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_child", 96, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	int status;

	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 3; i++)
			exit_bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
		printf("child exits\n");
		exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("fork-exit: the child failed (status 0x%x)", status);
	printf("parent returns\n");
}

/* How many times marker occurs in the file on fd. */
static int
markers(int fd, const char *marker)
{
	static char buf[1 << 20];
	ssize_t n = pread(fd, buf, sizeof (buf) - 1, 0);
	int count = 0;

	buf[n > 0 ? n : 0] = '\0';
	for (char *p = buf; (p = strstr(p, marker)) != NULL; p++)
		count++;
	return (count);
}

/* One round of the program's work: buffers filled and checked. */
static uint64_t
work_round(uint64_t round)
{
	enum { N = 32 };
	uint64_t *bufs[N], sum = 0;

	for (int i = 0; i < N; i++) {
		size_t size = 8 * (size_t)(1 + (round + (uint64_t)i) % 64);
		bufs[i] = kmem_alloc(size, KM_SLEEP);
		for (size_t w = 0; w < size / 8; w++)
			bufs[i][w] = round * 31 + (uint64_t)i * 7 + w;
	}
	for (int i = 0; i < N; i++) {
		size_t size = 8 * (size_t)(1 + (round + (uint64_t)i) % 64);
		for (size_t w = 0; w < size / 8; w++)
			sum += bufs[i][w];
		kmem_free(bufs[i], size);
	}
	return (sum);
}

/* What work_round() computes, without kmem. */
static uint64_t
expected_round(uint64_t round)
{
	uint64_t sum = 0;

	for (int i = 0; i < 32; i++) {
		size_t words = (size_t)(1 + (round + (uint64_t)i) % 64);
		for (size_t w = 0; w < words; w++)
			sum += round * 31 + (uint64_t)i * 7 + w;
	}
	return (sum);
}

static pthread_t main_thread;
static int restart_pipe[2];
static int report_signo = SIGUSR1;

/* Signal the main thread inside its read(2), then give it its byte. */
static void *
interrupter(void *arg)
{
	(void)arg;
	sleep_ms(50);
	pthread_kill(main_thread, report_signo);
	sleep_ms(50);
	if (write(restart_pipe[1], "x", 1) != 1)
		FAIL("write to the pipe failed");
	return (NULL);
}

/* A read(2) the report signal interrupts is restarted, not failed. */
static void
check_restart(int fd, const char *marker)
{
	pthread_t tid;
	char c;

	main_thread = pthread_self();
	if (pipe(restart_pipe) != 0 ||
	    pthread_create(&tid, NULL, interrupter, NULL) != 0)
		FAIL("no pipe or thread");
	ssize_t n = read(restart_pipe[0], &c, 1);
	if (n != 1)
		FAIL("read returned %zd (%s) under the report signal", n,
		    strerror(errno));
	pthread_join(tid, NULL);
	while (markers(fd, marker) < 1)
		sleep_ms(1);
}

static int noise_stop;

/* Other output on the same stream, a line a write. */
static void *
noise(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&noise_stop, __ATOMIC_RELAXED)) {
		if (write(2, "noise\n", 6) != 6)
			break;
		sleep_ms(1);
	}
	return (NULL);
}

static void
signal_scenario(const char *path, int nreports, const char *marker,
    const char *mode)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	uint64_t round = 0, sum = 0, expected = 0;
	pthread_t noise_thread;

	if (fd < 0 || dup2(fd, 2) < 0)
		FAIL("cannot write %s", path);
	if (strcmp(mode, "ignore") == 0)
		signal(report_signo, SIG_IGN);
	if (kmem_init(NULL) != 0)
		FAIL("kmem_init failed");
	if (strcmp(mode, "noise") == 0 &&
	    pthread_create(&noise_thread, NULL, noise, NULL) != 0)
		FAIL("no noise thread");
	check_restart(fd, marker);
	for (int r = 2; r <= nreports + 1; r++) {
		kill(getpid(), report_signo);
		do {
			sum += work_round(round);
			expected += expected_round(round);
			round++;
		} while (markers(fd, marker) < r);
	}
	if (strcmp(mode, "noise") == 0) {
		__atomic_store_n(&noise_stop, 1, __ATOMIC_RELAXED);
		pthread_join(noise_thread, NULL);
	}
	printf("reports %d rounds %llu sum %llu\n", markers(fd, marker),
	    (unsigned long long)round, (unsigned long long)sum);
	if (sum == expected)
		printf("results ok\n");
}

static volatile sig_atomic_t own_handler_runs;

static void
own_handler(int sig)
{
	(void)sig;
	own_handler_runs++;
}

/* The program handles the signal, from before kmem starts or after. */
static void
taken_scenario(bool later)
{
	if (!later)
		signal(SIGUSR1, own_handler);
	if (kmem_init(NULL) != 0)
		FAIL("kmem_init failed");
	if (later)
		signal(SIGUSR1, own_handler);
	kill(getpid(), SIGUSR1);
	sleep_ms(100);
	printf("own handler ran %d\n", (int)own_handler_runs);
}

/* Requests while reports print, then exit's reports: one set at a time. */
static void
storm_scenario(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || dup2(fd, 2) < 0)
		FAIL("cannot write %s", path);
	/* Long reports, so that exit's begins while a signal's prints. */
	for (int i = 0; i < 300; i++) {
		char name[32];
		snprintf(name, sizeof (name), "t_storm_%d", i);
		(void)kmem_cache_create(name, 64, 0, NULL, NULL, NULL, NULL,
		    NULL, 0);
	}
	for (int i = 0; i < 100; i++)
		kill(getpid(), SIGUSR1);
	while (markers(fd, "{\n") < 1)
		;
	printf("storm returns\n");
}

/* A signal, then straight out of main: its report still prints whole. */
static void
raise_exit_scenario(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || dup2(fd, 2) < 0)
		FAIL("cannot write %s", path);
	kmem_free(kmem_alloc(100, KM_SLEEP), 100);
	kill(getpid(), SIGUSR1);
	printf("raise-exit returns\n");
}

/* Ends that run no exit handler. */
static void
end_scenario(const char *how)
{
	kmem_free(kmem_alloc(100, KM_SLEEP), 100);
	printf("%s\n", how);
	if (strcmp(how, "_exit") == 0)
		_exit(0);
	if (strcmp(how, "abort") == 0)
		abort();
	raise(SIGTERM);
	FAIL("still running after SIGTERM");
}

/* A child keeps the handler (the signal does not kill it), no reporter. */
static void
fork_signal_scenario(void)
{
	int status;

	if (kmem_init(NULL) != 0)
		FAIL("kmem_init failed");
	pid_t pid = fork();
	if (pid == 0) {
		kill(getpid(), SIGUSR1);
		sleep_ms(200);
		_exit(7);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		FAIL("fork-signal: no child");
	if (WIFEXITED(status))
		printf("child exited %d\n", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		printf("child killed by %d\n", WTERMSIG(status));
}

int
main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IONBF, 0);
	alarm(60);
	if (strncmp(what, "exit", 4) == 0) {
		at_exit_scenario(strcmp(what, "exit-leaks") == 0);
	} else if (strcmp(what, "end") == 0 && argc >= 3) {
		end_scenario(argv[2]);
	} else if (strcmp(what, "fork-exit") == 0) {
		fork_exit_scenario();
	} else if (strcmp(what, "signal") == 0 && argc >= 5) {
		if (argc > 6)
			report_signo = atoi(argv[6]);
		signal_scenario(argv[2], atoi(argv[3]), argv[4],
		    argc > 5 ? argv[5] : "");
	} else if (strcmp(what, "storm") == 0 && argc >= 3) {
		storm_scenario(argv[2]);
	} else if (strcmp(what, "raise-exit") == 0 && argc >= 3) {
		raise_exit_scenario(argv[2]);
	} else if (strncmp(what, "taken", 5) == 0) {
		taken_scenario(strcmp(what, "taken-later") == 0);
	} else if (strcmp(what, "fork-signal") == 0) {
		fork_signal_scenario();
	} else {
		FAIL("usage: kmem_report_helper exit|exit-leaks|end HOW|"
		    "fork-exit|signal PATH N MARKER [MODE [SIGNO]]|storm PATH|"
		    "raise-exit PATH|"
		    "taken|taken-later|fork-signal");
	}
	return (0);
}
