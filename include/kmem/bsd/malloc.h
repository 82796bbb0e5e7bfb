/*
 * BSD kernel malloc on kmem: NetBSD malloc(9) with malloc types and
 * DragonFly kmalloc(9), served by kmem's size-class caches and per-CPU
 * magazines.  Manuals: kmem_bsd_malloc(9), kmem_kmalloc(9),
 * kmem_vmstat_m(9).
 *
 * Reached as <sys/malloc.h> with -I<prefix>/include/kmem/bsd, so kernel
 * sources keep their own includes.
 *
 * One set of flag values serves both interfaces.  M_WAITOK has a bit of
 * its own: malloc(9) waits whenever M_NOWAIT is absent (NetBSD's M_WAITOK
 * is 0, so sources passing 0 or M_ZERO alone still wait), while
 * kmalloc(9) requires exactly one of M_WAITOK and M_NOWAIT, as DragonFly
 * does.
 *
 * Hosted, a program cannot replace the C library's malloc() and free(),
 * and one source may use both: malloc(n, type, flags), free(p, type) and
 * realloc(p, n, type, flags) are kmem's, malloc(n), free(p) and
 * realloc(p, n) stay the C library's (the macros below pick by argument
 * count; define KMEM_BSD_NO_NAME_MAP to do without them).  In a kernel
 * build (_KERNEL) malloc() and free() are real functions with the BSD
 * signatures.
 */
#ifndef KMEM_BSD_MALLOC_H
#define KMEM_BSD_MALLOC_H

#include <stddef.h>
#include <stdint.h>
#if !defined(_KERNEL)
#include <stdlib.h>	/* the C library's declarations come first */
/*
 * With -I<prefix>/include/kmem/bsd this file is also what <malloc.h>
 * finds: bring the C library's <malloc.h> along, so that a hosted source
 * that includes it (malloc_usable_size(), mallopt()) still compiles.
 */
#if defined(__has_include_next)
#if __has_include_next(<malloc.h>)
#include_next <malloc.h>
#endif
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- flags ---- */
#define M_NOWAIT		0x0001	/* return NULL rather than wait */
#define M_RNOWAIT		M_NOWAIT
#define M_WAITOK		0x0002	/* may wait; never returns NULL */
#define M_CANFAIL		0x0004	/* malloc(9): NULL, not panic, for a */
					/* size that can never be allocated */
#define M_ZERO			0x0100	/* zero the memory */
#define M_USE_RESERVE		0x0200	/* may dig into the reserve */
#define M_NULLOK		0x0400	/* kmalloc(9): NULL at the type limit */
#define M_USE_INTERRUPT_RESERVE	0x1000	/* as M_USE_RESERVE */
#define M_POWEROF2		0x2000	/* kmalloc(9): round to a power of 2 */
#define M_INTWAIT		(M_WAITOK | M_USE_RESERVE | \
				    M_USE_INTERRUPT_RESERVE)
#define M_INTNOWAIT		(M_NOWAIT | M_USE_RESERVE | \
				    M_USE_INTERRUPT_RESERVE)
#define M_SYSWAIT		M_WAITOK
#define M_SYSNOWAIT		M_NOWAIT

/* ---- malloc types ---- */
#define M_MAGIC			877983977	/* the BSDs' value */
#define MALLOC_TYPE_NCOUNTERS	10	/* per-CPU counters a type takes */

/*
 * A malloc type.  Defined (statically initialised) by MALLOC_DEFINE();
 * registered with kmem on first use.  Fields past ks_longdesc are kmem's.
 */
