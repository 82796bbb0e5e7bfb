/*
 * Option strings, as KMEM_OPTIONS and KMEM_DEBUG (UMEM_OPTIONS and
 * UMEM_DEBUG syntax) spell them: "name[=value],...".  The tokenizer and
 * the size parser that kmem_alloc's options and the debug layer's items
 * share.  No allocation, no libc: it runs before kmem is up.
 */
#include "base.h"

/*
 * The next "name[=value]" item of *pp into name and value (each truncated
 * to KMEM_OPTION_LEN - 1 characters; value is "" without '='); advances
 * *pp.  false at the end of the string.  Empty items are skipped.
 */
bool
kmi_option_next(const char **pp, char name[KMEM_OPTION_LEN],
    char value[KMEM_OPTION_LEN], bool *has_value)
{
	const char *p = *pp;

	while (p != NULL && *p == ',')
		p++;
	if (p == NULL || *p == '\0')
		return (false);
	size_t n = 0, v = 0;
	while (*p != '\0' && *p != ',' && *p != '=') {
		if (n + 1 < KMEM_OPTION_LEN)
			name[n++] = *p;
		p++;
	}
	name[n] = '\0';
	*has_value = (*p == '=');
	if (*has_value)
		p++;
	while (*p != '\0' && *p != ',') {
		if (v + 1 < KMEM_OPTION_LEN)
			value[v++] = *p;
		p++;
	}
	value[v] = '\0';
	*pp = p;
	return (true);
}

/*
 * Call item(name, has_value, value) for every item of items (NULL: none)
 * and report what it could not take, naming source (KMEM_OPTIONS,
 * KMEM_DEBUG, ...); a bad item is ignored, the others still apply.
 */
void
kmi_option_each(const char *items, const char *source, kmem_option_fn *item)
{
	const char *p = items;
	char name[KMEM_OPTION_LEN], value[KMEM_OPTION_LEN];
	bool has_value;

	while (kmi_option_next(&p, name, value, &has_value)) {
		switch (item(name, has_value, value)) {
		case KMEM_OPT_OK:
			break;
		case KMEM_OPT_UNKNOWN:
			kmi_warn("%s: '%s': unknown option (ignored)", source,
			    name);
			break;
		case KMEM_OPT_BAD_VALUE:
			kmi_warn("%s: %s: '%s' is not a valid size or number "
			    "(ignored)", source, name, value);
			break;
		case KMEM_OPT_NEEDS_VALUE:
			kmi_warn("%s: %s needs a value, as %s=SIZE (ignored)",
			    source, name, name);
			break;
		case KMEM_OPT_NO_VALUE:
			kmi_warn("%s: %s takes no value (ignored)", source,
			    name);
			break;
		case KMEM_OPT_REPORTED:
			break;
		}
	}
}

/* A size with an optional k, m, g or t suffix; false if malformed. */
bool
kmi_parse_size(const char *s, uint64_t *vp)
{
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return (false);
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return (false);
		v = v * 10 + (uint64_t)(*s - '0');
	}
	int shift = 0;
	switch (*s) {
	case 'k': case 'K': shift = 10; s++; break;
	case 'm': case 'M': shift = 20; s++; break;
	case 'g': case 'G': shift = 30; s++; break;
	case 't': case 'T': shift = 40; s++; break;
	default: break;
	}
	if (*s != '\0' || (shift != 0 && v > (UINT64_MAX >> shift)))
		return (false);
	*vp = v << shift;
	return (true);
}
