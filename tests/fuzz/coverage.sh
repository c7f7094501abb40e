#!/bin/sh
# tests/fuzz/coverage.sh - line coverage of engine/ and daemon/ by the corpora.
#
# usage: coverage.sh COV_B NAME...
#
# make coverage and make fuzz-long call this once COV_B/replay_NAME (each
# harness with tests/fuzz/replay.c as main, built with clang's
# -fprofile-instr-generate -fcoverage-mapping) are built.  Each runs over
# tests/fuzz/corpus/NAME and tests/fuzz/regress/NAME; the profiles are
# merged (llvm-profdata), the HTML report of engine/ and daemon/ goes to
# COV_B/html/index.html and llvm-cov's per-file table to COV_B/report.txt.
# Prints the line, region and function coverage of engine/ and of daemon/
# (summed from the per-file rows) and of both (llvm-cov's TOTAL row).
set -u
b=$1
shift
rm -rf "$b/prof" "$b/html" && mkdir -p "$b/prof" || exit 1
objs=
for n in "$@"; do
    LLVM_PROFILE_FILE=$b/prof/$n-%p.profraw "./$b/replay_$n" \
        "$n" "tests/fuzz/corpus/$n" "tests/fuzz/regress/$n" ||
        { echo "coverage: FAILED: the $n replay"; exit 1; }
    objs="$objs${objs:+ -object }$b/replay_$n"
done
llvm-profdata merge -sparse -o "$b/all.profdata" "$b"/prof/*.profraw || exit 1
# $objs is a list of options: split on purpose.
# shellcheck disable=SC2086
llvm-cov show $objs -instr-profile="$b/all.profdata" -format=html \
    -output-dir="$b/html" engine daemon > /dev/null || exit 1
# shellcheck disable=SC2086
llvm-cov report $objs -instr-profile="$b/all.profdata" engine daemon \
    > "$b/report.txt" || exit 1
# Rows: file, regions, missed, cover, functions, missed, executed, lines,
# missed, cover (then branches, which are not counted here).
awk -v html="$b/html/index.html" '
function pc(all, missed) { return all ? sprintf("%.1f%%", 100 * (all - missed) / all) : "-" }
function add(d) { R[d] += $2; RM[d] += $3; F[d] += $5; FM[d] += $6; L[d] += $8; LM[d] += $9 }
$1 ~ /^engine\// { add("engine/") }
$1 ~ /^daemon\// { add("daemon/") }
$1 == "TOTAL" { add("engine/ and daemon/") }
END {
    n = split("engine/,daemon/,engine/ and daemon/", d, ",")
    for (i = 1; i <= n; i++)
        printf "coverage: %s lines %s of %d, regions %s, functions %s\n",
            d[i], pc(L[d[i]], LM[d[i]]), L[d[i]], pc(R[d[i]], RM[d[i]]),
            pc(F[d[i]], FM[d[i]])
    print "coverage: " html
}' "$b/report.txt"
