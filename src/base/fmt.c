/*
 * Formatted output for a core without libc: a small vsnprintf (enough for
 * kmem's reports and tables), line printers, string helpers, assertion and
 * panic reporting.  Nothing here allocates.
 */
#include "base.h"

typedef struct fmt_out {
	char *fo_buf;
	size_t fo_len;
	size_t fo_pos;
} fmt_out_t;

static void
fmt_putc(fmt_out_t *fo, char c)
{
	if (fo->fo_pos + 1 < fo->fo_len)
		fo->fo_buf[fo->fo_pos] = c;
	fo->fo_pos++;
}

static void
fmt_field(fmt_out_t *fo, const char *s, size_t n, int width, bool left,
    char pad)
{
	int fill = width > (int)n ? width - (int)n : 0;

	if (!left)
		while (fill-- > 0)
			fmt_putc(fo, pad);
	for (size_t i = 0; i < n; i++)
		fmt_putc(fo, s[i]);
	if (left)
		while (fill-- > 0)
			fmt_putc(fo, ' ');
}

static size_t
fmt_number(char *tmp, uint64_t v, unsigned base)
{
	char rev[24];
	size_t n = 0;

	do {
		unsigned d = (unsigned)(v % base);
		rev[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		tmp[i] = rev[n - 1 - i];
	return (n);
}

int
kmi_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap)
{
	fmt_out_t fo = { buf, len, 0 };

	for (const char *p = fmt; *p != '\0'; p++) {
		if (*p != '%') {
			fmt_putc(&fo, *p);
			continue;
		}
		bool left = false;
		char pad = ' ';
		int width = 0, lng = 0;
		p++;
		for (; *p == '-' || *p == '0'; p++) {
			if (*p == '-')
				left = true;
			else
				pad = '0';
		}
		for (; *p >= '0' && *p <= '9'; p++)
			width = width * 10 + (*p - '0');
		for (; *p == 'l' || *p == 'z'; p++)
			lng = (*p == 'z') ? 3 : lng + 1;
		char tmp[24];
		uint64_t v;
		bool neg = false;
		switch (*p) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (s == NULL)
				s = "(null)";
			fmt_field(&fo, s, kmi_strlen(s), width, left, ' ');
			continue;
		}
		case 'c':
			tmp[0] = (char)va_arg(ap, int);
			fmt_field(&fo, tmp, 1, width, left, ' ');
			continue;
		case 'd':
		case 'i': {
			int64_t sv = lng == 0 ? va_arg(ap, int) :
			    lng == 1 ? va_arg(ap, long) :
			    lng == 2 ? va_arg(ap, long long) :
			    (int64_t)va_arg(ap, size_t);
			neg = sv < 0;
			v = neg ? (uint64_t)-(sv + 1) + 1 : (uint64_t)sv;
			size_t n = fmt_number(tmp + 1, v, 10);
			if (neg)
				tmp[0] = '-';
			fmt_field(&fo, neg ? tmp : tmp + 1, n + neg, width,
			    left, pad);
			continue;
		}
		case 'u':
		case 'x':
		case 'X': {
			v = lng == 0 ? va_arg(ap, unsigned) :
			    lng == 1 ? va_arg(ap, unsigned long) :
			    lng == 2 ? va_arg(ap, unsigned long long) :
			    va_arg(ap, size_t);
			size_t n = fmt_number(tmp, v, *p == 'u' ? 10 : 16);
			for (size_t i = 0; *p == 'X' && i < n; i++)
				if (tmp[i] >= 'a')
					tmp[i] = (char)(tmp[i] - 'a' + 'A');
			fmt_field(&fo, tmp, n, width, left, pad);
			continue;
		}
		case 'p':
			v = (uintptr_t)va_arg(ap, void *);
			tmp[0] = '0';
			tmp[1] = 'x';
			fmt_field(&fo, tmp, 2 + fmt_number(tmp + 2, v, 16), width,
			    left, ' ');
			continue;
		case '%':
			fmt_putc(&fo, '%');
			continue;
		default:
			fmt_putc(&fo, '%');
			if (*p == '\0')
				p--;
			else
				fmt_putc(&fo, *p);
			continue;
		}
	}
	if (len > 0)
		buf[fo.fo_pos < len ? fo.fo_pos : len - 1] = '\0';
	return ((int)fo.fo_pos);
}

int
kmi_snprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = kmi_vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return (n);
}

void
kmi_print_console(void *arg, const char *line)
{
	(void)arg;
	kmem_plat_write(line, kmi_strlen(line));
	kmem_plat_write("\n", 1);
}

void
kmi_printf(kmem_print_fn *pr, void *arg, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	kmi_vsnprintf(line, sizeof (line), fmt, ap);
	va_end(ap);
	(pr != NULL ? pr : kmi_print_console)(arg, line);
}

size_t
kmi_strlen(const char *s)
{
	size_t n = 0;
	while (s[n] != '\0')
		n++;
	return (n);
}

int
kmi_strcmp(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b)
		a++, b++;
	return ((unsigned char)*a - (unsigned char)*b);
}

void
kmi_strlcpy(char *dst, const char *src, size_t len)
{
	size_t i = 0;
	for (; i + 1 < len && src[i] != '\0'; i++)
		dst[i] = src[i];
	if (len > 0)
		dst[i] = '\0';
}

static void
report(const char *prefix, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n = (size_t)kmi_snprintf(msg, sizeof (msg), "%s", prefix);
	if (n < sizeof (msg))
		kmi_vsnprintf(msg + n, sizeof (msg) - n, fmt, ap);
	kmi_print_console(NULL, msg);
}

_Noreturn void
kmi_assert3_failed(const char *expr, uint64_t a, const char *op, uint64_t b,
    const char *file, int line)
{
	char msg[320];
	kmi_snprintf(msg, sizeof (msg), "kmem: assertion failed: %s "
	    "(0x%llx %s 0x%llx), file %s, line %d", expr, (unsigned long long)a,
	    op, (unsigned long long)b, file, line);
	kmem_plat_panic(msg);
}

_Noreturn void
kmi_assert_failed(const char *expr, const char *file, int line)
{
	char msg[256];
	kmi_snprintf(msg, sizeof (msg), "kmem: assertion failed: %s, file %s, "
	    "line %d", expr, file, line);
	kmem_plat_panic(msg);
}

_Noreturn void
kmi_panic(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	kmi_vsnprintf(msg, sizeof (msg), fmt, ap);
	va_end(ap);
	kmem_plat_panic(msg);
}

void
kmi_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report("kmem: WARNING: ", fmt, ap);
	va_end(ap);
}
