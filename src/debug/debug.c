/*
 * Debugging: catching heap corruption on every transaction.
 *
 * Theory of operation
 * -------------------
 * A guarded cache (KMF_DEADBEEF | KMF_REDZONE, from KMEM_DEBUG=guards or
 * default, unless the cache is KMC_NODEBUG or KMC_NOTOUCH) follows each
 * buffer with a buftag: a redzone word (0xfeedfacefeedface), the free-list
 * link the slab layer would otherwise keep in the buffer, and bt_bxstat,
 * the buffer's address XORed with 0xa110c8ed while it is allocated and
 * with 0xf4eef4ee while it is free.  A free buffer is filled with
 * 0xdeadbeef; an allocated one starts filled with 0xbaddcafe (the first
 * cache_verify bytes of each, 1 KiB by default; only the first word under
 * lite, KMF_LITE, which keeps the buftag, redzone, duplicate-free and
 * bad-free checks and gives up most of the use-after-free check for
 * speed).  The buftag also names its cache (bt_cache) and, for kmem_alloc
 * buffers, the size asked for.  An audited cache (audit.c) keeps each
 * buffer's latest transaction after the buftag.
 *
 * Every transaction is checked, whether a magazine or a slab serves it: a
 * guarded cache's fast-path slot index is UINT32_MAX, so its allocations
 * and frees always take the slow paths, which call the cache's debug
 * table (kmi_debug_ops: debug_alloc() and debug_free()) and still use
 * the magazines.  On allocation the buftag
 * must say "free" and every word of the buffer must still hold the free
 * pattern; on free the buftag must say "allocated" (saying "free" means a
 * duplicate free) and the redzone must be intact.  Constructed state cannot
 * survive the fill, so guarded caches construct on every allocation and
 * destroy on every free, as illumos does.
 *
 * A free must also hand back one of the cache's own buffers: the buftag
 * names its cache (bt_cache, set when the slab layer first hands the chunk
 * out), which the free checks with the bxstat, in the same cache line.  If
 * either is wrong, error.c searches every cache's slabs to classify it.
 *
 * A violation is reported by error.c, and the process stops unless
 * noabort; under noabort a buffer that cannot be trusted is not taken
 * back.  Settings are in settings.c, auditing in audit.c, the logs in
 * log.c, kmem_verify() in verify.c.
 *
 * Locking: the checks touch only the buffer, which the caller owns.
 */
#include "debug_impl.h"

/*
 * The pattern loops run on every guarded transaction: four words per step,
 * with no branch inside a step, so that they stay cheap enough to leave on.
 */
static void
fill(kmem_cache_t *cp, void *buf, uint64_t pattern)
{
	uint64_t *w = buf;
	size_t i = 0, n = kmem_verify_words(cp);

	for (; i + 4 <= n; i += 4) {
		w[i] = pattern;
		w[i + 1] = pattern;
		w[i + 2] = pattern;
		w[i + 3] = pattern;
	}
	for (; i < n; i++)
		w[i] = pattern;
}

/*
 * Check that the first n words of w hold expect and replace them with
 * pattern, in one pass (pattern == expect: only check).  Returns n, or
 * the index of the first word that did not hold expect (the words from
 * there on are left as they were).
 */
size_t
kmi_check_and_fill(uint64_t *w, size_t n, uint64_t expect, uint64_t pattern)
{
	size_t i = 0;

	for (; i + 4 <= n; i += 4) {
		if (((w[i] ^ expect) | (w[i + 1] ^ expect) |
		    (w[i + 2] ^ expect) | (w[i + 3] ^ expect)) != 0)
			break;
		w[i] = pattern;
		w[i + 1] = pattern;
		w[i + 2] = pattern;
		w[i + 3] = pattern;
	}
	for (; i < n; i++) {
		if (w[i] != expect)
			return (i);
		w[i] = pattern;
	}
	return (n);
}

