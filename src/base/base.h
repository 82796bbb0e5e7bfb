/*
 * Base helpers shared by every layer of the core: power-of-two arithmetic,
 * bit scans, atomics, intrusive lists, assertions and the prefix for
 * internal symbols.  Freestanding: only the compiler's headers.
 */
#ifndef KMEM_BASE_H
#define KMEM_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdarg.h>
#include "kmem_platform.h"

#define KMEM_LIKELY(x)		__builtin_expect(!!(x), 1)
#define KMEM_UNLIKELY(x)	__builtin_expect(!!(x), 0)
#define KMEM_CACHE_LINE		64
#define KMEM_NOINLINE		__attribute__((noinline))
#define KMEM_ALWAYS_INLINE	inline __attribute__((always_inline))
/*
 * Internal data the fast paths of a shared library read: hidden, so that
 * position-independent code reaches it directly instead of through the
 * GOT (the export maps hide every internal name anyway).
 */
#define KMEM_HIDDEN	__attribute__((visibility("hidden")))
/*
 * A conservative scan reads memory it does not own (other threads' stacks,
 * a C library's heap with its sanitizer redzones): no sanitizer checks.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KMEM_NO_SANITIZE	__attribute__((no_sanitize("address", "thread")))
#else
#define KMEM_NO_SANITIZE
#endif

/*
 * An internal allocation flag, beside the KM_ and VM_ ones: the caller
 * will write every page of what it asks for, so a slab made for it may be
 * made resident at once (slab.c's slab_populates()).  The slab layer sets
 * it when a big cache of small buffers asks vmem_alloc() for a slab;
 * vmem_alloc() passes it on to its quantum caches, never to an import
 * function.
 */
#define KMI_POPULATE		0x01000000

/* ---- power-of-two arithmetic (illumos sysmacros names) ---- */
#define P2ALIGN(x, a)		((x) & -(a))
#define P2PHASE(x, a)		((x) & ((a) - 1))
#define P2NPHASE(x, a)		(-(x) & ((a) - 1))
#define P2ROUNDUP(x, a)		(-(-(x) & -(a)))
#define P2END(x, a)		(-(~(x) & -(a)))
#define P2CROSS(x, y, a)	(((x) ^ (y)) > (a) - 1)
#define IS_P2(x)		(((x) & ((x) - 1)) == 0)

/* Index of the highest set bit, counting from 1; highbit(0) == 0. */
static inline int
highbit(uint64_t x)
{
	return (x == 0 ? 0 : 64 - __builtin_clzll(x));
}

/* Index of the lowest set bit, counting from 1; lowbit(0) == 0. */
static inline int
lowbit(uint64_t x)
{
	return (x == 0 ? 0 : __builtin_ctzll(x) + 1);
}

static inline size_t
kmem_min(size_t a, size_t b)
{
	return (a < b ? a : b);
}

static inline size_t
kmem_max(size_t a, size_t b)
{
	return (a > b ? a : b);
}

/* ---- atomics: thin names over the compiler builtins ---- */
#define kmem_load_relaxed(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define kmem_load_acquire(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define kmem_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define kmem_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define kmem_fetch_add(p, v)	__atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define kmem_exchange(p, v)	__atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define kmem_cas(p, e, v)	__atomic_compare_exchange_n((p), (e), (v), \
				    false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)
#define kmem_compiler_barrier()	__atomic_signal_fence(__ATOMIC_SEQ_CST)

/* Tell the CPU we are spinning. */
static inline void
kmem_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("pause");
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/*
 * A counter written by one thread only and read by any: a relaxed
 * load-and-store pair, not a read-modify-write, so it costs what a plain
 * increment costs.
 */
static inline void
kmem_counter_add(uint64_t *p, uint64_t v)
{
	kmem_store_relaxed(p, kmem_load_relaxed(p) + v);
}

/* ---- intrusive doubly linked lists (circular, with a head node) ---- */
typedef struct kmem_list {
	struct kmem_list *next;
	struct kmem_list *prev;
} kmem_list_t;

#define KMEM_CONTAINER(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

static inline void
kmem_list_init(kmem_list_t *h)
{
	h->next = h->prev = h;
}

static inline bool
kmem_list_empty(const kmem_list_t *h)
{
	return (h->next == h);
}

