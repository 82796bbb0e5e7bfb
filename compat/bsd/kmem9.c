/*
 * NetBSD kmem(9)'s functions that are not inline translations
 * (include/kmem/bsd/netbsd_kmem.h has those): the misuse panics and the
 * string helpers.
 *
 * This file sees kmem's illumos names and flags (it includes the face
 * header), so it cannot include <sys/kmem.h>: the NetBSD prototypes are
 * repeated here, with NetBSD's flag values, and test_netbsd.c, which
 * includes the header, checks that they agree by calling them.
 */
#include <stdarg.h>

#include "bsd_impl.h"

typedef unsigned int km_flag_t;
#define NETBSD_KM_SLEEP		0x1
#define NETBSD_KM_NOSLEEP	0x2

_Noreturn void kmem_netbsd_misuse(const char *fn, const void *buf,
    size_t size, unsigned int flags);
char *kmem_asprintf(const char *fmt, ...);
char *kmem_strdupsize(const char *str, size_t *lenp, km_flag_t flags);
char *kmem_strdup(const char *str, km_flag_t flags);
char *kmem_strndup(const char *str, size_t maxlen, km_flag_t flags);
void kmem_strfree(char *str);

void
kmem_netbsd_misuse(const char *fn, const void *buf, size_t size,
    unsigned int flags)
{
	if (kmi_strcmp(fn, "kmem_free") == 0 ||
	    kmi_strcmp(fn, "kmem_intr_free") == 0)
		kmi_panic("%s(%p, %zu): %s (NetBSD kmem(9))", fn, buf, size,
		    buf == NULL ? "freeing NULL" : "size 0");
	if (size == 0)
		kmi_panic("%s(0, 0x%x): size 0 is not allowed (NetBSD "
		    "kmem(9))", fn, flags);
	kmi_panic("%s(%zu, 0x%x): exactly one of KM_SLEEP and KM_NOSLEEP is "
	    "required (NetBSD kmem(9))", fn, size, flags);
}

static int
netbsd_kmflag(const char *fn, size_t size, km_flag_t flags)
{
	if (flags != NETBSD_KM_SLEEP && flags != NETBSD_KM_NOSLEEP)
		kmem_netbsd_misuse(fn, NULL, size, flags);
	return (flags == NETBSD_KM_NOSLEEP ? KM_NOSLEEP : KM_SLEEP);
}

/* A formatted string, always KM_SLEEP (NetBSD's rule). */
char *
kmem_asprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int len = kmi_vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *str = kmem_alloc((size_t)len + 1, KM_SLEEP);
	va_start(ap, fmt);
	(void) kmi_vsnprintf(str, (size_t)len + 1, fmt, ap);
	va_end(ap);
	return (str);
}

/* A copy of str; *lenp (if not NULL) gets the bytes allocated. */
char *
kmem_strdupsize(const char *str, size_t *lenp, km_flag_t flags)
{
	size_t len = kmi_strlen(str) + 1;
	char *copy = kmem_alloc(len, netbsd_kmflag("kmem_strdupsize", len,
	    flags));

	if (copy != NULL)
		memcpy(copy, str, len);
	if (lenp != NULL)
		*lenp = len;
	return (copy);
}

char *
kmem_strdup(const char *str, km_flag_t flags)
{
	size_t len = kmi_strlen(str) + 1;
	char *copy = kmem_alloc(len, netbsd_kmflag("kmem_strdup", len, flags));

	if (copy != NULL)
		memcpy(copy, str, len);
	return (copy);
}

/* At most maxlen bytes of str, terminated: strlen + 1 bytes. */
char *
kmem_strndup(const char *str, size_t maxlen, km_flag_t flags)
{
	size_t len = 0;

	while (len < maxlen && str[len] != '\0')
		len++;
	char *copy = kmem_alloc(len + 1, netbsd_kmflag("kmem_strndup",
	    len + 1, flags));
	if (copy != NULL) {
		memcpy(copy, str, len);
		copy[len] = '\0';
	}
	return (copy);
}

/* A string from the functions above: strlen + 1 is its size. */
void
kmem_strfree(char *str)
{
	if (str == NULL)
		kmem_netbsd_misuse("kmem_free", NULL, 0, 0);
	kmem_free(str, kmi_strlen(str) + 1);
}
