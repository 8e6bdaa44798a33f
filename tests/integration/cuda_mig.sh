# MIG devices in the simulated CUDA driver: instances made with `gpuplex mig
# apply` on a simulated H100, used through CUDA_VISIBLE_DEVICES=MIG-<uuid>.
# The device has the instance's name, memory and SM count; allocations past
# the instance are refused (the same burn on a whole GPU succeeds), also when
# two processes race on one instance; NVML lists the process with its GPU and
# compute instance ids; only the first MIG device of the list is visible; each
# MIG device has its own engine.
. "$SRC_DIR/tests/integration/lib.sh"
BURN=$BUILD_DIR/bin/gpuplex-burn
SIMLIB=$BUILD_DIR/lib/sim

"$GPX" sim init --gpus 2xH100-80GB --state "$GPUPLEX_SIM" >/dev/null
"$GPX" mig apply --gpu 0 --demand 3g.40gb=1,1g.10gb=2 >apply.txt
"$GPX" mig ls --json >ls.json
# uuid PROFILE N: the MIG device UUID of the Nth (0-based) instance of PROFILE on GPU 0
uuid() {
    json "[i['uuid'] for i in j[0]['instances'] if i['profile'] == '$1'][$2]" ls.json
}
gi_of() {
    json "[i['gpu_instance_id'] for i in j[0]['instances'] if i['uuid'] == '$1'][0]" ls.json
}
big=$(uuid 3g.40gb 0)
small=$(uuid 1g.10gb 0)
small2=$(uuid 1g.10gb 1)
[ "$(json "[i['memory_mib'] for i in j[0]['instances'] if i['uuid'] == '$big'][0]" ls.json)" = 40448 ] ||
    fail "3g.40gb memory in mig ls"

# The device is the instance: name, memory (cuDeviceTotalMem, cuMemGetInfo).
CUDA_VISIBLE_DEVICES=$big "$BURN" --alloc-mib 40448 --chunk-mib 512 --kernels 2 --json >b.json ||
    fail "burn on $big: $(cat b.json)"
[ "$(json 'j["device_name"]' b.json)" = "NVIDIA H100 80GB HBM3 MIG 3g.40gb" ] ||
    fail "device name: $(json 'j["device_name"]' b.json)"
[ "$(json 'j["mem_total_mib"]' b.json)" = 40448 ] || fail "mem_total_mib $(json 'j["mem_total_mib"]' b.json)"
[ "$(json '(j["allocated_mib"], j["refused"], j["kernels"])' b.json)" = "(40448, 0, 2)" ] ||
    fail "the whole instance: $(cat b.json)"

# Past the instance: refused there, while the same burn on a whole H100 succeeds.
for api in alloc pitch managed vmm async; do
    CUDA_VISIBLE_DEVICES=$big "$BURN" --api "$api" --alloc-mib 41984 --chunk-mib 512 --json >m.json ||
        fail "--api $api on the MIG device: $(cat m.json)"
    [ "$(json '(j["allocated_mib"], j["refused"])' m.json)" = "(40448, 1)" ] ||
        fail "--api $api past the instance: $(cat m.json)"
done
CUDA_VISIBLE_DEVICES=1 "$BURN" --alloc-mib 41984 --chunk-mib 512 --json >w.json
[ "$(json '(j["allocated_mib"], j["refused"], j["device_name"])' w.json)" = \
  "(41984, 0, 'NVIDIA H100 80GB HBM3')" ] || fail "whole GPU: $(cat w.json)"
# A 1g.10gb (9984 MiB): 9 chunks of 1 GiB fit, the 10th does not.
CUDA_VISIBLE_DEVICES=$small "$BURN" --alloc-mib 12288 --chunk-mib 1024 --json >s.json
[ "$(json '(j["allocated_mib"], j["refused"], j["mem_total_mib"])' s.json)" = "(9216, 1, 9984)" ] ||
    fail "1g.10gb: $(cat s.json)"

