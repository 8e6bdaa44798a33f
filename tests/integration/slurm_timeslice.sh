# Slurm + gpuplex: two jobs running at once on one simulated GPU, --gpuplex-mode=timeslice
# with weights 1 and 3, share its time by their weights (tolerant bounds; the tight ones are
# bench/timeslice's), as the usage of each job (`gpuplex usage --label slurm_job=ID`) bills.
. "$SRC_DIR/tests/integration/lib.sh"
. "$SRC_DIR/tests/integration/slurm_lib.sh"

slurm_setup
sim_gpxd node 1xH100-80GB
sock=$SLURM_DIR/node/gpxd.sock
export GPUPLEX_SIM=$SLURM_DIR/node/node.sim
slurm_conf localhost ""
slurm_plugstack "server=$sock required=yes"
slurm_start
burn=$BUILD_DIR/bin/gpuplex-burn

# each task says it is ready, then waits for "go": the two burn at the same time
for w in 1 3; do
    timeout "$SLURM_T" srun -n1 -c1 -J "gpx-w$w" --gpuplex-mode=timeslice --gpuplex-weight=$w \
        --gpuplex-memory=1G sh -c 'echo "$SLURM_JOB_ID" >ready'$w'
            while [ ! -e go ]; do sleep 0.02; done
            exec '"$burn"' --duration-ms 3000 --kernel-ns 200000 --json' >burn$w.json 2>burn$w.err &
    eval "pid$w=\$!"
done
i=0
while [ ! -s ready1 ] || [ ! -s ready3 ]; do
    i=$((i + 1))
    [ $i -lt 300 ] || { cat burn1.err burn3.err >&2; fail "the two jobs did not both start"; }
    sleep 0.1
done
touch go
wait "$pid1" || { cat burn1.err >&2; fail "weight-1 job failed"; }
wait "$pid3" || { cat burn3.err >&2; fail "weight-3 job failed"; }
wait_leases "$sock" 0
for w in 1 3; do
    "$BUILD_DIR/bin/gpuplex" usage --label "slurm_job=$(cat ready$w)" --json --server "$sock" >u$w.json
done
share=$(python3 -c 'import json,sys
a=json.load(open(sys.argv[1]))["leases"][0]["gpu_seconds"]
b=json.load(open(sys.argv[2]))["leases"][0]["gpu_seconds"]
print(round(a / (a + b), 3), round(a + b, 2))' u1.json u3.json)
echo "weights 1:3 through Slurm: share of the weight-1 job, GPU-seconds of both: $share"
set -- $share
python3 -c "import sys; sys.exit(0 if abs($1 - 0.25) < 0.08 and $2 > 2.0 else 1)" ||
    fail "weights 1:3 gave a share of $1 (GPU-seconds $2): $(cat u1.json u3.json)"
