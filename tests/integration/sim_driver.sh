# `gpuplex sim init --driver VERSION` (issue 17, item 4): the node reports the
# driver and the CUDA version of its branch everywhere a tool asks, as a real
# node of that driver does: nvmlSystemGetDriverVersion / NVMLVersion /
# CudaDriverVersion(_v2), cuDriverGetVersion (before cuInit too), what
# cuGetProcAddress resolves (no entry point newer than the node's CUDA), and
# `gpuplex ls`'s header line (in-process and through gpuplexd). Unknown
# branches and bad versions are refused with the accepted list.
. "$SRC_DIR/tests/integration/lib.sh"
export LD_LIBRARY_PATH="$BUILD_DIR/lib/sim${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# Refusals: exit 2 (usage), the message names the flag and the valid values.
expect_rc 2 "$GPX" sim init --gpus H100 --driver 590.44.01
expect_err 'no driver branch 590 \(accepted branches: 525 \(CUDA 12\.0\), .* 580 \(CUDA 13\.0\)\)'
expect_rc 2 "$GPX" sim init --gpus H100 --driver 580
expect_err "'580' is not a driver version \(expected BRANCH\.MINOR\[\.PATCH\], e\.g\. 580\.65\.06\)"
expect_rc 2 "$GPX" sim init --gpus H100 --driver 580.65.06 --cuda-version 11.8
expect_err "--cuda-version '11\.8' .*expected 12\.0 \.\. 13\.9"
[ ! -e "$GPUPLEX_SIM" ] || fail "a refused sim init wrote $GPUPLEX_SIM"
expect_rc 0 "$GPX" sim --help
grep -q -- '--driver VERSION' "$TEST_TMP/out" || fail "sim --help lacks --driver"

cat >versions.py <<'PY'
import ctypes, sys
nv = ctypes.CDLL("libnvidia-ml.so.1")
cu = ctypes.CDLL("libcuda.so.1")
v = ctypes.c_int()
out = []
assert cu.cuDriverGetVersion(ctypes.byref(v)) == 0
out.append("cu_before_init=%d" % v.value)
assert cu.cuInit(0) == 0
assert cu.cuDriverGetVersion(ctypes.byref(v)) == 0
out.append("cu=%d" % v.value)
# cuGetProcAddress("cuCtxCreate") at CUDA 13.0: the newest the node's driver has (_v3 from 11.4, _v4 from 12.5)
fn, direct = ctypes.c_void_p(), {}
for name in ("cuCtxCreate_v2", "cuCtxCreate_v3", "cuCtxCreate_v4"):
    direct[ctypes.cast(getattr(cu, name), ctypes.c_void_p).value] = name
assert cu.cuGetProcAddress_v2(b"cuCtxCreate", ctypes.byref(fn), 13000, ctypes.c_uint64(0), None) == 0
out.append("cuCtxCreate@13000=%s" % direct.get(fn.value, "other"))
assert nv.nvmlInit_v2() == 0
buf = ctypes.create_string_buffer(80)
assert nv.nvmlSystemGetDriverVersion(buf, 80) == 0
out.append("driver=%s" % buf.value.decode())
assert nv.nvmlSystemGetNVMLVersion(buf, 80) == 0
out.append("nvml=%s" % buf.value.decode())
for f in ("nvmlSystemGetCudaDriverVersion", "nvmlSystemGetCudaDriverVersion_v2"):
    assert getattr(nv, f)(ctypes.byref(v)) == 0
    out.append("%s=%d" % (f[len("nvmlSystemGet"):], v.value))
print(" ".join(out))
PY

# node ARGS...: a fresh node (and a fresh state: no daemon of the previous one)
node() {
    rm -rf "$GPUPLEX_SIM" "$GPUPLEX_STATE_DIR" "$GPUPLEX_RUN_DIR"
    "$GPX" sim init --gpus 2xH100-80GB "$@" >init.txt
}

node
grep -q '(driver 550\.54\.15, CUDA 12\.4)' init.txt || fail "default node: $(cat init.txt)"
expect_rc 0 python3 versions.py
[ "$(cat "$TEST_TMP/out")" = "cu_before_init=12040 cu=12040 cuCtxCreate@13000=cuCtxCreate_v3 driver=550.54.15 nvml=12.550.54.15 CudaDriverVersion=12040 CudaDriverVersion_v2=12040" ] ||
    fail "default node: $(cat "$TEST_TMP/out")"

# --cuda-version: a driver reporting another CUDA version than its branch's
node --driver 570.124.06 --cuda-version 12.9
grep -q '(driver 570\.124\.06, CUDA 12\.9)' init.txt || fail "570 node: $(cat init.txt)"
expect_rc 0 python3 versions.py
[ "$(cat "$TEST_TMP/out")" = "cu_before_init=12090 cu=12090 cuCtxCreate@13000=cuCtxCreate_v4 driver=570.124.06 nvml=12.570.124.06 CudaDriverVersion=12090 CudaDriverVersion_v2=12090" ] ||
    fail "570 node reporting 12.9: $(cat "$TEST_TMP/out")"

# the last node: the first command that is not `sim` starts gpuplexd (GPX_VIA=daemon) on it
node --driver 580.65.06
grep -q '(driver 580\.65\.06, CUDA 13\.0)' init.txt || fail "580 node: $(cat init.txt)"
expect_rc 0 python3 versions.py
[ "$(cat "$TEST_TMP/out")" = "cu_before_init=13000 cu=13000 cuCtxCreate@13000=cuCtxCreate_v4 driver=580.65.06 nvml=13.580.65.06 CudaDriverVersion=13000 CudaDriverVersion_v2=13000" ] ||
    fail "580 node: $(cat "$TEST_TMP/out")"
# gpuplex ls: nvidia-smi's header pair (through gpuplexd too when GPX_VIA=daemon)
expect_rc 0 "$GPX" ls
[ "$(sed -n 1p "$TEST_TMP/out")" = "driver 580.65.06, CUDA 13.0, 2 GPUs" ] ||
    fail "gpuplex ls header: $(sed -n 1p "$TEST_TMP/out")"
# nvidia-smi --query-gpu=driver_version: the node's, on every GPU's row
expect_rc 0 "$GPX" ls --query-gpu=index,driver_version --format=csv,noheader
[ "$(cat "$TEST_TMP/out")" = "0, 580.65.06
1, 580.65.06" ] || fail "--query-gpu=driver_version: $(cat "$TEST_TMP/out")"
