/*
 * The checks and helpers every runner shares (tests/harness.c hosted,
 * kernel/ktest.c in the demo kernel): failed checks are counted against
 * the running test (kt_current) and printed with both sides.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

bool kt_quick;
int kt_failed_checks;
const char *kt_current;

bool
kt_check(bool ok, const char *expr, const char *file, int line)
{
	if (!ok) {
		kt_failed_checks++;
		printf("  FAIL %s: %s:%d: %s\n", kt_current, file, line, expr);
	}
	return (ok);
}

bool
kt_check_u(uint64_t a, uint64_t b, const char *op, bool ok, const char *ea,
    const char *eb, const char *file, int line)
{
	if (!ok) {
		kt_failed_checks++;
		printf("  FAIL %s: %s:%d: %s %s %s (%llu %s %llu)\n", kt_current,
		    file, line, ea, op, eb, (unsigned long long)a, op,
		    (unsigned long long)b);
	}
	return (ok);
}

void
kt_capture_line(void *arg, const char *line)
{
	kt_capture_t *c = arg;
	size_t n = strlen(line);
	char *buf = realloc(c->kc_buf, c->kc_len + n + 2);
	if (buf == NULL)
		return;
	c->kc_buf = buf;
	memcpy(buf + c->kc_len, line, n);
	buf[c->kc_len + n] = '\n';
	c->kc_len += n + 1;
	buf[c->kc_len] = '\0';
	c->kc_lines++;
}

/* Empty it, keeping its buffer. */
void
kt_capture_reset(kt_capture_t *c)
{
	c->kc_len = 0;
	c->kc_lines = 0;
	if (c->kc_buf != NULL)
		c->kc_buf[0] = '\0';
}

void
kt_capture_free(kt_capture_t *c)
{
	free(c->kc_buf);
	c->kc_buf = NULL;
	kt_capture_reset(c);
}

int
kt_ctor_refuse(void *buf, void *priv, int flag)
{
	(void)buf, (void)priv, (void)flag;
	return (-1);
}
