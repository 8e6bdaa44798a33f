#!/bin/sh
# Issue 11's GPU check: the CDI spec `gpuplex cdi generate` writes on a real GPU host lists the
# real driver files and device nodes (docs/containers.md), and, where podman and a local image
# are there, a container with a lease's device runs nvidia-smi.
#
#   - every GPU's device (index and UUID) has exactly its /dev/nvidia<minor> (the minor
#     nvidia-smi reports), which exists on the host as a character device;
#   - the common edits have /dev/nvidiactl (and /dev/nvidia-uvm when the host has it) and
#     mount libcuda.so.1 and libnvidia-ml.so.1 (the files `ldconfig -p` names, resolved) and
#     nvidia-smi, read-only;
#   - a vgpu lease's device mounts the interposer and the lease's region.
# The spec goes to $OUT_DIR/cdi_spec.json for inspection.
#
# Exit 77 (skipped) without an NVIDIA GPU. No PyTorch needed.
# By hand: BUILD_DIR=build tests/gpu/cdi_spec.sh
# Environment: GPU_INDEX (default 0), OUT_DIR, CDI_IMAGE (a local image with a shell, for the
# optional podman run; none: that part is skipped).
set -eu
# shellcheck source=tests/gpu/lib.sh
. "$(dirname "$0")/lib.sh"

echo "GPU $GPU_INDEX: $GPU_NAME (driver $GPU_DRIVER)"
export GPUPLEX_CONFIG=/dev/null # the defaults: /dev, the ld.so cache
lease --mode vgpu --memory 2G
id=$LEASE_ID
"$GPX" cdi generate >"$OUT_DIR/cdi_spec.json"
uuid=$(nvidia-smi -i "$GPU_INDEX" --query-gpu=uuid --format=csv,noheader)
minor=$(nvidia-smi -i "$GPU_INDEX" -q | sed -n 's/^ *Minor Number *: *//p' | head -1)
cuda=$(ldconfig -p | sed -n 's/.*libcuda\.so\.1 (.*x86-64.*) => //p;s/.*libcuda\.so\.1 (.*AArch64.*) => //p' | head -1)
nvml=$(ldconfig -p | sed -n 's/.*libnvidia-ml\.so\.1 (.*x86-64.*) => //p;s/.*libnvidia-ml\.so\.1 (.*AArch64.*) => //p' | head -1)
echo "ldconfig -p: libcuda.so.1 => $cuda, libnvidia-ml.so.1 => $nvml; minor ${minor:-unknown}"

python3 - "$OUT_DIR/cdi_spec.json" "$GPU_INDEX" "$uuid" "$id" "$cuda" "$nvml" "${minor:-}" <<'EOF'
import json, os, stat, sys
path, index, uuid, lid, cuda, nvml, minor = sys.argv[1:]
s = json.load(open(path))
dev = {d["name"]: d["containerEdits"] for d in s["devices"]}
problems = []
for name in (index, uuid):
    nodes = [n["path"] for n in dev[name]["deviceNodes"]]
    if len(nodes) != 1 or not nodes[0].startswith("/dev/nvidia"):
        problems.append("%s: nodes %s" % (name, nodes))
    elif minor and nodes[0] != "/dev/nvidia" + minor:
        problems.append("%s: %s, but the GPU's minor is %s" % (name, nodes[0], minor))
    for n in dev[name]["deviceNodes"]:
        if not stat.S_ISCHR(os.stat(n["hostPath"]).st_mode):
            problems.append("%s: %s is not a character device" % (name, n["hostPath"]))
c = s["containerEdits"]
cn = [n["path"] for n in c["deviceNodes"]]
if "/dev/nvidiactl" not in cn:
    problems.append("no /dev/nvidiactl in %s" % cn)
if os.path.exists("/dev/nvidia-uvm") and "/dev/nvidia-uvm" not in cn:
    problems.append("no /dev/nvidia-uvm in %s" % cn)
mounts = {m["containerPath"]: m for m in c["mounts"]}
for want in (cuda, nvml):
    if not want or want not in mounts:
        problems.append("%r is not mounted (mounts: %s)" % (want, sorted(mounts)))
    elif os.path.realpath(want) != mounts[want]["hostPath"] or "ro" not in mounts[want]["options"]:
        problems.append("%s: %s" % (want, mounts[want]))
if not any(p.endswith("/nvidia-smi") for p in mounts):
    problems.append("nvidia-smi is not mounted")
lm = [m["containerPath"] for m in dev["lease-" + lid]["mounts"]]
if not any(p.endswith("libgpuplex-cuda.so") for p in lm) or not any(p.endswith(lid + ".usage") for p in lm):
    problems.append("lease-%s mounts %s" % (lid, lm))
print("%d devices, %d driver files mounted:" % (len(dev), len(mounts)))
for p in sorted(mounts):
    print("   ", p, "<-", mounts[p]["hostPath"])
if problems:
    print("FAIL:", *problems, sep="\n  ")
    sys.exit(1)
EOF

if command -v podman >/dev/null 2>&1 && [ -n "${CDI_IMAGE:-}" ]; then
    mkdir -p "$TEST_TMP/cdi"
    cp "$OUT_DIR/cdi_spec.json" "$TEST_TMP/cdi/gpuplex.json"
    # shellcheck disable=SC2016 # expanded by the inner shell
    unshare --mount --propagation private sh -c 'mount --bind "$1" /run/cdi &&
        exec podman run --rm --network none --device "gpuplex.dev/gpu=lease-$2" "$3" nvidia-smi -L' \
        sh "$TEST_TMP/cdi" "$id" "$CDI_IMAGE" || fail "podman run --device gpuplex.dev/gpu=lease-$id"
else
    echo "podman run skipped: set CDI_IMAGE to a local image (and install podman) for it"
fi
echo "ok"
