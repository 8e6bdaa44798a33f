# What the simulated CUDA driver does shows in the simulated NVML (gpuplex ls):
# memory and the process list while a burn holds memory, utilization while it
# runs kernels, and nothing once it exits or is killed with SIGKILL.
. "$SRC_DIR/tests/integration/lib.sh"
BURN=$BUILD_DIR/bin/gpuplex-burn

"$GPX" sim init --gpus 2xH100-80GB --state "$GPUPLEX_SIM" >/dev/null

# wait_for EXPR SECONDS: polls `gpuplex ls --json` until EXPR (over j) is True.
wait_for() {
    i=0
    while [ "$i" -lt "$(($2 * 20))" ]; do
        "$GPX" ls --json >ls.json
        [ "$(json "$1" ls.json)" = True ] && return 0
        sleep 0.05
        i=$((i + 1))
    done
    cat ls.json >&2
    fail "timed out waiting for $1"
}

# Held memory and the process that holds it; then back to zero.
"$BURN" --alloc-mib 1536 --chunk-mib 512 --hold-ms 3000 --device 1 --json >held.json &
pid=$!
wait_for 'j[1]["memory_used_mib"] == 1536' 10
[ "$(json '[(p["pid"], p["used_memory_mib"], p["used_memory_bytes"]) for p in j[1]["processes"]]' ls.json)" = "[($pid, 1536, 1610612736)]" ] ||
    fail "process list: $(json 'j[1]["processes"]' ls.json)"
[ "$(json 'j[0]["memory_used_mib"]' ls.json)" = 0 ] || fail "memory on the wrong GPU"
wait "$pid" || fail "burn failed"
"$GPX" ls --json >ls.json
[ "$(json 'j[1]["memory_used_mib"] == 0 and j[1]["processes"] == []' ls.json)" = True ] ||
    fail "memory or process left after exit"

# Utilization while a long kernel stream runs (2 s of 20 ms kernels).
"$BURN" --kernels 100 --kernel-ns 20000000 --streams 2 --json >k.json &
pid=$!
wait_for 'j[0]["utilization_gpu"] > 50' 10
wait "$pid" || fail "kernel burn failed"

# SIGKILL while holding memory: the memory comes back within 1 s.
"$BURN" --alloc-mib 2048 --chunk-mib 256 --hold-ms 60000 --json >killed.json &
pid=$!
wait_for 'j[0]["memory_used_mib"] == 2048' 10
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
wait_for 'j[0]["memory_used_mib"] == 0 and j[0]["processes"] == []' 1
