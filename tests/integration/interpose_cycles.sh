# 10 000 mixed allocation/free operations over every counted path end with
# the lease at zero used, never above the quota on the way.
. "$SRC_DIR/tests/integration/interpose_lib.sh"

L=$(lease 64M)
expect_rc 0 "$GPX" run --lease "$L" -- "$CHECK" cycles 10000
cat "$TEST_TMP/out"
[ "$(region "$L" 'j["used"]')" = 0 ] || fail "region used $(region "$L" 'j["used"]')"
[ "$(ls_used "$L")" = 0 ] || fail "lease ls used $(ls_used "$L")"
[ "$(region "$L" 'j["peak"]')" -le $((64 * MiB)) ] || fail "peak over the quota"
