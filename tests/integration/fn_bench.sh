# bench/functions/run in a tiny configuration (0.3 s per row, 1 cold start), so that the bench
# cannot rot: it runs end to end on the simulator, answers only 2xx, and its --json carries the
# figures RESULTS.md quotes (routing_overhead_us_p50, scale_4_ratio, cold_start_ms,
# relay_overhead_us_p50: the bare relay's row ran; the no-polling row and the CPU per call).
# No goal
# is checked here: a loaded CI machine says nothing about them.
. "$SRC_DIR/tests/integration/lib.sh"
command -v cc >/dev/null || fail "bench/functions needs a C compiler (cc)"
set +e
BUILD=$BUILD_DIR GPX_BENCH_SECONDS=0.3 GPX_BENCH_COLD=1 timeout 200 \
    "$SRC_DIR/bench/functions/run" --json >"$TEST_TMP/bench.json" 2>"$TEST_TMP/bench.err"
rc=$?
set -e
[ "$rc" = 0 ] || { cat "$TEST_TMP/bench.err" >&2; fail "bench/functions/run exited $rc"; }
j=$TEST_TMP/bench.json
[ "$(json 'j["errors"]' "$j")" = 0 ] || fail "non-2xx answers: $(cat "$j")"
[ "$(json 'all(k in j for k in ("routing_overhead_us_p50", "scale_4_ratio", "cold_start_ms",
    "relay_overhead_us_p50", "routing_overhead_us_p50_no_polling", "routing_cpu_us_per_call",
    "routing_cpu_us_per_call_no_polling", "host_wakeup_rtt_us", "host_wakeup_rtt_one_cpu_us"))' "$j")" = True ] ||
    fail "keys missing: $(cat "$j")"
[ "$(json '(j["cold_start_ms"] > 0 and j["scale_4_ratio"] > 0 and j["cold_starts"] == 1 and
    j["routing_cpu_us_per_call"] > 0 and j["routing_cpu_us_per_call_no_polling"] > 0)' "$j")" = True ] ||
    fail "figures: $(cat "$j")"
[ "$(json 'all(r["requests"] > 0 for r in j["rows"].values())' "$j")" = True ] ||
    fail "a row without requests: $(cat "$j")"
echo ok
