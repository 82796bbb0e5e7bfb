/*
 * The demo kernel has no signals; the suites name SIGABRT and SIGSEGV
 * only in tests that run child processes, which the kernel skips.
 */
#ifndef KLIBC_SIGNAL_H
#define KLIBC_SIGNAL_H

#define	SIGABRT	6
#define	SIGSEGV	11

#endif
