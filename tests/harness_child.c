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

void
kt_exec_helper(const char *helper, char *const argv[], char *const envp[])
{
	char self[4096], path[4200];
	ssize_t n = readlink("/proc/self/exe", self, sizeof (self) - 1);

	if (n <= 0)
		_exit(3);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(path, sizeof (path), "%s/%s", self, helper);
	execve(path, argv, envp);
	_exit(4);
}

static const char *kt_helper_path;
static char *const *kt_helper_argv, *const *kt_helper_envp;

static void
kt_helper_child(void)
{
	dup2(2, 1);		/* the caller reads both */
	kt_exec_helper(kt_helper_path, kt_helper_argv, kt_helper_envp);
}

char *
kt_run_helper(const char *helper, char *const argv[], char *const envp[],
    int *statusp)
{
	kt_helper_path = helper;
	kt_helper_argv = argv;
	kt_helper_envp = envp;
	return (kt_run_child(kt_helper_child, statusp));
}

char *
kt_fresh_helper_at(char *const argv[], char *const envp[], int rc,
    const char *file, int line)
{
	int status = -1;
	char *out = kt_run_helper("kmem_fresh_helper", argv, envp, &status);

	if (kt_check(out != NULL && WIFEXITED(status) &&
	    WEXITSTATUS(status) == rc, argv[1], file, line))
		return (out);
	printf("    %s %s %s (status 0x%x): %s\n", argv[1],
	    argv[2] != NULL ? argv[2] : "",
	    argv[2] != NULL && argv[3] != NULL ? argv[3] : "", status,
	    out != NULL ? out : "(no output)");
	return (NULL);
}
