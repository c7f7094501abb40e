#!/bin/sh
# tests/oracle/run.sh - `make oracle`: record what the real kernel reports.
#
# Installs Debian's qemu-system-arm and gcc-arm-linux-gnueabihf (amd64) and
# fetches, without installing them, the armhf packages linux-image-armmp
# (Debian 12's 6.1 ARMv7 kernel), its headers and busybox-static (apt-get
# download, dpkg -x under build/oracle/).  It builds tests/oracle/module
# against those headers and makes a busybox initramfs whose /init prints
# /proc/meminfo, zoneinfo, buddyinfo, iomem, vmallocinfo, the module's
# addresses and walks, its page-table dump (kernel_page_tables' text), and dmesg
# between "=== ORACLE" markers on the serial console, then powers off.
# Each machine of tests/oracle/matrix.txt boots under
#   qemu-system-arm -M virt -cpu cortex-a15 -nographic   (TCG)
# bounded by a timeout.  The console goes to tests/oracle/fixtures/NAME.log
# (raw) and its sections to tests/oracle/fixtures/NAME.txt (parsed): facts
# from a real run, rewritten by this script, never edited by hand.
# Each machine boots three times, the same initramfs every time: the second
# and third boots go to NAME.boot2.{log,txt} and NAME.boot3.{log,txt}, so
# that the comparison can tell a field the kernel itself prints differently
# from run to run.
#
# Usage: run.sh [NAME...]        (default: every machine of matrix.txt)
# Environment: ORACLE_TIMEOUT (seconds per boot, 300); ORACLE_BOOTS, which
# boots to record ("1 2 3", the default; "2" records only the second boots);
# ORACLE_NEW_KERNEL=1 records apt's current linux-image-armmp instead of
# the kernel kernel.txt pins.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$top/build/oracle
fix=$here/fixtures
timeout_s=${ORACLE_TIMEOUT:-300}
apt="apt-get -o DPkg::Lock::Timeout=900 -q"

say() { echo "oracle: $*"; }
die() { echo "oracle: $*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# ---- what it needs ---------------------------------------------------------
install_host_tools() {
    missing=
    command -v qemu-system-arm >/dev/null || missing="$missing qemu-system-arm"
    command -v cpio >/dev/null || missing="$missing cpio"
    command -v timeout >/dev/null || missing="$missing coreutils"
    [ -z "$missing" ] && return 0
    say "installing$missing"
    as_root $apt install -y -qq --no-install-recommends $missing >/dev/null
}

# armhf package lists, so that apt-get download can see armhf packages.
enable_armhf() {
    if ! dpkg --print-foreign-architectures | grep -qx armhf; then
        say "dpkg --add-architecture armhf"
        as_root dpkg --add-architecture armhf
    fi
    if ! apt-cache show busybox-static:armhf >/dev/null 2>&1; then
        say "apt-get update"
        as_root $apt update -qq >/dev/null
    fi
}

# fetch_pinned DIR PATTERN: the files of kernel.txt whose names match
# PATTERN (a shell pattern), into DIR, each checked against its SHA256;
# sets $pinned to the last one.
fetch_pinned() {
    pool=$(sed -n 's/^pool //p' "$here/kernel.txt")
    pinned=
    while read -r file sum; do
        case $file in '#'*|pool|'') continue ;; esac
        # shellcheck disable=SC2254
        case $file in $2) ;; *) continue ;; esac
        if ! echo "$sum  $1/$file" | sha256sum -c --status 2>/dev/null; then
            say "fetching $file"
            /usr/lib/apt/apt-helper download-file "$pool/$file" "$1/$file" \
                "SHA256:$sum" >/dev/null || die "cannot fetch $pool/$file"
        fi
        pinned=$1/$file
    done < "$here/kernel.txt"
    [ -n "$pinned" ] || die "kernel.txt names no $2"
}

# The kernel (kernel.txt's, or with ORACLE_NEW_KERNEL=1 apt's current
# linux-image-armmp) and busybox-static, armhf, unpacked under
# build/oracle/root (not installed).  Sets $image, $kver and $kernel.
fetch_armhf() {
    rm -rf "$out/root"
    mkdir -p "$out/debs" "$out/root"
    if [ "${ORACLE_NEW_KERNEL:-0}" = 1 ]; then
        image=$(apt-cache depends linux-image-armmp:armhf 2>/dev/null |
                awk '/Depends: linux-image-[0-9]/ { sub(":armhf", "", $2); print $2; exit }')
        [ -n "$image" ] || die "no linux-image-armmp:armhf in the package lists"
        (cd "$out/debs" && rm -f ./linux-image-*.deb &&
         $apt download "$image:armhf" >/dev/null 2>&1) ||
            die "apt-get download $image:armhf failed"
        pinned=$(ls "$out/debs/$image"_*.deb)
    else
        fetch_pinned "$out/debs" 'linux-image-*'
    fi
    dpkg -x "$pinned" "$out/root"
    image=$(dpkg-deb -f "$pinned" Package)
    kver=$(dpkg-deb -f "$pinned" Version)
    if ! ls "$out"/debs/busybox-static_*.deb >/dev/null 2>&1; then
        (cd "$out/debs" && $apt download busybox-static:armhf >/dev/null 2>&1) ||
            die "apt-get download busybox-static:armhf failed"
    fi
    dpkg -x "$(ls "$out"/debs/busybox-static_*.deb | head -1)" "$out/root"
    kernel=$(ls "$out"/root/boot/vmlinuz-* | head -1)
    say "kernel $image $kver"
}

