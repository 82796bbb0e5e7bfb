/*
 * kmem from interrupt handlers, on every CPU, while threads allocate.
 *
 * A table of SLOTS buffer slots is shared by everyone; slot i always
 * holds a buffer of slot_size(i) bytes or nothing, and is taken and
 * filled with atomic exchanges only.  Every timer tick, on each CPU, the
 * handler visits a few random slots: a full one is emptied and its buffer
 * checked and freed with kmem_free(); an empty one gets a buffer from
 * kmem_alloc(KM_NOSLEEP), which may fail (counted, nothing else).
 * Meanwhile one worker thread per CPU does the same with KM_SLEEP.  A
 * buffer is stamped with its slot and where it was allocated (CPU,
 * thread or interrupt), so each free is counted by origin: buffers pass
 * between the CPUs, from threads to handlers and back, and a stamp that
 * changed is corruption.
 *
 * Three phases:
 *  1. plenty of memory (every KM_NOSLEEP should succeed);
 *  2. the memory budget cut to what is mapped plus a little, with larger
 *     buffers: KM_NOSLEEP fails now and then (cleanly: NULL), and
 *     KM_SLEEP in the workers waits for frees -- the handlers' and the
 *     other CPU's (at the end of a phase the handlers only free);
 *  3. KM_SLEEP from the handler on each CPU: once where memory is at hand
 *     (it succeeds), once from a cache whose arena is full, where it
 *     would have to wait: kmem reports it on the console and returns NULL.
 * Then every slot is emptied and kmem_verify() checks every cache.
 */
#include "kernel.h"
#include "kernel_run.h"
#include <kmem/kmem.h>
#include <kmem/vmem.h>

#define	SLOTS		512
#define	VISITS		4		/* slots a handler visits per tick */
#define	PHASE_NS	2000000000ull
#define	STAMP		0x6b6d656d00000000ull	/* "kmem" */
#define	ORIGINS		(2 * KERNEL_MAX_CPUS)	/* cpu * 2 + in_interrupt */

typedef struct irq_stats {
	uint64_t	is_allocs, is_fails, is_frees;
	uint64_t	is_freed_from[ORIGINS];	/* by where it was allocated */
	uint64_t	is_sleep_ok, is_sleep_failed;
	bool		is_sleep_done;
	uint64_t	is_corrupt;
	uint64_t	is_rand;
} irq_stats_t;

/* [cpu][0]: its worker thread; [cpu][1]: its interrupt handler. */
static irq_stats_t irq_stats[KERNEL_MAX_CPUS][2];
static void *irq_slot[SLOTS];
static volatile int irq_phase;		/* 0: off; 1, 2: churn; 3: KM_SLEEP */
static bool irq_big;			/* phase 2's sizes in the slots */
static uint64_t irq_phase_end;		/* then the handlers only empty */
static kmem_cache_t *irq_full_cache;	/* phase 3: its arena is full */

static const size_t irq_sizes[2][8] = {
	{ 8, 24, 64, 200, 512, 1500, 4096, 12000 },
	{ 64, 640, 4096, 8192, 16384, 24000, 40000, 65536 },
};

static size_t
slot_size(unsigned i)
{
	return (irq_sizes[irq_big][i % 8]);
}

static uint64_t
origin_here(bool in_irq)
{
	return ((uint64_t)(kcpu()->kc_index * 2 + in_irq));
}

static void
buf_stamp(void *buf, unsigned i, size_t size, bool in_irq)
{
	uint64_t s = STAMP | (origin_here(in_irq) << 24) | i;

	((uint64_t *)buf)[0] = s;
	((uint64_t *)buf)[size / 8 - 1] = s;
}

