/*
 * kmem_findleaks()'s report: the unmarked entries grouped (by cache and
 * allocation stack under audit, else by cache) while the world stands
 * still, then named and printed in ::findleaks's layout once it runs
 * again (naming a frame may take the loader's locks).  The theory is in
 * findleaks.c.
 */
#include "findleaks_impl.h"

/* ---- grouping ---- */

static uint64_t
leak_hash(uint64_t h, uint64_t v)
{
	return ((h ^ v) * 0x100000001b3ULL);
}

/* The group leak lb joins (audited: by stack; else by cache). */
static leak_group_t *
leak_group_of(leak_t *lk, const leak_buf_t *lb, const kmem_bufctl_audit_t *bca)
{
	uint64_t key = leak_hash(0xcbf29ce484222325ULL, lb->lb_cache);
	uint32_t depth = 0;

	if (bca != NULL) {
		depth = kmem_min(bca->bc_depth, KMEM_STACK_MAX);
		for (uint32_t i = 0; i < depth; i++)
			key = leak_hash(key, bca->bc_stack[i]);
	}
	for (size_t g = 0; g < lk->lk_ngroup; g++)
		if (lk->lk_group[g].lg_key == key &&
		    lk->lk_group[g].lg_cache == lb->lb_cache)
			return (&lk->lk_group[g]);
	if (lk->lk_ngroup == lk->lk_maxgroup)
		return (NULL);
	leak_group_t *lg = &lk->lk_group[lk->lk_ngroup++];
	memset(lg, 0, sizeof (*lg));
	lg->lg_key = key;
	lg->lg_cache = lb->lb_cache;
	lg->lg_time = UINT64_MAX;
	lg->lg_depth = depth;
	if (bca != NULL)
		memcpy(lg->lg_stack, bca->bc_stack, depth * sizeof (uintptr_t));
	return (lg);
}

/*
 * Group the unmarked entries.  Groups are few (a search through them is
 * cheap next to the scan); past lk_maxgroup, leaks still count, in the
 * totals.
 */
void
kmi_leak_group(leak_t *lk, size_t *nleak, size_t *bytes)
{
	for (size_t i = 0; i < lk->lk_nbuf; i++) {
		const leak_buf_t *lb = &lk->lk_buf[i];
		if (lb->lb_base & LEAK_MARK)
			continue;
		kmem_cache_t *cp = lb->lb_cache == LEAK_OVERSIZE ? NULL :
		    lk->lk_caches[lb->lb_cache];
		const kmem_bufctl_audit_t *bca = cp != NULL &&
		    (cp->cache_flags & KMF_AUDIT) ? kmem_audit(cp,
		    (void *)lb->lb_base) : NULL;
		(*nleak)++;
		*bytes += leak_size(lk, lb);
		leak_group_t *lg = leak_group_of(lk, lb, bca);
		if (lg == NULL)
			continue;
		lg->lg_count++;
		lg->lg_bytes += leak_size(lk, lb);
		uint64_t when = bca != NULL ? bca->bc_timestamp : 0;
		if (lg->lg_time == UINT64_MAX || when < lg->lg_time) {
			lg->lg_time = when;
			lg->lg_addr = bca != NULL ? (uintptr_t)bca : lb->lb_base;
		}
	}
}

/* ---- the report ---- */

static bool
leak_has_prefix(const char *s, const char *prefix)
{
	while (*prefix != '\0' && *s == *prefix)
		s++, prefix++;
	return (*prefix == '\0');
}

/* kmem's own frames (and the C and C++ allocation entry points). */
static bool
leak_frame_is_kmem(const char *sym)
{
	static const char *const prefix[] = { "kmi_", "vmi_", "kmem_",
	    "vmem_" };
	static const char *const entry[] = { "malloc", "calloc", "realloc",
	    "free", "aligned_alloc", "posix_memalign", "memalign", "valloc",
	    "pvalloc", "reallocarray" };
	/* C++'s operator new and new[], every overload (_Znwm, _ZnamRKS...) */
	static const char *const cxx[] = { "_Znwm", "_Znam", "_Znwj", "_Znaj" };

	for (size_t i = 0; i < sizeof (prefix) / sizeof (prefix[0]); i++)
		if (leak_has_prefix(sym, prefix[i]))
			return (true);
	for (size_t i = 0; i < sizeof (cxx) / sizeof (cxx[0]); i++)
		if (leak_has_prefix(sym, cxx[i]))
			return (true);
	for (size_t i = 0; i < sizeof (entry) / sizeof (entry[0]); i++) {
		size_t n = kmi_strlen(entry[i]);
		if (leak_has_prefix(sym, entry[i]) && sym[n] == '+')
			return (true);
	}
	return (false);
}

/*
 * The frame that called kmem.  Frames the platform names are kmem's by
 * their names; one it cannot name (a static function, anything in a
 * program or library without dynamic symbols) may be anyone's.  So: the
 * first named frame that is not kmem's, if the innermost run of kmem's
 * and unnamed frames ends at one; else the frame after the last named
 * kmem frame; else none ("?").  A constructor's own allocation names the
 * constructor.  Returns the caller's index (lg_depth: none).
 */
