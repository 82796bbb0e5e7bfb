/*
 * The platform's stack walk (kmem_plat_stack(), platform/posix/
 * posix_stack.c): it never faults, whatever the frame-pointer register
 * holds (each such walk runs in a forked child, so a fault fails the test
 * instead of the suite); it follows threads' stacks, a signal handler on
 * an alternate stack and the code it interrupted; and with the unwinder
 * (KMEM_DEBUG=unwind) it follows code built without frame pointers.  The
 * *_site functions are global so that dladdr(3) names them.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kmem_platform.h"
#include "harness.h"

/*
 * libunwind checks an address it is unsure of by writing it to a pipe,
 * which memcheck reports as a bad system call argument: the unwinder's
 * tests run everywhere but under valgrind.
 */
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND()	(RUNNING_ON_VALGRIND != 0)
#else
#define UNDER_VALGRIND()	false
#endif

#define DEPTH	16

typedef struct walk {
	int		w_depth;
	uintptr_t	w_pcs[DEPTH];
} walk_t;

static walk_t probe_walk;

/* The walk from here: its first return address is into our caller. */
static __attribute__((noinline)) void
probe(void)
{
	probe_walk.w_depth = kmem_plat_stack(probe_walk.w_pcs, DEPTH);
	__asm__ volatile("" ::: "memory");	/* not a tail call */
}

/* Does one of the walk's return addresses lie in function name? */
static bool
walk_shows(const walk_t *w, const char *name)
{
	char sym[256], pat[96];

	snprintf(pat, sizeof (pat), "%s+0x", name);
	for (int i = 0; i < w->w_depth; i++) {
		kmem_plat_symbol(w->w_pcs[i], sym, sizeof (sym));
		if (strncmp(sym, pat, strlen(pat)) == 0)
			return (true);
	}
	return (false);
}

static void
print_walk(const char *what, const walk_t *w)
{
	char sym[256];

	printf("    %s: %d frames\n", what, w->w_depth);
	for (int i = 0; i < w->w_depth; i++) {
		kmem_plat_symbol(w->w_pcs[i], sym, sizeof (sym));
		printf("      %s\n", sym);
	}
}

#if defined(__x86_64__)
/*
 * Call fn with the frame-pointer register holding rbp, as code built
 * without frame pointers may call malloc: fn's frame record then links to
 * rbp.  Below the red zone, on an aligned stack.
 */
static __attribute__((noinline)) void
call_with_rbp(void (*fn)(void), uintptr_t rbp)
{
	__asm__ volatile(
	    "mov %%rsp, %%r12\n\t"
	    "sub $128, %%rsp\n\t"
	    "and $-16, %%rsp\n\t"
	    "push %%rbp\n\t"
	    "push %%rbp\n\t"
	    "mov %[v], %%rbp\n\t"
	    "call *%[fn]\n\t"
	    "pop %%rbp\n\t"
	    "pop %%rbp\n\t"
	    "mov %%r12, %%rsp\n\t"
	    :
	    : [v] "r" (rbp), [fn] "r" (fn)
	    : "r12", "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10",
	      "r11", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
	      "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
	      "xmm14", "xmm15", "memory", "cc");
}

/*
 * Garbage frame pointers.  Each walk records the return into probe() and
 * the one into call_with_rbp(), then must stop at the garbage, or follow
 * the fake records given and stop at their loop.
 */
enum { BAD_FFF0, BAD_FFF8, BAD_ZERO, BAD_UNALIGNED, BAD_BELOW_WALK,
	BAD_BELOW_STACK, BAD_STRADDLE_TOP, BAD_HEAP, BAD_SELF_LOOP,
	BAD_TWO_LOOP };
