/*
 * kmem_findleaks(): a program with known reachable buffers and known
 * leaks (tests/leak_helper.c), under each debug mode: exactly the leaks
 * are reported, with their allocating functions under audit.  The
 * program runs in a process of its own (a fresh stack, no other test's
 * stale pointers; and natively when this suite runs under valgrind).
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* What leak_helper.c leaks: 3 x 40, 2 x 64 (leak_node), 2 x 112, 4 MiB. */
#define KNOWN_LEAKS	8
#define KNOWN_BYTES	(3 * 40 + 2 * 64 + 2 * 112 + (4u << 20))

static char *
leak_helper(const char *what, const char *arg, const char *debug,
    int *status)
{
	char *argv[] = { "kmem_leak_helper", (char *)what, (char *)arg, NULL };
	char *envp[] = { "KMEM_OPTIONS=reap_interval=0", (char *)debug, NULL };

	return (kt_run_helper("kmem_leak_helper", argv, envp, status));
}

/* The count in the line of cache name whose caller is caller ("": any). */
static unsigned
leaked_in(const char *out, const char *cache, const char *caller)
{
	unsigned total = 0;
	size_t n = strlen(cache);

	for (const char *p = out; p != NULL && *p != '\0';
	    p = strchr(p, '\n'), p = p != NULL ? p + 1 : NULL) {
		unsigned count;
		char addr[32], who[128];
		if (strncmp(p, cache, n) != 0 || p[n] != ' ' ||
		    sscanf(p + n, "%u %31s %127s", &count, addr, who) != 3)
			continue;
		if (*caller == '\0' || strncmp(who, caller, strlen(caller)) == 0)
			total += count;
	}
	return (total);
}

static void
test_known_plain(void)
{
	int status;
	char *out = leak_helper("known", NULL, NULL, &status);
	char total[64];

	KT_EQ_U(status, 0);
	snprintf(total, sizeof (total), "   Total %d buffers, %u bytes\n",
	    KNOWN_LEAKS, KNOWN_BYTES);
	KT_CHECK(strstr(out, total) != NULL);
	KT_CHECK(strstr(out, "LEAKS 8\n") != NULL);
	KT_CHECK(strstr(out, "CACHE                    LEAKED             "
	    "BUFFER CALLER\n") != NULL);
	KT_EQ_U(leaked_in(out, "kmem_alloc_40", ""), 3);
	KT_EQ_U(leaked_in(out, "leak_node", ""), 2);
	KT_EQ_U(leaked_in(out, "kmem_alloc_112", ""), 2);
	KT_EQ_U(leaked_in(out, "kmem_oversize", ""), 1);
	/* Every reachable buffer stayed unreported. */
	KT_EQ_U(leaked_in(out, "kmem_alloc_24", ""), 0);
	KT_EQ_U(leaked_in(out, "kmem_alloc_48", ""), 0);
	KT_EQ_U(leaked_in(out, "kmem_alloc_56", ""), 0);
	KT_EQ_U(leaked_in(out, "kmem_alloc_80", ""), 0);
	KT_EQ_U(leaked_in(out, "kmem_alloc_224", ""), 0);
	KT_EQ_U(leaked_in(out, "leak_owner", ""), 0);
#ifndef __SANITIZE_THREAD__
	/* (TSan holds signals to a blocked thread until it wakes.) */
	if (!KT_CHECK(strstr(out, "did not stop") == NULL))
		printf("%s", out);
#endif
}

/* Under audit, each leak is named by the function that allocated it. */
static void
test_known_audit(void)
{
	static const char *const modes[] = { "KMEM_DEBUG=audit",
	    "KMEM_DEBUG=default", "KMEM_DEBUG=audit,contents,lite" };

	for (size_t m = 0; m < sizeof (modes) / sizeof (modes[0]); m++) {
		int status;
		char *out = leak_helper("known", NULL, modes[m], &status);
		KT_EQ_U(status, 0);
		KT_CHECK(strstr(out, "LEAKS 8\n") != NULL);
		KT_CHECK(strstr(out, "BUFCTL CALLER\n") != NULL);
		KT_EQ_U(leaked_in(out, "kmem_alloc_40", "leak_three+"), 3);
		KT_EQ_U(leaked_in(out, "leak_node", "leak_nodes+"), 2);
		KT_EQ_U(leaked_in(out, "kmem_alloc_112", "leak_cycle+"), 2);
		KT_EQ_U(leaked_in(out, "kmem_oversize", ""), 1);
		KT_CHECK(strstr(out, "reachable+") == NULL);
		if (strstr(out, "LEAKS 8\n") == NULL)
			printf("%s:\n%s", modes[m], out);
	}
}

