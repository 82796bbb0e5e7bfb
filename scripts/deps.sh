#!/usr/bin/env bash
# Install the Debian packages a target needs, if they are missing.
#   scripts/deps.sh test    compilers, valgrind, mandoc, libunwind, gdb, QEMU
#   scripts/deps.sh bench   + jemalloc, tcmalloc, mimalloc, python3-matplotlib
set -eu
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
pkgs=(gcc g++ make binutils pkgconf valgrind mandoc git python3 perl libunwind-dev gdb)
if [ "${1:-test}" = bench ]; then
	pkgs+=(libjemalloc-dev libgoogle-perftools-dev libmimalloc-dev python3-matplotlib)
fi
for p in "${pkgs[@]}"; do have "$p" || need+=("$p"); done
# The demo kernel boots under QEMU (make qemu); without
# --no-install-recommends its install is over 450 MB.
lean=()
have qemu-system-x86 || lean+=(qemu-system-x86)
[ ${#need[@]} -eq 0 ] && [ ${#lean[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages: ${need[*]} ${lean[*]} (run as root, or apt-get install them)" >&2
	exit 1
fi
echo "installing: ${need[*]} ${lean[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_install() {
	[ ${#need[@]} -eq 0 ] || apt-get install -y -q "${need[@]}" >/dev/null || return
	[ ${#lean[@]} -eq 0 ] ||
		apt-get install -y -q --no-install-recommends "${lean[@]}" >/dev/null
}
apt_install 2>/dev/null || { apt-get update -q >/dev/null && apt_install; }
