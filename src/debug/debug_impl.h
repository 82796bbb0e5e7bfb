/*
 * Debugging: buffer tags checked on every transaction.  See debug.c.
 */
#ifndef KMEM_DEBUG_IMPL_H
#define KMEM_DEBUG_IMPL_H

#include "../slab/slab_impl.h"
#include <kmem/kmem_debug.h>

#define KMEM_FREE_PATTERN	0xdeadbeefdeadbeefULL
#define KMEM_UNINITIALIZED	0xbaddcafebaddcafeULL
#define KMEM_REDZONE_PATTERN	0xfeedfacefeedfaceULL
#define KMEM_BUFTAG_ALLOC	0xa110c8edUL
#define KMEM_BUFTAG_FREE	0xf4eef4eeUL

/* Follows each buffer of a guarded cache. */
typedef struct kmem_buftag {
	uint64_t	bt_redzone;	/* KMEM_REDZONE_PATTERN */
	void		*bt_link;	/* free list link (small slabs) */
	uintptr_t	bt_bxstat;	/* buffer address ^ ALLOC or ^ FREE */
	uint64_t	bt_size;	/* kmem_alloc: KMEM_SIZE_ENCODE(size) */
	kmem_cache_t	*bt_cache;	/* the owner, set when first handed out */
	uintptr_t	bt_tag;		/* a face's word on the buffer's last */
					/* allocation (malloc(9): its type); */
					/* 0 until a face sets it, kept after */
					/* the free for the reports */
} kmem_buftag_t;

/* kmem_alloc's size in the buftag, and its redzone byte (illumos). */
#define KMEM_SIZE_ENCODE(x)	(251 * (uint64_t)(x) + 1)
#define KMEM_REDZONE_BYTE	0xbb

/* Error classes, with the illumos numbering. */
#define KMERR_MODIFIED	0	/* buffer modified after being freed */
#define KMERR_REDZONE	1	/* redzone violation */
#define KMERR_DUPFREE	2	/* buffer freed twice */
#define KMERR_BADADDR	3	/* buffer not in cache */
#define KMERR_BADBUFTAG	4	/* boundary tag corrupted */
#define KMERR_BADBUFCTL	5	/* audit bufctl corrupted */
#define KMERR_BADCACHE	6	/* freed to another cache */
#define KMERR_BADSIZE	7	/* free size != alloc size */
#define KMERR_BADBASE	8	/* free address != alloc address */
#define KMERR_FACE	9	/* a face's rule broken (its detail) */

/*
 * An error as a face sees it (kmi_debug_face_report, called before
 * kmem's own report): the buffer, the face's tag on it, and for
 * KMERR_MODIFIED where and what.
 */
typedef struct kmem_face_error {
	int		fe_type;	/* KMERR_* */
	kmem_cache_t	*fe_cache;	/* the buffer's own cache */
	void		*fe_buf;
	uintptr_t	fe_tag;
	size_t		fe_offset;	/* KMERR_MODIFIED */
	uint64_t	fe_expected;
	uint64_t	fe_found;
} kmem_face_error_t;
extern void (*kmi_debug_face_report)(const kmem_face_error_t *);

/*
 * Bytes of each buffer filled and verified (illumos: kmi_maxverify, 1 KiB
 * unless KMEM_DEBUG=maxverify=N): big buffers are checked at their start,
 * where most stray writes land, so that the checks stay cheap enough to
 * leave on; lite checks one word.  Fixed per cache when it is created, so
 * that a change cannot make free buffers fail a longer check.
 */
#define KMEM_MAXVERIFY	1024

static inline size_t
kmem_verify_words(const kmem_cache_t *cp)
{
	return (kmem_min(cp->cache_buftag, cp->cache_verify) /
	    sizeof (uint64_t));
}

static inline kmem_buftag_t *
kmem_buftag(const kmem_cache_t *cp, void *buf)
{
	return ((kmem_buftag_t *)(void *)((char *)buf + cp->cache_buftag));
}

