/*
 * Per-CPU (per-thread) records: creating and growing them, the purger's
 * side of the busy/stop handshake, thread exit, and reading their state for
 * statistics.  The theory statement is at the top of magazine.c.
 */
#include "magazine_impl.h"

kmem_lock_t kmem_cpu_list_lock = KMEM_LOCK_INIT;
kmem_list_t kmem_cpu_list = { &kmem_cpu_list, &kmem_cpu_list };
kmem_cache_t *kmi_cpu_record_cache;
bool kmi_cpu_enabled;

/*
 * The record of a thread that is exiting: no slots, so whatever it frees
 * on its way out (its own magazines' slabs, other libraries' destructors)
 * goes to the slab layer instead of building a new record.
 */
static kmem_cpu_t kmem_cpu_dead;
static vmem_t *kmem_cache_index_arena;
static uint32_t kmem_cpu_bypassing;	/* kmem_cpu_list_lock */

uint32_t
kmi_cpu_index_alloc(void)
{
	if (kmem_cache_index_arena == NULL)
		kmem_cache_index_arena = vmem_create("kmem_cache_index",
		    (void *)1, 65535, 1, NULL, NULL, NULL, 0,
		    VMC_IDENTIFIER | VM_NOSLEEP);
	if (kmem_cache_index_arena == NULL)
		return (0);
	return ((uint32_t)(uintptr_t)vmem_alloc(kmem_cache_index_arena, 1,
	    VM_NOSLEEP | VM_FIRSTFIT));
}

/* After a failed kmem_init(): every cache that had an index is gone. */
void
kmi_cpu_index_fini(void)
{
	if (kmem_cache_index_arena != NULL)
		vmem_destroy(kmem_cache_index_arena);
	kmem_cache_index_arena = NULL;
}

void
kmi_cpu_index_free(uint32_t index)
{
	if (index != 0)
		vmem_free(kmem_cache_index_arena, (void *)(uintptr_t)index, 1);
}

static kmem_cpu_cache_t *
cpu_table_alloc(uint32_t n)
{
	kmem_cpu_cache_t *cc = vmem_alloc(kmem_metadata_arena,
	    n * sizeof (kmem_cpu_cache_t), VM_NOSLEEP | VM_NORMALPRI);
	if (cc != NULL)
		memset(cc, 0, n * sizeof (kmem_cpu_cache_t));
	return (cc);
}

static void
cpu_table_free(kmem_cpu_cache_t *cc, uint32_t n)
{
	vmem_free(kmem_metadata_arena, cc, n * sizeof (kmem_cpu_cache_t));
}

/*
 * Make sure this thread (CPU) has a record with a slot for cp.  Returns
 * true if it changed anything, so the caller may retry the fast path.
 */
bool
kmi_cpu_prepare(kmem_cache_t *cp)
{
	kmem_cpu_t *cpu = kmem_plat_self_enter();
	kmem_plat_self_exit();

	if (!kmi_cpu_enabled || cp->cache_slot == 0 ||
	    cpu == &kmem_cpu_dead)
		return (false);
	uint32_t n = 64;
	while (n <= cp->cache_slot)
		n *= 2;
	if (cpu == NULL) {
		cpu = kmi_slab_alloc(kmi_cpu_record_cache, KM_NOSLEEP_LAZY);
		if (cpu == NULL)
			return (false);
		memset(cpu, 0, sizeof (*cpu));
		if ((cpu->cpu_cc = cpu_table_alloc(n)) == NULL) {
			kmi_slab_free(kmi_cpu_record_cache, cpu);
			return (false);
		}
		cpu->cpu_ncc = n;
		kmem_lock_enter(&kmem_cpu_list_lock);
		if (kmem_cpu_bypassing != 0)
			cpu->cpu_stop = KMEM_CPU_STOP_BYPASS;
		kmem_list_insert_tail(&kmem_cpu_list, &cpu->cpu_link);
		kmem_lock_exit(&kmem_cpu_list_lock);
		kmem_plat_self_set(cpu);
		return (true);
	}
	if (cp->cache_slot < cpu->cpu_ncc || cpu->cpu_busy)
		return (false);
	kmem_cpu_cache_t *cc = cpu_table_alloc(n), *old = cpu->cpu_cc;
	uint32_t old_n = cpu->cpu_ncc;
	if (cc == NULL)
		return (false);
	/* Swap tables inside a busy section, unless a purger holds us. */
	bool ok = kmem_plat_self_enter() == cpu;
	if (ok) {
		kmem_store_relaxed(&cpu->cpu_busy, 1);
		kmem_compiler_barrier();
		ok = !kmem_load_acquire(&cpu->cpu_stop);
		if (ok) {
			memcpy(cc, old, old_n * sizeof (kmem_cpu_cache_t));
			kmem_store_release(&cpu->cpu_cc, cc);
			kmem_store_release(&cpu->cpu_ncc, n);
		}
		kmem_cpu_end(cpu);
	}
	kmem_plat_self_exit();
	if (!ok) {
		cpu_table_free(cc, n);
		return (false);
	}
	/*
	 * Statistics readers may still be looking at the old table: retire
	 * it until the thread exits.  Slot 0 is never used by a cache, so it
	 * holds the link and the size.
	 */
	old[0].cc_loaded = (kmem_magazine_t *)(void *)cpu->cpu_retired;
	old[0].cc_free = old_n;
	cpu->cpu_retired = old;
	return (true);
}

