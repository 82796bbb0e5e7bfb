/*
 * Physical memory: the multiboot memory map, and a page allocator over it
 * for the kmem platform's kmem_plat_map()/kmem_plat_unmap().
 *
 * The loader's memory map lists the RAM ranges ("available", type 1).  Of
 * those, every page at or above 1 MiB and past the kernel image (_end),
 * below 4 GiB (what boot.S maps), becomes a span of the allocator: a
 * bitmap with one bit per 4 KiB page, set when the page is free.  Memory
 * below 1 MiB (BIOS data, the second CPU's trampoline) is never handed
 * out.  An allocation is the next run of n free pages after a rover
 * (next fit, so freed memory is not reused at once and a stale pointer
 * reads someone else's data late rather than early); a free sets the bits
 * again, so kmem may give back any page-aligned part of what it mapped.
 * One spin lock, in an spl section: interrupt handlers allocate too.
 *
 * Pages are handed out at their address in the direct map, physical
 * address + DIRECT_MAP, not at the identity-mapped one: there no number
 * the kernel keeps (a byte count, a tick count) looks like a pointer to
 * kmem's memory, which a conservative leak scan would take for one.
 *
 * The command line (less its first word, the image's name) and the map
 * are copied out of the multiboot information first: the loader put
 * them in memory the allocator hands out.
 */
#include "kernel.h"

#define	DIRECT_MAP	0xffff800000000000ull	/* boot.S maps 4 GiB here */
#define	MB_BOOT_MAGIC	0x2badb002
#define	MB_INFO_CMDLINE	0x04
#define	MB_INFO_MMAP	0x40
#define	PAGE		4096
#define	MAX_PAGES	(1u << 20)	/* 4 GiB */
#define	WORD_BITS	64

typedef struct mb_info {
	uint32_t	mi_flags;
	uint32_t	mi_mem_lower, mi_mem_upper;
	uint32_t	mi_boot_device;
	uint32_t	mi_cmdline;
	uint32_t	mi_mods_count, mi_mods_addr;
	uint32_t	mi_syms[4];
	uint32_t	mi_mmap_length, mi_mmap_addr;
} mb_info_t;

typedef struct mb_mmap {
	uint32_t	mm_size;	/* of the rest of the entry */
	uint64_t	mm_base;
	uint64_t	mm_length;
	uint32_t	mm_type;
} __attribute__((packed)) mb_mmap_t;

static uint64_t mem_free_map[MAX_PAGES / WORD_BITS];
static uint32_t mem_lock;
static size_t mem_npages_total;
static size_t mem_rover, mem_limit;	/* page numbers */
static char mem_cmdline_buf[256];

static bool
page_is_free(size_t pg)
{
	return ((mem_free_map[pg / WORD_BITS] >> (pg % WORD_BITS)) & 1);
}

static void
pages_mark(size_t pg, size_t n, bool free)
{
	for (size_t i = pg; i < pg + n; i++) {
		uint64_t bit = (uint64_t)1 << (i % WORD_BITS);
		if (free)
			mem_free_map[i / WORD_BITS] |= bit;
		else
			mem_free_map[i / WORD_BITS] &= ~bit;
	}
}

static void
mem_add_span(uint64_t base, uint64_t length, size_t first)
{
	uint64_t lo = (base + PAGE - 1) / PAGE, hi = (base + length) / PAGE;

	if (lo < first)
		lo = first;
	if (hi > MAX_PAGES)
		hi = MAX_PAGES;
	if (lo >= hi)
		return;
	pages_mark(lo, hi - lo, true);
	mem_npages_total += hi - lo;
	if (hi > mem_limit)
		mem_limit = hi;
	kprintf("memory: %#llx-%#llx (%llu KiB)\n",
	    (unsigned long long)(lo * PAGE), (unsigned long long)(hi * PAGE),
	    (unsigned long long)((hi - lo) * PAGE / 1024));
}

void
mem_init(uint32_t magic, uint32_t info)
{
	const mb_info_t *mi = (const mb_info_t *)(uintptr_t)info;
	mb_mmap_t map[32];
	unsigned nmap = 0;

	if (magic != MB_BOOT_MAGIC || !(mi->mi_flags & MB_INFO_MMAP))
		kernel_panic("not booted by a multiboot loader with a memory "
		    "map (magic %#x)", magic);
	if (mi->mi_flags & MB_INFO_CMDLINE) {
		/* The loader's first word is the kernel image's name. */
		const char *cl = (const char *)(uintptr_t)mi->mi_cmdline;
		while (*cl != '\0' && *cl != ' ')
			cl++;
		while (*cl == ' ')
			cl++;
		kmi_snprintf(mem_cmdline_buf, sizeof (mem_cmdline_buf), "%s",
		    cl);
	}
	for (uint32_t off = 0; off < mi->mi_mmap_length && nmap < 32; ) {
		const mb_mmap_t *e =
		    (const mb_mmap_t *)(uintptr_t)(mi->mi_mmap_addr + off);
		map[nmap++] = *e;
		off += e->mm_size + 4;
	}
	size_t first = ((uintptr_t)_end + PAGE - 1) / PAGE;
	for (unsigned i = 0; i < nmap; i++)
		if (map[i].mm_type == 1)
			mem_add_span(map[i].mm_base, map[i].mm_length, first);
	mem_rover = first;
}

/* The first run of n free pages at or after pg, or mem_limit. */
static size_t
pages_find(size_t pg, size_t limit, size_t n)
{
	size_t run = 0;

	while (pg < limit) {
		if (pg % WORD_BITS == 0 && run == 0 &&
		    mem_free_map[pg / WORD_BITS] == 0) {
			pg += WORD_BITS;
			continue;
		}
		run = page_is_free(pg) ? run + 1 : 0;
		pg++;
		if (run == n)
			return (pg - n);
	}
	return (mem_limit);
}

void *
mem_pages_alloc(size_t size)
{
	size_t n = size / PAGE;

	spin_enter(&mem_lock);
	size_t pg = pages_find(mem_rover, mem_limit, n);
	if (pg == mem_limit)
		pg = pages_find(0, mem_rover + n < mem_limit ?
		    mem_rover + n : mem_limit, n);
	void *va = NULL;
	if (pg != mem_limit) {
		pages_mark(pg, n, false);
		mem_rover = pg + n;
		va = (void *)(uintptr_t)(DIRECT_MAP + pg * PAGE);
	}
	spin_exit(&mem_lock);
	return (va);
}

void
mem_pages_free(void *va, size_t size)
{
	size_t pg = ((uintptr_t)va - DIRECT_MAP) / PAGE, n = size / PAGE;

	spin_enter(&mem_lock);
	for (size_t i = pg; i < pg + n; i++)
		if (page_is_free(i))
			kernel_panic("mem_pages_free(%p, %zu): page %#zx is "
			    "free already", va, size, i * PAGE);
	pages_mark(pg, n, true);
	spin_exit(&mem_lock);
}

size_t
mem_total(void)
{
	return (mem_npages_total * PAGE);
}

const char *
mem_cmdline(void)
{
	return (mem_cmdline_buf);
}