/* Nothing allocated but what start-up holds: no leak. */
static void
test_none(void)
{
	int status;
	char *out = leak_helper("none", NULL, NULL, &status);

	KT_EQ_U(status, 0);
	KT_CHECK(strcmp(out, "   Total 0 buffers, 0 bytes\nLEAKS 0\n") == 0);
	out = leak_helper("none", NULL, "KMEM_DEBUG=default", &status);
	KT_CHECK(strstr(out, "LEAKS 0\n") != NULL);
}

/* A list of many, half of them cut out: exactly that half. */
static void
test_many(void)
{
	int status;
	char *out = leak_helper("many", kt_quick ? "2000" : "100000",
	    NULL, &status);

	if (!KT_EQ_U(status, 0))
		printf("%s", out);
	KT_CHECK(strstr(out, kt_quick ? "leaked 1000 " : "leaked 50000 ") !=
	    NULL);
}

/* The man page's promises at the edges. */
static void
test_edges(void)
{
	int status;
	char *out = leak_helper("unstarted", NULL, NULL, &status);

	KT_EQ_U(status, 0);
	KT_CHECK(strcmp(out, "   Total 0 buffers, 0 bytes\nLEAKS 0\n") == 0);
	/* No memory for the tables: said, SIZE_MAX, and the next scan runs. */
	out = leak_helper("nomem", NULL, NULL, &status);
	KT_EQ_U(status, 0);
	KT_CHECK(strstr(out, "findleaks: no memory for the scan's tables\n"
	    "LEAKS -1\n   Total 0 buffers, 0 bytes\nLEAKS 0\n") != NULL);
	/* The program's own SIGPWR handler keeps its signals. */
	out = leak_helper("signal", NULL, NULL, &status);
	KT_EQ_U(status, 0);
	KT_CHECK(strstr(out, "own handler ran 2 times") != NULL);
	KT_CHECK(strstr(out, "LEAKS 0\n") != NULL);
	/* A thread that blocks the signal: reported, its stack still read. */
	out = leak_helper("blocked", NULL, NULL, &status);
	KT_EQ_U(status, 0);
	KT_CHECK(strstr(out, " did not stop: registers not scanned") != NULL);
	KT_CHECK(strstr(out, "   Total 3 buffers, 120 bytes\nLEAKS 3\n") !=
	    NULL);
	/* A fork's child: the other thread's magazine rounds are free. */
	out = leak_helper("fork", NULL, NULL, &status);
	KT_EQ_U(status, 0);
	KT_CHECK(strcmp(out, "   Total 0 buffers, 0 bytes\nLEAKS 0\n") == 0);
	out = leak_helper("fork", NULL, "KMEM_DEBUG=audit", &status);
	KT_CHECK(strstr(out, "LEAKS 0\n") != NULL);
#ifndef __SANITIZE_ADDRESS__	/* (AddressSanitizer stops the bad write) */
	/* A damaged free list: said by verify and findleaks, no crash. */
	out = leak_helper("damaged", NULL, NULL, &status);
	KT_EQ_U(status, 0);
	KT_CHECK(strstr(out, "leak_victim                    0x") != NULL &&
	    strstr(out, "  damaged slab lists\n") != NULL);
	KT_CHECK(strstr(out, "findleaks: cache leak_victim: 1 slab with a "
	    "damaged free list left out (see kmem_verify)\n") != NULL);
	KT_CHECK(strstr(out, "LEAKS 0\n") != NULL);
#endif
}

KT_SUITE(findleaks_suite,
	{ "stats:findleaks:known", test_known_plain },
	{ "stats:findleaks:audit-callers", test_known_audit },
	{ "stats:findleaks:none", test_none },
	{ "stats:findleaks:many", test_many },
	{ "stats:findleaks:edges", test_edges },
);