static const struct {
	const char	*bc_name;
	int		bc_depth;
} bad_cases[] = {
	[BAD_FFF0] = { "0xfffffffffffffff0", 2 },
	[BAD_FFF8] = { "0xfffffffffffffff8", 2 },
	[BAD_ZERO] = { "0", 2 },
	[BAD_UNALIGNED] = { "unaligned, on the stack", 2 },
	[BAD_BELOW_WALK] = { "on the stack below the walk", 2 },
	[BAD_BELOW_STACK] = { "below the stack", 2 },
	[BAD_STRADDLE_TOP] = { "8 bytes below the top", 2 },
	[BAD_HEAP] = { "a record on the heap", 2 },
	[BAD_SELF_LOOP] = { "a record linking to itself", 3 },
	[BAD_TWO_LOOP] = { "two records linking to each other", 4 },
};
static int bad_case;

static void
walk_bad_fp(void)
{
	volatile uintptr_t recs[4];	/* above probe()'s frame */
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	uintptr_t *heap = malloc(2 * sizeof (uintptr_t));
	pthread_attr_t attr;
	void *lo = NULL;
	size_t size = 0;
	uintptr_t rbp = 0;

	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		(void)pthread_attr_getstack(&attr, &lo, &size);
		pthread_attr_destroy(&attr);
	}
	heap[0] = 0;
	heap[1] = 0x3333;
	recs[0] = (uintptr_t)&recs[2];
	recs[1] = 0x1111;
	recs[2] = bad_case == BAD_TWO_LOOP ? (uintptr_t)&recs[0] :
	    (uintptr_t)&recs[2];
	recs[3] = 0x2222;
	switch (bad_case) {
	case BAD_FFF0: rbp = (uintptr_t)-16; break;
	case BAD_FFF8: rbp = (uintptr_t)-8; break;
	case BAD_ZERO: rbp = 0; break;
	case BAD_UNALIGNED: rbp = (uintptr_t)&recs[0] + 3; break;
	case BAD_BELOW_WALK: rbp = here - 8192; break;
	case BAD_BELOW_STACK: rbp = (uintptr_t)lo - 64; break;
	case BAD_STRADDLE_TOP: rbp = (uintptr_t)lo + size - 8; break;
	case BAD_HEAP: rbp = (uintptr_t)heap; break;
	case BAD_SELF_LOOP: rbp = (uintptr_t)&recs[2]; break;
	case BAD_TWO_LOOP: rbp = (uintptr_t)&recs[0]; break;
	}
	call_with_rbp(probe, rbp);
	fprintf(stderr, "depth=%d", probe_walk.w_depth);
	for (int i = 2; i < probe_walk.w_depth; i++)
		fprintf(stderr, " %lx", (unsigned long)probe_walk.w_pcs[i]);
	free(heap);
}

/* The walk stops, without faulting, at every kind of garbage. */
static void
test_walk_bad_fp(void)
{
	static const char *const expect[] = {
		[BAD_SELF_LOOP] = "depth=3 2222",
		[BAD_TWO_LOOP] = "depth=4 1111 2222",
	};

	for (bad_case = 0; bad_case < (int)(sizeof (bad_cases) /
	    sizeof (bad_cases[0])); bad_case++) {
		int status;
		char *out = kt_run_child(walk_bad_fp, &status);
		char want[64];
		snprintf(want, sizeof (want), "depth=%d",
		    bad_cases[bad_case].bc_depth);
		const char *w = expect[bad_case] != NULL ? expect[bad_case] :
		    want;
		bool ok = out != NULL && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0 && strcmp(out, w) == 0;
		if (!KT_CHECK(ok))
			printf("    frame pointer %s: want \"%s\", got \"%s\" "
			    "(status 0x%x)\n", bad_cases[bad_case].bc_name, w,
			    out != NULL ? out : "?", status);
	}
}
#endif

/* ---- threads ---- */

void *thread_site(void *arg);
void *
thread_site(void *arg)
{
	probe();
	*(walk_t *)arg = probe_walk;
	return (NULL);
}

