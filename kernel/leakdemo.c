/*
 * The leak scan in the kernel: kmem_findleaks() stops the other CPU (an
 * IPI parks it, kmem_plat_world_stop), scans the kernel's data and bss
 * and the live part of every stack, and resumes it.  A thread that has
 * ended allocated buffers and dropped their pointers: they are leaks.
 * They come from a cache of their own, and the scan runs before the
 * tests: a static array of a test that held pointers to buffers since
 * freed (test_stress.c's boxes) keeps any new buffer at those addresses,
 * as a conservative scan must.  The scan must return,
 * report exactly the 8 leaked buffers of that cache (none of the 8 still
 * held), and the other CPU must run again (take timer ticks) after it.
 */
#include "kernel.h"
#include "kernel_run.h"
#include <kmem/kmem.h>

#define	LEAKS	8
#define	LEAK_SIZE	200

static void *leak_held[LEAKS];
static kmem_cache_t *leak_cache;
static unsigned leak_reported;	/* the count on the cache's line */

/* On a thread of its own, whose stack is gone when the scan runs. */
static void *
leak_make(void *arg)
{
	(void)arg;
	for (int i = 0; i < LEAKS; i++)
		memset(kmem_cache_alloc(leak_cache, KM_SLEEP), 0, LEAK_SIZE);
	for (int i = 0; i < LEAKS; i++) {	/* no stale free-list link */
		leak_held[i] = kmem_cache_alloc(leak_cache, KM_SLEEP);
		memset(leak_held[i], 0, LEAK_SIZE);
	}
	return (NULL);
}

static void
leak_print(void *arg, const char *line)
{
	static const char name[] = "leakdemo ";
	unsigned n = 0;

	(void)arg;
	kprintf("%s\n", line);
	for (size_t i = 0; i < sizeof (name) - 1; i++)
		if (line[i] != name[i])
			return;
	const char *p = line + sizeof (name) - 1;
	while (*p == ' ')
		p++;
	while (*p >= '0' && *p <= '9')
		n = n * 10 + (unsigned)(*p++ - '0');
	leak_reported += n;
}

bool
leakdemo_run(void)
{
	leak_cache = kmem_cache_create("leakdemo", LEAK_SIZE, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	(void)thread_join(thread_create("leaker", leak_make, NULL, 0));
	size_t found = kmem_findleaks(leak_print, NULL);
	unsigned other = kernel_ncpus - 1;
	uint64_t ticks = __atomic_load_n(&kernel_cpus[other].kc_ticks,
	    __ATOMIC_ACQUIRE);
	for (int i = 0; i < LEAKS; i++)
		kmem_cache_free(leak_cache, leak_held[i]);
	thread_sleep_ns(20000000);
	bool resumed = __atomic_load_n(&kernel_cpus[other].kc_ticks,
	    __ATOMIC_ACQUIRE) > ticks;
	bool ok = leak_reported == LEAKS && found >= LEAKS && resumed;
	kprintf("leakdemo: %s: kmem_findleaks() with the other cpu stopped "
	    "found %u of the %d buffers leaked from its cache (%zu in all); "
	    "the other cpu %s\n", ok ? "ok  " : "FAIL", leak_reported, LEAKS,
	    found, resumed ? "runs again" : "did not resume");
	return (ok);
}
