/*
 * The options that ask for reports (kmem_init(9)): atexit=REPORTS prints
 * them when the process exits, report_signal=SIGNAL[+REPORTS] each time
 * the signal arrives.  REPORTS are names joined by '+'.
 *
 * Theory of operation
 * -------------------
 * Start-up parses the items here and records what they ask for; the
 * statistics layer prints (src/stats/report.c), and the platform owns
 * process exit and signals.  Neither is reachable from start-up (the
 * printers are a layer above it), so after kmem's first start
 * kmi_report_start() asks the platform to call the core back:
 * kmi_report_exit() at exit (kmem_plat_at_exit()) and
 * kmi_report_signalled() from a thread of its own when the signal arrives
 * (kmem_plat_report_signal()), as it calls kmem_thread_exit() when a
 * thread ends.  A kernel, which neither exits nor takes signals, says so,
 * and the options are reported as unavailable.
 *
 * One report at a time: kmi_report_lock is held while a set of reports is
 * printed, so that the reports of a signal and of exit never interleave.
 * It comes before every other kmem lock (a report takes them) and is held
 * across fork(2) (its prepare handler is registered after kmem's own, so
 * it runs first), so that a child never inherits it held by a reporter
 * that did not follow.
 */
#include "init_impl.h"

unsigned kmi_report_at_exit;
unsigned kmi_report_on_signal;
kmem_lock_t kmi_report_lock = KMEM_LOCK_INIT;

static const char *report_source;	/* KMEM_OPTIONS or kmem_init */
static int report_signo;		/* 0: none */
static char report_signame[KMEM_OPTION_LEN];	/* as the option spelt it */

static const struct report_name {
	const char	*rn_name;
	unsigned	rn_flag;
} report_names[] = {
	{ "kmastat", KMEM_REPORT_KMASTAT },
	{ "kmastat_json", KMEM_REPORT_KMASTAT_JSON },
	{ "findleaks", KMEM_REPORT_FINDLEAKS },
};

/*
 * The reports named by words ("kmastat+findleaks") among those allowed;
 * 0, with the first bad word in bad, if one is not.  words is cut into
 * its words.
 */
static unsigned
report_words(char *words, unsigned allowed, char bad[KMEM_OPTION_LEN])
{
	unsigned mask = 0;
	char *w = words;

	for (;;) {
		char *end = w;
		while (*end != '\0' && *end != '+')
			end++;
		bool last = *end == '\0';
		*end = '\0';
		unsigned flag = 0;
		for (size_t i = 0; i < sizeof (report_names) /
		    sizeof (report_names[0]); i++)
			if (kmi_strcmp(w, report_names[i].rn_name) == 0)
				flag = report_names[i].rn_flag & allowed;
		if (flag == 0) {
			kmi_strlcpy(bad, w, KMEM_OPTION_LEN);
			return (0);
		}
		mask |= flag;
		if (last)
			return (mask);
		w = end + 1;
	}
}

static kmem_optres_t
report_atexit(const char *value)
{
	char words[KMEM_OPTION_LEN], bad[KMEM_OPTION_LEN];

	kmi_strlcpy(words, value, sizeof (words));
	unsigned mask = report_words(words, KMEM_REPORT_ALL, bad);
	if (mask == 0) {
		kmi_warn("%s: atexit: '%s' is not a report (kmastat, "
		    "kmastat_json or findleaks); atexit=%s ignored",
		    report_source, bad, value);
		return (KMEM_OPT_REPORTED);
	}
	kmi_report_at_exit = mask;
	return (KMEM_OPT_OK);
}

/* SIGNAL, then the reports it prints (::kmastat if none is named). */
static kmem_optres_t
report_signal(const char *value)
{
	char words[KMEM_OPTION_LEN], bad[KMEM_OPTION_LEN];
	unsigned mask = KMEM_REPORT_KMASTAT;

	kmi_strlcpy(words, value, sizeof (words));
	char *plus = words;
	while (*plus != '\0' && *plus != '+')
		plus++;
	if (*plus == '+') {
		*plus = '\0';
		mask = report_words(plus + 1, KMEM_REPORT_KMASTAT |
		    KMEM_REPORT_KMASTAT_JSON, bad);
	}
	int signo = kmem_plat_signal_number(words);
	if (signo == 0) {
		kmi_warn("%s: report_signal: '%s' is not a signal name or "
		    "number; report_signal=%s ignored", report_source, words,
		    value);
	} else if (signo < 0) {
		kmi_warn("%s: report_signal: %s cannot carry report requests "
		    "(it cannot be caught, reports a fault or is kmem's own); "
		    "report_signal=%s ignored", report_source, words, value);
	} else if (mask == 0) {
		kmi_warn("%s: report_signal: '%s' is not a report a signal "
		    "prints (kmastat or kmastat_json); report_signal=%s "
		    "ignored", report_source, bad, value);
	} else {
		report_signo = signo;
		kmi_strlcpy(report_signame, words, sizeof (report_signame));
		kmi_report_on_signal = mask;
		return (KMEM_OPT_OK);
	}
	return (KMEM_OPT_REPORTED);
}

/* A new parse of the options: nothing asked for yet. */
void
kmi_report_options_begin(const char *source)
{
	report_source = source;
	kmi_report_at_exit = kmi_report_on_signal = 0;
	report_signo = 0;
}

/* One item of kmem_init()'s options, if it is atexit or report_signal. */
kmem_optres_t
kmi_report_item(const char *name, bool has_value, const char *value)
{
	bool at_exit = kmi_strcmp(name, "atexit") == 0;

	if (!at_exit && kmi_strcmp(name, "report_signal") != 0)
		return (KMEM_OPT_UNKNOWN);
	if (!has_value || value[0] == '\0') {
		kmi_warn("%s: %s needs a value, as %s (ignored)", report_source,
		    name, at_exit ? "atexit=kmastat" : "report_signal=USR1");
		return (KMEM_OPT_REPORTED);
	}
	return (at_exit ? report_atexit(value) : report_signal(value));
}

static void
report_fork_prepare(void)
{
	kmem_lock_enter(&kmi_report_lock);
}

static void
report_fork_parent(void)
{
	kmem_lock_exit(&kmi_report_lock);
}

static void
report_fork_child(void)
{
	kmem_lock_init(&kmi_report_lock);
}

/*
 * After kmem's first start: have the platform call the reports back.
 * May allocate (through kmem, when kmem is malloc): no lock is held.
 */
void
kmi_report_start(void)
{
	if (kmi_report_at_exit == 0 && report_signo == 0)
		return;
	kmem_plat_atfork(report_fork_prepare, report_fork_parent,
	    report_fork_child);
	/*
	 * With report_signal= alone the exit hook still runs: it waits for
	 * a report in progress (kmi_report_lock), so that exit() does not cut
	 * a document off.
	 */
	if (!kmem_plat_at_exit() && kmi_report_at_exit != 0)
		kmi_warn("%s: atexit: this platform has no process exit; no "
		    "reports at exit", report_source);
	if (report_signo == 0)
		return;
	int rc = kmem_plat_report_signal(report_signo);
	if (rc != 0)
		kmi_warn("%s: report_signal=%s: %s; no reports on this signal",
		    report_source, report_signame, rc > 0 ? "the program "
		    "handles this signal already, kmem leaves it alone" :
		    "no thread to print the reports could start");
}
