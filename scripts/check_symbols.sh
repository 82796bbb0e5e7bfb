#!/usr/bin/env bash
# The symbol lint (make check-symbols), on the release build:
#  - every global symbol of libkmem.a is public (declared in
#    include/kmem/*.h and the BSD faces' include/kmem/bsd/*.h), internal (kmi_, vmi_), the platform contract
#    (kmem_plat_*, kmem_thread_exit), or one of the debugger's roots
#    (docs/internals.md): a static link never collides with a client;
#  - libkmem.so exports exactly the public functions and variables;
#  - libkmem_malloc.so exports the C allocator and public kmem names only.
set -u
cd "$(dirname "$0")/.."
B=${1:-build/release}
roots="kmem_alloc_table kmem_big_alloc_table kmem_cache_list kmem_cache_list_lock
kmem_cpu_list kmem_cpu_list_lock kmem_heap_arena kmem_metadata_arena kmem_hash_arena
kmem_layout_version kmem_logs kmem_owner_root vmem_list vmem_list_lock
kmem_counter_retired kmem_bsd_types kmem_bsd_pools kmem_bsd_pool_caches
vmem_seg_chunks kmem_large_cache"
libc="malloc free calloc realloc reallocarray posix_memalign aligned_alloc
memalign valloc pvalloc malloc_usable_size"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Public names: identifiers declared in the public headers.
{ grep -ho '\b\(kmem\|vmem\)_[a-z0-9_]*\b' include/kmem/*.h \
    include/kmem/bsd/*.h
  grep -ho '\bM_[A-Z0-9_]*\b\|\bk\(malloc\|free\|realloc\|strdup\)[a-z_]*\b\|\bmalloc_[a-z_]*\b\|\bpool_[a-z_]*\b\|\buvm_km_[a-z]*\b\|\bkernel_map\b' \
    include/kmem/bsd/*.h; } | grep -v '^kmem_plat_' | sort -u > "$tmp/public"
nm --defined-only -g "$B/libkmem.a" 2>/dev/null | awk 'NF == 3 {print $3}' |
    sort -u > "$tmp/archive"
fail=0
bad=$(grep -v '^kmi_\|^vmi_\|^kmem_plat_\|^kmem_thread_exit$\|^posix_' "$tmp/archive" |
    comm -23 - "$tmp/public" | comm -23 - <(echo "$roots" | tr ' ' '\n' | sort))
if [ -n "$bad" ]; then
	echo "check-symbols: libkmem.a defines names a client could collide with:"
	echo "$bad" | sed 's/^/  /'
	fail=1
fi
exports() {	# the dynamic symbols a library defines, unversioned
	nm -D --defined-only "$1" | awk '{print $3}' | sed 's/@.*//' |
	    grep -v '^KMEM_' | sort -u
}
exports "$B/libkmem.so" > "$tmp/so"
extra=$(comm -23 "$tmp/so" "$tmp/public")
missing=$(comm -12 "$tmp/public" "$tmp/archive" | comm -23 - "$tmp/so")
if [ -n "$extra" ] || [ -n "$missing" ]; then
	echo "check-symbols: libkmem.so exports must be the public API;"
	echo "  not public: $extra"
	echo "  public, not exported: $missing"
	fail=1
fi
exports "$B/libkmem_malloc.so" | comm -23 - "$tmp/public" | comm -23 - <(echo "$libc" | tr ' \n' '\n\n' |
    grep . | sort) > "$tmp/mextra"
if [ -s "$tmp/mextra" ]; then
	echo "check-symbols: libkmem_malloc.so exports internal names:"
	sed 's/^/  /' "$tmp/mextra"
	fail=1
fi
[ $fail -eq 0 ] && echo "check-symbols: $(wc -l < "$tmp/so") public exports, every other global internal or a debugger root"
exit $fail
