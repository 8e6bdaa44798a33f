# gpuplex watch, the watchdog backstop: a process that takes device memory
# past its lease's quota through the driver directly (no interposer) is
# reported by --once, and killed with --enforce kill; so is a process in no
# lease, on a GPU with leases or on one without. Processes within their quota
# are left alone. The loop ends with status 0 on SIGTERM/SIGINT. (Other
# users, exclusive leases and the per-lease bound: watch_fence.sh.)
. "$SRC_DIR/tests/integration/lib.sh"

HOG="$BUILD_DIR/tests/gpx-test-hog"
"$GPX" sim init --gpus 2xH100-80GB --state "$GPUPLEX_SIM" >/dev/null
"$GPX" ls --json >ls.json
uuid0=$(json 'j[0]["uuid"]' ls.json)

PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null || :; done
}
trap cleanup EXIT

# hog NAME ARGS...: starts gpx-test-hog in the background, waits until it holds its memory.
hog() {
    name=$1
    shift
    "$HOG" "$@" >"$name.out" 2>"$name.err" &
    eval "$name=$!"
    PIDS="$PIDS $!"
    i=0
    while ! grep -q ready "$name.out" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 200 ] || {
            cat "$name.err" >&2
            fail "hog $name did not start"
        }
        sleep 0.05
    done
}

alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

over=$("$GPX" lease create --gpu 0 --memory 1G 2>/dev/null)
fits=$("$GPX" lease create --gpu 0 --memory 2G 2>/dev/null)

# Nothing running: nothing to say.
expect_rc 0 "$GPX" watch --allowance 0 --once
[ ! -s "$TEST_TMP/out" ] || fail "idle node reported: $(cat "$TEST_TMP/out")"

hog big --gpu 0 --mib 1536 --lease "$over"  # 1.5 GiB in a 1 GiB lease
hog small --gpu 0 --mib 1024 --lease "$fits" # 1 GiB in a 2 GiB lease
hog stray --gpu 0 --mib 256                  # in no lease, on a GPU with vgpu leases
hog other --gpu 1 --mib 512                  # in no lease, on a GPU without leases

expect_rc 0 "$GPX" watch --allowance 0 --once --json
cp "$TEST_TMP/out" report.jsonl
[ "$(wc -l <report.jsonl)" = 3 ] || fail "expected 3 violations: $(cat report.jsonl)"
q() { python3 -c 'import json,sys; v=[json.loads(l) for l in open(sys.argv[2])]; print(eval(sys.argv[1]))' "$1" "$2"; }
[ "$(q '[x for x in v if x["kind"]=="over_quota"][0]["lease"]' report.jsonl)" = "$over" ] ||
    fail "over-quota lease"
[ "$(q '[x for x in v if x["kind"]=="over_quota"][0]["pids"]' report.jsonl)" = "[$big]" ] ||
    fail "over-quota pids"
[ "$(q '[x for x in v if x["kind"]=="over_quota"][0]["quota_bytes"]' report.jsonl)" = 1073741824 ] ||
    fail "quota_bytes"
[ "$(q '[x for x in v if x["kind"]=="over_quota"][0]["used_bytes"]' report.jsonl)" = 1610612736 ] ||
    fail "used_bytes"
[ "$(q '[x for x in v if x["kind"]=="over_quota"][0]["gpu"]["index"]' report.jsonl)" = 0 ] || fail "gpu"
[ "$(q '[x for x in v if x["kind"]=="over_quota"][0]["gpu_uuid"]' report.jsonl)" = "$uuid0" ] ||
    fail "gpu_uuid"
[ "$(q '[x for x in v if x["kind"]=="unleased" and x["gpu_index"]==0][0]["pids"]' report.jsonl)" = "[$stray]" ] ||
    fail "unleased pids"
[ "$(q '[x for x in v if x["kind"]=="unleased" and x["gpu_index"]==1][0]["pids"]' report.jsonl)" = "[$other]" ] ||
    fail "a process on a GPU without leases is unleased too"
