/*
 * The malloc faces' reports: vmstat -m in the BSD layout, and NetBSD's
 * DIAGNOSTIC words before kmem's own report of a damaged buffer.
 *
 * kmem_vmstat_m() prints NetBSD's (<= 5) tables: memory by bucket size,
 * the types using each bucket, memory by type, and the totals.  Buckets
 * are kmem's size classes, shared with kmem_alloc(): their columns are
 * the class caches' figures (In Use buf_inuse, Free buf_avail, Requests
 * alloc, HighWater buf_max, Couldfree slab_destroy).  A type without a
 * limit shows "inf" (only the memory budget bounds it); Kern Limit is 0,
 * as kmem does not block on a kernel map.
 *
 * kmem_vmstat_m_json() is the same data for scripts: the buckets, every
 * registered type by its malloc_type_stat() fields, and the pools, in
 * bytes and counts rather than rounded KiB; the types of each bucket and
 * the totals are left to the reader (they follow from the rows).
 */
#include "bsd_impl.h"

/* ---- DIAGNOSTIC ---- */

/* kmem found an error on a guarded buffer: NetBSD's words first. */
static void
bsd_report(const kmem_face_error_t *fe)
{
	struct malloc_type *type = NULL;

	if (kmi_bsd_pool_report(fe))
		return;
	for (struct malloc_type *t = kmem_load_acquire(&kmem_bsd_types);
	    t != NULL && fe->fe_tag != 0; t = t->ks_next)
		if (kmem_bsd_tag(t) == fe->fe_tag)
			type = t;
	if (type == NULL)
		return;			/* not a malloc(9) buffer */
	size_t size = kmem_face_bufsize(fe->fe_cache);
	if (fe->fe_type == KMEM_FACE_ERR_MODIFIED) {
		kmi_printf(NULL, NULL, "Data modified on freelist: word %zu of "
		    "object %p size %zu previous type %s (0x%llx != 0x%llx)",
		    fe->fe_offset / sizeof (uint64_t), fe->fe_buf, size,
		    type->ks_shortdesc, (unsigned long long)fe->fe_found,
		    (unsigned long long)fe->fe_expected);
	} else if (fe->fe_type == KMEM_FACE_ERR_DUPFREE) {
		kmi_printf(NULL, NULL, "multiply freed item %p", fe->fe_buf);
		kmi_printf(NULL, NULL, "free: duplicated free (type %s, size "
		    "%zu)", type->ks_shortdesc, size);
	}
}

void
kmi_bsd_debug_init(void)
{
	kmem_face_report_hook(bsd_report);
}

/* ---- vmstat -m ---- */

typedef struct vmstat_ctx {
	void		(*pr)(void *arg, const char *line);
	void		*arg;
	uint64_t	used;		/* classes any type used */
	unsigned long	inuse_k, free_k, calls;
	char		line[256];
	size_t		len;
} vmstat_ctx_t;

static void
line_add(vmstat_ctx_t *vc, const char *text)
{
	kmi_strlcpy(vc->line + vc->len, text, sizeof (vc->line) - vc->len);
	vc->len += kmi_strlen(vc->line + vc->len);
}

static void
line_flush(vmstat_ctx_t *vc)
{
	if (vc->len != 0)
		vc->pr(vc->arg, vc->line);
	vc->len = 0;
	vc->line[0] = '\0';
}

static unsigned long
kbytes(unsigned long bytes)
{
	return (bytes / 1024 + (bytes % 1024 != 0));
}

static int
type_used(struct malloc_type *type, void *arg)
{
	vmstat_ctx_t *vc = arg;

	vc->used |= kmem_load_relaxed(&type->ks_size);
	return (0);
}

/* Each class cache's size, by index. */
typedef struct class_find {
	unsigned	cf_index;
	kmem_cache_t	*cf_cache;
} class_find_t;

static int
class_match(kmem_cache_t *cp, void *arg)
{
	class_find_t *cf = arg;

	if (cp->cache_class == cf->cf_index + 1) {
		cf->cf_cache = cp;
		return (1);
	}
	return (0);
}

static kmem_cache_t *
class_cache(unsigned index)
{
	class_find_t cf = { index, NULL };

	(void) kmem_cache_walk(class_match, &cf);
	return (cf.cf_cache);
}

static void
bucket_name(unsigned bit, char *buf, size_t len)
{
	kmem_cache_t *cp = bit == 63 ? NULL : class_cache(bit);

	if (cp == NULL)
		kmi_strlcpy(buf, "large", len);
	else
		kmi_snprintf(buf, len, "%zu", kmem_face_bufsize(cp));
}

