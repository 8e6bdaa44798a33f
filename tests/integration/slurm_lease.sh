# Slurm + gpuplex on one node (real munged, slurmctld, slurmd; the SPANK plugin): a job of
# a local user gets a vgpu lease of that user's tenant, labelled with the job, whose memory
# quota holds inside the task, through srun and through sbatch; no lease remains after the
# step; `gpuplex usage --label slurm_job=ID` bills the job; bad option values are refused at
# submission, naming the valid ones, before any job exists; srun and sbatch --help list
# the options.
. "$SRC_DIR/tests/integration/lib.sh"
. "$SRC_DIR/tests/integration/slurm_lib.sh"

slurm_setup
u=$(gpx_user s)
sim_gpxd node 1xH100-80GB
sock=$SLURM_DIR/node/gpxd.sock
export GPUPLEX_SIM=$SLURM_DIR/node/node.sim
# the job's user is a tenant of the node's gpuplexd (docs/slurm.md, "Tenants")
"$BUILD_DIR/bin/gpuplex" tenant add "$u" --uid "$(id -u "$u")" --server "$sock" >/dev/null 2>&1
slurm_conf localhost ""
slurm_plugstack "server=$sock required=yes"
slurm_start
burn=$BUILD_DIR/bin/gpuplex-burn
GPX="$BUILD_DIR/bin/gpuplex"

# --- srun, as the user: 2 GiB asked under a 1 GiB quota, the lease's environment ---
# (helpers in the task run without the lease's LD_PRELOAD: only gpuplex-burn is the workload)
expect_rc 0 timeout "$SLURM_T" runuser -u "$u" -- srun -N1 -n1 --gpuplex-mode=vgpu \
    --gpuplex-memory=1G sh -c 'echo "env $SLURM_JOB_ID $GPUPLEX_LEASE $CUDA_VISIBLE_DEVICES $LD_PRELOAD"
        k=$(env -u LD_PRELOAD '"$GPX"' lease ls --json --server '"$sock"' |
            env -u LD_PRELOAD python3 -c "import json,sys; print(json.load(sys.stdin)[0][\"owner_pids\"][0])")
        echo "keeper $(env -u LD_PRELOAD ps -o user= -p $k)"
        exec '"$burn"' --alloc-mib 2048 --json'
# the lease's owner (the plugin's keeper, the reconciler's safety net) is the user's process
grep -qx "keeper $u" "$TEST_TMP/out" || fail "the keeper is not the user's: $(grep '^keeper' "$TEST_TMP/out")"
set -- $(grep '^env ' "$TEST_TMP/out")
job=$2
lease=$3
[ -n "$lease" ] || fail "the task had no GPUPLEX_LEASE"
case "$4" in GPU-*) ;; *) fail "CUDA_VISIBLE_DEVICES '$4' is not the leased GPU's UUID" ;; esac
case "$5" in */libgpuplex-cuda.so*) ;; *) fail "LD_PRELOAD '$5' lacks the interposer" ;; esac
grep '^{' "$TEST_TMP/out" >burn.json
[ "$(json 'j["allocated_mib"]' burn.json)" = 1024 ] || fail "allocated past the 1G quota: $(cat burn.json)"
[ "$(json 'j["refused"]' burn.json)" -ge 1 ] || fail "no allocation was refused"
# released when the step ended, by the plugin (the lease has no owners the reconciler watches)
wait_leases "$sock" 0
"$GPX" lease ls --all --json --server "$sock" >all.json
[ "$(json "[(l['tenant'], l['labels'], l['state']) for l in j if l['id'] == '$lease']" all.json)" = \
    "[('$u', {'slurm_job': '$job', 'slurm_step': '0', 'slurm_user': '$u'}, 'released')]" ] ||
    fail "lease $lease: $(cat all.json)"

