/*
 * Start-up internals (init.c): the root arena.
 */
#ifndef KMEM_INIT_IMPL_H
#define KMEM_INIT_IMPL_H

#include "../kmem_alloc/kmem_alloc_impl.h"

extern vmem_t *kmem_heap_arena;
void kmi_world_lock(void);
void kmi_world_unlock(void);

/*
 * Reports on demand (report_options.c; src/stats/report.c prints them):
 * what kmem_init(9)'s atexit= and report_signal= asked for.
 */
#define KMEM_REPORT_KMASTAT		0x1	/* the ::kmastat table */
#define KMEM_REPORT_KMASTAT_JSON	0x2	/* kmem_kmastat_json() */
#define KMEM_REPORT_FINDLEAKS		0x4	/* kmem_findleaks() */
#define KMEM_REPORT_ALL			0x7
extern unsigned kmi_report_at_exit;	/* KMEM_REPORT_*, at exit */
extern unsigned kmi_report_on_signal;	/* KMEM_REPORT_*, on the signal */
extern kmem_lock_t kmi_report_lock;	/* one report at a time; first */
void kmi_report_options_begin(const char *source);
kmem_optres_t kmi_report_item(const char *name, bool has_value,
    const char *value);
void kmi_report_start(void);

#endif /* KMEM_INIT_IMPL_H */
