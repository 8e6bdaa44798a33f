# The simulated libnvidia-ml.so.1 as nvidia-smi, nvtop and dcgm-exporter find
# it (issue 17, item 5): gpx-test-nvml-surface dlopens it, dlsyms every entry
# point of tests/abi/nvml_surface.txt and calls each, expecting the answer the
# list gives (SUCCESS where the simulator models the figure, NOT_SUPPORTED
# where it does not), on an H100 node and an A100 node; a few modelled figures
# are what those boards report; docs/simulator.md lists every entry point with
# the list's answer.
. "$SRC_DIR/tests/integration/lib.sh"
LIST=$SRC_DIR/tests/abi/nvml_surface.txt
SURFACE=$BUILD_DIR/tests/gpx-test-nvml-surface
SIMLIB=$BUILD_DIR/lib/sim
export LD_LIBRARY_PATH="$SIMLIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

for gpus in 2xH100-80GB 2xA100-40GB; do
    "$GPX" sim init --gpus "$gpus" >/dev/null
    expect_rc 0 timeout 60 "$SURFACE" "$LIST"
    grep -q ' 0 failed$' "$TEST_TMP/out" || fail "$gpus: $(cat "$TEST_TMP/out")"
    echo "$gpus: $(tail -n 1 "$TEST_TMP/out")"
done

# What the modelled calls say, on a node of an H100 and an A100 (ctypes, as a Python tool calls).
"$GPX" sim init --gpus H100-80GB,A100-40GB --driver 580.65.06 >/dev/null
cat >figures.py <<'PY'
import ctypes, os, sys
nv = ctypes.CDLL("libnvidia-ml.so.1")
U = ctypes.c_uint
def ok(r, what):
    if r != 0:
        sys.exit("%s: NVML error %d" % (what, r))
def uint(fn, dev, *args):
    v = U()
    ok(getattr(nv, fn)(dev, *args, ctypes.byref(v)), fn)
    return v.value
ok(nv.nvmlInit_v2(), "nvmlInit_v2")
out = []
for i in range(2):
    dev = ctypes.c_void_p()
    ok(nv.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(dev)), "handle")
    bar1 = (ctypes.c_ulonglong * 3)()
    ok(nv.nvmlDeviceGetBAR1MemoryInfo(dev, bar1), "bar1")
    lo, hi = U(), U()
    ok(nv.nvmlDeviceGetPowerManagementLimitConstraints(dev, ctypes.byref(lo), ctypes.byref(hi)), "limits")
    serial = ctypes.create_string_buffer(30)
    ok(nv.nvmlDeviceGetSerial(dev, serial, 30), "serial")
    gsp = ctypes.create_string_buffer(64)
    ok(nv.nvmlDeviceGetGspFirmwareVersion(dev, gsp), "gsp")
    out.append("gpu%d arch=%d gen=%d width=%d cores=%d bus=%d brand=%d bar1_gib=%d power=%d..%d "
               "board=0x%x serial_len=%d gsp=%s shutdown=%d" % (
        i, uint("nvmlDeviceGetArchitecture", dev), uint("nvmlDeviceGetMaxPcieLinkGeneration", dev),
        uint("nvmlDeviceGetCurrPcieLinkWidth", dev), uint("nvmlDeviceGetNumGpuCores", dev),
        uint("nvmlDeviceGetMemoryBusWidth", dev), uint("nvmlDeviceGetBrand", dev),
        bar1[0] >> 30, lo.value // 1000, hi.value // 1000, uint("nvmlDeviceGetBoardId", dev),
        len(serial.value), gsp.value.decode(), uint("nvmlDeviceGetTemperatureThreshold", dev, 0)))
# 20 samples of the last second, 50 ms apart, oldest first
dev = ctypes.c_void_p()
ok(nv.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(dev)), "handle")
vt, n = U(), U(64)
samples = (ctypes.c_ulonglong * 128)()
ok(nv.nvmlDeviceGetSamples(dev, 1, ctypes.c_ulonglong(0), ctypes.byref(vt), ctypes.byref(n), samples), "samples")
ts = [samples[2 * k] for k in range(n.value)]
gaps = sorted(set(b - a for a, b in zip(ts, ts[1:])))
out.append("samples=%d type=%d gaps_us=%s" % (n.value, vt.value, gaps))
name = ctypes.create_string_buffer(256)
ok(nv.nvmlSystemGetProcessName(os.getpid(), name, 256), "process name")
out.append("self=%s" % os.path.basename(name.value.decode()))
print("\n".join(out))
PY
expect_rc 0 python3 figures.py
cat "$TEST_TMP/out"
want_h100="gpu0 arch=9 gen=5 width=16 cores=16896 bus=5120 brand=14 bar1_gib=128 power=200..700 board=0x1800 serial_len=13 gsp=580.65.06 shutdown=92"
want_a100="gpu1 arch=7 gen=4 width=16 cores=6912 bus=5120 brand=14 bar1_gib=64 power=100..400 board=0x2a00 serial_len=13 gsp=580.65.06 shutdown=92"
grep -qxF "$want_h100" "$TEST_TMP/out" || fail "H100 figures: $(sed -n 1p "$TEST_TMP/out")"
grep -qxF "$want_a100" "$TEST_TMP/out" || fail "A100 figures: $(sed -n 2p "$TEST_TMP/out")"
grep -Eqx 'samples=20 type=1 gaps_us=\[(49999|50000|50001)(, (49999|50000|50001))*\]' "$TEST_TMP/out" ||
    fail "nvmlDeviceGetSamples: $(sed -n 3p "$TEST_TMP/out")"
grep -qx 'self=python3.*' "$TEST_TMP/out" || fail "nvmlSystemGetProcessName: $(sed -n 4p "$TEST_TMP/out")"

# docs/simulator.md: a row for every entry point, with the list's answer.
python3 - "$LIST" "$SRC_DIR/docs/simulator.md" <<'PY' || fail "docs/simulator.md and the list disagree"
import re, sys
words = {"modelled": "modelled", "not_supported": "NOT_SUPPORTED", "timeout": "TIMEOUT",
         "not_found": "NOT_FOUND", "string": "modelled"}
want = {}
for line in open(sys.argv[1]):
    f = line.split()
    if f and not f[0].startswith("#"):
        want[f[0]] = words[f[1]]
rows = dict(re.findall(r"^\| `(nvml\w+)` \| (\w+)", open(sys.argv[2]).read(), re.M))
bad = ["%s: docs say %s, the list %s" % (n, rows.get(n, "nothing"), w)
       for n, w in want.items() if rows.get(n) != w]
bad += ["%s: in the docs, not in the list" % n for n in rows if n not in want]
if bad:
    sys.exit("\n".join(bad))
PY
