#!/bin/sh
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain a
# copy of the License at http://www.apache.org/licenses/LICENSE-2.0
#
# Build the libFuzzer targets, replay their committed corpora, then fuzz
# each one for FUZZ_SECONDS (default 20) on a temporary copy of its corpus,
# so that new findings never land in the committed directories.
#
#   tests/fuzz/run.sh            (from anywhere; called by `make fuzz`)
#   FUZZ_SECONDS=300 tests/fuzz/run.sh
#
# Crash inputs are kept in build/fuzz-artifacts/<target>/. The last line is
# "fuzz: N passed, M failed"; the exit status is non-zero on any failure.

set -eu

TARGETS="decoder nv hdrscan reply ctl pmconf"
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
CLANG=${CLANG:-clang}
FUZZ_CFLAGS="-std=c99 -g -O1 -fsanitize=fuzzer,address,undefined
        -fno-sanitize-recover=undefined -Wall -Wextra -Werror"
# The code under test never allocates; a small ASan quarantine keeps the
# harness's own per-chunk buffers from dominating the run time and RSS.
ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export ASAN_OPTIONS UBSAN_OPTIONS

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

case $FUZZ_SECONDS in
'' | *[!0-9]*)
    echo "run.sh: FUZZ_SECONDS must be a whole number of seconds" >&2
    exit 2
    ;;
esac
if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "run.sh: $CLANG not found; the fuzz targets need clang" >&2
    exit 2
fi
if ! command -v timeout >/dev/null 2>&1; then
    echo "run.sh: timeout(1) not found" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fcgix-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

mkdir -p build

# show_log LOG: what went wrong, for the CI transcript.
show_log()
{
    echo "---- $1" >&2
    grep -E 'invariant violated|ERROR:|runtime error|SUMMARY|Test unit|Base64' \
        "$1" >&2 || tail -n 25 "$1" >&2 || true
    echo "----" >&2
}

# keep_artifacts TARGET DIR: save crash inputs outside the temp dir.
keep_artifacts()
{
    for f in "$2"/crash-* "$2"/leak-* "$2"/timeout-* "$2"/oom-*; do
        [ -f "$f" ] || continue
        mkdir -p "build/fuzz-artifacts/$1"
        cp "$f" "build/fuzz-artifacts/$1/"
        echo "run.sh: input saved as build/fuzz-artifacts/$1/${f##*/}" >&2
    done
}

# fuzz_one TARGET: sets $result ("passed" or why it failed) and $execs.
fuzz_one()
{
    t=$1
    bin=build/fuzz_$t
    dir=$tmp/$t
    execs=0
    mkdir -p "$dir/art"
    # The control protocol and the PM's definitions have their own modules;
    # the others test fcgi_proto.
    src=fcgi_proto.c
    [ "$t" = ctl ] && src=fcgi_ctl.c
    [ "$t" = pmconf ] && src=fcgi_pmconf.c

    # shellcheck disable=SC2086
    if ! timeout 300 "$CLANG" $FUZZ_CFLAGS -I. -o "$bin" \
        "tests/fuzz/fuzz_$t.c" "$src" >"$dir/build.log" 2>&1; then
        show_log "$dir/build.log"
        result="build failed"
        return
    fi

    if ! timeout 300 "$bin" -runs=0 -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$dir/art/" "tests/fuzz/corpus/$t" \
        >"$dir/replay.log" 2>&1; then
        show_log "$dir/replay.log"
        keep_artifacts "$t" "$dir/art"
        result="corpus replay failed"
        return
    fi

    cp -R "tests/fuzz/corpus/$t" "$dir/corpus"
    if ! timeout $((FUZZ_SECONDS + 120)) "$bin" \
        -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$dir/art/" "$dir/corpus" \
        >"$dir/fuzz.log" 2>&1; then
        result="crash or invariant violation"
    else
        result=passed
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
        "$dir/fuzz.log" | tail -n 1)
    execs=${execs:-0}
    if [ "$result" != passed ]; then
        show_log "$dir/fuzz.log"
        keep_artifacts "$t" "$dir/art"
    fi
}

passed=0
failed=0
for t in $TARGETS; do
    fuzz_one "$t"
    echo "fuzz_$t: $execs executions in ${FUZZ_SECONDS}s, $result"
    if [ "$result" = passed ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