# ---- the module ------------------------------------------------------------
# tests/oracle/module, built with Debian's ARM cross compiler against the
# armmp headers (dpkg -x; the host's kbuild tools from the amd64
# linux-kbuild package).  Sets $module to the .ko.
build_module() {
    if ! command -v arm-linux-gnueabihf-gcc-12 >/dev/null; then
        say "installing gcc-arm-linux-gnueabihf"
        as_root $apt install -y -qq --no-install-recommends \
            gcc-arm-linux-gnueabihf >/dev/null
    fi
    headers=linux-headers-${image#linux-image-}
    kb=$out/kroot
    if ! [ -d "$kb/usr/src/$headers" ]; then
        rm -rf "$kb"
        mkdir -p "$out/kdebs" "$kb"
        if [ "${ORACLE_NEW_KERNEL:-0}" = 1 ]; then
            common=$(apt-cache depends "$headers:armhf" |
                     awk '/Depends: <?linux-headers-.*-common/ { gsub(/[<>]/, "", $2);
                          sub(":armhf", "", $2); print $2; exit }')
            kbuild=$(apt-cache depends "$headers:armhf" |
                     awk '/Depends: linux-kbuild/ { sub(":armhf", "", $2); print $2; exit }')
            (cd "$out/kdebs" && rm -f ./*.deb &&
             $apt download "$headers:armhf" "$common" "$kbuild:amd64" >/dev/null 2>&1) ||
                die "apt-get download $headers:armhf $common $kbuild:amd64 failed"
            for d in "$out"/kdebs/*.deb; do dpkg -x "$d" "$kb"; done
        else
            for p in "$headers"_ 'linux-headers-*-common_' 'linux-kbuild-*'; do
                fetch_pinned "$out/kdebs" "$p*"
                dpkg -x "$pinned" "$kb"
            done
        fi
        # The headers' Makefile includes the common tree by absolute path.
        sed -i "s|include /usr/src/|include $kb/usr/src/|" "$kb/usr/src/$headers/Makefile"
    fi
    rm -rf "$out/module"
    cp -r "$here/module" "$out/module"
    make -s -C "$kb/usr/src/$headers" M="$out/module" ARCH=arm \
        CROSS_COMPILE=arm-linux-gnueabihf- DEB_BUILD_ARCH=amd64 \
        DEB_HOST_ARCH=armhf DEB_HOST_GNU_TYPE=arm-linux-gnueabihf modules \
        >"$out/module.log" 2>&1 || { cat "$out/module.log"; die "module build failed"; }
    module=$out/module/armmap_oracle.ko
    say "module $headers: $(wc -c < "$module") bytes"
}

# ---- the initramfs ---------------------------------------------------------
make_initramfs() {
    ird=$out/initramfs
    rm -rf "$ird"
    mkdir -p "$ird/bin"
    cp "$out/root/bin/busybox" "$ird/bin/busybox"
    cp "$module" "$ird/armmap_oracle.ko"
    cat > "$ird/init" <<'EOF'
#!/bin/busybox sh
# armmapd oracle: print what the kernel reports, between markers, then stop.
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
dmesg -n 1
# %pK prints real addresses to root only with kptr_restrict 1.
echo 1 > /proc/sys/kernel/kptr_restrict
show() {
    echo "=== ORACLE BEGIN $1"
    cat "$2"
    echo "=== ORACLE END $1"
}
echo "=== ORACLE BEGIN uname"
uname -r
uname -v
echo "=== ORACLE END uname"
show cmdline /proc/cmdline
show meminfo /proc/meminfo
show zoneinfo /proc/zoneinfo
show buddyinfo /proc/buddyinfo
show iomem /proc/iomem
show vmallocinfo /proc/vmallocinfo
# The module prints its sequence (and stays loaded), then its walk of
# swapper_pg_dir in kernel_page_tables' text: armmp has no such file
# (ARM_PTDUMP_DEBUGFS is off), so the module's walk is the pagetables
# section.
insmod /armmap_oracle.ko
echo "=== ORACLE BEGIN ops"
dmesg | sed -n 's/^.*armmap-oracle: //p'
echo "=== ORACLE END ops"
echo "=== ORACLE BEGIN pagetables"
dmesg | sed -n 's/^.*armmap-pt: //p'
echo "=== ORACLE END pagetables"
echo "=== ORACLE BEGIN dmesg"
dmesg
echo "=== ORACLE END dmesg"
echo "=== ORACLE DONE"
poweroff -f
EOF
    chmod 755 "$ird/init"
    (cd "$ird" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$out/initrd.gz"
}

# ---- one boot --------------------------------------------------------------
# dmesg lines kept in the fixture: the boot layout, zones, Memory: and
# what the kernel says about its command line's memory parameters.
BOOT_LINES='^(Linux version |cma: |Zone ranges:|  (DMA|DMA32|Normal|HighMem|Movable) |Movable zone start|Early memory node ranges|  node  |Initmem setup|percpu: |Built [0-9]+ zonelists|Kernel command line:|Memory: |Virtual kernel memory layout:|    [ .a-z]+ *: 0x|Freeing |OF: reserved mem:|Reserved memory:|(Ignoring|Truncating) RAM|vmalloc area|Consider using a HIGHMEM|HighMem|[A-Za-z ]*: [0-9]+ pages? )'

# parse LOG NAME RAM CPUS CMDLINE: writes the fixture on stdout.
parse() {
    printf '# %s: recorded by tests/oracle/run.sh from a real boot; never edit.\n' \
        "$2"
    printf 'machine %s\nram %s\ncpus %s\nargs %s\n' "$2" "$3" "$4" "$5"
    printf 'qemu %s\n' "$(qemu-system-arm --version | head -1)"
    printf 'initrd %s\n' "$(wc -c < "$out/initrd.gz" | tr -d ' ')"
    printf 'module_file %s\n' "$(wc -c < "$out/module/armmap_oracle.ko" | tr -d ' ')"
    tr -d '\r' < "$1" | awk -v boot="$BOOT_LINES" '
        /^=== ORACLE BEGIN / { sec = $4; print "@@ " sec; on = 1; next }
        /^=== ORACLE END /   { on = 0; next }
        !on { next }
        sec == "dmesg" {
            sub(/^\[ *[0-9]+\.[0-9]+\] /, "")
            if ($0 ~ boot) print
            next
        }
        { print }'
}

# boot_one SUFFIX NAME RAM CPUS [ARGS...]: boots the machine once and writes
# fixtures/NAME{SUFFIX}.log and .txt (SUFFIX "", ".boot2" or ".boot3").
boot_one() {
    suffix=$1 name=$2 ram=$3 cpus=$4
    shift 4
    args="$*"
    log=$fix/$name$suffix.log
    start=$(date +%s)
    # -net none: no network device, so no option ROM is needed either.
    timeout "$timeout_s" qemu-system-arm -M virt -cpu cortex-a15 \
        -m "$ram" -smp "$cpus" -nographic \
        -no-reboot -net none -kernel "$kernel" -initrd "$out/initrd.gz" \
        -append "console=ttyAMA0 quiet${args:+ $args}" </dev/null \
        > "$out/$name$suffix.log" 2>&1 || true
    secs=$(( $(date +%s) - start ))
    if ! grep -q "^=== ORACLE DONE" "$out/$name$suffix.log"; then
        tail -20 "$out/$name$suffix.log" >&2
        say "$name: FAILED: no complete output after $secs s (build/oracle/$name$suffix.log)"
        return 1
    fi
    tr -d "\r" < "$out/$name$suffix.log" > "$log"
    parse "$log" "$name" "$ram" "$cpus" "$args" > "$fix/$name$suffix.txt"
    say "$name$suffix: -m $ram -smp $cpus ${args:+($args) }$secs s"
}

main() {
    t0=$(date +%s)
    install_host_tools
    enable_armhf
    fetch_armhf
    build_module
    make_initramfs
    mkdir -p "$fix"
    n=0 failed=
    while read -r name ram cpus args; do
        case $name in ''|'#'*) continue ;; esac
        if [ $# -gt 0 ]; then
            want=0
            for w in "$@"; do [ "$w" = "$name" ] && want=1; done
            [ $want = 1 ] || continue
        fi
        for b in ${ORACLE_BOOTS:-1 2 3}; do
            case $b in 1) suffix= ;; 2|3) suffix=.boot$b ;;
                *) die "ORACLE_BOOTS: no boot $b (1, 2 or 3)" ;; esac
            # shellcheck disable=SC2086
            boot_one "$suffix" "$name" "$ram" "$cpus" $args ||
                failed="$failed $name$suffix"
        done
        n=$((n + 1))
    done < "$here/matrix.txt"
    [ $n -gt 0 ] || die "no machine of matrix.txt matched: $*"
    say "$n machines booted in $(( $(date +%s) - t0 )) s"
    [ -z "$failed" ] || die "no fixture for:$failed"
}

main "$@"
