/*
 * Run by tests/test_debug.c with KMEM_DEBUG (and KMEM_LOGGING) in the
 * environment (the kmem_alloc caches are created at start-up, so they are
 * debugged only if the process starts that way): commits the kmem_free
 * bug named by argv[1], checks the logs (logs; init-options sets them with
 * kmem_init()'s options string instead), or overruns a firewalled
 * kmem_alloc buffer (firewall).
 * Run by tests/valgrind_tracking.sh under valgrind: commits a use after
 * free (uaf) or reads memory never written (uninit).
 */
#include <string.h>

#include <kmem/kmem.h>
#include <kmem/kmem_debug.h>

static int
newest(const void *rec, void *arg)
{
	*(const void **)arg = *(void *const *)rec;	/* bc_addr, kc_addr */
	return (1);
}

static int
count(const void *rec, void *arg)
{
	(void)rec;
	++*(int *)arg;
	return (0);
}

/* KMEM_LOGGING=transaction,contents: each log's newest record is p's. */
static int
check_logs(void)
{
	void *p = kmem_alloc(100, KM_SLEEP), *addr = NULL;
	int n = 0;

	kmem_free(p, 100);
	if (kmem_log_walk(KMEM_LOG_TRANSACTION, newest, &addr) != 1 ||
	    addr != p)
		return (10);
	if (kmem_log_walk(KMEM_LOG_CONTENTS, newest, &addr) != 1 || addr != p)
		return (11);
	if (kmem_log_walk(KMEM_LOG_TRANSACTION, count, &n) < 2 || n < 2)
		return (12);
	if (kmem_log_walk(KMEM_LOG_FAIL, count, &n) != 0)
		return (13);		/* on, and nothing failed */
	return (0);
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		return (2);
	if (strcmp(argv[1], "size") == 0) {
		void *p = kmem_alloc(100, KM_SLEEP);
		kmem_free(p, 110);		/* same size class, wrong size */
	} else if (strcmp(argv[1], "redzone") == 0) {
		char *p = kmem_alloc(100, KM_SLEEP);
		p[100] = 0;			/* one byte too far */
		kmem_free(p, 100);
	} else if (strcmp(argv[1], "uaf") == 0) {
		volatile char *p = kmem_alloc(100, KM_SLEEP);
		kmem_free((void *)p, 100);
		p[8] = 1;			/* use after free */
	} else if (strcmp(argv[1], "uninit") == 0) {
		volatile char *p = kmem_alloc(100, KM_SLEEP);
		if (p[5] == 7)			/* never written */
			return (7);
		kmem_free((void *)p, 100);
	} else if (strcmp(argv[1], "logs") == 0) {
		return (check_logs());
	} else if (strcmp(argv[1], "init-options") == 0) {
		/* What a kernel passes on its command line. */
		if (kmem_init("physmem=1g,default,transaction_log=128k,"
		    "contents_log,fail_log") != 0)
			return (20);
		return (check_logs());
	} else if (strcmp(argv[1], "firewall") == 0) {
		volatile char *p = kmem_alloc(5000, KM_SLEEP);
		for (size_t i = 0; i < 5000 + 4096; i++)
			p[i] = 1;	/* faults at the end of the buffer */
		return (5);
	} else if (strcmp(argv[1], "clean") == 0) {
		for (size_t size = 1; size < 5000; size += 7)
			kmem_free(kmem_alloc(size, KM_SLEEP), size);
	}
	return (0);
}
