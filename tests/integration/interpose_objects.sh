# The allocation paths beyond gpuplex-burn's (arrays, mipmaps, external
# memory, pools by allocation, host-located pools and VMM handles not
# counted, uncounted frees passing through), cuMemCreate on worker threads,
# and memory-info answers (total = quota, clamped free, NULL out-parameters,
# NVML) - with a 64 MiB quota, far below where HAMi-core's cuMemGetInfo broke -
# and fork (the child is a process of its own; no lock is inherited held).
. "$SRC_DIR/tests/integration/interpose_lib.sh"

L=$(lease 64M)
for c in objects worker-vmm meminfo fork; do
    expect_rc 0 "$GPX" run --lease "$L" -- "$CHECK" $c
    cat "$TEST_TMP/out"
    grep -q "^$c: ok" "$TEST_TMP/out" || fail "$c did not finish"
done
[ "$(ls_used "$L")" = 0 ] || fail "lease still holds $(ls_used "$L") bytes"
