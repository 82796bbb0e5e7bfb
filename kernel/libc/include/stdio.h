/* The demo kernel's <stdio.h> for the test suites: the console (stdio.c). */
#ifndef KLIBC_STDIO_H
#define KLIBC_STDIO_H

#include <stdarg.h>
#include <stddef.h>

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int snprintf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t len, const char *fmt, va_list ap);
int sscanf(const char *s, const char *fmt, ...)
    __attribute__((format(scanf, 2, 3)));

#endif
