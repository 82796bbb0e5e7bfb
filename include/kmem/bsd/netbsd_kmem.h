/*
 * NetBSD kmem(9) on kmem: kmem_alloc/zalloc/free with NetBSD's flag values
 * and rules, the interrupt-safe forms and the string helpers.  Manual:
 * kmem_netbsd(9).  Reached as <sys/kmem.h> with
 * -I<prefix>/include/kmem/bsd.
 *
 * NetBSD's KM_SLEEP is 0x1 and KM_NOSLEEP 0x2, and exactly one must be
 * given; illumos's (<kmem/kmem.h>) are 0 and 1.  This header translates
 * at compile time, in inline functions, to kmem's own kmem_alloc(),
 * kmem_zalloc() and kmem_free() with illumos values, so a NetBSD-style
 * source and an illumos-style source link into one program; they cannot
 * both be included in one source file.
 */
#ifndef KMEM_BSD_NETBSD_KMEM_H
#define KMEM_BSD_NETBSD_KMEM_H

#ifdef KMEM_KMEM_H
#error "<sys/kmem.h> (NetBSD kmem(9)) and <kmem/kmem.h> (illumos) give KM_SLEEP different values: include one of them per source file"
#endif

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef unsigned int km_flag_t;

#define KM_SLEEP	0x00000001	/* may sleep; never fails */
#define KM_NOSLEEP	0x00000002	/* never sleeps; may fail */

/* kmem's own functions (illumos flags: 0 sleeps, 1 does not). */
void	*kmem_alloc(size_t size, int kmflag);
void	*kmem_zalloc(size_t size, int kmflag);
void	kmem_free(void *buf, size_t size);

/* Panics naming the call: a bad flag, size 0, freeing NULL. */
void	kmem_netbsd_misuse(const char *fn, const void *buf, size_t size,
	    unsigned int flags) __attribute__((__noreturn__));

/* NetBSD's flags to illumos's; anything but exactly one is a misuse. */
static inline int
kmem_netbsd_flag(const char *fn, size_t size, km_flag_t flags)
{
	if (__builtin_expect(size == 0 ||
	    (flags != KM_SLEEP && flags != KM_NOSLEEP), 0))
		kmem_netbsd_misuse(fn, NULL, size, flags);
	return (flags == KM_NOSLEEP);
}

/* kmem_alloc() or kmem_zalloc() with NetBSD's rules, as fn. */
static inline void *
kmem_netbsd_alloc_as(const char *fn, size_t size, km_flag_t flags, int zero)
{
	int kmflag = kmem_netbsd_flag(fn, size, flags);

	return (zero ? (kmem_zalloc)(size, kmflag) : (kmem_alloc)(size,
	    kmflag));
}

static inline void
kmem_netbsd_free_as(const char *fn, void *buf, size_t size)
{
	if (__builtin_expect(buf == NULL || size == 0, 0))
		kmem_netbsd_misuse(fn, buf, size, 0);
	(kmem_free)(buf, size);
}

static inline void *
kmem_netbsd_alloc(size_t size, km_flag_t flags)
{
	return (kmem_netbsd_alloc_as("kmem_alloc", size, flags, 0));
}

static inline void *
kmem_netbsd_zalloc(size_t size, km_flag_t flags)
{
	return (kmem_netbsd_alloc_as("kmem_zalloc", size, flags, 1));
}

static inline void
kmem_netbsd_free(void *buf, size_t size)
{
	kmem_netbsd_free_as("kmem_free", buf, size);
}

/* The interrupt-safe forms: kmem's magazines are, so the same. */
static inline void *
kmem_intr_alloc(size_t size, km_flag_t flags)
{
	return (kmem_netbsd_alloc_as("kmem_intr_alloc", size, flags, 0));
}

static inline void *
kmem_intr_zalloc(size_t size, km_flag_t flags)
{
	return (kmem_netbsd_alloc_as("kmem_intr_zalloc", size, flags, 1));
}

static inline void
kmem_intr_free(void *buf, size_t size)
{
	kmem_netbsd_free_as("kmem_intr_free", buf, size);
}

#define kmem_alloc(size, flags)		kmem_netbsd_alloc((size), (flags))
#define kmem_zalloc(size, flags)	kmem_netbsd_zalloc((size), (flags))
#define kmem_free(buf, size)		kmem_netbsd_free((buf), (size))

/* Strings: allocated strlen + 1 bytes, freed by kmem_strfree(). */
char	*kmem_asprintf(const char *fmt, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
char	*kmem_strdupsize(const char *str, size_t *lenp, km_flag_t flags);
char	*kmem_strdup(const char *str, km_flag_t flags);
char	*kmem_strndup(const char *str, size_t maxlen, km_flag_t flags);
void	kmem_strfree(char *str);

#ifdef __cplusplus
}
#endif

#endif /* KMEM_BSD_NETBSD_KMEM_H */
