/*
 * What the demo kernel does once kmem is up: a kmem record for each CPU,
 * the leak scan (leakdemo.c), the interrupt-context allocation demo on
 * both CPUs (irqdemo.c), the test harness's kernel suites (ktest.c),
 * the reaping check (reapdemo.c), then ::kmastat and a line per CPU, and
 * exit through isa-debug-exit with the verdict.
 */
#include "kernel.h"
#include "kernel_run.h"
#include <kmem/kmem.h>

/*
 * Give this CPU its kmem record with interrupts blocked: the core creates
 * a CPU's record on the CPU's first allocation, and a handler that
 * allocated first inside that window would make a second one.
 */
static void *
record_make(void *arg)
{
	(void)arg;
	spl_raise();
	kmem_free(kmem_alloc(8, KM_NOSLEEP), 8);
	spl_lower();
	return (NULL);
}

static bool
cpu_records_make(void)
{
	bool ok = true;

	for (unsigned c = 0; c < kernel_ncpus; c++)
		(void)thread_join(thread_create("record", record_make, NULL,
		    c));
	for (unsigned c = 0; c < kernel_ncpus; c++)
		for (unsigned o = 0; o < c; o++)
			ok &= kernel_cpus[c].kc_kmem_self !=
			    kernel_cpus[o].kc_kmem_self;
	for (unsigned c = 0; c < kernel_ncpus; c++)
		ok &= kernel_cpus[c].kc_kmem_self != NULL;
	kprintf("kernel: %s: every cpu has a kmem record of its own\n",
	    ok ? "ok  " : "FAIL");
	return (ok);
}

static void
print_line(void *arg, const char *line)
{
	(void)arg;
	kprintf("%s\n", line);
}

_Noreturn void
kernel_run(void)
{
	bool ok = true;

	ok &= cpu_records_make();
	/* The leak scan first: no test has left stale pointers yet. */
	ok &= leakdemo_run();
	ok &= irqdemo_run();
	ok &= ktest_run();
	ok &= reapdemo_run();
	kprintf("::kmastat\n");
	kmem_kmastat(print_line, NULL);
	irqdemo_report();
	kprintf("kernel: %s\n", ok ? "PASS" : "FAIL");
	kernel_exit(ok);
}
