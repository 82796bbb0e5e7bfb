/*
 * A NetBSD-style network driver's allocations, compiled unchanged against
 * kmem: a pool(9) of descriptors with a hard limit, a pool_cache(9) of
 * constructed buffers, kmem(9) for variable sizes and strings, and
 * uvm_km(9) for a ring of wired pages.  Prints vmstat -m and -C.
 *
 *	cc -I<prefix>/include -I<prefix>/include/kmem/bsd netbsd_driver.c \
 *	    -lkmem
 */
#include <sys/types.h>
#include <sys/kmem.h>
#include <sys/pool.h>
#include <sys/malloc.h>
#include <uvm/uvm_extern.h>

#include <stdio.h>
#include <string.h>

#define NDESC		64	/* descriptors a receive handles */
#define NLIMIT		48	/* descriptors the pool hands out */
#define RING_PAGES	4

struct xx_desc {
	uint32_t	d_index;
	uint32_t	d_flags;
	void		*d_buf;
};

struct xx_buf {
	uint32_t	b_magic;	/* set by the constructor, kept */
	uint32_t	b_len;
	char		b_data[1500];
};
#define XX_BUF_MAGIC	0x78786266

struct xx_softc {
	char		*sc_name;
	struct pool	sc_descpool;	/* embedded, as drivers do */
	pool_cache_t	sc_bufcache;
	vaddr_t		sc_ring;
	size_t		sc_nctor;
	size_t		sc_ndtor;
};

static int
xx_buf_ctor(void *arg, void *obj, int flags)
{
	struct xx_softc *sc = arg;
	struct xx_buf *b = obj;

	(void)flags;
	b->b_magic = XX_BUF_MAGIC;
	b->b_len = 0;
	sc->sc_nctor++;
	return (0);
}

static void
xx_buf_dtor(void *arg, void *obj)
{
	struct xx_softc *sc = arg;
	struct xx_buf *b = obj;

	b->b_magic = 0;
	sc->sc_ndtor++;
}

static struct xx_softc *
xx_attach(int unit)
{
	struct xx_softc *sc = kmem_zalloc(sizeof (*sc), KM_SLEEP);

	sc->sc_name = kmem_asprintf("xx%d", unit);
	pool_init(&sc->sc_descpool, sizeof (struct xx_desc), 0, 0, 0,
	    "xxdescpl", NULL, IPL_NET);
	pool_sethardlimit(&sc->sc_descpool, NLIMIT, "xx: out of descriptors",
	    60);
	sc->sc_bufcache = pool_cache_init(sizeof (struct xx_buf), 64, 0, 0,
	    "xxbufpl", NULL, IPL_VM, xx_buf_ctor, xx_buf_dtor, sc);
	sc->sc_ring = uvm_km_alloc(kernel_map, RING_PAGES * 4096, 0,
	    UVM_KMF_WIRED | UVM_KMF_ZERO);
	return (sc);
}

/* Receive n packets: a descriptor and a buffer each, then free them. */
static int
xx_rxeof(struct xx_softc *sc, int n)
{
	struct xx_desc *d[NDESC];
	int got = 0;

	for (int i = 0; i < n && got < NDESC; i++) {
		struct xx_desc *desc = pool_get(&sc->sc_descpool,
		    PR_NOWAIT | PR_ZERO);
		if (desc == NULL)
			break;		/* the hard limit: drop the packet */
		struct xx_buf *b = pool_cache_get(sc->sc_bufcache, PR_NOWAIT);
		if (b == NULL || b->b_magic != XX_BUF_MAGIC) {
			pool_put(&sc->sc_descpool, desc);
			return (-1);
		}
		b->b_len = (uint32_t)snprintf(b->b_data, sizeof (b->b_data),
		    "packet %d", i);
		desc->d_index = (uint32_t)i;
		desc->d_buf = b;
		d[got++] = desc;
	}
	for (int i = 0; i < got; i++) {
		pool_cache_put(sc->sc_bufcache, d[i]->d_buf);
		pool_put(&sc->sc_descpool, d[i]);
	}
	return (got);
}

static void
xx_detach(struct xx_softc *sc)
{
	uvm_km_free(kernel_map, sc->sc_ring, RING_PAGES * 4096,
	    UVM_KMF_WIRED);
	pool_cache_destroy(sc->sc_bufcache);
	pool_destroy(&sc->sc_descpool);
	kmem_strfree(sc->sc_name);
	kmem_free(sc, sizeof (*sc));
}

static void
print_line(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

int
main(void)
{
	struct xx_softc *sc = xx_attach(0);
	char *ring = (char *)sc->sc_ring;

	if (ring == NULL || ring[RING_PAGES * 4096 - 1] != 0)
		return (1);
	int got = xx_rxeof(sc, 40), capped = xx_rxeof(sc, NDESC);
	if (got != 40 || capped != NLIMIT) {
		fprintf(stderr, "netbsd_driver: got %d and %d packets\n", got,
		    capped);
		return (1);
	}
	printf("netbsd_driver: %s received %d then %d (the limit) packets; "
	    "%u descriptors requested, %zu buffers constructed\n\n",
	    sc->sc_name, got, capped, pool_nget(&sc->sc_descpool),
	    sc->sc_nctor);
	kmem_vmstat_m(print_line, NULL);
	printf("\n");
	kmem_vmstat_c(print_line, NULL);
	xx_detach(sc);
	return (0);
}
