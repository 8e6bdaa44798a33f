# Slurm + gpuplex: a job that runs past its time limit (--time=1, Slurm's smallest: one
# minute, checked by slurmctld every 30 s, then KillWait=2) is killed by Slurm, and the
# plugin's slurm_spank_exit releases its lease, as it does after scancel (slurm_release).
# Takes 60-95 s: the minute is Slurm's.
. "$SRC_DIR/tests/integration/lib.sh"
. "$SRC_DIR/tests/integration/slurm_lib.sh"

slurm_setup
sim_gpxd node 1xH100-80GB
sock=$SLURM_DIR/node/gpxd.sock
export GPUPLEX_SIM=$SLURM_DIR/node/node.sim
slurm_conf localhost ""
slurm_plugstack "server=$sock required=yes"
slurm_start

t0=$(date +%s)
timeout 150 srun -J gpx-timelimit --time=1 --gpuplex-mode=vgpu --gpuplex-memory=512M \
    sh -c 'echo "$GPUPLEX_LEASE" >lease; exec sleep 300' >srun.out 2>srun.err &
srun_pid=$!
i=0
while [ ! -s lease ]; do
    i=$((i + 1))
    [ $i -lt 300 ] || { cat srun.out srun.err >&2; fail "the step did not start"; }
    sleep 0.1
done
lease=$(cat lease)
[ "$(leases_active "$sock")" = 1 ] || fail "the running step holds no lease"
# the lease stays while the job is within its limit
sleep 20
[ "$(leases_active "$sock")" = 1 ] || fail "the lease ended before the time limit"
i=0
while [ "$(leases_active "$sock")" != 0 ]; do
    i=$((i + 1))
    [ $i -lt 1000 ] || { cat srun.err >&2; fail "lease $lease still active $(($(date +%s) - t0)) s after the start"; }
    sleep 0.1
done
elapsed=$(($(date +%s) - t0))
set +e
wait $srun_pid
rc=$?
set -e
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "srun exited $rc"
grep -q "DUE TO TIME LIMIT" srun.err || { cat srun.err >&2; fail "the job did not end by its time limit"; }
[ "$elapsed" -ge 55 ] || fail "released after $elapsed s, before the one-minute limit"
"$BUILD_DIR/bin/gpuplex" lease ls --all --json --server "$sock" >all.json
[ "$(json "[l['state'] for l in j if l['id'] == '$lease']" all.json)" = "['released']" ] ||
    fail "timed-out job's lease: $(cat all.json)"
# released by the plugin at the step's end, not later by the reconciler
grep -q "gpuplex: lease $lease released" "$SLURM_DIR"/slurmd-*.log ||
    { tail -20 "$SLURM_DIR"/slurmd-*.log >&2; fail "the plugin did not log the release"; }
echo "slurm_timelimit: ok (lease released $elapsed s after the start of a --time=1 job)"
