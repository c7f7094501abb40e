#!/bin/sh
# tests/fuzz/asan_replay.sh - what a fast fuzzing run kept, through ASan.
#
# usage: asan_replay.sh BIN NAME CORPUS ARTIFACT_PREFIX LOG
#
# make fuzz and make fuzz-long with FUZZ_SANITIZE=ubsan or none fuzz with a
# build without ASan, then call this with BIN the harness built with
# ASan+UBSan (build/fuzz/fuzz_NAME): every input of CORPUS (the corpus the
# run ended with) runs once (-runs=0), failing on any sanitizer report,
# leak or harness abort (its artifact: ARTIFACT_PREFIX asan-crash-...);
# then each file the fast run left as ARTIFACT_PREFIX{crash,leak,timeout,
# oom}-* is run again for ASan's view of it (that run already failed).
# Output goes to LOG and LOG.crashes; ASAN_OPTIONS come from the caller.
bin=$1 name=$2 corpus=$3 prefix=$4 log=$5
n=$(ls "$corpus" | wc -l)
if "$bin" -runs=0 -artifact_prefix="${prefix}asan-" "$corpus" > "$log" 2>&1; then
    cov=$(grep -o 'INITED cov: [0-9]* ft: [0-9]*' "$log" | sed 's/INITED //')
    echo "fuzz $name: $n kept inputs replayed with ASan+UBSan: ok ($cov)"
    rc=0
else
    tail -40 "$log"
    echo "fuzz $name: $n kept inputs replayed with ASan+UBSan: FAILED, artifact:" \
         $(grep -o "${prefix}asan-[a-z-]*-[0-9a-f]*" "$log" | tail -1)
    rc=1
fi
: > "$log.crashes"
for f in "${prefix}crash-"* "${prefix}leak-"* "${prefix}timeout-"* "${prefix}oom-"*; do
    [ -f "$f" ] || continue
    echo "== $f" >> "$log.crashes"
    "$bin" "$f" >> "$log.crashes" 2>&1
    echo "fuzz $name: $f rerun with ASan+UBSan (exit $?): $log.crashes"
done
exit $rc
