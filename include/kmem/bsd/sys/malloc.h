/* <sys/malloc.h> for BSD kernel sources: kmem/bsd/malloc.h. */
#include "../malloc.h"
