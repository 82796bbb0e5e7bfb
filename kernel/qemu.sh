#!/bin/sh
# Boot the demo kernel under QEMU (2 CPUs, serial console on stdout) with
# a time limit, and pass only if the kernel said so through isa-debug-exit
# (QEMU exits (value << 1) | 1: 33 is the kernel's pass) and printed
# "cpus: 2", the harness's closing line with no failure, its ::kmastat
# table and its per-CPU lines.
#   kernel/qemu.sh KERNEL LOG
set -u
kernel=$1 log=$2
limit=${KMEM_QEMU_TIMEOUT:-600}
command -v qemu-system-x86_64 >/dev/null || {
	echo "qemu-system-x86_64 missing: scripts/deps.sh test installs it" >&2
	exit 1
}
timeout "$limit" qemu-system-x86_64 -kernel "$kernel" \
    -append "reap_interval=15" -smp 2 -m 256M \
    -display none -monitor none -serial stdio -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 > "$log" 2>&1
status=$?
cat "$log"
fail() { echo "qemu: FAIL: $*"; exit 1; }
[ $status -eq 124 ] && fail "no verdict within $limit s"
[ $status -eq 33 ] || fail "QEMU exited $status (33 is the kernel's pass)"
grep -q '^cpus: 2$' "$log" || fail "the kernel did not start 2 CPUs"
grep -q '^[0-9]* passed, 0 failed' "$log" || fail "a test failed"
grep -q '^cache *buf *buf *buf' "$log" || fail "no ::kmastat table"
grep -q '^cpu 1: interrupt-context allocations' "$log" ||
	fail "no per-CPU interrupt line"
echo "qemu: PASS"