struct malloc_type {
	struct malloc_type *ks_next;	/* registered types */
	unsigned long	ks_magic;	/* M_MAGIC */
	const char	*ks_shortdesc;	/* printed by vmstat -m */
	const char	*ks_longdesc;
	uint32_t	ks_fast;	/* ks_counters while registered and */
					/* unlimited (the fast paths' key), */
					/* else 0 */
	uint32_t	ks_counters;	/* first per-CPU counter; 0 until */
					/* first registered */
	uint32_t	ks_registered;	/* on the list vmstat -m walks */
	uint32_t	ks_waiters;	/* blocked at the limit */
	unsigned long	ks_limit;	/* bytes; 0: none */
	unsigned long	ks_reserved;	/* bytes held, while limited */
	unsigned long	ks_maxused;	/* high water, bytes (sampled) */
	unsigned long	ks_failures;	/* requests that returned NULL */
	unsigned long	ks_limblocks;	/* requests that waited at the limit */
	uint64_t	ks_size;	/* bit i: size class i used */
};
typedef struct malloc_type malloc_type_t;

#define MALLOC_DECLARE(type)	extern struct malloc_type type[1]
#define MALLOC_DEFINE(type, shortdesc, longdesc)			\
	struct malloc_type type[1] = { {				\
		.ks_magic = M_MAGIC,					\
		.ks_shortdesc = (shortdesc),				\
		.ks_longdesc = (longdesc) } }
#define MALLOC_DEFINE_LIMIT(type, shortdesc, longdesc, limit)		\
	struct malloc_type type[1] = { {				\
		.ks_magic = M_MAGIC,					\
		.ks_shortdesc = (shortdesc),				\
		.ks_longdesc = (longdesc),				\
		.ks_limit = (limit) } }

/* Statistics of one type (malloc_type_stat()). */
struct malloc_type_stat {
	unsigned long	mts_inuse;	/* allocations outstanding */
	unsigned long	mts_memuse;	/* their bytes (allocation units) */
	unsigned long	mts_maxused;	/* high water of mts_memuse */
	unsigned long	mts_limit;	/* 0: none */
	unsigned long	mts_calls;	/* allocations ever */
	unsigned long	mts_failures;	/* requests that returned NULL */
	unsigned long	mts_limblocks;	/* requests that waited at the limit */
	uint64_t	mts_sizes;	/* bit i: size class i used */
};

