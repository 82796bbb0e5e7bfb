/*
 * Transaction auditing (KMEM_DEBUG=audit[=frames], contents, nosignal).
 *
 * Theory of operation
 * -------------------
 * An audited cache (KMF_AUDIT, which implies the buftag) follows each
 * buffer's buftag with an audit bufctl, kmem_bufctl_audit_t (public in
 * <kmem/kmem_debug.h>): the buffer's address and cache, its slab, and the
 * latest transaction on it -- allocation or free, the thread, the time
 * (kmem_plat_stamp_ns(), cheap and possibly coarse) and
 * up to cache_audit_depth return addresses from the platform's stack walk.
 * It lives in the chunk, so it survives while the buffer is free, and a
 * report on a buffer can show the previous transaction: who freed a buffer
 * later modified or freed again, who allocated a buffer whose redzone was
 * overrun.  illumos keeps it outside the buffer (audit forces hashed
 * slabs); inside, it costs no lookup and is found from the buffer alone,
 * at buf + cache_audit.
 *
 * bc_addr and bc_cache name the buffer and cache from the first time the
 * slab layer hands the chunk out, and are checked on every transaction:
 * a mismatch is a corrupted bufctl.
 *
 * With the transaction log on, each transaction also copies the bufctl
 * into the log (log.c) and links it; with KMF_CONTENTS and the contents
 * log on, a free saves the buffer's first bytes first.  With
 * KMF_CHECKSIGNAL, a transaction whose stack holds a signal-return frame
 * was made in a signal handler, and stops the process.
 *
 * Locking: the bufctl belongs to whoever owns the buffer; the logs have
 * their own locks.
 */
#include "debug_impl.h"

uint32_t kmi_audit_frames = KMEM_STACK_DEPTH;

/* An audit bufctl with room for the deepest stack, on the stack. */
typedef union audit_local {
	kmem_bufctl_audit_t	a;
	uintptr_t		words[sizeof (kmem_bufctl_audit_t) /
	    sizeof (uintptr_t) + KMEM_STACK_MAX];
} audit_local_t;

/* The calling thread's transaction now, with no buffer. */
static kmem_bufctl_audit_t *
audit_now(audit_local_t *al, kmem_cache_t *cp, uint32_t event)
{
	kmem_bufctl_audit_t *bcp = &al->a;

	memset(bcp, 0, sizeof (*bcp));
	bcp->bc_cache = cp;
	bcp->bc_thread = kmem_plat_thread();
	bcp->bc_timestamp = kmem_plat_stamp_ns();
	bcp->bc_event = event;
	bcp->bc_depth = (uint32_t)kmem_plat_stack(bcp->bc_stack,
	    (int)kmi_audit_frames);
	return (bcp);
}

static void *
audit_slab(kmem_cache_t *cp, void *buf)
{
	if (slab_is_small(cp))
		return (slab_of_small(cp, buf));
	/* Large slabs: slab_take() left the hash bufctl in the buftag. */
	kmem_bufctl_t *bcp = kmem_buftag(cp, buf)->bt_link;
	return (bcp != NULL ? bcp->bc_slab : NULL);
}

/* A chunk handed out for the first time: name it in its bufctl. */
void
kmi_audit_fresh(kmem_cache_t *cp, void *buf)
{
	kmem_bufctl_audit_t *bcp = kmem_audit(cp, buf);

	memset(bcp, 0, kmem_audit_size(cp));
	bcp->bc_addr = buf;
	bcp->bc_cache = cp;
}

static void
audit_check_signal(const uintptr_t *stack, uint32_t depth, const char *what)
{
	for (uint32_t i = 0; i < depth; i++) {
		if (kmem_plat_signal_frame(stack[i])) {
			kmi_printf(NULL, NULL, "kmem: %s called from a signal "
			    "handler (nosignal)", what);
			kmem_plat_panic("kmem: unsafe call from a signal "
			    "handler");
		}
	}
}