# What the driver API shows (SM count, count, UUIDs): one MIG device per process.
cat >q.py <<'EOF'
import ctypes, os, sys
cu = ctypes.CDLL(os.path.join(sys.argv[1], "libcuda.so.1"))
def ok(r, what):
    if r != 0:
        sys.exit("%s: %d" % (what, r))
ok(cu.cuInit(0), "cuInit")
n = ctypes.c_int()
ok(cu.cuDeviceGetCount(ctypes.byref(n)), "count")
out = []
for d in range(n.value):
    name = ctypes.create_string_buffer(128)
    ok(cu.cuDeviceGetName(name, 128, d), "name")
    sms, mem = ctypes.c_int(), ctypes.c_size_t()
    ok(cu.cuDeviceGetAttribute(ctypes.byref(sms), 16, d), "attribute")  # MULTIPROCESSOR_COUNT
    ok(cu.cuDeviceTotalMem_v2(ctypes.byref(mem), d), "total")
    u2, u1 = ctypes.create_string_buffer(16), ctypes.create_string_buffer(16)
    ok(cu.cuDeviceGetUuid_v2(u2, d), "uuid v2")
    ok(cu.cuDeviceGetUuid(u1, d), "uuid")
    h = u2.raw.hex()
    out.append("%s|%d|%d|MIG-%s-%s-%s-%s-%s|%s" % (name.value.decode(), sms.value, mem.value >> 20,
               h[:8], h[8:12], h[12:16], h[16:20], h[20:], u1.raw != u2.raw))
print(";".join(out))
EOF
q() { python3 q.py "$SIMLIB"; }
[ "$(CUDA_VISIBLE_DEVICES=$big q)" = "NVIDIA H100 80GB HBM3 MIG 3g.40gb|60|40448|$big|True" ] ||
    fail "driver view of $big: $(CUDA_VISIBLE_DEVICES=$big q)"
[ "$(CUDA_VISIBLE_DEVICES=$small q)" = "NVIDIA H100 80GB HBM3 MIG 1g.10gb|16|9984|$small|True" ] ||
    fail "driver view of $small: $(CUDA_VISIBLE_DEVICES=$small q)"
