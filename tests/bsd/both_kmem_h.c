/*
 * Must not compile (make test-examples checks the message): NetBSD's
 * <sys/kmem.h> and illumos's <kmem/kmem.h> give KM_SLEEP different
 * values.  BOTH_ORDER picks which comes first.
 */
#ifdef BOTH_ORDER
#include <kmem/kmem.h>
#include <sys/kmem.h>
#else
#include <sys/kmem.h>
#include <kmem/kmem.h>
#endif
int both_kmem_h(void);
int both_kmem_h(void) { return (0); }
