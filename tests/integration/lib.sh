# Sourced by integration scripts: paths and small assertions.
# shellcheck shell=sh
# The CLI through gpx-wrap.sh: GPX_VIA=daemon runs the same script against
# gpuplexd on this test's state (CMake registers each CLI test both ways).
GPX=$SRC_DIR/tests/integration/gpx-wrap.sh
GPX_VIA=${GPX_VIA:-local}
export GPUPLEX_SIM="$TEST_TMP/node.sim"
# Leases of this test live in its own run dir.
export GPUPLEX_RUN_DIR="$TEST_TMP/run"
# ... and their state (the lease engine's database) in its own state dir.
export GPUPLEX_STATE_DIR="$TEST_TMP/state"
# In the sanitized build the interposer is preloaded ahead of libasan; ASan
# must not refuse that. Harmless in the plain build.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# expect_rc N CMD...: runs CMD, fails unless it exits with N; output in $TEST_TMP/out, err.
expect_rc() {
    want=$1
    shift
    set +e
    "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err"
    got=$?
    set -e
    [ "$got" = "$want" ] || {
        cat "$TEST_TMP/out" "$TEST_TMP/err" >&2
        fail "'$*' exited $got, expected $want"
    }
}

# expect_err PATTERN: the last expect_rc's stderr matches PATTERN (grep -E).
expect_err() {
    grep -Eq -e "$1" "$TEST_TMP/err" || {
        cat "$TEST_TMP/err" >&2
        fail "stderr does not match '$1'"
    }
}

# json EXPR FILE: evaluates a Python expression over the JSON in FILE (bound to j).
json() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' "$1" "$2"
}
