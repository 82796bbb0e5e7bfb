/*
 * Debugging: the settings (KMEM_DEBUG) and what they need set up.
 *
 * kmem_debug_parse() reads the KMEM_DEBUG items into the flags and values
 * that caches created from then on take (cache.c: cache_debug_init()),
 * and kmem_debug_init() sets up, once the arenas exist, the logs (log.c)
 * and the firewall arena.
 */
#include "debug_impl.h"

int kmem_debug_flags;
size_t kmem_minfirewall;
vmem_t *kmem_firewall_arena;
uint32_t kmem_debug_mtbf;
uint32_t kmem_maxverify = KMEM_MAXVERIFY;
bool kmem_debug_checknull_on;

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
	char *va = vmem_pages_map(size + page, vmflag);
	if (va == NULL)
		return (NULL);
	if (!kmem_plat_guard(va + size, page)) {
		vmem_pages_unmap(va, size + page);
		return (NULL);
	}
	*sizep = size;
	return (va);
}

static void
firewall_release(vmem_t *src, void *va, size_t size)
{
	(void)src;
	vmem_pages_unmap(va, size + kmem_plat_pagesize());
}

/* After the arenas exist: the logs and the firewall arena. */
int
kmem_debug_init(void)
{
	kmem_log_init();
	if (kmem_firewall_arena != NULL)
		return (0);
	kmem_firewall_arena = vmem_xcreate("kmem_firewall", NULL, 0,
	    kmem_plat_pagesize(), firewall_import, firewall_release, NULL, 0,
	    VM_SLEEP);
	return (kmem_firewall_arena != NULL ? 0 : -1);
}

/*
 * One KMEM_DEBUG item (UMEM_DEBUG syntax); false if name is not one:
 *   guards		deadbeef and redzone checks on every transaction
 *   audit[=frames]	record each transaction (audit.c), frames deep
 *   contents[=bytes]	save freed buffers' first bytes (contents log)
 *   default		audit, contents and guards
 *   lite		the cheaper checks (one pattern word)
 *   firewall=size	buffers of size bytes or more end at a guard page
 *   maxverify=N	check the pattern in N bytes of each buffer
 *   mtbf=N		fail 1 KM_NOSLEEP allocation in N
 *   checknull		stop when an allocation would return NULL
 *   noabort		report corruption without stopping
 *   nosignal		stop on a transaction in a signal handler (audit)
 *   verbose		accepted (reports always go to the console)
 */
bool
kmem_debug_item(const char *name, bool has_value, const char *arg)
{
	uint64_t v = 0;

	if (has_value && (!kmem_parse_size(arg, &v) || v > UINT32_MAX)) {
		kmem_warn("KMEM_DEBUG: %s: '%s' is not a number", name, arg);
		return (true);
	}
	uint32_t value = (uint32_t)v;
	if (kmem_strcmp(name, "mtbf") == 0 && has_value)
		kmem_debug_mtbf = value;
	else if (kmem_strcmp(name, "maxverify") == 0 && has_value)
		kmem_maxverify = value;
	else if (kmem_strcmp(name, "guards") == 0)
		kmem_debug_flags |= KMF_BUFTAG;
	else if (kmem_strcmp(name, "default") == 0)
		kmem_debug_flags |= KMF_BUFTAG | KMF_AUDIT | KMF_CONTENTS;
	else if (kmem_strcmp(name, "audit") == 0) {
		kmem_debug_flags |= KMF_REDZONE | KMF_AUDIT;
		if (has_value)
			kmem_audit_frames = kmem_min(value, KMEM_STACK_MAX);
	} else if (kmem_strcmp(name, "contents") == 0) {
		kmem_debug_flags |= KMF_REDZONE | KMF_AUDIT | KMF_CONTENTS;
		if (has_value)
			kmem_content_maxsave = kmem_min(value,
			    KMEM_CONTENTS_MAX);
	} else if (kmem_strcmp(name, "nosignal") == 0)
		kmem_debug_flags |= KMF_REDZONE | KMF_AUDIT | KMF_CHECKSIGNAL;
	else if (kmem_strcmp(name, "firewall") == 0)
		kmem_minfirewall = has_value && value != 0 ? value :
		    kmem_plat_pagesize() / 2;
	else if (kmem_strcmp(name, "lite") == 0)
		kmem_debug_flags |= KMF_BUFTAG | KMF_LITE;
	else if (kmem_strcmp(name, "checknull") == 0)
		kmem_debug_checknull_on = true;
	else if (kmem_strcmp(name, "noabort") == 0)
		kmem_debug_noabort = true;
	else if (kmem_strcmp(name, "verbose") != 0)
		return (false);
	return (true);
}

/* The KMEM_DEBUG string: comma-separated items. */
void
kmem_debug_parse(const char *items)
{
	kmem_option_each(items, "KMEM_DEBUG", kmem_debug_item);
}