static void
buf_free(irq_stats_t *st, void *buf, unsigned i, size_t size)
{
	uint64_t s = ((uint64_t *)buf)[0];
	uint64_t origin = (s >> 24) & 0xff;

	if ((s >> 32) != (STAMP >> 32) || (s & 0xffffff) != i ||
	    ((uint64_t *)buf)[size / 8 - 1] != s || origin >= ORIGINS)
		st->is_corrupt++;
	else
		st->is_freed_from[origin]++;
	kmem_free(buf, size);
	st->is_frees++;
}

static unsigned
next_slot(irq_stats_t *st)
{
	uint64_t x = st->is_rand;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	st->is_rand = x;
	return ((unsigned)((x * 0x2545f4914f6cdd1dull) >> 33) % SLOTS);
}

/* One visit: empty a full slot, fill an empty one (if fill). */
static void
slot_visit(irq_stats_t *st, int kmflag, bool in_irq, bool fill)
{
	unsigned i = next_slot(st);
	size_t size = slot_size(i);
	void *buf = __atomic_exchange_n(&irq_slot[i], NULL, __ATOMIC_ACQ_REL);

	if (buf != NULL) {
		buf_free(st, buf, i, size);
		return;
	}
	if (!fill)
		return;
	if ((buf = kmem_alloc(size, kmflag)) == NULL) {
		st->is_fails++;
		return;
	}
	st->is_allocs++;
	buf_stamp(buf, i, size, in_irq);
	void *old = __atomic_exchange_n(&irq_slot[i], buf, __ATOMIC_ACQ_REL);
	if (old != NULL)
		buf_free(st, old, i, size);
}

/* Phase 3, once per CPU: KM_SLEEP where it need not wait, then must. */
static void
irq_sleep_checks(irq_stats_t *st)
{
	void *buf = kmem_alloc(256, KM_SLEEP);

	if (buf != NULL) {
		st->is_sleep_ok++;
		kmem_free(buf, 256);
	}
	if ((buf = kmem_cache_alloc(irq_full_cache, KM_SLEEP)) == NULL)
		st->is_sleep_failed++;
	else
		kmem_cache_free(irq_full_cache, buf);
	__atomic_store_n(&st->is_sleep_done, true, __ATOMIC_RELEASE);
}

static void
irq_tick(kcpu_t *c)
{
	irq_stats_t *st = &irq_stats[c->kc_index][1];
	int phase = irq_phase;

	if (phase == 1 || phase == 2) {
		bool fill = clock_ns() < irq_phase_end;
		for (int k = 0; k < VISITS; k++)
			slot_visit(st, KM_NOSLEEP, true, fill);
	} else if (phase == 3 && !st->is_sleep_done) {
		irq_sleep_checks(st);
	}
}

static void *
irq_worker(void *arg)
{
	irq_stats_t *st = &irq_stats[kcpu()->kc_index][0];
	int phase = (int)(uintptr_t)arg;

	while (clock_ns() < irq_phase_end && irq_phase == phase)
		slot_visit(st, KM_SLEEP, false, true);
	return (NULL);
}

/*
 * A phase's workers stop at its end; a worker still waiting in KM_SLEEP
 * then (under the budget, every buffer may be of other sizes) gets its
 * memory as the handlers, which only empty slots from then on, free
 * everything.
 */
static void
irq_phase_run(int phase)
{
	irq_phase_end = clock_ns() + PHASE_NS;
	irq_phase = phase;
	kthread_t *t = thread_create("irq_worker", irq_worker,
	    (void *)(uintptr_t)phase, 1);
	(void)irq_worker((void *)(uintptr_t)phase);
	(void)thread_join(t);
}

/*
 * The handlers are off (irq_phase 0): wait until every CPU took two more
 * ticks, so that none is still in a visit, then empty every slot.
 */