typedef struct bucket_types {
	vmstat_ctx_t	*bt_vc;
	uint64_t	bt_mask;
	bool		bt_first;
} bucket_types_t;

static int
bucket_type(struct malloc_type *type, void *arg)
{
	bucket_types_t *bt = arg;
	vmstat_ctx_t *vc = bt->bt_vc;

	if (!(kmem_load_relaxed(&type->ks_size) & bt->bt_mask))
		return (0);
	if (vc->len + kmi_strlen(type->ks_shortdesc) + 2 > 78) {
		line_add(vc, ",");
		line_flush(vc);
		line_add(vc, "\t ");
		bt->bt_first = true;
	}
	if (!bt->bt_first)
		line_add(vc, ", ");
	line_add(vc, type->ks_shortdesc);
	bt->bt_first = false;
	return (0);
}

static void
print_buckets(vmstat_ctx_t *vc)
{
	char buf[96];

	vc->pr(vc->arg, "Memory statistics by bucket size");
	vc->pr(vc->arg, "    Size   In Use   Free   Requests  HighWater  "
	    "Couldfree");
	for (unsigned bit = 0; bit < 63; bit++) {
		kmem_cache_t *cp;
		if (!(vc->used & ((uint64_t)1 << bit)) ||
		    (cp = class_cache(bit)) == NULL)
			continue;
		uint64_t avail = kmem_cache_stat(cp, "buf_avail");
		kmi_snprintf(buf, sizeof (buf), "%8zu %8llu %6llu %10llu "
		    "%7llu %10llu", kmem_face_bufsize(cp),
		    (unsigned long long)kmem_cache_stat(cp, "buf_inuse"),
		    (unsigned long long)avail,
		    (unsigned long long)kmem_cache_stat(cp, "alloc"),
		    (unsigned long long)kmem_cache_stat(cp, "buf_max"),
		    (unsigned long long)kmem_cache_stat(cp, "slab_destroy"));
		vc->pr(vc->arg, buf);
		vc->free_k += (unsigned long)kbytes(avail *
		    kmem_face_bufsize(cp));
	}
	vc->pr(vc->arg, "Memory usage type by bucket size");
	vc->pr(vc->arg, "    Size  Type(s)");
	for (unsigned bit = 0; bit < 64; bit++) {
		if (!(vc->used & ((uint64_t)1 << bit)))
			continue;
		bucket_name(bit, buf, sizeof (buf));
		char head[32];
		kmi_snprintf(head, sizeof (head), "%8s  ", buf);
		line_add(vc, head);
		bucket_types_t bt = { vc, (uint64_t)1 << bit, true };
		(void) malloc_type_walk(bucket_type, &bt);
		line_flush(vc);
	}
}

static int
print_type(struct malloc_type *type, void *arg)
{
	vmstat_ctx_t *vc = arg;
	struct malloc_type_stat mts;
	char buf[64];

	if (malloc_type_stat(type, &mts) != 0 ||
	    (mts.mts_calls == 0 && mts.mts_failures == 0))
		return (0);
	char limit[24];
	if (mts.mts_limit != 0)
		kmi_snprintf(limit, sizeof (limit), "%6luK",
		    kbytes(mts.mts_limit));
	else
		kmi_strlcpy(limit, "    inf", sizeof (limit));
	kmi_snprintf(vc->line, sizeof (vc->line), "%14s%6lu%6luK%7luK%s"
	    "%9lu%5lu%6u", type->ks_shortdesc, mts.mts_inuse,
	    kbytes(mts.mts_memuse), kbytes(mts.mts_maxused), limit,
	    mts.mts_calls, mts.mts_limblocks, 0U);
	vc->len = kmi_strlen(vc->line);
	bool first = true;
	for (unsigned bit = 0; bit < 64; bit++) {
		if (!(mts.mts_sizes & ((uint64_t)1 << bit)))
			continue;
		line_add(vc, first ? "  " : ",");
		bucket_name(bit, buf, sizeof (buf));
		line_add(vc, buf);
		first = false;
	}
	line_flush(vc);
	vc->inuse_k += kbytes(mts.mts_memuse);
	vc->calls += mts.mts_calls;
	return (0);
}

