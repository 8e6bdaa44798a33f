#!/bin/sh
# Issue 16's GPU check: `gpuplex bench` on a real GPU. Runs the seed's table for this node
# twice: with the default workload (gpuplex-burn: kernels, copies, allocations), and, when
# PyTorch with CUDA imports, with a PyTorch training loop (an MLP, fp16 autocast, AdamW; its
# samples/s the figure, --metric). MIG rows are refused unless the GPU is already in MIG mode,
# container rows unless BENCH_IMAGE names a local podman image, vm rows (no guest booted).
#
# Checked, loosely: bare, exclusive, vgpu and timeslice-1 within 0.8-1.2 of bare (the default
# workload), vgpu-cap (50 %) below 0.75, and timeslice-2's aggregate at least 0.8.
# Tables: $OUT_DIR/bench_<gpu>.txt and .json (and bench_<gpu>_torch.*), and copies in the
# source tree, bench/modes/<gpu>.txt / .json (<gpu>: the GPU's name, lowercased, '-' for
# anything else), to be committed with the command that made them.
#
# Exit 77 (skipped) without an NVIDIA GPU; the PyTorch part is skipped (said so) without torch.
# By hand: BUILD_DIR=build tests/gpu/bench.sh
# Environment: GPU_INDEX (default 0), OUT_DIR, RUNS (default 3), DURATION_MS (default 3000),
# BENCH_IMAGE (a podman image with gpuplex-burn for the container row), TORCH_STEPS (300).
set -eu
# shellcheck source=tests/gpu/lib.sh
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-3}
DURATION_MS=${DURATION_MS:-3000}
TORCH_STEPS=${TORCH_STEPS:-300}
slug=$(printf '%s' "$GPU_NAME" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9' '-' | sed 's/--*/-/g; s/^-//; s/-$//')
COMMIT_DIR="$SRC_DIR/bench/modes"
mkdir -p "$COMMIT_DIR"
echo "GPU $GPU_INDEX: $GPU_NAME (driver $GPU_DRIVER)"

# bench NAME ARGS...: one table, kept in $OUT_DIR and bench/modes/
bench() {
    b_name=$1
    shift
    "$GPX" bench --gpu "$GPU_INDEX" --runs "$RUNS" ${BENCH_IMAGE:+--image "$BENCH_IMAGE"} \
        --output "$OUT_DIR/$b_name.json" "$@" >"$OUT_DIR/$b_name.txt" ||
        fail "gpuplex bench $*: exit $?"
    cat "$OUT_DIR/$b_name.txt"
    {
        echo "# gpuplex bench on $GPU_NAME (driver $GPU_DRIVER), $(date -u +%Y-%m-%d)"
        echo "# command: gpuplex bench --runs $RUNS $*"
        cat "$OUT_DIR/$b_name.txt"
    } >"$COMMIT_DIR/${b_name#bench_}.txt"
    cp "$OUT_DIR/$b_name.json" "$COMMIT_DIR/${b_name#bench_}.json"
}

bench "bench_$slug" --duration-ms "$DURATION_MS"
f="$OUT_DIR/bench_$slug.json"
row() { echo "[r for r in j['rows'] if r['mode'] == '$1'][0]"; }
for m in exclusive vgpu timeslice-1; do
    [ "$(json "0.8 < $(row $m)['relative_to_bare'] < 1.2" "$f")" = True ] ||
        fail "$m: $(json "$(row $m)" "$f")"
done
[ "$(json "$(row vgpu-cap)['relative_to_bare'] < 0.75" "$f")" = True ] ||
    fail "vgpu-cap is not capped: $(json "$(row vgpu-cap)" "$f")"
[ "$(json "$(row timeslice-2)['aggregate'] >= 0.8" "$f")" = True ] ||
    fail "timeslice-2 aggregate: $(json "$(row timeslice-2)" "$f")"
[ "$(json "j['node']['simulated']" "$f")" = False ] || fail "the real driver reads as simulated"

if ! python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" >/dev/null 2>&1; then
    echo "SKIP (part): PyTorch with CUDA is not importable; the training-loop table is not made"
    exit 0
fi
cat >train.py <<'EOF'
"""A small training loop: an MLP on random data, fp16 autocast, AdamW. Prints the samples per
second of the timed steps (after a warm-up), the figure gpuplex bench reads."""
import sys, time
import torch

steps = int(sys.argv[1])
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4096, 8192), torch.nn.GELU(),
                            torch.nn.Linear(8192, 4096), torch.nn.GELU(),
                            torch.nn.Linear(4096, 1000)).cuda()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
x = torch.randn(512, 4096, device="cuda")
y = torch.randint(0, 1000, (512,), device="cuda")
def step():
    with torch.autocast("cuda", dtype=torch.float16):
        loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
for _ in range(20):
    step()
torch.cuda.synchronize()
t0 = time.perf_counter()
for _ in range(steps):
    step()
torch.cuda.synchronize()
print(f"samples/s: {steps * x.shape[0] / (time.perf_counter() - t0):.1f}")
EOF
# (no container row: train.py and PyTorch are on this host, not in BENCH_IMAGE)
bench "bench_${slug}_torch" --modes bare,exclusive,vgpu,vgpu-cap,mig,timeslice,vm \
    --metric 'samples/s: ([0-9.]+)' -- python3 "$PWD/train.py" "$TORCH_STEPS"
echo "tables: $COMMIT_DIR/$slug.txt, $COMMIT_DIR/${slug}_torch.txt"
