/*
 * Debugging logs: the transaction log, the contents log and the failure
 * log (KMEM_LOGGING=transaction[=size],contents[=size],fail[=size]).
 *
 * Theory of operation
 * -------------------
 * A log is a ring of fixed-size records in memory from kmem's metadata
 * arena, set up by kmem_init(): kmem_logs[KMEM_LOG_*] names the base, the
 * record size, the number of records and how many were ever written, so
 * that a debugger reading a core finds the newest record at index
 * (log_next - 1) % log_nrecs and walks backwards.  Records:
 *  - transaction log: a copy of a buffer's audit bufctl at each
 *    transaction (audited caches); the bufctl's bc_lastlog points at the
 *    copy and the copy's bc_lastlog at the buffer's previous record, which
 *    chains a buffer's history;
 *  - contents log: the first kmi_content_maxsave bytes of each freed
 *    buffer (KMEM_DEBUG=contents), with its address, cache and time;
 *  - failure log: an audit bufctl (no buffer) for each allocation that
 *    returned NULL.
 * A log is named with an optional size (64 KiB by default; 0 turns it
 * off); old records are overwritten.
 *
 * Locking: log_lock orders writers and lets kmem_log_walk() copy one
 * record at a time, so its callback runs with no lock held and may
 * allocate.  illumos splits each log into per-CPU chunks to spare the
 * lock; this implementation has one lock per log (a cost of debugging
 * only).
 */
#include "debug_impl.h"

#define KMEM_LOG_DEFAULT	(64 * 1024)

kmem_log_t kmem_logs[3] = {
	{ KMEM_LOCK_INIT, NULL, 0, 0, 0 },
	{ KMEM_LOCK_INIT, NULL, 0, 0, 0 },
	{ KMEM_LOCK_INIT, NULL, 0, 0, 0 },
};
size_t kmi_log_bytes[3];
uint32_t kmi_content_maxsave = KMEM_CONTENTS_SIZE;

static const char *const kmem_log_names[3] = {
	"transaction", "contents", "fail",
};

/* One KMEM_LOGGING item: transaction[=size], contents[=size], fail[=size]. */
kmem_optres_t
kmi_log_item(const char *name, bool has_value, const char *arg)
{
	for (int log = 0; log < 3; log++) {
		if (kmi_strcmp(name, kmem_log_names[log]) != 0)
			continue;
		uint64_t size = KMEM_LOG_DEFAULT;
		if (has_value && (!kmi_parse_size(arg, &size) ||
		    size > SIZE_MAX / 2))
			return (KMEM_OPT_BAD_VALUE);
		kmi_log_bytes[log] = (size_t)size;
		return (KMEM_OPT_OK);
	}
	return (KMEM_OPT_UNKNOWN);
}

/* The KMEM_LOGGING string: comma-separated items. */
void
kmi_log_parse(const char *items)
{
	kmi_option_each(items, "KMEM_LOGGING", kmi_log_item);
}

static size_t
kmem_log_recsize(int log)
{
	if (log == KMEM_LOG_CONTENTS)
		return (P2ROUNDUP(sizeof (kmem_contents_t) +
		    kmi_content_maxsave, sizeof (uint64_t)));
	return (sizeof (kmem_bufctl_audit_t) +
	    kmi_audit_frames * sizeof (uintptr_t));
}

/* Allocate the logs asked for; called by kmem_init() once arenas exist. */
void
kmi_log_init(void)
{
	for (int log = 0; log < 3; log++) {
		kmem_log_t *lp = &kmem_logs[log];
		size_t recsize = kmem_log_recsize(log);
		size_t bytes = P2ROUNDUP(kmi_log_bytes[log],
		    kmem_plat_pagesize());

		if (bytes < recsize || lp->log_base != NULL)
			continue;
		lp->log_base = vmem_alloc(kmem_metadata_arena, bytes,
		    VM_NOSLEEP);
		if (lp->log_base == NULL) {
			kmi_warn("KMEM_LOGGING: no memory for the %s log",
			    kmem_log_names[log]);
			continue;
		}
		lp->log_recsize = recsize;
		lp->log_nrecs = bytes / recsize;
	}
}

/* Free the logs (a failed kmem_init() is undone). */
void
kmi_log_fini(void)
{
	for (int log = 0; log < 3; log++) {
		kmem_log_t *lp = &kmem_logs[log];
		if (lp->log_base != NULL)
			vmem_free(kmem_metadata_arena, lp->log_base,
			    P2ROUNDUP(kmi_log_bytes[log],
			    kmem_plat_pagesize()));
		lp->log_base = NULL;
		lp->log_nrecs = 0;
		lp->log_next = 0;
	}
}

/* fork(2): the logs' locks are taken before, released or reset after. */
void
kmi_log_fork(int phase)
{
	for (int log = 0; log < 3; log++) {
		if (phase == VMEM_FORK_PREPARE)
			kmem_lock_enter(&kmem_logs[log].log_lock);
		else if (phase == VMEM_FORK_PARENT)
			kmem_lock_exit(&kmem_logs[log].log_lock);
		else
			kmem_lock_init(&kmem_logs[log].log_lock);
	}
}

/*
 * Append a record made of hdr and data (truncated to the record size) and
 * return where it went, or NULL if the log is off.
 */
void *
kmi_log_enter(int log, const void *hdr, size_t hdrsize, const void *data,
    size_t datasize)
{
	kmem_log_t *lp = &kmem_logs[log];

	if (lp->log_base == NULL)
		return (NULL);
	hdrsize = kmem_min(hdrsize, lp->log_recsize);
	datasize = kmem_min(datasize, lp->log_recsize - hdrsize);
	kmem_lock_enter(&lp->log_lock);
	char *rec = lp->log_base + (lp->log_next++ % lp->log_nrecs) *
	    lp->log_recsize;
	memcpy(rec, hdr, hdrsize);
	if (datasize != 0)
		memcpy(rec + hdrsize, data, datasize);
	kmem_lock_exit(&lp->log_lock);
	return (rec);
}

int
kmem_log_walk(int log, kmem_log_walk_fn *fn, void *arg)
{
	/* Big enough for either kind of record, suitably aligned. */
	union {
		kmem_bufctl_audit_t	audit;
		uint64_t		words[(sizeof (kmem_contents_t) +
		    KMEM_CONTENTS_MAX + sizeof (kmem_bufctl_audit_t) +
		    KMEM_STACK_MAX * sizeof (uintptr_t)) / sizeof (uint64_t)];
	} copy;

	if (log < 0 || log > 2 || kmem_logs[log].log_base == NULL)
		return (-1);
	kmem_log_t *lp = &kmem_logs[log];
	int visited = 0;
	kmem_lock_enter(&lp->log_lock);
	uint64_t newest = lp->log_next;
	kmem_lock_exit(&lp->log_lock);
	for (uint64_t i = newest; i-- > 0 && newest - i <= lp->log_nrecs; ) {
		kmem_lock_enter(&lp->log_lock);
		bool gone = lp->log_next - i > lp->log_nrecs;	/* overwritten */
		if (!gone)
			memcpy(&copy, lp->log_base + (i % lp->log_nrecs) *
			    lp->log_recsize, lp->log_recsize);
		kmem_lock_exit(&lp->log_lock);
		if (gone)
			break;
		visited++;
		if (fn(&copy, arg) != 0)
			break;
	}
	return (visited);
}