/*
 * Take one slot's magazines off it, onto cp->cache_detached, and reset it.
 * The slot's owner is stopped (or gone).
 */
static void
slot_detach(kmem_cpu_t *cpu, kmem_cache_t *cp, kmem_cpu_cache_t *ccp)
{
	kmi_slot_retire(cpu, cp, ccp, &cp->cache_detached, true);
	kmem_store_relaxed(&ccp->cc_magsize, (int16_t)0);
	ccp->cc_rexchanges = 0;
	/* The slot may serve another cache next: move its count to cp. */
	kmem_fetch_add(&cp->cache_cpu_free, ccp->cc_free);
	kmem_store_relaxed(&ccp->cc_free, 0);
}

/*
 * Stop every record with bit why and wait until none is busy but self's
 * (an operation of ours a signal interrupted): then no owner is half-way
 * through changing a slot, and none starts until cpu_resume_all().
 * kmem_cpu_list_lock held.
 */
static void
cpu_stop_all(kmem_cpu_t *self, uint32_t why)
{
	for (kmem_list_t *lp = kmem_cpu_list.next; lp != &kmem_cpu_list;
	    lp = lp->next) {
		kmem_cpu_t *cpu = KMEM_CONTAINER(lp, kmem_cpu_t, cpu_link);
		kmem_store_relaxed(&cpu->cpu_stop, cpu->cpu_stop | why);
	}
	kmem_plat_barrier_all();
	for (kmem_list_t *lp = kmem_cpu_list.next; lp != &kmem_cpu_list;
	    lp = lp->next) {
		kmem_cpu_t *cpu = KMEM_CONTAINER(lp, kmem_cpu_t, cpu_link);
		while (cpu != self && kmem_load_acquire(&cpu->cpu_busy))
			kmem_plat_yield();
	}
}

static void
cpu_resume_all(uint32_t why)
{
	for (kmem_list_t *lp = kmem_cpu_list.next; lp != &kmem_cpu_list;
	    lp = lp->next) {
		kmem_cpu_t *cpu = KMEM_CONTAINER(lp, kmem_cpu_t, cpu_link);
		kmem_store_release(&cpu->cpu_stop, cpu->cpu_stop & ~why);
	}
}

/*
 * Return every magazine of cp (of every cache, if cp is NULL) -- in every
 * record and in the depot -- and their rounds to the slab layer.  The
 * records are stopped while their slots are emptied; the magazines are
 * destroyed once they run again.  The caller holds kmem_cache_list_lock.
 */
