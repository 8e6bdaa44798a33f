# CDI specs (src/cdi, docs/containers.md) with real podman on the simulator: `gpuplex cdi
# generate|ls`, the spec gpuplexd keeps, containers run with --device gpuplex.dev/gpu=..., and
# kill -9 of gpuplexd while it rewrites the spec.
#
# The simulator reaches containers by configuration of the writer alone: stand-in device nodes
# under cdi_dev_root, the simulated libcuda/libnvidia-ml through cdi_driver_libs, the state
# file and LD_LIBRARY_PATH through cdi_mounts and cdi_env.
#
# podman itself (its private storage and CDI dir, the image, the simulated node's config) is
# set up by podman_lib.sh.
. "$SRC_DIR/tests/integration/lib.sh"
. "$SRC_DIR/tests/integration/podman_lib.sh"
B=$BUILD_DIR/bin
export GPUPLEX_SERVER=none
podman_setup
podman_image localhost/gpx-cdi-test
podman_sim_node 2xH100-80GB
uuid0=$($B/gpuplex ls --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["uuid"])')
uuid1=$($B/gpuplex ls --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[1]["uuid"])')

# --- gpuplex cdi generate / ls without a daemon -----------------------------------------------
lid=$($B/gpuplex lease create --mode vgpu --memory 2G --gpu 0 2>/dev/null)
$B/gpuplex cdi generate >gen.json
python3 - "$lid" "$uuid0" "$uuid1" "$TEST_TMP" "$BUILD_DIR" <<'EOF' || fail "gpuplex cdi generate"
import json, sys
lid, u0, u1, tmp, build = sys.argv[1:]
s = json.load(open("gen.json"))
assert s["cdiVersion"] == "0.5.0", s["cdiVersion"]
assert s["kind"] == "gpuplex.dev/gpu", s["kind"]
dev = {d["name"]: d["containerEdits"] for d in s["devices"]}
assert list(dev) == ["0", u0, "1", u1, "lease-" + lid], list(dev)
def nodes(e): return sorted(n["path"] for n in e["deviceNodes"])
for name, node, u in (("0", "nvidia0", u0), (u0, "nvidia0", u0), ("1", "nvidia1", u1)):
    assert nodes(dev[name]) == ["/dev/" + node], (name, dev[name])
    assert dev[name]["deviceNodes"][0]["hostPath"] == tmp + "/dev/" + node
    assert "CUDA_VISIBLE_DEVICES=" + u in dev[name]["env"], dev[name]
    assert "NVIDIA_VISIBLE_DEVICES=" + u in dev[name]["env"], dev[name]
l = dev["lease-" + lid]
assert nodes(l) == ["/dev/nvidia0"], l
env = dict(x.split("=", 1) for x in l["env"])
assert env["GPUPLEX_LEASE"] == lid and env["CUDA_VISIBLE_DEVICES"] == u0, env
assert env["LD_PRELOAD"].endswith("libgpuplex-cuda.so"), env
m = {x["containerPath"]: x for x in l["mounts"]}
run = env["GPUPLEX_RUN_DIR"]
assert "ro" in m[env["LD_PRELOAD"]]["options"], m
assert "ro" in m[run + "/leases/" + lid + ".limits"]["options"], m
assert "rw" in m[run + "/leases/" + lid + ".usage"]["options"], m
assert len(m) == 3, m  # nothing of other leases
c = s["containerEdits"]
assert nodes(c) == ["/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidiactl"], c
cm = {x["containerPath"]: x for x in c["mounts"]}
for lib in ("libcuda.so.1", "libnvidia-ml.so.1"):
    assert build + "/lib/sim/" + lib in cm, cm
    assert "ro" in cm[build + "/lib/sim/" + lib]["options"]
assert "GPUPLEX_SIM=" + tmp + "/node.sim" in c["env"], c
EOF
$B/gpuplex cdi ls >ls.txt
for n in 0 "$uuid0" 1 "lease-$lid"; do
    grep -qx "gpuplex.dev/gpu=$n" ls.txt || { cat ls.txt; fail "cdi ls lacks gpu=$n"; }
done
$B/gpuplex cdi ls --json >ls.json
[ "$(json 'len(j)' ls.json)" = 5 ] || fail "cdi ls --json: $(cat ls.json)"
# --output into a directory that does not exist yet: made
$B/gpuplex cdi generate --output "$TEST_TMP/gen/spec.json"
cmp -s gen.json gen/spec.json || fail "generate --output differs from stdout"
# one that cannot be: the error names --output (I/O error, exit 9)
expect_rc 9 $B/gpuplex cdi generate --output "$TEST_TMP/gen.json/spec.json"
expect_err "^gpuplex: --output: creating $TEST_TMP/gen.json/"
expect_rc 2 $B/gpuplex cdi ls --output x.json
expect_err "--output is for 'cdi generate'"
expect_rc 2 $B/gpuplex cdi frobnicate
expect_err "unknown subcommand 'frobnicate'"
expect_rc 0 $B/gpuplex lease rm "$lid"

