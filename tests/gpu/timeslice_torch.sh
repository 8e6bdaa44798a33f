#!/bin/sh
# Issues 4 and 18's GPU check: weighted time-slicing and a compute cap on a
# real GPU. Two PyTorch matmul loops (fp16, N x N, synchronizing every few
# matmuls) run side by side under two timeslice leases of weights 1 and 3 on
# one GPU, for SECONDS each, started together after both have warmed up;
# then one loop alone under its lease, one alone under a vgpu lease capped at
# 30 %, and one without any lease. Reported: matmuls done, each tenant's
# share (expected 0.25 / 0.75: identical work, so matmul counts are GPU-time
# shares), the aggregate throughput of the pair over one loop alone, the
# capped loop's matmuls over the bare loop's (cap30_share, expected 0.30),
# and what the leases' regions say (GPU time granted, waits, turns, drains),
# under the keys bench/timeslice/RESULTS.md uses.
#
# Checked, loosely (the bench holds the tight figures): the weight-1 share
# within SHARE_TOL (default 0.07) of 0.25, the aggregate at least AGG_MIN
# (default 0.85) of one loop alone, and cap30_share within CAP_TOL (default
# 0.05) of 0.30.
# Figures: $OUT_DIR/timeslice_torch.json (printed too), with the GPU's name;
# copy them into bench/timeslice/RESULTS.md.
#
# Exit 77 (skipped) without an NVIDIA GPU or without PyTorch with CUDA.
# By hand: BUILD_DIR=build tests/gpu/timeslice_torch.sh
# Environment: GPU_INDEX (default 0), OUT_DIR, SECONDS_EACH (default 20),
# MM_N (default 4096), SHARE_TOL, AGG_MIN, CAP_TOL, CAP_MEMORY (the capped
# lease's memory quota, default 16G).
set -eu
# shellcheck source=tests/gpu/lib.sh
. "$(dirname "$0")/lib.sh"
need_torch

SECONDS_EACH=${SECONDS_EACH:-20}
MM_N=${MM_N:-4096}
SHARE_TOL=${SHARE_TOL:-0.07}
AGG_MIN=${AGG_MIN:-0.85}
CAP_TOL=${CAP_TOL:-0.05}
CAP_MEMORY=${CAP_MEMORY:-16G}
echo "GPU $GPU_INDEX: $GPU_NAME (driver $GPU_DRIVER)"

lease --mode timeslice --weight 1
w1=$LEASE_ID
lease --mode timeslice --weight 3
w3=$LEASE_ID
lease --mode vgpu --memory "$CAP_MEMORY" --cap 30
c30=$LEASE_ID

cat >mm.py <<'EOF'
"""A matmul loop: warm up, say ready, wait for the common start, count the
matmuls finished in [start, start + seconds) (batches that end later do not
count), and print JSON with a per-second timeline."""
import json, os, sys, time
import torch

ready, go, seconds, n = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
BATCH = 8
a = torch.randn(n, n, device="cuda", dtype=torch.float16)
b = torch.randn(n, n, device="cuda", dtype=torch.float16)
for _ in range(20):
    c = a @ b
torch.cuda.synchronize()
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
start = float(open(go).read())
while time.time() < start:
    time.sleep(min(0.005, max(0.0, start - time.time())))
end = start + seconds
done, timeline = 0, [0] * int(seconds + 1)
while True:
    for _ in range(BATCH):
        c = a @ b
    torch.cuda.synchronize()
    now = time.time()
    if now >= end:
        break
    done += BATCH
    timeline[int(now - start)] += BATCH
flops = 2.0 * n ** 3 * done
print(json.dumps({"matmuls": done, "seconds": seconds, "n": n, "tflops": flops / seconds / 1e12,
                  "per_second": timeline[:int(seconds)], "device": torch.cuda.get_device_name(0)}))
EOF

