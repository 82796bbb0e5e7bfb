/*
 * NetBSD uvm_km(9) on kmem: page-granular kernel memory from a vmem arena
 * of its own.  Manual: kmem_uvm_km(9).  Reached as <uvm/uvm_extern.h>
 * with -I<prefix>/include/kmem/bsd.
 */
#ifndef KMEM_BSD_UVM_KM_H
#define KMEM_BSD_UVM_KM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef KMEM_BSD_NO_VADDR_T
typedef uintptr_t vaddr_t;
typedef size_t vsize_t;
#endif

/* The type: exactly one. */
#define UVM_KMF_WIRED		0x01	/* backed at once (locked if allowed) */
#define UVM_KMF_PAGEABLE	0x02	/* backed on first touch, zero-filled */
#define UVM_KMF_VAONLY		0x04	/* address space only, no memory */
#define UVM_KMF_TYPEMASK	0x07
/* Modifiers. */
#define UVM_KMF_CANFAIL		0x08	/* 0 rather than wait for memory */
#define UVM_KMF_ZERO		0x10	/* zeroed (wired) */
#define UVM_KMF_EXEC		0x20	/* accepted */
#define UVM_KMF_TRYLOCK		0x40	/* as UVM_KMF_NOWAIT */
#define UVM_KMF_NOWAIT		0x80	/* never sleep: 0 if not at once */
#define UVM_KMF_WAITVA		0x100	/* accepted: waiting is the default */
#define UVM_KMF_COLORMATCH	0x200	/* accepted */

struct vm_map;
extern struct vm_map *kernel_map;

vaddr_t	uvm_km_alloc(struct vm_map *map, vsize_t size, vsize_t align,
	    int flags);
void	uvm_km_free(struct vm_map *map, vaddr_t addr, vsize_t size,
	    int flags);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_BSD_UVM_KM_H */
