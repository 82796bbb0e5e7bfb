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
 * cache_verify bytes of each, 1 KiB by default; only the first word under lite, KMF_LITE,
 * which keeps the buftag, redzone, duplicate-free and bad-free checks and
 * gives up most of the use-after-free check for speed).
 *
 * Every transaction is checked, whether a magazine or a slab serves it: a
 * guarded cache's fast-path slot index is UINT32_MAX, so its allocations
 * and frees always take the slow paths, which call kmem_debug_alloc() and
 * kmem_debug_free() and still use the magazines.  On allocation the buftag
 * must say "free" and every word of the buffer must still hold the free
 * pattern; on free the buftag must say "allocated" (saying "free" means a
 * duplicate free) and the redzone must be intact.  Constructed state cannot
 * survive the fill, so guarded caches construct on every allocation and
 * destroy on every free, as illumos does.
 *
 * A free must also hand back one of the cache's own buffers: the buftag
 * names its cache (bt_cache, set when the slab layer first hands the chunk
 * out), which the free checks with the bxstat, in the same cache line.  If
 * either is wrong, every cache's slabs are searched to tell a buffer of
 * another cache, a pointer into the middle of a buffer, a pointer kmem
 * never handed out and a damaged tag apart.
 *
 * A violation is reported with the illumos wording, naming the buffer and
 * its cache, and the process stops (kmem_plat_panic()) unless noabort;
 * under noabort a buffer that cannot be trusted is not taken back.
 *
 * Locking: the checks touch only the buffer, which the caller owns; the
 * search after a bad free takes kmem_cache_list_lock, then each cache's
 * cache_lock.
 */
#include "debug_impl.h"

int kmem_debug_flags;
size_t kmem_minfirewall;
vmem_t *kmem_firewall_arena;
uint32_t kmem_debug_mtbf;
uint32_t kmem_maxverify = KMEM_MAXVERIFY;
static bool kmem_debug_noabort;
static bool kmem_debug_checknull_on;

static const char *const kmem_error_msg[] = {
	"buffer modified after being freed",
	"redzone violation: write past end of buffer",
	"duplicate free: buffer freed twice",
	"invalid free: buffer not in cache",
	"boundary tag corrupted",
	"bufctl corrupted",
	"buffer freed to wrong cache",
	"bad free",
	"bad free",
};

/*
 * Report, then stop unless noabort.  buf was freed to (or allocated from)
 * cp; owner and chunk say whose buffer it really is, when known, for the
 * bufctl and, with audit, its previous transaction.  The bad-free classes
 * carry their detail on the first line ("bad free: free size (N) != alloc
 * size (M)").
 */
static void
kmem_error_at(int type, kmem_cache_t *cp, void *buf, kmem_cache_t *owner,
    void *chunk, const char *detail)
{
	bool headline = (type == KMERR_BADSIZE || type == KMERR_BADBASE);
	const void *bufctl = NULL;
	void *slab = NULL, *found;

	if (owner != NULL && (owner->cache_flags & KMF_AUDIT))
		bufctl = kmem_audit(owner, chunk);
	else if (owner != NULL && (owner->cache_flags & KMF_BUFTAG))
		bufctl = kmem_buftag(owner, chunk)->bt_link;
	if (owner != NULL)	/* a search: no pointer read from the buffer */
		slab = kmem_slab_find(owner, chunk, &found);
	kmem_printf(NULL, NULL, "kernel memory allocator: %s%s%s",
	    kmem_error_msg[type], headline ? ": " : "",
	    headline ? detail : "");
	if (!headline && detail != NULL)
		kmem_printf(NULL, NULL, "%s", detail);
	kmem_printf(NULL, NULL, "buffer=%p  bufctl=%p  slab=%p  cache: %s", buf,
	    bufctl, slab, cp->cache_name);
	kmem_audit_report(cp, buf, type == KMERR_BADBUFCTL ? NULL : owner,
	    chunk);
	if (!kmem_debug_noabort)
		kmem_plat_panic("kmem: heap corruption detected");
}

static void
kmem_error(int type, kmem_cache_t *cp, void *buf, const char *detail)
{
	kmem_error_at(type, cp, buf, cp, buf, detail);
}

/* A damaged bxstat, with what it should have said (illumos' detail). */
static void
kmem_error_buftag(kmem_cache_t *cp, void *buf, uintptr_t expected)
{
	char detail[80];

	kmem_snprintf(detail, sizeof (detail), "buf ^ bxstat = %lx, should be "
	    "%lx", (unsigned long)((uintptr_t)buf ^
	    kmem_buftag(cp, buf)->bt_bxstat), (unsigned long)expected);
	kmem_error(KMERR_BADBUFTAG, cp, buf, detail);
}

