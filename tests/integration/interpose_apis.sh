# Every allocation API of gpuplex-burn is refused past the lease's quota and
# succeeds under it; the refusal is the interposer's (the driver had room);
# cuMemGetInfo shows the quota; the lease is back to 0 used afterwards.
. "$SRC_DIR/tests/integration/interpose_lib.sh"

L=$(lease 256M)
n=0
for api in alloc pitch managed vmm async; do
    # Under the quota: everything asked for, and total = the quota.
    expect_rc 0 "$GPX" run --lease "$L" -- "$BURN" --api $api --alloc-mib 192 --chunk-mib 32 \
        --kernels 4 --kernel-ns 1000 --json
    cp "$TEST_TMP/out" under.json
    expect_json under.json 'j["allocated_mib"]' 192 "$api under the quota"
    expect_json under.json 'j["refused"]' 0 "$api under the quota: refused"
    expect_json under.json 'j["mem_total_mib"]' 256 "$api: cuMemGetInfo total"
    [ ! -s "$TEST_TMP/err" ] || fail "$api: the interposer wrote to stderr: $(cat "$TEST_TMP/err")"

    # Past it: stops exactly at the quota with CUDA_ERROR_OUT_OF_MEMORY.
    expect_rc 0 "$GPX" run --lease "$L" -- "$BURN" --api $api --alloc-mib 1024 --chunk-mib 32 \
        --json
    cp "$TEST_TMP/out" over.json
    expect_json over.json 'j["allocated_mib"]' 256 "$api past the quota"
    expect_json over.json 'j["refused"]' 1 "$api past the quota: refused"
    n=$((n + 1))

    # Without the interposer the simulated GPU has room for all of it.
    expect_rc 0 "$BURN" --api $api --alloc-mib 1024 --chunk-mib 32 --json
    cp "$TEST_TMP/out" bare.json
    expect_json bare.json 'j["allocated_mib"]' 1024 "$api without the interposer"
done

[ "$(ls_used "$L")" = 0 ] || fail "lease still holds $(ls_used "$L") bytes"
[ "$(region "$L" 'j["refused"]')" = "$n" ] || fail "refused counter $(region "$L" 'j["refused"]'), expected $n"
[ "$(region "$L" 'j["peak"]')" = $((256 * MiB)) ] || fail "peak $(region "$L" 'j["peak"]')"