[ "$(q '[x for x in v if x["kind"]=="unleased"][0]["lease"]' report.jsonl)" = None ] ||
    fail "unleased lease is null"
[ "$(q 'set(x["action"] for x in v)' report.jsonl)" = "{'reported'}" ] || fail "action"
alive "$big" && alive "$stray" && alive "$other" || fail "report mode killed something"

# The default allowance (512 MiB per process, for the context memory a real
# driver charges) lets 1.5 GiB in a 1 GiB lease pass; the stray is still unleased.
expect_rc 0 "$GPX" watch --once --json
[ "$(grep -c over_quota "$TEST_TMP/out")" = 0 ] || fail "allowance not applied: $(cat "$TEST_TMP/out")"
[ "$(grep -c unleased "$TEST_TMP/out")" = 2 ] || fail "allowance hid the stray"
expect_rc 2 "$GPX" watch --once --allowance lots

# A damaged usage region (a tenant can write it) blinds nothing: the lease's
# processes are then in no readable lease, and reported as unleased.
cp "$GPUPLEX_RUN_DIR/leases/$fits.usage" fits.usage.bak
printf 'garbage!' | dd of="$GPUPLEX_RUN_DIR/leases/$fits.usage" bs=1 seek=0 conv=notrunc 2>/dev/null
expect_rc 0 "$GPX" watch --allowance 0 --once --json
grep -q "\"pids\":\[$small\]" "$TEST_TMP/out" || fail "damaged lease's process not reported: $(cat "$TEST_TMP/out")"
cp fits.usage.bak "$GPUPLEX_RUN_DIR/leases/$fits.usage"

# The text form: one line per violation.
expect_rc 0 "$GPX" watch --allowance 0 --once
grep -Eq "^over_quota lease $over gpu 0 used 1\.5 GiB > quota 1\.0 GiB pids $big: reported$" \
    "$TEST_TMP/out" || fail "text line: $(cat "$TEST_TMP/out")"
grep -Eq "^unleased gpu 0 pid $stray used 256\.0 MiB: reported$" "$TEST_TMP/out" ||
    fail "text line (unleased): $(cat "$TEST_TMP/out")"
grep -Eq "^unleased gpu 1 pid $other used 512\.0 MiB: reported$" "$TEST_TMP/out" ||
    fail "text line (unleased, GPU without leases): $(cat "$TEST_TMP/out")"

# Enforcement: the offenders die, the others live.
expect_rc 0 "$GPX" watch --allowance 0 --once --enforce kill --json
[ "$(q 'sorted(x["action"] for x in v)' "$TEST_TMP/out")" = "['killed', 'killed', 'killed']" ] ||
    fail "kill actions: $(cat "$TEST_TMP/out")"
for p in $big $stray $other; do
    i=0
    while alive "$p" && [ $i -lt 100 ]; do
        sleep 0.02
        i=$((i + 1))
    done
    ! alive "$p" || fail "pid $p survived --enforce kill"
done
alive "$small" || fail "a process within its quota was killed"
wait "$big" 2>/dev/null || :
wait "$stray" 2>/dev/null || :
wait "$other" 2>/dev/null || :

# Next pass: quiet; the dead process's slot is reaped.
expect_rc 0 "$GPX" watch --allowance 0 --once
[ ! -s "$TEST_TMP/out" ] || fail "still reported after the kill: $(cat "$TEST_TMP/out")"
expect_rc 0 "$GPX" lease ls --json
[ "$(json '{l["id"]: len(l["processes"]) for l in j}["'"$over"'"]' "$TEST_TMP/out")" = 0 ] ||
    fail "dead slot not reaped"