/*
 * A guarded cache's chunk: the buftag follows the buffer and holds the
 * free link; an audited cache's audit bufctl follows the buftag.
 */
static size_t
debug_layout(kmem_cache_t *cp)
{
	cp->cache_buftag = P2ROUNDUP(cp->cache_bufsize, sizeof (uint64_t));
	cp->cache_bufctl = cp->cache_buftag + offsetof(kmem_buftag_t, bt_link);
	size_t end = cp->cache_buftag + sizeof (kmem_buftag_t);
	if (cp->cache_flags & KMF_AUDIT) {
		cp->cache_audit = end;
		cp->cache_audit_depth = kmi_audit_frames;
		end += kmem_audit_size(cp);
	}
	return (end);
}

/* A hashed slab's buffer: its tag names its bufctl (for audit). */
static void
debug_link(kmem_cache_t *cp, void *buf, kmem_bufctl_t *bcp)
{
	kmem_buftag(cp, buf)->bt_link = bcp;
}

/* A chunk the slab layer hands out for the first time: make it free. */
static void
debug_fresh(kmem_cache_t *cp, void *buf)
{
	kmem_buftag_t *btp = kmem_buftag(cp, buf);

	fill(cp, buf, KMEM_FREE_PATTERN);
	btp->bt_redzone = KMEM_REDZONE_PATTERN;
	btp->bt_bxstat = (uintptr_t)buf ^ KMEM_BUFTAG_FREE;
	btp->bt_cache = cp;
	if (cp->cache_flags & KMF_AUDIT)
		kmi_audit_fresh(cp, buf);
}

/* buf leaves the cache: check it, mark it allocated, construct it. */
static int
debug_alloc(kmem_cache_t *cp, void *buf, int kmflag)
{
	kmem_buftag_t *btp = kmem_buftag(cp, buf);

	if (btp->bt_bxstat != ((uintptr_t)buf ^ KMEM_BUFTAG_FREE))
		kmi_error_buftag(cp, buf, KMEM_BUFTAG_FREE);
	if ((cp->cache_flags & KMF_AUDIT) && !kmem_audit_is_sound(cp, buf)) {
		kmi_error(KMERR_BADBUFCTL, cp, buf, NULL);
		kmi_audit_fresh(cp, buf);		/* noabort: repair */
	}
	if (cp->cache_flags & KMF_DEADBEEF) {
		uint64_t *w = buf;
		size_t n = kmem_verify_words(cp);
		size_t i = kmi_check_and_fill(w, n, KMEM_FREE_PATTERN,
		    KMEM_UNINITIALIZED);
		if (i < n) {
			kmi_error_modified(cp, buf, i, KMEM_FREE_PATTERN,
			    w[i]);
			fill(cp, buf, KMEM_UNINITIALIZED);	/* noabort */
		}
	}
	btp->bt_redzone = KMEM_REDZONE_PATTERN;
	btp->bt_bxstat = (uintptr_t)buf ^ KMEM_BUFTAG_ALLOC;
	btp->bt_tag = 0;
	if (cp->cache_constructor != NULL) {
		if (cp->cache_constructor(buf, cp->cache_private, kmflag) != 0) {
			fill(cp, buf, KMEM_FREE_PATTERN);
			btp->bt_bxstat = (uintptr_t)buf ^ KMEM_BUFTAG_FREE;
			return (-1);
		}
		kmem_fetch_add(&cp->cache_ctor_calls, 1);
	}
	if (cp->cache_flags & KMF_AUDIT)
		kmi_audit_record(cp, buf, KMEM_AUDIT_ALLOC);
	return (0);
}

/* kmem_alloc(size) took buf: remember the size, mark its end. */
void
kmi_debug_alloc_size(kmem_cache_t *cp, void *buf, size_t size)
{
	kmem_buftag(cp, buf)->bt_size = KMEM_SIZE_ENCODE(size);
	if (size < cp->cache_buftag)
		((uint8_t *)buf)[size] = KMEM_REDZONE_BYTE;
}

