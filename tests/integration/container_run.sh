# Lifecycle of leases made for containers (docs/containers.md, "Lifecycle"), with real podman
# on the simulator, without gpuplexd: `gpuplex run --container` (create → podman run →
# release, the container's exit status), the CDI hooks (createRuntime records the container,
# poststop releases the lease after its last container), `podman kill`, two containers on one
# lease, and the reconciler releasing a lease whose poststop hook never ran.
. "$SRC_DIR/tests/integration/lib.sh"
. "$SRC_DIR/tests/integration/podman_lib.sh"
B=$BUILD_DIR/bin
export GPUPLEX_SERVER=none
podman_setup
podman_image localhost/gpx-run-test
podman_sim_node 2xH100-80GB
podman_wrapper "$TEST_TMP/podman"
IMG=localhost/gpx-run-test
# the sanitized build's interposer inside needs ASan's settings (lib.sh)
ENVA=${ASAN_OPTIONS:+--env ASAN_OPTIONS}
SPEC=$POD_CDI/gpuplex.json
# run_ctr ARGS...: gpuplex run --container with this test's podman
run_ctr() {
    timeout 120 $B/gpuplex run --podman "$TEST_TMP/podman" "$@"
}
# active: the number of active leases
active() {
    $B/gpuplex lease ls --json >act.json
    json 'len(j)' act.json
}
# reason ID: why lease ID was released ("" while active)
reason() {
    $B/gpuplex lease ls --state released --json >rel.json
    json "([l.get('release_reason') or '' for l in j if l['id']=='$1'] + [''])[0]" rel.json
}
# container_lease: a lease made for containers, its device written to the spec
container_lease() {
    c_id=$($B/gpuplex lease create --mode vgpu --memory 1G --gpu 0 --for-container 2>/dev/null)
    $B/gpuplex cdi generate --output "$SPEC"
    echo "$c_id"
}
runc_() { pod run --rm --pull never --network none "$@"; }

# --- gpuplex run --container: the quota inside, the exit status, the lease released ------------
t0=$(date +%s)
run_ctr --mode vgpu --memory 1G --container $IMG --network none $ENVA -- \
    gpuplex-burn --json --alloc-mib 512 >in.json || fail "gpuplex run --container: $(cat in.json)"
echo "gpuplex run --container (create, podman run, release) took $(($(date +%s) - t0)) s"
[ "$(json 'j["mem_total_mib"]' in.json)" = 1024 ] || fail "cuMemGetInfo inside: $(cat in.json)"
[ "$(json 'j["allocated_mib"]' in.json)" = 512 ] || fail "allocation inside: $(cat in.json)"
run_ctr --mode vgpu --memory 1G --container $IMG --network none $ENVA -- \
    gpuplex-burn --json --alloc-mib 2048 >over.json || fail "burn past the quota: $(cat over.json)"
[ "$(json 'j["refused"] > 0 and j["allocated_mib"] <= 1024' over.json)" = True ] ||
    fail "an allocation past 1 GiB was not refused inside: $(cat over.json)"
[ "$(active)" = 0 ] || fail "a lease of gpuplex run --container is still active: $(cat act.json)"
# released by the poststop hook, before gpuplex run got to it
$B/gpuplex lease ls --state released --json >rel.json
[ "$(json 'len(j) == 2 and all(l["release_reason"] != "containers exited" for l in j)' rel.json)" = True ] ||
    fail "released leases: $(cat rel.json)"
# its device left the spec again
! grep -q '"lease-' "$SPEC" || fail "a released lease's device is still in the spec"
# the container's exit status, podman's own
expect_rc 3 run_ctr --mode vgpu --memory 1G --container $IMG --network none $ENVA -- sh -c 'exit 3'
expect_rc 127 run_ctr --mode vgpu --memory 1G --container $IMG --network none $ENVA -- no-such-program
expect_rc 125 run_ctr --mode vgpu --memory 1G --container localhost/no-such-image --pull never -- true
[ "$(active)" = 0 ] || fail "leases left after failed runs: $(cat act.json)"
# SIGTERM to gpuplex run goes to podman, which passes it to the container (its sh traps it)
$B/gpuplex run --podman "$TEST_TMP/podman" --mode vgpu --memory 1G --container $IMG --network none $ENVA \
    -- sh -c 'trap "exit 42" TERM; sleep 30 & wait' >term.out 2>&1 &
