#!/bin/sh
# tests/selfcontained.sh - fail if a file of the tree refers outside it.
#
# The repository stands alone: its docs live in docs/, its test data in
# tests/data/.  This looks through every tracked file (every file outside
# build/ when there is no git) for a path into a sibling "shared" directory
# and names each line that has one.  make check runs it.
set -eu
cd "$(dirname "$0")/.."

# Built from pieces so that this file does not match itself.
dots='\.\.'
root="/work"
pat="$dots/shared|$root/shared"

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    files=$(git ls-files --cached --others --exclude-standard)
else
    files=$(find . -path ./build -prune -o -path ./.git -prune -o -type f -print)
fi
# Binary corpora are data, not text that could cite a path.
hits=$(printf '%s\n' "$files" | grep -v '^tests/fuzz/\(corpus\|regress\)/' |
       tr '\n' '\0' | xargs -0 grep -nIE "$pat" -- 2>/dev/null || true)
if [ -n "$hits" ]; then
    echo "selfcontained: these lines refer to a path outside the repository:" >&2
    printf '%s\n' "$hits" >&2
    exit 1
fi
echo "selfcontained: no file refers outside the repository"