/* The predefined types (NetBSD malloc(9)). */
MALLOC_DECLARE(M_FREE);		MALLOC_DECLARE(M_MBUF);
MALLOC_DECLARE(M_DEVBUF);	MALLOC_DECLARE(M_SOCKET);
MALLOC_DECLARE(M_PCB);		MALLOC_DECLARE(M_RTABLE);
MALLOC_DECLARE(M_HTABLE);	MALLOC_DECLARE(M_FTABLE);
MALLOC_DECLARE(M_ZOMBIE);	MALLOC_DECLARE(M_IFADDR);
MALLOC_DECLARE(M_SOOPTS);	MALLOC_DECLARE(M_SONAME);
MALLOC_DECLARE(M_NAMEI);	MALLOC_DECLARE(M_GPROF);
MALLOC_DECLARE(M_IOCTLOPS);	MALLOC_DECLARE(M_MAPMEM);
MALLOC_DECLARE(M_CRED);		MALLOC_DECLARE(M_PGRP);
MALLOC_DECLARE(M_SESSION);	MALLOC_DECLARE(M_IOV);
MALLOC_DECLARE(M_MOUNT);	MALLOC_DECLARE(M_FHANDLE);
MALLOC_DECLARE(M_NFSREQ);	MALLOC_DECLARE(M_NFSMNT);
MALLOC_DECLARE(M_NFSNODE);	MALLOC_DECLARE(M_VNODE);
MALLOC_DECLARE(M_CACHE);	MALLOC_DECLARE(M_DQUOT);
MALLOC_DECLARE(M_UFSMNT);	MALLOC_DECLARE(M_SHM);
MALLOC_DECLARE(M_VMMAP);	MALLOC_DECLARE(M_VMMAPENT);
MALLOC_DECLARE(M_VMOBJ);	MALLOC_DECLARE(M_VMOBJHASH);
MALLOC_DECLARE(M_VMPMAP);	MALLOC_DECLARE(M_VMPVENT);
MALLOC_DECLARE(M_VMPAGER);	MALLOC_DECLARE(M_VMPGDATA);
MALLOC_DECLARE(M_FILE);		MALLOC_DECLARE(M_FILEDESC);
MALLOC_DECLARE(M_LOCKF);	MALLOC_DECLARE(M_PROC);
MALLOC_DECLARE(M_SUBPROC);	MALLOC_DECLARE(M_SEGMENT);
MALLOC_DECLARE(M_LFSNODE);	MALLOC_DECLARE(M_FFSNODE);
MALLOC_DECLARE(M_MFSNODE);	MALLOC_DECLARE(M_NQLEASE);
MALLOC_DECLARE(M_NQMHOST);	MALLOC_DECLARE(M_NETADDR);
MALLOC_DECLARE(M_NFSSVC);	MALLOC_DECLARE(M_NFSUID);
MALLOC_DECLARE(M_NFSD);		MALLOC_DECLARE(M_IPMOPTS);
MALLOC_DECLARE(M_IPMADDR);	MALLOC_DECLARE(M_IFMADDR);
MALLOC_DECLARE(M_MRTABLE);	MALLOC_DECLARE(M_ISOFSMNT);
MALLOC_DECLARE(M_ISOFSNODE);	MALLOC_DECLARE(M_MSDOSFSMNT);
MALLOC_DECLARE(M_MSDOSFSFAT);	MALLOC_DECLARE(M_MSDOSFSNODE);
MALLOC_DECLARE(M_TTYS);		MALLOC_DECLARE(M_EXEC);
MALLOC_DECLARE(M_MISCFSMNT);	MALLOC_DECLARE(M_MISCFSNODE);
MALLOC_DECLARE(M_ADOSFSMNT);	MALLOC_DECLARE(M_ADOSFSNODE);
MALLOC_DECLARE(M_ANODE);	MALLOC_DECLARE(M_IPQ);
MALLOC_DECLARE(M_AFS);		MALLOC_DECLARE(M_ADOSFSBITMAP);
MALLOC_DECLARE(M_NFSSRVDESC);	MALLOC_DECLARE(M_NFSDIROFF);
MALLOC_DECLARE(M_NFSBIGFH);	MALLOC_DECLARE(M_EXT2FSNODE);
MALLOC_DECLARE(M_VMSWAP);	MALLOC_DECLARE(M_VMPAGE);
MALLOC_DECLARE(M_VMPBUCKET);	MALLOC_DECLARE(M_UVMAMAP);
MALLOC_DECLARE(M_UVMAOBJ);	MALLOC_DECLARE(M_TEMP);
MALLOC_DECLARE(M_DMAMAP);	MALLOC_DECLARE(M_IPFLOW);
MALLOC_DECLARE(M_USB);		MALLOC_DECLARE(M_USBDEV);
MALLOC_DECLARE(M_POOL);		MALLOC_DECLARE(M_CODA);
MALLOC_DECLARE(M_FILECOREMNT);	MALLOC_DECLARE(M_FILECORENODE);
MALLOC_DECLARE(M_RAIDFRAME);	MALLOC_DECLARE(M_USBHC);
MALLOC_DECLARE(M_SECA);		MALLOC_DECLARE(M_IP6OPT);
MALLOC_DECLARE(M_IP6NDP);	MALLOC_DECLARE(M_NTFS);
MALLOC_DECLARE(M_PAGEDEP);	MALLOC_DECLARE(M_INODEDEP);
MALLOC_DECLARE(M_NEWBLK);	MALLOC_DECLARE(M_BMSAFEMAP);
MALLOC_DECLARE(M_ALLOCDIRECT);	MALLOC_DECLARE(M_INDIRDEP);
MALLOC_DECLARE(M_ALLOCINDIR);	MALLOC_DECLARE(M_FREEFRAG);
MALLOC_DECLARE(M_FREEBLKS);	MALLOC_DECLARE(M_FREEFILE);
MALLOC_DECLARE(M_DIRADD);	MALLOC_DECLARE(M_MKDIR);
MALLOC_DECLARE(M_DIRREM);	MALLOC_DECLARE(M_IP6RR);
MALLOC_DECLARE(M_RR_ADDR);	MALLOC_DECLARE(M_SOFTINTR);
MALLOC_DECLARE(M_EMULDATA);	MALLOC_DECLARE(M_1394CTL);
MALLOC_DECLARE(M_1394DATA);	MALLOC_DECLARE(M_PIPE);
MALLOC_DECLARE(M_AGP);		MALLOC_DECLARE(M_PROP);
MALLOC_DECLARE(M_NEWDIRBLK);	MALLOC_DECLARE(M_SMBIOD);
MALLOC_DECLARE(M_SMBCONN);	MALLOC_DECLARE(M_SMBRQ);
MALLOC_DECLARE(M_SMBDATA);	MALLOC_DECLARE(M_SMBSTR);
MALLOC_DECLARE(M_SMBTEMP);	MALLOC_DECLARE(M_ICONV);
MALLOC_DECLARE(M_SMBNODE);	MALLOC_DECLARE(M_SMBNODENAME);
MALLOC_DECLARE(M_SMBFSDATA);	MALLOC_DECLARE(M_SMBFSHASH);
MALLOC_DECLARE(M_SA);

