/*
 * Resident memory before, at peak, after freeing everything, and after a
 * reap (kmem_reap(); malloc_trim(0) for malloc, which only glibc honours).
 *
 *   bench_rss kmem|malloc
 *
 * Workload: 400,000 buffers of 16 bytes to 2 KiB (about 400 MiB) and 100
 * of 1 MiB, then all freed in random order.  Prints four sizes in MiB.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kmem/kmem.h>

static double
rss_mib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = 0;
	if (f != NULL)
		fclose(f);
	return ((double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0);
}

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

int
main(int argc, char **argv)
{
	enum { SMALL = 400000, LARGE = 100 };
	int use_kmem = argc > 1 && strcmp(argv[1], "kmem") == 0;
	void **ptr = calloc(SMALL + LARGE, sizeof (void *));
	size_t *size = calloc(SMALL + LARGE, sizeof (size_t));
	uint64_t seed = 12345;

	if (use_kmem)
		kmem_init(NULL);
	double start = rss_mib();
	for (int i = 0; i < SMALL + LARGE; i++) {
		size[i] = i < SMALL ? 16 + rnd(&seed) % 2033 : 1 << 20;
		ptr[i] = use_kmem ? kmem_alloc(size[i], KM_SLEEP) :
		    malloc(size[i]);
		memset(ptr[i], 1, size[i]);
	}
	double peak = rss_mib();
	for (int i = SMALL + LARGE - 1; i > 0; i--) {
		int j = (int)(rnd(&seed) % (uint64_t)(i + 1));
		void *t = ptr[i];
		size_t ts = size[i];
		ptr[i] = ptr[j];
		size[i] = size[j];
		ptr[j] = t;
		size[j] = ts;
	}
	for (int i = 0; i < SMALL + LARGE; i++) {
		if (use_kmem)
			kmem_free(ptr[i], size[i]);
		else
			free(ptr[i]);
	}
	double after_free = rss_mib();
	if (use_kmem)
		kmem_reap();
	else
		malloc_trim(0);
	double after_reap = rss_mib();
	printf("%.1f %.1f %.1f %.1f\n", start, peak, after_free, after_reap);
	return (0);
}
