/*
 * Test runner: runs every suite's tests (or those whose name starts with
 * an argument), counts failed checks per test and prints the summary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

extern const kt_suite_t vmem_suite, slab_suite, magazine_suite,
    kmem_alloc_suite, stress_suite, stats_suite, pressure_suite, fork_suite,
    debug_suite, audit_suite, stack_suite, budget_suite, init_suite,
    bsd_suite, netbsd_suite, report_suite, findleaks_suite;

static const kt_suite_t *const kt_suites[] = {
	&vmem_suite, &slab_suite, &magazine_suite, &kmem_alloc_suite,
	&stats_suite, &stress_suite, &pressure_suite, &fork_suite, &debug_suite,
	&audit_suite, &stack_suite, &budget_suite, &init_suite, &bsd_suite,
	&netbsd_suite, &report_suite, &findleaks_suite,
};

static bool
selected(const char *name, int argc, char **argv)
{
	bool any = false;

	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		any = true;
		if (strncmp(name, argv[i], strlen(argv[i])) == 0)
			return (true);
	}
	return (!any);
}

int
main(int argc, char **argv)
{
	int passed = 0, failed = 0;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0)
			kt_quick = true;
	setvbuf(stdout, NULL, _IONBF, 0);
	for (size_t s = 0; s < sizeof (kt_suites) / sizeof (kt_suites[0]); s++) {
		for (size_t t = 0; t < kt_suites[s]->ks_count; t++) {
			const kt_test_t *tp = &kt_suites[s]->ks_tests[t];
			if (!selected(tp->kt_name, argc, argv))
				continue;
			kt_current = tp->kt_name;
			int before = kt_failed_checks;
			tp->kt_fn();
			if (kt_failed_checks == before) {
				passed++;
				printf("ok   %s\n", tp->kt_name);
			} else {
				failed++;
				printf("FAIL %s\n", tp->kt_name);
			}
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return (failed > 125 ? 125 : failed);
}

char *
kt_run_child(void (*fn)(void), int *statusp)
{
	static char out[8192];
	int fds[2];

	if (pipe(fds) != 0)
		return (NULL);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		fn();
		_exit(0);
	}
	close(fds[1]);
	size_t n = 0;
	ssize_t r;
	while (n < sizeof (out) - 1 &&
	    (r = read(fds[0], out + n, sizeof (out) - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fds[0]);
	waitpid(pid, statusp, 0);
	return (out);
}
