#!/bin/sh
# The gpuplex binary as the CLI integration tests call it ($GPX in lib.sh).
#
# GPX_VIA=local (default): runs gpuplex as it is (the engine in-process).
# GPX_VIA=daemon: before the first command that is not `gpuplex sim ...`,
#   starts gpuplexd on the test's own state and run directories; from then on
#   every command finds the daemon owning $GPUPLEX_STATE_DIR and goes through
#   it (the path rule of include/gpuplex/client.h), so the same script tests
#   both hosts of the engine. run-one.sh stops the daemon by its pid file.
# GPX_TRACE=FILE: appends each command, its exit status and its stdout (JSON
#   normalized by trace-norm.py) to FILE, so that the two runs can be compared.
set -u
real="$BUILD_DIR/bin/gpuplex"
if [ "${GPX_VIA:-local}" = daemon ] && [ "${1:-}" != sim ] && [ "${1:-}" != help ] &&
   [ ! -e "$TEST_TMP/gpxd.pid" ] && [ -n "${GPUPLEX_SIM:-}" ] && [ -e "$GPUPLEX_SIM" ]; then
    mkdir -p "$GPUPLEX_STATE_DIR" "$GPUPLEX_RUN_DIR"
    GPUPLEX_LOG=warn "$BUILD_DIR/bin/gpuplexd" --state-dir "$GPUPLEX_STATE_DIR" \
        --run-dir "$GPUPLEX_RUN_DIR" --socket "$TEST_TMP/gpxd.sock" --grace 1s \
        --set watchdog=off --set "cdi_spec=$TEST_TMP/cdi/gpuplex.json" >>"$TEST_TMP/gpxd.log" 2>&1 &
    echo $! >"$TEST_TMP/gpxd.pid"
    i=0
    while [ ! -S "$TEST_TMP/gpxd.sock" ] && [ $i -lt 200 ]; do
        kill -0 "$(cat "$TEST_TMP/gpxd.pid")" 2>/dev/null || {
            cat "$TEST_TMP/gpxd.log" >&2
            echo "gpx-wrap: gpuplexd did not start" >&2
            exit 99
        }
        sleep 0.05
        i=$((i + 1))
    done
fi
if [ -z "${GPX_TRACE:-}" ]; then
    exec "$real" "$@"
fi
out=$(mktemp "$TEST_TMP/wrap.XXXXXX")
# gpuplex in the background with signals passed on, so that `run` tests see theirs
env --default-signal "$real" "$@" >"$out" &
child=$!
for sig in TERM INT HUP QUIT; do
    trap "kill -$sig $child 2>/dev/null" "$sig"
done
rc=0
while :; do
    wait "$child" && rc=0 || rc=$?
    kill -0 "$child" 2>/dev/null || break
done
{
    { printf '$ gpuplex'; printf ' %s' "$@"; printf '\n'; } |
        python3 "$SRC_DIR/tests/integration/trace-norm.py"
    printf -- '-> %s\n' "$rc"
    python3 "$SRC_DIR/tests/integration/trace-norm.py" <"$out"
} >>"$GPX_TRACE"
cat "$out"
rm -f "$out"
exit $rc
