/*
 * kmem's test harness: a table of named tests per suite, checks that
 * report both sides, the failure count as exit status and a closing
 * "N passed, N failed" line.  No libc beyond stdio in the reporting.
 */
#ifndef KMEM_TEST_HARNESS_H
#define KMEM_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kt_test {
	const char	*kt_name;	/* layer:area:case */
	void		(*kt_fn)(void);
} kt_test_t;

typedef struct kt_suite {
	const kt_test_t	*ks_tests;
	size_t		ks_count;
} kt_suite_t;

#define KT_SUITE(name, ...)						\
	static const kt_test_t name##_tests[] = { __VA_ARGS__ };	\
	const kt_suite_t name = { name##_tests,				\
	    sizeof (name##_tests) / sizeof (name##_tests[0]) }

extern bool kt_quick;		/* --quick: fewer iterations (valgrind) */
extern int kt_failed_checks;	/* by every test so far (harness_checks.c) */
extern const char *kt_current;	/* the test running */

bool kt_check(bool ok, const char *expr, const char *file, int line);
bool kt_check_u(uint64_t a, uint64_t b, const char *op, bool ok,
    const char *ea, const char *eb, const char *file, int line);

#define KT_CHECK(e)	kt_check((e), #e, __FILE__, __LINE__)
#define KT_CMP_U(a, op, b) ({						\
	uint64_t kt_a = (uint64_t)(a), kt_b = (uint64_t)(b);		\
	kt_check_u(kt_a, kt_b, #op, kt_a op kt_b, #a, #b, __FILE__,	\
	    __LINE__); })
#define KT_EQ_U(a, b)	KT_CMP_U(a, ==, b)

/* A line sink for kmem's printers (kmem_kmastat, kmem_verify, ...). */
typedef struct kt_capture {
	char	*kc_buf;	/* the lines so far, '\n'-separated */
	size_t	kc_len;
	int	kc_lines;
} kt_capture_t;

void kt_capture_line(void *arg, const char *line);
void kt_capture_reset(kt_capture_t *c);
void kt_capture_free(kt_capture_t *c);

/*
 * Run fn in a child process; return what it wrote to stderr (a static
 * buffer) and store how it ended in *statusp.  NULL if it cannot.
 */
char *kt_run_child(void (*fn)(void), int *statusp);

/*
 * Run fn in a child; check that it panics (SIGABRT) saying message.
 * Prints what the child said if not.
 */
bool kt_expect_panic_at(void (*fn)(void), const char *message,
    const char *file, int line);
#define KT_EXPECT_PANIC(fn, message) \
	kt_expect_panic_at((fn), (message), __FILE__, __LINE__)

/*
 * Run the program helper (in the test binary's directory) with argv and
 * envp; return its stdout and stderr (a static buffer) and its status.
 */
char *kt_run_helper(const char *helper, char *const argv[],
    char *const envp[], int *statusp);
/* The same in this process (a child of kt_run_child()): never returns. */
_Noreturn void kt_exec_helper(const char *helper, char *const argv[],
    char *const envp[]);
/*
 * Run kmem_fresh_helper (a process of its own: its own budget, options
 * and start-up) and check that it exits with rc; its output, or NULL
 * (reported) if it did not.
 */
char *kt_fresh_helper_at(char *const argv[], char *const envp[], int rc,
    const char *file, int line);
#define KT_FRESH_HELPER(argv, envp, rc) \
	kt_fresh_helper_at((argv), (envp), (rc), __FILE__, __LINE__)

/* A constructor that always fails, for callers' error paths. */
int kt_ctor_refuse(void *buf, void *priv, int flag);

/* Deterministic pseudo-random numbers (xorshift64*). */
static inline uint64_t
kt_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (x * 0x2545F4914F6CDD1DULL);
}

#endif