# Only the first MIG device of the list; whole GPUs beside it stay.
CUDA_VISIBLE_DEVICES="$small,$big,1" q >l.txt
[ "$(tr ';' '\n' <l.txt | cut -d'|' -f1,4)" = "NVIDIA H100 80GB HBM3 MIG 1g.10gb|$small
NVIDIA H100 80GB HBM3|MIG-$(json 'j[1]["uuid"][4:]' ls.json)" ] ||
    fail "list of two MIG devices and a GPU: $(cat l.txt)"
# A MIG-enabled GPU named by index (or visible by default) is its first MIG device.
CUDA_VISIBLE_DEVICES=0 q | grep -q "^NVIDIA H100 80GB HBM3 MIG 3g.40gb|60|" ||
    fail "CUDA_VISIBLE_DEVICES=0: $(CUDA_VISIBLE_DEVICES=0 q)"
[ "$(env -u CUDA_VISIBLE_DEVICES python3 q.py "$SIMLIB" | tr ';' '\n' | cut -d'|' -f1)" = \
  "NVIDIA H100 80GB HBM3 MIG 3g.40gb
NVIDIA H100 80GB HBM3" ] || fail "default enumeration: $(env -u CUDA_VISIBLE_DEVICES python3 q.py "$SIMLIB")"
# NVML's make-up of a MIG device (nvmlDeviceGetAttributes_v2, and the name
# before _v2): its compute instance's SMs and slices, its GPU instance's
# engines, slices and memory, which is also nvmlDeviceGetMemoryInfo's total on
# that handle; a whole GPU's handle is NOT_SUPPORTED (3), as with the driver.
cat >a.py <<'EOF'
import ctypes, os, sys
nv = ctypes.CDLL(os.path.join(sys.argv[1], "libnvidia-ml.so.1"))
class A(ctypes.Structure):
    _fields_ = [(f, ctypes.c_uint) for f in ("sms", "ce", "dec", "enc", "jpeg", "ofa", "gi_slices",
                                               "ci_slices")] + [("mib", ctypes.c_ulonglong)]
class M(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]
assert nv.nvmlInit_v2() == 0
d, a, m = ctypes.c_void_p(), A(), M()
if sys.argv[2].startswith("MIG-"):
    assert nv.nvmlDeviceGetHandleByUUID(sys.argv[2].encode(), ctypes.byref(d)) == 0
else:
    assert nv.nvmlDeviceGetHandleByIndex_v2(int(sys.argv[2]), ctypes.byref(d)) == 0
r1 = nv.nvmlDeviceGetAttributes_v2(d, ctypes.byref(a))
r0 = nv.nvmlDeviceGetAttributes(d, ctypes.byref(A()))
if r1 != 0:
    print("rc=%d/%d" % (r1, r0))
    sys.exit(0)
assert r0 == 0 and nv.nvmlDeviceGetMemoryInfo(d, ctypes.byref(m)) == 0
print("%d sm %d ce %d dec %d enc %d jpeg %d ofa %d/%d slices %d MiB %s" % (
    a.sms, a.ce, a.dec, a.enc, a.jpeg, a.ofa, a.gi_slices, a.ci_slices, a.mib,
    "=meminfo" if m.total == a.mib << 20 else "!= meminfo %d" % (m.total >> 20)))
EOF
[ "$(python3 a.py "$SIMLIB" "$big")" = "60 sm 3 ce 3 dec 0 enc 3 jpeg 0 ofa 3/3 slices 40448 MiB =meminfo" ] ||
    fail "nvmlDeviceGetAttributes_v2 of $big: $(python3 a.py "$SIMLIB" "$big")"
[ "$(python3 a.py "$SIMLIB" "$small")" = "16 sm 1 ce 1 dec 0 enc 1 jpeg 0 ofa 1/1 slices 9984 MiB =meminfo" ] ||
    fail "nvmlDeviceGetAttributes_v2 of $small: $(python3 a.py "$SIMLIB" "$small")"
for gpu in 0 1; do
    [ "$(python3 a.py "$SIMLIB" $gpu)" = "rc=3/3" ] ||
        fail "nvmlDeviceGetAttributes_v2 of GPU $gpu (a whole GPU): $(python3 a.py "$SIMLIB" $gpu)"
done

# An unknown MIG UUID selects nothing.
expect_rc 1 env CUDA_VISIBLE_DEVICES=MIG-00000000-0000-5000-8000-000000000000 "$BURN"
expect_err "selects none .*gpuplex mig ls"

# A process on a MIG device: NVML lists it with its GPU/compute instance ids
# (by the GPU's handle, and by its MIG device's handle alone), the instance
# counts its memory, and nothing is left after it exits.
cat >p.py <<'EOF'
import ctypes, os, sys
nv = ctypes.CDLL(os.path.join(sys.argv[1], "libnvidia-ml.so.1"))
class P(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint), ("used", ctypes.c_ulonglong),
                ("gi", ctypes.c_uint), ("ci", ctypes.c_uint)]
assert nv.nvmlInit_v2() == 0
d = ctypes.c_void_p()
if len(sys.argv) > 2:  # a MIG device UUID: the driver lists that instance's processes
    assert nv.nvmlDeviceGetHandleByUUID(sys.argv[2].encode(), ctypes.byref(d)) == 0
    for name in ("nvmlDeviceGetGraphicsRunningProcesses_v3", "nvmlDeviceGetMPSComputeRunningProcesses_v3"):
        k = ctypes.c_uint(0)
        assert getattr(nv, name)(d, ctypes.byref(k), None) == 0 and k.value == 0, name
else:
    assert nv.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(d)) == 0
n, buf = ctypes.c_uint(16), (P * 16)()
assert nv.nvmlDeviceGetComputeRunningProcesses_v3(d, ctypes.byref(n), buf) == 0
print(" ".join("%d:%d:%d:%d" % (p.pid, p.used >> 20, p.gi, p.ci) for p in buf[:n.value]))
EOF
gi_small=$(gi_of "$small")
CUDA_VISIBLE_DEVICES=$small "$BURN" --alloc-mib 2048 --chunk-mib 512 --hold-ms 30000 --json >h.json &
pid=$!
i=0
while [ "$(python3 p.py "$SIMLIB")" != "$pid:2048:$gi_small:0" ]; do
    i=$((i + 1))
    [ $i -lt 200 ] || { kill "$pid"; fail "NVML process list: $(python3 p.py "$SIMLIB")"; }
    sleep 0.05
