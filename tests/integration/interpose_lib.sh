# Sourced by the interpose_*.sh tests: a simulated node, the interposer, the
# workloads, and helpers to read a lease's figures.
# shellcheck shell=sh
. "$SRC_DIR/tests/integration/lib.sh"

IP="$BUILD_DIR/lib/libgpuplex-cuda.so"
BURN="$BUILD_DIR/bin/gpuplex-burn"
CHECK="$BUILD_DIR/tests/gpx-ipcheck"
MiB=1048576
[ -f "$IP" ] || fail "no interposer at $IP"

"$GPX" sim init --gpus 2xH100-80GB --state "$GPUPLEX_SIM" >/dev/null
# The simulated libcuda.so.1 / libnvidia-ml.so.1 for programs started directly.
export LD_LIBRARY_PATH="$BUILD_DIR/lib/sim${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
unset GPUPLEX_LEASE GPUPLEX_LOG LD_PRELOAD

# lease SIZE [GPU]: creates a vgpu lease, prints its id.
lease() {
    "$GPX" lease create --gpu "${2:-0}" --memory "$1" 2>/dev/null
}

# region ID EXPR: a figure of lease ID's region, read without reaping
# (j: {quota, used, peak, refused}).
region() {
    GPUPLEX_LEASE="$1" "$CHECK" region >"$TEST_TMP/region.json"
    json "$2" "$TEST_TMP/region.json"
}

# ls_used ID: the lease's used bytes as `gpuplex lease ls` reports them (reaps first).
ls_used() {
    "$GPX" lease ls --json >"$TEST_TMP/ls.json"
    python3 -c 'import json,sys; print([l["used_bytes"] for l in json.load(open(sys.argv[1])) if l["id"] == sys.argv[2]][0])' \
        "$TEST_TMP/ls.json" "$1"
}

# wait_used ID BYTES: waits (10 s at most) until the lease holds at least BYTES.
wait_used() {
    i=0
    while [ "$(region "$1" 'j["used"]')" -lt "$2" ]; do
        i=$((i + 1))
        [ $i -lt 200 ] || fail "lease $1 never reached $2 bytes used"
        sleep 0.05
    done
}

# lease_holder FILE ID: the pid of lease ID's one process in FILE (`gpuplex lease ls --json`).
lease_holder() {
    python3 -c 'import json,sys; print([p["pid"] for l in json.load(open(sys.argv[1])) if l["id"] == sys.argv[2] for p in l["processes"]][0])' "$1" "$2"
}

# expect_json FILE EXPR VALUE [WHAT]: the expression over FILE's JSON equals VALUE.
expect_json() {
    got=$(json "$2" "$1")
    [ "$got" = "$3" ] || {
        cat "$1" >&2
        fail "${4:-$2}: got $got, expected $3"
    }
}
