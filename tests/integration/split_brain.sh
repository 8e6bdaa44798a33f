# Split brain, tried as the issue found it: one state directory, the CLI
# without a daemon, then gpuplexd started on it, then gpuplexd unreachable,
# then stopped again. Leases made either way are one truth: an exclusive GPU
# or a memory quota is never granted twice, a command never falls back to a
# second ledger while a daemon owns the state, and the watchdog never reports
# a leased process as unleased on either path.
. "$SRC_DIR/tests/integration/lib.sh"

GPX=$BUILD_DIR/bin/gpuplex
HOG="$BUILD_DIR/tests/gpx-test-hog"
SOCK="$TEST_TMP/gpxd.sock"
"$GPX" sim init --gpus 2xH100-80GB --state "$GPUPLEX_SIM" >/dev/null

PIDS=""
cleanup() { for p in $PIDS; do kill -9 "$p" 2>/dev/null || :; done; }
trap cleanup EXIT

start_daemon() {
    "$BUILD_DIR/bin/gpuplexd" --state-dir "$GPUPLEX_STATE_DIR" --run-dir "$GPUPLEX_RUN_DIR" \
        --socket "$SOCK" --set watchdog=off --set "cdi_spec=$TEST_TMP/cdi/gpuplex.json" >>gpxd.log 2>&1 &
    echo $! >"$TEST_TMP/gpxd.pid"
    PIDS="$PIDS $!"
    i=0
    until [ -S "$SOCK" ] && "$GPX" status >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 200 ] || { cat gpxd.log >&2; fail "gpuplexd did not start"; }
        sleep 0.05
    done
}
stop_daemon() {
    kill "$(cat "$TEST_TMP/gpxd.pid")"
    i=0
    while kill -0 "$(cat "$TEST_TMP/gpxd.pid")" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 200 ] || fail "gpuplexd did not stop"
        sleep 0.05
    done
    rm -f "$TEST_TMP/gpxd.pid"
}
ids() { "$GPX" lease ls --json | python3 -c 'import json,sys; print(" ".join(sorted(l["id"] for l in json.load(sys.stdin))))'; }

# 1. No daemon: the CLI's engine in-process takes GPU 0 whole and a quota on GPU 1.
expect_rc 0 "$GPX" status --json
[ "$(json 'j["path"]' "$TEST_TMP/out")" = local ] || fail "path without a daemon"
ex=$("$GPX" lease create --gpu 0 --mode exclusive)
q1=$("$GPX" lease create --gpu 1 --memory 40G)

# 2. gpuplexd starts on the same state: it owns it, and it knows both leases.
start_daemon
expect_rc 0 "$GPX" status --json
[ "$(json 'j["path"]' "$TEST_TMP/out")" = gpuplexd ] || fail "path with a daemon"
[ "$(ids)" = "$(printf '%s\n%s\n' "$ex" "$q1" | sort | tr '\n' ' ' | sed 's/ $//')" ] ||
    fail "gpuplexd does not see the CLI's leases: $(ids)"
expect_rc 6 "$GPX" lease create --gpu 0 --mode vgpu --memory 70G # the issue's 70 GiB on GPU 0
expect_err "held by an exclusive lease"
expect_rc 7 "$GPX" lease create --gpu 1 --memory 40G # 40 of 79.6 GiB are taken
q2=$("$GPX" lease create --gpu 1 --memory 30G)
# no second engine beside the daemon
expect_rc 6 env GPUPLEX_SERVER=none "$GPX" lease create --gpu 1 --memory 1G
expect_err "owns the state directory"

# The watchdog, through the daemon's run directory, knows the leased workload.
hog_start() {
    "$HOG" "$@" >hog.out 2>hog.err &
    PIDS="$PIDS $!"
    hog=$!
    i=0
    until grep -q ready hog.out 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 200 ] || { cat hog.err >&2; fail "hog did not start"; }
        sleep 0.05
    done
}
hog_start --gpu 1 --mib 1024 --lease "$q2"
expect_rc 0 "$GPX" watch --allowance 0 --once --json
! grep -q unleased "$TEST_TMP/out" || fail "watchdog (daemon) called a leased process unleased: $(cat "$TEST_TMP/out")"

# 3. gpuplexd unreachable (alive, holding the state, socket gone): every command fails
# with exit 9 and says so; none falls back to a ledger of its own.
mv "$SOCK" "$SOCK.away"
expect_rc 9 "$GPX" lease create --gpu 1 --memory 1G
expect_err "cannot reach gpuplexd"
expect_rc 9 "$GPX" lease ls
expect_rc 9 "$GPX" watch --once
expect_rc 9 "$GPX" timeslice ls
mv "$SOCK.away" "$SOCK"
[ "$(ids | wc -w)" = 3 ] || fail "a lease appeared while gpuplexd was unreachable: $(ids)"

# 4. gpuplexd stops: the CLI's engine takes over the same ledger, with the daemon's leases.
stop_daemon
expect_rc 0 "$GPX" status --json
[ "$(json 'j["path"]' "$TEST_TMP/out")" = local ] || fail "path after the daemon stopped"
expect_rc 0 "$GPX" lease ls --json
[ "$(json 'len(j)' "$TEST_TMP/out")" = 3 ] || fail "leases after the daemon stopped: $(cat "$TEST_TMP/out")"
expect_rc 6 "$GPX" lease create --gpu 1 --mode exclusive
expect_rc 7 "$GPX" lease create --gpu 1 --memory 20G # 70 of 79.6 GiB are taken
expect_rc 0 "$GPX" watch --allowance 0 --once --json
! grep -q unleased "$TEST_TMP/out" || fail "watchdog (in-process) called a leased process unleased: $(cat "$TEST_TMP/out")"
kill "$hog"

# 5. and back: a second daemon start re-attaches everything the CLI left.
start_daemon
expect_rc 0 "$GPX" lease rm "$ex" "$q1" "$q2"
expect_rc 0 "$GPX" lease ls --json
[ "$(json 'j' "$TEST_TMP/out")" = "[]" ] || fail "leases left"
stop_daemon

# The run directory belongs to the state: a command without GPUPLEX_RUN_DIR after a daemon
# ran with --run-dir finds the same regions (not a second set under /run/gpuplex).
expect_rc 0 env -u GPUPLEX_RUN_DIR "$GPX" status --json
[ "$(json 'j["daemon"]["run_dir"]' "$TEST_TMP/out")" = "$(realpath "$GPUPLEX_RUN_DIR")" ] ||
    fail "run dir of the state: $(cat "$TEST_TMP/out")"
echo "split brain: one truth across CLI, daemon, unreachable daemon and restarts"
