/*
 * kmem_verify(): check everything kmem can check, as the debugger's
 * ::kmem_verify does, and report what is wrong.
 *
 * For every cache: the slab lists against their counters (invariants of
 * slab.c); in guarded caches, every free buffer's tag, redzone and free
 * pattern.  Per-thread magazines are purged first, so that every free
 * buffer is in a slab or the depot.  For every arena: vmem's invariants.
 * Prints one line per cache (clean, or how many corrupt buffers) and one
 * per damaged buffer or arena; returns the number of problems.
 */
#include "debug_impl.h"
#include "../magazine/magazine_impl.h"
#include "../base/track.h"

typedef struct verify_arg {
	kmem_print_fn	*va_pr;
	void		*va_arg;
	int		va_problems;
	int		va_corrupt;	/* in the cache being walked */
} verify_arg_t;

/* One free buffer of a guarded cache; false if it is damaged. */
static bool
verify_free_buffer(verify_arg_t *va, kmem_cache_t *cp, void *buf)
{
	kmem_buftag_t *btp = kmem_buftag(cp, buf);
	const char *what = NULL;
	void *where = buf;

	kmem_track_unpoison(buf, cp->cache_bufsize);	/* free: poisoned */
	if (btp->bt_bxstat != ((uintptr_t)buf ^ KMEM_BUFTAG_FREE)) {
		what = "corrupt buftag";
		where = &btp->bt_bxstat;
	} else if (btp->bt_cache != cp) {
		what = "corrupt buftag";
		where = &btp->bt_cache;
	} else if ((cp->cache_flags & KMF_AUDIT) &&
	    !kmem_audit_is_sound(cp, buf)) {
		what = "corrupt bufctl";
		where = kmem_audit(cp, buf);
	} else if (btp->bt_redzone != KMEM_REDZONE_PATTERN) {
		what = "corrupt redzone pattern";
		where = &btp->bt_redzone;
	} else if (cp->cache_flags & KMF_DEADBEEF) {
		uint64_t *w = buf;
		size_t n = kmem_verify_words(cp);
		size_t i = kmi_check_and_fill(w, n, KMEM_FREE_PATTERN,
		    KMEM_FREE_PATTERN);
		if (i < n) {
			what = "seems corrupted";
			where = &w[i];
		}
	}
	kmem_track_poison(buf, cp->cache_bufsize);
	if (what == NULL)
		return (true);
	kmi_printf(va->va_pr, va->va_arg, "buffer %p (free) %s, at %p", buf,
	    what, where);
	return (false);
}

/* The free buffers of one slab (kmi_slab_walk()). */
static int
verify_slab_cb(kmem_cache_t *cp, kmem_slab_t *sp, bool partial, void *arg)
{
	verify_arg_t *va = arg;

	uint32_t steps = 0;

	(void)partial;
	/* A damaged list (already reported) is followed while it holds. */
	for (kmem_bufctl_t *bcp = sp->slab_head; bcp != NULL &&
	    (!slab_is_small(cp) || slab_bufctl_in_slab(cp, sp, bcp)) &&
	    ++steps <= sp->slab_chunks; bcp = bcp->bc_next)
		va->va_corrupt += !verify_free_buffer(va, cp,
		    slab_bufctl_buf(cp, bcp));
	return (0);
}

static int
verify_cache(kmem_cache_t *cp, void *arg)
{
	verify_arg_t *va = arg;
	int corrupt = 0;
	bool lists_ok = kmi_cache_slabs_are_valid(cp);

	if (!lists_ok) {
		kmi_printf(va->va_pr, va->va_arg, "cache %s: slab lists do "
		    "not match their counts", cp->cache_name);
		va->va_problems++;
	}
	if (cp->cache_flags & KMF_BUFTAG) {
		kmem_lock_enter(&cp->cache_lock);
		va->va_corrupt = 0;
		(void)kmi_slab_walk(cp, verify_slab_cb, va);
		corrupt += va->va_corrupt;
		kmem_lock_exit(&cp->cache_lock);
		kmem_lock_enter(&cp->cache_depot_lock);
		for (kmem_magazine_t *mp = cp->cache_full.ml_list; mp != NULL;
		    mp = mp->mag_next)
			for (uint32_t i = 0; i < mp->mag_size; i++)
				corrupt += !verify_free_buffer(va, cp,
				    mp->mag_round[i]);
		kmem_lock_exit(&cp->cache_depot_lock);
	}
	if (corrupt != 0)
		kmi_printf(va->va_pr, va->va_arg, "%-30s %p  %d corrupt "
		    "buffers", cp->cache_name, (void *)cp, corrupt);
	else if (!lists_ok)
		kmi_printf(va->va_pr, va->va_arg, "%-30s %p  damaged slab "
		    "lists", cp->cache_name, (void *)cp);
	else
		kmi_printf(va->va_pr, va->va_arg, "%-30s %p  clean",
		    cp->cache_name, (void *)cp);
	va->va_problems += corrupt;
	return (0);
}

static int
verify_arena(vmem_t *vmp, void *arg)
{
	verify_arg_t *va = arg;

	kmem_lock_enter(&vmp->vm_lock);
	bool ok = vmi_is_valid(vmp);
	kmem_lock_exit(&vmp->vm_lock);
	if (!ok) {
		kmi_printf(va->va_pr, va->va_arg, "arena %s: segments do not "
		    "match their lists, hash or counts", vmp->vm_name);
		va->va_problems++;
	}
	return (0);
}

int
kmem_verify(void (*pr)(void *arg, const char *line), void *arg)
{
	verify_arg_t va = { pr, arg, 0, 0 };

	if (!kmi_is_ready())
		return (0);
	kmi_cpu_purge_all();
	kmi_printf(pr, arg, "%-30s %-14s  %s", "Cache Name", "Addr",
	    "Cache Integrity");
	kmem_cache_walk(verify_cache, &va);
	vmem_arena_walk(verify_arena, &va);
	return (va.va_problems);
}