/* A thread's own stack, whether pthread_create or the caller made it. */
static void
test_walk_threads(void)
{
	size_t size = 2 * 1024 * 1024;
	void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_attr_t attr;
	walk_t w;

	for (int given = 0; given < 2; given++) {
		pthread_t tid;
		memset(&w, 0, sizeof (w));
		pthread_attr_init(&attr);
		if (given)
			pthread_attr_setstack(&attr, stack, size);
		KT_CHECK(pthread_create(&tid, &attr, thread_site, &w) == 0);
		pthread_join(tid, NULL);
		pthread_attr_destroy(&attr);
		if (!KT_CHECK(w.w_depth >= 2 && walk_shows(&w, "thread_site")))
			print_walk(given ? "given stack" : "thread", &w);
	}
	munmap(stack, size);
}

/* ---- signal handlers (TSan defers signals to a time of its own) ---- */

#if !defined(__SANITIZE_THREAD__)
static walk_t handler_walk;

static bool
walk_has_signal_frame(const walk_t *w)
{
	for (int i = 0; i < w->w_depth; i++)
		if (kmem_plat_signal_frame(w->w_pcs[i]))
			return (true);
	return (false);
}

static void
on_signal(int sig)
{
	(void)sig;
	handler_walk.w_depth = kmem_plat_stack(handler_walk.w_pcs, DEPTH);
}

/* Raise SIGUSR1 here, walking first from deeper than this frame. */
void signal_site(void);
__attribute__((noinline)) void
signal_site(void)
{
	probe();
#if defined(__x86_64__)
	/* tgkill straight from here: the handler interrupts this frame. */
	long ret;
	__asm__ volatile("syscall" : "=a" (ret) : "0" ((long)SYS_tgkill),
	    "D" ((long)getpid()), "S" ((long)gettid()), "d" ((long)SIGUSR1)
	    : "rcx", "r11", "memory");
	(void)ret;
#else
	(void)raise(SIGUSR1);
#endif
	__asm__ volatile("" ::: "memory");
}

void *signal_caller_site(void *arg);
void *
signal_caller_site(void *arg)
{
	signal_site();
	__asm__ volatile("" ::: "memory");
	return (arg);
}

/*
 * A handler running on an alternate stack: the walk names the
 * signal-return trampoline (nosignal's test) and, on x86_64, the
 * interrupted code's caller on the thread's stack.  The thread's stack and
 * the alternate one are the two ends of one mapping, in either order (4
 * MiB apart: valgrind takes a move of the stack pointer by less than 2 MiB
 * for a frame, not a switch), and signal_site() makes the thread's first
 * walk, from deeper than the frame the handler interrupts.
 */
#define HALF	(2 * 1024 * 1024)
#define SPAN	(8 * 1024 * 1024)