# The loop: reports as processes come, ends with status 0 on SIGTERM and SIGINT.
for sig in TERM INT; do
    env --default-signal=INT "$GPX" watch --allowance 0 --interval-ms 50 --json >loop.jsonl 2>loop.err &
    w=$!
    PIDS="$PIDS $w"
    sleep 0.2
    hog late --gpu 0 --mib 2048 --lease "$over"
    i=0
    while ! grep -q "\"pids\":\[$late\]" loop.jsonl && [ $i -lt 100 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    grep -q "\"lease\":\"$over\"" loop.jsonl || fail "the loop did not report the late process"
    alive "$late" || fail "the loop killed without --enforce kill"
    kill -"$sig" "$w"
    set +e
    wait "$w"
    rc=$?
    set -e
    [ "$rc" = 0 ] || fail "watch exited $rc on SIG$sig: $(cat loop.err)"
    kill -9 "$late"
    wait "$late" 2>/dev/null || :
done

# Bad options.
expect_rc 2 "$GPX" watch --interval-ms 0
expect_rc 2 "$GPX" watch --interval-ms abc
expect_rc 2 "$GPX" watch --enforce maybe
expect_err "report' or 'kill'"
expect_rc 2 "$GPX" watch extra
expect_rc 0 "$GPX" help watch
grep -q "unleased" "$TEST_TMP/out" || fail "help watch"

# With the simulated driver and gpuplex-burn built: a real driver-API client
# that allocates with no interposer is caught the same way.
BURN="$BUILD_DIR/bin/gpuplex-burn"
if [ -x "$BURN" ] && [ -e "$BUILD_DIR/lib/sim/libcuda.so.1" ]; then
    env -u LD_PRELOAD -u GPUPLEX_LEASE LD_LIBRARY_PATH="$BUILD_DIR/lib/sim" \
        CUDA_VISIBLE_DEVICES="$uuid0" "$BURN" --alloc-mib 1024 --chunk-mib 256 --api alloc \
        --kernels 100000 --kernel-ns 1000000 --streams 1 --json >burn.out 2>burn.err &
    b=$!
    PIDS="$PIDS $b"
    i=0
    while alive "$b" && [ $i -lt 200 ]; do
        "$GPX" watch --allowance 0 --once --json >burn.jsonl
        grep -q "\"pids\":\[$b\]" burn.jsonl && break
        sleep 0.05
        i=$((i + 1))
    done
    alive "$b" || fail "gpuplex-burn ended early: $(cat burn.err)"
    grep -q "\"kind\":\"unleased\".*\"pids\":\[$b\]" burn.jsonl || fail "burn not reported"
    "$GPX" watch --allowance 0 --once --enforce kill >/dev/null
    i=0
    while alive "$b" && [ $i -lt 100 ]; do
        sleep 0.02
        i=$((i + 1))
    done
    ! alive "$b" || fail "gpuplex-burn survived --enforce kill"
    wait "$b" 2>/dev/null || :

    # The same workload under `gpuplex run` (interposer): held to its quota, holding its slot,
    # so the watchdog has nothing to say.
    if [ -e "$BUILD_DIR/lib/libgpuplex-cuda.so" ]; then
        "$GPX" run --lease "$over" -- "$BURN" --alloc-mib 2048 --chunk-mib 256 --api alloc \
            --hold-ms 5000 --json >held.out 2>held.err &
        h=$!
        PIDS="$PIDS $h"
        i=0
        while [ $i -lt 200 ]; do
            "$GPX" lease ls --json >held.json
            [ "$(json '{l["id"]: l["used_bytes"] for l in j}["'"$over"'"]' held.json)" = 1073741824 ] &&
                break
            sleep 0.05
            i=$((i + 1))
        done
        [ $i -lt 200 ] || fail "burn under the interposer did not reach its quota: $(cat held.err)"
        expect_rc 0 "$GPX" watch --allowance 0 --once --enforce kill
        [ ! -s "$TEST_TMP/out" ] || fail "a workload held to its quota was reported: $(cat "$TEST_TMP/out")"
        kill "$h"
        wait "$h" 2>/dev/null || :
    fi
else
    echo "note: gpuplex-burn or the simulated libcuda not built; used gpx-test-hog only" >&2
fi
