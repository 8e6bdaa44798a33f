# Slurm + gpuplex: the plugin releases a step's lease however the step ends — the job
# cancelled with scancel while it runs, a task killed with SIGKILL — and, with
# required=yes, a step whose node has no gpuplexd answering fails with the plugin's message;
# with required=no it runs without a lease and the job's stderr says so. And when slurmstepd
# itself is killed (no slurm_spank_exit), the lease's owner, the plugin's keeper process,
# dies with it and gpuplexd's reconciler releases the lease.
. "$SRC_DIR/tests/integration/lib.sh"
. "$SRC_DIR/tests/integration/slurm_lib.sh"

slurm_setup
# the reconciler's figures, short for this test (defaults: grace 30s, every 2s)
reconcile="--set grace=1s --set reconcile_interval=200ms"
# shellcheck disable=SC2086
sim_gpxd node 1xH100-80GB $reconcile
sock=$SLURM_DIR/node/gpxd.sock
export GPUPLEX_SIM=$SLURM_DIR/node/node.sim
slurm_conf localhost ""
slurm_plugstack "server=$sock required=yes"
slurm_start

# wait_file FILE: until it exists (20 s at most)
wait_file() {
    i=0
    while [ ! -s "$1" ]; do
        i=$((i + 1))
        [ $i -lt 200 ] || fail "$1 did not appear"
        sleep 0.1
    done
}

# --- scancel of a running job ---
timeout "$SLURM_T" srun -J gpx-cancel --gpuplex-mode=timeslice --gpuplex-memory=512M \
    sh -c 'echo "$GPUPLEX_LEASE" >lease1; exec sleep 60' >srun1.out 2>&1 &
srun1=$!
wait_file lease1
[ "$(leases_active "$sock")" = 1 ] || fail "the running step holds no lease"
job=$(squeue -h -n gpx-cancel -o %i)
[ -n "$job" ] || fail "no job gpx-cancel"
scancel "$job"
wait_leases "$sock" 0
set +e
wait $srun1
set -e
"$BUILD_DIR/bin/gpuplex" lease ls --all --json --server "$sock" >all.json
[ "$(json "[l['state'] for l in j if l['id'] == '$(cat lease1)']" all.json)" = "['released']" ] ||
    fail "cancelled job's lease: $(cat all.json)"
slurm_wait_idle

# --- a task killed with SIGKILL ---
timeout "$SLURM_T" srun --gpuplex-mode=vgpu --gpuplex-memory=1G \
    sh -c 'echo $$ >task.pid; exec sleep 60' >srun2.out 2>&1 &
srun2=$!
wait_file task.pid
wait_leases "$sock" 1
kill -KILL "$(cat task.pid)"
set +e
wait $srun2
rc=$?
set -e
[ "$rc" != 0 ] || fail "srun of a killed task exited 0"
wait_leases "$sock" 0
slurm_wait_idle

# --- default_mode= is the mode of a step that names none; a bad argument names the valid ones ---
slurm_plugstack "server=$sock required=yes default_mode=timeslice"
expect_rc 0 timeout "$SLURM_T" srun --gpuplex-memory=512M sh -c 'echo "lease $GPUPLEX_LEASE"'
dl=$(sed -n 's/^lease //p' "$TEST_TMP/out")
wait_leases "$sock" 0
"$BUILD_DIR/bin/gpuplex" lease ls --all --json --server "$sock" >all.json
[ "$(json "[l['mode'] for l in j if l['id'] == '$dl']" all.json)" = "['timeslice']" ] ||
    fail "default_mode=timeslice: $(cat all.json)"
slurm_plugstack "server=$sock required=maybe"
set +e
timeout "$SLURM_T" srun --gpuplex-memory=512M true >out4 2>err4
rc=$?
set -e
[ "$rc" != 0 ] || fail "a bad plugstack.conf argument was accepted"
grep -q "unknown argument 'required=maybe' (valid: server=PATH, default_mode=exclusive|mig|vgpu|timeslice, required=yes|no)" err4 ||
    { cat err4 >&2; fail "bad plugstack.conf argument: not the plugin's message"; }
slurm_plugstack "server=$sock required=yes"

# --- required=yes, gpuplexd stopped: the step fails with the plugin's message ---
stop_pidfile "$SLURM_DIR/gpxd-node.pid"
set +e
timeout "$SLURM_T" srun --gpuplex-mode=vgpu --gpuplex-memory=1G sh -c 'echo ran' >out3 2>err3
rc=$?
set -e
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "required=yes: srun exited $rc without gpuplexd"
! grep -q '^ran' out3 || fail "required=yes: the task ran without a lease"
grep -q "gpuplex: no lease from gpuplexd at $sock: .*; the step fails (plugstack.conf: required=yes)" err3 ||
    { cat err3 >&2; fail "required=yes: not the plugin's message"; }

# --- required=no: the step runs without a lease, and its stderr says so ---
slurm_plugstack "server=$sock required=no"
expect_rc 0 timeout "$SLURM_T" srun --gpuplex-mode=vgpu --gpuplex-memory=1G \
    sh -c 'echo "ran lease=${GPUPLEX_LEASE:-none}"'
grep -qx "ran lease=none" "$TEST_TMP/out" || fail "required=no: $(cat "$TEST_TMP/out")"
expect_err "gpuplex: no lease from gpuplexd at $sock: .*; running without a lease \(plugstack.conf: required=no\)"

# --- slurmstepd killed: its keeper dies with it, the reconciler ends the lease ---
# shellcheck disable=SC2086
sim_gpxd node 1xH100-80GB $reconcile
slurm_plugstack "server=$sock required=yes"
timeout "$SLURM_T" srun --gpuplex-mode=exclusive sh -c 'echo $$ >task5.pid; exec sleep 60' \
    >srun5.out 2>&1 &
srun5=$!
wait_file task5.pid
wait_leases "$sock" 1
"$BUILD_DIR/bin/gpuplex" lease ls --json --server "$sock" >active.json
keeper=$(json 'j[0]["owner_pids"][0]' active.json)
kill -0 "$keeper" || fail "the lease's owner $keeper is not running"
stepd=$(ps -o ppid= -p "$(cat task5.pid)" | tr -d ' ')
case "$(ps -o args= -p "$stepd")" in slurmstepd*) ;; *) fail "task's parent $stepd is not slurmstepd" ;; esac
kill -KILL "$stepd"
wait_leases "$sock" 0
"$BUILD_DIR/bin/gpuplex" lease ls --all --json --server "$sock" >all.json
[ "$(json "[l['release_reason'] for l in j if l['owner_pids'] == [$keeper]]" all.json)" = \
    "['owner processes exited']" ] || fail "slurmstepd killed: $(cat all.json)"
kill -KILL "$(cat task5.pid)" "$srun5" 2>/dev/null || true
echo "slurm_release: ok"