/* ---- NetBSD malloc(9) ---- */
void	*kmem_bsd_malloc(unsigned long size, struct malloc_type *type,
	    int flags);
void	kmem_bsd_free(void *addr, struct malloc_type *type);
void	*kmem_bsd_realloc(void *addr, unsigned long size,
	    struct malloc_type *type, int flags);
unsigned long malloc_roundup(unsigned long size);

#define MALLOC(space, cast, size, type, flags)				\
	((space) = (cast)kmem_bsd_malloc((unsigned long)(size), (type),	\
	    (flags)))
#define FREE(addr, type)	kmem_bsd_free((void *)(addr), (type))

#if defined(_KERNEL)
void	*malloc(unsigned long size, struct malloc_type *type, int flags);
void	free(void *addr, struct malloc_type *type);
void	*realloc(void *addr, unsigned long size, struct malloc_type *type,
	    int flags);
#elif !defined(KMEM_BSD_NO_NAME_MAP)
/* By argument count: BSD's with the type, the C library's without. */
#define KMEM_BSD_ARG4(_1, _2, _3, _4, name, ...)	name
#define malloc(...)	KMEM_BSD_ARG4(__VA_ARGS__, kmem_bsd_malloc_4_args, \
	kmem_bsd_malloc, kmem_bsd_malloc_2_args, malloc, _)(__VA_ARGS__)
#define free(...)	KMEM_BSD_ARG4(__VA_ARGS__, kmem_bsd_free_4_args, \
	kmem_bsd_free_3_args, kmem_bsd_free, free, _)(__VA_ARGS__)
#define realloc(...)	KMEM_BSD_ARG4(__VA_ARGS__, kmem_bsd_realloc, \
	kmem_bsd_realloc_3_args, realloc, kmem_bsd_realloc_1_arg, \
	_)(__VA_ARGS__)
#endif

/* ---- DragonFly kmalloc(9) ---- */
void	*kmalloc(unsigned long size, struct malloc_type *type, int flags);
void	kfree(void *addr, struct malloc_type *type);
void	*krealloc(void *addr, unsigned long size, struct malloc_type *type,
	    int flags);
char	*kstrdup(const char *str, struct malloc_type *type);

/* ---- types, limits and statistics ---- */
void	malloc_type_attach(struct malloc_type *type);
void	malloc_type_detach(struct malloc_type *type);
void	malloc_type_setlimit(struct malloc_type *type, unsigned long limit);
void	kmalloc_raise_limit(struct malloc_type *type, size_t bytes);
int	malloc_type_stat(struct malloc_type *type,
	    struct malloc_type_stat *mts);
int	malloc_type_walk(int (*func)(struct malloc_type *type, void *arg),
	    void *arg);
void	kmem_vmstat_m(void (*pr)(void *arg, const char *line), void *arg);
void	kmem_vmstat_m_json(void (*pr)(void *arg, const char *line),
	    void *arg);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_BSD_MALLOC_H */
