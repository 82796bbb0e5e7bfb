/*
 * Memory from the platform, under a budget, and waiting for memory.
 *
 * The budget.  Every byte the core maps from the platform -- slabs,
 * oversize buffers and kmem's own metadata alike -- is counted here
 * against the budget (kmem_physmem(); the machine's memory by default,
 * physmem=SIZE in the options, kmem_physmem_set() at run time).  The last
 * VMEM_RESERVE_FRACTION of it is a reserve that only VM_PUSHPAGE
 * (KM_PUSHPAGE) allocations and kmem's metadata may use, so that
 * allocations which must not fail can still succeed at the limit.
 *
 * Waiting.  An allocation that may sleep and finds no memory registers as
 * a waiter and then waits for the memory generation to change.  Anything
 * that makes memory available (a vmem free, a free to a slab, an unmap, a
 * larger budget) bumps the generation if anyone is waiting.  The free
 * paths only read the waiter count, with no barrier: instead, a waiter
 * issues the platform's heavy barrier after registering, so every free
 * either happened before the waiter's next attempt (which then sees it) or
 * sees the waiter and bumps the generation.  No wake-up is lost and no one
 * polls.  While anyone waits, kmem's hooks make every free go to the slab
 * layer (no per-CPU caching) so that freed buffers reach the waiters.
 *
 * Populating.  vmi_populate() hands a new slab of kmem's, one whose every
 * page its users will write, to kmem_plat_populate(): one call makes it
 * resident instead of a page fault per page as it fills (slab.c decides
 * which).  Hosted on a virtual machine, a fault cost 12.2 us a page and
 * the call 7.5 us for 8 KiB, 6.6 us for 128 KiB (bench/bench_fault.c).
 * The nopopulate option (kmem_init(9)) turns it off; each arena counts
 * the bytes made resident (vmem_stat(9) "populate").
 */
#include "vmem_impl.h"
#include <kmem/kmem.h>

#define VMEM_RESERVE_FRACTION	64
#define VMEM_RESERVE_MAX	(16 * 1024 * 1024)

static struct {
	kmem_lock_t	vp_lock;
	size_t		vp_budget;	/* 0: not set yet (physmem) */
	size_t		vp_mapped;	/* bytes mapped from the platform */
	size_t		vp_peak;
	uint64_t	vp_fail;	/* maps refused by the budget */
	bool		vp_explicit;	/* the program set vp_budget */
	bool		vp_nopopulate;	/* kmem_init(9)'s nopopulate */
} vmem_pages = { KMEM_LOCK_INIT, 0, 0, 0, 0, false, false };

static struct {
	kmem_lock_t	mw_lock;
	kmem_cv_t	mw_cv;
	uint64_t	mw_gen;		/* bumped when memory may be available */
	uint32_t	mw_waiters;
	kmem_lock_t	mw_hook_lock;	/* orders the wait hook's on and off */
	bool		mw_hook_on;
} vmem_memwait_state = { KMEM_LOCK_INIT, KMEM_CV_INIT, 0, 0, KMEM_LOCK_INIT,
    false };

/* Switch the hook to match the waiter count, whoever comes last. */
static void
vmem_memwait_hook_sync(void)
{
	kmem_lock_enter(&vmem_memwait_state.mw_hook_lock);
	bool want = vmi_memwait_active();
	if (want != vmem_memwait_state.mw_hook_on) {
		vmi_hook_wait(want);
		vmem_memwait_state.mw_hook_on = want;
	}
	kmem_lock_exit(&vmem_memwait_state.mw_hook_lock);
}

static size_t
vmem_budget_locked(void)
{
	if (vmem_pages.vp_budget == 0)
		vmem_pages.vp_budget = kmem_plat_physmem();
	return (vmem_pages.vp_budget);
}

static size_t
vmem_reserve(size_t budget)
{
	return (kmem_min(budget / VMEM_RESERVE_FRACTION, VMEM_RESERVE_MAX));
}

/*
 * Map size bytes (page multiple) aligned to align (a power of two; 0 or
 * anything up to a page means a page) if the budget allows; NULL
 * otherwise.  Only size counts against the budget: a larger alignment is
 * had by mapping more and unmapping the ends at once.
 */
