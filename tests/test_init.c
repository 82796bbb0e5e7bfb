/*
 * Start-up as a user meets it: a failed kmem_init() returns -1 at once
 * and leaves nothing behind, whichever page request or budget makes it
 * fail; a workload whose page requests fail one by one ends in NULLs and
 * leaks nothing; option strings are reported clearly.  Each case is a
 * fresh process (kmem_fresh_helper).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <kmem/kmem.h>

#include "harness.h"

static void
test_init_faults(void)
{
	char *argv[] = { "kmem_fresh_helper", "init-faults", NULL };
	char *envp[] = { NULL };
	char *out = KT_FRESH_HELPER(argv, envp, 0);

	KT_CHECK(out != NULL && strstr(out, "failed starts undone") != NULL);
}

static void
test_init_budget(void)
{
	char *argv[] = { "kmem_fresh_helper", "init-budget", NULL };
	char *envp[] = { NULL };
	char *out = KT_FRESH_HELPER(argv, envp, 0);

	KT_CHECK(out != NULL && strstr(out, "starts at") != NULL);
	KT_CHECK(out != NULL && strstr(out, "kmem_init: the memory budget "
	    "(physmem=16384) is too small for kmem to start") != NULL);
}

static void
test_workload_faults(void)
{
	char *argv[] = { "kmem_fresh_helper", "faults", "0", NULL };
	char *argv2[] = { "kmem_fresh_helper", "faults", "1", NULL };
	char *envp[] = { "KMEM_OPTIONS=reap_interval=0", NULL };
	char *out = KT_FRESH_HELPER(argv, envp, 0);

	KT_CHECK(out != NULL && strstr(out, "page requests failed") != NULL);
	out = KT_FRESH_HELPER(argv2, envp, 0);
	KT_CHECK(out != NULL && strstr(out, "page requests failed") != NULL);
}

/* Each bad option is named with its variable and why, and ignored. */
static void
test_option_messages(void)
{
	static const struct {
		const char	*env;
		const char	*said;
	} cases[] = {
		{ "KMEM_OPTIONS=frobnicate=yes",
		    "KMEM_OPTIONS: 'frobnicate': unknown option" },
		{ "KMEM_OPTIONS==", "KMEM_OPTIONS: '': unknown option" },
		{ "KMEM_DEBUG=nonsense=abc",
		    "KMEM_DEBUG: 'nonsense': unknown option" },
		{ "KMEM_OPTIONS=nomagazines=1",
		    "KMEM_OPTIONS: nomagazines takes no value" },
		{ "KMEM_OPTIONS=physmem", "KMEM_OPTIONS: physmem needs a value" },
		{ "KMEM_OPTIONS=physmem=12q",
		    "KMEM_OPTIONS: physmem: '12q' is not a valid size" },
		{ "KMEM_DEBUG=mtbf=x", "KMEM_DEBUG: mtbf: 'x' is not a valid" },
		{ "KMEM_DEBUG=guards=3", "KMEM_DEBUG: guards takes no value" },
		{ "KMEM_LOGGING=fail=8q", "KMEM_LOGGING: fail: '8q' is not" },
		{ "KMEM_OPTIONS=physmem=4096",
		    "kmem_init: the memory budget (physmem=4096) is too small" },
	};
	char *argv[] = { "kmem_fresh_helper", "init", NULL };

	for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++) {
		char *envp[] = { (char *)cases[i].env, NULL };
		bool fails = strstr(cases[i].said, "too small") != NULL;
		char *out = KT_FRESH_HELPER(argv, envp, fails ? 1 : 0);
		if (!KT_CHECK(out != NULL && strstr(out, cases[i].said) != NULL))
			printf("    %s: expected \"%s\"\n", cases[i].env,
			    cases[i].said);
	}
	/*
	 * Sizes in both variables take the same syntax (8g was refused as
	 * "not a number" in KMEM_OPTIONS; here the log merely finds no
	 * memory under the budget).
	 */
	char *envp[] = { "KMEM_OPTIONS=fail_log=8g,physmem=64m",
	    "KMEM_LOGGING=transaction=1m", NULL };
	char *out = KT_FRESH_HELPER(argv, envp, 0);
	KT_CHECK(out != NULL && strstr(out, "not a valid") == NULL &&
	    strstr(out, "unknown") == NULL);
}

/* A budget the program set before first use outranks KMEM_OPTIONS'. */
static void
test_physmem_first(void)
{
	char *envp[] = { "KMEM_OPTIONS=physmem=32m", NULL };
	char *argv[] = { "kmem_fresh_helper", "init-physmem-first", NULL };
	char *out = KT_FRESH_HELPER(argv, envp, 0);

	KT_CHECK(out != NULL && strstr(out, "budget kept") != NULL);
}

/*
 * After a failed start (a 128 KiB budget: kmem needs about 170): reaping
 * is harmless, KM_SLEEP and KM_PANIC panic.
 */
static void
test_unstarted(void)
{
	char *envp[] = { "KMEM_OPTIONS=physmem=128k", NULL };
	char *argv[] = { "kmem_fresh_helper", "init-unstarted", "nosleep",
	    NULL };
	char *out = KT_FRESH_HELPER(argv, envp, 0);
	KT_CHECK(out != NULL && strstr(out, "unstarted: nosleep returned"));
	static const char *const modes[] = { "sleep", "panic" };
	for (int i = 0; i < 2; i++) {
		char *argv2[] = { "kmem_fresh_helper", "init-unstarted",
		    (char *)modes[i], NULL };
		int status = -1;
		out = kt_run_helper("kmem_fresh_helper", argv2, envp, &status);
		KT_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
		KT_CHECK(out != NULL && strstr(out, "kmem could not start") !=
		    NULL);
	}
}

KT_SUITE(init_suite,
	{ "init:faults:each-request", test_init_faults },
	{ "init:faults:budget-steps", test_init_budget },
	{ "init:faults:workload", test_workload_faults },
	{ "init:options:messages", test_option_messages },
	{ "init:unstarted:harmless", test_unstarted },
	{ "init:options:physmem-set-first", test_physmem_first },
);
