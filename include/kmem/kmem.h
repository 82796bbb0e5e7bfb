/*
 * kmem: the slab allocator with magazines (Bonwick 1994; Bonwick & Adams
 * 2001; illumos kmem_alloc(9F), kmem_cache_create(9F)).  Object caches,
 * kmem_alloc() size classes and the statistics behind ::kmastat.  The
 * manuals are kmem_alloc(9), kmem_cache_create(9) and kmem_cache_stat(9).
 */
#ifndef KMEM_KMEM_H
#define KMEM_KMEM_H

#ifdef KMEM_BSD_NETBSD_KMEM_H
#error "<kmem/kmem.h> (illumos) and <sys/kmem.h> (NetBSD kmem(9)) give KM_SLEEP different values: include one of them per source file"
#endif

#include <stddef.h>
#include <stdint.h>
#include <kmem/vmem.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Allocation flags (kmem_alloc(9F)). */
#define KM_SLEEP	0x0000	/* may sleep; never fails */
#define KM_NOSLEEP	0x0001	/* never sleeps; may fail after reclaim */
#define KM_PANIC	0x0002	/* panic rather than fail */
#define KM_PUSHPAGE	0x0004	/* may dig into the reserve */
#define KM_NORMALPRI	0x0008	/* with KM_NOSLEEP: no reclaim first */
#define KM_NOSLEEP_LAZY	(KM_NOSLEEP | KM_NORMALPRI)
#define KM_VMFLAGS	0x00ff	/* flags that must match VM_* */
#define KM_FLAGS	0xffff	/* all settable kmem flags */

/*
 * Debug flags (illumos KMF_* values; kmem_debug(9)): kmem_cache_create()
 * takes them in cflags to debug one cache, and KMEM_DEBUG sets them for
 * every cache.  AUDIT, CONTENTS and CHECKSIGNAL imply REDZONE.
 */
#define KMF_AUDIT	0x00000001	/* record each transaction */
#define KMF_DEADBEEF	0x00000002	/* free buffers filled and checked */
#define KMF_REDZONE	0x00000004	/* buffer tag and redzone */
#define KMF_CONTENTS	0x00000008	/* freed contents to the log */
#define KMF_CHECKSIGNAL	0x00000010	/* no transaction in a signal handler */
#define KMF_FIREWALL	0x00000040	/* each buffer against a guard page */
#define KMF_LITE	0x00000100	/* one pattern word only */
#define KMF_BUFTAG	(KMF_DEADBEEF | KMF_REDZONE)
#define KMF_DEBUG	(KMF_AUDIT | KMF_BUFTAG | KMF_CONTENTS | \
			    KMF_CHECKSIGNAL | KMF_FIREWALL | KMF_LITE)

/* Cache creation flags (kmem_cache_create(9F)). */
#define KMC_NOTOUCH	0x00010000	/* never write to buffers or slabs */
#define KMC_NODEBUG	0x00020000	/* no debugging for this cache */
#define KMC_NOMAGAZINE	0x00040000	/* no per-CPU (per-thread) caching */
#define KMC_NOHASH	0x00080000	/* small slabs, embedded bufctls */
#define KMC_QCACHE	0x00100000	/* quantum cache of a vmem arena */
#define KMC_KMEM_ALLOC	0x00200000	/* internal: a kmem_alloc_N cache */
#define KMC_IDENTIFIER	0x00400000	/* internal: arena is VMC_IDENTIFIER */

#define KMEM_CACHE_NAMELEN	31
#define KMEM_ALIGN		8	/* minimum alignment of every buffer */

typedef struct kmem_cache kmem_cache_t;
typedef int kmem_constructor_t(void *buf, void *private, int kmflag);
typedef void kmem_destructor_t(void *buf, void *private);
typedef void kmem_reclaim_t(void *private);

/* General-purpose allocation. */
void *kmem_alloc(size_t size, int kmflag);
void *kmem_zalloc(size_t size, int kmflag);
void kmem_free(void *buf, size_t size);

/* Object caches. */
kmem_cache_t *kmem_cache_create(const char *name, size_t bufsize,
    size_t align, kmem_constructor_t *constructor,
    kmem_destructor_t *destructor, kmem_reclaim_t *reclaim, void *private,
    vmem_t *vmp, int cflags);
void kmem_cache_destroy(kmem_cache_t *cp);
void *kmem_cache_alloc(kmem_cache_t *cp, int kmflag);
void kmem_cache_free(kmem_cache_t *cp, void *buf);
void kmem_cache_mtbf(kmem_cache_t *cp, unsigned mtbf);

/* Statistics and walking (the data behind ::kmastat). */
uint64_t kmem_cache_stat(kmem_cache_t *cp, const char *name);
int kmem_cache_walk(int (*func)(kmem_cache_t *cp, void *arg), void *arg);
const char *kmem_cache_name(kmem_cache_t *cp);
void kmem_kmastat(void (*pr)(void *arg, const char *line), void *arg);
void kmem_kmastat_json(void (*pr)(void *arg, const char *line),
    void *arg);
int kmem_verify(void (*pr)(void *arg, const char *line), void *arg);
int kmem_whatis(const void *addr, void (*pr)(void *arg, const char *line),
    void *arg);
size_t kmem_findleaks(void (*pr)(void *arg, const char *line), void *arg);

/* Set-up and maintenance. */
int kmem_init(const char *options);
void kmem_update(void);
void kmem_reap(void);
void kmem_cache_reap_now(kmem_cache_t *cp);

/* The memory budget (kmem_physmem(9)). */
typedef struct kmem_memstat {
	size_t		ms_physmem;	/* the budget */
	size_t		ms_reserve;	/* of which only KM_PUSHPAGE may use */
	size_t		ms_mapped;	/* drawn from the platform now */
	size_t		ms_peak;	/* the most ever drawn */
	size_t		ms_inuse;	/* in buffers allocated to clients */
	size_t		ms_cached;	/* in free buffers caches keep */
	size_t		ms_arena_free;	/* free space in kmem's arenas */
	uint64_t	ms_fail;	/* requests the budget refused */
} kmem_memstat_t;

int kmem_physmem_set(size_t bytes);
size_t kmem_physmem(void);
void kmem_memstat(kmem_memstat_t *ms);

/* The arenas kmem draws from (NULL before kmem_init()). */
extern vmem_t *kmem_default_arena;
extern vmem_t *kmem_oversize_arena;

#ifdef __cplusplus
}
#endif

#endif /* KMEM_KMEM_H */
