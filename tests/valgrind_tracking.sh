#!/bin/sh
# Valgrind tracking (-DKMEM_TRACK_VALGRIND, the debug build): memcheck must
# report a use after free and a read of never-written memory inside
# kmem_alloc's caches, which it cannot see without kmem's client requests.
# usage: valgrind_tracking.sh HELPER
helper=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail=0

expect() {	# expect MODE MESSAGE
	valgrind --error-exitcode=99 "$helper" "$1" >"$out" 2>&1
	rc=$?
	if [ $rc -eq 99 ] && grep -q "$2" "$out"; then
		echo "ok   valgrind:tracking:$1"
	else
		echo "FAIL valgrind:tracking:$1 (rc $rc, wanted \"$2\")"
		cat "$out"
		fail=1
	fi
}

expect uaf "Invalid write of size 1"
expect uninit "Conditional jump or move depends on uninitialised value"
if valgrind -q --error-exitcode=99 "$helper" clean; then
	echo "ok   valgrind:tracking:clean"
else
	echo "FAIL valgrind:tracking:clean"
	fail=1
fi
exit $fail
