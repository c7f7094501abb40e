#!/bin/sh
# tests/oracle/mmu.sh - QEMU's MMU walks `armmap dump` files as `translate` does.
#
# Starts build/armmapd on a temporary socket, builds a few machines (a
# 6.1 qemu-virt, the msm-3.4 aries phone, a 4.4 BeagleBone Black), maps a
# highmem page with kmap and kmap_atomic, vmallocs, ioremaps and allocates
# module space on each, writes `armmap dump`, and has build/oracle_mmucheck
# compare QEMU's own ARMv7 page-table walker with `armmap translate` on
# every MiB of the kernel half, every page of the pkmap window, the fixmap
# and each area it mapped.  Part of `make oracle`; `make oracle-mmu` alone.
#
# Usage: mmu.sh ARMMAPD ARMMAP MMUCHECK
set -eu

armmapd=$1 armmap=$2 mmucheck=$3
dir=$(mktemp -d /tmp/armmap-mmu.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

"$armmapd" --state-dir "$dir" --database :memory: 2>"$dir/log" &
pid=$!
export ARMMAP_SOCKET="$dir/armmapd.sock"
tries=0
until "$armmap" ping >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ $tries -lt 300 ] || { cat "$dir/log"; echo "mmu: armmapd did not start"; exit 2; }
    sleep 0.05
done

# seq_hex FROM TO STEP: hex addresses FROM, FROM+STEP, ... <= TO.
seq_hex() {
    i=$(($1))
    while [ $i -le $(($2)) ]; do printf '0x%08x\n' $i; i=$((i + $3)); done
}

# A highmem page if the machine has highmem, a lowmem one if not.
alloc_page() {
    "$armmap" alloc "$1" --zone highmem 2>/dev/null || "$armmap" alloc "$1"
}

# check NAME CREATE-FLAGS...: one machine, its operations, dump and walks.
check() {
    name=$1
    shift
    m=$("$armmap" create --name "$name" "$@")
    pfn=$(alloc_page "$m" | awk '{print $2}')
    kva=$("$armmap" kmap "$m" "$pfn" | awk '{print $2}')
    pfn2=$(alloc_page "$m" | awk '{print $2}')
    ava=$("$armmap" kmap-atomic "$m" "$pfn2" --cpu 0 | awk '{print $2}')
    vva=$("$armmap" vmalloc "$m" 1M | awk '{print $2}')
    iva=$("$armmap" ioremap "$m" 0x10000000 1M | awk '{print $2}')
    mva=$("$armmap" module-alloc "$m" 64K | awk '{print $2}')
    "$armmap" dump "$m" "$dir/$name.elf" >/dev/null
    {
        seq_hex 0xbf000000 0xfff00000 0x100000
        seq_hex "$((kva & ~0x1fffff))" "$(((kva & ~0x1fffff) + 0x1ff000))" 0x1000
        seq_hex "$ava" "$((ava + 0x1f000))" 0x1000
        seq_hex "$vva" "$((vva + 0x101000))" 0x1000
        seq_hex "$iva" "$((iva + 0x101000))" 0x1000
        seq_hex "$mva" "$((mva + 0x11000))" 0x1000
        seq_hex 0xffff0000 0xffff1000 0x1000
        echo 0x00001000
    } > "$dir/$name.va"
    # shellcheck disable=SC2046
    "$armmap" translate "$m" $(cat "$dir/$name.va") > "$dir/$name.expect" || true
    "$mmucheck" qemu-system-arm "$dir/$name.elf" "$dir/$name.expect" |
        sed "s|$dir/||"
}

command -v qemu-system-arm >/dev/null || { echo "mmu: no qemu-system-arm (make oracle installs it)"; exit 2; }
rc=0
# QEMU's virt board keeps its device tree in RAM's first MiB: the 6.1
# machine's RAM starts above it.
check virt61 --preset qemu-virt --kernel 6.1 --ram 0x40200000+1G --cpus 2 || rc=1
check aries --preset aries || rc=1
check bbb --preset beaglebone-black || rc=1
exit $rc