static inline void
kmem_list_insert_after(kmem_list_t *at, kmem_list_t *n)
{
	n->prev = at;
	n->next = at->next;
	at->next->prev = n;
	at->next = n;
}

static inline void
kmem_list_insert_head(kmem_list_t *h, kmem_list_t *n)
{
	kmem_list_insert_after(h, n);
}

static inline void
kmem_list_insert_tail(kmem_list_t *h, kmem_list_t *n)
{
	kmem_list_insert_after(h->prev, n);
}

static inline void
kmem_list_remove(kmem_list_t *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

/* ---- locks and condition variables (src/base/lock.c) ---- */

/* A mutex in one word: 0 free, 1 held, 2 held with waiters. */
typedef struct kmem_lock {
	uint32_t lk_state;
} kmem_lock_t;

typedef struct kmem_cv {
	uint32_t cv_seq;
} kmem_cv_t;

#define KMEM_LOCK_INIT	{ 0 }
#define KMEM_CV_INIT	{ 0 }

void kmi_lock_enter_slow(kmem_lock_t *lk);
void kmi_lock_exit_slow(kmem_lock_t *lk);

static inline void
kmem_lock_init(kmem_lock_t *lk)
{
	lk->lk_state = 0;
}

/*
 * Every lock is held inside the platform's lock section
 * (kmem_plat_lock_begin/end: interrupts blocked on this CPU in a kernel,
 * nothing hosted), so that an interrupt handler never meets a lock its
 * own CPU holds.
 */
static inline bool
kmem_lock_tryenter(kmem_lock_t *lk)
{
	uint32_t free_state = 0;

	kmem_plat_lock_begin();
	if (kmem_cas(&lk->lk_state, &free_state, 1))
		return (true);
	kmem_plat_lock_end();
	return (false);
}

static inline void
kmem_lock_enter(kmem_lock_t *lk)
{
	if (!kmem_lock_tryenter(lk))
		kmi_lock_enter_slow(lk);
}

static inline void
kmem_lock_exit(kmem_lock_t *lk)
{
	if (kmem_exchange(&lk->lk_state, 0) == 2)
		kmi_lock_exit_slow(lk);
	kmem_plat_lock_end();
}

static inline bool
kmem_lock_held(kmem_lock_t *lk)
{
	return (kmem_load_relaxed(&lk->lk_state) != 0);
}

void kmi_cv_init(kmem_cv_t *cv);
void kmi_cv_wait(kmem_cv_t *cv, kmem_lock_t *lk);
void kmi_cv_signal(kmem_cv_t *cv);
void kmi_cv_broadcast(kmem_cv_t *cv);

/* ---- formatted output without libc (src/base/fmt.c) ---- */

/*
 * C's conversions but floating point (printed as "(float)"): flags, '*'
 * widths and precisions, hh h l ll j z t L, d i u o x X c s p n %.
 */
int kmi_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap);
int kmi_snprintf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A line sink: printers hand each finished line to one of these. */
typedef void kmem_print_fn(void *arg, const char *line);
void kmi_print_console(void *arg, const char *line);
void kmi_printf(kmem_print_fn *pr, void *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * JSON documents, line by line (json.c): begin, then members -- lists
 * (a member a line), rows and arrays (members on one line), numbers,
 * strings (NULL: null), booleans -- closing each container, then end.  A
 * NULL printer writes to the console, a line a write.
 */
#define KMEM_JSON_LINE		768	/* the longest line */
#define KMEM_JSON_STRMAX	120	/* strings are cut after this many bytes */
#define KMEM_JSON_DEPTH		6
typedef struct kmem_json_level {
	const char	*kl_close;	/* "}" or "]" */
	bool		kl_row;		/* members on the line it opened on */
	uint32_t	kl_members;
} kmem_json_level_t;
typedef struct kmem_json {
	kmem_print_fn	*kj_pr;
	void		*kj_arg;
	int		kj_depth;	/* containers open */
	size_t		kj_len;		/* of the line being built */
	kmem_json_level_t kj_level[KMEM_JSON_DEPTH];
	char		kj_line[KMEM_JSON_LINE + 1];	/* + '\n' or NUL */
} kmem_json_t;
void kmi_json_begin(kmem_json_t *kj, kmem_print_fn *pr, void *arg,
    const char *report);
void kmi_json_end(kmem_json_t *kj);
void kmi_json_list(kmem_json_t *kj, const char *key);
void kmi_json_row(kmem_json_t *kj, const char *key);
void kmi_json_array(kmem_json_t *kj, const char *key);
void kmi_json_close(kmem_json_t *kj);
void kmi_json_u64(kmem_json_t *kj, const char *key, uint64_t v);
void kmi_json_str(kmem_json_t *kj, const char *key, const char *s);
void kmi_json_bool(kmem_json_t *kj, const char *key, bool v);

size_t kmi_strlen(const char *s);
int kmi_strcmp(const char *a, const char *b);
void kmi_strlcpy(char *dst, const char *src, size_t len);

/* Option strings, "name[=value],..." (options.c). */
#define KMEM_OPTION_LEN	32
bool kmi_option_next(const char **pp, char name[KMEM_OPTION_LEN],
    char value[KMEM_OPTION_LEN], bool *has_value);
bool kmi_parse_size(const char *s, uint64_t *vp);
/* What an option item's handler made of it (kmi_option_each reports). */
typedef enum kmem_optres {
	KMEM_OPT_OK,
	KMEM_OPT_UNKNOWN,	/* no such option */
	KMEM_OPT_BAD_VALUE,	/* the value does not parse */
	KMEM_OPT_NEEDS_VALUE,	/* name=value expected */
	KMEM_OPT_NO_VALUE,	/* the option takes no value */
	KMEM_OPT_REPORTED	/* the handler said why it is ignored */
} kmem_optres_t;
typedef kmem_optres_t kmem_option_fn(const char *name, bool has_value,
    const char *value);
void kmi_option_each(const char *items, const char *source,
    kmem_option_fn *item);

/* ---- assertions ---- */

/*
 * Three levels, as in the guide: VERIFY always runs; ASSERT runs in debug
 * builds (KMEM_DEBUG_LEVEL >= 1); ASSERT_EXPENSIVE runs validators on every
 * operation (KMEM_DEBUG_LEVEL >= 2).  A failure never allocates.
 */
_Noreturn void kmi_assert_failed(const char *expr, const char *file,
    int line);
_Noreturn void kmi_assert3_failed(const char *expr, uint64_t a,
    const char *op, uint64_t b, const char *file, int line);

#ifndef KMEM_DEBUG_LEVEL
#define KMEM_DEBUG_LEVEL 0
#endif

#define VERIFY(e) \
	((void)(KMEM_LIKELY(e) ? 0 : (kmi_assert_failed(#e, __FILE__, __LINE__), 0)))
#if KMEM_DEBUG_LEVEL >= 1
#define ASSERT(e)	VERIFY(e)
#else
#define ASSERT(e)	((void)0)
#endif
#if KMEM_DEBUG_LEVEL >= 2
#define ASSERT_EXPENSIVE(e) VERIFY(e)
#else
#define ASSERT_EXPENSIVE(e) ((void)0)
#endif

/* The same for a comparison: a failure prints both operands' values. */
#define VERIFY3U(a, op, b) do {						\
	uint64_t kmem_a_ = (uint64_t)(a), kmem_b_ = (uint64_t)(b);	\
	if (KMEM_UNLIKELY(!(kmem_a_ op kmem_b_)))			\
		kmi_assert3_failed(#a " " #op " " #b, kmem_a_, #op,	\
		    kmem_b_, __FILE__, __LINE__);			\
} while (0)
#if KMEM_DEBUG_LEVEL >= 1
#define ASSERT3U(a, op, b)	VERIFY3U(a, op, b)
#else
#define ASSERT3U(a, op, b)	((void)0)
#endif

/* Report a fatal misuse (bad arguments from a client) and stop. */
_Noreturn void kmi_panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* Report a problem and go on. */
void kmi_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- memory primitives the core may use (the compiler emits them too) ---- */
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/*
 * Hash tables (slab bufctls, vmem segments) aim at one entry per bucket:
 * the size for n entries, and whether a table of have buckets should be
 * rescaled to want (only when off by more than 2x, so it never flaps).
 */
static inline size_t
kmem_hash_size(size_t n)
{
	return ((size_t)1 << (highbit(3 * n + 4) - 2));
}

static inline bool
kmem_hash_rescale_due(size_t want, size_t have)
{
	return (want > 2 * have || 4 * want < have);
}

#endif /* KMEM_BASE_H */
