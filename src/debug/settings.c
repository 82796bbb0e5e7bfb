/*
 * Debugging: the settings (KMEM_DEBUG) and what they need set up.
 *
 * kmi_debug_parse() reads the KMEM_DEBUG items into the flags and values
 * that caches created from then on take (cache.c: cache_debug_init()),
 * and kmi_debug_init() sets up, once the arenas exist, the logs (log.c)
 * and the firewall arena.
 */
#include "debug_impl.h"

int kmi_debug_flags;
size_t kmi_minfirewall;
vmem_t *kmi_firewall_arena;
uint32_t kmi_debug_mtbf;
uint32_t kmi_maxverify = KMEM_MAXVERIFY;
bool kmi_debug_checknull_on;

/*
 * The firewall arena: each span it imports is followed by a guard page,
 * mapped with it but inaccessible, and goes back to the platform as soon
 * as it is free (firewall caches keep no empty slab), so that a write
 * past a buffer or a use after free faults at once.
 */
static void *
firewall_import(vmem_t *src, size_t *sizep, size_t align, int vmflag)
{
	size_t page = kmem_plat_pagesize();
	size_t size = P2ROUNDUP(*sizep, page);

	(void)src;
	(void)align;
	char *va = vmi_pages_map(size + page, 0, vmflag);
	if (va == NULL)
		return (NULL);
	if (!kmem_plat_guard(va + size, page)) {
		vmi_pages_unmap(va, size + page);
		return (NULL);
	}
	*sizep = size;
	return (va);
}

static void
firewall_release(vmem_t *src, void *va, size_t size)
{
	(void)src;
	vmi_pages_unmap(va, size + kmem_plat_pagesize());
}

/* After the arenas exist: the logs and the firewall arena. */
int
kmi_debug_init(void)
{
	kmi_log_init();
	if (kmi_firewall_arena != NULL)
		return (0);
	kmi_firewall_arena = vmem_xcreate("kmem_firewall", NULL, 0,
	    kmem_plat_pagesize(), firewall_import, firewall_release, NULL, 0,
	    VM_SLEEP);
	return (kmi_firewall_arena != NULL ? 0 : -1);
}

/* After a failed kmem_init(): the logs and the firewall arena go. */
void
kmi_debug_fini(void)
{
	kmi_log_fini();
	if (kmi_firewall_arena != NULL)
		vmem_destroy(kmi_firewall_arena);
	kmi_firewall_arena = NULL;
}

/*
 * The KMEM_DEBUG items (UMEM_DEBUG syntax), and whether each takes a
 * value (a number, with an optional k, m, g or t suffix):
 *   guards		deadbeef and redzone checks on every transaction
 *   audit[=frames]	record each transaction (audit.c), frames deep
 *   contents[=bytes]	save freed buffers' first bytes (contents log)
 *   default		audit, contents and guards
 *   lite		the cheaper checks (one pattern word)
 *   firewall[=size]	buffers of size bytes or more end at a guard page
 *   maxverify=N	check the pattern in N bytes of each buffer
 *   mtbf=N		fail 1 KM_NOSLEEP allocation in N
 *   checknull		stop when an allocation would return NULL
 *   noabort		report corruption without stopping
 *   nosignal		stop on a transaction in a signal handler (audit)
 *   unwind		audit, walking stacks by the unwind tables
 *   verbose		accepted (reports always go to the console)
 */
enum { VAL_NONE, VAL_OPTIONAL, VAL_REQUIRED };
static const struct {
	const char	*di_name;
	int		di_value;
} kmem_debug_items[] = {
	{ "guards", VAL_NONE }, { "audit", VAL_OPTIONAL },
	{ "contents", VAL_OPTIONAL }, { "default", VAL_NONE },
	{ "lite", VAL_NONE }, { "firewall", VAL_OPTIONAL },
	{ "maxverify", VAL_REQUIRED }, { "mtbf", VAL_REQUIRED },
	{ "checknull", VAL_NONE }, { "noabort", VAL_NONE },
	{ "nosignal", VAL_NONE }, { "verbose", VAL_NONE },
	{ "unwind", VAL_NONE },
};

/* Apply item name (known, its value checked) with value. */
static void
debug_item_apply(const char *name, bool has_value, uint32_t value)
{
	if (kmi_strcmp(name, "mtbf") == 0)
		kmi_debug_mtbf = value;
	else if (kmi_strcmp(name, "maxverify") == 0)
		kmi_maxverify = value;
	else if (kmi_strcmp(name, "guards") == 0)
		kmi_debug_flags |= KMF_BUFTAG;
	else if (kmi_strcmp(name, "default") == 0)
		kmi_debug_flags |= KMF_BUFTAG | KMF_AUDIT | KMF_CONTENTS;
	else if (kmi_strcmp(name, "audit") == 0) {
		kmi_debug_flags |= KMF_REDZONE | KMF_AUDIT;
		if (has_value)
			kmi_audit_frames = kmem_min(value, KMEM_STACK_MAX);
	} else if (kmi_strcmp(name, "contents") == 0) {
		kmi_debug_flags |= KMF_REDZONE | KMF_AUDIT | KMF_CONTENTS;
		if (has_value)
			kmi_content_maxsave = kmem_min(value,
			    KMEM_CONTENTS_MAX);
	} else if (kmi_strcmp(name, "nosignal") == 0)
		kmi_debug_flags |= KMF_REDZONE | KMF_AUDIT | KMF_CHECKSIGNAL;
	else if (kmi_strcmp(name, "unwind") == 0) {
		kmi_debug_flags |= KMF_REDZONE | KMF_AUDIT;
		if (!kmem_plat_stack_unwinder(true))
			kmi_warn("KMEM_DEBUG: unwind: no unwinder here; stacks "
			    "follow frame pointers");
	} else if (kmi_strcmp(name, "firewall") == 0)
		kmi_minfirewall = has_value && value != 0 ? value :
		    kmem_plat_pagesize() / 2;
	else if (kmi_strcmp(name, "lite") == 0)
		kmi_debug_flags |= KMF_BUFTAG | KMF_LITE;
	else if (kmi_strcmp(name, "checknull") == 0)
		kmi_debug_checknull_on = true;
	else if (kmi_strcmp(name, "noabort") == 0)
		kmi_debug_noabort = true;
}

/* One KMEM_DEBUG item. */
kmem_optres_t
kmi_debug_item(const char *name, bool has_value, const char *arg)
{
	size_t n = sizeof (kmem_debug_items) / sizeof (kmem_debug_items[0]);
	size_t i = 0;
	uint64_t v = 0;

	while (i < n && kmi_strcmp(name, kmem_debug_items[i].di_name) != 0)
		i++;
	if (i == n)
		return (KMEM_OPT_UNKNOWN);
	if (has_value && kmem_debug_items[i].di_value == VAL_NONE)
		return (KMEM_OPT_NO_VALUE);
	if (!has_value && kmem_debug_items[i].di_value == VAL_REQUIRED)
		return (KMEM_OPT_NEEDS_VALUE);
	if (has_value && (!kmi_parse_size(arg, &v) || v > UINT32_MAX))
		return (KMEM_OPT_BAD_VALUE);
	debug_item_apply(name, has_value, (uint32_t)v);
	return (KMEM_OPT_OK);
}

/* The KMEM_DEBUG string: comma-separated items. */
void
kmi_debug_parse(const char *items)
{
	kmi_option_each(items, "KMEM_DEBUG", kmi_debug_item);
}
