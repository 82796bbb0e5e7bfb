/*
 * Reaping from the periodic update.  kmem_init() started kmem_update()
 * on a kernel thread (kmem_plat_periodic(), every reap_interval seconds,
 * 15 by default: the test suites assume, as in a process, that no update
 * comes in the middle of a test).  A cache is filled and emptied, so
 * that its buffers sit in full magazines in its depot; nothing else
 * touches it, and within two intervals the update's working-set reap
 * must have given them back to the slabs (full_magazines 0, reap
 * counted) and the emptied slabs must have been destroyed, but for the
 * few empty ones a cache keeps (KMEM_KEEP_EMPTY), which kmem_reap()
 * destroys.
 */
#include "kernel.h"
#include "kernel_run.h"
#include <kmem/kmem.h>

#define	REAP_BUFS	4000
#define	REAP_WAIT_NS	40000000000ull	/* two intervals and some */

static void *reap_bufs[REAP_BUFS];

bool
reapdemo_run(void)
{
	kmem_cache_t *cp = kmem_cache_create("reapdemo", 256, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);

	for (int i = 0; i < REAP_BUFS; i++)
		reap_bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	for (int i = 0; i < REAP_BUFS; i++)
		kmem_cache_free(cp, reap_bufs[i]);
	uint64_t full = kmem_cache_stat(cp, "full_magazines");
	uint64_t t0 = clock_ns();
	while (clock_ns() - t0 < REAP_WAIT_NS &&
	    kmem_cache_stat(cp, "full_magazines") != 0)
		thread_sleep_ns(100000000);
	uint64_t ms = (clock_ns() - t0) / 1000000;
	uint64_t left = kmem_cache_stat(cp, "full_magazines");
	uint64_t reaps = kmem_cache_stat(cp, "reap");
	uint64_t destroyed = kmem_cache_stat(cp, "slab_destroy");
	uint64_t created = kmem_cache_stat(cp, "slab_create");
	kprintf("reapdemo: %llu full magazines after the frees; after %llu ms "
	    "of kmem_update() on its thread: %llu, %llu reaps, %llu of %llu "
	    "slabs destroyed\n", (unsigned long long)full,
	    (unsigned long long)ms, (unsigned long long)left,
	    (unsigned long long)reaps, (unsigned long long)destroyed,
	    (unsigned long long)created);
	bool ok = full > 0 && left == 0 && reaps > 0 && destroyed > 0;
	kprintf("reapdemo: %s: the periodic update reaped the depot\n",
	    ok ? "ok  " : "FAIL");
	kmem_reap();
	uint64_t bufs = kmem_cache_stat(cp, "buf_total");
	ok &= bufs == 0;
	kprintf("reapdemo: %s: kmem_reap() left %llu buffers in slabs\n",
	    bufs == 0 ? "ok  " : "FAIL", (unsigned long long)bufs);
	kmem_cache_destroy(cp);
	return (ok);
}