# --- metering per job: the job's leases only ---
expect_rc 0 "$GPX" usage --label "slurm_job=$job" --leases --json --server "$sock"
cp "$TEST_TMP/out" usage.json
[ "$(json '[l["id"] for l in j["leases"]]' usage.json)" = "['$lease']" ] || fail "usage: $(cat usage.json)"
[ "$(json '[t["tenant"] for t in j["tenants"]]' usage.json)" = "['$u']" ] || fail "usage tenants"
[ "$(json 'j["leases"][0]["memory_quota_gib_seconds"] > 0' usage.json)" = True ] ||
    fail "no memory GiB-seconds: $(cat usage.json)"
expect_rc 0 "$GPX" usage --label "slurm_job=999999" --json --server "$sock"
[ "$(json 'len(j["leases"])' "$TEST_TMP/out")" = 0 ] || fail "another job's usage is not empty"
expect_rc 2 "$GPX" usage --label "slurm_job" --server "$sock"
expect_err "KEY=VALUE"
# the API's own check of the query parameter, through a tenant's token
expect_rc 0 "$GPX" usage --label "slurm_user=$u" --json --server "$sock"
[ "$(json 'len(j["leases"])' "$TEST_TMP/out")" = 1 ] || fail "usage by slurm_user"

# --- sbatch: the batch step holds the lease; the script's program runs under it ---
mkdir -m 0777 jobout
expect_rc 0 timeout "$SLURM_T" runuser -u "$u" -- sbatch --wait -o jobout/batch.out \
    --gpuplex-memory=1G --gpuplex-mode=vgpu --wrap "$burn --alloc-mib 2048 --json"
grep '^{' jobout/batch.out >batch.json || fail "batch output: $(cat jobout/batch.out)"
[ "$(json 'j["allocated_mib"]' batch.json)" = 1024 ] || fail "sbatch: past the quota: $(cat batch.json)"
bjob=$(sed -n 's/^Submitted batch job //p' "$TEST_TMP/out")
wait_leases "$sock" 0
expect_rc 0 "$GPX" usage --label "slurm_job=$bjob" --leases --json --server "$sock"
[ "$(json '[l["state"] for l in j["leases"]]' "$TEST_TMP/out")" = "['released']" ] ||
    fail "sbatch job $bjob: $(cat "$TEST_TMP/out")"
"$GPX" lease ls --all --json --server "$sock" >all.json
[ "$(json "[l['labels']['slurm_step'] for l in j if l['labels'].get('slurm_job') == '$bjob']" all.json)" = \
    "['batch']" ] || fail "sbatch lease labels: $(cat all.json)"

# --- refused at submission: the message names the valid values; no job is made ---
refused() {
    set +e
    timeout "$SLURM_T" "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err"
    r_rc=$?
    set -e
    [ "$r_rc" != 0 ] && [ "$r_rc" != 124 ] || fail "'$*' exited $r_rc, expected a refusal"
}
before=$(scontrol show jobs -o 2>/dev/null | grep -c JobId || true)
refused srun --gpuplex-mode=fast true
expect_err "gpuplex: --gpuplex-mode must be one of exclusive, mig, vgpu, timeslice, not 'fast'"
refused sbatch --gpuplex-memory=lots --wrap true
expect_err "--gpuplex-memory"
refused sbatch --gpuplex-cap=200 --wrap true
expect_err "--gpuplex-cap must be a percentage from 1 to 100, not '200'"
refused salloc --gpuplex-weight=0 true
expect_err "--gpuplex-weight must be a whole number from 1 to 10000"
refused srun --gpuplex-mode=vgpu true
expect_err "vgpu leases need --gpuplex-memory"
refused srun --gpuplex-mode=exclusive --gpuplex-memory=1G true
expect_err "--gpuplex-memory does not apply to exclusive leases"
after=$(scontrol show jobs -o 2>/dev/null | grep -c JobId || true)
[ "$before" = "$after" ] || fail "a refused submission made a job ($before jobs, then $after)"

# --- --help lists the options ---
for cmd in srun sbatch salloc; do
    "$cmd" --help >help.txt 2>&1 || true
    for o in mode memory weight cap mig; do
        grep -q -- "--gpuplex-$o" help.txt || fail "$cmd --help lacks --gpuplex-$o"
    done
done
echo "slurm_lease: ok (job $job lease $lease, batch job $bjob)"