typedef struct owner_search {
	const void	*os_addr;
	kmem_cache_t	*os_cache;	/* out: the cache holding os_addr */
	void		*os_chunk;	/* out: the chunk holding it */
} owner_search_t;

/*
 * A slab's memory can itself be a buffer of another cache (a vmem quantum
 * cache), so the cache with the smallest chunks that holds the address is
 * the one it was allocated from.
 */
static int
owner_search_cache(kmem_cache_t *cp, void *arg)
{
	owner_search_t *os = arg;
	void *chunk;

	if (kmem_slab_find(cp, os->os_addr, &chunk) != NULL &&
	    (os->os_cache == NULL ||
	    cp->cache_chunksize < os->os_cache->cache_chunksize)) {
		os->os_cache = cp;
		os->os_chunk = chunk;
	}
	return (0);
}

/*
 * buf, freed to cp, is not one of cp's buffers: find which cache's slab
 * holds it, if any, and say what the free did wrong (illumos' rules: not
 * in any cache, in another cache, or not at the start of its buffer).
 */
static void
kmem_error_bad_free(kmem_cache_t *cp, void *buf)
{
	owner_search_t os = { buf, NULL, NULL };
	char detail[160];

	kmem_cache_walk(owner_search_cache, &os);
	if (os.os_cache == cp && os.os_chunk == buf) {
		kmem_error_buftag(cp, buf, KMEM_BUFTAG_ALLOC);	/* its own */
	} else if (os.os_cache == NULL) {
		kmem_error_at(KMERR_BADADDR, cp, buf, NULL, buf, NULL);
	} else if (os.os_chunk != buf) {
		kmem_snprintf(detail, sizeof (detail), "free address (%p) != "
		    "alloc address (%p)", buf, os.os_chunk);
		kmem_error_at(KMERR_BADBASE, os.os_cache, buf, os.os_cache,
		    os.os_chunk, detail);
	} else {
		kmem_snprintf(detail, sizeof (detail), "buffer was allocated "
		    "from %s,\ncaller attempting free to %s.",
		    os.os_cache->cache_name, cp->cache_name);
		kmem_error_at(KMERR_BADCACHE, cp, buf, os.os_cache, buf,
		    detail);
	}
}

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
 * pattern, in one pass.  Returns n, or the index of the first word that
 * did not hold expect (the words from there on are left as they were).
 */
static size_t
check_and_fill(uint64_t *w, size_t n, uint64_t expect, uint64_t pattern)
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

/* A chunk the slab layer hands out for the first time: make it free. */
void
kmem_debug_fresh(kmem_cache_t *cp, void *buf)
{
	kmem_buftag_t *btp = kmem_buftag(cp, buf);

	fill(cp, buf, KMEM_FREE_PATTERN);
	btp->bt_redzone = KMEM_REDZONE_PATTERN;
	btp->bt_bxstat = (uintptr_t)buf ^ KMEM_BUFTAG_FREE;
	btp->bt_cache = cp;
	if (cp->cache_flags & KMF_AUDIT)
		kmem_audit_fresh(cp, buf);
}

/* buf leaves the cache: check it, mark it allocated, construct it. */
int
kmem_debug_alloc(kmem_cache_t *cp, void *buf, int kmflag)
{
	kmem_buftag_t *btp = kmem_buftag(cp, buf);
	char detail[128];

	if (btp->bt_bxstat != ((uintptr_t)buf ^ KMEM_BUFTAG_FREE))
		kmem_error_buftag(cp, buf, KMEM_BUFTAG_FREE);
	if ((cp->cache_flags & KMF_AUDIT) && !kmem_audit_is_sound(cp, buf)) {
		kmem_error(KMERR_BADBUFCTL, cp, buf, NULL);
		kmem_audit_fresh(cp, buf);		/* noabort: repair */
	}
	if (cp->cache_flags & KMF_DEADBEEF) {
		uint64_t *w = buf;
		size_t n = kmem_verify_words(cp);
		size_t i = check_and_fill(w, n, KMEM_FREE_PATTERN,
		    KMEM_UNINITIALIZED);
		if (i < n) {
			kmem_snprintf(detail, sizeof (detail), "modification "
			    "occurred at offset 0x%zx (0x%llx replaced by "
			    "0x%llx)", i * sizeof (uint64_t),
			    (unsigned long long)KMEM_FREE_PATTERN,
			    (unsigned long long)w[i]);
			kmem_error(KMERR_MODIFIED, cp, buf, detail);
			fill(cp, buf, KMEM_UNINITIALIZED);	/* noabort */
		}
	}
	btp->bt_redzone = KMEM_REDZONE_PATTERN;
	btp->bt_bxstat = (uintptr_t)buf ^ KMEM_BUFTAG_ALLOC;
	if (cp->cache_constructor != NULL) {
		if (cp->cache_constructor(buf, cp->cache_private, kmflag) != 0) {
			fill(cp, buf, KMEM_FREE_PATTERN);
			btp->bt_bxstat = (uintptr_t)buf ^ KMEM_BUFTAG_FREE;
			return (-1);
		}
		kmem_fetch_add(&cp->cache_ctor_calls, 1);
	}
	if (cp->cache_flags & KMF_AUDIT)
		kmem_audit_record(cp, buf, KMEM_AUDIT_ALLOC);
	return (0);
}

