/*
 * The illumos side of netbsd:kmem:link-both: this source includes
 * <kmem/kmem.h> (KM_SLEEP 0), test_netbsd.c includes <sys/kmem.h>
 * (KM_SLEEP 0x1); both allocate from the same kmem, and each frees what
 * the other allocated.
 */
#include <string.h>

#include <kmem/kmem.h>

void *kt_illumos_alloc(size_t size);
void kt_illumos_free(void *buf, size_t size);

void *
kt_illumos_alloc(size_t size)
{
	char *buf = kmem_alloc(size, KM_SLEEP);

	memset(buf, 'i', size);
	return (buf);
}

void
kt_illumos_free(void *buf, size_t size)
{
	kmem_free(buf, size);
}
