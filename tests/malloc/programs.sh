#!/usr/bin/env bash
# Real programs on kmem's malloc: each runs once on the C library's malloc
# and then with LD_PRELOAD=libkmem_malloc.so under each mode given (a
# mode is a list of environment assignments, "" for none); the outputs
# must match, and the preloaded run must really have mapped the library.
#   programs.sh /path/to/libkmem_malloc.so /path/to/cxx_containers [mode ...]
# Without modes, one run with no debugging.  PROGRAMS_HEAVY_MODES=N: only
# the first N modes run the heaviest program (python3).
set -u
LIB=$1
CXX_PROG=$2
shift 2
[ $# -eq 0 ] && set -- ""
MODES=("$@")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
pass=0
fail=0

# name, command...: the command on the C library's malloc, then on kmem's
# under each mode.
compare() {
	local name=$1
	shift
	local plain kmem mode i
	plain=$("$@" 2>&1)
	local rc1=$?
	for i in "${!MODES[@]}"; do
		mode=${MODES[$i]}
		if [ "$name" = python3 ] &&
		    [ "$i" -ge "${PROGRAMS_HEAVY_MODES:-${#MODES[@]}}" ]; then
			continue
		fi
		# A subshell: the mode's assignments reach shell functions too.
		# shellcheck disable=SC2086 # a mode is a list of assignments
		kmem=$(export $mode LD_PRELOAD="$LIB"; "$@" 2>&1)
		local rc2=$?
		local tag="programs:$name${mode:+ [$mode]}"
		if [ "$plain" == "$kmem" ] && [ $rc1 -eq $rc2 ] && [ $rc1 -eq 0 ]; then
			pass=$((pass + 1))
			echo "ok   $tag"
		else
			fail=$((fail + 1))
			echo "FAIL $tag (exit $rc1 vs $rc2)"
			diff <(echo "$plain") <(echo "$kmem") | head -10
		fi
	done
}

# The library is really in the preloaded process.
if LD_PRELOAD=$LIB grep -q libkmem_malloc /proc/self/maps; then
	pass=$((pass + 1)); echo "ok   programs:preload-mapped"
else
	fail=$((fail + 1)); echo "FAIL programs:preload-mapped"
fi

# python3: threads allocating heavily (dicts, strings, lists), and C
# extension modules loaded with dlopen (hashlib, sqlite3, json).
cat > "$WORK/alloc.py" <<'PY'
import threading, hashlib, sqlite3, json
db = sqlite3.connect(":memory:")
db.execute("create table t (k integer, v text)")
db.executemany("insert into t values (?, ?)", ((i, "v" * (i % 300)) for i in range(20000)))
print(db.execute("select count(*), sum(length(v)) from t").fetchone())
print(len(json.dumps([{"k": i, "v": [i] * (i % 10)} for i in range(20000)])))
def work(n, out):
    d = {}
    for i in range(120000):
        d[i] = ("%d-%d" % (n, i)) * (i % 7 + 1)
        if i % 3 == 0:
            d.pop(i // 2, None)
    lst = sorted(d.values(), key=len)
    out[n] = hashlib.sha256("".join(lst[:5000]).encode()).hexdigest()
out = {}
ts = [threading.Thread(target=work, args=(n, out)) for n in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
for n in sorted(out): print(n, out[n])
PY
compare python3 python3 "$WORK/alloc.py"

# perl: hashes and strings.
compare perl perl -e 'my %h; for my $i (1..200000) { $h{$i} = "v" x ($i % 50); delete $h{$i/2} if $i % 3 == 0 } my $t = 0; $t += length($h{$_}) for keys %h; print scalar(keys %h), " $t\n"'

# git on a small repository.
git_run() {
	local dir=$WORK/repo-$1
	rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || return 1
	git init -q . && git config user.email t@example.com && git config user.name t
	for i in $(seq 1 30); do seq "$i" 500 > "f$i"; done
	git add . && git commit -qm "first" --date=2026-01-01T00:00:00Z
	for i in $(seq 1 30 3); do echo changed >> "f$i"; done
	git commit -qam "second" --date=2026-01-02T00:00:00Z
	GIT_PAGER=cat git log --format='%s %T' && git diff --stat HEAD~1 && git gc -q && git count-objects
}
compare git git_run a

# sort on a large file.
awk 'BEGIN { srand(7); for (i = 0; i < 400000; i++) printf "%08d %s\n", int(rand() * 1e8), substr("abcdefghijklmnop", 1 + i % 16) }' > "$WORK/big.txt"
compare sort sort -S 50M "$WORK/big.txt"

# The compiler: gcc's driver, cc1, GNU as and ld on a small C file, then
# the program; programs built without frame pointers, whose %rbp holds
# anything (KMEM_DEBUG's stack walk once crashed cc1 and as).
cat > "$WORK/prog.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *next; char name[24]; int value; };
static struct node *
push(struct node *head, int value)
{
	struct node *n = malloc(sizeof (*n));
	if (n == NULL)
		exit(1);
	n->next = head;
	n->value = value;
	snprintf(n->name, sizeof (n->name), "node-%d", value);
	return (n);
}
int
main(void)
{
	struct node *head = NULL;
	long sum = 0;
	for (int i = 0; i < 1000; i++)
		head = push(head, i * 7 % 1001);
	while (head != NULL) {
		struct node *next = head->next;
		sum += head->value + (long)strlen(head->name);
		free(head);
		head = next;
	}
	printf("%ld\n", sum);
	return (0);
}
C
cc_run() {
	gcc -O2 -c "$WORK/prog.c" -o "$WORK/prog.o" && cksum < "$WORK/prog.o" &&
	    gcc -o "$WORK/prog" "$WORK/prog.o" && "$WORK/prog"
}
compare gcc cc_run

# sed -E: glibc's regex engine, which allocates and frees per line.
seq 1 20000 | sed 's/^/word/' > "$WORK/words.txt"
compare sed sed -E 's/([a-z]+)([0-9]+)/\2\1/' "$WORK/words.txt"

# A C++ program on the standard containers, with threads.
compare c++ "$CXX_PROG"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
