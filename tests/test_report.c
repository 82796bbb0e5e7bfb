/*
 * Reports for scripts and on demand: the JSON printers (kmem_kmastat_json,
 * vmem_print_json, kmem_vmstat_m_json) parsed back by a strict JSON
 * parser and checked against kmem_cache_stat(), vmem_stat(),
 * malloc_type_stat() and the pools' counts; and KMEM_OPTIONS atexit= and
 * report_signal= in kmem_report_helper, a process of their own.
 */
#define KMEM_BSD_NO_NAME_MAP
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/bsd/malloc.h>
#include <kmem/bsd/pool.h>

#include "harness.h"

/* ---- a strict JSON parser (RFC 8259), enough to check the printers ---- */

typedef enum jv_type { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ }
    jv_type_t;

typedef struct jv {
	jv_type_t	type;
	uint64_t	num;		/* JV_NUM (integers >= 0), JV_BOOL */
	char		*str;		/* JV_STR, decoded UTF-8 */
	size_t		n;		/* JV_ARR, JV_OBJ */
	struct jv	**items;
	char		**keys;		/* JV_OBJ */
} jv_t;

typedef struct jp {
	const char	*p;
	const char	*err;		/* the first error */
} jp_t;

static jv_t *jp_value(jp_t *jp, int depth);

static void
jp_ws(jp_t *jp)
{
	while (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' ||
	    *jp->p == '\r')
		jp->p++;
}

static jv_t *
jp_fail(jp_t *jp, const char *why)
{
	if (jp->err == NULL)
		jp->err = why;
	return (NULL);
}

static void
jv_free(jv_t *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n; i++) {
		jv_free(v->items[i]);
		if (v->keys != NULL)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	free(v);
}

static jv_t *
jv_new(jv_type_t type)
{
	jv_t *v = calloc(1, sizeof (*v));

	v->type = type;
	return (v);
}

