/*
 * Giving imported memory back to the source.
 *
 * An arena gives a span back when it becomes entirely free, unless it is
 * VMC_RETAIN (kmem's heap keeps free spans so that large buffers freed
 * and asked for again reuse their pages).  What a retaining arena keeps
 * still counts against the memory budget, so when an import fails (or
 * segment structures cannot be had) the arena gives back, before anyone
 * fails or waits:
 *  - every entirely free imported span (vm_nwhole counts them, so that
 *    looking costs nothing when there is none);
 *  - for the root arena (retaining or not), whose source (the platform's
 *    pages) takes back
 *    any page-aligned part of a span, the free pages at either end of its
 *    spans: what one size leaves over in every chunk (64 KiB of a MiB
 *    for 80 KiB slabs) is budget too.  A trim that found nothing is not
 *    tried again before something is freed.
 * The source's free function runs with vm_lock dropped, in batches.
 */
#include "vmem_impl.h"

#define VMEM_RELEASE_BATCH	16

typedef struct vmem_extent {
	uintptr_t	ve_start;
	size_t		ve_size;
} vmem_extent_t;

/*
 * If free segment vsp is a whole imported span, unlink both and return the
 * span's extent so the caller can give it back to the source once vm_lock
 * is dropped.
 */
bool
vmi_span_release(vmem_t *vmp, vmem_seg_t *vsp, uintptr_t *startp,
    size_t *sizep)
{
	vmem_seg_t *span = vsp->vs_aprev;

	if (!vmem_seg_is_whole(vsp) || vmp->vm_source_free == NULL)
		return (false);
	vmp->vm_nwhole--;
	*startp = span->vs_start;
	*sizep = vs_size(span);
	vmi_freelist_delete(vmp, vsp);
	vmem_arena_remove(vsp);
	vmem_arena_remove(span);
	vmi_seg_put(vmp, vsp);
	vmi_seg_put(vmp, span);
	kmem_counter_add(&vmp->vm_kstat.vk_mem_total, -(uint64_t)*sizep);
	vmp->vm_kstat.vk_mem_import -= *sizep;
	vmp->vm_kstat.vk_export++;
	return (true);
}

/*
 * Free segment vsp of span, at one end of it but not all of it: cut it
 * off the span and return its extent.  The root arena only.
 */
static bool
vmem_span_trim(vmem_t *vmp, vmem_seg_t *span, vmem_seg_t *vsp,
    vmem_extent_t *ep)
{
	bool head = vsp->vs_start == span->vs_start;
	bool tail = vsp->vs_end == span->vs_end;

	if (head == tail)	/* neither, or the whole span */
		return (false);
	ep->ve_start = vsp->vs_start;
	ep->ve_size = vs_size(vsp);
	if (head)
		span->vs_start = vsp->vs_end;
	else
		span->vs_end = vsp->vs_start;
	vmi_freelist_delete(vmp, vsp);
	vmem_arena_remove(vsp);
	vmi_seg_put(vmp, vsp);
	kmem_counter_add(&vmp->vm_kstat.vk_mem_total,
	    -(uint64_t)ep->ve_size);
	vmp->vm_kstat.vk_mem_import -= ep->ve_size;
	return (true);
}

/*
 * One pass: up to VMEM_RELEASE_BATCH whole spans (and, if trim, span
 * ends) unlinked into ext.  vm_lock held.  Returns how many.
 */
static int
vmem_release_collect(vmem_t *vmp, bool trim, vmem_extent_t *ext)
{
	vmem_seg_t *span = NULL;
	int n = 0;

	for (vmem_seg_t *vsp = vmp->vm_seg0.vs_anext; vsp != &vmp->vm_seg0 &&
	    n < VMEM_RELEASE_BATCH; ) {
		vmem_seg_t *next = vsp->vs_anext;
		if (vsp->vs_type == VMEM_SPAN) {
			span = vsp->vs_import ? vsp : NULL;
		} else if (vsp->vs_type == VMEM_FREE && span != NULL) {
			if (vmi_span_release(vmp, vsp, &ext[n].ve_start,
			    &ext[n].ve_size)) {
				n++;
				span = NULL;
			} else if (trim && vmem_span_trim(vmp, span, vsp,
			    &ext[n])) {
				n++;
			}
		}
		vsp = next;
	}
	return (n);
}

/* Give back whole spans (and span ends if trim); the bytes given back. */
static size_t
vmem_release(vmem_t *vmp, bool trim)
{
	vmem_extent_t ext[VMEM_RELEASE_BATCH];
	size_t total = 0;
	int n;

	do {
		kmem_lock_enter(&vmp->vm_lock);
		n = vmp->vm_nwhole != 0 || trim ?
		    vmem_release_collect(vmp, trim, ext) : 0;
		if (trim && n == 0)
			vmp->vm_trim_free = vmp->vm_kstat.vk_free;
		kmem_lock_exit(&vmp->vm_lock);
		for (int i = 0; i < n; i++) {
			vmp->vm_source_free(vmp->vm_source,
			    (void *)ext[i].ve_start, ext[i].ve_size);
			total += ext[i].ve_size;
		}
	} while (n == VMEM_RELEASE_BATCH);
	return (total);
}

size_t
vmem_release_spans(vmem_t *vmp)
{
	return (vmem_release(vmp, false));
}

/* Whether vmp keeps memory worth giving back when an import fails. */
static bool
vmem_retains(vmem_t *vmp, bool *trimp)
{
	*trimp = vmp->vm_source_alloc == vmi_pages_import &&
	    vmp->vm_trim_free != vmp->vm_kstat.vk_free;
	return (vmp->vm_source_free != NULL && (*trimp ||
	    ((vmp->vm_cflags & VMC_RETAIN) && vmp->vm_nwhole != 0)));
}

/*
 * vmp's import just failed: give back what it retains.  Called and
 * returns with vm_lock held; true if anything went back.
 */
bool
vmi_release_retained(vmem_t *vmp)
{
	bool trim;

	if (!vmem_retains(vmp, &trim))
		return (false);
	kmem_lock_exit(&vmp->vm_lock);
	bool released = vmem_release(vmp, trim) != 0;
	kmem_lock_enter(&vmp->vm_lock);
	return (released);
}

/* The same for every arena (no segment structures to be had). */
bool
vmi_release_all_retained(void)
{
	size_t released = 0;
	bool trim;

	kmem_lock_enter(&vmem_list_lock);
	for (vmem_t *vmp = vmem_list; vmp != NULL; vmp = vmp->vm_next) {
		kmem_lock_enter(&vmp->vm_lock);
		bool retains = vmem_retains(vmp, &trim);
		kmem_lock_exit(&vmp->vm_lock);
		if (retains)
			released += vmem_release(vmp, trim);
	}
	kmem_lock_exit(&vmem_list_lock);
	return (released != 0);
}