void
kmi_cpu_purge(kmem_cache_t *cp)
{
	kmem_cpu_t *self = kmem_cpu_self();

	ASSERT(kmem_lock_held(&kmem_cache_list_lock));
	kmem_lock_enter(&kmem_cpu_list_lock);
	cpu_stop_all(self, KMEM_CPU_STOP_PURGE);
	for (kmem_list_t *lp = kmem_cpu_list.next; lp != &kmem_cpu_list;
	    lp = lp->next) {
		kmem_cpu_t *cpu = KMEM_CONTAINER(lp, kmem_cpu_t, cpu_link);
		if (cpu == self && cpu->cpu_busy)
			continue;	/* our own interrupted operation */
		for (kmem_list_t *cl = kmem_cache_list.next;
		    cl != &kmem_cache_list; cl = cl->next) {
			kmem_cache_t *c = cp != NULL ? cp :
			    KMEM_CONTAINER(cl, kmem_cache_t, cache_link);
			uint32_t index = c->cache_slot;
			if (index != 0 && index < cpu->cpu_ncc)
				slot_detach(cpu, c, &cpu->cpu_cc[index]);
			if (cp != NULL)
				break;
		}
		/* Every slot emptied: nothing left to count (invariant 4). */
		ASSERT(cp != NULL || cpu->cpu_rbytes == 0);
	}
	for (kmem_list_t *cl = kmem_cache_list.next; cl != &kmem_cache_list;
	    cl = cl->next) {
		kmem_cache_t *c = cp != NULL ? cp :
		    KMEM_CONTAINER(cl, kmem_cache_t, cache_link);
		kmem_lock_enter(&c->cache_depot_lock);
		kmi_depot_take(c, &c->cache_detached);
		kmem_lock_exit(&c->cache_depot_lock);
		if (cp != NULL)
			break;
	}
	cpu_resume_all(KMEM_CPU_STOP_PURGE);
	kmem_lock_exit(&kmem_cpu_list_lock);

	for (kmem_list_t *cl = kmem_cache_list.next; cl != &kmem_cache_list;
	    cl = cl->next) {
		kmem_cache_t *c = cp != NULL ? cp :
		    KMEM_CONTAINER(cl, kmem_cache_t, cache_link);
		kmem_magazine_t *retired = c->cache_detached;
		c->cache_detached = NULL;
		kmi_magazines_destroy(c, retired);
		if (cp != NULL)
			break;
	}
}

/*
 * While anyone waits for memory or a reclaim runs, every record bypasses
 * its magazines, so that every free reaches the slab layer (waking the
 * waiters, emptying slabs) and no buffer hides in a thread's cache.  The
 * switch is counted: on and off calls nest.  Turning it on also purges
 * what the magazines hold.
 */
void
kmi_cpu_bypass(bool on)
{
	kmem_lock_enter(&kmem_cpu_list_lock);
	bool change = on ? kmem_cpu_bypassing++ == 0 :
	    --kmem_cpu_bypassing == 0;
	for (kmem_list_t *lp = kmem_cpu_list.next;
	    change && lp != &kmem_cpu_list; lp = lp->next) {
		kmem_cpu_t *cpu = KMEM_CONTAINER(lp, kmem_cpu_t, cpu_link);
		kmem_store_release(&cpu->cpu_stop, on ?
		    cpu->cpu_stop | KMEM_CPU_STOP_BYPASS :
		    cpu->cpu_stop & ~KMEM_CPU_STOP_BYPASS);
	}
	kmem_lock_exit(&kmem_cpu_list_lock);
	if (on)
		kmi_cpu_purge_all();
}

/* Purge every cache's magazines (memory pressure, tests). */
void
kmi_cpu_purge_all(void)
{
	kmem_lock_enter(&kmem_cache_list_lock);
	kmi_cpu_purge(NULL);
	kmem_lock_exit(&kmem_cache_list_lock);
}

/*
 * A thread is exiting: its full and empty magazines go to the depots,
 * partly filled ones back to the slabs, its counts to the caches.
 */
void
kmem_thread_exit(void *self)
{
	kmem_cpu_t *cpu = self;

	if (cpu == NULL || cpu == &kmem_cpu_dead)
		return;
	kmem_plat_self_set(&kmem_cpu_dead);
	kmem_lock_enter(&kmem_cache_list_lock);
	kmem_lock_enter(&kmem_cpu_list_lock);
	kmem_list_remove(&cpu->cpu_link);
	kmi_counter_retire(cpu);
	kmem_lock_exit(&kmem_cpu_list_lock);
	for (kmem_list_t *cl = kmem_cache_list.next; cl != &kmem_cache_list;
	    cl = cl->next) {
		kmem_cache_t *cp = KMEM_CONTAINER(cl, kmem_cache_t, cache_link);
		uint32_t index = cp->cache_slot;
		if (index == 0 || index >= cpu->cpu_ncc)
			continue;
		kmem_cpu_cache_t *ccp = &cpu->cpu_cc[index];
		kmem_magazine_t *mags[2] = { ccp->cc_loaded, ccp->cc_ploaded };
		int rounds[2] = { ccp->cc_rounds, ccp->cc_prounds };
		kmem_magazine_t *retired = NULL;
		kmem_depot_lock(cp);
		for (int i = 0; i < 2; i++) {
			if (mags[i] == NULL)
				continue;
			if (rounds[i] == (int)mags[i]->mag_size || rounds[i] == 0)
				kmi_depot_put(cp, mags[i], rounds[i] != 0,
				    &retired);
			else
				kmi_magazine_retire(&retired, mags[i],
				    rounds[i]);
		}
		kmi_reserve_give(cpu, cp, ccp, UINT32_MAX, UINT32_MAX,
		    &retired);
		kmem_fetch_add(&cp->cache_cpu_free, ccp->cc_free);
		kmem_lock_exit(&cp->cache_depot_lock);
		kmi_magazines_destroy(cp, retired);
	}
	kmem_lock_exit(&kmem_cache_list_lock);
	cpu_table_free(cpu->cpu_cc, cpu->cpu_ncc);
	kmi_counter_free(cpu);
	while (cpu->cpu_retired != NULL) {
		kmem_cpu_cache_t *old = cpu->cpu_retired;
		cpu->cpu_retired = (kmem_cpu_cache_t *)(void *)old[0].cc_loaded;
		cpu_table_free(old, (uint32_t)old[0].cc_free);
	}
	kmi_slab_free(kmi_cpu_record_cache, cpu);
}

