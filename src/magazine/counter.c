/*
 * Per-CPU (per-thread) counters, for statistics that must cost nothing
 * shared on a fast path (the BSD faces' per-type counts).
 *
 * Theory of operation
 * -------------------
 * A client takes a run of counter indices once (kmi_counter_alloc()).
 * Each per-CPU record (kmem_cpu_t) has a table, cpu_ctr, of the counters
 * it has touched: only its owner writes it, with a relaxed load and store
 * inside the record's busy section (so an interrupt on the same CPU that
 * counts too sees the record busy and goes the slow way), never with a
 * read-modify-write.  Counters only go up: a reader sums every record's
 * value and the retired table (kmi_counter_read()), and differences of
 * sums (allocations less frees) are exact once the writers are quiet.
 *
 * The retired table holds what exited threads counted (folded in when
 * their record goes) and what could not be counted in a record (no record
 * yet, busy, no memory for a bigger table): those adds are atomic.  A
 * record's table is grown by its owner, under kmem_cpu_list_lock, which
 * readers hold while they sum, so no reader sees a table being freed.
 */
#include "magazine_impl.h"

uint64_t kmem_counter_retired[KMEM_NCOUNTERS];	/* atomic adds */

/*
 * A record's table starts this far into its allocation: records, slot
 * tables and magazines are page aligned, and counters at the same offsets
 * in their page as what the fast paths read there (cpu_busy, cpu_cc, the
 * slots, magazine rounds) make those loads wait for the counters' stores
 * (4K aliasing: a counted pair took 2.5x as long page aligned, and still
 * 1.7x at 3 KiB for some size classes; 1600 bytes measured best).
 */
#define COUNTER_COLOUR	(1600 / sizeof (uint64_t))
static uint32_t kmem_counter_next = 1;		/* kmem_cpu_list_lock */

/* n consecutive counters, all zero; 0 if the table is full. */
uint32_t
kmi_counter_alloc(uint32_t n)
{
	uint32_t base = 0;

	kmem_lock_enter(&kmem_cpu_list_lock);
	if (n <= KMEM_NCOUNTERS - kmem_counter_next) {
		base = kmem_counter_next;
		kmem_counter_next += n;
	}
	kmem_lock_exit(&kmem_cpu_list_lock);
	return (base);
}

static void
table_free(uint64_t *ctr, uint32_t n)
{
	vmem_free(kmem_metadata_arena, ctr - COUNTER_COLOUR,
	    (COUNTER_COLOUR + n) * sizeof (uint64_t));
}

/* Give this record a table with room for counter i (owner only). */
static bool
counter_grow(kmem_cpu_t *cpu, uint32_t i)
{
	uint32_t n = 64;

	while (n <= i)
		n *= 2;
	uint64_t *ctr = vmem_alloc(kmem_metadata_arena, (COUNTER_COLOUR + n) *
	    sizeof (uint64_t), VM_NOSLEEP | VM_NORMALPRI);
	if (ctr == NULL)
		return (false);
	ctr += COUNTER_COLOUR;
	memset(ctr, 0, n * sizeof (uint64_t));
	kmem_lock_enter(&kmem_cpu_list_lock);
	uint64_t *old = cpu->cpu_ctr;
	uint32_t old_n = cpu->cpu_nctr;
	bool ok = kmem_plat_self_enter() == cpu && !cpu->cpu_busy;
	if (ok) {
		kmem_store_relaxed(&cpu->cpu_busy, 1);
		kmem_compiler_barrier();
		if (old != NULL)
			memcpy(ctr, old, old_n * sizeof (uint64_t));
		kmem_store_release(&cpu->cpu_ctr, ctr);
		kmem_store_release(&cpu->cpu_nctr, n);
		kmem_store_release(&cpu->cpu_busy, 0);
	}
	kmem_plat_self_exit();
	kmem_lock_exit(&kmem_cpu_list_lock);
	if (ok && old != NULL)
		table_free(old, old_n);
	if (!ok)
		table_free(ctr, n);
	return (ok);
}

/*
 * Add a to counter i and b to counter i + 1, where the fast path could
 * not: in this thread's record (growing its table), or else atomically in
 * the retired table.
 */
void
kmi_counter_add(uint32_t i, uint64_t a, uint64_t b)
{
	ASSERT(i != 0 && i + 1 < KMEM_NCOUNTERS);
	kmem_cpu_t *cpu = kmem_plat_self_enter();
	bool done = kmem_counter_add2(cpu, i, a, b);
	kmem_plat_self_exit();
	if (done)
		return;
	if (cpu != NULL && kmi_cpu_enabled && i + 1 >= cpu->cpu_nctr &&
	    !cpu->cpu_busy && counter_grow(cpu, i + 1)) {
		cpu = kmem_plat_self_enter();
		done = kmem_counter_add2(cpu, i, a, b);
		kmem_plat_self_exit();
		if (done)
			return;
	}
	kmem_fetch_add(&kmem_counter_retired[i], a);
	kmem_fetch_add(&kmem_counter_retired[i + 1], b);
}

static void counter_sum(uint32_t i, uint32_t n, uint64_t *out);

/* out[k] = the sum of counter i + k, k < n. */
void
kmi_counter_read(uint32_t i, uint32_t n, uint64_t *out)
{
	kmem_lock_enter(&kmem_cpu_list_lock);
	counter_sum(i, n, out);
}

/* The same, unless another thread holds the records' list: false then. */
bool
kmi_counter_read_try(uint32_t i, uint32_t n, uint64_t *out)
{
	if (!kmem_lock_tryenter(&kmem_cpu_list_lock))
		return (false);
	counter_sum(i, n, out);
	return (true);
}

/* The sum, under kmem_cpu_list_lock, which it drops. */
static void
counter_sum(uint32_t i, uint32_t n, uint64_t *out)
{
	ASSERT(i != 0 && i + n <= KMEM_NCOUNTERS);
	for (uint32_t k = 0; k < n; k++)
		out[k] = kmem_load_relaxed(&kmem_counter_retired[i + k]);
	for (kmem_list_t *lp = kmem_cpu_list.next; lp != &kmem_cpu_list;
	    lp = lp->next) {
		kmem_cpu_t *cpu = KMEM_CONTAINER(lp, kmem_cpu_t, cpu_link);
		uint32_t nctr = kmem_load_acquire(&cpu->cpu_nctr);
		uint64_t *ctr = kmem_load_acquire(&cpu->cpu_ctr);
		for (uint32_t k = 0; k < n && i + k < nctr; k++)
			out[k] += kmem_load_relaxed(&ctr[i + k]);
	}
	kmem_lock_exit(&kmem_cpu_list_lock);
}

/*
 * cpu leaves kmem_cpu_list (its thread exits, or does not exist in a
 * forked child): what it counted moves to the retired table.  The caller
 * holds kmem_cpu_list_lock (or is alone: a forked child), so no reader
 * counts it twice or not at all.
 */
void
kmi_counter_retire(kmem_cpu_t *cpu)
{
	for (uint32_t k = 1; k < cpu->cpu_nctr; k++)
		if (cpu->cpu_ctr[k] != 0)
			kmem_fetch_add(&kmem_counter_retired[k],
			    cpu->cpu_ctr[k]);
}

/* The record is gone from every list: free its table. */
void
kmi_counter_free(kmem_cpu_t *cpu)
{
	if (cpu->cpu_ctr != NULL)
		table_free(cpu->cpu_ctr, cpu->cpu_nctr);
	cpu->cpu_ctr = NULL;
	cpu->cpu_nctr = 0;
}
