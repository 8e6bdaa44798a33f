# One quota across the processes of a lease: two processes share it; 2
# processes x 8 threads racing to the edge never pass it; kill -9 of a
# process returns its memory to the next caller at once.
. "$SRC_DIR/tests/integration/interpose_lib.sh"

L=$(lease 256M)

# Two processes: the second gets what the first left.
"$GPX" run --lease "$L" -- "$BURN" --alloc-mib 192 --chunk-mib 32 --hold-ms 4000 --json \
    >first.json 2>first.err &
first=$!
wait_used "$L" $((192 * MiB))
expect_rc 0 "$GPX" run --lease "$L" -- "$BURN" --alloc-mib 192 --chunk-mib 32 --json
expect_json "$TEST_TMP/out" 'j["allocated_mib"]' 64 "second process"
expect_json "$TEST_TMP/out" 'j["refused"]' 1 "second process: refused"
wait "$first" || fail "first process: $(cat first.err)"
expect_json first.json 'j["allocated_mib"]' 192 "first process"
[ "$(ls_used "$L")" = 0 ] || fail "lease holds $(ls_used "$L") after both exited"

# 2 processes x 8 threads, 7 MiB chunks, racing for 256 MiB: 36 chunks fit, never 37.
"$GPX" run --lease "$L" -- "$CHECK" race 8 7 4000 >r1.json 2>r1.err &
p1=$!
"$GPX" run --lease "$L" -- "$CHECK" race 8 7 4000 >r2.json 2>r2.err &
p2=$!
wait "$p1" || fail "racer 1: $(cat r1.err)"
wait "$p2" || fail "racer 2: $(cat r2.err)"
got=$(($(json 'j["got"]' r1.json) + $(json 'j["got"]' r2.json)))
[ "$got" = $((36 * 7 * MiB)) ] || fail "racers got $got bytes together, expected $((36 * 7 * MiB))"
[ "$(region "$L" 'j["peak"]')" -le $((256 * MiB)) ] || fail "peak $(region "$L" 'j["peak"]') over the quota"

# kill -9 of a holder: its 192 MiB go to the next caller.
"$GPX" run --lease "$L" -- "$BURN" --alloc-mib 192 --chunk-mib 32 --hold-ms 60000 --json \
    >/dev/null 2>&1 &
runner=$!
wait_used "$L" $((192 * MiB))
"$GPX" lease ls --json >ls.json
victim=$(python3 -c 'import json,sys; print([p["pid"] for l in json.load(open(sys.argv[1])) if l["id"] == sys.argv[2] for p in l["processes"]][0])' ls.json "$L")
kill -9 "$victim"
wait "$runner" || true
[ "$(region "$L" 'j["used"]')" = $((192 * MiB)) ] || fail "the dead process's bytes were returned before anyone asked"
expect_rc 0 "$GPX" run --lease "$L" -- "$BURN" --alloc-mib 192 --chunk-mib 32 --json
expect_json "$TEST_TMP/out" 'j["allocated_mib"]' 192 "the next caller after kill -9"
[ "$(ls_used "$L")" = 0 ] || fail "lease holds $(ls_used "$L") after kill -9"

# And without a caller: within a second, the reaper (here `lease ls`) returns them.
"$GPX" run --lease "$L" -- "$BURN" --alloc-mib 128 --chunk-mib 32 --hold-ms 60000 --json \
    >/dev/null 2>&1 &
runner=$!
wait_used "$L" $((128 * MiB))
"$GPX" lease ls --json >ls.json
victim=$(python3 -c 'import json,sys; print([p["pid"] for l in json.load(open(sys.argv[1])) if l["id"] == sys.argv[2] for p in l["processes"]][0])' ls.json "$L")
kill -9 "$victim"
wait "$runner" || true
[ "$(ls_used "$L")" = 0 ] || fail "lease ls did not reap the killed process"
