/* <sys/pool.h> for NetBSD kernel sources: kmem/bsd/pool.h. */
#include "../pool.h"
