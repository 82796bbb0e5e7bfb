/*
 * vmem: the general-purpose resource allocator under kmem (Bonwick & Adams,
 * "Magazines and Vmem", 2001; illumos vmem(9)).  An arena manages integer
 * ranges (addresses or identifiers) in multiples of its quantum.  See
 * vmem_create(9) for the manual.
 */
#ifndef KMEM_VMEM_H
#define KMEM_VMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Allocation flags; the low byte is shared with KM_* (see <kmem/kmem.h>). */
#define VM_SLEEP	0x00000000	/* may wait; never fails */
#define VM_NOSLEEP	0x00000001	/* never waits; may fail */
#define VM_PANIC	0x00000002	/* panic rather than fail */
#define VM_PUSHPAGE	0x00000004	/* may use the reserve */
#define VM_NORMALPRI	0x00000008	/* with VM_NOSLEEP: no reclaim first */
#define VM_KMFLAGS	0x000000ff	/* flags that must match KM_* */
#define VM_BESTFIT	0x00000100	/* best-fit policy */
#define VM_FIRSTFIT	0x00000200	/* first-fit policy */
#define VM_NEXTFIT	0x00000400	/* next-fit (rotor) policy */
#define VM_ENDALLOC	0x00004000	/* prefer high addresses */

/* Arena creation flags. */
#define VMC_POPULATOR	0x00010000
#define VMC_NO_QCACHE	0x00020000	/* no quantum caches */
#define VMC_IDENTIFIER	0x00040000	/* not backed by memory */
#define VMC_XALLOC	0x00080000	/* internal: import with vmem_xalloc */
#define VMC_XALIGN	0x00100000	/* import function honours alignment */
#define VMC_RETAIN	0x00200000	/* keep free imported spans until */
					/* vmem_release_spans() (kmem) */

/* Segment types for vmem_walk() and vmem_size(). */
#define VMEM_ALLOC	0x01
#define VMEM_FREE	0x02
#define VMEM_SPAN	0x10
#define VMEM_ROTOR	0x20
#define VMEM_WALKER	0x40
#define VMEM_REENTRANT	0x80000000	/* walk drops the arena lock */

#define VMEM_NAMELEN	30

typedef struct vmem vmem_t;
typedef void *(vmem_alloc_t)(vmem_t *, size_t, int);
typedef void (vmem_free_t)(vmem_t *, void *, size_t);
typedef void *(vmem_ximport_t)(vmem_t *, size_t *, size_t, int);

vmem_t *vmem_create(const char *name, void *base, size_t size, size_t quantum,
    vmem_alloc_t *afunc, vmem_free_t *ffunc, vmem_t *source,
    size_t qcache_max, int vmflag);
vmem_t *vmem_xcreate(const char *name, void *base, size_t size,
    size_t quantum, vmem_ximport_t *afunc, vmem_free_t *ffunc,
    vmem_t *source, size_t qcache_max, int vmflag);
void vmem_destroy(vmem_t *vmp);

void *vmem_alloc(vmem_t *vmp, size_t size, int vmflag);
void *vmem_xalloc(vmem_t *vmp, size_t size, size_t align, size_t phase,
    size_t nocross, void *minaddr, void *maxaddr, int vmflag);
void vmem_free(vmem_t *vmp, void *vaddr, size_t size);
void vmem_xfree(vmem_t *vmp, void *vaddr, size_t size);
void *vmem_add(vmem_t *vmp, void *vaddr, size_t size, int vmflag);
int vmem_contains(vmem_t *vmp, void *vaddr, size_t size);
void vmem_walk(vmem_t *vmp, int typemask,
    void (*func)(void *arg, void *vaddr, size_t size), void *arg);
size_t vmem_size(vmem_t *vmp, int typemask);

/* Observability: the data behind the debugger's ::vmem. */
const char *vmem_name(vmem_t *vmp);
vmem_t *vmem_source(vmem_t *vmp);
uint64_t vmem_stat(vmem_t *vmp, const char *name);
int vmem_arena_walk(int (*func)(vmem_t *vmp, void *arg), void *arg);
void vmem_print(void (*pr)(void *arg, const char *line), void *arg);
void vmem_print_json(void (*pr)(void *arg, const char *line), void *arg);

/* Maintenance: rescale hash tables (called by kmem_update()). */
void vmem_update(void);
/* Give a VMC_RETAIN arena's entirely free imported spans back; bytes. */
size_t vmem_release_spans(vmem_t *vmp);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_VMEM_H */