void *
vmi_pages_map(size_t size, size_t align, int vmflag)
{
	size_t page = kmem_plat_pagesize();
	size_t slop = align > page ? align - page : 0;

	kmem_lock_enter(&vmem_pages.vp_lock);
	size_t budget = vmem_budget_locked();
	size_t limit = (vmflag & VM_PUSHPAGE) ? budget :
	    budget - vmem_reserve(budget);
	if (size > limit || vmem_pages.vp_mapped > limit - size) {
		vmem_pages.vp_fail++;
		kmem_lock_exit(&vmem_pages.vp_lock);
		return (NULL);
	}
	vmem_pages.vp_mapped += size;
	if (vmem_pages.vp_mapped > vmem_pages.vp_peak)
		vmem_pages.vp_peak = vmem_pages.vp_mapped;
	kmem_lock_exit(&vmem_pages.vp_lock);

	char *va = size + slop < size ? NULL : kmem_plat_map(size + slop);
	if (va != NULL && slop != 0) {
		size_t head = P2PHASE(-(uintptr_t)va, align);
		if (head != 0)
			kmem_plat_unmap(va, head);
		if (slop - head != 0)
			kmem_plat_unmap(va + head + size, slop - head);
		va += head;
	}
	if (va == NULL) {
		kmem_lock_enter(&vmem_pages.vp_lock);
		vmem_pages.vp_mapped -= size;
		vmem_pages.vp_fail++;
		kmem_lock_exit(&vmem_pages.vp_lock);
	}
	return (va);
}

void
vmi_pages_unmap(void *va, size_t size)
{
	kmem_plat_unmap(va, size);
	kmem_lock_enter(&vmem_pages.vp_lock);
	vmem_pages.vp_mapped -= size;
	kmem_lock_exit(&vmem_pages.vp_lock);
	vmi_memwait_signal();
}

/*
 * The root arena's import: chunks of about VMEM_PAGES_CHUNK, a whole
 * multiple of the request (so that more of the same size leave nothing
 * over: 12 slabs of 80 KiB, not 12 and 64 KiB), aligned to the chunk or
 * to the request's alignment if that is larger (naturally aligned slabs
 * of up to a chunk tile it); exactly the request when a whole chunk no
 * longer fits the budget.
 */
void *
vmi_pages_import(vmem_t *src, size_t *sizep, size_t align, int vmflag)
{
	size_t want = P2ROUNDUP(*sizep, kmem_plat_pagesize());

	(void)src;
	if (want < *sizep || want == 0)
		return (NULL);		/* the rounding wrapped */
	size_t size = want >= VMEM_PAGES_CHUNK ? want :
	    VMEM_PAGES_CHUNK / want * want;
	void *va = vmi_pages_map(size, kmem_max(align, VMEM_PAGES_CHUNK),
	    vmflag);
	if (va == NULL && size > want) {
		size = want;
		va = vmi_pages_map(size, align, vmflag);
	}
	if (va != NULL)
		*sizep = size;
	return (va);
}

void
vmi_pages_release(vmem_t *src, void *va, size_t size)
{
	(void)src;
	vmi_pages_unmap(va, size);
}

/* Whether size bytes could ever be mapped under the current budget. */
bool
vmi_pages_within_budget(size_t size, int vmflag)
{
	kmem_lock_enter(&vmem_pages.vp_lock);
	size_t budget = vmem_budget_locked();
	size_t limit = (vmflag & VM_PUSHPAGE) ? budget :
	    budget - vmem_reserve(budget);
	kmem_lock_exit(&vmem_pages.vp_lock);
	return (size <= limit);
}

/*
 * Set the budget.  explicit: the program asked (kmem_physmem_set(), or
 * kmem_init()'s own options); a default from the environment at lazy
 * start-up (KMEM_OPTIONS) does not override such a setting.
 */
void
vmi_pages_set_budget(size_t bytes, bool explicit)
{
	kmem_lock_enter(&vmem_pages.vp_lock);
	if (explicit || !vmem_pages.vp_explicit)
		vmem_pages.vp_budget = bytes;
	vmem_pages.vp_explicit |= explicit;
	kmem_lock_exit(&vmem_pages.vp_lock);
	vmi_memwait_signal();		/* a larger budget may satisfy waiters */
}

void
vmi_pages_set_populate(bool on)
{
	kmem_store_relaxed(&vmem_pages.vp_nopopulate, !on);
}

/*
 * Make [va, va + size), of vmp, resident at once if allowed and able:
 * memory kmem maps from the platform (vmp imports, in the end, from the
 * root arena), never a user's arena of something else.
 */
void
vmi_populate(vmem_t *vmp, void *va, size_t size)
{
	const vmem_t *root = vmp;

	while (root->vm_source != NULL)
		root = root->vm_source;
	if (root->vm_source_alloc != vmi_pages_import ||
	    kmem_load_relaxed(&vmem_pages.vp_nopopulate) ||
	    !kmem_plat_populate(va, size))
		return;
	kmem_lock_enter(&vmp->vm_lock);
	vmp->vm_kstat.vk_populate += size;
	kmem_lock_exit(&vmp->vm_lock);
}