static uint32_t
leak_name_caller(leak_group_t *lg)
{
	char sym[sizeof (lg->lg_caller)];
	uint32_t caller = lg->lg_depth;

	kmi_strlcpy(lg->lg_caller, "?", sizeof (lg->lg_caller));
	for (uint32_t i = 0; i < lg->lg_depth; i++) {
		if (!kmem_plat_symbol(lg->lg_stack[i], sym, sizeof (sym)))
			continue;
		if (!leak_frame_is_kmem(sym)) {
			kmi_strlcpy(lg->lg_caller, sym, sizeof (lg->lg_caller));
			return (i);
		}
		caller = i + 1;
	}
	if (caller < lg->lg_depth)
		(void) kmem_plat_symbol(lg->lg_stack[caller], lg->lg_caller,
		    sizeof (lg->lg_caller));
	return (caller);
}

/*
 * Name each group's caller, then merge the groups whose stacks differ
 * only inside kmem (a slab created or not): their key becomes the cache
 * and the frames from the caller on.
 */
static void
leak_merge_groups(leak_t *lk)
{
	size_t kept = 0;

	for (size_t i = 0; i < lk->lk_ngroup; i++) {
		leak_group_t *lg = &lk->lk_group[i];
		uint32_t first = leak_name_caller(lg);
		lg->lg_key = leak_hash(0xcbf29ce484222325ULL, lg->lg_cache);
		for (uint32_t f = first; f < lg->lg_depth; f++)
			lg->lg_key = leak_hash(lg->lg_key, lg->lg_stack[f]);
		size_t j = 0;
		while (j < kept && (lk->lk_group[j].lg_key != lg->lg_key ||
		    lk->lk_group[j].lg_cache != lg->lg_cache))
			j++;
		if (j == kept) {
			lk->lk_group[kept++] = *lg;
			continue;
		}
		leak_group_t *into = &lk->lk_group[j];
		into->lg_count += lg->lg_count;
		into->lg_bytes += lg->lg_bytes;
		if (lg->lg_time < into->lg_time) {
			into->lg_time = lg->lg_time;
			into->lg_addr = lg->lg_addr;
		}
	}
	lk->lk_ngroup = kept;
}

static const char *
leak_cache_name(const leak_t *lk, uint32_t ci)
{
	return (ci == LEAK_OVERSIZE ? "kmem_oversize" :
	    lk->lk_caches[ci]->cache_name);
}

/* Audited groups oldest first, then by cache, oversize last. */
static bool
leak_group_before(const leak_group_t *a, const leak_group_t *b)
{
	bool aa = a->lg_depth > 0 || a->lg_time != 0;
	bool ba = b->lg_depth > 0 || b->lg_time != 0;

	if (aa != ba)
		return (aa);
	if (aa)
		return (a->lg_time < b->lg_time);
	return (a->lg_cache < b->lg_cache);
}

void
kmi_leak_report(leak_t *lk, size_t nleak, size_t bytes, kmem_print_fn *pr,
    void *arg)
{
	bool audited = false;

	leak_merge_groups(lk);
	for (size_t i = 1; i < lk->lk_ngroup; i++) {
		leak_group_t g = lk->lk_group[i];
		size_t j = i;
		for (; j > 0 && leak_group_before(&g, &lk->lk_group[j - 1]);
		    j--)
			lk->lk_group[j] = lk->lk_group[j - 1];
		lk->lk_group[j] = g;
	}
	for (size_t i = 0; i < lk->lk_ngroup; i++)
		audited |= lk->lk_group[i].lg_depth > 0;
	for (uint32_t ci = 0; ci < lk->lk_ncaches; ci++)
		if (lk->lk_damaged[ci] > 0)
			kmi_printf(pr, arg, "findleaks: cache %s: %u slab%s with "
			    "a damaged free list left out (see kmem_verify)",
			    lk->lk_caches[ci]->cache_name, lk->lk_damaged[ci],
			    lk->lk_damaged[ci] == 1 ? "" : "s");
	if (lk->lk_unstopped > 0)
		kmi_printf(pr, arg, "findleaks: %u thread%s did not stop: "
		    "registers not scanned, whole stacks scanned",
		    lk->lk_unstopped, lk->lk_unstopped == 1 ? "" : "s");
	if (nleak > 0) {
		kmi_printf(pr, arg, "%-24s %6s %18s %s", "CACHE", "LEAKED",
		    audited ? "BUFCTL" : "BUFFER", "CALLER");
		for (size_t i = 0; i < lk->lk_ngroup; i++) {
			const leak_group_t *lg = &lk->lk_group[i];
			kmi_printf(pr, arg, "%-24s %6zu %#18lx %s",
			    leak_cache_name(lk, lg->lg_cache), lg->lg_count,
			    (unsigned long)lg->lg_addr, lg->lg_caller);
		}
		kmi_printf(pr, arg, "%.72s", "----------------------------"
		    "------------------------------------------------------"
		    "------------");
	}
	kmi_printf(pr, arg, "   Total %zu buffer%s, %zu byte%s", nleak,
	    nleak == 1 ? "" : "s", bytes, bytes == 1 ? "" : "s");
}
