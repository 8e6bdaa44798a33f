# One engine, two hosts: the CLI integration scripts run once with the engine
# in-process and once against gpuplexd (GPX_VIA=daemon), each command's exit
# status and stdout traced by gpx-wrap.sh; the two traces must be identical
# once values that differ by nature are masked (ids, times, pids, the
# temporary directory; trace-norm.py lists them, docs/api.md the daemon-only
# keys). A command that answers differently on the two paths fails here.
. "$SRC_DIR/tests/integration/lib.sh"

for script in lease lease_run mig ls; do
    for via in local daemon; do
        dir="$TEST_TMP/$script.$via"
        mkdir -p "$dir"
        (
            cd "$dir"
            export TEST_TMP="$dir" GPX_VIA=$via GPX_TRACE="$dir.trace"
            export GPUPLEX_SIM="$dir/node.sim" GPUPLEX_RUN_DIR="$dir/run" GPUPLEX_STATE_DIR="$dir/state"
            status=0
            sh -eu "$SRC_DIR/tests/integration/$script.sh" >"$dir.log" 2>&1 || status=$?
            if [ -e "$dir/gpxd.pid" ]; then
                kill "$(cat "$dir/gpxd.pid")" 2>/dev/null || true
                sleep 0.2
                kill -9 "$(cat "$dir/gpxd.pid")" 2>/dev/null || true
            fi
            [ "$status" = 0 ] || {
                cat "$dir.log" >&2
                fail "$script.sh failed ($via)"
            }
        )
    done
    diff -u "$TEST_TMP/$script.local.trace" "$TEST_TMP/$script.daemon.trace" >"$TEST_TMP/$script.diff" || {
        head -80 "$TEST_TMP/$script.diff" >&2
        fail "$script.sh: the CLI answers differently with and without gpuplexd"
    }
    n=$(grep -c '^\$ gpuplex' "$TEST_TMP/$script.local.trace")
    echo "$script.sh: $n commands, same exit status and output on both paths"
done