int
kmem_physmem_set(size_t bytes)
{
	if (bytes == 0)
		return (-1);
	vmi_pages_set_budget(bytes, true);
	return (0);
}

size_t
kmem_physmem(void)
{
	kmem_lock_enter(&vmem_pages.vp_lock);
	size_t budget = vmem_budget_locked();
	kmem_lock_exit(&vmem_pages.vp_lock);
	return (budget);
}

void
vmi_pages_stat(size_t *budgetp, size_t *reservep, size_t *mappedp,
    size_t *peakp, uint64_t *failp)
{
	kmem_lock_enter(&vmem_pages.vp_lock);
	*budgetp = vmem_budget_locked();
	*reservep = vmem_reserve(*budgetp);
	*mappedp = vmem_pages.vp_mapped;
	*peakp = vmem_pages.vp_peak;
	*failp = vmem_pages.vp_fail;
	kmem_lock_exit(&vmem_pages.vp_lock);
}

/* ---- waiting for memory ---- */

/*
 * Become a waiter; *genp receives the generation to wait on.  The caller
 * must try its allocation again before calling vmi_memwait_sleep().
 */
void
vmi_memwait_enter(uint64_t *genp)
{
	kmem_lock_enter(&vmem_memwait_state.mw_lock);
	uint32_t n = vmem_memwait_state.mw_waiters;
	kmem_store_relaxed(&vmem_memwait_state.mw_waiters, n + 1);
	bool first = n == 0;
	*genp = vmem_memwait_state.mw_gen;
	kmem_lock_exit(&vmem_memwait_state.mw_lock);
	kmem_plat_barrier_all();
	if (first)
		vmem_memwait_hook_sync();
}

/* Sleep until the generation differs from *genp; update *genp. */
void
vmi_memwait_sleep(uint64_t *genp)
{
	kmem_lock_enter(&vmem_memwait_state.mw_lock);
	while (vmem_memwait_state.mw_gen == *genp)
		kmi_cv_wait(&vmem_memwait_state.mw_cv,
		    &vmem_memwait_state.mw_lock);
	*genp = vmem_memwait_state.mw_gen;
	kmem_lock_exit(&vmem_memwait_state.mw_lock);
}

void
vmi_memwait_exit(void)
{
	kmem_lock_enter(&vmem_memwait_state.mw_lock);
	uint32_t n = vmem_memwait_state.mw_waiters - 1;
	kmem_store_relaxed(&vmem_memwait_state.mw_waiters, n);
	bool last = n == 0;
	kmem_lock_exit(&vmem_memwait_state.mw_lock);
	if (last)
		vmem_memwait_hook_sync();
}

bool
vmi_memwait_active(void)
{
	return (kmem_load_relaxed(&vmem_memwait_state.mw_waiters) != 0);
}

/* Memory may have become available: wake every waiter. */
void
vmi_memwait_signal(void)
{
	if (KMEM_LIKELY(!vmi_memwait_active()))
		return;
	kmem_lock_enter(&vmem_memwait_state.mw_lock);
	vmem_memwait_state.mw_gen++;
	kmi_cv_broadcast(&vmem_memwait_state.mw_cv);
	kmem_lock_exit(&vmem_memwait_state.mw_lock);
}

/* ---- fork: the locks of this file, in order ---- */

void
vmi_pages_fork(int phase)
{
	kmem_lock_t *locks[] = { &vmem_memwait_state.mw_hook_lock,
	    &vmem_memwait_state.mw_lock, &vmem_pages.vp_lock };
	size_t n = sizeof (locks) / sizeof (locks[0]);

	for (size_t i = 0; i < n; i++) {
		kmem_lock_t *lk = locks[phase == VMEM_FORK_PREPARE ? i :
		    n - 1 - i];
		if (phase == VMEM_FORK_PREPARE)
			kmem_lock_enter(lk);
		else if (phase == VMEM_FORK_PARENT)
			kmem_lock_exit(lk);
		else
			kmem_lock_init(lk);
	}
	if (phase == VMEM_FORK_CHILD) {
		/* The waiters were other threads: they are not in the child. */
		vmem_memwait_state.mw_waiters = 0;
		vmem_memwait_state.mw_hook_on = false;
		kmi_cv_init(&vmem_memwait_state.mw_cv);
	}
}
