/*
 * The four memory functions the core (and the compiler) may call, which
 * a freestanding kernel supplies itself -- with string instructions,
 * which the compiler cannot turn back into calls to these functions --
 * and the string functions the test suites use.
 */
#include <stdint.h>
#include <string.h>

void *
memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	void *d = dst;

	__asm__ __volatile__("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : :
	    "memory");
	return (dst);
}

void *
memset(void *dst, int c, size_t n)
{
	void *d = dst;

	__asm__ __volatile__("rep stosb" : "+D"(d), "+c"(n) : "a"(c) :
	    "memory");
	return (dst);
}

/* Backwards (direction flag set) when the destination overlaps above. */
void *
memmove(void *dst, const void *src, size_t n)
{
	if ((char *)dst <= (const char *)src ||
	    (const char *)src + n <= (char *)dst)
		return (memcpy(dst, src, n));
	char *d = (char *)dst + n - 1;
	const char *s = (const char *)src + n - 1;
	__asm__ __volatile__("std; rep movsb; cld" : "+D"(d), "+S"(s),
	    "+c"(n) : : "memory");
	return (dst);
}

int
memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (size_t i = 0; i < n; i++)
		if (p[i] != q[i])
			return (p[i] < q[i] ? -1 : 1);
	return (0);
}

size_t
strlen(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return (n);
}

int
strncmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i] != b[i])
			return ((unsigned char)a[i] < (unsigned char)b[i] ?
			    -1 : 1);
		if (a[i] == '\0')
			break;
	}
	return (0);
}

int
strcmp(const char *a, const char *b)
{
	return (strncmp(a, b, SIZE_MAX));
}

char *
strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return ((char *)(uintptr_t)s);
		if (*s == '\0')
			return (NULL);
	}
}

char *
strstr(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay != '\0'; hay++)
		if (strncmp(hay, needle, n) == 0)
			return ((char *)(uintptr_t)hay);
	return (n == 0 ? (char *)(uintptr_t)hay : NULL);
}