/* kmem_free(buf, size): the size must be the allocation's. */
void
kmi_debug_free_size(kmem_cache_t *cp, void *buf, size_t size)
{
	kmem_buftag_t *btp = kmem_buftag(cp, buf);
	char detail[96];

	if (btp->bt_bxstat != ((uintptr_t)buf ^ KMEM_BUFTAG_ALLOC))
		return;		/* debug_free() will say what is wrong */
	if (btp->bt_size != KMEM_SIZE_ENCODE(size)) {
		uint64_t was = (btp->bt_size - 1) / 251;
		if ((btp->bt_size - 1) % 251 != 0) {
			kmi_error(KMERR_BADBUFTAG, cp, buf, NULL);
			return;
		}
		kmi_snprintf(detail, sizeof (detail), "free size (%zu) != "
		    "alloc size (%lu)", size, (unsigned long)was);
		kmi_error(KMERR_BADSIZE, cp, buf, detail);
		return;
	}
	if (size < cp->cache_buftag &&
	    ((uint8_t *)buf)[size] != KMEM_REDZONE_BYTE)
		kmi_error(KMERR_REDZONE, cp, buf, NULL);
}

/*
 * buf comes back: check it, destroy it, fill it, mark it free.  false
 * when buf cannot be trusted (not one of cp's buffers, freed twice, buftag
 * or redzone damaged): it is reported and, under noabort, left out of the
 * cache, as illumos does, rather than handed out again.
 */
static bool
debug_free(kmem_cache_t *cp, void *buf)
{
	kmem_buftag_t *btp = kmem_buftag(cp, buf);

	bool allocated = btp->bt_bxstat == ((uintptr_t)buf ^ KMEM_BUFTAG_ALLOC);
	bool freed = btp->bt_bxstat == ((uintptr_t)buf ^ KMEM_BUFTAG_FREE);

	/* A pointer into the middle, another cache or nowhere: classify. */
	if ((!allocated && !freed) || btp->bt_cache != cp) {
		kmi_error_bad_free(cp, buf);
		return (false);
	}
	if (freed) {
		kmi_error(KMERR_DUPFREE, cp, buf, NULL);
		return (false);
	}
	if (btp->bt_redzone != KMEM_REDZONE_PATTERN) {
		kmi_error(KMERR_REDZONE, cp, buf, NULL);
		return (false);
	}
	if (cp->cache_flags & KMF_AUDIT) {
		if (!kmem_audit_is_sound(cp, buf)) {
			kmi_error(KMERR_BADBUFCTL, cp, buf, NULL);
			return (false);
		}
		kmi_audit_record(cp, buf, KMEM_AUDIT_FREE);
	}
	if (cp->cache_destructor != NULL) {
		cp->cache_destructor(buf, cp->cache_private);
		kmem_fetch_add(&cp->cache_dtor_calls, 1);
	}
	if (cp->cache_flags & KMF_DEADBEEF)
		fill(cp, buf, KMEM_FREE_PATTERN);
	btp->bt_size = 0;
	btp->bt_bxstat = (uintptr_t)buf ^ KMEM_BUFTAG_FREE;
	return (true);
}

/*
 * An allocation from cp (NULL: the oversize arena; from names it) is
 * about to return NULL: log it (the failure log), and under
 * KMEM_DEBUG=checknull stop the process instead, for programs that do not
 * check.
 */
void
kmi_debug_alloc_failed(kmem_cache_t *cp, const char *from, size_t size)
{
	kmi_audit_fail(cp);
	if (!kmi_debug_checknull_on)
		return;
	kmi_printf(NULL, NULL, "kmem: allocation of %zu bytes from %s "
	    "failed (checknull)", size, from);
	kmem_plat_panic("kmem: allocation failed");
}

/* What a guarded cache's layers call (kmem_types.h). */
const kmem_debug_ops_t kmi_debug_ops = {
	debug_layout, debug_fresh, debug_link, debug_alloc, debug_free,
};
