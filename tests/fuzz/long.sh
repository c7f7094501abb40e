#!/bin/sh
# tests/fuzz/long.sh - a long campaign: every harness at once, each up to
# an input target, merged into the corpus, with a table of how far each got.
#
# usage: long.sh WORKDIR HOURS INPUTS FORK TIMEOUT SLOW < PLAN
#
# make fuzz-long writes PLAN, one line per harness:
#   NAME BUILD BIN ASAN_BIN ASAN_OPTIONS|- DICT|- LIBFUZZER-OPTION...
# (BIN is the harness in the build that fuzzes it, ASAN_BIN the
# ASan+UBSan one, paths from the repository's top, where this runs).
# Every harness starts at once, in-process (FORK 1) or in libFuzzer's fork
# mode, from WORKDIR/NAME/new and tests/fuzz/corpus/NAME, for at most
# HOURS (-max_total_time) and, if INPUTS is not 0, until it has run INPUTS
# inputs (-runs, the seed corpus's first pass included): a fast harness
# that stops at its target leaves its CPU to the others, which the kernel
# shares out among those still running.
#
# Timeouts: libFuzzer's -timeout is wall-clock, and on a shared machine a
# harness at the back of the run queue can spend 40 times an input's CPU
# time on it in wall time (the engine harness died at 20 s on an input that
# takes 0.5 s alone).  So a campaign kills only at TIMEOUT wall seconds
# (a real hang), and keeps every input slower than SLOW wall seconds
# (-report_slow_units: each new slowest one, as WORKDIR/NAME-slow-unit-*)
# without stopping; after the campaign each is run again alone and timed
# in CPU seconds, and one that takes SLOW CPU-seconds or more alone fails
# the campaign like a crash.  One the load slowed is only listed.
#
# At the end, for each harness: what it found merged into
# tests/fuzz/corpus/NAME (-merge=1: only inputs that add coverage), the
# kept corpus replayed with ASan+UBSan if it fuzzed without ASan
# (asan_replay.sh), and a table: inputs run, CPU and wall seconds, inputs
# per CPU-second, edges and features of the merged corpus, crashes, slow
# inputs, and the CPU-hours the rest of the way to the target (INPUTS, or
# issue #19's 100 million when INPUTS is 0) would take at this campaign's
# rate.  Exit 1 on any crash, leak, timeout, OOM, input slow alone, or
# failed ASan replay.
set -u
work=$1 hours=$2 inputs=$3 fork=$4 timeout=$5 slow=$6
root=$(pwd)
secs=$(awk -v h="$hours" 'BEGIN { s = int(h * 3600); print s < 1 ? 1 : s }')
goal=$inputs
[ "$goal" -gt 0 ] || goal=100000000
ncpu=$(nproc 2>/dev/null || echo 1)

rm -rf "$work" && mkdir -p "$work" || { echo "fuzz-long: cannot make $work"; exit 1; }
cat > "$work/plan"
names=$(awk '{ print $1 }' "$work/plan" | tr '\n' ' ')
echo "fuzz-long: ${names}at once for at most $secs s" \
    "$([ "$inputs" -gt 0 ] && echo "or $inputs inputs each" || echo "(no input target)")," \
    "$fork worker(s) each, $ncpu cores; -timeout=$timeout, slow at $slow s" \
    "($(date -u '+%Y-%m-%d %H:%M UTC'))"

forkopts=
[ "$fork" -le 1 ] || forkopts="-fork=$fork -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1"
runs=
[ "$inputs" -eq 0 ] || runs=-runs=$inputs

# One harness's campaign, in the background: its rc, its start and end
# (seconds since the epoch) and its CPU time (the shell's `times`: user
# and sys of the children of this subshell, that is of the harness).
while read -r name build bin abin aopts dict opts; do
    mkdir -p "$work/$name/new" "tests/fuzz/corpus/$name"
    [ "$aopts" != - ] || aopts=
    d=
    [ "$dict" = - ] || d=-dict=$root/$dict
    (
        cd "$work/$name" || exit 1
        date +%s > start
        # $opts and $forkopts are lists of options: split on purpose.
        # shellcheck disable=SC2086
        ASAN_OPTIONS=$aopts "$root/$bin" $opts $forkopts -timeout="$timeout" \
            -report_slow_units="$slow" -max_total_time="$secs" $runs $d \
            -artifact_prefix="$root/$work/$name-" \
            new "$root/tests/fuzz/corpus/$name" > ../"$name".log 2>&1 &
        echo $! > pid
        wait $!
        echo $? > rc
        date +%s > end
        times > cpu.times # not in a pipe: that would be a subshell of its own
    ) &
