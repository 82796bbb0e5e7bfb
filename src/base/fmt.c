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

/* A number's field: sign, prefix, zeros to the precision, digits. */
static void
fmt_numeric(fmt_out_t *fo, char sign, const char *prefix, const char *digits,
    size_t n, int width, int prec, bool left, char pad)
{
	size_t plen = kmi_strlen(prefix);
	size_t zeros = prec > (int)n ? (size_t)prec - n : 0;
	size_t total = (sign != 0) + plen + zeros + n;
	int fill = width > (int)total ? width - (int)total : 0;

	if (prec >= 0)
		pad = ' ';		/* C: a precision turns '0' off */
	if (!left && pad == ' ')
		for (; fill > 0; fill--)
			fmt_putc(fo, ' ');
	if (sign != 0)
		fmt_putc(fo, sign);
	for (size_t i = 0; i < plen; i++)
		fmt_putc(fo, prefix[i]);
	if (!left && pad == '0')
		for (; fill > 0; fill--)
			fmt_putc(fo, '0');
	for (; zeros > 0; zeros--)
		fmt_putc(fo, '0');
	for (size_t i = 0; i < n; i++)
		fmt_putc(fo, digits[i]);
	for (; fill > 0; fill--)
		fmt_putc(fo, ' ');
}

/* Length modifiers, as the argument each reads. */
enum { LEN_INT, LEN_LONG, LEN_LLONG, LEN_SIZE, LEN_INTMAX, LEN_PTRDIFF,
	LEN_SHORT, LEN_CHAR, LEN_LDOUBLE };

static uint64_t
fmt_unsigned(va_list *ap, int lng)
{
	switch (lng) {
	case LEN_LONG:
		return (va_arg(*ap, unsigned long));
	case LEN_LLONG:
		return (va_arg(*ap, unsigned long long));
	case LEN_SIZE:
		return (va_arg(*ap, size_t));
	case LEN_INTMAX:
		return ((uint64_t)va_arg(*ap, uintmax_t));
	case LEN_PTRDIFF:
		return ((uint64_t)va_arg(*ap, ptrdiff_t));
	case LEN_SHORT:
		return ((unsigned short)va_arg(*ap, unsigned));
	case LEN_CHAR:
		return ((unsigned char)va_arg(*ap, unsigned));
	default:
		return (va_arg(*ap, unsigned));
	}
}

static int64_t
fmt_signed(va_list *ap, int lng)
{
	switch (lng) {
	case LEN_LONG:
		return (va_arg(*ap, long));
	case LEN_LLONG:
		return (va_arg(*ap, long long));
	case LEN_SIZE:
		return ((int64_t)va_arg(*ap, size_t));
	case LEN_INTMAX:
		return ((int64_t)va_arg(*ap, intmax_t));
	case LEN_PTRDIFF:
		return (va_arg(*ap, ptrdiff_t));
	case LEN_SHORT:
		return ((short)va_arg(*ap, int));
	case LEN_CHAR:
		return ((signed char)va_arg(*ap, int));
	default:
		return (va_arg(*ap, int));
	}
}

/*
 * C's conversions, each consuming the argument C says it does: flags
 * -+ #0, widths and precisions (also '*'), the length modifiers hh h l ll
 * j z t L, and d i u o x X c s p n %.  Floating-point arguments are
 * consumed and printed as "(float)": kmem never formats them.
 */