# --- gpuplexd keeps the spec --------------------------------------------------------------------
DSOCK=$TEST_TMP/gpxd.sock
expect_rc 2 $B/gpuplexd --check-config "$GPUPLEX_CONFIG" --set cdi_version=0.4.0
expect_err "cdi_version: '0.4.0' is not one of 0.5.0"
gpxd_start "$DSOCK"
export GPUPLEX_SERVER="$DSOCK"
[ -s cdi/gpuplex.json ] || fail "gpuplexd wrote no spec at start"
$B/gpuplex cdi ls --spec cdi/gpuplex.json >d.txt
grep -qx "gpuplex.dev/gpu=0" d.txt && grep -qx "gpuplex.dev/gpu=$uuid1" d.txt || {
    cat d.txt
    fail "the daemon's spec lacks the GPUs"
}

# a vgpu lease: its device is in the spec when create returns
lid=$($B/gpuplex lease create --mode vgpu --memory 2G --gpu 0 2>/dev/null)
$B/gpuplex cdi ls --spec cdi/gpuplex.json | grep -qx "gpuplex.dev/gpu=lease-$lid" ||
    fail "the daemon's spec lacks lease-$lid after create"
prun "gpuplex.dev/gpu=lease-$lid" ls /dev >devs.txt || fail "podman run --device lease-$lid"
grep -qx nvidia0 devs.txt && grep -qx nvidiactl devs.txt && grep -qx nvidia-uvm devs.txt ||
    { cat devs.txt; fail "the container lacks its GPU's nodes"; }
! grep -qx nvidia1 devs.txt || { cat devs.txt; fail "the container sees another GPU's node"; }
prun "gpuplex.dev/gpu=lease-$lid" gpuplex-burn --json --alloc-mib 1024 >in.json ||
    fail "gpuplex-burn in the container"
[ "$(json 'j["mem_total_mib"]' in.json)" = 2048 ] || fail "cuMemGetInfo in the container: $(cat in.json)"
[ "$(json 'j["allocated_mib"]' in.json)" = 1024 ] || fail "allocation in the container: $(cat in.json)"
prun "gpuplex.dev/gpu=lease-$lid" gpuplex-burn --json --alloc-mib 3072 >over.json ||
    fail "gpuplex-burn past the quota in the container"
[ "$(json 'j["refused"] > 0 and j["allocated_mib"] <= 2048' over.json)" = True ] ||
    fail "an allocation past the quota was not refused in the container: $(cat over.json)"
# the interposer counted the container's allocations in the lease's own region
$B/gpuplex lease ls --json >ll.json
[ "$(json "[l['usage']['memory_peak_bytes'] for l in j if l['id']=='$lid'][0] >= 1024<<20" ll.json)" = True ] ||
    fail "the lease's region did not see the container's allocations: $(cat ll.json)"

# exclusive: the container sees GPU 1 only; a second exclusive lease on it is refused
xid=$($B/gpuplex lease create --mode exclusive --gpu 1 2>/dev/null)
prun "gpuplex.dev/gpu=lease-$xid" ls /dev >xdevs.txt || fail "podman run --device lease-$xid"
grep -qx nvidia1 xdevs.txt && ! grep -qx nvidia0 xdevs.txt || { cat xdevs.txt; fail "exclusive container's nodes"; }
prun "gpuplex.dev/gpu=lease-$xid" gpuplex-burn --json --alloc-mib 64 >x.json || fail "burn, exclusive"
[ "$(json 'j["mem_total_mib"] > 80000' x.json)" = True ] ||
    fail "exclusive: the whole GPU: $(cat x.json)"
set +e
$B/gpuplex lease create --mode exclusive --gpu 1 >/dev/null 2>x2.err
rc=$?
set -e
[ $rc != 0 ] || fail "a second exclusive lease on GPU 1 was granted"

# a released lease's device is gone after the next rewrite; podman can't resolve it
expect_rc 0 $B/gpuplex lease rm "$lid"
! $B/gpuplex cdi ls --spec cdi/gpuplex.json | grep -q "lease-$lid" || fail "lease-$lid is still in the spec"
set +e
prun "gpuplex.dev/gpu=lease-$lid" true >gone.out 2>&1
rc=$?
set -e
[ $rc != 0 ] && grep -q "unresolvable CDI devices" gone.out || { cat gone.out; fail "a released lease's device resolved"; }
expect_rc 0 $B/gpuplex lease rm "$xid"

