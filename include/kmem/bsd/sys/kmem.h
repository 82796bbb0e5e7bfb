/* <sys/kmem.h> for NetBSD kernel sources: kmem/bsd/netbsd_kmem.h. */
#include "../netbsd_kmem.h"
