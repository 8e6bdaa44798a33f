# Every size query shows the slice (docs/interposer.md, "What a size query
# answers"): cuDeviceTotalMem_v2 and cuDeviceTotalMem of the device, through
# direct calls, dlsym (the driver's handle and RTLD_DEFAULT) and
# cuGetProcAddress in both signatures, agree with cuMemGetInfo and NVML:
# the GPU's size bare, with the interposer but no lease, and under exclusive
# and quota-less timeslice leases; the quota under vgpu (4 GiB) and
# timeslice-with-quota leases; the instance's size under a mig lease (through
# the MIG device, with or without the interposer); the GPU's size when the
# lease failed closed (there is no quota to show).
. "$SRC_DIR/tests/integration/interpose_lib.sh"

GiB=$((1024 * MiB))
"$GPX" ls --json >gpus.json
whole=$(json 'j[1]["memory_total_bytes"]' gpus.json)
[ "$whole" -gt $((64 * GiB)) ] || fail "GPU 1 has $whole bytes"
[ "$(json 'j[0]["memory_total_bytes"]' gpus.json)" = "$whole" ] || fail "the two GPUs differ"

# sizes WHAT BYTES "NVML_BYTES [UUID]" CMD...: gpx-ipcheck sizes under CMD answers BYTES
# everywhere (NVML: NVML_BYTES, of the GPU by PCI bus id or of the device UUID names).
sizes() {
    what=$1
    shift
    bytes=$1
    nvml=$2
    shift 2
    # shellcheck disable=SC2086 # NVML_BYTES and UUID: two words
    expect_rc 0 "$@" "$CHECK" sizes "$bytes" $nvml
    grep -q '^sizes: ok' "$TEST_TMP/out" || {
        cat "$TEST_TMP/out" "$TEST_TMP/err" >&2
        fail "$what: sizes did not finish"
    }
    [ ! -s "$TEST_TMP/err" ] || fail "$what: stderr: $(cat "$TEST_TMP/err")"
    n=$(grep -c 'cuDeviceTotalMem' "$TEST_TMP/out")
    [ "$n" = 9 ] || fail "$what: $n cuDeviceTotalMem paths checked, expected 9"
    echo "$what: $bytes bytes every way"
}

# No lease: the driver's answer, with and without the interposer.
sizes bare "$whole" "$whole" env
sizes "interposer, no lease" "$whole" "$whole" env LD_PRELOAD="$IP"

# vgpu, 4 GiB: the quota (what deviceQuery and torch total_memory read).
V=$("$GPX" lease create --gpu 0 --memory 4G 2>/dev/null)
sizes "vgpu 4 GiB" $((4 * GiB)) $((4 * GiB)) "$GPX" run --lease "$V" --
# timeslice with a quota: the quota.
T=$("$GPX" lease create --gpu 0 --mode timeslice --memory 2G 2>/dev/null)
sizes "timeslice 2 GiB" $((2 * GiB)) $((2 * GiB)) "$GPX" run --lease "$T" --
# A lease that failed closed has no quota to show: the driver's size (and nothing free).
sizes "failed closed" "$whole" "$whole" env LD_PRELOAD="$IP" GPUPLEX_LEASE=l-000000000000 GPUPLEX_LOG=off

# timeslice without a quota, then exclusive, on GPU 1: the whole GPU.
T0=$("$GPX" lease create --gpu 1 --mode timeslice --weight 2 2>/dev/null)
sizes "timeslice, no quota" "$whole" "$whole" "$GPX" run --lease "$T0" --
"$GPX" lease rm "$T0"
E=$("$GPX" lease create --gpu 1 --mode exclusive 2>/dev/null)
sizes exclusive "$whole" "$whole" "$GPX" run --lease "$E" --
# ... also where the interposer is preloaded by someone else (a CDI hook, say).
sizes "exclusive, interposer preloaded" "$whole" "$whole" \
    "$GPX" run --lease "$E" -- env LD_PRELOAD="$IP"
"$GPX" lease rm "$E"

# mig: the instance's size, through the MIG device (CUDA) and its NVML handle.
"$GPX" mig apply --gpu 1 --demand 3g.40gb=1 >/dev/null
"$GPX" mig ls --json >mig.json
inst=$(($(json '[i["memory_mib"] for i in j[1]["instances"] if i["profile"] == "3g.40gb"][0]' mig.json) * MiB))
[ "$inst" -lt "$whole" ] || fail "the instance ($inst) is not smaller than the GPU"
mig_uuid=$(json '[i["uuid"] for i in j[1]["instances"] if i["profile"] == "3g.40gb"][0]' mig.json)
M=$("$GPX" lease create --gpu 1 --mig-profile 3g.40gb 2>/dev/null)
sizes mig "$inst" "$inst $mig_uuid" "$GPX" run --lease "$M" --
sizes "mig, interposer preloaded" "$inst" "$inst $mig_uuid" \
    "$GPX" run --lease "$M" -- env LD_PRELOAD="$IP"
