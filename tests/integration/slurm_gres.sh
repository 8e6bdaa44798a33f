# `gpuplex slurm gres-conf` and `node-conf` from the inventory of a simulated node (two
# H100 and an A100 in MIG mode): slurmd starts with those lines and reports the node with
# those GRES (scontrol show node); jobs asking for a GPU type get it, and the plugin's lease
# lands on the GPU Slurm allocated. The simulator has no /dev/nvidiaN: the test makes
# device files in its own tree (--dev-root) and a MIG capability tree (--caps-root), as
# the driver's /proc/driver/nvidia/capabilities lists them.
. "$SRC_DIR/tests/integration/lib.sh"
. "$SRC_DIR/tests/integration/slurm_lib.sh"

slurm_setup
sim_gpxd node 2xH100-80GB,1xA100-40GB
sock=$SLURM_DIR/node/gpxd.sock
export GPUPLEX_SIM=$SLURM_DIR/node/node.sim
GPX="$BUILD_DIR/bin/gpuplex"
"$GPX" mig apply --gpu 2 --demand 3g.20gb=1,1g.5gb=2 --server "$sock" >/dev/null

# the driver's MIG capability minors: gpu<minor>/mig/gi<G>[/ci<C>]/access
caps=$TEST_TMP/caps
minor=100
for gi in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do
    mkdir -p "$caps/gpu2/mig/gi$gi"
    echo "DeviceFileMinor: $minor" >"$caps/gpu2/mig/gi$gi/access"
    minor=$((minor + 1))
    for ci in 0 1 2 3 4 5 6 7; do
        mkdir -p "$caps/gpu2/mig/gi$gi/ci$ci"
        echo "DeviceFileMinor: $minor" >"$caps/gpu2/mig/gi$gi/ci$ci/access"
        minor=$((minor + 1))
    done
done
dev=$TEST_TMP/dev
expect_rc 0 "$GPX" slurm gres-conf --dev-root "$dev" --caps-root "$caps"
cp "$TEST_TMP/out" "$SLURM_DIR/gres.conf"
cat "$SLURM_DIR/gres.conf"
expect_rc 0 "$GPX" slurm node-conf --caps-root "$caps"
gres=$(sed -n 's/^Gres=//p' "$TEST_TMP/out")
[ "$gres" = "gpu:nvidia_h100_80gb_hbm3:2,gpu:nvidia_a100_3g.20gb:1,gpu:nvidia_a100_1g.5gb:2,shard:16" ] ||
    fail "node-conf: $(cat "$TEST_TMP/out")"
grep -qx "Name=gpu Type=nvidia_h100_80gb_hbm3 File=$dev/nvidia1" "$SLURM_DIR/gres.conf" ||
    fail "no whole-GPU line for GPU 1"
grep -qx "Name=shard Count=8 File=$dev/nvidia0" "$SLURM_DIR/gres.conf" || fail "no shard line"
[ "$(grep -c "^Name=gpu Type=nvidia_a100_1g.5gb MultipleFiles=$dev/nvidia2,$dev/nvidia-caps/nvidia-cap[0-9]*,$dev/nvidia-caps/nvidia-cap[0-9]*\$" "$SLURM_DIR/gres.conf")" = 2 ] ||
    fail "MIG lines"
