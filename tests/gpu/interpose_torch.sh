#!/bin/sh
# Issue 3's GPU check: the interposer's memory quota on a real GPU, as
# PyTorch and gpuplex-burn see it, and the interposer's overhead against the
# real driver (bench/interpose/run --real).
#
# Under a 4 GiB vgpu lease (gpuplex lease create --memory 4G):
#   - torch.cuda.mem_get_info() reports 4 GiB total, and so does
#     torch.cuda.get_device_properties(0).total_memory (cuDeviceTotalMem_v2,
#     reached through cuGetProcAddress of the real driver: issue 17);
#   - allocating 5 GiB raises torch.OutOfMemoryError (torch.cuda.OutOfMemoryError);
#   - allocating 3 GiB succeeds (and a kernel writes it);
#   - gpuplex-burn gets 4 GiB in 256 MiB chunks and is refused past it, while
#     the same burn without the lease gets all it asks for.
# Figures: $OUT_DIR/interpose_torch.json and $OUT_DIR/interpose_bench_real.json
# (printed too), with the GPU's name; copy them into bench/interpose/RESULTS.md.
#
# Exit 77 (skipped) without an NVIDIA GPU or without PyTorch with CUDA.
# By hand: BUILD_DIR=build tests/gpu/interpose_torch.sh
# Environment: GPU_INDEX (default 0), OUT_DIR (default $BUILD_DIR/gpu-results),
# BENCH_ARGS (default "--runs 5 --launches 200000 --allocs 100000").
set -eu
# shellcheck source=tests/gpu/lib.sh
. "$(dirname "$0")/lib.sh"
need_torch

echo "GPU $GPU_INDEX: $GPU_NAME (driver $GPU_DRIVER)"
lease --memory 4G
id=$LEASE_ID

cat >quota.py <<'EOF'
import json, sys
import torch

GiB = 1 << 30
OOM = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
res = {"torch": torch.__version__, "torch_cuda": torch.version.cuda,
       "device_name": torch.cuda.get_device_name(0)}
free, total = torch.cuda.mem_get_info()
res["mem_get_info"] = {"free": free, "total": total}
res["total_memory"] = torch.cuda.get_device_properties(0).total_memory
try:
    x = torch.empty(5 * GiB, dtype=torch.uint8, device="cuda")
    res["alloc_5gib"] = "succeeded"
    del x
except OOM as e:
    res["alloc_5gib"] = "OutOfMemoryError"
    res["alloc_5gib_message"] = str(e).splitlines()[0][:200]
torch.cuda.empty_cache()
try:
    y = torch.empty(3 * GiB, dtype=torch.uint8, device="cuda")
    y.fill_(7)
    torch.cuda.synchronize()
    res["alloc_3gib"] = "succeeded" if int(y[-1]) == 7 else "wrong contents"
    res["allocated_after_3gib"] = torch.cuda.memory_allocated()
    free, total = torch.cuda.mem_get_info()
    res["mem_get_info_after_3gib"] = {"free": free, "total": total}
    del y
except OOM as e:
    res["alloc_3gib"] = "OutOfMemoryError: " + str(e).splitlines()[0][:200]
print(json.dumps(res))
EOF

# PyTorch under the lease.
"$GPX" run --lease "$id" -- python3 quota.py >torch.json 2>torch.err ||
    fail "PyTorch under the lease: $(tail -5 torch.err)"
echo "PyTorch under a 4 GiB lease: $(cat torch.json)"
GiB=1073741824
[ "$(json 'j["mem_get_info"]["total"]' torch.json)" = $((4 * GiB)) ] ||
    fail "torch.cuda.mem_get_info total is $(json 'j["mem_get_info"]["total"]' torch.json), not 4 GiB"
[ "$(json 'j["total_memory"]' torch.json)" = $((4 * GiB)) ] ||
    fail "get_device_properties(0).total_memory is $(json 'j["total_memory"]' torch.json), not 4 GiB"
[ "$(json 'j["alloc_5gib"]' torch.json)" = OutOfMemoryError ] ||
    fail "allocating 5 GiB under a 4 GiB lease: $(json 'j["alloc_5gib"]' torch.json)"
[ "$(json 'j["alloc_3gib"]' torch.json)" = succeeded ] ||
    fail "allocating 3 GiB under a 4 GiB lease: $(json 'j["alloc_3gib"]' torch.json)"
# The same program without a lease sees the whole GPU (the quota is the lease's).
python3 quota.py >torch_nolease.json 2>torch_nolease.err ||
    fail "PyTorch without a lease: $(tail -5 torch_nolease.err)"
[ "$(json 'j["total_memory"] > 4 * 2**30' torch_nolease.json)" = True ] ||
    fail "without a lease total_memory is $(json 'j["total_memory"]' torch_nolease.json)"

# gpuplex-burn (driver API, real PTX spin kernel) under the lease, and without.
"$GPX" run --lease "$id" -- "$BURN" --alloc-mib 5120 --chunk-mib 256 --kernels 200 \
    --kernel-ns 1000000 --json >burn.json 2>burn.err || fail "burn under the lease: $(cat burn.err)"
echo "gpuplex-burn under the lease: $(cat burn.json)"
[ "$(json 'j["refused"]' burn.json)" = 1 ] || fail "burn was not refused past 4 GiB: $(cat burn.json)"
[ "$(json '3840 <= j["allocated_mib"] <= 4096' burn.json)" = True ] ||
    fail "burn allocated $(json 'j["allocated_mib"]' burn.json) MiB under a 4 GiB lease"
[ "$(json 'j["mem_total_mib"]' burn.json)" = 4096 ] ||
    fail "cuMemGetInfo total under the lease: $(json 'j["mem_total_mib"]' burn.json) MiB"
"$BURN" --alloc-mib 5120 --chunk-mib 256 --json >burn_nolease.json 2>burn_nolease.err ||
    fail "burn without a lease: $(cat burn_nolease.err)"
[ "$(json '(j["allocated_mib"], j["refused"])' burn_nolease.json)" = "(5120, 0)" ] ||
    fail "burn without a lease: $(cat burn_nolease.json)"

# The interposer's overhead against this machine's driver.
# shellcheck disable=SC2086 # BENCH_ARGS is a list of words
"$SRC_DIR/bench/interpose/run" --real --json --build "$BUILD_DIR" \
    ${BENCH_ARGS:---runs 5 --launches 200000 --allocs 100000} >bench.json 2>bench.err ||
    fail "bench/interpose/run --real: $(cat bench.err)"

python3 - "$GPU_NAME" "$GPU_DRIVER" "$OUT_DIR" <<'EOF'
import json, os, sys
name, driver, d = sys.argv[1], sys.argv[2], sys.argv[3]
load = lambda f: json.load(open(f))
bench = load("bench.json")
bench["gpu"] = name
bench["driver"] = driver
out = {
    "gpu": name,
    "driver": driver,
    "lease_memory_bytes": 4 << 30,
    "torch": load("torch.json"),
    "torch_without_lease": load("torch_nolease.json"),
    "burn": load("burn.json"),
    "burn_without_lease": load("burn_nolease.json"),
    "bench_interpose_real": {k: bench[k] for k in bench if k != "raw"},
}
json.dump(out, open(os.path.join(d, "interpose_torch.json"), "w"), indent=2)
json.dump(bench, open(os.path.join(d, "interpose_bench_real.json"), "w"), indent=2)
print(json.dumps(out, indent=2))
EOF
echo "figures written to $OUT_DIR/interpose_torch.json and $OUT_DIR/interpose_bench_real.json"