done < "$work/plan"

# Every 5 s, each running harness's CPU time so far (clock ticks, from
# /proc/PID/stat; - once it has stopped), for the CPU shares below: a
# progress record, nothing waits on it.
nh=$(wc -l < "$work/plan")
while [ "$(ls "$work"/*/rc 2>/dev/null | wc -l)" -lt "$nh" ]; do
    line=$(date +%s)
    for n in $names; do
        t=-
        if [ ! -f "$work/$n/rc" ] && [ -f "$work/$n/pid" ]; then
            t=$(awk '{ print $14 + $15 }' "/proc/$(cat "$work/$n/pid")/stat" 2>/dev/null)
        fi
        line="$line ${t:--}"
    done
    echo "$line" >> "$work/cpu.samples"
    sleep 5
done
wait

# Seconds from `times`' "XmY.Zs" (dash and bash both write that).
secs_of() { echo "$1" | awk -F'[ms]' '{ printf "%.2f", $1 * 60 + $2 }'; }
# CPU seconds (user + sys) of one run of "$@", its output in $cpulog.
cpu_of() {
    t=$( ("$@" > "$cpulog" 2>&1; times) | sed -n 2p)
    awk -v u="$(secs_of "${t% *}")" -v s="$(secs_of "${t#* }")" \
        'BEGIN { printf "%.2f", u + s }'
}

rc=0 rows=
while read -r name build bin abin aopts dict opts; do
    w=$work/$name
    [ "$aopts" != - ] || aopts=
    hrc=$(cat "$w/rc") start=$(cat "$w/start") end=$(cat "$w/end")
    cpu=$(sed -n 2p "$w/cpu.times")
    cpu=$(awk -v u="$(secs_of "${cpu% *}")" -v s="$(secs_of "${cpu#* }")" \
        'BEGIN { printf "%.2f", u + s }')
    # Inputs run: the final stats, or the last status line if it crashed.
    ran=$( { grep -E '^#[0-9]+[:[:space:]]' "$work/$name.log" | tail -1 |
                 sed 's/^#\([0-9]*\).*/\1/'
             sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name.log"; } |
           tail -1)
    ran=${ran:-0}
    ASAN_OPTIONS=$aopts "./$bin" -merge=1 -artifact_prefix="$work/$name-merge-" \
        "tests/fuzz/corpus/$name" "$w/new" > "$work/$name.merge.log" 2>&1 ||
        { rc=1; tail -20 "$work/$name.merge.log"; echo "fuzz-long $name: FAILED: the merge (log $work/$name.merge.log)"; }
    added=$(grep -o 'MERGE-OUTER: [0-9]* new files' "$work/$name.merge.log" | grep -o '[0-9]*')
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$work/$name.merge.log" | tail -1)
    files=$(ls "tests/fuzz/corpus/$name" | wc -l)
    crashes=0 arts=
    for f in "$work/$name"-crash-* "$work/$name"-timeout-* "$work/$name"-oom-* \
             "$work/$name"-leak-*; do
        [ -f "$f" ] && crashes=$((crashes + 1)) arts="$arts  $f
"
    done
    if [ "$crashes" -ne 0 ] || [ "$hrc" -ne 0 ]; then
        rc=1
        tail -30 "$work/$name.log"
        echo "fuzz-long $name: FAILED (exit $hrc), log $work/$name.log, artifacts:"
        printf '%s' "$arts"
    fi
    # Each slow input again, alone, in CPU time.
    nslow=0
    for f in "$work/$name"-slow-unit-*; do
        [ -f "$f" ] || continue
        nslow=$((nslow + 1))
        cpulog=$f.alone.log
        c=$(ASAN_OPTIONS=$aopts cpu_of "./$bin" "$f")
        if awk -v c="$c" -v s="$slow" 'BEGIN { exit !(c >= s) }'; then
            rc=1
            echo "fuzz-long $name: FAILED: $f takes $c CPU-s alone (slow at $slow)"
        else
            echo "fuzz-long $name: $f: $c CPU-s alone, slow only under load"
        fi
    done
    if [ "$build" != asan ]; then
        ASAN_OPTIONS=$aopts sh tests/fuzz/asan_replay.sh "./$abin" "$name" \
            "tests/fuzz/corpus/$name" "$work/$name-" "$work/$name.asan.log" \
            > "$work/$name.asan.out" || rc=1
        sed 's/^fuzz /fuzz-long /' "$work/$name.asan.out"
    fi
    rows="$rows$name $build $ran $cpu $((end - start)) ${cov:-cov: ? ft: ?} $files ${added:-0} $crashes $nslow $hrc
"
done < "$work/plan"

# The table.  Numbers with thousands separators (mawk has no %'d).
printf '%s' "$rows" | awk -v goal="$goal" -v inputs="$inputs" -v secs="$secs" -v ncpu="$ncpu" '
function th(n,   s, r) {
    s = sprintf("%d", n); r = ""
    while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
    return s r
}
BEGIN {
    printf "fuzz-long: %-8s %-5s %12s %6s %8s %6s %6s %9s %6s %6s %11s %5s %4s %s\n",
        "harness", "build", "inputs", "%goal", "stopped", "CPU-s", "wall-s", "in/CPU-s",
        "edges", "ft", "corpus", "crash", "slow", (inputs > 0 ? "CPU-h to target" : "CPU-h to 100M")
}
{
    name = $1; build = $2; ran = $3; cpu = $4; wall = $5
    cov = $7; ft = $9; files = $10; added = $11; crashes = $12; nslow = $13  # $14: exit
    rate = cpu > 0 ? ran / cpu : 0
    if (ran >= goal) { left = "reached" }
    else if (rate > 0) { h = (goal - ran) / rate / 3600; left = sprintf(h < 10 ? "%.2f" : "%.1f", h) }
    else { left = "?" }
    why = crashes > 0 ? "crash" : $14 != 0 ? "exit " $14 : (inputs > 0 && ran >= inputs ? "target" : "hours")
    printf "fuzz-long: %-8s %-5s %12s %5.1f%% %8s %6.0f %6d %9s %6s %6s %11s %5d %4d %s\n",
        name, build, th(ran), 100 * ran / goal, why, cpu, wall, th(rate),
        th(cov), th(ft), th(files) " (+" added ")", crashes, nslow, left
    tcpu += cpu
    if ((goal - ran) > 0 && rate > 0) need += (goal - ran) / rate
}
END {
    printf "fuzz-long: CPU %.0f s of the %d cores x %d s; to go: %.1f CPU-hours, %.1f h on %d cores at these rates\n",
        tcpu, ncpu, secs, need / 3600, need / 3600 / ncpu, ncpu
}'

# The CPU each harness got, per CPU-second of wall time, between the
# times harnesses stopped: those still running share what one that
# reached its target gave up.
for n in $names; do cat "$work/$n/end"; done | tr '\n' ' ' |
    awk -v names="$names" -v hz="$(getconf CLK_TCK)" -v t0="$(cat "$work/${names%% *}/start")" '
NR == 1 { nn = split(names, name, " "); ne = split($0, e, " "); next }
{ ns++; at[ns] = $1; for (i = 1; i <= nn; i++) c[ns, i] = $(i + 1) }
END {
    # Period ends: each time a harness stopped, the last one excluded.
    last = 0; for (i = 1; i <= ne; i++) if (e[i] > last) last = e[i]
    np = 0; from = t0
    while (1) {
        to = last; for (i = 1; i <= ne; i++) if (e[i] > from && e[i] < to) to = e[i]
        if (to <= from) break
        # The samples that frame the period, inside it.
        a = 0; b = 0
        for (k = 1; k <= ns; k++) { if (!a && at[k] >= from) a = k; if (at[k] <= to) b = k }
        if (a && b > a) {
            line = ""; run = 0
            for (i = 1; i <= nn; i++) {
                if (c[a, i] == "-" || c[b, i] == "-") continue
                run++
                line = line sprintf(" %s %.2f", name[i], (c[b, i] - c[a, i]) / hz / (at[b] - at[a]))
            }
            printf "fuzz-long: CPU-s per s, %d-%d s, %d running:%s\n", from - t0, to - t0, run, line
        }
        from = to
    }
}' - "$work/cpu.samples" 2>/dev/null
exit $rc
