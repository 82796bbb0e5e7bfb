/*
 * kmem's debugging records, for tests, tools and the debugger extension
 * (kmem_debug(9)).  With KMEM_DEBUG=audit every buffer of a debugged
 * cache carries a kmem_bufctl_audit_t describing its latest transaction;
 * with KMEM_LOGGING the transactions, the contents of freed buffers and
 * the failed allocations also go to ring buffers ("logs") that
 * kmem_log_walk() reads, newest first.
 */
#ifndef KMEM_KMEM_DEBUG_H
#define KMEM_KMEM_DEBUG_H

#include <kmem/kmem.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a transaction record describes (bc_event). */
#define KMEM_AUDIT_ALLOC	1	/* the buffer was allocated */
#define KMEM_AUDIT_FREE		2	/* the buffer was freed */
#define KMEM_AUDIT_FAIL		3	/* an allocation failed (no buffer) */

#define KMEM_STACK_DEPTH	15	/* frames recorded by default */
#define KMEM_STACK_MAX		32	/* audit=N is at most this */
#define KMEM_CONTENTS_SIZE	256	/* bytes saved by default */
#define KMEM_CONTENTS_MAX	1024	/* contents=N is at most this */

/* One transaction: the audit bufctl of a buffer, or a log record. */
typedef struct kmem_bufctl_audit {
	void		*bc_addr;	/* the buffer; NULL in the fail log */
	kmem_cache_t	*bc_cache;
	void		*bc_slab;
	uintptr_t	bc_thread;	/* kmem_plat_thread() */
	uint64_t	bc_timestamp;	/* ns, monotonic; may be coarse */
	/* In a buffer's bufctl: its latest record in the transaction log; */
	/* in a log record: the buffer's record before this one. */
	const struct kmem_bufctl_audit *bc_lastlog;
	const struct kmem_contents *bc_contents;	/* at the last free */
	uint32_t	bc_event;	/* KMEM_AUDIT_* */
	uint32_t	bc_depth;	/* frames in bc_stack */
	uintptr_t	bc_stack[];	/* return addresses, innermost first */
} kmem_bufctl_audit_t;

/* The saved start of a freed buffer (the contents log). */
typedef struct kmem_contents {
	void		*kc_addr;
	kmem_cache_t	*kc_cache;
	uint64_t	kc_timestamp;
	uint32_t	kc_size;	/* bytes in kc_data */
	uint32_t	kc_pad;
	unsigned char	kc_data[];
} kmem_contents_t;

/* The logs (KMEM_LOGGING=transaction,contents,fail). */
#define KMEM_LOG_TRANSACTION	0	/* records: kmem_bufctl_audit_t */
#define KMEM_LOG_CONTENTS	1	/* records: kmem_contents_t */
#define KMEM_LOG_FAIL		2	/* records: kmem_bufctl_audit_t */

/*
 * Call fn with a copy of each record of the log, newest first, until fn
 * returns non-zero.  Returns the number of records visited, or -1 if the
 * log is not enabled.  fn may allocate.
 */
typedef int kmem_log_walk_fn(const void *record, void *arg);
int kmem_log_walk(int log, kmem_log_walk_fn *fn, void *arg);

/*
 * The audit bufctl of buf, a buffer of cp (allocated or free), or NULL if
 * cp is not audited or buf is not one of its buffers.
 */
const kmem_bufctl_audit_t *kmem_buffer_audit(kmem_cache_t *cp,
    const void *buf);

/*
 * Print a transaction as reports do: "thread=... time=T-s.ns slab=...
 * cache: NAME", then one symbolized frame per line.
 */
void kmem_audit_print(const kmem_bufctl_audit_t *bcp,
    void (*pr)(void *arg, const char *line), void *arg);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_KMEM_DEBUG_H */
