/*
 * The hosted platform's no-sleep sections (<kmem/kmem_posix.h>), which a
 * pressure test uses to stand for a context that must not block: in the
 * kernel they are the running thread's kernel_nosleep_enter()/exit(),
 * which kmem_plat_may_sleep() honours the same way.
 */
#include <kmem/kmem_posix.h>

#include "kernel.h"

void
kmem_posix_nosleep_enter(void)
{
	kernel_nosleep_enter();
}

void
kmem_posix_nosleep_exit(void)
{
	kernel_nosleep_exit();
}