void
kmem_vmstat_m(void (*pr)(void *arg, const char *line), void *arg)
{
	vmstat_ctx_t vc = { .pr = pr != NULL ? pr : kmi_print_console,
	    .arg = arg };
	char buf[96];

	(void) malloc_type_walk(type_used, &vc);
	if (vc.used == 0) {
		vc.pr(vc.arg, "Kmem statistics are not being gathered by the "
		    "kernel.");
		vc.pr(vc.arg, "");
		kmi_bsd_pool_table(vc.pr, vc.arg);
		return;
	}
	print_buckets(&vc);
	vc.pr(vc.arg, "Memory statistics by type                           "
	    "Type  Kern");
	vc.pr(vc.arg, "         Type  InUse MemUse HighUse  Limit Requests "
	    "Limit Limit Size(s)");
	(void) malloc_type_walk(print_type, &vc);
	vc.pr(vc.arg, "");
	vc.pr(vc.arg, "Memory totals:  In Use    Free    Requests");
	kmi_snprintf(buf, sizeof (buf), "              %7luK %6luK    %8lu",
	    vc.inuse_k, vc.free_k, vc.calls);
	vc.pr(vc.arg, buf);
	vc.pr(vc.arg, "");
	kmi_bsd_pool_table(vc.pr, vc.arg);
}

/* ---- vmstat -m as JSON ---- */

static void
json_buckets(kmem_json_t *kj, uint64_t used)
{
	kmi_json_list(kj, "buckets");
	for (unsigned bit = 0; bit < 63; bit++) {
		kmem_cache_t *cp;
		if (!(used & ((uint64_t)1 << bit)) ||
		    (cp = class_cache(bit)) == NULL)
			continue;
		kmi_json_row(kj, NULL);
		kmi_json_u64(kj, "size", kmem_face_bufsize(cp));
		kmi_json_u64(kj, "buf_inuse", kmem_cache_stat(cp, "buf_inuse"));
		kmi_json_u64(kj, "buf_avail", kmem_cache_stat(cp, "buf_avail"));
		kmi_json_u64(kj, "alloc", kmem_cache_stat(cp, "alloc"));
		kmi_json_u64(kj, "buf_max", kmem_cache_stat(cp, "buf_max"));
		kmi_json_u64(kj, "slab_destroy",
		    kmem_cache_stat(cp, "slab_destroy"));
		kmi_json_close(kj);
	}
	kmi_json_close(kj);
}

/* The bucket sizes a type used; past the classes is "large". */
static void
json_type_sizes(kmem_json_t *kj, uint64_t sizes)
{
	bool large = false;

	kmi_json_array(kj, "sizes");
	for (unsigned bit = 0; bit < 64; bit++) {
		if (!(sizes & ((uint64_t)1 << bit)))
			continue;
		kmem_cache_t *cp = bit == 63 ? NULL : class_cache(bit);
		if (cp != NULL)
			kmi_json_u64(kj, NULL, kmem_face_bufsize(cp));
		else
			large = true;
	}
	kmi_json_close(kj);
	kmi_json_bool(kj, "large", large);
}

static int
json_type(struct malloc_type *type, void *arg)
{
	kmem_json_t *kj = arg;
	struct malloc_type_stat mts;

	if (malloc_type_stat(type, &mts) != 0)
		return (0);
	kmi_json_row(kj, NULL);
	kmi_json_str(kj, "name", type->ks_shortdesc);
	kmi_json_u64(kj, "inuse", mts.mts_inuse);
	kmi_json_u64(kj, "memuse", mts.mts_memuse);
	kmi_json_u64(kj, "maxused", mts.mts_maxused);
	if (mts.mts_limit != 0)
		kmi_json_u64(kj, "limit", mts.mts_limit);
	else
		kmi_json_str(kj, "limit", NULL);
	kmi_json_u64(kj, "calls", mts.mts_calls);
	kmi_json_u64(kj, "failures", mts.mts_failures);
	kmi_json_u64(kj, "limblocks", mts.mts_limblocks);
	json_type_sizes(kj, mts.mts_sizes);
	kmi_json_close(kj);
	return (0);
}

void
kmem_vmstat_m_json(void (*pr)(void *arg, const char *line), void *arg)
{
	vmstat_ctx_t vc = { .pr = pr, .arg = arg };
	kmem_json_t kj;

	(void) malloc_type_walk(type_used, &vc);
	kmi_json_begin(&kj, pr, arg, "vmstat_m");
	json_buckets(&kj, vc.used);
	kmi_json_list(&kj, "types");
	(void) malloc_type_walk(json_type, &kj);
	kmi_json_close(&kj);
	kmi_bsd_pool_json(&kj);
	kmi_json_end(&kj);
}