static void *
altstack_thread(void *alt)
{
	stack_t ss = { .ss_sp = alt, .ss_size = HALF };
	struct sigaction sa, old;

	memset(&sa, 0, sizeof (sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaltstack(&ss, NULL);
	sigaction(SIGUSR1, &sa, &old);
	memset(&handler_walk, 0, sizeof (handler_walk));
	signal_caller_site(NULL);
	sigaction(SIGUSR1, &old, NULL);
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	return (NULL);
}

static void
check_altstack(const char *what)
{
	/* A fresh mapping each time: valgrind marks a stack's memory that
	 * the stack pointer has left inaccessible. */
	for (int above = 0; above < 2; above++) {
		char *map = mmap(NULL, SPAN, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *top = map + SPAN - HALF;
		pthread_attr_t attr;
		pthread_t tid;
		pthread_attr_init(&attr);
		pthread_attr_setstack(&attr, above ? map : top, HALF);
		pthread_create(&tid, &attr, altstack_thread, above ? top : map);
		pthread_join(tid, NULL);
		pthread_attr_destroy(&attr);
		munmap(map, SPAN);
		walk_t *w = &handler_walk;
		bool ok = KT_CHECK(w->w_depth >= 2 && walk_has_signal_frame(w));
#if defined(__x86_64__)
		ok &= KT_CHECK(walk_shows(w, "signal_caller_site"));
#endif
		if (!ok) {
			printf("    %s %s the thread's stack:\n", what,
			    above ? "above" : "below");
			print_walk("walk", w);
		}
	}
}

static void
test_walk_altstack(void)
{
	check_altstack("frame pointers, alternate stack");
}
#endif

/* ---- the unwinder ---- */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* Built without frame pointers, using %rbp for anything around a call. */
void nofp_site(void);
__attribute__((noinline, optimize("omit-frame-pointer"))) void
nofp_site(void)
{
	__asm__ volatile("mov $-16, %%rbp" ::: "rbp");
	probe();
	__asm__ volatile("" ::: "memory");
}

void nofp_caller_site(void);
__attribute__((noinline)) void
nofp_caller_site(void)
{
	nofp_site();
	__asm__ volatile("" ::: "memory");
}

/* Both walks from nofp_caller_site(), written as "depth pc ...;". */
static void
nofp_walks(void)
{
	for (int uw = 0; uw < 2; uw++) {
		if (uw && !kmem_plat_stack_unwinder(true))
			break;
		nofp_caller_site();
		fprintf(stderr, "%d", probe_walk.w_depth);
		for (int i = 0; i < probe_walk.w_depth; i++)
			fprintf(stderr, " %lx",
			    (unsigned long)probe_walk.w_pcs[i]);
		fprintf(stderr, ";");
	}
}

/* The walks a child wrote (the same addresses as ours, after fork). */
static int
parse_walks(const char *out, walk_t *w, int n)
{
	int got = 0;

	while (out != NULL && got < n && *out != '\0') {
		char *end;
		w[got].w_depth = (int)strtol(out, &end, 10);
		for (int i = 0; i < w[got].w_depth && i < DEPTH; i++)
			w[got].w_pcs[i] = strtoul(end, &end, 16);
		if (*end != ';' || end == out)
			break;
		out = end + 1;
		got++;
	}
	return (got);
}

/*
 * Frame pointers stop at nofp_site() (its callee's record links to
 * garbage); the unwinder reads its unwind table and goes on to its
 * caller, giving the same return addresses up to there.  In a child: a
 * walk that faults fails the test, not the suite.
 */
static void
test_unwind_nofp(void)
{
	walk_t w[2];
	int status;

	if (UNDER_VALGRIND())
		return;
	char *out = kt_run_child(nofp_walks, &status);
	KT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (!KT_EQ_U(parse_walks(out, w, 2), 2))
		return;
	walk_t *fp = &w[0], *uw = &w[1];
	KT_EQ_U(fp->w_depth, 2);
	KT_CHECK(walk_shows(fp, "nofp_site"));
	KT_CHECK(!walk_shows(fp, "nofp_caller_site"));
	KT_CMP_U(uw->w_depth, >, 2);
	KT_EQ_U(uw->w_pcs[0], fp->w_pcs[0]);
	KT_EQ_U(uw->w_pcs[1], fp->w_pcs[1]);
	if (!KT_CHECK(walk_shows(uw, "nofp_caller_site")))
		print_walk("unwinder", uw);
}
#endif

#if !defined(__SANITIZE_THREAD__)
/* The unwinder also names the trampoline and the interrupted code. */
static void
test_unwind_altstack(void)
{
	if (UNDER_VALGRIND())
		return;
	if (!KT_CHECK(kmem_plat_stack_unwinder(true)))
		return;
	check_altstack("unwinder, alternate stack");
	kmem_plat_stack_unwinder(false);
}
#endif

KT_SUITE(stack_suite,
#if defined(__x86_64__)
	{ "stack:walk:bad-frame-pointers", test_walk_bad_fp },
#endif
	{ "stack:walk:threads", test_walk_threads },
#if !defined(__SANITIZE_THREAD__)
	{ "stack:walk:altstack", test_walk_altstack },
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
	{ "stack:unwind:no-frame-pointers", test_unwind_nofp },
#endif
#if !defined(__SANITIZE_THREAD__)
	{ "stack:unwind:altstack", test_unwind_altstack },
#endif
);