/* The audit bufctl that follows the buftag in an audited cache. */
static inline kmem_bufctl_audit_t *
kmem_audit(const kmem_cache_t *cp, void *buf)
{
	return ((kmem_bufctl_audit_t *)(void *)((char *)buf + cp->cache_audit));
}

static inline size_t
kmem_audit_size(const kmem_cache_t *cp)
{
	return (sizeof (kmem_bufctl_audit_t) +
	    cp->cache_audit_depth * sizeof (uintptr_t));
}

/* Does buf's audit bufctl still name buf and cp? */
static inline bool
kmem_audit_is_sound(const kmem_cache_t *cp, void *buf)
{
	const kmem_bufctl_audit_t *bcp = kmem_audit(cp, buf);

	return (bcp->bc_addr == buf && bcp->bc_cache == cp &&
	    bcp->bc_depth <= cp->cache_audit_depth);
}

/* The logs (log.c): ring buffers of fixed-size records. */
typedef struct kmem_log {
	kmem_lock_t	log_lock;
	char		*log_base;	/* NULL: the log is off */
	size_t		log_recsize;
	size_t		log_nrecs;
	uint64_t	log_next;	/* records ever written */
} kmem_log_t;

extern kmem_log_t kmem_logs[3];		/* by KMEM_LOG_* */
extern size_t kmi_log_bytes[3];	/* sizes asked for by KMEM_LOGGING */
extern uint32_t kmi_content_maxsave;

int kmi_debug_init(void);
void kmi_debug_fini(void);
void kmi_log_init(void);
void kmi_log_fork(int phase);
void kmi_log_parse(const char *items);
kmem_optres_t kmi_log_item(const char *name, bool has_value,
    const char *arg);
void kmi_log_fini(void);
void *kmi_log_enter(int log, const void *hdr, size_t hdrsize,
    const void *data, size_t datasize);

static inline bool
kmem_log_on(int log)
{
	return (kmem_logs[log].log_base != NULL);
}

/* Settings (settings.c) and reports (error.c). */
extern bool kmi_debug_noabort;
extern bool kmi_debug_checknull_on;
void kmi_error(int type, kmem_cache_t *cp, void *buf, const char *detail);
void kmi_error_modified(kmem_cache_t *cp, void *buf, size_t word,
    uint64_t expected, uint64_t found);
void kmi_error_buftag(kmem_cache_t *cp, void *buf, uintptr_t expected);
void kmi_error_bad_free(kmem_cache_t *cp, void *buf);
kmem_cache_t *kmi_cache_holding(const void *addr, void **chunkp);

/* audit.c */
void kmi_audit_fresh(kmem_cache_t *cp, void *buf);
void kmi_audit_record(kmem_cache_t *cp, void *buf, uint32_t event);
void kmi_audit_report(kmem_cache_t *cp, void *buf, kmem_cache_t *owner,
    void *chunk);
void kmi_audit_fail(kmem_cache_t *cp);

/* Debug settings for caches created from now on (KMEM_DEBUG, debug.c). */
extern int kmi_debug_flags;
extern uint32_t kmi_debug_mtbf;
extern uint32_t kmi_maxverify;
extern uint32_t kmi_audit_frames;
extern size_t kmi_minfirewall;		/* 0: no firewall */
extern vmem_t *kmi_firewall_arena;

extern const kmem_debug_ops_t kmi_debug_ops;
size_t kmi_check_and_fill(uint64_t *w, size_t n, uint64_t expect,
    uint64_t pattern);
void kmi_debug_parse(const char *items);
kmem_optres_t kmi_debug_item(const char *name, bool has_value,
    const char *arg);
void kmi_debug_alloc_failed(kmem_cache_t *cp, const char *from,
    size_t size);
void kmi_debug_alloc_size(kmem_cache_t *cp, void *buf, size_t size);
void kmi_debug_free_size(kmem_cache_t *cp, void *buf, size_t size);

#endif /* KMEM_DEBUG_IMPL_H */