/* Record a transaction on buf, which the caller has checked. */
void
kmi_audit_record(kmem_cache_t *cp, void *buf, uint32_t event)
{
	kmem_bufctl_audit_t *bcp = kmem_audit(cp, buf);

	bcp->bc_slab = audit_slab(cp, buf);
	bcp->bc_thread = kmem_plat_thread();
	bcp->bc_timestamp = kmem_plat_stamp_ns();
	bcp->bc_event = event;
	bcp->bc_depth = (uint32_t)kmem_plat_stack(bcp->bc_stack,
	    (int)cp->cache_audit_depth);
	if (cp->cache_flags & KMF_CHECKSIGNAL)
		audit_check_signal(bcp->bc_stack, bcp->bc_depth,
		    event == KMEM_AUDIT_FREE ? "kmem_cache_free" :
		    "kmem_cache_alloc");
	if (event == KMEM_AUDIT_FREE && (cp->cache_flags & KMF_CONTENTS) &&
	    kmem_log_on(KMEM_LOG_CONTENTS)) {
		kmem_contents_t kc = {
			.kc_addr = buf, .kc_cache = cp,
			.kc_timestamp = bcp->bc_timestamp,
			.kc_size = (uint32_t)kmem_min(cp->cache_bufsize,
			    kmi_content_maxsave),
		};
		bcp->bc_contents = kmi_log_enter(KMEM_LOG_CONTENTS, &kc,
		    sizeof (kc), buf, kc.kc_size);
	}
	if (kmem_log_on(KMEM_LOG_TRANSACTION))
		bcp->bc_lastlog = kmi_log_enter(KMEM_LOG_TRANSACTION, bcp,
		    kmem_audit_size(cp), NULL, 0);
}

/* An allocation from cp (NULL: the oversize arena) returned NULL. */
void
kmi_audit_fail(kmem_cache_t *cp)
{
	audit_local_t al;

	if (!kmem_log_on(KMEM_LOG_FAIL))
		return;
	kmem_bufctl_audit_t *bcp = audit_now(&al, cp, KMEM_AUDIT_FAIL);
	kmi_log_enter(KMEM_LOG_FAIL, bcp, sizeof (*bcp) +
	    bcp->bc_depth * sizeof (uintptr_t), NULL, 0);
}

const kmem_bufctl_audit_t *
kmem_buffer_audit(kmem_cache_t *cp, const void *buf)
{
	void *chunk;

	if (!(cp->cache_flags & KMF_AUDIT) ||
	    kmi_slab_find(cp, buf, &chunk) == NULL || chunk != buf)
		return (NULL);
	return (kmem_audit(cp, chunk));
}

void
kmem_audit_print(const kmem_bufctl_audit_t *bcp,
    void (*pr)(void *arg, const char *line), void *arg)
{
	uint64_t now = kmem_plat_stamp_ns();
	uint64_t ago = now > bcp->bc_timestamp ? now - bcp->bc_timestamp : 0;
	char sym[128];

	kmi_printf(pr, arg, "thread=%p  time=T-%lu.%09lu  slab=%p  cache: %s",
	    (void *)bcp->bc_thread, (unsigned long)(ago / 1000000000u),
	    (unsigned long)(ago % 1000000000u), bcp->bc_slab,
	    bcp->bc_cache != NULL ? bcp->bc_cache->cache_name :
	    "kmem_oversize");
	for (uint32_t i = 0; i < bcp->bc_depth && i < KMEM_STACK_MAX; i++) {
		kmem_plat_symbol(bcp->bc_stack[i], sym, sizeof (sym));
		kmi_printf(pr, arg, "    %s", sym);
	}
}

/*
 * The audit part of an error report on buf, a buffer freed to (or
 * allocated from) cp: with owner (the cache buf really belongs to, when
 * known) audited, chunk's previous transaction; with cp audited, the
 * stack of the call that found the error.
 */
void
kmi_audit_report(kmem_cache_t *cp, void *buf, kmem_cache_t *owner,
    void *chunk)
{
	audit_local_t al;

	if (owner != NULL && (owner->cache_flags & KMF_AUDIT) &&
	    kmem_audit_is_sound(owner, chunk) &&
	    kmem_audit(owner, chunk)->bc_event != 0) {
		kmi_printf(NULL, NULL, "previous transaction on buffer %p:",
		    chunk);
		kmem_audit_print(kmem_audit(owner, chunk), NULL, NULL);
	}
	if (!(cp->cache_flags & KMF_AUDIT))
		return;
	kmi_printf(NULL, NULL, "failing transaction on buffer %p:", buf);
	kmem_audit_print(audit_now(&al, cp, 0), NULL, NULL);
}
