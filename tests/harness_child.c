/*
 * Tests that need a process of their own: a death test that expects a
 * panic message, and a sibling helper program run with its own
 * environment (a memory budget, options, debugging from the start).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

bool
kt_expect_panic_at(void (*fn)(void), const char *message, const char *file,
    int line)
{
	int status = 0;
	char *out = kt_run_child(fn, &status);
	bool ok = out != NULL && WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGABRT && strstr(out, message) != NULL;

	if (!kt_check(ok, message, file, line))
		printf("    child (status 0x%x) said: %s\n", status,
		    out != NULL ? out : "(nothing)");
	return (ok);
}

static const char *kt_helper_path;
static char *const *kt_helper_argv, *const *kt_helper_envp;

static void
kt_helper_exec(void)
{
	char self[4096], path[4200];
	ssize_t n = readlink("/proc/self/exe", self, sizeof (self) - 1);

	if (n <= 0)
		_exit(3);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(path, sizeof (path), "%s/%s", self, kt_helper_path);
	dup2(2, 1);		/* the caller reads both */
	execve(path, (char *const *)kt_helper_argv,
	    (char *const *)kt_helper_envp);
	_exit(4);
}

char *
kt_run_helper(const char *helper, char *const argv[], char *const envp[],
    int *statusp)
{
	kt_helper_path = helper;
	kt_helper_argv = argv;
	kt_helper_envp = envp;
	return (kt_run_child(kt_helper_exec, statusp));
}