static void
irq_slots_empty(void)
{
	irq_stats_t *st = &irq_stats[kcpu()->kc_index][0];
	uint64_t ticks[KERNEL_MAX_CPUS];

	irq_phase = 0;
	for (unsigned c = 0; c < kernel_ncpus; c++)
		ticks[c] = __atomic_load_n(&kernel_cpus[c].kc_ticks,
		    __ATOMIC_ACQUIRE);
	for (unsigned c = 0; c < kernel_ncpus; c++)
		while (__atomic_load_n(&kernel_cpus[c].kc_ticks,
		    __ATOMIC_ACQUIRE) < ticks[c] + 2)
			thread_yield();

	for (unsigned i = 0; i < SLOTS; i++) {
		void *buf = __atomic_exchange_n(&irq_slot[i], NULL,
		    __ATOMIC_ACQ_REL);
		if (buf != NULL)
			buf_free(st, buf, i, slot_size(i));
	}
}

/* A cache whose one-slab arena is full: KM_SLEEP there would wait. */
static vmem_t *
irq_full_cache_make(void **bufs, int *nbufs)
{
	static char span[65536] __attribute__((aligned(4096)));
	vmem_t *vmp = vmem_create("irqdemo_full", span, sizeof (span), 4096,
	    NULL, NULL, NULL, 0, VM_SLEEP);

	irq_full_cache = kmem_cache_create("irqdemo_full", 1024, 0, NULL,
	    NULL, NULL, NULL, vmp, KMC_NOMAGAZINE);
	*nbufs = 0;
	while ((bufs[*nbufs] = kmem_cache_alloc(irq_full_cache,
	    KM_NOSLEEP)) != NULL)
		(*nbufs)++;
	return (vmp);
}

static bool
irq_check(bool ok, const char *what)
{
	kprintf("irqdemo: %s: %s\n", ok ? "ok  " : "FAIL", what);
	return (ok);
}

/* kmem_verify()'s lines but the heading and the clean caches. */
static void
print_unclean(void *arg, const char *line)
{
	size_t n = 0;

	(void)arg;
	while (line[n] != '\0')
		n++;
	if (n < 5 || memcmp(line + n - 5, "clean", 5) != 0)
		if (memcmp(line, "Cache Name", 10) != 0)
			kprintf("%s\n", line);
}

