#!/bin/sh
# tests/fuzz/speed.sh - a harness's speed in inputs per CPU-second.
#
# usage: speed.sh BIN NAME CORPUS WORKDIR RUNS ROUNDS BUILD [OPTION...]
#
# make fuzz-speed calls this once per harness.  Each of ROUNDS rounds
# copies CORPUS (tests/fuzz/corpus/NAME) to WORKDIR/corpus afresh and runs
# BIN (a libFuzzer harness) on it with -seed=1 -runs=RUNS and OPTIONs
# (make fuzz's: FUZZ_OPTS, the harness's extras, -max_len, -dict); the
# CPU time is the child's user + sys (the shell's `times`: getrusage of
# the children), so a loaded machine slows the wall clock, not the
# figure.  It prints one line: the best round by inputs per CPU-second
# (inputs libFuzzer ran, CPU seconds, inputs per CPU-second, edges and
# features at the end), the other rounds' rates in brackets and BUILD
# (the FUZZ_SANITIZE it ran).  ASAN_OPTIONS come from the caller.  A
# missing binary or corpus, or a round that fails (a crash, leak or
# timeout of the harness), fails with a message naming it and the log.
set -u
bin=$1 name=$2 corpus=$3 work=$4 runs=$5 rounds=$6 build=$7
shift 7
say() { echo "fuzz-speed $name: $*"; }
[ -x "$bin" ] || { say "FAILED: no harness $bin (make fuzz-build)"; exit 1; }
[ -d "$corpus" ] || { say "FAILED: no corpus $corpus"; exit 1; }
case $runs$rounds in *[!0-9]*) say "FAILED: FUZZ_RUNS and FUZZ_ROUNDS are counts"; exit 1;; esac
[ "$runs" -gt 0 ] && [ "$rounds" -gt 0 ] ||
    { say "FAILED: FUZZ_RUNS and FUZZ_ROUNDS must be at least 1"; exit 1; }

# Seconds from `times`' "XmY.Zs" (dash and bash both write that).
secs() { echo "$1" | awk -F'[ms]' '{ printf "%.3f", $1 * 60 + $2 }'; }

rm -rf "$work" && mkdir -p "$work" || { say "FAILED: cannot make $work"; exit 1; }
best= rates= i=1
while [ "$i" -le "$rounds" ]; do
    log=$work/round$i.log
    rm -rf "$work/corpus" && mkdir "$work/corpus" &&
        cp "$corpus"/* "$work/corpus/" 2>/dev/null ||
        { say "FAILED: cannot copy the corpus $corpus"; exit 1; }
    t=$( ("$bin" "$@" -seed=1 -runs="$runs" \
            -artifact_prefix="$work/$name-" "$work/corpus" > "$log" 2>&1
          echo "rc $?"; times) | awk 'NR == 1 { print $2 } NR == 3 { print $1, $2 }')
    rc=$(echo "$t" | sed -n 1p)
    if [ "$rc" != 0 ]; then
        tail -20 "$log"
        say "FAILED: round $i exited $rc (log $log)," \
            "artifact: $(grep -o "$work/$name-[a-z-]*-[0-9a-f]*" "$log" | tail -1)"
        exit 1
    fi
    cpu=$(echo "$t" | sed -n 2p)
    user=$(secs "${cpu% *}") sys=$(secs "${cpu#* }")
    units=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
    cov=$(echo "$done_line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$done_line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    if [ -z "$units" ] || [ -z "$cov" ] || [ -z "$ft" ]; then
        tail -20 "$log"
        say "FAILED: round $i printed no final stats (log $log)"
        exit 1
    fi
    line=$(awk -v n="$units" -v u="$user" -v s="$sys" -v c="$cov" -v f="$ft" \
        'BEGIN { cpu = u + s; if (cpu < 0.001) cpu = 0.001;
                 printf "%d %d inputs, %.2f CPU-s (user %.2f, sys %.2f), %d inputs per CPU-second, cov %d, ft %d\n",
                        n / cpu, n, cpu, u, s, n / cpu, c, f }')
    rate=${line%% *}
    rates="$rates $rate"
    if [ -z "$best" ] || [ "$rate" -gt "${best%% *}" ]; then
        best=$line
    fi
    i=$((i + 1))
done
others=$(echo "$rates" | awk -v b="${best%% *}" '{
    for (i = 1; i <= NF; i++) if ($i != b || seen++) o = o (o == "" ? "" : ", ") $i
    print o }')
say "${best#* }; best of $rounds (others: ${others:-none}), $build, -runs=$runs"
