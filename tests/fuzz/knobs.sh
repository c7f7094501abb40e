#!/bin/sh
# tests/fuzz/knobs.sh - the fuzzing targets' numeric knobs, checked once.
#
# usage: knobs.sh KIND:VAR=VALUE ...
#
# The Makefile runs this while it reads itself, when a fuzzing target
# (fuzz, fuzz-long, fuzz-speed) is asked for, so that a bad value stops
# make before any build or run.  KIND is
#   count   a whole number, 1 or more (FUZZ_SECONDS, FUZZ_RUNS, ...)
#   count0  a whole number, 0 or more (FUZZ_INPUTS: 0 = no input target)
#   (both at most 2147483647: libFuzzer's flags are ints)
#   hours   a number of hours above 0, fractions allowed (FUZZ_HOURS)
# Prints one line, each bad knob named with its value, "; " between them,
# and nothing when all are good (make turns the output into $(error)).
for k in "$@"; do
    kind=${k%%:*} var=${k#*:}
    val=${var#*=} var=${var%%=*}
    case $kind in
    count | count0)
        case $val in
        '' | *[!0-9]*)
            echo "$var=$val: not a whole number (digits only$([ "$kind" = count ] || echo '; 0 for none'))"
            continue
            ;;
        esac
        # libFuzzer keeps its flags (-runs, -timeout, ...) in an int.
        awk -v v="$val" 'BEGIN { exit !(v + 0 <= 2147483647) }' ||
            { echo "$var=$val: too large (at most 2147483647, libFuzzer's limit)"; continue; }
        [ "$kind" = count0 ] || [ "$(expr "$val" + 0)" -ge 1 ] ||
            echo "$var=$val: must be at least 1"
        ;;
    hours)
        case $val in
        '' | *[!0-9.]* | *.*.* | .)
            echo "$var=$val: not a number of hours (e.g. $var=0.5 or $var=8)"
            continue
            ;;
        esac
        awk -v h="$val" 'BEGIN { exit !(h * 3600 >= 1) }' ||
            { echo "$var=$val: must be at least one second (0.0003 hours)"; continue; }
        awk -v h="$val" 'BEGIN { exit !(h * 3600 <= 2147483647) }' ||
            echo "$var=$val: too large (at most 596523 hours, libFuzzer's limit)"
        ;;
    *)
        echo "knobs.sh: unknown kind $kind for $var" ;;
    esac
done | awk 'NR > 1 { printf "; " } { printf "%s", $0 } END { if (NR) print "" }'