done
# By MIG device handle (what a workload holding CUDA_VISIBLE_DEVICES=MIG-... asks):
# its own instance's processes only.
[ "$(python3 p.py "$SIMLIB" "$small")" = "$pid:2048:$gi_small:0" ] ||
    fail "NVML process list of $small: $(python3 p.py "$SIMLIB" "$small")"
[ "$(python3 p.py "$SIMLIB" "$small2")" = "" ] ||
    fail "NVML process list of $small2 shows another instance's: $(python3 p.py "$SIMLIB" "$small2")"
"$GPX" mig ls --json >ls2.json
[ "$(json "[i['processes'] for i in j[0]['instances'] if i['uuid'] == '$small'][0]" ls2.json)" = 1 ] ||
    fail "mig ls: no process on $small"
# The instance is in use: not destroyed by an exact layout that drops it.
"$GPX" mig apply --gpu 0 --demand 3g.40gb=1 --exact >/dev/null 2>&1 || :
"$GPX" mig ls --json >ls3.json
[ "$(json "len([i for i in j[0]['instances'] if i['uuid'] == '$small'])" ls3.json)" = 1 ] ||
    fail "an instance with a process was destroyed"
kill -9 "$pid"
wait "$pid" 2>/dev/null || :
"$GPX" mig apply --gpu 0 --demand 3g.40gb=1,1g.10gb=2 >/dev/null
"$GPX" mig ls --json >ls.json
small=$(uuid 1g.10gb 0)
small2=$(uuid 1g.10gb 1)
[ "$(python3 p.py "$SIMLIB")" = "" ] || fail "process left: $(python3 p.py "$SIMLIB")"

# Two processes racing to fill one 1g.10gb: together they never pass it.
CUDA_VISIBLE_DEVICES=$small "$BURN" --alloc-mib 8192 --chunk-mib 256 --hold-ms 1500 --json >r1.json &
p1=$!
CUDA_VISIBLE_DEVICES=$small "$BURN" --alloc-mib 8192 --chunk-mib 256 --hold-ms 1500 --json >r2.json &
p2=$!
wait "$p1" || fail "racer 1: $(cat r1.json)"
wait "$p2" || fail "racer 2: $(cat r2.json)"
total=$(($(json 'j["allocated_mib"]' r1.json) + $(json 'j["allocated_mib"]' r2.json)))
[ "$total" -le 9984 ] && [ "$total" -ge 9728 ] || fail "two racers allocated $total MiB of 9984"

# Each MIG device has its own engine: two 0.5 s kernel streams on two instances
# run side by side; on one instance they take turns.
kern() { # UUID OUT
    CUDA_VISIBLE_DEVICES=$1 "$BURN" --kernels 25 --kernel-ns 20000000 --json >"$2"
}
kern "$small" e1.json &
p1=$!
kern "$small2" e2.json &
p2=$!
wait "$p1" && wait "$p2" || fail "kernel burns"
[ "$(json 'j["wall_s"] < 0.8' e1.json)" = True ] && [ "$(json 'j["wall_s"] < 0.8' e2.json)" = True ] ||
    fail "separate instances slowed each other: $(json 'j["wall_s"]' e1.json) s, $(json 'j["wall_s"]' e2.json) s"
kern "$small" e1.json &
p1=$!
kern "$small" e2.json &
p2=$!
wait "$p1" && wait "$p2" || fail "kernel burns"
[ "$(json 'j["wall_s"] > 0.85' e1.json)" = True ] || [ "$(json 'j["wall_s"] > 0.85' e2.json)" = True ] ||
    fail "one instance ran two streams at once: $(json 'j["wall_s"]' e1.json) s, $(json 'j["wall_s"]' e2.json) s"
