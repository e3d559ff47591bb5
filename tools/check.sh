#!/bin/bash
# Run every test suite, then print one summary line per suite and a total.
# Called by `make -f Makefile.apxs check`; the dependencies are installed
# before. Exits non-zero when any suite fails.
set -u
cd "$(dirname "$0")/.."

MAKE_="make --no-print-directory -f Makefile.apxs"
LOG_DIR=$(mktemp -d)
trap 'rm -rf "$LOG_DIR"' EXIT
SUMMARY=()
TOTAL_PASSED=0
TOTAL_FAILED=0

# record NAME PASSED FAILED NOTE
record() {
    SUMMARY+=("$(printf '%-11s %s passed, %s failed%s' "$1:" "$2" "$3" "$4")")
    TOTAL_PASSED=$((TOTAL_PASSED + $2))
    TOTAL_FAILED=$((TOTAL_FAILED + $3))
}

# run_suite NAME TARGET: run a make target, echo its output, keep a log.
run_suite() {
    local log="$LOG_DIR/$1.log"
    echo "=== $1 ==="
    $MAKE_ "$2" 2>&1 | tee "$log"
    return "${PIPESTATUS[0]}"
}

# A check that is one pass or one failure.
single() {
    if run_suite "$1" "$2"; then
        record "$1" 1 0 ""
    else
        record "$1" 0 1 " (see above)"
    fi
}

single build all
single check-deps check-deps
single check-paths check-paths
single exports exports
single format format-check


# cmocka: "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), ...",
# once per test binary of the suite (unit runs three): summed.
cmocka_suite() {
    local rc passed failed
    run_suite "$1" "$1"
    rc=$?
    passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' \
        "$LOG_DIR/$1.log" | awk '{ n += $1 } END { if (NR) print n }')
    failed=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' \
        "$LOG_DIR/$1.log" | awk '{ n += $1 } END { if (NR) print n }')
    passed=${passed:-0}
    failed=${failed:-0}
    if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
        failed=1    # crashed or did not build
    fi
    record "$1" "$passed" "$failed" ""
}

cmocka_suite unit
cmocka_suite pmtest
# The same two under valgrind memcheck.
cmocka_suite vg-unit
cmocka_suite vg-pm

# fuzz prints "fuzz: N passed, M failed" itself.
for suite in fuzz; do
    run_suite "$suite" "$suite"
    rc=$?
    line=$(grep -E "^$suite: [0-9]+ passed, [0-9]+ failed" \
        "$LOG_DIR/$suite.log" | tail -1)
    passed=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed.*/\1/p')
    failed=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    passed=${passed:-0}
    failed=${failed:-0}
    if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
        failed=1
    fi
    note=$(echo "$line" | sed -n 's/.*failed\(.*\)/\1/p')
    record "$suite" "$passed" "$failed" "$note"
done

# pytest -q ends with "N passed, M failed in Xs" (parts may be absent).
pytest_suite() {
    local line passed failed rc
    run_suite "$1" "$1"
    rc=$?
    line=$(grep -E '[0-9]+ (passed|failed|error)' "$LOG_DIR/$1.log" \
        | tail -1)
    passed=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
    failed=$(echo "$line" | grep -oE '[0-9]+ (failed|errors?)' \
        | awk '{ n += $1 } END { print n + 0 }')
    passed=${passed:-0}
    failed=${failed:-0}
    if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
        failed=1    # a sanitizer report, or pytest did not run
    fi
    record "$1" "$passed" "$failed" ""
}

# The Debian package: build, install into the system's Apache, one
# request, purge (tests/pkg/test_deb.sh; root).
single deb deb-test

pytest_suite itest
# Once more against the module built with ASan and UBSan.
pytest_suite itest-asan

echo
echo "=== summary ==="
printf '%s\n' "${SUMMARY[@]}"
echo "check: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
[ "$TOTAL_FAILED" = 0 ]
