/*
 * The demo kernel's work (run.c): each part returns whether its checks
 * passed.
 */
#ifndef KERNEL_RUN_H
#define KERNEL_RUN_H

#include <stdbool.h>

_Noreturn void kernel_run(void);
bool irqdemo_run(void);		/* interrupt-context allocations */
void irqdemo_report(void);	/* a line per CPU */
bool reapdemo_run(void);	/* the periodic update reaps */
bool ktest_run(void);		/* the harness's kernel suites */
bool leakdemo_run(void);	/* the leak scan stops the other CPU */

#endif
