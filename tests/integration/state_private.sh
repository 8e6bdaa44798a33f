# Issue 10, finding 8: the state directory and its files are private to the user that owns
# them. Another local user can't list the state directory (0711) nor read the database, its
# WAL and shared memory, engine.conf or engine.lock (0600), whether gpuplexd or a CLI command
# (the engine in-process) made the state; it can still read gpuplexd.lock (0644, never
# writable by others), which tells clients where gpuplexd listens, and so still reach it. A state left readable by an older
# gpuplex is tightened, with a warning, by the next command or daemon that opens it.
. "$SRC_DIR/tests/integration/lib.sh"
GPXB=$BUILD_DIR/bin/gpuplex
other=$(gpx_user o)
"$GPXB" sim init --gpus 1xH100-80GB --state "$GPUPLEX_SIM" >/dev/null

# private DIR: DIR and its files have the private modes, and $other reads none of them.
private() {
    [ "$(stat -c %a "$1")" = 711 ] || fail "$1 is mode $(stat -c %a "$1"), not 711"
    [ -s "$1/gpuplexd.db" ] || fail "no database in $1"
    for f in gpuplexd.db gpuplexd.db-wal gpuplexd.db-shm engine.conf engine.lock; do
        [ -e "$1/$f" ] || continue
        [ "$(stat -c %a "$1/$f")" = 600 ] || fail "$1/$f is mode $(stat -c %a "$1/$f"), not 600"
        ! as_user "$other" cat "$1/$f" >/dev/null 2>&1 || fail "$other read $1/$f"
    done
    ! as_user "$other" ls "$1" >/dev/null 2>&1 || fail "$other listed $1"
    as_user "$other" cat "$1/gpuplexd.lock" >/dev/null || fail "$other can't read gpuplexd.lock"
    ! as_user "$other" sh -c ': >>"$1"' sh "$1/gpuplexd.lock" 2>/dev/null ||
        fail "$other can write gpuplexd.lock (and send clients to a socket of theirs)"
}

# 1. A state made by a CLI command, parents included (they stay 0755).
export GPUPLEX_STATE_DIR="$TEST_TMP/cli/state"
expect_rc 0 "$GPXB" lease create --gpu 0 --memory 1G
[ "$(stat -c %a "$TEST_TMP/cli")" = 755 ] || fail "the state's parent is $(stat -c %a "$TEST_TMP/cli")"
private "$GPUPLEX_STATE_DIR"
# another user's command on it is told whose it is (no daemon serves it)
expect_rc 10 as_user "$other" "$GPXB" lease ls
expect_err "is another user's state directory \(mode 0711\)"
echo "CLI-made state: private"

# 2. A state made by gpuplexd: private while it runs (WAL and shared memory present), and
# another user still finds the daemon through gpuplexd.lock.
DSTATE=$TEST_TMP/daemon/state
start_daemon() {
    GPUPLEX_LOG=warn "$BUILD_DIR/bin/gpuplexd" --state-dir "$DSTATE" --run-dir "$GPUPLEX_RUN_DIR" \
        --socket "$TEST_TMP/d.sock" --set "cdi_spec=$TEST_TMP/cdi/gpuplex.json" >"$TEST_TMP/gpxd.log" 2>&1 &
    DPID=$!
    echo "$DPID" >"$TEST_TMP/gpxd.pid" # run-one.sh stops it if this script fails
    i=0
    until [ -S "$TEST_TMP/d.sock" ]; do
        i=$((i + 1))
        [ "$i" -lt 200 ] && kill -0 "$DPID" 2>/dev/null || {
            cat "$TEST_TMP/gpxd.log" >&2
            fail "gpuplexd did not start"
        }
        sleep 0.05
    done
}
stop_daemon() {
    kill -TERM "$DPID"
    wait "$DPID" || fail "gpuplexd exited $?"
    rm -f "$TEST_TMP/gpxd.pid"
}
start_daemon
expect_rc 0 env GPUPLEX_SERVER="$TEST_TMP/d.sock" "$GPXB" lease create --gpu 0 --memory 1G
[ -e "$DSTATE/gpuplexd.db-wal" ] || fail "no WAL while gpuplexd runs"
private "$DSTATE"
expect_rc 0 env GPUPLEX_SERVER="$TEST_TMP/d.sock" "$GPXB" tenant add other --uid "$(id -u "$other")"
expect_rc 0 as_user "$other" env GPUPLEX_STATE_DIR="$DSTATE" "$GPXB" status --json
[ "$(json 'j["path"]' "$TEST_TMP/out")" = gpuplexd ] || fail "$other did not find gpuplexd"
echo "daemon-made state: private, and $other still reaches gpuplexd"

# 3. States left readable by others are tightened, with a warning: by a command...
chmod 0755 "$GPUPLEX_STATE_DIR"
chmod 0644 "$GPUPLEX_STATE_DIR/gpuplexd.db" "$GPUPLEX_STATE_DIR/engine.conf"
chmod 0666 "$GPUPLEX_STATE_DIR/engine.lock" "$GPUPLEX_STATE_DIR/gpuplexd.lock"
expect_rc 0 "$GPXB" lease ls
expect_err "state directory $GPUPLEX_STATE_DIR was mode 0755, readable or writable by others: now 0711"
expect_err "state file $GPUPLEX_STATE_DIR/gpuplexd.db was mode 0644, .*: now 0600"
expect_err "state file $GPUPLEX_STATE_DIR/engine.lock was mode 0666, .*: now 0600"
expect_err "state file $GPUPLEX_STATE_DIR/gpuplexd.lock was mode 0666, .*: now 0644"
private "$GPUPLEX_STATE_DIR"
expect_rc 0 "$GPXB" lease ls # once: no warning the second time
[ ! -s "$TEST_TMP/err" ] || fail "warned again: $(cat "$TEST_TMP/err")"
# ... and by gpuplexd.
stop_daemon
chmod 0777 "$DSTATE"
chmod 0644 "$DSTATE/gpuplexd.db"
start_daemon
grep -q "state directory $DSTATE was mode 0777, readable or writable by others: now 0711" \
    "$TEST_TMP/gpxd.log" || fail "gpuplexd did not warn: $(cat "$TEST_TMP/gpxd.log")"
private "$DSTATE"
stop_daemon
echo "loose states: tightened with a warning"
