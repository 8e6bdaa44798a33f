# Sourced by the real-GPU checks (tests/gpu/*.sh): skip rules, paths, and a
# run directory of the test's own. Unlike tests/integration, nothing here is
# simulated: gpuplex and the interposer talk to the machine's libcuda.so.1 and
# libnvidia-ml.so.1.
# shellcheck shell=sh

# skip MESSAGE: the check cannot run here; CTest reports it as skipped.
skip() {
    echo "SKIP: $*"
    exit 77
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# need_gpu: an NVIDIA GPU that nvidia-smi can see, or exit 77.
need_gpu() {
    command -v nvidia-smi >/dev/null 2>&1 || skip "no NVIDIA GPU: nvidia-smi is not installed"
    nvidia-smi -L 2>/dev/null | grep -q '^GPU [0-9]' || skip "no NVIDIA GPU: 'nvidia-smi -L' finds none"
}

# need_torch: PyTorch with CUDA, or exit 77.
need_torch() {
    python3 -c "import torch" >/dev/null 2>&1 ||
        skip "PyTorch is not installed (python3 -c 'import torch' fails); install it to run this check"
    python3 -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" >/dev/null 2>&1 ||
        skip "PyTorch has no CUDA here (torch.cuda.is_available() is False: a CPU-only build?)"
}

# json EXPR FILE: a Python expression over the JSON in FILE (bound to j).
json() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' "$1" "$2"
}

need_gpu
: "${BUILD_DIR:?set BUILD_DIR to the build directory (e.g. BUILD_DIR=build)}"
: "${SRC_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
GPX=$BUILD_DIR/bin/gpuplex
BURN=$BUILD_DIR/bin/gpuplex-burn
# GPU_INDEX: which GPU (NVML index) the checks lease; OUT_DIR: where the figures go.
GPU_INDEX=${GPU_INDEX:-0}
OUT_DIR=${OUT_DIR:-$BUILD_DIR/gpu-results}

for f in "$GPX" "$BURN" "$BUILD_DIR/lib/libgpuplex-cuda.so"; do
    [ -e "$f" ] || fail "$f is missing: build first (cmake --build $BUILD_DIR)"
done

# The real driver: no simulator, no driver directory override.
unset GPUPLEX_SIM GPUPLEX_DRIVER_DIR GPUPLEX_LEASE LD_PRELOAD CUDA_VISIBLE_DEVICES
# At exit: stop what the check started (PIDS), remove its leases (LEASES),
# and its temporary directory when it made one (run by hand, not by CTest).
PIDS=""
LEASES=""
OWN_TMP=""
on_exit() {
    for p in $PIDS; do kill "$p" 2>/dev/null || :; done
    # shellcheck disable=SC2086 # one word per lease id
    [ -z "$LEASES" ] || "$GPX" lease rm $LEASES >/dev/null 2>&1 || :
    [ -z "$OWN_TMP" ] || rm -rf "$OWN_TMP"
}
trap on_exit EXIT
if [ -z "${TEST_TMP:-}" ]; then
    TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/gpx-gpu.XXXXXX")
    OWN_TMP=$TEST_TMP
    cd "$TEST_TMP" || exit 1
fi
export GPUPLEX_RUN_DIR="$TEST_TMP/run"
export GPUPLEX_STATE_DIR="$TEST_TMP/state" # the lease engine's ledger, in-process
mkdir -p "$OUT_DIR"

GPU_NAME=$(nvidia-smi -i "$GPU_INDEX" --query-gpu=name --format=csv,noheader 2>/dev/null || :)
GPU_DRIVER=$(nvidia-smi -i "$GPU_INDEX" --query-gpu=driver_version --format=csv,noheader 2>/dev/null || :)
[ -n "$GPU_NAME" ] || skip "no GPU with index $GPU_INDEX"
export GPU_NAME GPU_DRIVER OUT_DIR

# lease ARGS...: creates a lease on GPU_INDEX, removed at exit; its id in LEASE_ID.
lease() {
    LEASE_ID=$("$GPX" lease create --gpu "$GPU_INDEX" "$@" 2>lease.err) ||
        fail "gpuplex lease create --gpu $GPU_INDEX $*: $(cat lease.err)"
    LEASES="$LEASES $LEASE_ID"
}
