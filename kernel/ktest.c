/*
 * The test harness (tests/harness.h) in the kernel: the suites of
 * tests/test_*.c that need nothing hosted, compiled unchanged against
 * the kernel's small C library (libc/), run by this runner on the boot
 * CPU, with their threads spread over both CPUs.
 *
 * Hosted-only tests are listed below with the reason, by name prefix:
 * they run child processes (a panic or a corruption report must end a
 * process, not the kernel) or depend on per-thread records.  They are
 * skipped and counted, and the closing line is the harness's
 * "N passed, N failed", followed by the skipped count.  The harness's
 * child-process functions exist only to catch a test missing from the
 * list: they panic, naming it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernel.h"
#include "kernel_run.h"

extern const kt_suite_t vmem_suite, slab_suite, magazine_suite,
    kmem_alloc_suite, stats_suite, stress_suite, pressure_suite, debug_suite;

static const kt_suite_t *const ktest_suites[] = {
	&vmem_suite, &slab_suite, &magazine_suite, &kmem_alloc_suite,
	&stats_suite, &stress_suite, &pressure_suite, &debug_suite,
};

static const struct {
	const char	*kh_prefix;
	const char	*kh_why;
} ktest_hosted[] = {
	{ "vmem:bad:panics", "child processes that panic" },
	{ "slab:create:bad-args", "child processes that panic" },
	{ "debug:death:", "child processes that die of corruption" },
	{ "debug:environment:", "child processes with an environment" },
	{ "debug:lite:", "a child process that dies of corruption" },
	{ "debug:checknull:", "a child process that dies" },
	{ "debug:noabort:", "a child process that exits" },
	{ "magazine:thread:cross-free-exit",
	    "per-thread records (a kernel's are per CPU)" },
	{ "magazine:reserve:consumer-keeps-nothing",
	    "per-thread records (a kernel's are per CPU)" },
	{ "magazine:reserve:thread-bound",
	    "per-thread records (a kernel's are per CPU)" },
};

static _Noreturn void
ktest_hosted_only(const char *what)
{
	kernel_panic("%s: %s needs a child process; list it in "
	    "kernel/ktest.c's hosted-only tests", kt_current, what);
}

char *
kt_run_child(void (*fn)(void), int *statusp)
{
	(void)fn, (void)statusp;
	ktest_hosted_only("kt_run_child");
}

bool
kt_expect_panic_at(void (*fn)(void), const char *message, const char *file,
    int line)
{
	(void)fn, (void)message, (void)file, (void)line;
	ktest_hosted_only("KT_EXPECT_PANIC");
}

char *
kt_run_helper(const char *helper, char *const argv[], char *const envp[],
    int *statusp)
{
	(void)helper, (void)argv, (void)envp, (void)statusp;
	ktest_hosted_only("kt_run_helper");
}

_Noreturn void
kt_exec_helper(const char *helper, char *const argv[], char *const envp[])
{
	(void)helper, (void)argv, (void)envp;
	ktest_hosted_only("kt_exec_helper");
}

char *
kt_fresh_helper_at(char *const argv[], char *const envp[], int rc,
    const char *file, int line)
{
	(void)argv, (void)envp, (void)rc, (void)file, (void)line;
	ktest_hosted_only("KT_FRESH_HELPER");
}

static const char *
ktest_hosted_reason(const char *name)
{
	for (size_t i = 0; i < sizeof (ktest_hosted) /
	    sizeof (ktest_hosted[0]); i++)
		if (strncmp(name, ktest_hosted[i].kh_prefix,
		    strlen(ktest_hosted[i].kh_prefix)) == 0)
			return (ktest_hosted[i].kh_why);
	return (NULL);
}

bool
ktest_run(void)
{
	int passed = 0, failed = 0, skipped = 0;

	for (size_t s = 0; s < sizeof (ktest_suites) /
	    sizeof (ktest_suites[0]); s++) {
		for (size_t t = 0; t < ktest_suites[s]->ks_count; t++) {
			const kt_test_t *tp = &ktest_suites[s]->ks_tests[t];
			const char *why = ktest_hosted_reason(tp->kt_name);
			if (why != NULL) {
				skipped++;
				printf("skip %s (hosted only: %s)\n",
				    tp->kt_name, why);
				continue;
			}
			kt_current = tp->kt_name;
			int before = kt_failed_checks;
			uint64_t t0 = clock_ns();
			tp->kt_fn();
			uint64_t ms = (clock_ns() - t0) / 1000000;
			if (kt_failed_checks == before) {
				passed++;
				printf("ok   %s (%llu ms)\n", tp->kt_name,
				    (unsigned long long)ms);
			} else {
				failed++;
				printf("FAIL %s\n", tp->kt_name);
			}
		}
	}
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return (failed == 0);
}
