# PID namespaces (issue 11 item 3; docs/threat-model.md, "PID namespaces"), with real podman on
# the simulator: every workload below is pid 1 of its own container. Two timeslice leases in two
# containers share one GPU by their weights and finish; a vgpu lease used by two containers keeps
# both processes' memory while they live (whoever reaps: `lease ls`, `gpuplex watch`), returns a
# SIGKILLed one's within 2 s while its sibling keeps its own; the watchdog attributes the
# containers' NVML entries (host pids) to their lease and flags a container outside any lease;
# inside a container, NVML's process list under the lease shows its processes by their slots.
. "$SRC_DIR/tests/integration/lib.sh"
. "$SRC_DIR/tests/integration/podman_lib.sh"
B=$BUILD_DIR/bin
MIB=1048576
export GPUPLEX_SERVER=none
podman_setup
podman_image localhost/gpx-pidns-test "$BUILD_DIR/tests/gpx-ipcheck"
podman_sim_node 1xH100-80GB
SPEC=$POD_CDI/gpuplex.json

# start NAME DEVICE CMD...: a detached container (pid 1: CMD) with one CDI device
start() {
    s_name=$1 s_dev=$2
    shift 2
    pod run -d --name "$s_name" --pull never --network none ${ASAN_OPTIONS:+--env ASAN_OPTIONS} \
        --device "$s_dev" "$POD_IMAGE" "$@" >/dev/null || fail "podman run $s_name"
}
# hostpid NAME: the host pid of the container's pid 1
hostpid() { pod inspect --format '{{.State.Pid}}' "$1"; }
# field ID KEY: KEY of lease ID in `lease ls --json` (which reaps dead processes' slots first)
field() {
    $B/gpuplex lease ls --json >ls.json || { echo "lease ls failed" >&2; echo -1; return; }
    python3 -c 'import json,sys; print({l["id"]: l for l in json.load(open(sys.argv[1]))}[sys.argv[2]][sys.argv[3]])' ls.json "$1" "$2"
}
# used ID: the bytes lease ID counts; gpu_s ID: the GPU seconds it was granted so far
used() { field "$1" used_bytes; }
gpu_s() { field "$1" gpu_seconds; }

# --- timeslice: two pid-1 processes in two containers share the GPU 1:3 and finish ----------
ta=$($B/gpuplex lease create --mode timeslice --weight 1 --memory 1G --gpu 0 2>/dev/null)
tb=$($B/gpuplex lease create --mode timeslice --weight 3 --memory 1G --gpu 0 2>/dev/null)
$B/gpuplex cdi generate --output "$SPEC"
start ts-a "gpuplex.dev/gpu=lease-$ta" gpuplex-burn --json --duration-ms 8000 --kernel-ns 200000
start ts-b "gpuplex.dev/gpu=lease-$tb" gpuplex-burn --json --duration-ms 8000 --kernel-ns 200000
i=0
until python3 -c "import sys; sys.exit(0 if $(gpu_s "$ta") > 0 and $(gpu_s "$tb") > 0 else 1)"; do
    i=$((i + 1))
    [ $i -lt 200 ] || fail "the two timeslice containers never both ran"
    sleep 0.1
done
a1=$(gpu_s "$ta") b1=$(gpu_s "$tb")
sleep 2
a2=$(gpu_s "$ta") b2=$(gpu_s "$tb")
share=$(python3 -c "a=$a2-$a1; b=$b2-$b1; print(round(a/(a+b),3) if a+b>0 else -1)")
echo "two containers, weights 1:3: the first lease's share $share over 2 s"
python3 -c "import sys; sys.exit(0 if abs($share - 0.25) <= 0.1 else 1)" ||
    fail "containers' timeslice shares: $share, wanted 0.25 +- 0.1"
for c in ts-a ts-b; do
    rc=$(POD_TIMEOUT=40 pod wait "$c") || fail "$c did not finish (the arbiter told two pid 1s apart?)"
    [ "$rc" = 0 ] || fail "$c exited $rc: $(pod logs "$c" 2>&1 | tail -5)"
    pod logs "$c" >"$c.json" 2>/dev/null
    [ "$(json 'j["kernels"] > 0 and "error" not in j' "$c.json")" = True ] || fail "$c: $(cat "$c.json")"
done

