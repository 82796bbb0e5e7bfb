/*
 * printf to the console, snprintf on the core's formatter, and the
 * sscanf the suites use (literal text, white space, %d %u %x %s with the
 * h, l, ll and z sizes), for the test suites in the kernel.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kernel.h"

int
printf(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = kmi_vsnprintf(buf, sizeof (buf), fmt, ap);
	va_end(ap);
	console_write(buf, n < (int)sizeof (buf) ? (size_t)n :
	    sizeof (buf) - 1);
	return (n);
}

int
vsnprintf(char *buf, size_t len, const char *fmt, va_list ap)
{
	return (kmi_vsnprintf(buf, len, fmt, ap));
}

int
snprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = kmi_vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return (n);
}

static bool
is_space(char c)
{
	return (c == ' ' || c == '\t' || c == '\n');
}

static int
digit(char c, int base)
{
	int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
	    c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 99;
	return (d < base ? d : -1);
}

/* Store v through the next argument, sized by the length modifier. */
static void
store(va_list *ap, int size, uint64_t v)
{
	if (size == 'h')
		*va_arg(*ap, short *) = (short)v;
	else if (size == 'l' || size == 'L' || size == 'z')
		*va_arg(*ap, long *) = (long)v;
	else
		*va_arg(*ap, int *) = (int)v;
}

int
sscanf(const char *s, const char *fmt, ...)
{
	va_list ap;
	int done = 0;

	va_start(ap, fmt);
	for (; *fmt != '\0'; fmt++) {
		if (is_space(*fmt)) {
			while (is_space(*s))
				s++;
			continue;
		}
		if (*fmt != '%') {
			if (*s++ != *fmt)
				break;
			continue;
		}
		int size = 0;
		while (*++fmt == 'h' || *fmt == 'l' || *fmt == 'z')
			size = size == 'l' && *fmt == 'l' ? 'L' : *fmt;
		while (is_space(*s))
			s++;
		if (*fmt == 's') {
			char *out = va_arg(ap, char *);
			if (*s == '\0')
				break;
			while (*s != '\0' && !is_space(*s))
				*out++ = *s++;
			*out = '\0';
			done++;
			continue;
		}
		int base = *fmt == 'x' ? 16 : 10;
		bool neg = *fmt == 'd' && *s == '-';
		s += neg;
		if (digit(*s, base) < 0)
			break;
		uint64_t v = 0;
		while (digit(*s, base) >= 0)
			v = v * (uint64_t)base + (uint64_t)digit(*s++, base);
		store(&ap, size, neg ? -v : v);
		done++;
	}
	va_end(ap);
	return (done);
}
