/*
 * Reports on demand: what kmem_init(9)'s atexit= and report_signal= print,
 * when the platform calls back (src/init/report_options.c arranged it).
 *
 * Theory of operation
 * -------------------
 * kmi_report_exit() runs once, from the platform's exit hook;
 * kmi_report_signalled() runs on the platform's reporter thread, never in
 * a signal handler, so both may take kmem's locks and print as any
 * caller of kmem_kmastat() does.  A set of reports is printed under
 * kmi_report_lock, so that two sets never interleave; it is taken before
 * any other kmem lock.
 *
 * Reports go to the console (kmem_plat_write(), standard error when
 * hosted), a line a write: a line of a report is never torn by another
 * thread's output, and JSON documents can be picked out of a shared
 * stream by their first line "{" and last line "}".
 */
#include "stats_impl.h"

#define REPORT_LINE	(KMEM_JSON_LINE + 1)

/* One line and its newline in one write. */
static void
report_console(void *arg, const char *line)
{
	char buf[REPORT_LINE + 1];
	size_t len = kmi_strlen(line);

	(void)arg;
	if (len >= REPORT_LINE) {
		kmi_print_console(NULL, line);
		return;
	}
	memcpy(buf, line, len);
	buf[len] = '\n';
	kmem_plat_write(buf, len + 1);
}

/* The reports of mask, in a fixed order: the table, JSON, leaks. */
static void
report_print(unsigned mask)
{
	kmem_lock_enter(&kmi_report_lock);
	if (mask & KMEM_REPORT_KMASTAT)
		kmem_kmastat(report_console, NULL);
	if (mask & KMEM_REPORT_KMASTAT_JSON)
		kmem_kmastat_json(report_console, NULL);
	if (mask & KMEM_REPORT_FINDLEAKS)
		(void)kmem_findleaks(report_console, NULL);
	kmem_lock_exit(&kmi_report_lock);
}

/*
 * The process is exiting: the reports of atexit= (none with only
 * report_signal=: then it only waits for a signal's report in progress).
 */
void
kmi_report_exit(void)
{
	report_print(kmi_report_at_exit);
}

/* The report_signal= signal arrived: its reports. */
void
kmi_report_signalled(void)
{
	report_print(kmi_report_on_signal);
}