# --- vgpu: two containers' pid 1 on one lease; never reaped alive, reaped dead ------------------
vid=$($B/gpuplex lease create --mode vgpu --memory 2G --gpu 0 2>/dev/null)
$B/gpuplex cdi generate --output "$SPEC"
start vg-a "gpuplex.dev/gpu=lease-$vid" gpuplex-burn --alloc-mib 256 --hold-ms 90000
start vg-b "gpuplex.dev/gpu=lease-$vid" gpuplex-burn --alloc-mib 512 --hold-ms 90000
i=0
until [ "$(used "$vid")" = $((768 * MIB)) ]; do
    i=$((i + 1))
    [ $i -lt 300 ] || fail "the two containers' 768 MiB never showed in lease $vid: $(cat ls.json)"
    sleep 0.1
done
pa=$(hostpid vg-a) pb=$(hostpid vg-b)
[ "$(pod exec vg-a cat /proc/1/stat | cut -d' ' -f2)" = "(gpuplex-burn)" ] ||
    fail "the workload is not pid 1 in its container"
# the reapers (lease ls, the watchdog) run while both sleep holding memory: nothing goes back,
# and the watchdog finds both containers' NVML entries (host pids) in the lease
for round in 1 2 3; do
    [ "$(used "$vid")" = $((768 * MIB)) ] || fail "round $round: a live container's memory was reaped: $(cat ls.json)"
    $B/gpuplex watch --once --json --allowance 0 >watch.json || fail "gpuplex watch --once"
    [ ! -s watch.json ] || fail "round $round: the watchdog flags the lease's own containers: $(cat watch.json)"
    sleep 0.3
done
[ "$(used "$vid")" = $((768 * MIB)) ] || fail "a live container's memory was reaped: $(cat ls.json)"
# `lease ls` shows the containers' processes by their host pids (both are pid 1 inside)
[ "$(python3 -c 'import json,sys; L={l["id"]: l for l in json.load(open(sys.argv[1]))}; print(sorted(p["pid"] for p in L[sys.argv[2]]["processes"]) == sorted([int(sys.argv[3]), int(sys.argv[4])]))' ls.json "$vid" "$pa" "$pb")" = True ] ||
    fail "lease ls processes, wanted host pids $pa $pb: $(cat ls.json)"
# inside vg-b, NVML's processes under the lease (src/interpose/procs.c): its pid 1 with what the
# lease counts for it, and the caller; vg-a's pid 1 is another process
# (podman 4.3's exec does not apply the CDI device's env: take the lease's from pid 1)
# shellcheck disable=SC2016 # expanded inside the container
pod exec vg-b sh -c 'exec env $(busybox tr "\0" "\n" </proc/1/environ |
    grep -E "^(GPUPLEX_|LD_PRELOAD=|LD_LIBRARY_PATH=|CUDA_VISIBLE_DEVICES=)") gpx-ipcheck nvml-procs 32' \
    >inside.json || fail "gpx-ipcheck nvml-procs in vg-b: $(cat inside.json)"
self=$(json 'j["self"]' inside.json)
[ "$(json 'sorted(j["v3"])' inside.json)" = "[[1, $((512 * MIB))], [$self, $((32 * MIB))]]" ] ||
    fail "NVML's processes inside a container under the lease: $(cat inside.json)"
# a container outside any lease (the GPU's own device, no interposer): flagged by its host pid
start rogue "gpuplex.dev/gpu=0" gpuplex-burn --alloc-mib 128 --hold-ms 90000
pr=$(hostpid rogue)
i=0
until $B/gpuplex watch --once --json --allowance 0 >watch.json && [ -s watch.json ]; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "the watchdog never saw the container outside any lease"
    sleep 0.2
done
[ "$(json 'j["kind"] == "unleased" and j["pids"] == ['"$pr"']' watch.json)" = True ] ||
    fail "the watchdog's view of a container outside any lease (host pid $pr): $(cat watch.json)"
pod rm --force --time 0 rogue >/dev/null 2>&1
# SIGKILL vg-a's pid 1 (by its host pid): its 256 MiB return within 2 s, vg-b keeps 512
kill -9 "$pa" || fail "kill -9 $pa"
t0=$(date +%s%N)
while [ "$(used "$vid")" != $((512 * MIB)) ]; do
    [ $(($(date +%s%N) - t0)) -lt 2000000000 ] ||
        fail "a SIGKILLed container's memory is not back within 2 s: $(cat ls.json)"
    sleep 0.05
done
echo "a SIGKILLed container process's memory returned after $((($(date +%s%N) - t0) / 1000000)) ms"
kill -0 "$pb" || fail "the sibling container's process died"
sleep 0.5
[ "$(used "$vid")" = $((512 * MIB)) ] || fail "the sibling lost its own: $(cat ls.json)"
$B/gpuplex watch --once --json --allowance 0 >watch.json || fail "gpuplex watch --once"
[ ! -s watch.json ] || fail "the watchdog flags the surviving container: $(cat watch.json)"
echo ok