bool
irqdemo_run(void)
{
	bool ok = true;
	void *full[64];	/* at most 65536 / 1024 */
	int nfull;
	kmem_memstat_t ms;

	for (unsigned c = 0; c < KERNEL_MAX_CPUS; c++)
		for (int k = 0; k < 2; k++)
			irq_stats[c][k].is_rand = 0x9e3779b97f4a7c15ull *
			    (2 * c + k + 1);
	intr_set_tick(irq_tick);

	kprintf("irqdemo: phase 1: interrupt handlers on %u cpus allocate "
	    "KM_NOSLEEP while threads allocate KM_SLEEP\n", kernel_ncpus);
	irq_phase_run(1);
	uint64_t fails1 = 0;
	for (unsigned c = 0; c < kernel_ncpus; c++)
		fails1 += irq_stats[c][1].is_fails;
	irq_slots_empty();

	kmem_memstat(&ms);
	size_t budget = kmem_physmem();
	kmem_physmem_set(ms.ms_mapped + 4 * 1024 * 1024);
	kprintf("irqdemo: phase 2: the same under a budget of %zu KiB\n",
	    kmem_physmem() / 1024);
	irq_big = true;
	irq_phase_run(2);
	irq_slots_empty();
	irq_big = false;
	kmem_physmem_set(budget);

	vmem_t *vmp = irq_full_cache_make(full, &nfull);
	kprintf("irqdemo: phase 3: KM_SLEEP in interrupt handlers\n");
	irq_phase = 3;
	for (unsigned c = 0; c < kernel_ncpus; c++)
		while (!__atomic_load_n(&irq_stats[c][1].is_sleep_done,
		    __ATOMIC_ACQUIRE))
			thread_yield();
	irq_phase = 0;
	intr_set_tick(NULL);
	while (nfull > 0)
		kmem_cache_free(irq_full_cache, full[--nfull]);
	kmem_cache_destroy(irq_full_cache);
	vmem_destroy(vmp);

	uint64_t allocs = 0, fails = 0, frees = 0, corrupt = 0, sleep_ok = 0;
	uint64_t sleep_failed = 0, cross = 0, irq_to_thread = 0;
	uint64_t thread_to_irq = 0;
	for (unsigned c = 0; c < kernel_ncpus; c++) {
		for (int k = 0; k < 2; k++) {
			irq_stats_t *st = &irq_stats[c][k];
			if (k == 1) {
				allocs += st->is_allocs;
				fails += st->is_fails;
				frees += st->is_frees;
			}
			corrupt += st->is_corrupt;
			sleep_ok += st->is_sleep_ok;
			sleep_failed += st->is_sleep_failed;
			for (unsigned o = 0; o < ORIGINS; o++) {
				uint64_t n = st->is_freed_from[o];
				cross += o / 2 != c ? n : 0;
				irq_to_thread += (o & 1) && k == 0 ? n : 0;
				thread_to_irq += !(o & 1) && k == 1 ? n : 0;
			}
		}
	}
	kprintf("irqdemo: interrupt handlers: %llu allocations, %llu "
	    "failures, %llu frees; frees across cpus %llu, of handlers' "
	    "buffers by threads %llu, of threads' by handlers %llu\n",
	    (unsigned long long)allocs, (unsigned long long)fails,
	    (unsigned long long)frees, (unsigned long long)cross,
	    (unsigned long long)irq_to_thread,
	    (unsigned long long)thread_to_irq);
	ok &= irq_check(kernel_ncpus >= 2, "two cpus");
	ok &= irq_check(allocs > 0 && frees > 0,
	    "handlers allocated and freed");
	for (unsigned c = 0; c < kernel_ncpus; c++) {
		char what[64];
		kmi_snprintf(what, sizeof (what), "cpu %u's handler allocated "
		    "and freed", c);
		ok &= irq_check(irq_stats[c][1].is_allocs > 0 &&
		    irq_stats[c][1].is_frees > 0, what);
	}
	ok &= irq_check(fails1 == 0, "no KM_NOSLEEP failure with memory "
	    "at hand");
	ok &= irq_check(fails > 0, "KM_NOSLEEP failed cleanly under the "
	    "budget");
	ok &= irq_check(cross > 0 && irq_to_thread > 0 && thread_to_irq > 0,
	    "buffers freed across cpus and contexts");
	ok &= irq_check(corrupt == 0, "no buffer changed while held");
	ok &= irq_check(sleep_ok == kernel_ncpus, "KM_SLEEP that need not "
	    "wait succeeds in a handler");
	ok &= irq_check(sleep_failed == kernel_ncpus, "KM_SLEEP that would "
	    "wait fails in a handler");
	ok &= irq_check(console_saw("in a context that cannot sleep"),
	    "and was reported");
	uint64_t mismatch = 0;
	for (unsigned c = 0; c < kernel_ncpus; c++)
		mismatch += kernel_cpus[c].kc_apic_mismatch;
	ok &= irq_check(mismatch == 0, "every tick ran on its cpu's "
	    "structure (APIC ID)");
	ok &= irq_check(kmem_verify(print_unclean, NULL) == 0,
	    "kmem_verify() finds every cache sound");
	return (ok);
}

void
irqdemo_report(void)
{
	for (unsigned c = 0; c < kernel_ncpus; c++) {
		irq_stats_t *st = &irq_stats[c][1];
		kprintf("cpu %u: interrupt-context allocations %llu, failures "
		    "%llu, frees %llu, KM_SLEEP refused %llu; ticks %llu\n", c,
		    (unsigned long long)st->is_allocs,
		    (unsigned long long)st->is_fails,
		    (unsigned long long)st->is_frees,
		    (unsigned long long)st->is_sleep_failed,
		    (unsigned long long)kernel_cpus[c].kc_ticks);
	}
}
