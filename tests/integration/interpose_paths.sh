# Every way to the driver is enforced: direct calls (a program linked with
# libcuda.so.1), dlsym on libcuda's handle / RTLD_DEFAULT / RTLD_NEXT (and
# NVML's), cuGetProcAddress in both signatures with versions (_v2 vs the
# legacy entry point) and flags (_ptsz), with symbolStatus. The library
# exports nothing but the hooked names and dlsym.
. "$SRC_DIR/tests/integration/interpose_lib.sh"

L=$(lease 64M)
for c in direct dlsym procaddr; do
    expect_rc 0 "$GPX" run --lease "$L" -- "$CHECK" $c
    cat "$TEST_TMP/out"
    grep -q "^$c: ok" "$TEST_TMP/out" || fail "$c did not finish"
done
# gpuplex-burn resolves everything through cuGetProcAddress.
expect_rc 0 "$GPX" run --lease "$L" -- "$BURN" --alloc-mib 128 --chunk-mib 16 --json
expect_json "$TEST_TMP/out" 'j["resolved_by"]' cuGetProcAddress
expect_json "$TEST_TMP/out" 'j["allocated_mib"]' 64 "burn via cuGetProcAddress"

# What the library exports.
extra=$(nm -D --defined-only "$IP" | awk '{print $3}' |
    grep -Ev '^(cu[A-Za-z0-9_]+|nvml[A-Za-z0-9_]+|dlsym)$' || true)
[ -z "$extra" ] || fail "unexpected exports: $extra"
nm -D --defined-only "$IP" | grep -q ' T dlsym$' || fail "dlsym not exported"
