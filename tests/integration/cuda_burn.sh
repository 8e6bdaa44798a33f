# gpuplex-burn on the simulated driver: every allocation API allocates,
# round-trips data and frees; refusal past the GPU's memory; device selection
# by index and UUID (CUDA_VISIBLE_DEVICES); usage errors.
. "$SRC_DIR/tests/integration/lib.sh"
BURN=$BUILD_DIR/bin/gpuplex-burn

"$GPX" sim init --gpus 1xH100-80GB,1xA100-40GB --state "$GPUPLEX_SIM" >/dev/null

for api in alloc pitch managed vmm async; do
    "$BURN" --api "$api" --alloc-mib 300 --chunk-mib 64 --verify --kernels 3 --kernel-ns 1000000 \
        --streams 2 --json >"$api.json" || { cat "$api.json"; fail "--api $api failed"; }
    [ "$(json 'j["allocated_mib"]' "$api.json")" = 300 ] || fail "--api $api allocated $(json 'j["allocated_mib"]' "$api.json")"
    [ "$(json 'j["refused"]' "$api.json")" = 0 ] || fail "--api $api refused"
    [ "$(json 'j["verified"]' "$api.json")" = True ] || fail "--api $api copies"
    [ "$(json 'j["kernels"]' "$api.json")" = 3 ] || fail "--api $api kernels"
    [ "$(json 'j["api"]' "$api.json")" = "$api" ] || fail "--api $api reported"
    [ "$(json 'j["resolved_by"]' "$api.json")" = cuGetProcAddress ] || fail "not resolved by cuGetProcAddress"
    [ "$(json 'j["mem_total_mib"] - j["mem_free_mib"]' "$api.json")" = 300 ] || fail "--api $api: cuMemGetInfo"
    "$GPX" ls --json >ls.json
    [ "$(json 'j[0]["memory_used_mib"]' ls.json)" = 0 ] || fail "--api $api left memory used"
done

# Past the GPU's memory (40960 MiB): the first refused chunk ends allocation, refused=1.
for api in alloc vmm async; do
    "$BURN" --api "$api" --alloc-mib 100000 --chunk-mib 4096 --device 1 --json >big.json
    [ "$(json 'j["refused"]' big.json)" = 1 ] || fail "--api $api: no refusal"
    [ "$(json 'j["allocated_mib"]' big.json)" = 40960 ] || fail "--api $api allocated $(json 'j["allocated_mib"]' big.json) on a 40 GB GPU"
    [ "$(json 'j["device_name"]' big.json)" = "NVIDIA A100-SXM4-40GB" ] || fail "--device 1"
done

# CUDA_VISIBLE_DEVICES by index and by UUID (prefix) reorders the devices.
uuid1=$("$GPX" ls --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[1]["uuid"])')
CUDA_VISIBLE_DEVICES=1 "$BURN" --json >v.json
[ "$(json 'j["device_name"]' v.json)" = "NVIDIA A100-SXM4-40GB" ] || fail "CUDA_VISIBLE_DEVICES=1"
prefix=$(printf '%s' "$uuid1" | cut -c1-12)
CUDA_VISIBLE_DEVICES="$prefix,0" "$BURN" --json >v.json
[ "$(json 'j["device_name"]' v.json)" = "NVIDIA A100-SXM4-40GB" ] || fail "CUDA_VISIBLE_DEVICES=$prefix"
CUDA_VISIBLE_DEVICES="$uuid1,0" "$BURN" --device 1 --json >v.json
[ "$(json 'j["device_name"]' v.json)" = "NVIDIA H100 80GB HBM3" ] || fail "second visible device"
CUDA_VISIBLE_DEVICES="0,7,1" "$BURN" --device 1 --json >v.json && fail "an invalid entry should end the list"
expect_rc 1 env CUDA_VISIBLE_DEVICES= "$BURN"
expect_err 'selects none'

# Usage errors: exit 2 and a message that names the problem.
expect_rc 2 "$BURN" --alloc-mib lots
expect_err "alloc-mib: 'lots'"
expect_rc 2 "$BURN" --api cudaMalloc
expect_err "alloc, pitch, managed, vmm, async"
expect_rc 2 "$BURN" --streams 0
expect_rc 2 "$BURN" --frobnicate
expect_rc 0 "$BURN" --help
grep -q -- '--kernel-ns' "$TEST_TMP/out" || fail "--help"

# No node: cuInit fails with a reason, the burn exits 1.
expect_rc 1 env GPUPLEX_SIM="$TEST_TMP/missing.sim" "$BURN" --json
expect_err 'gpuplex-sim: simulator state'
grep -q CUDA_ERROR_NO_DEVICE "$TEST_TMP/out" || fail "error not in JSON"
