#!/bin/sh
# libkmem_malloc(3)'s link lines, against an installed prefix: programs
# that name no allocation function themselves -- C++ that only uses
# new/delete and std::string, C that only calls strdup() -- must still
# depend on libkmem_malloc.so, though the toolchain passes --as-needed
# (Debian's default), and run on it.
#   tests/malloc/link.sh PREFIX
set -eu
prefix=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/cxx.cc" <<'E'
#include <cstdio>
#include <string>
#include <vector>
int main() {
	std::vector<std::string> v;
	for (int i = 0; i < 1000; i++)
		v.push_back(std::string(100, 'x'));
	std::printf("%zu\n", v.size());
}
E
cat > "$dir/strdup.c" <<'E'
#include <stdio.h>
#include <string.h>
int main(void) { puts(strdup("1000")); return 0; }
E
pc=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --libs kmem_malloc)
# As the SYNOPSIS writes it, and as pkg-config gives it.
manual="-L$prefix/lib -Wl,--no-as-needed -lkmem_malloc"
fail=0
for line in "$manual" "$pc"; do
	g++ -O1 -Wl,--as-needed -o "$dir/cxx" "$dir/cxx.cc" $line
	cc -O1 -Wl,--as-needed -o "$dir/strdup" "$dir/strdup.c" $line
	for prog in cxx strdup; do
		lib=$(LD_LIBRARY_PATH=$prefix/lib ldd "$dir/$prog" |
		    grep -c "libkmem_malloc.so => $prefix/lib/" || true)
		out=$(LD_LIBRARY_PATH=$prefix/lib "$dir/$prog")
		if [ "$lib" = 1 ] && [ "$out" = 1000 ]; then
			echo "ok   $prog linked with: $line"
		else
			echo "FAIL $prog linked with: $line (libkmem_malloc" \
			    "in ldd: $lib, output: $out)"
			fail=1
		fi
	done
done
exit $fail
