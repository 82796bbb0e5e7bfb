/* The demo kernel's <unistd.h> for the test suites (pthread.c, stdlib.c). */
#ifndef KLIBC_UNISTD_H
#define KLIBC_UNISTD_H

int usleep(unsigned usec);
_Noreturn void _exit(int status);

#endif
