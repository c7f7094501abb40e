#!/usr/bin/env bash
# tests/fresh-debian.sh - the README's promise on a bare Debian 12.
#
# Builds a minimal Debian 12 (bookworm) root with debootstrap holding only
# gcc, make and git, clones this repository's HEAD into it, and inside a
# chroot runs `make run` (until `armmap ping` answers) and then `make check`,
# each from the clone as a newcomer would.  Both must install what they need
# on their own.  Needs root, debootstrap and the Debian mirror; takes about
# as long as `make check` plus a few minutes.  The bare root is kept in
# ROOT_DIR.pristine and copied afresh for every run.
#
#   tests/fresh-debian.sh [ROOT_DIR]      (default /var/tmp/armmapd-bare)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-/var/tmp/armmapd-bare}
mirror=${MIRROR:-http://deb.debian.org/debian}

if [ ! -x "$root.pristine/usr/bin/gcc" ]; then
    echo "== debootstrap bookworm into $root.pristine"
    rm -rf "$root.pristine"
    debootstrap --variant=minbase --include=gcc,make,git,ca-certificates \
        bookworm "$root.pristine" "$mirror" >"$root.debootstrap.log" 2>&1 ||
        { tail -20 "$root.debootstrap.log"; exit 1; }
fi
rm -rf "$root"
cp -a "$root.pristine" "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf"

mounted=()
cleanup() {
    local m
    for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
}
trap cleanup EXIT
for m in proc sys dev dev/pts; do
    mkdir -p "$root/$m"
    mount --bind "/$m" "$root/$m"
    mounted=("$root/$m" "${mounted[@]}")
done

rm -rf "$root/src"
git clone -q "$repo" "$root/src/armmapd"

in_root() { chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                TERM=dumb LANG=C.UTF-8 bash -c "cd /src/armmapd && $1"; }

echo "== make run"
in_root "setsid --fork sh -c 'echo \$\$ > /tmp/run.pgid; exec make run' \
             > /tmp/run.log 2>&1 < /dev/null"
for _ in $(seq 1 600); do
    if in_root './build/armmap ping' >/dev/null 2>&1; then break; fi
    sleep 1
done
in_root './build/armmap ping'
in_root 'kill -TERM -- -$(cat /tmp/run.pgid); sleep 1; cat /tmp/run.log'

echo "== make check"
in_root 'make check'
echo "== fresh Debian 12: make run and make check passed"
