# 8 processes run gpuplex ls --json at once on one node: every one sees it whole.
. "$SRC_DIR/tests/integration/lib.sh"

"$GPX" sim init --gpus 2xH100-80GB --state "$GPUPLEX_SIM" >/dev/null
for round in 1 2 3; do
    pids=""
    for i in 1 2 3 4 5 6 7 8; do
        "$GPX" ls --json >"out.$i.json" 2>"err.$i" &
        pids="$pids $!"
    done
    for p in $pids; do
        wait "$p" || fail "a concurrent ls failed (round $round)"
    done
    for i in 1 2 3 4 5 6 7 8; do
        [ "$(json 'len(j)' "out.$i.json")" = 2 ] || fail "process $i saw $(json 'len(j)' "out.$i.json") GPUs"
        cmp -s "out.1.json" "out.$i.json" || fail "process $i saw a different node"
    done
done
