#!/usr/bin/env bash
# The layering lint (make check-layers): every #include "..." between the
# core's directories must go down the stack below (or stay in its layer),
# compat/ may include only the face header, and (given a build) no
# object uses a symbol defined by a layer above its own.  An edge that goes up is
# an error unless it is one of the declared exceptions, each with its
# reason; a new one must be fixed or declared here.
set -u
cd "$(dirname "$0")/.."
declare -A rank=(
	[base]=0 [vmem]=1 [model]=2 [slab]=3 [magazine]=4 [debug]=4
	[kmem_alloc]=5 [owner]=6 [init]=7 [stats]=8 [face]=9
)
# from:to pairs that go up, and why.
declare -A allowed=(
)
fail=0
for f in src/*/*.[ch]; do
	from=$(basename "$(dirname "$f")")
	while read -r inc; do
		to=$(echo "$inc" | sed -n 's|^\.\./\([a-z_]*\)/.*|\1|p')
		[ -z "$to" ] && continue
		if [ -z "${rank[$from]:-}" ] || [ -z "${rank[$to]:-}" ]; then
			echo "check-layers: $f: unknown layer in \"$inc\""
			fail=1
		elif [ "${rank[$to]}" -gt "${rank[$from]}" ] &&
		    [ -z "${allowed[$from:$to]:-}" ]; then
			echo "check-layers: $f includes \"$inc\": $from may not reach up to $to"
			fail=1
		fi
	done < <(sed -n 's|^#include "\(.*\)"|\1|p' "$f")
done
for f in compat/*/*.[ch]; do
	while read -r inc; do
		case "$inc" in
		../../src/face/kmem_face.h) ;;
		../../src/*) echo "check-layers: $f includes \"$inc\": a face includes only src/face/kmem_face.h"; fail=1 ;;
		esac
	done < <(sed -n 's|^#include "\(.*\)"|\1|p' "$f")
done
# Calls: no object of a layer uses a symbol another layer defines above it,
# except the declared ones (from:to:symbol), each inherent and explained.
declare -A calls_allowed=(
	# A slab allocator's own structures (kmem_slab_t, external bufctls)
	# come from its caches (kmem_slab_cache, kmem_bufctl_cache), as in
	# illumos: slab creation allocates through the cache layer.  It never
	# recurses: those caches' own slabs are small (embedded bufctls).
	[slab:magazine:kmem_cache_alloc]=1
	[slab:magazine:kmem_cache_free]=1
)
OBJ=${1:-build/release}
ncalls=0
if [ -d "$OBJ/src" ]; then
	declare -A def
	for o in "$OBJ"/src/*/*.o; do
		l=$(basename "$(dirname "$o")")
		for sym in $(nm --defined-only -g "$o" | awk 'NF == 3 {print $3}'); do
			def[$sym]=$l
		done
	done
	for o in "$OBJ"/src/*/*.o; do
		l=$(basename "$(dirname "$o")")
		for sym in $(nm -u "$o" | awk '{print $2}'); do
			d=${def[$sym]:-}
			[ -z "$d" ] || [ "${rank[$d]}" -le "${rank[$l]}" ] && continue
			if [ -z "${calls_allowed[$l:$d:$sym]:-}" ]; then
				echo "check-layers: $o uses $sym from $d, a layer above $l"
				fail=1
			fi
			ncalls=$((ncalls + 1))
		done
	done
fi
[ $fail -eq 0 ] && echo "check-layers: every include goes down the stack (${#allowed[@]} declared exceptions); calls too ($ncalls declared, inherent)"
exit $fail