# run_loops NAME LEASE|- [NAME LEASE|-]...: runs the loops together; NAME.json each.
run_loops() {
    names=""
    PIDS=""
    while [ $# -gt 0 ]; do
        rm -f "$1.ready" go
        if [ "$2" = - ]; then
            python3 mm.py "$1.ready" go "$SECONDS_EACH" "$MM_N" >"$1.json" 2>"$1.err" &
        else
            "$GPX" run --lease "$2" -- python3 mm.py "$1.ready" go "$SECONDS_EACH" "$MM_N" \
                >"$1.json" 2>"$1.err" &
        fi
        PIDS="$PIDS $!"
        names="$names $1"
        shift 2
    done
    i=0
    for n in $names; do
        while [ ! -e "$n.ready" ]; do
            i=$((i + 1))
            [ $i -lt 6000 ] || fail "$n did not warm up in 300 s: $(tail -5 "$n.err")"
            sleep 0.05
        done
    done
    python3 -c 'import time; print(time.time() + 0.5)' >go.tmp && mv go.tmp go
    for p in $PIDS; do
        wait "$p" || fail "a matmul loop failed: $(tail -5 ./*.err)"
    done
    PIDS=""
    rm -f go
}

run_loops alone "$w1"
run_loops pair_w1 "$w1" pair_w3 "$w3"
run_loops capped "$c30"
run_loops bare -
"$GPX" lease ls --json >leases.json

python3 - "$w1" "$w3" "$SHARE_TOL" "$AGG_MIN" "$c30" "$CAP_TOL" <<'EOF' || exit 1
import json, os, sys
w1, w3, tol, agg_min = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
c30, cap_tol = sys.argv[5], float(sys.argv[6])
load = lambda f: json.load(open(f))
alone, bare, p1, p3 = load("alone.json"), load("bare.json"), load("pair_w1.json"), load("pair_w3.json")
capped = load("capped.json")
cap30 = capped["matmuls"] / bare["matmuls"] if bare["matmuls"] else 0.0
leases = {l["id"]: l for l in load("leases.json")}
both = p1["matmuls"] + p3["matmuls"]
share1 = p1["matmuls"] / both if both else 0.0
aggregate = both / alone["matmuls"] if alone["matmuls"] else 0.0
keep = ("weight", "gpu_seconds", "wait_seconds", "turns", "drains", "wait_p99_ms")
out = {
    "gpu": os.environ["GPU_NAME"],
    "driver": os.environ["GPU_DRIVER"],
    "device_torch": alone["device"],
    "n": alone["n"],
    "seconds": alone["seconds"],
    "alone_matmuls": alone["matmuls"],
    "alone_tflops": round(alone["tflops"], 1),
    "bare_matmuls": bare["matmuls"],
    "alone_vs_bare": round(alone["matmuls"] / bare["matmuls"], 4) if bare["matmuls"] else None,
    "pair_matmuls": {"w1": p1["matmuls"], "w3": p3["matmuls"]},
    "share_1_3": [round(share1, 4), round(1 - share1, 4)],
    "share_error": round(share1 - 0.25, 4),
    "aggregate_ratio_2": round(aggregate, 4),
    "cap30_share": round(cap30, 4),
    "cap30_matmuls": capped["matmuls"],
    "per_second": {"w1": p1["per_second"], "w3": p3["per_second"],
                   "cap30": capped["per_second"]},
    "leases": {"w1": {k: leases.get(w1, {}).get(k) for k in keep},
               "w3": {k: leases.get(w3, {}).get(k) for k in keep},
               "cap30": {k: leases.get(c30, {}).get(k) for k in keep + ("cap",)}},
}
json.dump(out, open(os.path.join(os.environ["OUT_DIR"], "timeslice_torch.json"), "w"), indent=2)
print(json.dumps(out, indent=2))
bad = []
if abs(share1 - 0.25) > tol:
    bad.append("weight-1 share %.3f is not 0.25 +- %.2f" % (share1, tol))
if aggregate < agg_min:
    bad.append("aggregate %.3f of one loop alone is below %.2f" % (aggregate, agg_min))
if abs(cap30 - 0.30) > cap_tol:
    bad.append("a loop capped at 30 %% got %.3f of the bare loop's matmuls (0.30 +- %.2f)"
               % (cap30, cap_tol))
print("| share_1_3 | aggregate_ratio_2 | cap30_share | alone_vs_bare |")
print("|---|---|---|---|")
print("| %.4f / %.4f | %.4f | %.4f | %s |" % (share1, 1 - share1, aggregate, cap30,
                                            out["alone_vs_bare"]))
if bad:
    sys.exit("FAIL: " + "; ".join(bad))
EOF
echo "figures written to $OUT_DIR/timeslice_torch.json"