# timeslice on GPU 1: that GPU's node only, the interposer and the arbiter the leases share
tid=$($B/gpuplex lease create --mode timeslice --weight 2 --memory 1G --gpu 1 2>/dev/null)
prun "gpuplex.dev/gpu=lease-$tid" sh -c 'ls /dev; echo "preload=$LD_PRELOAD"; ls "$GPUPLEX_RUN_DIR"' \
    >tdevs.txt || fail "podman run --device lease-$tid"
grep -qx nvidia1 tdevs.txt && ! grep -qx nvidia0 tdevs.txt && grep -q "^preload=.*libgpuplex-cuda.so" tdevs.txt &&
    grep -qx arbiter tdevs.txt || { cat tdevs.txt; fail "timeslice container's nodes and mounts"; }
expect_rc 0 $B/gpuplex lease rm "$tid"

# a mig lease: the MIG device (named as nvidia-ctk names it) and its lease's device
expect_rc 0 $B/gpuplex mig apply --gpu 1 --demand 3g.40gb=1
mid=$($B/gpuplex lease create --mig-profile 3g.40gb 2>/dev/null)
$B/gpuplex cdi ls --spec cdi/gpuplex.json >m.txt
grep -qx "gpuplex.dev/gpu=1:0" m.txt && grep -qx "gpuplex.dev/gpu=lease-$mid" m.txt &&
    grep -q "gpuplex.dev/gpu=MIG-" m.txt || { cat m.txt; fail "the spec lacks the MIG device or lease-$mid"; }
prun "gpuplex.dev/gpu=lease-$mid" ls /dev >mdevs.txt || fail "podman run --device lease-$mid"
grep -qx nvidia1 mdevs.txt && ! grep -qx nvidia0 mdevs.txt || { cat mdevs.txt; fail "mig container's nodes"; }
prun "gpuplex.dev/gpu=lease-$mid" gpuplex-burn --json --alloc-mib 64 >mig.json || fail "burn, mig"
[ "$(json '30000 < j["mem_total_mib"] < 50000' mig.json)" = True ] ||
    fail "mig: the container sees its instance's memory: $(cat mig.json)"
expect_rc 0 $B/gpuplex lease rm "$mid"

# --- kill -9 of gpuplexd while it rewrites: never a half-written spec ----------------------------
for round in 1 2 3 4 5; do
    (
        while :; do
            id=$($B/gpuplex lease create --mode vgpu --memory 1G 2>/dev/null) || exit 0
            $B/gpuplex lease rm "$id" >/dev/null 2>&1 || exit 0
            echo >>churn.txt
        done
    ) &
    loop=$!
    # a reader that parses the spec the whole time, as a runtime would at any moment
    rm -f reader.stop
    python3 - cdi/gpuplex.json >reader.out 2>&1 <<'EOF' &
import json, os, sys, time
n = bad = 0
end = time.time() + 30
while time.time() < end and not os.path.exists("reader.stop"):
    try:
        with open(sys.argv[1]) as f:
            json.loads(f.read())
        n += 1
    except ValueError:
        bad += 1
print("reads", n, "bad", bad)
sys.exit(1 if bad else 0)
EOF
    reader=$!
    sleep "0.$((round * 17 % 9 + 1))"
    kill -9 "$(cat "$TEST_TMP/gpxd.pid")"
    wait "$(cat "$TEST_TMP/gpxd.pid")" 2>/dev/null || true
    wait $loop 2>/dev/null || true
    touch reader.stop
    wait $reader || { cat reader.out; fail "round $round: a reader saw a partial spec"; }
    echo "round $round: $(cat reader.out), $(wc -l <churn.txt) create+release pairs so far"
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["kind"]=="gpuplex.dev/gpu"' \
        cdi/gpuplex.json || { cat cdi/gpuplex.json | tail -5; fail "round $round: the spec is not whole JSON"; }
    prun "gpuplex.dev/gpu=0" true || fail "round $round: podman does not take the spec"
    gpxd_start "$DSOCK"
done
# a temporary file a kill left behind is removed when the writer starts again
for f in cdi/.* cdi/*; do
    case $f in cdi/. | cdi/.. | cdi/gpuplex.json | 'cdi/.*') ;; *) fail "a leftover in the spec dir: $f" ;; esac
done
# after a restart the spec is whole again and lists no released lease
$B/gpuplex lease ls --json >after.json
[ "$(json 'len(j)' after.json)" = "$(python3 -c 'import json; print(sum(d["name"].startswith("lease-") for d in json.load(open("cdi/gpuplex.json"))["devices"]))')" ] ||
    fail "the spec after restart does not match the active leases"
! grep -E "AddressSanitizer|runtime error:" gpxd.log || fail "gpuplexd: a sanitizer report"
echo "ok"
