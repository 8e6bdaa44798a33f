# Time-slicing through the whole chain (gpuplex run -> interposer -> simulated
# libcuda): weighted shares, caps, aggregate throughput, p99 wait and crash
# resume, with tolerant bounds (bench/timeslice/run holds the tight ones).
. "$SRC_DIR/tests/integration/lib.sh"

"$SRC_DIR/bench/timeslice/run" --build "$BUILD_DIR" --runs 1 --seconds 2 --json >ts.json
cat ts.json
check() {
    [ "$(json "$1" ts.json)" = True ] || fail "$1 ($(cat ts.json))"
}
check 'abs(j["share_1_1"][0] - 0.5) < 0.06'
check 'abs(j["share_1_3"][0] - 0.25) < 0.06'
check 'all(abs(s - 0.25) < 0.06 for s in j["share_4way"])'
check 'j["jain_4way"] > 0.98'
check 'j["aggregate_ratio_2"] > 0.90 and j["aggregate_ratio_4"] > 0.90'
check 'abs(j["cap30_share"] - 0.30) < 0.06'
check 'j["p99_wait_ms"] < 80'
check 'j["crash_resume_ms"] < 100'

# Without an arbiter entry (a vgpu lease with no cap), the interposer adds no
# waiting and creates no arbiter.
"$GPX" sim init --gpus 1xH100-80GB --state "$GPUPLEX_SIM" >/dev/null
id=$("$GPX" lease create --gpu 0 --memory 1G 2>/dev/null)
"$GPX" run --lease "$id" -- "$BUILD_DIR/bin/gpuplex-burn" --kernels 200 --kernel-ns 100000 --json >plain.json
[ ! -e "$GPUPLEX_RUN_DIR/arbiter" ] || [ -z "$(ls "$GPUPLEX_RUN_DIR/arbiter")" ] ||
    fail "an uncapped vgpu lease created an arbiter"
[ "$(json 'j["kernels"] == 200 and j["kernel_s"] < 0.05' plain.json)" = True ] ||
    fail "uncapped lease was slowed: $(cat plain.json)"
"$GPX" timeslice ls >ls.txt
grep -q "no time-sliced GPU" ls.txt || fail "timeslice ls: $(cat ls.txt)"

# timeslice set/ls round trip and bad input
"$GPX" timeslice set --gpu 0 --quantum-ms 4 >/dev/null
"$GPX" timeslice ls --json >arb.json
[ "$(json 'j[0]["quantum_ms"]' arb.json)" = 4.0 ] || fail "quantum not set"
expect_rc 2 "$GPX" timeslice set --gpu 0 --quantum-ms 0
expect_rc 5 "$GPX" timeslice set --gpu 9 --quantum-ms 5
expect_rc 2 "$GPX" timeslice set --gpu 0
