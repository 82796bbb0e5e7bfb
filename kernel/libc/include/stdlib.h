/*
 * The demo kernel's <stdlib.h> for the test suites: a heap of whole
 * pages beside kmem (stdlib.c), so that the tests' own buffers do not
 * show in kmem's statistics, as in a process.
 */
#ifndef KLIBC_STDLIB_H
#define KLIBC_STDLIB_H

#include <stddef.h>

void *malloc(size_t size);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);
void free(void *p);
_Noreturn void abort(void);
int rand_r(unsigned *seed);

#endif
