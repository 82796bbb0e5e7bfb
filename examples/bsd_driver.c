/*
 * A driver written for a BSD kernel, compiled unchanged against kmem:
 * its own malloc type, NetBSD malloc(9) and DragonFly kmalloc(9) calls,
 * and the C library's malloc() in the same source (hosted, the header
 * tells them apart by argument count).  Prints vmstat -m at the end.
 *
 *	cc -I<prefix>/include -I<prefix>/include/kmem/bsd bsd_driver.c -lkmem
 */
#include <sys/types.h>
#include <sys/malloc.h>

#include <stdio.h>
#include <string.h>

MALLOC_DECLARE(M_FOOBUF);
MALLOC_DEFINE(M_FOOBUF, "foobuffers", "Buffers to foo data into the ether");

struct foo_softc {
	int		sc_unit;
	size_t		sc_nbufs;
	char		**sc_bufs;
	char		*sc_name;
};

static struct foo_softc *
foo_attach(int unit, size_t nbufs)
{
	struct foo_softc *sc;

	MALLOC(sc, struct foo_softc *, sizeof (*sc), M_DEVBUF,
	    M_WAITOK | M_ZERO);
	sc->sc_unit = unit;
	sc->sc_nbufs = nbufs;
	sc->sc_bufs = malloc(nbufs * sizeof (char *), M_DEVBUF, M_WAITOK |
	    M_ZERO);
	for (size_t i = 0; i < nbufs; i++) {
		sc->sc_bufs[i] = kmalloc(64 << (i % 6), M_FOOBUF, M_WAITOK);
		memset(sc->sc_bufs[i], (int)i, 64);
	}
	sc->sc_name = kstrdup("foo", M_TEMP);
	return (sc);
}

/* Grow every buffer: krealloc keeps the contents. */
static int
foo_grow(struct foo_softc *sc)
{
	for (size_t i = 0; i < sc->sc_nbufs; i++) {
		char *nb = krealloc(sc->sc_bufs[i], 4096, M_FOOBUF, M_NOWAIT);
		if (nb == NULL)
			return (-1);	/* the old buffer is still good */
		if (nb[63] != (char)i)
			return (-1);
		sc->sc_bufs[i] = nb;
	}
	return (0);
}

static void
foo_detach(struct foo_softc *sc)
{
	for (size_t i = 0; i < sc->sc_nbufs; i++)
		kfree(sc->sc_bufs[i], M_FOOBUF);
	free(sc->sc_bufs, M_DEVBUF);
	kfree(sc->sc_name, M_TEMP);
	FREE(sc, M_DEVBUF);
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
	/* The C library's malloc, in the same source. */
	char *note = malloc(32);
	if (note == NULL)
		return (1);
	snprintf(note, 32, "attached %d units", 2);

	struct foo_softc *a = foo_attach(0, 12), *b = foo_attach(1, 4);
	if (foo_grow(a) != 0 || foo_grow(b) != 0) {
		fprintf(stderr, "bsd_driver: krealloc lost data\n");
		return (1);
	}
	struct malloc_type_stat mts;
	malloc_type_stat(M_FOOBUF, &mts);
	printf("bsd_driver: %s; M_FOOBUF holds %lu buffers, %lu bytes, "
	    "malloc_roundup(100) = %lu\n\n", note, mts.mts_inuse,
	    mts.mts_memuse, malloc_roundup(100));
	kmem_vmstat_m(print_line, NULL);
	foo_detach(a);
	foo_detach(b);
	free(note);

	malloc_type_stat(M_FOOBUF, &mts);
	if (mts.mts_inuse != 0 || mts.mts_memuse != 0) {
		fprintf(stderr, "bsd_driver: M_FOOBUF still holds %lu\n",
		    mts.mts_inuse);
		return (1);
	}
	printf("\nbsd_driver: detached; M_FOOBUF holds nothing (%lu "
	    "requests, high water %lu bytes)\n", mts.mts_calls,
	    mts.mts_maxused);
	return (0);
}
