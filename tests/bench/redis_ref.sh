#!/bin/sh
# tests/bench/redis_ref.sh - the reference figure for bench_daemon: how many
# pipelined GETs per second redis gets on this machine, right now.
#
# Starts a throwaway redis-server (no persistence: --save '' --appendonly
# no) in a mkdtemp directory, listening on a Unix socket there and on a free
# 127.0.0.1 port, and runs the issue's command against each:
#
#     redis-benchmark -t get -P 64 -n 1000000 -q      (-s SOCK / -p PORT)
#
# and, for a like-for-like look at one connection (ours are measured on
# one), the same with -c 1 (redis-benchmark's default is 50 clients),
# and with -c 2 over the Unix socket;
# then stops the server and removes the directory.  If redis-server or
# redis-benchmark is missing it installs the Debian package redis-server
# (which pulls in redis-tools, home of redis-benchmark) with apt-get, as
# root or through sudo -n.
#
# Output, for bench_daemon to parse (requests per second, GET, depth 64):
#     redis_get_p64_unix 1234567.89
#     redis_get_p64_tcp 987654.32
#     redis_get_p64_c1_unix 1100000.00
#     redis_get_p64_c1_tcp 900000.00
#     redis_get_p64_c2_unix 1500000.00       (-c 2, Unix only)
# each followed by redis-server's CPU microseconds per GET in that run:
#     redis_cpu_p64_unix 0.412 (and _tcp, _c1_unix, _c1_tcp, _c2_unix)
# Diagnostics go to stderr; exit 0 if at least one figure was printed,
# 1 if redis could not be installed or started.
set -u

REQS=${REDIS_REQS:-1000000}
DEPTH=${REDIS_DEPTH:-64}

say() { echo "redis_ref: $*" >&2; }

install_redis() {
    if command -v redis-server >/dev/null 2>&1 &&
        command -v redis-benchmark >/dev/null 2>&1; then
        return 0
    fi
    say "installing the Debian package redis-server (apt-get)"
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        say "redis-server missing and neither root nor sudo: install" \
            "the Debian package redis-server"
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y -q redis-server >/dev/null 2>&1 ||
        { $SUDO apt-get update -q >/dev/null 2>&1 &&
          $SUDO apt-get install -y -q redis-server >/dev/null 2>&1; } ||
        { say "apt-get install redis-server failed"; return 1; }
    # The package may start a system instance; we never use it (our own
    # server has its own port and socket).
    command -v redis-benchmark >/dev/null 2>&1
}

# A port nobody listens on: bind port 0 and read what the kernel chose.
free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); \
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    else
        echo $((20000 + $$ % 30000))
    fi
}

# "GET: 1234567.89 requests per second, p50=..." -> 1234567.89
run_get() {
    redis-benchmark "$@" -t get -P "$DEPTH" -n "$REQS" -q 2>/dev/null |
        tr '\r' '\n' | sed -n 's/^GET: \([0-9.]*\) requests per second.*/\1/p' |
        tail -n 1
}

# CPU clock ticks (user + system) redis-server has used so far.
server_ticks() {
    sed 's/.*) //' "/proc/$PID/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

# Runs run_get "$@" and prints "RATE CPU": CPU is redis-server's CPU time
# per GET in microseconds, which other jobs on a shared machine disturb far
# less than the rate.
run_get_cpu() {
    t0=$(server_ticks)
    r=$(run_get "$@")
    t1=$(server_ticks)
    [ -n "$r" ] || return 0
    echo "$r $(awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" \
        -v n="$REQS" 'BEGIN { printf "%.3f", (b - a) / hz * 1e6 / n }')"
}

install_redis || exit 1

DIR=$(mktemp -d /tmp/redis-ref.XXXXXX) || exit 1
SOCK=$DIR/redis.sock
PID=
cleanup() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

started=0
for attempt in 1 2 3; do
    PORT=$(free_port)
    redis-server --bind 127.0.0.1 --port "$PORT" --unixsocket "$SOCK" \
        --unixsocketperm 700 --save '' --appendonly no --dir "$DIR" \
        --daemonize no --logfile "$DIR/redis.log" &
    PID=$!
    i=0
    while [ $i -lt 100 ]; do
        if redis-cli -s "$SOCK" ping 2>/dev/null | grep -q PONG; then
            started=1
            break
        fi
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
        i=$((i + 1))
    done
    [ $started -eq 1 ] && break
    kill "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    PID=
done
if [ $started -ne 1 ]; then
    say "redis-server did not start: $(tail -n 3 "$DIR/redis.log" 2>/dev/null)"
    exit 1
fi
# One key, so GET finds a value (redis-benchmark's key is "key:__rand_int__"
# without -r: the literal key).
redis-cli -s "$SOCK" set 'key:__rand_int__' xxx >/dev/null 2>&1

# Each line: the rate, and redis-server's CPU microseconds per GET.
emit() {
    [ -n "$2" ] || return 0
    echo "redis_get_p64_$1 ${2% *}"
    echo "redis_cpu_p64_$1 ${2#* }"
}
U=$(run_get_cpu -s "$SOCK")
T=$(run_get_cpu -h 127.0.0.1 -p "$PORT")
U1=$(run_get_cpu -c 1 -s "$SOCK")
T1=$(run_get_cpu -c 1 -h 127.0.0.1 -p "$PORT")
U2=$(run_get_cpu -c 2 -s "$SOCK")
emit unix "$U"
emit tcp "$T"
emit c1_unix "$U1"
emit c1_tcp "$T1"
emit c2_unix "$U2"
[ -n "$U$T" ] || { say "redis-benchmark printed no GET figure"; exit 1; }
exit 0