/* kmem_alloc(size) took buf: remember the size, mark its end. */
void
kmem_debug_alloc_size(kmem_cache_t *cp, void *buf, size_t size)
{
	kmem_buftag(cp, buf)->bt_size = KMEM_SIZE_ENCODE(size);
	if (size < cp->cache_buftag)
		((uint8_t *)buf)[size] = KMEM_REDZONE_BYTE;
}

/* kmem_free(buf, size): the size must be the allocation's. */
void
kmem_debug_free_size(kmem_cache_t *cp, void *buf, size_t size)
{
	kmem_buftag_t *btp = kmem_buftag(cp, buf);
	char detail[96];

	if (btp->bt_bxstat != ((uintptr_t)buf ^ KMEM_BUFTAG_ALLOC))
		return;		/* kmem_debug_free() will say what is wrong */
	if (btp->bt_size != KMEM_SIZE_ENCODE(size)) {
		uint64_t was = (btp->bt_size - 1) / 251;
		if ((btp->bt_size - 1) % 251 != 0) {
			kmem_error(KMERR_BADBUFTAG, cp, buf, NULL);
			return;
		}
		kmem_snprintf(detail, sizeof (detail), "free size (%zu) != "
		    "alloc size (%lu)", size, (unsigned long)was);
		kmem_error(KMERR_BADSIZE, cp, buf, detail);
		return;
	}
	if (size < cp->cache_buftag &&
	    ((uint8_t *)buf)[size] != KMEM_REDZONE_BYTE)
		kmem_error(KMERR_REDZONE, cp, buf, NULL);
}

/*
 * buf comes back: check it, destroy it, fill it, mark it free.  false
 * when buf cannot be trusted (not one of cp's buffers, freed twice, buftag
 * or redzone damaged): it is reported and, under noabort, left out of the
 * cache, as illumos does, rather than handed out again.
 */
