#!/bin/sh
# tests/deps.sh - make sure the build and test dependencies are installed.
#
# Checks with pkg-config (and for protoc-c on PATH); on Debian or Ubuntu
# installs what is missing with apt-get, as root or through sudo, and says
# which packages; elsewhere stops and names them.  With DEPS_CHECK_ONLY=1
# (plain `make`) it installs nothing: it names what is missing and fails.
# FUZZ=1 adds clang and libFuzzer's runtime (make fuzz), ANALYZE=1 clang's
# scan-build (make analyze), FORMAT=1 clang-format (make format), WEB=1
# chromium, node, npm and tests/web's node_modules (make check-web).
set -eu

need=""
have_pc() { pkg-config --exists "$1" 2>/dev/null; }
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
have_pc libevent      || need="$need libevent-dev"
have_pc libprotobuf-c || need="$need libprotobuf-c-dev"
command -v protoc-c >/dev/null 2>&1 || need="$need protobuf-c-compiler"
have_pc sqlite3       || need="$need libsqlite3-dev"
have_pc check         || need="$need check"
# The client suite parses the CLI's --json output with jansson.
have_pc jansson       || need="$need libjansson-dev"
# The PostgreSQL store backend (libpq), and the server its tests start
# (tests/common/pgserver.c: Debian's initdb and postgres).
have_pc libpq         || need="$need libpq-dev"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 ||
    need="$need postgresql"
# It also runs the Python example client (examples/) with Debian's python3
# and protobuf module, generated from the proto with protoc; and nm.
command -v protoc >/dev/null 2>&1 || need="$need protobuf-compiler"
/usr/bin/python3 -c 'import google.protobuf' >/dev/null 2>&1 ||
    need="$need python3-protobuf"
command -v nm >/dev/null 2>&1 || need="$need binutils"
# make check-cluster (CI) and make bench put Debian's HAProxy in front
# of the nodes (deploy/haproxy.cfg).
[ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null 2>&1 ||
    need="$need haproxy"
# Test tools: unit checks and socket activation, man page rendering.
command -v systemd-analyze >/dev/null 2>&1 || need="$need systemd"
command -v groff >/dev/null 2>&1 || need="$need groff-base"
# The Check suites start armmapd through setpriv --pdeathsig (spawn.c).
command -v setpriv >/dev/null 2>&1 || need="$need util-linux"
# armmapd.service reloads with /bin/kill, which verify wants to exist.
[ -x /bin/kill ] || need="$need procps"
# make fuzz (FUZZ=1): clang, and libFuzzer's runtime, which Debian ships
# apart (only recommended by clang's own packages).
if [ "${FUZZ:-0}" = 1 ]; then
    command -v clang >/dev/null 2>&1 || need="$need clang"
    rt=$(clang -print-file-name="libclang_rt.fuzzer-$(uname -m).a" 2>/dev/null ||
         true)
    [ -f "$rt" ] || need="$need libclang-rt-14-dev"
    # make coverage: llvm-profdata and llvm-cov.
    command -v llvm-cov >/dev/null 2>&1 || need="$need llvm"
fi
# make analyze (ANALYZE=1): scan-build and the clang it drives.
if [ "${ANALYZE:-0}" = 1 ]; then
    command -v clang >/dev/null 2>&1 || need="$need clang"
    command -v scan-build >/dev/null 2>&1 || need="$need clang-tools"
fi
# make format, make format-check (FORMAT=1): clang-format.
if [ "${FORMAT:-0}" = 1 ]; then
    command -v clang-format >/dev/null 2>&1 || need="$need clang-format"
fi
# make check-web (WEB=1): Debian's chromium, node and npm; then the
# pinned playwright-core of tests/web/package-lock.json (npm ci).
if [ "${WEB:-0}" = 1 ]; then
    command -v chromium >/dev/null 2>&1 || need="$need chromium"
    command -v node >/dev/null 2>&1 || need="$need nodejs"
    command -v npm >/dev/null 2>&1 || need="$need npm"
fi
web_modules() {
    [ "${WEB:-0}" = 1 ] || return 0
    d=$(dirname "$0")/web
    [ -f "$d/node_modules/playwright-core/package.json" ] && return 0
    echo "armmapd: npm ci in tests/web (playwright-core)"
    (cd "$d" && npm ci --no-audit --no-fund --silent)
}
[ -z "$need" ] && { web_modules; exit 0; }

if [ "${DEPS_CHECK_ONLY:-0}" = 1 ]; then
    echo "armmapd: missing build dependencies:$need" >&2
    echo "armmapd: 'make deps' installs them (make run and make check too)" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "armmapd: missing build dependencies; install:$need" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "armmapd: missing build dependencies and not root; install:$need" >&2
    exit 1
fi
echo "armmapd: installing build dependencies:$need"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $need >/dev/null
web_modules