/* Append code point cp to s as UTF-8. */
static size_t
utf8_put(char *s, unsigned cp)
{
	if (cp < 0x80) {
		s[0] = (char)cp;
		return (1);
	}
	if (cp < 0x800) {
		s[0] = (char)(0xc0 | cp >> 6);
		s[1] = (char)(0x80 | (cp & 0x3f));
		return (2);
	}
	if (cp < 0x10000) {
		s[0] = (char)(0xe0 | cp >> 12);
		s[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		s[2] = (char)(0x80 | (cp & 0x3f));
		return (3);
	}
	s[0] = (char)(0xf0 | cp >> 18);
	s[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	s[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	s[3] = (char)(0x80 | (cp & 0x3f));
	return (4);
}

/* A well-formed UTF-8 sequence's length at s, or 0 (Unicode table 3-7). */
static size_t
utf8_valid(const unsigned char *s)
{
	unsigned c = s[0], lo = 0x80, hi = 0xbf;
	size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 :
	    c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;

	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	for (size_t i = 1; i < n; i++, lo = 0x80, hi = 0xbf)
		if (s[i] < lo || s[i] > hi)
			return (0);
	return (n);
}

static int
hex4(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
		    c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return (-1);
		v = v * 16 + d;
	}
	return (v);
}

static char *
jp_string(jp_t *jp)
{
	char *out = malloc(strlen(jp->p) + 1);
	size_t n = 0;

	jp->p++;			/* the opening quote */
	while (*jp->p != '"') {
		const unsigned char *u = (const unsigned char *)jp->p;
		if (*u == '\0' || *u < 0x20) {
			free(out);
			return ((char *)jp_fail(jp, "control character or end "
			    "in a string"));
		}
		if (*u != '\\') {
			size_t len = utf8_valid(u);
			if (len == 0) {
				free(out);
				return ((char *)jp_fail(jp, "not UTF-8"));
			}
			memcpy(out + n, jp->p, len);
			n += len;
			jp->p += len;
			continue;
		}
		const char *esc = strchr("\"\\/bfnrt", jp->p[1]);
		if (jp->p[1] != '\0' && esc != NULL) {
			out[n++] = "\"\\/\b\f\n\r\t"[esc - "\"\\/bfnrt"];
			jp->p += 2;
			continue;
		}
		int cp = jp->p[1] == 'u' ? hex4(jp->p + 2) : -1;
		if (cp < 0 || (cp >= 0xd800 && cp <= 0xdfff)) {
			free(out);
			return ((char *)jp_fail(jp, "bad escape"));
		}
		n += utf8_put(out + n, (unsigned)cp);
		jp->p += 6;
	}
	jp->p++;
	out[n] = '\0';
	return (out);
}

static jv_t *
jp_number(jp_t *jp)
{
	jv_t *v = jv_new(JV_NUM);

	if (*jp->p == '0' && jp->p[1] >= '0' && jp->p[1] <= '9') {
		jv_free(v);
		return (jp_fail(jp, "leading zero"));
	}
	while (*jp->p >= '0' && *jp->p <= '9')
		v->num = v->num * 10 + (uint64_t)(*jp->p++ - '0');
	if (*jp->p == '.' || *jp->p == 'e' || *jp->p == 'E') {
		jv_free(v);
		return (jp_fail(jp, "not an integer"));
	}
	return (v);
}

/* The members of an array or object, after its opening bracket. */
static jv_t *
jp_container(jp_t *jp, int depth, bool object)
{
	jv_t *v = jv_new(object ? JV_OBJ : JV_ARR);
	char close = object ? '}' : ']';

	jp->p++;
	jp_ws(jp);
	if (*jp->p == close) {
		jp->p++;
		return (v);
	}
	for (;;) {
		char *key = NULL;
		jp_ws(jp);
		if (object) {
			if (*jp->p != '"' || (key = jp_string(jp)) == NULL)
				break;
			jp_ws(jp);
			if (*jp->p++ != ':') {
				free(key);
				break;
			}
		}
		jv_t *item = jp_value(jp, depth + 1);
		if (item == NULL) {
			free(key);
			break;
		}
		v->items = realloc(v->items, (v->n + 1) * sizeof (jv_t *));
		v->keys = object ? realloc(v->keys, (v->n + 1) *
		    sizeof (char *)) : NULL;
		v->items[v->n] = item;
		if (object)
			v->keys[v->n] = key;
		v->n++;
		jp_ws(jp);
		if (*jp->p == ',') {
			jp->p++;
			continue;
		}
		if (*jp->p++ == close)
			return (v);
		break;
	}
	jv_free(v);
	return (jp_fail(jp, object ? "bad object" : "bad array"));
}

static jv_t *
jp_value(jp_t *jp, int depth)
{
	jv_t *v;

	jp_ws(jp);
	if (depth > 32)
		return (jp_fail(jp, "too deep"));
	switch (*jp->p) {
	case '{':
	case '[':
		return (jp_container(jp, depth, *jp->p == '{'));
	case '"':
		v = jv_new(JV_STR);
		if ((v->str = jp_string(jp)) == NULL) {
			jv_free(v);
			return (NULL);
		}
		return (v);
	default:
		break;
	}
	if (*jp->p >= '0' && *jp->p <= '9')
		return (jp_number(jp));
	static const struct { const char *w; jv_type_t t; uint64_t b; } lit[] =
	    { { "null", JV_NULL, 0 }, { "true", JV_BOOL, 1 },
	    { "false", JV_BOOL, 0 } };
	for (size_t i = 0; i < 3; i++) {
		if (strncmp(jp->p, lit[i].w, strlen(lit[i].w)) == 0) {
			jp->p += strlen(lit[i].w);
			v = jv_new(lit[i].t);
			v->num = lit[i].b;
			return (v);
		}
	}
	return (jp_fail(jp, "not a value"));
}

/* One JSON document, and nothing after it; NULL (reported) if invalid. */
static jv_t *
jv_parse(const char *text)
{
	jp_t jp = { text, NULL };
	jv_t *v = jp_value(&jp, 0);

	jp_ws(&jp);
	if (v != NULL && *jp.p != '\0') {
		jv_free(v);
		v = jp_fail(&jp, "text after the document");
	}
	if (!KT_CHECK(v != NULL))
		printf("    invalid JSON (%s) at offset %zu: %.60s\n", jp.err,
		    (size_t)(jp.p - text), jp.p);
	return (v);
}

static jv_t *
jv_get(const jv_t *obj, const char *key)
{
	for (size_t i = 0; obj != NULL && obj->type == JV_OBJ && i < obj->n;
	    i++)
		if (strcmp(obj->keys[i], key) == 0)
			return (obj->items[i]);
	return (NULL);
}

/* The number at key (~0 if it is not a number). */
static uint64_t
jv_num(const jv_t *obj, const char *key)
{
	const jv_t *v = jv_get(obj, key);

	return (v != NULL && v->type == JV_NUM ? v->num : ~(uint64_t)0);
}

static const char *
jv_str(const jv_t *obj, const char *key)
{
	const jv_t *v = jv_get(obj, key);

	return (v != NULL && v->type == JV_STR ? v->str : NULL);
}

static bool
str_is(const char *s, const char *want)
{
	return (s != NULL && strcmp(s, want) == 0);
}

/* The member of list whose "name" is name. */
static const jv_t *
jv_named(const jv_t *list, const char *name)
{
	for (size_t i = 0; list != NULL && list->type == JV_ARR &&
	    i < list->n; i++) {
		if (str_is(jv_str(list->items[i], "name"), name))
			return (list->items[i]);
	}
	return (NULL);
}

/*
 * The document's lines: the first "{", the last "}", every other one
 * indented; then the document parsed.
 */
static jv_t *
json_document(const char *text, const char *report)
{
	size_t len = strlen(text);

	KT_CHECK(strncmp(text, "{\n ", 3) == 0);
	KT_CHECK(len >= 3 && strcmp(text + len - 3, "\n}\n") == 0);
	for (const char *l = strchr(text, '\n'); l != NULL && l[1] != '\0';
	    l = strchr(l + 1, '\n'))
		if (!KT_CHECK(l[1] == ' ' || strcmp(l + 1, "}\n") == 0))
			printf("    line at column 0: %.40s\n", l + 1);
	jv_t *doc = jv_parse(text);
	KT_CHECK(str_is(jv_str(doc, "report"), report));
	return (doc);
}

/* ---- kmem_kmastat_json ---- */

typedef struct cache_names {
	kmem_cache_t	*cn_caches[512];
	size_t		cn_n;
} cache_names_t;

static int
collect_cache(kmem_cache_t *cp, void *arg)
{
	cache_names_t *cn = arg;

	if (cn->cn_n < 512)
		cn->cn_caches[cn->cn_n++] = cp;
	return (0);
}

static const char *const kmastat_keys[] = { "buf_size", "buf_inuse",
    "buf_total", "memory_inuse", "alloc", "alloc_fail" };

/* A quiet cache's row holds its kmem_cache_stat() figures exactly. */
static void
check_cache_row(const jv_t *caches, kmem_cache_t *cp, const char *arena)
{
	const jv_t *row = jv_named(caches, kmem_cache_name(cp));

	if (!KT_CHECK(row != NULL)) {
		printf("    no row for %s\n", kmem_cache_name(cp));
		return;
	}
	KT_CHECK(str_is(jv_str(row, "arena"), arena));
	for (size_t i = 0; i < sizeof (kmastat_keys) / sizeof (char *); i++)
		if (!KT_EQ_U(jv_num(row, kmastat_keys[i]),
		    kmem_cache_stat(cp, kmastat_keys[i])))
			printf("    %s of %s\n", kmastat_keys[i],
			    kmem_cache_name(cp));
	KT_EQ_U(row->n, 2 + sizeof (kmastat_keys) / sizeof (char *));
}

/* Each cache and arena on a line of its own. */
static void
check_rows_a_line(const char *text, const jv_t *caches, const jv_t *arenas)
{
	size_t rows = 0;

	for (const char *l = text; (l = strstr(l, "\n  {\"name\": ")) != NULL;
	    l++)
		rows++;
	KT_EQ_U(rows, (caches != NULL ? caches->n : 0) +
	    (arenas != NULL ? arenas->n : 0));
}

/*
 * The table's "Total [arena]" row is the sum of the rows that name the
 * arena (the caches of kmem_default are this thread's: quiet).
 */
static void
check_arena_total(const jv_t *caches, const char *arena)
{
	kt_capture_t cap = { 0 };
	unsigned long long mem = 0, alloc = 0, fail = 0, m, a, f;
	char total[64];

	for (size_t i = 0; caches != NULL && i < caches->n; i++) {
		const jv_t *row = caches->items[i];
		if (!str_is(jv_str(row, "arena"), arena))
			continue;
		mem += jv_num(row, "memory_inuse");
		alloc += jv_num(row, "alloc");
		fail += jv_num(row, "alloc_fail");
	}
	kmem_kmastat(kt_capture_line, &cap);
	snprintf(total, sizeof (total), "\nTotal [%s]", arena);
	const char *row = strstr(cap.kc_buf, total);
	KT_CHECK(row != NULL && sscanf(row + strlen(total), " %llu %llu %llu",
	    &m, &a, &f) == 3);
	KT_EQ_U(m, mem);
	KT_EQ_U(a, alloc);
	KT_EQ_U(f, fail);
	kt_capture_free(&cap);
}

static void
test_json_kmastat(void)
{
	kmem_cache_t *cp = kmem_cache_create("t_json", 200, 0, NULL, NULL,
	    NULL, NULL, NULL, 0);
	kt_capture_t cap = { 0 };
	cache_names_t cn = { .cn_n = 0 };
	void *bufs[7];

	for (int i = 0; i < 7; i++)
		bufs[i] = kmem_cache_alloc(cp, KM_SLEEP);
	kmem_cache_free(cp, bufs[6]);
	kmem_kmastat_json(kt_capture_line, &cap);
	jv_t *doc = json_document(cap.kc_buf, "kmastat");
	const jv_t *caches = jv_get(doc, "caches");
	(void)kmem_cache_walk(collect_cache, &cn);
	/* Every cache, in creation order. */
	KT_CHECK(caches != NULL && caches->type == JV_ARR &&
	    caches->n == cn.cn_n);
	for (size_t i = 0; caches != NULL && i < caches->n && i < cn.cn_n;
	    i++) {
		const jv_t *row = caches->items[i];
		const char *name = jv_str(row, "name");
		KT_CHECK(str_is(name, kmem_cache_name(cn.cn_caches[i])));
		KT_EQ_U(jv_num(row, "buf_size"),
		    kmem_cache_stat(cn.cn_caches[i], "buf_size"));
	}
	check_cache_row(caches, cp, vmem_name(kmem_default_arena));
	KT_EQ_U(jv_num(jv_named(caches, "t_json"), "buf_inuse"), 6);
	check_rows_a_line(cap.kc_buf, caches, jv_get(doc, "arenas"));
	check_arena_total(caches, "kmem_default");
	/* The arenas are vmem_print_json's; the memory kmem_memstat's. */
	const jv_t *arenas = jv_get(doc, "arenas");
	KT_CHECK(jv_named(arenas, "kmem_default") != NULL &&
	    jv_named(arenas, "heap") != NULL);
	const jv_t *mem = jv_get(doc, "memory");
	KT_EQ_U(jv_num(mem, "physmem"), kmem_physmem());
	KT_EQ_U(mem != NULL ? mem->n : 0, 8);
	for (size_t i = 0; mem != NULL && i < mem->n; i++)
		KT_CHECK(mem->items[i]->type == JV_NUM);
	jv_free(doc);
	for (int i = 0; i < 6; i++)
		kmem_cache_free(cp, bufs[i]);
	kmem_cache_destroy(cp);
	kt_capture_free(&cap);
}

/*
 * Names are escaped as JSON says, well-formed UTF-8 kept, other bytes
 * U+FFFD: each parses back as expected.
 */
static void
test_json_escapes(void)
{
	static const char *const names[][2] = {
		{ "t_\"q\\b/", "t_\"q\\b/" },
		{ "t_ctl\x01\t\n\x1f", "t_ctl\x01\t\n\x1f" },
		{ "t_utf8_\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
		    "t_utf8_\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" },
		{ "t_bad_\xff\xc3(\xed\xa0\x80\xc0\xaf",
		    "t_bad_\xef\xbf\xbd\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd"
		    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
	};
	enum { N = sizeof (names) / sizeof (names[0]) };
	kmem_cache_t *cp[N];
	kt_capture_t cap = { 0 };

	for (size_t i = 0; i < N; i++)
		cp[i] = kmem_cache_create(names[i][0], 64, 0, NULL, NULL, NULL,
		    NULL, NULL, 0);
	kmem_kmastat_json(kt_capture_line, &cap);
	jv_t *doc = json_document(cap.kc_buf, "kmastat");
	const jv_t *caches = jv_get(doc, "caches");
	for (size_t i = 0; i < N; i++)
		if (!KT_CHECK(jv_named(caches, names[i][1]) != NULL))
			printf("    name %zu not read back\n", i);
	jv_free(doc);
	for (size_t i = 0; i < N; i++)
		kmem_cache_destroy(cp[i]);
	kt_capture_free(&cap);
}

/* ---- vmem_print_json ---- */

static int
count_arena(vmem_t *vmp, void *arg)
{
	(void)vmp;
	++*(size_t *)arg;
	return (0);
}

static const char *const vmem_keys[] = { "mem_inuse", "mem_total",
    "mem_import", "alloc", "fail" };

static void
check_arena_row(const jv_t *arenas, vmem_t *vmp)
{
	const jv_t *row = jv_named(arenas, vmem_name(vmp));

	if (!KT_CHECK(row != NULL))
		return;
	const jv_t *src = jv_get(row, "source");
	if (vmem_source(vmp) == NULL)
		KT_CHECK(src != NULL && src->type == JV_NULL);
	else
		KT_CHECK(src != NULL && src->type == JV_STR &&
		    strcmp(src->str, vmem_name(vmem_source(vmp))) == 0);
	for (size_t i = 0; i < sizeof (vmem_keys) / sizeof (char *); i++)
		KT_EQ_U(jv_num(row, vmem_keys[i]), vmem_stat(vmp,
		    vmem_keys[i]));
}

static void
test_json_vmem(void)
{
	vmem_t *ids = vmem_create("t_jv \"ids\"", (void *)0x100000, 0x100000,
	    0x1000, NULL, NULL, NULL, 0, VM_SLEEP);
	vmem_t *sub = vmem_create("t_jv_sub", NULL, 0, 0x1000, vmem_alloc,
	    vmem_free, ids, 0, VM_SLEEP);
	void *a = vmem_alloc(ids, 0x3000, VM_SLEEP);
	void *b = vmem_alloc(sub, 0x2000, VM_SLEEP);
	kt_capture_t cap = { 0 };
	size_t n = 0;

	KT_CHECK(vmem_alloc(ids, 0x200000, VM_NOSLEEP) == NULL); /* a fail */
	vmem_print_json(kt_capture_line, &cap);
	jv_t *doc = json_document(cap.kc_buf, "vmem");
	const jv_t *arenas = jv_get(doc, "arenas");
	(void)vmem_arena_walk(count_arena, &n);
	KT_CHECK(arenas != NULL && arenas->type == JV_ARR && arenas->n == n);
	check_arena_row(arenas, ids);
	check_arena_row(arenas, sub);
	KT_EQ_U(jv_num(jv_named(arenas, "t_jv \"ids\""), "fail"), 1);
	jv_free(doc);
	vmem_free(sub, b, 0x2000);
	vmem_free(ids, a, 0x3000);
	vmem_destroy(sub);
	vmem_destroy(ids);
	kt_capture_free(&cap);
}

static void
vmem_json_to_console(void)
{
	vmem_print_json(NULL, NULL);
}

/* A NULL printer: the console, the same document. */
static void
test_json_console(void)
{
	int status;
	char *out = kt_run_child(vmem_json_to_console, &status);

	KT_CHECK(out != NULL && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (out != NULL)
		jv_free(json_document(out, "vmem"));
}

/* ---- kmem_vmstat_m_json ---- */

/* 119 bytes, then a character that would end past the 120th. */
#define LONG_NAME \
	"t_long_name_" \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" "\xc3\xa9" "tail"

MALLOC_DEFINE(M_TJSON, "t_json\"type", "test_report's buffers");
MALLOC_DEFINE(M_TLONG, LONG_NAME, "a type with a long name");
MALLOC_DEFINE(M_TUNUSED, "t_unused", "registered, never used");

#define LONG_POOL	"t_jpool_with_a_name_longer_than_31_bytes"

static const char *const type_keys[] = { "inuse", "memuse", "maxused",
    "calls", "failures", "limblocks" };

static void
check_type_row(const jv_t *types, struct malloc_type *type, const char *name)
{
	const jv_t *row = jv_named(types, name);
	struct malloc_type_stat mts;

	if (!KT_CHECK(row != NULL && malloc_type_stat(type, &mts) == 0))
		return;
	uint64_t want[] = { mts.mts_inuse, mts.mts_memuse, mts.mts_maxused,
	    mts.mts_calls, mts.mts_failures, mts.mts_limblocks };
	for (size_t i = 0; i < sizeof (want) / sizeof (want[0]); i++)
		KT_EQ_U(jv_num(row, type_keys[i]), want[i]);
	const jv_t *limit = jv_get(row, "limit");
	if (mts.mts_limit == 0)
		KT_CHECK(limit != NULL && limit->type == JV_NULL);
	else
		KT_EQ_U(jv_num(row, "limit"), mts.mts_limit);
}

/* Every pool and pool cache: a hard limit's pages, a cut name. */
static void
check_pools(const jv_t *pools)
{
	char cut[32];

	snprintf(cut, sizeof (cut), "%.31s", LONG_POOL);
	const jv_t *pl = jv_named(pools, cut);
	KT_CHECK(pl != NULL && jv_num(pl, "maxpg") >= 1 &&
	    jv_num(pl, "maxpg") != ~(uint64_t)0);
	KT_CHECK(jv_named(pools, "t_jpcache") != NULL);
}

static void
test_json_vmstat_m(void)
{
	struct pool pool, limited;
	kt_capture_t cap = { 0 };
	void *items[3];

	void *p = kmem_bsd_malloc(100, M_TJSON, M_WAITOK);
	void *big = kmem_bsd_malloc(3 << 20, M_TJSON, M_WAITOK);
	void *q = kmem_bsd_malloc(40, M_TLONG, M_WAITOK);
	kmem_bsd_free(kmem_bsd_malloc(5 << 20, M_TJSON, M_WAITOK), M_TJSON);
	malloc_type_setlimit(M_TLONG, 1 << 20);
	malloc_type_attach(M_TUNUSED);
	pool_init(&pool, 64, 0, 0, 0, "t_jpool", NULL, IPL_NONE);
	for (int i = 0; i < 3; i++)
		items[i] = pool_get(&pool, PR_WAITOK);
	pool_put(&pool, items[2]);
	pool_init(&limited, 128, 0, 0, 0, LONG_POOL, NULL, IPL_NONE);
	pool_sethardlimit(&limited, 100, NULL, 0);
	pool_cache_t pc = pool_cache_init(48, 0, 0, 0, "t_jpcache", NULL,
	    IPL_NONE, NULL, NULL, NULL);
	kmem_vmstat_m_json(kt_capture_line, &cap);
	jv_t *doc = json_document(cap.kc_buf, "vmstat_m");
	const jv_t *types = jv_get(doc, "types");
	check_type_row(types, M_TUNUSED, "t_unused");
	KT_EQ_U(jv_num(jv_named(types, "t_unused"), "calls"), 0);
	check_pools(jv_get(doc, "pools"));
	check_type_row(types, M_TJSON, "t_json\"type");
	struct malloc_type_stat mts;
	KT_CHECK(malloc_type_stat(M_TJSON, &mts) == 0 &&
	    mts.mts_maxused > mts.mts_memuse);	/* the rows tell them apart */
	/* Cut after 120 bytes, before the character that would cross. */
	char cut[200];
	snprintf(cut, sizeof (cut), "%.119s", LONG_NAME);
	KT_EQ_U(strlen(cut), 119);
	check_type_row(types, M_TLONG, cut);
	const jv_t *row = jv_named(types, "t_json\"type");
	const jv_t *sizes = jv_get(row, "sizes"), *large = jv_get(row, "large");
	KT_CHECK(sizes != NULL && sizes->type == JV_ARR && sizes->n == 1 &&
	    sizes->items[0]->type == JV_NUM && sizes->items[0]->num >= 100);
	KT_CHECK(large != NULL && large->type == JV_BOOL && large->num == 1);
	/* The bucket of the type's 100 bytes. */
	const jv_t *buckets = jv_get(doc, "buckets");
	bool bucket = false;
	for (size_t i = 0; buckets != NULL && i < buckets->n; i++)
		bucket |= sizes != NULL && sizes->n == 1 &&
		    jv_num(buckets->items[i], "size") == sizes->items[0]->num &&
		    jv_num(buckets->items[i], "buf_inuse") >= 1;
	KT_CHECK(bucket);
	/* The pool: counts, no hard limit (null), its page size. */
	const jv_t *pl = jv_named(jv_get(doc, "pools"), "t_jpool");
	KT_EQ_U(jv_num(pl, "size"), 64);
	KT_EQ_U(jv_num(pl, "requests"), pool_nget(&pool));
	KT_EQ_U(jv_num(pl, "releases"), pool_nput(&pool));
	KT_EQ_U(jv_num(pl, "fail"), pool_nfail(&pool));
	KT_EQ_U(jv_num(pl, "npage"), jv_num(pl, "pgreq") - jv_num(pl, "pgrel"));
	KT_CHECK(jv_num(pl, "pagesize") >= 64 && jv_num(pl, "npage") >= 1);
	const jv_t *maxpg = jv_get(pl, "maxpg");
	KT_CHECK(maxpg != NULL && maxpg->type == JV_NULL);
	jv_free(doc);
	for (int i = 0; i < 2; i++)
		pool_put(&pool, items[i]);
	pool_destroy(&pool);
	pool_destroy(&limited);
	pool_cache_destroy(pc);
	malloc_type_detach(M_TUNUSED);
	kmem_bsd_free(p, M_TJSON);
	kmem_bsd_free(big, M_TJSON);
	kmem_bsd_free(q, M_TLONG);
	kt_capture_free(&cap);
}

/* ---- atexit= and report_signal= in kmem_report_helper ---- */

/* The helper's stdout and stderr; its status in *statusp. */
static char *
run_report_helper(char *const argv[], const char *options, int *statusp)
{
	char env[512];
	char *envp[] = { env, NULL };
	int fds[2];
	char *out = NULL;
	size_t len = 0;
	ssize_t r;
	char chunk[4096];

	snprintf(env, sizeof (env), "KMEM_OPTIONS=%s", options);
	if (pipe(fds) != 0)
		return (NULL);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		kt_exec_helper("kmem_report_helper", argv, envp);
	}
	close(fds[1]);
	while ((r = read(fds[0], chunk, sizeof (chunk))) > 0) {
		out = realloc(out, len + (size_t)r + 1);
		memcpy(out + len, chunk, (size_t)r);
		len += (size_t)r;
	}
	close(fds[0]);
	waitpid(pid, statusp, 0);
	if (out == NULL)
		out = calloc(1, 1);
	out[len] = '\0';
	return (out);
}

/* Runs and exits 0; its output (to free), or NULL, reported. */
static char *
report_helper_ok(char *const argv[], const char *options)
{
	int status = -1;
	char *out = run_report_helper(argv, options, &status);

	if (KT_CHECK(out != NULL && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0))
		return (out);
	printf("    %s with KMEM_OPTIONS=%s (status 0x%x): %.2000s\n",
	    argv[1], options, status, out != NULL ? out : "(nothing)");
	free(out);
	return (NULL);
}

/* The ::kmastat row of cache name in text: in use and alloc succeed. */
static bool
kmastat_row(const char *text, const char *name, unsigned long *inuse,
    unsigned long *alloc)
{
	char key[64];

	snprintf(key, sizeof (key), "\n%s ", name);
	const char *row = strstr(text, key);
	return (row != NULL && sscanf(row + strlen(key), " %*u %lu %*u %*u "
	    "%lu", inuse, alloc) == 2);
}

#define KMASTAT_HEAD	"\ncache                        buf       buf"

/* After main returns: the table, with the figures main saw. */
static void
test_atexit_kmastat(void)
{
	char *argv[] = { "kmem_report_helper", "exit", NULL };
	char *out = report_helper_ok(argv, "atexit=kmastat,reap_interval=0");
	unsigned long inuse = 0, alloc = 0;

	if (out == NULL)
		return;
	const char *after = strstr(out, "main returns\n");
	const char *table = after != NULL ? strstr(after, KMASTAT_HEAD) : NULL;
	const char *handler = strstr(out, "program's exit handler\n");
	KT_CHECK(table != NULL);
	/* The program's handler, registered after kmem started, ran first. */
	KT_CHECK(handler != NULL && handler > after && handler < table);
	KT_CHECK(after != NULL && kmastat_row(after, "t_exit", &inuse,
	    &alloc));
	KT_EQ_U(inuse, 5);
	KT_EQ_U(alloc, 5);
	KT_CHECK(after != NULL && strstr(after, "\nvmem name") != NULL);
	KT_CHECK(strstr(out, "WARNING") == NULL);
	free(out);
	/* Without the option, nothing at exit. */
	out = report_helper_ok(argv, "reap_interval=0");
	KT_CHECK(out != NULL && strstr(out, KMASTAT_HEAD + 1) == NULL);
	free(out);
}

/* No exit handler runs on _exit(2), abort(3) or a fatal signal. */
static void
test_atexit_not_on(void)
{
	static const struct { const char *how; int sig; } ends[] = {
		{ "_exit", 0 }, { "abort", SIGABRT }, { "term", SIGTERM },
	};

	for (size_t i = 0; i < sizeof (ends) / sizeof (ends[0]); i++) {
		char *argv[] = { "kmem_report_helper", "end",
		    (char *)ends[i].how, NULL };
		int status = -1;
		char *out = run_report_helper(argv, "atexit=kmastat+"
		    "kmastat_json", &status);
		char said[16];
		snprintf(said, sizeof (said), "%s\n", ends[i].how);
		KT_CHECK(ends[i].sig == 0 ? WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0 : WIFSIGNALED(status) &&
		    WTERMSIG(status) == ends[i].sig);
		if (!KT_CHECK(out != NULL && strcmp(out, said) == 0))
			printf("    %s: %.300s\n", ends[i].how, out);
		free(out);
	}
}

/* atexit=kmastat_json: one document, the figures main saw. */
static void
test_atexit_json(void)
{
	char *argv[] = { "kmem_report_helper", "exit", NULL };
	char *out = report_helper_ok(argv, "atexit=kmastat_json,"
	    "reap_interval=0");
	unsigned long long inuse, alloc, total;

	if (out == NULL)
		return;
	const char *doc = strstr(out, "program's exit handler\n");
	KT_CHECK(sscanf(out, "t_exit buf_inuse %llu alloc %llu buf_total %llu",
	    &inuse, &alloc, &total) == 3);
	if (KT_CHECK(doc != NULL)) {
		jv_t *v = json_document(doc + strlen("program's exit "
		    "handler\n"), "kmastat");
		const jv_t *row = jv_named(jv_get(v, "caches"), "t_exit");
		KT_EQ_U(jv_num(row, "buf_inuse"), inuse);
		KT_EQ_U(jv_num(row, "alloc"), alloc);
		KT_EQ_U(jv_num(row, "buf_total"), total);
		KT_EQ_U(inuse, 5);
		jv_free(v);
	}
	free(out);
}

/*
 * All three, '+'-joined in another order: the table, the document, then
 * findleaks' report, line for line what kmem_findleaks() said in main.
 */
static void
test_atexit_all(void)
{
	char *argv[] = { "kmem_report_helper", "exit-leaks", NULL };
	char *out = report_helper_ok(argv, "atexit=findleaks+kmastat_json+"
	    "kmastat,reap_interval=0");

	if (out == NULL)
		return;
	char *leaks = strstr(out, "findleaks:\n");
	char *after = strstr(out, "main returns\n");
	char *table = after != NULL ? strstr(after, KMASTAT_HEAD) : NULL;
	char *json = table != NULL ? strstr(table, "\n{\n") : NULL;
	char *json_end = json != NULL ? strstr(json, "\n}\n") : NULL;
	if (!KT_CHECK(leaks != NULL && table != NULL && json_end != NULL)) {
		free(out);
		return;
	}
	*after = '\0';
	leaks += strlen("findleaks:\n");
	KT_CHECK(strstr(leaks, "t_leak") != NULL);	/* the leaked buffer */
	for (char *l = strtok(leaks, "\n"); l != NULL; l = strtok(NULL, "\n"))
		if (!KT_CHECK(strstr(json_end, l) != NULL))
			printf("    not at exit: %s\n", l);
	free(out);
}

/* A child of fork(2) that calls exit(3) reports its own memory. */
static void
test_atexit_fork(void)
{
	char *argv[] = { "kmem_report_helper", "fork-exit", NULL };
	char *out = report_helper_ok(argv, "atexit=kmastat,reap_interval=0");
	unsigned long inuse = 9, alloc = 9;

	if (out == NULL)
		return;
	char *child = strstr(out, "child exits\n");
	char *parent = strstr(out, "parent returns\n");
	KT_CHECK(child != NULL && parent != NULL && child < parent);
	KT_CHECK(child != NULL && kmastat_row(child, "t_child", &inuse,
	    &alloc) && inuse == 3);
	KT_CHECK(parent != NULL && kmastat_row(parent, "t_child", &inuse,
	    &alloc) && inuse == 0);
	free(out);
}

/*
 * Values that cannot be taken are reported, each in words that say why,
 * and ignored: the program runs, nothing is printed at exit, and a good
 * item before a bad one of the same name stands.
 */
static void
test_options_bad(void)
{
	static const char *const said[] = {
		"KMEM_OPTIONS: atexit: 'bogus' is not a report (kmastat, "
		    "kmastat_json or findleaks); atexit=kmastat+bogus ignored",
		"KMEM_OPTIONS: report_signal: 'NOPE' is not a signal name or "
		    "number; report_signal=NOPE ignored",
		"KMEM_OPTIONS: report_signal: SEGV cannot carry report "
		    "requests (it cannot be caught, reports a fault or is "
		    "kmem's own); report_signal=SEGV ignored",
		"KMEM_OPTIONS: report_signal: PWR cannot carry report "
		    "requests",
		"KMEM_OPTIONS: report_signal: sigkill cannot carry report "
		    "requests",
		"KMEM_OPTIONS: report_signal: '0' is not a signal name",
		"KMEM_OPTIONS: report_signal: '99999' is not a signal name",
		"KMEM_OPTIONS: report_signal: 32 cannot carry report requests",
		"KMEM_OPTIONS: report_signal: 'findleaks' is not a report a "
		    "signal prints (kmastat or kmastat_json); "
		    "report_signal=USR1+findleaks ignored",
		"KMEM_OPTIONS: atexit needs a value, as atexit=kmastat "
		    "(ignored)",
		"KMEM_OPTIONS: report_signal needs a value, as "
		    "report_signal=USR1 (ignored)",
	};
	char *argv[] = { "kmem_report_helper", "exit", NULL };
	char *out = report_helper_ok(argv, "atexit=kmastat+bogus,"
	    "report_signal=NOPE,report_signal=SEGV,report_signal=sigkill,"
	    "report_signal=PWR,"
	    "report_signal=0,report_signal=99999,report_signal=32,"
	    "report_signal=USR1+findleaks,"
	    "atexit,report_signal=,reap_interval=0");

	for (size_t i = 0; out != NULL && i < sizeof (said) / sizeof (*said);
	    i++)
		if (!KT_CHECK(strstr(out, said[i]) != NULL))
			printf("    not said: %s\n", said[i]);
	KT_CHECK(out != NULL && strstr(out, KMASTAT_HEAD + 1) == NULL);
	free(out);
	out = report_helper_ok(argv, "atexit=kmastat,atexit=bogus,"
	    "reap_interval=0");
	KT_CHECK(out != NULL && strstr(out, KMASTAT_HEAD + 1) != NULL);
	free(out);
}

static char report_path[64];

/* The helper's report file, read whole (to free). */
static char *
report_file(void)
{
	FILE *f = fopen(report_path, "r");
	char *text = calloc(1, 1 << 20);

	if (f != NULL) {
		size_t n = fread(text, 1, (1 << 20) - 1, f);
		text[n] = '\0';
		fclose(f);
	}
	unlink(report_path);
	return (text);
}

/* A scratch file for the helper's standard error, in report_path. */
static bool
report_file_make(void)
{
	int fd;

	snprintf(report_path, sizeof (report_path), "/tmp/kmem_report.XXXXXX");
	if (!KT_CHECK((fd = mkstemp(report_path)) >= 0))
		return (false);
	close(fd);
	return (true);
}

/*
 * Run the signal scenario (reports reports after the first) with options;
 * its report file, or NULL if it did not say its work came out right.
 */
static char *
signal_run(const char *options, int reports, const char *marker,
    const char *mode, int signo)
{
	char count[16], sig[16];

	if (!report_file_make())
		return (NULL);
	snprintf(count, sizeof (count), "%d", reports);
	snprintf(sig, sizeof (sig), "%d", signo);
	char *argv[] = { "kmem_report_helper", "signal", report_path, count,
	    (char *)marker, (char *)mode, sig, NULL };
	char *out = report_helper_ok(argv, options);
	char *file = report_file();
	char want[64];
	snprintf(want, sizeof (want), "reports %d rounds", reports + 1);
	bool ok = out != NULL && strstr(out, want) != NULL &&
	    strstr(out, "results ok\n") != NULL;
	if (!KT_CHECK(ok))
		printf("    helper said: %s\n    report file: %.2000s\n",
		    out != NULL ? out : "(nothing)", file);
	free(out);
	if (ok)
		return (file);
	free(file);
	return (NULL);
}

#define KMASTAT_LAST	"cached in free buffers"

/*
 * While the program works, each signal prints ::kmastat: a read(2) it
 * interrupts goes on, and the program's results are right.
 */
static void
test_signal_kmastat(void)
{
	char *file = signal_run("report_signal=USR1,reap_interval=0", 3,
	    KMASTAT_LAST, "", SIGUSR1);

	KT_CHECK(file != NULL && strncmp(file, KMASTAT_HEAD + 1,
	    strlen(KMASTAT_HEAD + 1)) == 0);
	KT_CHECK(file != NULL && strstr(file, "\nkmem_alloc_8 ") != NULL);
	free(file);
}

/* The kmastat documents text is made of, each checked; how many. */
static int
json_documents(char *text)
{
	int docs = 0;

	for (char *doc = text; doc != NULL && *doc != '\0'; docs++) {
		char *end = strstr(doc, "\n}\n");
		if (!KT_CHECK(end != NULL))
			break;
		char save = end[3];
		end[3] = '\0';
		jv_t *v = json_document(doc, "kmastat");
		KT_CHECK(jv_named(jv_get(v, "caches"), "kmem_alloc_8") != NULL);
		jv_free(v);
		end[3] = save;
		doc = end + 3;
	}
	return (docs);
}

/* The lines of text other than line (with its newline), in place. */
static void
drop_lines(char *text, const char *line)
{
	char *out = text;

	for (char *l = text; l != NULL && *l != '\0'; ) {
		char *nl = strchr(l, '\n');
		size_t len = nl != NULL ? (size_t)(nl - l) + 1 : strlen(l);
		if (len != strlen(line) || strncmp(l, line, len) != 0) {
			memmove(out, l, len);
			out += len;
		}
		l += len;
	}
	*out = '\0';
}

/*
 * report_signal=SIGNAL+kmastat_json: a document a signal, whole lines
 * among another thread's output to the same stream.
 */
static void
test_signal_json(void)
{
	char *file = signal_run("report_signal=SIGUSR1+kmastat_json", 2,
	    "\n}\n", "noise", SIGUSR1);

	if (file != NULL) {
		KT_CHECK(strstr(file, "noise\n") != NULL);
		drop_lines(file, "noise\n");
	}
	KT_EQ_U(json_documents(file), 3);
	free(file);
}

/*
 * Spellings: with and without SIG, any case, by number (a real-time
 * signal); both reports; and a signal the program ignored is taken.
 */
static void
test_signal_names(void)
{
	char rt[64];

	snprintf(rt, sizeof (rt), "report_signal=%d,reap_interval=0",
	    SIGRTMIN + 1);
	const struct { const char *options; int signo; } spelt[] = {
		{ "report_signal=sigusr1", SIGUSR1 },
		{ "report_signal=Usr2+kmastat+kmastat_json", SIGUSR2 },
		{ rt, SIGRTMIN + 1 },
		{ "report_signal=SIGIO", SIGIO },	/* another name */
	};
	for (size_t i = 0; i < sizeof (spelt) / sizeof (spelt[0]); i++) {
		char *file = signal_run(spelt[i].options, 1, KMASTAT_LAST, "",
		    spelt[i].signo);
		if (!KT_CHECK(file != NULL))
			printf("    %s\n", spelt[i].options);
		KT_CHECK(i != 1 || (file != NULL && strstr(file, "\n}\n") !=
		    NULL));
		free(file);
	}
	free(signal_run("report_signal=USR1", 1, KMASTAT_LAST, "ignore",
	    SIGUSR1));
}

/*
 * The program's own handler, from before kmem started (kmem says so) or
 * after: it runs, and kmem prints nothing.
 */
static void
test_signal_taken(void)
{
	char *argv[] = { "kmem_report_helper", "taken", NULL };
	char *out = report_helper_ok(argv, "report_signal=USR1");

	KT_CHECK(out != NULL && strstr(out, "KMEM_OPTIONS: report_signal=USR1: "
	    "the program handles this signal already, kmem leaves it alone; "
	    "no reports on this signal") != NULL);
	KT_CHECK(out != NULL && strstr(out, "own handler ran 1\n") != NULL);
	KT_CHECK(out != NULL && strstr(out, KMASTAT_HEAD + 1) == NULL);
	free(out);
	argv[1] = "taken-later";
	out = report_helper_ok(argv, "report_signal=USR1");
	KT_CHECK(out != NULL && strcmp(out, "own handler ran 1\n") == 0);
	free(out);
}

/*
 * The reports at exit begin while a signal's are printing: whole
 * documents, one set at a time.
 */
static void
test_signal_storm(void)
{
	if (!report_file_make())
		return;
	char *argv[] = { "kmem_report_helper", "storm", report_path, NULL };
	char *out = report_helper_ok(argv, "report_signal=USR1+kmastat_json,"
	    "atexit=kmastat_json");
	char *file = report_file();

	KT_CHECK(out != NULL && strcmp(out, "storm returns\n") == 0);
	KT_CMP_U(json_documents(file), >=, 2);
	free(file);
	free(out);
}

/*
 * The same storm with no atexit report: returning from main still waits
 * for a signal's report in progress, so no document is cut off.
 */
static void
test_signal_storm_exit(void)
{
	if (!report_file_make())
		return;
	char *argv[] = { "kmem_report_helper", "storm", report_path, NULL };
	char *out = report_helper_ok(argv, "report_signal=USR1+kmastat_json");
	char *file = report_file();

	KT_CHECK(out != NULL && strcmp(out, "storm returns\n") == 0);
	KT_CMP_U(json_documents(file), >=, 1);
	free(file);
	free(out);
}

/* A signal taken just before main returns: its report prints whole. */
static void
test_signal_raise_exit(void)
{
	if (!report_file_make())
		return;
	char *argv[] = { "kmem_report_helper", "raise-exit", report_path,
	    NULL };
	char *out = report_helper_ok(argv, "report_signal=USR1+kmastat_json");
	char *file = report_file();

	KT_CHECK(out != NULL && strcmp(out, "raise-exit returns\n") == 0);
	KT_EQ_U(json_documents(file), 1);
	free(file);
	free(out);
}

/* A child of fork(2) is not killed by the signal, and prints nothing. */
static void
test_signal_fork(void)
{
	char *argv[] = { "kmem_report_helper", "fork-signal", NULL };
	char *out = report_helper_ok(argv, "report_signal=USR1");

	KT_CHECK(out != NULL && strstr(out, "child exited 7\n") != NULL);
	KT_CHECK(out != NULL && strstr(out, KMASTAT_HEAD + 1) == NULL);
	if (out != NULL && strstr(out, "child exited 7\n") == NULL)
		printf("    %s\n", out);
	free(out);
}

KT_SUITE(report_suite,
	{ "report:json:kmastat", test_json_kmastat },
	{ "report:json:escapes", test_json_escapes },
	{ "report:json:vmem", test_json_vmem },
	{ "report:json:console", test_json_console },
	{ "report:json:vmstat_m", test_json_vmstat_m },
	{ "report:atexit:kmastat", test_atexit_kmastat },
	{ "report:atexit:not_on", test_atexit_not_on },
	{ "report:atexit:json", test_atexit_json },
	{ "report:atexit:all", test_atexit_all },
	{ "report:atexit:fork", test_atexit_fork },
	{ "report:options:bad", test_options_bad },
	{ "report:signal:kmastat", test_signal_kmastat },
	{ "report:signal:json", test_signal_json },
	{ "report:signal:names", test_signal_names },
	{ "report:signal:taken", test_signal_taken },
	{ "report:signal:storm", test_signal_storm },
	{ "report:signal:storm-exit", test_signal_storm_exit },
	{ "report:signal:raise-exit", test_signal_raise_exit },
	{ "report:signal:fork", test_signal_fork },
);
