/*
 * Debugging: classifying and reporting heap corruption.
 *
 * Every error a debugged cache finds is reported here, with the illumos
 * wording and numbering (KMERR_*): the headline, the detail line, then
 * "buffer=... bufctl=... slab=... cache: ..." and, for audited caches,
 * the previous transaction on the buffer and the failing one (audit.c).
 * Then the process stops (kmem_plat_panic()) unless noabort.
 *
 * A free that does not hand back one of the cache's own buffers is
 * classified by searching every cache's slabs (illumos' rules): not in any
 * cache, in another cache, or not at the start of its buffer.  The search
 * takes kmem_cache_list_lock, then each cache_lock; no report reads a
 * pointer out of the damaged buffer.
 */
#include "debug_impl.h"

bool kmi_debug_noabort;

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
	"bad free",
};

/* A face's report of the same error, in its own words (kmem_face.h). */
void (*kmi_debug_face_report)(const kmem_face_error_t *);

static void
face_report(int type, kmem_cache_t *owner, void *chunk, size_t offset,
    uint64_t expected, uint64_t found)
{
	void (*report)(const kmem_face_error_t *) =
	    kmem_load_acquire(&kmi_debug_face_report);

	if (report == NULL || owner == NULL ||
	    !(owner->cache_flags & KMF_BUFTAG))
		return;
	kmem_face_error_t fe = { type, owner, chunk,
	    kmem_buftag(owner, chunk)->bt_tag, offset, expected, found };
	report(&fe);
}

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
	bool headline = (type == KMERR_BADSIZE || type == KMERR_BADBASE ||
	    type == KMERR_FACE);
	const void *bufctl = NULL;
	void *slab = NULL, *found;

	if (owner != NULL && (owner->cache_flags & KMF_AUDIT))
		bufctl = kmem_audit(owner, chunk);
	else if (owner != NULL && (owner->cache_flags & KMF_BUFTAG))
		bufctl = kmem_buftag(owner, chunk)->bt_link;
	if (owner != NULL)	/* a search: no pointer read from the buffer */
		slab = kmi_slab_find(owner, chunk, &found);
	if (type == KMERR_REDZONE && slab != NULL)
		face_report(type, owner, chunk, 0, KMEM_REDZONE_PATTERN,
		    kmem_buftag(owner, chunk)->bt_redzone);
	else if (type != KMERR_MODIFIED && type != KMERR_FACE && slab != NULL)
		face_report(type, owner, chunk, 0, 0, 0);
	kmi_printf(NULL, NULL, "kernel memory allocator: %s%s%s",
	    kmem_error_msg[type], headline ? ": " : "",
	    headline ? detail : "");
	if (!headline && detail != NULL)
		kmi_printf(NULL, NULL, "%s", detail);
	kmi_printf(NULL, NULL, "buffer=%p  bufctl=%p  slab=%p  cache: %s", buf,
	    bufctl, slab, cp->cache_name);
	kmi_audit_report(cp, buf, type == KMERR_BADBUFCTL ? NULL : owner,
	    chunk);
	if (!kmi_debug_noabort)
		kmem_plat_panic("kmem: heap corruption detected");
}

void
kmi_error(int type, kmem_cache_t *cp, void *buf, const char *detail)
{
	kmem_error_at(type, cp, buf, cp, buf, detail);
}

/* Free buffer buf was written to: word is where, found what. */
void
kmi_error_modified(kmem_cache_t *cp, void *buf, size_t word,
    uint64_t expected, uint64_t found)
{
	char detail[128];

	face_report(KMERR_MODIFIED, cp, buf, word * sizeof (uint64_t),
	    expected, found);
	kmi_snprintf(detail, sizeof (detail), "modification occurred at "
	    "offset 0x%zx (0x%llx replaced by 0x%llx)",
	    word * sizeof (uint64_t), (unsigned long long)expected,
	    (unsigned long long)found);
	kmi_error(KMERR_MODIFIED, cp, buf, detail);
}

/* A damaged bxstat, with what it should have said (illumos' detail). */
void
kmi_error_buftag(kmem_cache_t *cp, void *buf, uintptr_t expected)
{
	char detail[80];

	kmi_snprintf(detail, sizeof (detail), "buf ^ bxstat = %lx, should be "
	    "%lx", (unsigned long)((uintptr_t)buf ^
	    kmem_buftag(cp, buf)->bt_bxstat), (unsigned long)expected);
	kmi_error(KMERR_BADBUFTAG, cp, buf, detail);
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

	if (kmi_slab_find(cp, os->os_addr, &chunk) != NULL &&
	    (os->os_cache == NULL ||
	    cp->cache_chunksize < os->os_cache->cache_chunksize)) {
		os->os_cache = cp;
		os->os_chunk = chunk;
	}
	return (0);
}

/* The cache whose slab holds addr (NULL: none), and the chunk in *chunkp. */
kmem_cache_t *
kmi_cache_holding(const void *addr, void **chunkp)
{
	owner_search_t os = { addr, NULL, NULL };

	kmem_cache_walk(owner_search_cache, &os);
	*chunkp = os.os_chunk;
	return (os.os_cache);
}

/*
 * buf, freed to cp, is not one of cp's buffers: find which cache's slab
 * holds it, if any, and say what the free did wrong (illumos' rules: not
 * in any cache, in another cache, or not at the start of its buffer).
 */
void
kmi_error_bad_free(kmem_cache_t *cp, void *buf)
{
	void *chunk;
	kmem_cache_t *owner = kmi_cache_holding(buf, &chunk);
	char detail[160];

	if (owner == cp && chunk == buf) {
		kmi_error_buftag(cp, buf, KMEM_BUFTAG_ALLOC);	/* its own */
	} else if (owner == NULL) {
		kmem_error_at(KMERR_BADADDR, cp, buf, NULL, buf, NULL);
	} else if (chunk != buf) {
		kmi_snprintf(detail, sizeof (detail), "free address (%p) != "
		    "alloc address (%p)", buf, chunk);
		kmem_error_at(KMERR_BADBASE, owner, buf, owner,
		    chunk, detail);
	} else {
		kmi_snprintf(detail, sizeof (detail), "buffer was allocated "
		    "from %s,\ncaller attempting free to %s.",
		    owner->cache_name, cp->cache_name);
		kmem_error_at(KMERR_BADCACHE, cp, buf, owner, buf,
		    detail);
	}
}