/*
 * Rounds of cp held in records, for statistics; also sums the records'
 * free counts.  Racy by nature (owners run on), never unsafe.
 */
uint64_t
kmi_cpu_rounds(kmem_cache_t *cp, uint64_t *freep)
{
	uint64_t rounds = 0, free = 0;
	uint32_t index = cp->cache_slot;

	kmem_lock_enter(&kmem_cpu_list_lock);
	for (kmem_list_t *lp = kmem_cpu_list.next; lp != &kmem_cpu_list && index;
	    lp = lp->next) {
		kmem_cpu_t *cpu = KMEM_CONTAINER(lp, kmem_cpu_t, cpu_link);
		if (index >= kmem_load_acquire(&cpu->cpu_ncc))
			continue;
		kmem_cpu_cache_t *ccp = &kmem_load_acquire(&cpu->cpu_cc)[index];
		rounds += (uint64_t)kmem_load_relaxed(&ccp->cc_rounds) +
		    (uint64_t)kmem_load_relaxed(&ccp->cc_prounds) +
		    (uint64_t)kmem_load_relaxed(&ccp->cc_nrfull) *
		    (uint64_t)kmem_load_relaxed(&ccp->cc_magsize);
		free += kmem_load_relaxed(&ccp->cc_free);
	}
	kmem_lock_exit(&kmem_cpu_list_lock);
	*freep = free;
	return (rounds);
}

/*
 * In a fork's child, a record of a thread that is not there: its
 * magazines' rounds are free buffers; they wait on each cache's
 * cache_detached for the next purge (kmem_reap(), kmem_update(), memory
 * pressure) to give them back, rather than being lost.
 */
static void
fork_child_detach(kmem_cpu_t *cpu)
{
	for (kmem_list_t *cl = kmem_cache_list.next; cl != &kmem_cache_list;
	    cl = cl->next) {
		kmem_cache_t *cp = KMEM_CONTAINER(cl, kmem_cache_t, cache_link);
		if (cp->cache_slot != 0 && cp->cache_slot < cpu->cpu_ncc)
			slot_detach(cpu, cp, &cpu->cpu_cc[cp->cache_slot]);
	}
}

/*
 * fork(2).  The child keeps only the forking thread's record: the others
 * belong to threads that do not exist there.  Before the fork every record
 * is stopped and out of its busy section, so none is copied half-way
 * through changing a slot (between the two stores of a magazine swap both
 * pointers name one magazine, which the child's purge then gave back
 * twice: 1-2% of children of a program whose threads create and destroy
 * caches panicked in kmem_verify()).  kmi_world_lock() (a leak scan) stops
 * them the same way.
 */
void
kmi_cpu_fork(int phase)
{
	kmem_cpu_t *self = kmem_cpu_self();
	if (phase == VMEM_FORK_PREPARE) {
		kmem_lock_enter(&kmem_cpu_list_lock);
		cpu_stop_all(self, KMEM_CPU_STOP_FORK);
		return;
	}
	if (phase == VMEM_FORK_PARENT) {
		cpu_resume_all(KMEM_CPU_STOP_FORK);
		kmem_lock_exit(&kmem_cpu_list_lock);
		return;
	}
	kmem_lock_init(&kmem_cpu_list_lock);
	kmem_cpu_bypassing = 0;
	kmem_list_t *lp = kmem_cpu_list.next;
	while (lp != &kmem_cpu_list) {
		kmem_cpu_t *cpu = KMEM_CONTAINER(lp, kmem_cpu_t, cpu_link);
		lp = lp->next;
		if (cpu != self) {
			fork_child_detach(cpu);
			kmem_list_remove(&cpu->cpu_link);
			kmi_counter_retire(cpu);
		} else
			cpu->cpu_stop = 0;
	}
}
