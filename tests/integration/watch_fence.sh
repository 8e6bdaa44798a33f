# gpuplex watch on every GPU, whatever its leases' modes, with a real second
# user (issue 10, findings 4 and 6). Processes that bypass the interposer:
# - on an idle GPU (no lease): unleased;
# - on a GPU held by an exclusive lease: the lease's uid's are counted by it,
#   another user's is unleased;
# - 8 processes of a 1 GiB lease, each within the per-process allowance
#   (640 MiB each: 5 GiB = 1 GiB + 8 x 512 MiB) but past the per-lease bound
#   (1 GiB + min(8 x 512 MiB, --lease-allowance 1G)): over quota, all killed.
# --enforce kill kills exactly those. (gpuplexd's own watchdog, planted pids:
# daemon_watchdog_fence.sh.)
. "$SRC_DIR/tests/integration/lib.sh"

HOG="$BUILD_DIR/tests/gpx-test-hog"
intruder_user=$(gpx_user w)
"$GPX" sim init --gpus 3xH100-80GB --state "$GPUPLEX_SIM" >/dev/null
chmod 0666 "$GPUPLEX_SIM" # the other user's hog takes simulated device memory too

PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null || :; done
}
trap cleanup EXIT

# hog NAME [--as USER] ARGS...: starts gpx-test-hog in the background (as USER), waits until
# it holds its memory; sets $NAME to the hog's pid (not runuser's).
hog() {
    name=$1
    shift
    if [ "$1" = --as ]; then
        who=$2
        shift 2
        as_user "$who" "$HOG" "$@" >"$name.out" 2>"$name.err" &
    else
        "$HOG" "$@" >"$name.out" 2>"$name.err" &
    fi
    PIDS="$PIDS $!"
    i=0
    while ! grep -q '^ready ' "$name.out" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 200 ] || {
            cat "$name.err" >&2
            fail "hog $name did not start"
        }
        sleep 0.05
    done
    pid=$(sed -n 's/^ready //p' "$name.out")
    eval "$name=$pid"
    PIDS="$PIDS $pid"
}

alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
q() { python3 -c 'import json,sys; v=[json.loads(l) for l in open(sys.argv[2])]; print(eval(sys.argv[1]))' "$1" "$2"; }

shared=$("$GPX" lease create --mode vgpu --gpu 0 --memory 1G 2>/dev/null)
"$GPX" lease create --mode exclusive --gpu 1 >/dev/null 2>&1 || fail "exclusive lease on GPU 1"

hog idle --gpu 2 --mib 256                               # no lease on GPU 2
hog own --gpu 1 --mib 4096                               # the exclusive lease's uid (root)
hog intruder --as "$intruder_user" --gpu 1 --mib 2048    # another user, no slot on GPU 1
for n in 1 2 3 4 5 6 7 8; do hog "p$n" --gpu 0 --mib 640 --lease "$shared"; done

expect_rc 0 "$GPX" watch --once --json
cp "$TEST_TMP/out" report.jsonl
[ "$(wc -l <report.jsonl)" = 3 ] || fail "expected 3 violations: $(cat report.jsonl)"
[ "$(q '[x["pids"] for x in v if x["kind"]=="unleased" and x["gpu_index"]==2]' report.jsonl)" = "[[$idle]]" ] ||
    fail "a process on an idle GPU is unleased: $(cat report.jsonl)"
[ "$(q '[x["pids"] for x in v if x["kind"]=="unleased" and x["gpu_index"]==1]' report.jsonl)" = "[[$intruder]]" ] ||
    fail "another user's process on an exclusively leased GPU is unleased: $(cat report.jsonl)"
[ "$(q '[x["lease"] for x in v if x["kind"]=="over_quota"]' report.jsonl)" = "['$shared']" ] ||
    fail "8 processes past the per-lease bound: $(cat report.jsonl)"
[ "$(q '[sorted(x["pids"]) for x in v if x["kind"]=="over_quota"][0]' report.jsonl)" = \
    "$(python3 -c 'import sys; print(sorted(int(a) for a in sys.argv[1:]))' $p1 $p2 $p3 $p4 $p5 $p6 $p7 $p8)" ] ||
    fail "over-quota pids: $(cat report.jsonl)"
[ "$(q '[x["used_bytes"] for x in v if x["kind"]=="over_quota"][0]' report.jsonl)" = $((5 << 30)) ] ||
    fail "over-quota used_bytes"

# The per-lease bound is what reports them: with it out of the way only the per-process
# allowance applies (1 GiB + 8 x 512 MiB = 5 GiB), and the lease passes.
expect_rc 0 "$GPX" watch --once --json --lease-allowance 64G
[ "$(grep -c over_quota "$TEST_TMP/out")" = 0 ] || fail "lease-allowance: $(cat "$TEST_TMP/out")"
[ "$(grep -c unleased "$TEST_TMP/out")" = 2 ] || fail "lease-allowance hid an unleased process"
expect_rc 0 "$GPX" watch --once
grep -Eq "^over_quota lease $shared gpu 0 used 5\.0 GiB > quota 1\.0 GiB pids [0-9,]+: reported$" \
    "$TEST_TMP/out" || fail "text line: $(cat "$TEST_TMP/out")"
grep -Eq "^unleased gpu 1 pid $intruder used 2\.0 GiB: reported$" "$TEST_TMP/out" ||
    fail "text line (intruder): $(cat "$TEST_TMP/out")"
alive "$intruder" && alive "$idle" && alive "$p1" || fail "report mode killed something"

# Enforcement: the unleased processes and every process of the over-quota lease die; the
# exclusive lease's own workload lives.
expect_rc 0 "$GPX" watch --once --enforce kill --json
[ "$(q 'sorted(x["action"] for x in v)' "$TEST_TMP/out")" = "['killed', 'killed', 'killed']" ] ||
    fail "kill actions: $(cat "$TEST_TMP/out")"
for p in $idle $intruder $p1 $p2 $p3 $p4 $p5 $p6 $p7 $p8; do
    i=0
    while alive "$p" && [ $i -lt 100 ]; do
        sleep 0.02
        i=$((i + 1))
    done
    ! alive "$p" || fail "pid $p survived --enforce kill"
done
alive "$own" || fail "the exclusive lease's own workload was killed"

# Next pass: quiet.
expect_rc 0 "$GPX" watch --once
[ ! -s "$TEST_TMP/out" ] || fail "still reported after the kill: $(cat "$TEST_TMP/out")"

expect_rc 2 "$GPX" watch --once --lease-allowance lots
expect_err "lease-allowance"