int
kmi_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap0)
{
	fmt_out_t fo = { buf, len, 0 };
	va_list ap;

	va_copy(ap, ap0);
	for (const char *p = fmt; *p != '\0'; p++) {
		if (*p != '%') {
			fmt_putc(&fo, *p);
			continue;
		}
		const char *spec = p++;
		bool left = false, plus = false, space = false, alt = false;
		char pad = ' ';
		for (;; p++) {
			if (*p == '-')
				left = true;
			else if (*p == '0')
				pad = '0';
			else if (*p == '+')
				plus = true;
			else if (*p == ' ')
				space = true;
			else if (*p == '#')
				alt = true;
			else
				break;
		}
		int width = 0, prec = -1;
		if (*p == '*') {
			width = va_arg(ap, int);
			if (width < 0) {
				left = true;
				width = -width;
			}
			p++;
		}
		for (; *p >= '0' && *p <= '9'; p++)
			width = width * 10 + (*p - '0');
		if (*p == '.') {
			prec = 0;
			if (*++p == '*') {
				prec = va_arg(ap, int);
				prec = prec < 0 ? -1 : prec;
				p++;
			}
			for (; *p >= '0' && *p <= '9'; p++)
				prec = prec * 10 + (*p - '0');
		}
		if (left)
			pad = ' ';
		int lng = LEN_INT;
		for (bool more = true; more; ) {
			switch (*p) {
			case 'h':
				lng = lng == LEN_SHORT ? LEN_CHAR : LEN_SHORT;
				p++;
				break;
			case 'l':
				lng = lng == LEN_LONG ? LEN_LLONG : LEN_LONG;
				p++;
				break;
			case 'j':
				lng = LEN_INTMAX;
				p++;
				break;
			case 'z':
				lng = LEN_SIZE;
				p++;
				break;
			case 't':
				lng = LEN_PTRDIFF;
				p++;
				break;
			case 'L':
				lng = LEN_LDOUBLE;
				p++;
				break;
			default:
				more = false;
			}
		}
		char tmp[24];
		switch (*p) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (s == NULL)
				s = "(null)";
			size_t n = 0;
			while (s[n] != '\0' && (prec < 0 || n < (size_t)prec))
				n++;
			fmt_field(&fo, s, n, width, left, ' ');
			continue;
		}
		case 'c':
			tmp[0] = (char)va_arg(ap, int);
			fmt_field(&fo, tmp, 1, width, left, ' ');
			continue;
		case 'd':
		case 'i': {
			int64_t sv = fmt_signed(&ap, lng);
			uint64_t v = sv < 0 ? (uint64_t)-(sv + 1) + 1 :
			    (uint64_t)sv;
			size_t n = v == 0 && prec == 0 ? 0 :
			    fmt_number(tmp, v, 10);
			fmt_numeric(&fo, sv < 0 ? '-' : plus ? '+' : space ?
			    ' ' : 0, "", tmp, n, width, prec, left, pad);
			continue;
		}
		case 'u':
		case 'o':
		case 'x':
		case 'X': {
			uint64_t v = fmt_unsigned(&ap, lng);
			unsigned base = *p == 'u' ? 10 : *p == 'o' ? 8 : 16;
			size_t n = v == 0 && prec == 0 ? 0 :
			    fmt_number(tmp, v, base);
			for (size_t i = 0; *p == 'X' && i < n; i++)
				if (tmp[i] >= 'a')
					tmp[i] = (char)(tmp[i] - 'a' + 'A');
			/* '#': 0x/0X before a nonzero hex value; an octal */
			/* value's first digit a 0 (0 itself, even at .0). */
			const char *prefix = !alt ? "" : *p == 'o' ?
			    (n == 0 || (tmp[0] != '0' && prec <= (int)n) ?
			    "0" : "") : v == 0 || *p == 'u' ? "" :
			    *p == 'x' ? "0x" : "0X";
			fmt_numeric(&fo, 0, prefix, tmp, n, width, prec, left,
			    pad);
			continue;
		}
		case 'p': {
			uint64_t v = (uintptr_t)va_arg(ap, void *);
			fmt_numeric(&fo, 0, "0x", tmp, fmt_number(tmp, v, 16),
			    width, prec, left, pad);
			continue;
		}
		case 'n':
			(void)va_arg(ap, void *);	/* never written */
			continue;
		case 'f': case 'F': case 'e': case 'E':
		case 'g': case 'G': case 'a': case 'A':
#if defined(__x86_64__) && !defined(__SSE__)
			/*
			 * A kernel built without floating-point registers
			 * (-mgeneral-regs-only) can neither pass a double
			 * nor skip one.
			 */
			(void)lng;
#else
			if (lng == LEN_LDOUBLE)
				(void)va_arg(ap, long double);
			else
				(void)va_arg(ap, double);
#endif
			fmt_field(&fo, "(float)", 7, width, left, ' ');
			continue;
		case '%':
			fmt_putc(&fo, '%');
			continue;
		default:		/* unknown: copied as written */
			for (const char *q = spec; q <= p && *q != '\0'; q++)
				fmt_putc(&fo, *q);
			if (*p == '\0')
				p--;
			continue;
		}
	}
	va_end(ap);
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
