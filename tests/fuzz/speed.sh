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
# (the FUZZ_SANITIZE it ran).  A second line gives the steady rate, past
# libFuzzer's first pass over the seeds (paid once per campaign, a third
# of the engine harness's CPU in 20,000 runs): each round also runs with
# -runs=1, which is that pass alone, and the rate is (inputs - its inputs)
# over (CPU - its CPU); the best round's, and the others'.  ASAN_OPTIONS
# come from the caller.  A
# missing binary or corpus, or a round that fails (a crash, leak or
# timeout of the harness), fails with a message naming it and the log.
set -u
bin=$1 name=$2 corpus=$3 work=$4 runs=$5 rounds=$6 build=$7
shift 7
say() { echo "fuzz-speed $name: $*"; }
[ -x "$bin" ] || { say "FAILED: no harness $bin (make fuzz-build)"; exit 1; }
[ -d "$corpus" ] || { say "FAILED: no corpus $corpus"; exit 1; }
bad=$(sh "$(dirname "$0")/knobs.sh" count:FUZZ_RUNS="$runs" count:FUZZ_ROUNDS="$rounds")
[ -z "$bad" ] || { say "FAILED: $bad"; exit 1; }

# Seconds from `times`' "XmY.Zs" (dash and bash both write that).
secs() { echo "$1" | awk -F'[ms]' '{ printf "%.3f", $1 * 60 + $2 }'; }

rm -rf "$work" && mkdir -p "$work" || { say "FAILED: cannot make $work"; exit 1; }

# One run of the harness with -runs=$1 from a fresh copy of the corpus, log
# $2; sets units (inputs run), cpu (user + sys), user, sys, cov and ft, or
# fails the script naming the round.
run() {
    r=$1 log=$2
    shift 2
    rm -rf "$work/corpus" && mkdir "$work/corpus" &&
        cp "$corpus"/* "$work/corpus/" 2>/dev/null ||
        { say "FAILED: cannot copy the corpus $corpus"; exit 1; }
    t=$( ("$bin" "$@" -seed=1 -runs="$r" \
            -artifact_prefix="$work/$name-" "$work/corpus" > "$log" 2>&1
          echo "rc $?"; times) | awk 'NR == 1 { print $2 } NR == 3 { print $1, $2 }')
    rc=$(echo "$t" | sed -n 1p)
    if [ "$rc" != 0 ]; then
        tail -20 "$log"
        say "FAILED: round $i exited $rc (log $log)," \
            "artifact: $(grep -o "$work/$name-[a-z-]*-[0-9a-f]*" "$log" | tail -1)"
        exit 1
    fi
    t=$(echo "$t" | sed -n 2p)
    user=$(secs "${t% *}") sys=$(secs "${t#* }")
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')
    units=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
    cov=$(echo "$done_line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$done_line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    if [ -z "$units" ] || [ -z "$cov" ] || [ -z "$ft" ]; then
        tail -20 "$log"
        say "FAILED: round $i printed no final stats (log $log)"
        exit 1
    fi
}

# Each round: the seed pass alone (-runs=1: libFuzzer runs every seed
# before it counts runs), then the whole run.  The steady rate is what the
# whole run did past the seed pass: (inputs - seed inputs) / (CPU - seed
# CPU), the rate a campaign keeps after paying the seed pass once.
best= rates= steadies= bsteady= i=1
while [ "$i" -le "$rounds" ]; do
    run 1 "$work/round$i.seeds.log" "$@"
    units1=$units cpu1=$cpu
    run "$runs" "$work/round$i.log" "$@"
    steady=$(awk -v n="$units" -v n1="$units1" -v c="$cpu" -v c1="$cpu1" \
        'BEGIN { print (c - c1 > 0.001 && n > n1) ? int((n - n1) / (c - c1)) : 0 }')
    steadies="$steadies $steady"
    if [ -z "$bsteady" ] || [ "$steady" -gt "${bsteady%% *}" ]; then
        bsteady="$steady $units1 $cpu1"
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
# The rates of $1 but the best ($2), once.
others() {
    echo "$1" | awk -v b="$2" '{
        for (i = 1; i <= NF; i++) if ($i != b || seen++) o = o (o == "" ? "" : ", ") $i
        print o }'
}
o=$(others "$rates" "${best%% *}")
say "${best#* }; best of $rounds (others: ${o:-none}), $build, -runs=$runs"
# shellcheck disable=SC2086 # its three numbers
set -- $bsteady
o=$(others "$steadies" "$1")
say "after the seed pass ($2 inputs, $3 CPU-s): $1 inputs per CPU-second;" \
    "best of $rounds (others: ${o:-none})"