bool
kmem_debug_free(kmem_cache_t *cp, void *buf)
{
	kmem_buftag_t *btp = kmem_buftag(cp, buf);

	bool allocated = btp->bt_bxstat == ((uintptr_t)buf ^ KMEM_BUFTAG_ALLOC);
	bool freed = btp->bt_bxstat == ((uintptr_t)buf ^ KMEM_BUFTAG_FREE);

	/* A pointer into the middle, another cache or nowhere: classify. */
	if ((!allocated && !freed) || btp->bt_cache != cp) {
		kmem_error_bad_free(cp, buf);
		return (false);
	}
	if (freed) {
		kmem_error(KMERR_DUPFREE, cp, buf, NULL);
		return (false);
	}
	if (btp->bt_redzone != KMEM_REDZONE_PATTERN) {
		kmem_error(KMERR_REDZONE, cp, buf, NULL);
		return (false);
	}
	if (cp->cache_flags & KMF_AUDIT) {
		if (!kmem_audit_is_sound(cp, buf)) {
			kmem_error(KMERR_BADBUFCTL, cp, buf, NULL);
			return (false);
		}
		kmem_audit_record(cp, buf, KMEM_AUDIT_FREE);
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
kmem_debug_alloc_failed(kmem_cache_t *cp, const char *from, size_t size)
{
	kmem_audit_fail(cp);
	if (!kmem_debug_checknull_on)
		return;
	kmem_printf(NULL, NULL, "kmem: allocation of %zu bytes from %s "
	    "failed (checknull)", size, from);
	kmem_plat_panic("kmem: allocation failed");
}

/*
 * The firewall arena: each span it imports is followed by a guard page,
 * mapped with it but inaccessible, and goes back to the platform as soon
 * as it is free (firewall caches keep no empty slab), so that a write
 * past a buffer or a use after free faults at once.
 */
static void *
firewall_import(vmem_t *src, size_t *sizep, size_t align, int vmflag)
{
	size_t page = kmem_plat_pagesize();
	size_t size = P2ROUNDUP(*sizep, page);

	(void)src;
	(void)align;
	char *va = vmem_pages_map(size + page, vmflag);
	if (va == NULL)
		return (NULL);
	if (!kmem_plat_guard(va + size, page)) {
		vmem_pages_unmap(va, size + page);
		return (NULL);
	}
	*sizep = size;
	return (va);
}

static void
firewall_release(vmem_t *src, void *va, size_t size)
{
	(void)src;
	vmem_pages_unmap(va, size + kmem_plat_pagesize());
}

/* After the arenas exist: the logs and the firewall arena. */
int
kmem_debug_init(void)
{
	kmem_log_init();
	if (kmem_firewall_arena != NULL)
		return (0);
	kmem_firewall_arena = vmem_xcreate("kmem_firewall", NULL, 0,
	    kmem_plat_pagesize(), firewall_import, firewall_release, NULL, 0,
	    VM_SLEEP);
	return (kmem_firewall_arena != NULL ? 0 : -1);
}

/*
 * KMEM_DEBUG items (UMEM_DEBUG syntax):
 *   guards		deadbeef and redzone checks on every transaction
 *   audit[=frames]	record each transaction (audit.c), frames deep
 *   contents[=bytes]	save freed buffers' first bytes (contents log)
 *   default		audit, contents and guards
 *   lite		the cheaper checks (one pattern word)
 *   firewall=size	buffers of size bytes or more end at a guard page
 *   maxverify=N	check the pattern in N bytes of each buffer
 *   mtbf=N		fail 1 KM_NOSLEEP allocation in N
 *   checknull		stop when an allocation would return NULL
 *   noabort		report corruption without stopping
 *   nosignal		stop on a transaction in a signal handler (audit)
 *   verbose		accepted (reports always go to the console)
 */
void
kmem_debug_parse(const char *items)
{
	const char *p = items;
	char name[KMEM_OPTION_LEN], arg[KMEM_OPTION_LEN];
	bool has_value;

	while (kmem_option_next(&p, name, arg, &has_value)) {
		uint64_t v = 0;
		if (has_value && (!kmem_parse_size(arg, &v) || v > UINT32_MAX)) {
			kmem_warn("KMEM_DEBUG: %s: '%s' is not a number", name,
			    arg);
			continue;
		}
		uint32_t value = (uint32_t)v;
		if (kmem_strcmp(name, "mtbf") == 0 && has_value)
			kmem_debug_mtbf = value;
		else if (kmem_strcmp(name, "maxverify") == 0 && has_value)
			kmem_maxverify = value;
		else if (kmem_strcmp(name, "guards") == 0)
			kmem_debug_flags |= KMF_BUFTAG;
		else if (kmem_strcmp(name, "default") == 0)
			kmem_debug_flags |= KMF_BUFTAG | KMF_AUDIT |
			    KMF_CONTENTS;
		else if (kmem_strcmp(name, "audit") == 0) {
			kmem_debug_flags |= KMF_REDZONE | KMF_AUDIT;
			if (has_value)
				kmem_audit_frames = kmem_min(value,
				    KMEM_STACK_MAX);
		} else if (kmem_strcmp(name, "contents") == 0) {
			kmem_debug_flags |= KMF_REDZONE | KMF_AUDIT |
			    KMF_CONTENTS;
			if (has_value)
				kmem_content_maxsave = kmem_min(value,
				    KMEM_CONTENTS_MAX);
		} else if (kmem_strcmp(name, "nosignal") == 0)
			kmem_debug_flags |= KMF_REDZONE | KMF_AUDIT |
			    KMF_CHECKSIGNAL;
		else if (kmem_strcmp(name, "firewall") == 0)
			kmem_minfirewall = has_value && value != 0 ? value :
			    kmem_plat_pagesize() / 2;
		else if (kmem_strcmp(name, "lite") == 0)
			kmem_debug_flags |= KMF_BUFTAG | KMF_LITE;
		else if (kmem_strcmp(name, "checknull") == 0)
			kmem_debug_checknull_on = true;
		else if (kmem_strcmp(name, "noabort") == 0)
			kmem_debug_noabort = true;
		else if (kmem_strcmp(name, "verbose") != 0)
			kmem_warn("KMEM_DEBUG: '%s' not supported", name);
	}
}
