/*
 * Function names for backtraces and kmem's audit reports.
 *
 * The kernel is linked twice (kernel.mk): first with an empty table, then
 * with the table kernel/ksyms.sh generates from the first
 * link's text symbols.  The table lives in its own section (.ksyms) after
 * all code and read-only data, so adding it moves no function: the
 * second link's text symbols are checked to equal the first's.
 */
#include "kernel.h"

typedef struct ksym {
	uintptr_t	ks_addr;
	uint32_t	ks_name;	/* offset into ksym_names */
} ksym_t;

extern const ksym_t ksym_table[];
extern const uint32_t ksym_count;
extern const char ksym_names[];

bool
kernel_symbol(uintptr_t pc, char *buf, size_t len)
{
	uint32_t lo = 0, hi = ksym_count;

	while (lo < hi) {		/* the last symbol at or below pc */
		uint32_t mid = lo + (hi - lo) / 2;
		if (ksym_table[mid].ks_addr <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || lo == ksym_count) {	/* the last one ends the text */
		kmi_snprintf(buf, len, "%#lx", (unsigned long)pc);
		return (false);
	}
	const ksym_t *ks = &ksym_table[lo - 1];
	kmi_snprintf(buf, len, "%s+%#lx", ksym_names + ks->ks_name,
	    (unsigned long)(pc - ks->ks_addr));
	return (true);
}