# without capability files a MIG device has no file of its own: left out, and said so
expect_rc 0 "$GPX" slurm gres-conf --dev-root "$dev" --caps-root "$TEST_TMP/nocaps"
[ "$(grep -c "^# GPU 2 MIG device [0-9] (nvidia_a100_[0-9]g.[0-9]*gb): left out, no capability files" "$TEST_TMP/out")" = 3 ] ||
    fail "MIG devices without capability files: $(cat "$TEST_TMP/out")"
! grep -q "^Name=gpu Type=nvidia_a100" "$TEST_TMP/out" || fail "a MIG line without its files"
expect_rc 0 "$GPX" slurm node-conf --caps-root "$TEST_TMP/nocaps"
grep -qx "Gres=gpu:nvidia_h100_80gb_hbm3:2,shard:16" "$TEST_TMP/out" || fail "node-conf without caps: $(cat "$TEST_TMP/out")"
expect_rc 2 "$GPX" slurm gres-conf --shards many
expect_err "--shards must be a whole number from 0 to 1024"
expect_rc 2 "$GPX" slurm conf
expect_err "needs gres-conf or node-conf"

# the device files the lines name (character devices, as the driver's)
mkdir -p "$dev/nvidia-caps"
for f in $(sed -n 's/.*\(File\|MultipleFiles\)=//p' "$SLURM_DIR/gres.conf" | tr ',' ' '); do
    [ -e "$f" ] || mknod "$f" c 1 3
done

slurm_conf localhost "$gres"
slurm_plugstack "server=$sock required=yes"
slurm_start
scontrol show node localhost >node.txt
# (Slurm shows each whole GPU's shards under its type)
grep -q "Gres=gpu:nvidia_h100_80gb_hbm3:2,gpu:nvidia_a100_3g.20gb:1,gpu:nvidia_a100_1g.5gb:2,shard:nvidia_h100_80gb_hbm3:16" node.txt ||
    { cat node.txt "$SLURM_DIR"/slurmd-*.log >&2; fail "scontrol show node"; }
grep -q "State=IDLE" node.txt || fail "node not idle: $(cat node.txt)"

# two jobs, one H100 each, at once: each lease is on the GPU Slurm gave its job
for j in a b; do
    timeout "$SLURM_T" srun -c1 --gres=gpu:nvidia_h100_80gb_hbm3:1 --gpuplex-mode=exclusive \
        sh -c 'echo "$CUDA_VISIBLE_DEVICES $GPUPLEX_LEASE" >'$j'.env; sleep 30' >$j.out 2>&1 &
    eval "pid_$j=\$!"
done
i=0
while [ ! -s a.env ] || [ ! -s b.env ]; do
    i=$((i + 1))
    [ $i -lt 300 ] || { cat a.out b.out >&2; fail "the two H100 jobs did not both start"; }
    sleep 0.1
done
"$GPX" lease ls --json --server "$sock" >leases.json
"$GPX" ls --json >gpus.json
for j in a b; do
    read -r cvd lease <$j.env
    gi=$(json "[l['gpu_index'] for l in j if l['id'] == '$lease'][0]" leases.json)
    [ "$(json "j[$gi]['uuid']" gpus.json)" = "$cvd" ] || fail "job $j: CUDA_VISIBLE_DEVICES $cvd is not GPU $gi's"
    echo "$gi" >>gpu_indices
done
[ "$(sort -u gpu_indices | tr '\n' ' ')" = "0 1 " ] || fail "the two jobs' leases: GPUs $(cat gpu_indices)"
kill "$pid_a" "$pid_b" 2>/dev/null || true
wait_leases "$sock" 0

# a step given two GPUs (Gres gpu:2): one exclusive lease on each, CUDA_VISIBLE_DEVICES lists
# both GPUs, GPUPLEX_LEASES both leases (GPUPLEX_LEASE the first), same job label; both are
# released together at the step's end
slurm_wait_idle
timeout "$SLURM_T" srun -c1 --gres=gpu:nvidia_h100_80gb_hbm3:2 --gpuplex-mode=exclusive \
    sh -c 'echo "$CUDA_VISIBLE_DEVICES $GPUPLEX_LEASE $GPUPLEX_LEASES $SLURM_JOB_ID" >two.env; sleep 30' >two.out 2>&1 &
pid_two=$!
i=0
while [ ! -s two.env ]; do
    i=$((i + 1))
    [ $i -lt 300 ] || { cat two.out >&2; fail "the two-GPU job did not start"; }
    sleep 0.1
done
read -r cvd lease leases job <two.env
"$GPX" lease ls --json --server "$sock" >leases.json
[ "$cvd" = "$(json "j[0]['uuid'] + ',' + j[1]['uuid']" gpus.json)" ] ||
    fail "two GPUs: CUDA_VISIBLE_DEVICES $cvd"
[ "$(json "','.join(l['id'] for l in sorted(j, key=lambda l: l['gpu_index']))" leases.json)" = "$leases" ] ||
    fail "two GPUs: GPUPLEX_LEASES $leases, gpuplexd: $(cat leases.json)"
[ "$lease" = "${leases%%,*}" ] || fail "two GPUs: GPUPLEX_LEASE $lease is not the first of $leases"
[ "$(json "sorted((l['gpu_index'], l['mode'], l['labels']['slurm_job']) for l in j)" leases.json)" = \
    "[(0, 'exclusive', '$job'), (1, 'exclusive', '$job')]" ] || fail "two GPUs: leases $(cat leases.json)"
kill "$pid_two" 2>/dev/null || true
wait_leases "$sock" 0

# vgpu on two GPUs: refused (the interposer enforces one lease per process), saying why
slurm_wait_idle
set +e
timeout "$SLURM_T" srun -c1 --gres=gpu:nvidia_h100_80gb_hbm3:2 --gpuplex-mode=vgpu \
    --gpuplex-memory=1G sh -c 'echo ran' >vg.out 2>vg.err
rc=$?
set -e
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "vgpu on two GPUs: srun exited $rc"
! grep -q '^ran' vg.out || fail "vgpu on two GPUs: the task ran"
grep -q "Slurm gave this step 2 GPUs here (0,1) and a vgpu lease covers one .*; the step fails (plugstack.conf: required=yes)" vg.err ||
    { cat vg.err >&2; fail "vgpu on two GPUs: not the plugin's message"; }
[ "$(leases_active "$sock")" = 0 ] || fail "a refused two-GPU vgpu step left a lease"

# MIG types: scontrol lists them (above), but Debian 12's Slurm 22.05 refuses a job asking for
# one, as docs/slurm.md ("Limits of this version") says; should this change, update that page
slurm_wait_idle
set +e
timeout "$SLURM_T" srun -c1 --gres=gpu:nvidia_a100_1g.5gb:1 true >mig.out 2>mig.err
rc=$?
set -e
[ "$rc" != 0 ] && [ "$rc" != 124 ] || { cat mig.err >&2; fail "a MIG GRES job: srun exited $rc"; }
grep -q "Invalid generic resource" mig.err || { cat mig.err >&2; fail "a MIG GRES job: not Slurm's refusal"; }
echo "a MIG GRES job, as Slurm 22.05 answers it: $(grep "Invalid generic resource" mig.err)"
echo "slurm_gres: ok ($gres)"
