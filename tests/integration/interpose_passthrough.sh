# Without GPUPLEX_LEASE the interposer changes nothing (gpuplex-burn's
# results are those of a run without it, for every API). With a lease that
# cannot be used - no such lease, an invalid id, a corrupt region - it fails
# closed: every counted allocation is refused and one error is logged.
# Quiet by default; GPUPLEX_LOG=debug talks on stderr, never on stdout.
. "$SRC_DIR/tests/integration/interpose_lib.sh"

same_results() {
    python3 - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
keys = ["api", "device", "device_name", "allocated_mib", "refused", "mem_total_mib",
        "mem_free_mib", "kernels", "kernel_ns", "streams", "resolved_by", "error"]
diff = [k for k in keys if a.get(k) != b.get(k)]
if diff:
    sys.exit("differ in %s:\n%s\n%s" % (diff, a, b))
PY
}

for api in alloc pitch managed vmm async; do
    args="--api $api --alloc-mib 512 --chunk-mib 64 --kernels 50 --kernel-ns 1000 --streams 2 --json"
    # shellcheck disable=SC2086
    expect_rc 0 "$BURN" $args
    cp "$TEST_TMP/out" bare.json
    # shellcheck disable=SC2086
    expect_rc 0 env LD_PRELOAD="$IP" "$BURN" $args
    cp "$TEST_TMP/out" hooked.json
    [ ! -s "$TEST_TMP/err" ] || fail "$api: stderr without a lease: $(cat "$TEST_TMP/err")"
    same_results bare.json hooked.json || fail "$api: results differ with the interposer"
done
expect_rc 0 env LD_PRELOAD="$IP" "$BURN" --api alloc --alloc-mib 100000 --chunk-mib 8192 --json
expect_json "$TEST_TMP/out" 'j["refused"]' 1 "the driver's own OOM without a lease"

# Fail closed: no such lease, an invalid id, a corrupt region.
mkdir -p "$GPUPLEX_RUN_DIR/leases"
head -c 4096 /dev/urandom >"$GPUPLEX_RUN_DIR/leases/l-corrupt.limits"
head -c 4096 /dev/urandom >"$GPUPLEX_RUN_DIR/leases/l-corrupt.usage"
for bad in l-000000000000 ../etc l-corrupt ""; do
    expect_rc 0 env GPUPLEX_LEASE="$bad" LD_PRELOAD="$IP" "$BURN" --alloc-mib 64 --chunk-mib 16 \
        --json
    expect_json "$TEST_TMP/out" 'j["allocated_mib"]' 0 "fail closed ($bad)"
    expect_json "$TEST_TMP/out" 'j["refused"]' 1 "fail closed ($bad): refused"
    expect_json "$TEST_TMP/out" 'j["mem_free_mib"]' 0 "fail closed ($bad): free"
    [ "$(grep -c 'fail closed' "$TEST_TMP/err")" = 1 ] || {
        cat "$TEST_TMP/err" >&2
        fail "fail closed ($bad): expected one error line"
    }
done

# GPUPLEX_LOG=debug: logs on stderr, stdout still one JSON object.
L=$(lease 64M)
expect_rc 0 env GPUPLEX_LOG=debug "$GPX" run --lease "$L" -- "$BURN" --alloc-mib 128 \
    --chunk-mib 32 --json
expect_json "$TEST_TMP/out" 'j["allocated_mib"]' 64 "with GPUPLEX_LOG=debug"
grep -q "gpuplex-cuda.*refused" "$TEST_TMP/err" || fail "GPUPLEX_LOG=debug logged no refusal"
