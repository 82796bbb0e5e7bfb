/*
 * JSON documents for scripts and monitoring, written line by line through
 * a printer (kmem_print_fn), as the tables are: no allocation, no libc.
 *
 * Theory of operation
 * -------------------
 * A document is a tree of containers: the document itself, lists whose
 * members each take a line of their own (one cache, one arena), and rows:
 * objects or arrays whose members stay on the line they were opened on.
 *
 *	{
 *	 "report": "kmastat",
 *	 "caches": [
 *	  {"name": "kmem_alloc_8", "buf_size": 8, ...},
 *	  {"name": "kmem_alloc_16", "buf_size": 16, ...}
 *	 ],
 *	 "memory": {"physmem": 1073741824, ...}
 *	}
 *
 * The line being built is held back until the next member is known, so
 * that the comma between members can still be put at its end.  A piece
 * (a key, a value, a separator) that would not fit on the line starts a
 * new one: JSON allows white space between any two tokens.
 *
 * Strings are escaped as JSON requires ('"', '\\' and control characters),
 * well-formed UTF-8 passes through, and a byte that is not part of a
 * well-formed sequence becomes U+FFFD, so that every document is valid
 * UTF-8 whatever names clients chose.  A string is cut, at a character
 * boundary, after KMEM_JSON_STRMAX bytes: its worst case escaped (six
 * bytes a byte) still fits on a line, so every line is at most
 * KMEM_JSON_LINE bytes.
 *
 * Invariants:
 *  1. Every document printed is one JSON value: containers are closed in
 *     the order they were opened (kmi_json_end closes what is still open).
 *  2. The first line of a document is "{" and its last is "}"; every
 *     line between starts with a space.
 */
#include "base.h"

#define JSON_INDENT_MAX	(KMEM_JSON_DEPTH + 1)
/* Longest escape of one input byte: \u00XX or \ufffd. */
#define JSON_ESC_MAX	6

_Static_assert(KMEM_JSON_STRMAX * JSON_ESC_MAX + 2 + JSON_INDENT_MAX + 2 <=
    KMEM_JSON_LINE, "a string of KMEM_JSON_STRMAX bytes fits on a line");

/* The length of the well-formed UTF-8 sequence at s, 0 if s is not one. */
static size_t
json_utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 :
	    c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	/* The second byte's range excludes overlongs and surrogates. */
	unsigned lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
	unsigned hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;

	for (size_t i = 1; i < n; i++) {
		if (s[i] < lo || s[i] > hi)
			return (0);
		lo = 0x80;
		hi = 0xbf;
	}
	return (n);
}

/*
 * s as a JSON string, quotes included, cut after KMEM_JSON_STRMAX bytes of
 * s; written to dst unless dst is NULL.  Returns its length.
 */
static size_t
json_escape(char *dst, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	char esc[JSON_ESC_MAX + 1];
	size_t out = 0, in = 0;

	if (dst != NULL)
		dst[out] = '"';
	out++;
	while (s[in] != '\0') {
		size_t n = json_utf8_len(s + in), elen = 0;
		if (in + (n != 0 ? n : 1) > KMEM_JSON_STRMAX)
			break;
		if (n == 0) {			/* not UTF-8: U+FFFD */
			kmi_strlcpy(esc, "\\ufffd", sizeof (esc));
			elen = 6;
			n = 1;
		} else if (s[in] == '"' || s[in] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)s[in];
			elen = 2;
		} else if (s[in] < 0x20) {
			kmi_strlcpy(esc, "\\u00", sizeof (esc));
			esc[4] = hex[s[in] >> 4];
			esc[5] = hex[s[in] & 0xf];
			elen = 6;
		}
		for (size_t i = 0; i < (elen != 0 ? elen : n); i++, out++)
			if (dst != NULL)
				dst[out] = elen != 0 ? esc[i] : (char)s[in + i];
		in += n;
	}
	if (dst != NULL)
		dst[out] = '"';
	return (out + 1);
}

/* Hand the line built so far to the printer (the console: one write). */
static void
json_flush(kmem_json_t *kj)
{
	if (kj->kj_len == 0)
		return;
	if (kj->kj_pr != NULL) {
		kj->kj_line[kj->kj_len] = '\0';
		kj->kj_pr(kj->kj_arg, kj->kj_line);
	} else {
		kj->kj_line[kj->kj_len] = '\n';
		kmem_plat_write(kj->kj_line, kj->kj_len + 1);
	}
	kj->kj_len = 0;
}

