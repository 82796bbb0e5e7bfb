/*
 * A child's status, for the suites' hosted-only tests (skipped in the
 * kernel): the encoding of Linux, so that the macros read as they do.
 */
#ifndef KLIBC_SYS_WAIT_H
#define KLIBC_SYS_WAIT_H

#define	WIFEXITED(s)	(((s) & 0x7f) == 0)
#define	WEXITSTATUS(s)	(((s) >> 8) & 0xff)
#define	WIFSIGNALED(s)	(((s) & 0x7f) != 0 && ((s) & 0x7f) != 0x7f)
#define	WTERMSIG(s)	((s) & 0x7f)

#endif