runner=$!
i=0
until ls "$GPUPLEX_RUN_DIR"/containers/*/* >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 300 ] || { kill $runner; fail "the container of the SIGTERM case never started"; }
    sleep 0.1
done
sleep 0.5 # its sh has set the trap
kill -TERM $runner
set +e
wait $runner
rc=$?
set -e
[ $rc = 42 ] || { cat term.out; fail "gpuplex run --container after SIGTERM exited $rc, not the container's 42"; }
[ "$(active)" = 0 ] || { cat term.out; pod ps -a; fail "the lease is left after SIGTERM: $(cat act.json)"; }
expect_rc 2 $B/gpuplex run --podman x --mode vgpu --memory 1G -- true
expect_err "--podman is for --container IMAGE"
expect_rc 127 $B/gpuplex run --podman "$TEST_TMP/nonexistent" --mode vgpu --memory 1G --container $IMG -- true
expect_err "GPUPLEX_PODMAN"
[ "$(active)" = 0 ] || fail "a lease left after podman was not found"

# --- the hooks: a lease made by hand for containers, released by its container's poststop -----
lid=$(container_lease)
python3 - "$SPEC" "$lid" <<'EOF' || fail "the hooks of a lease made for containers"
import json, sys
s = json.load(open(sys.argv[1]))
d = [d for d in s["devices"] if d["name"] == "lease-" + sys.argv[2]][0]["containerEdits"]
h = {x["hookName"]: x for x in d["hooks"]}
assert sorted(h) == ["createRuntime", "poststop"], h
assert h["poststop"]["args"][1:] == ["cdi-hook", "poststop", "--lease", sys.argv[2]], h
assert any(e.startswith("GPUPLEX_STATE_DIR=") for e in h["poststop"]["env"]), h
EOF
# a lease not made for containers has no hooks (an operator's lease outlives its containers)
plain=$($B/gpuplex lease create --mode vgpu --memory 1G --gpu 1 2>/dev/null)
$B/gpuplex cdi generate --output "$SPEC"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); d=[d for d in s["devices"] if d["name"]=="lease-"+sys.argv[2]][0]; assert "hooks" not in d["containerEdits"], d' \
    "$SPEC" "$plain" || fail "a plain lease got hooks"
runc_ --device "gpuplex.dev/gpu=lease-$plain" $IMG true || fail "a container on a plain lease"
[ "$(reason "$plain")" = "" ] || fail "a plain lease was released when its container stopped"
runc_ --device "gpuplex.dev/gpu=lease-$lid" $IMG sh -c 'exit 0' || fail "a container on lease $lid"
r=$(reason "$lid")
[ -n "$r" ] && [ "$r" != "containers exited" ] || fail "lease $lid after its container: '$r' (want the hook's release)"
[ ! -e "$GPUPLEX_RUN_DIR/containers/$lid" ] || fail "the container records of $lid are left"
expect_rc 0 $B/gpuplex lease rm "$plain"

# --- podman kill: the poststop hook still runs --------------------------------------------------
lid=$(container_lease)
pod run -d --rm --pull never --network none --name killme \
    --device "gpuplex.dev/gpu=lease-$lid" $IMG sleep 60 >/dev/null || fail "podman run -d"
[ -n "$(ls "$GPUPLEX_RUN_DIR/containers/$lid")" ] || fail "createRuntime recorded no container"
[ "$(reason "$lid")" = "" ] || fail "lease $lid released while its container runs"
pod kill killme >/dev/null || fail "podman kill"
# until podman has removed the container (its poststop hooks ran before): a gpuplex command
# before then would reconcile, and the reconciler release the lease first
i=0
while pod container exists killme; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "podman did not remove the killed container in 10 s"
    sleep 0.1
done
echo "podman kill: container gone after ~$((i / 10)).$((i % 10)) s, lease: $(reason "$lid")"
[ "$(reason "$lid")" != "containers exited" ] || fail "podman kill: released by the reconciler, not the hook"

# --- two containers on one lease: one quota; the lease stays until the last exits -------------
lid=$(container_lease)
pod run -d --rm --pull never --network none --name holder ${ASAN_OPTIONS:+--env ASAN_OPTIONS} \
    --device "gpuplex.dev/gpu=lease-$lid" $IMG gpuplex-burn --json --alloc-mib 768 --hold-ms 60000 \
    >/dev/null || fail "the first container"
i=0
until [ "$($B/gpuplex lease ls --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["usage"]["memory_used_bytes"] >= 768<<20)' 2>/dev/null)" = True ]; do
    i=$((i + 1))
    [ $i -lt 200 ] || fail "the first container's 768 MiB never showed in the lease"
    sleep 0.1
done
runc_ ${ASAN_OPTIONS:+--env ASAN_OPTIONS} --device "gpuplex.dev/gpu=lease-$lid" $IMG \
    gpuplex-burn --json --alloc-mib 512 >second.json || fail "the second container"
[ "$(json 'j["refused"] > 0 and j["allocated_mib"] <= 256' second.json)" = True ] ||
    fail "the second container's 512 MiB fit next to the first's 768 under 1 GiB: $(cat second.json)"
[ "$(reason "$lid")" = "" ] || fail "lease $lid released while its first container still runs"
pod kill holder >/dev/null
i=0
while [ -z "$(reason "$lid")" ]; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "lease $lid not released after its last container"
    sleep 0.1
done

# --- no poststop hook (removed from the spec): the reconciler releases it -----------------------
lid=$(container_lease)
python3 - "$SPEC" "$lid" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
for d in s["devices"]:
    if d["name"] == "lease-" + sys.argv[2]:
        d["containerEdits"]["hooks"] = [h for h in d["containerEdits"]["hooks"] if h["hookName"] != "poststop"]
json.dump(s, open(sys.argv[1], "w"))
EOF
runc_ --device "gpuplex.dev/gpu=lease-$lid" $IMG true || fail "a container without poststop"
[ -n "$(ls "$GPUPLEX_RUN_DIR/containers/$lid")" ] || fail "no record left for the reconciler"
# a command reconciles as it opens the engine (no grace without a daemon)
[ "$(reason "$lid")" = "containers exited" ] || fail "lease $lid without poststop: '$(reason "$lid")'"
[ ! -e "$GPUPLEX_RUN_DIR/containers/$lid" ] || fail "the reconciler left the records of $lid"
[ "$(active)" = 0 ] || fail "leases left: $(cat act.json)"

# --- with gpuplexd: it keeps the spec; its reconciler releases a lease whose hook never ran -----
DSOCK=$TEST_TMP/gpxd.sock
gpxd_start "$DSOCK" --set reconcile_interval=200ms --set grace=500ms
export GPUPLEX_SERVER="$DSOCK"
expect_rc 4 run_ctr --mode vgpu --memory 1G --container $IMG --network none $ENVA -- sh -c 'exit 4'
run_ctr --mode vgpu --memory 1G --container $IMG --network none $ENVA -- \
    gpuplex-burn --json --alloc-mib 2048 >dover.json || fail "burn via gpuplexd: $(cat dover.json)"
[ "$(json 'j["mem_total_mib"] == 1024 and j["refused"] > 0' dover.json)" = True ] ||
    fail "the quota inside, with gpuplexd: $(cat dover.json)"
[ "$(active)" = 0 ] || fail "leases left with gpuplexd: $(cat act.json)"
# a lease for containers whose poststop hook is taken out (a copy of the daemon's spec in
# another dir, which podman reads instead): the reconciler releases it, in interval + grace
lid=$($B/gpuplex lease create --mode vgpu --memory 1G --for-container 2>/dev/null)
mkdir -p cdi2
python3 - "$SPEC" "$lid" cdi2/gpuplex.json <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for d in s["devices"]:
    if d["name"] == "lease-" + sys.argv[2]:
        e = d["containerEdits"]
        e["hooks"] = [h for h in e["hooks"] if h["hookName"] != "poststop"]
json.dump(s, open(sys.argv[3], "w"))
PY
POD_CDI=$TEST_TMP/cdi2 runc_ --device "gpuplex.dev/gpu=lease-$lid" $IMG true || fail "container, no poststop"
t0=$(date +%s%N)
i=0
while [ -z "$(reason "$lid")" ]; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "gpuplexd's reconciler did not release $lid in 10 s"
    sleep 0.1
done
echo "gpuplexd's reconciler released the lease $((($(date +%s%N) - t0) / 1000000)) ms after its container stopped (interval 200 ms, grace 500 ms)"
[ "$(reason "$lid")" = "containers exited" ] || fail "released how: $(reason "$lid")"
! grep -E "AddressSanitizer|runtime error:" gpxd.log || fail "gpuplexd: a sanitizer report"
echo "ok"