/* A new line, indented by the depth. */
static void
json_newline(kmem_json_t *kj)
{
	json_flush(kj);
	for (int i = 0; i < kj->kj_depth && i < JSON_INDENT_MAX; i++)
		kj->kj_line[kj->kj_len++] = ' ';
}

/* Room for len more bytes on this line, starting a new one if need be. */
static char *
json_room(kmem_json_t *kj, size_t len)
{
	if (kj->kj_len + len > KMEM_JSON_LINE)
		json_newline(kj);
	VERIFY(kj->kj_len + len <= KMEM_JSON_LINE);
	char *at = kj->kj_line + kj->kj_len;
	kj->kj_len += len;
	return (at);
}

static void
json_text(kmem_json_t *kj, const char *text)
{
	size_t len = kmi_strlen(text);

	memcpy(json_room(kj, len), text, len);
}

static void
json_string(kmem_json_t *kj, const char *s)
{
	(void)json_escape(json_room(kj, json_escape(NULL, s)), s);
}

/*
 * The start of a member of the innermost container: the comma after the
 * one before, a new line unless the container is a row, the key.
 */
static void
json_member(kmem_json_t *kj, const char *key)
{
	kmem_json_level_t *lv = &kj->kj_level[kj->kj_depth - 1];

	if (lv->kl_members++ != 0)
		json_text(kj, lv->kl_row ? ", " : ",");
	if (!lv->kl_row)
		json_newline(kj);
	if (key != NULL) {
		json_string(kj, key);
		json_text(kj, ": ");
	}
}

static void
json_open(kmem_json_t *kj, const char *key, const char *open, bool row)
{
	VERIFY(kj->kj_depth < KMEM_JSON_DEPTH);
	bool in_row = kj->kj_level[kj->kj_depth - 1].kl_row;

	json_member(kj, key);
	json_text(kj, open);
	kmem_json_level_t *lv = &kj->kj_level[kj->kj_depth++];
	lv->kl_close = open[0] == '{' ? "}" : "]";
	lv->kl_row = row || in_row;
	lv->kl_members = 0;
}

void
kmi_json_close(kmem_json_t *kj)
{
	VERIFY(kj->kj_depth > 0);
	kmem_json_level_t *lv = &kj->kj_level[--kj->kj_depth];

	if (!lv->kl_row)
		json_newline(kj);
	json_text(kj, lv->kl_close);
}

void
kmi_json_begin(kmem_json_t *kj, kmem_print_fn *pr, void *arg,
    const char *report)
{
	kj->kj_pr = pr;
	kj->kj_arg = arg;
	kj->kj_len = 0;
	kj->kj_depth = 1;
	kj->kj_level[0].kl_close = "}";
	kj->kj_level[0].kl_row = false;
	kj->kj_level[0].kl_members = 0;
	json_text(kj, "{");
	kmi_json_str(kj, "report", report);
}

void
kmi_json_end(kmem_json_t *kj)
{
	while (kj->kj_depth > 0)
		kmi_json_close(kj);
	json_flush(kj);
}

void
kmi_json_list(kmem_json_t *kj, const char *key)
{
	json_open(kj, key, "[", false);
}

void
kmi_json_row(kmem_json_t *kj, const char *key)
{
	json_open(kj, key, "{", true);
}

void
kmi_json_array(kmem_json_t *kj, const char *key)
{
	json_open(kj, key, "[", true);
}

void
kmi_json_u64(kmem_json_t *kj, const char *key, uint64_t v)
{
	char num[24];

	json_member(kj, key);
	kmi_snprintf(num, sizeof (num), "%llu", (unsigned long long)v);
	json_text(kj, num);
}

void
kmi_json_str(kmem_json_t *kj, const char *key, const char *s)
{
	json_member(kj, key);
	if (s != NULL)
		json_string(kj, s);
	else
		json_text(kj, "null");
}

void
kmi_json_bool(kmem_json_t *kj, const char *key, bool v)
{
	json_member(kj, key);
	json_text(kj, v ? "true" : "false");
}
