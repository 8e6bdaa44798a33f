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

# gpx_user SUFFIX: makes a throwaway local user for this test (useradd, with its own group, no
# home, no login shell) and prints its name; run-one.sh removes it (userdel) when the test
# ends, however it ends. Skips the test (exit 77) unless it runs as root with useradd.
# The test's temp dir is made traversable (0711) so that the user reaches the run dir.
gpx_user() {
    if [ "$(id -u)" != 0 ] || ! command -v useradd >/dev/null 2>&1; then
        echo "skipped: making test users needs root and useradd" >&2
        exit 77
    fi
    chmod 0711 "$TEST_TMP"
    # unique per test run: the temp dir's random suffix (lowercased) + the caller's suffix
    u_name="gpx$(basename "$TEST_TMP" | sed 's/.*\.//' | tr 'A-Z' 'a-z' | tr -dc 'a-z0-9')$1"
    echo "$u_name" >>"$TEST_TMP/.users"
    u_i=0
    # useradd locks /etc/passwd: parallel tests may find it held for a moment
    until useradd -M -U -d /nonexistent -s /usr/sbin/nologin "$u_name" 2>"$TEST_TMP/.useradd.err"; do
        u_i=$((u_i + 1))
        [ "$u_i" -lt 50 ] || { cat "$TEST_TMP/.useradd.err" >&2; fail "useradd $u_name"; }
        sleep 0.1
    done
    echo "$u_name"
}

# as_user NAME CMD...: runs CMD as NAME (runuser, a clean set of groups), the test's
# environment kept (paths of the run dir, the state dir, the simulator).
as_user() {
    u_who=$1
    shift
    runuser -u "$u_who" -- "$@"
}

# gpxd_start SOCK [ARGS...]: starts gpuplexd in the background on this test's state and run
# dirs ($GPUPLEX_CONFIG when set) with its socket at SOCK, the watchdog off and ARGS; its PID
# in $TEST_TMP/gpxd.pid (run-one.sh stops it), its log appended to $TEST_TMP/gpxd.log. Returns
# once SOCK exists; fails if gpuplexd exits first or takes over 20 s.
gpxd_start() {
    g_sock=$1
    shift
    rm -f "$g_sock"
    # the CDI spec under the test's dir, never the host's /var/run/cdi (unless the test's
    # config names one itself: a later --set would override it)
    g_cdi="cdi_spec=$TEST_TMP/cdi/gpuplex.json"
    if [ -n "${GPUPLEX_CONFIG:-}" ] && grep -q '^ *cdi_spec' "$GPUPLEX_CONFIG" 2>/dev/null; then
        g_cdi="watchdog=off"
    fi
    GPUPLEX_LOG=warn "$BUILD_DIR/bin/gpuplexd" ${GPUPLEX_CONFIG:+--config "$GPUPLEX_CONFIG"} \
        --state-dir "$GPUPLEX_STATE_DIR" --run-dir "$GPUPLEX_RUN_DIR" --socket "$g_sock" \
        --set watchdog=off --set "$g_cdi" "$@" >>"$TEST_TMP/gpxd.log" 2>&1 &
    echo $! >"$TEST_TMP/gpxd.pid"
    g_i=0
    while [ ! -S "$g_sock" ]; do
        kill -0 "$(cat "$TEST_TMP/gpxd.pid")" 2>/dev/null ||
            { cat "$TEST_TMP/gpxd.log" >&2; fail "gpuplexd exited"; }
        g_i=$((g_i + 1))
        [ $g_i -lt 400 ] || fail "gpuplexd did not start"
        sleep 0.05
    done
}
