# gpuplex lease create/ls/rm: a round trip, admission on one GPU, and every bad
# input with its exit status.
. "$SRC_DIR/tests/integration/lib.sh"

"$GPX" sim init --gpus 1xH100-80GB,1xA100-40GB --state "$GPUPLEX_SIM" >/dev/null
"$GPX" ls --json >ls.json
uuid0=$(json 'j[0]["uuid"]' ls.json)
uuid1=$(json 'j[1]["uuid"]' ls.json)

# No leases yet: an empty table and an empty array.
expect_rc 0 "$GPX" lease ls --json
[ "$(json 'j' "$TEST_TMP/out")" = "[]" ] || fail "empty lease ls --json"

# create: the id on stdout, the environment on stderr.
expect_rc 0 "$GPX" lease create --gpu 0 --memory 4G
id1=$(cat "$TEST_TMP/out")
echo "$id1" | grep -Eq '^l-[0-9a-f]{12}$' || fail "lease id format: '$id1'"
expect_err "CUDA_VISIBLE_DEVICES=$uuid0"
expect_err "GPUPLEX_LEASE=$id1"
expect_err "gpuplex run --lease $id1"
[ -f "$GPUPLEX_RUN_DIR/leases/$id1.limits" ] || fail "no limits file"
[ "$(stat -c %a "$GPUPLEX_RUN_DIR/leases/$id1.limits")" = 400 ] || fail "limits mode"
[ "$(stat -c %a "$GPUPLEX_RUN_DIR/leases/$id1.usage")" = 600 ] || fail "usage mode"
[ "$(stat -c %a "$GPUPLEX_RUN_DIR/leases")" = 711 ] || fail "leases dir mode"

# --json, by UUID, timeslice with weight, vgpu with cap.
expect_rc 0 "$GPX" lease create --gpu "$uuid1" --memory 512MiB --cap 50 --json
cp "$TEST_TMP/out" c2.json
[ "$(json 'j["mode"]' c2.json)" = vgpu ] || fail "default mode with --memory"
[ "$(json 'j["gpu"]["index"]' c2.json)" = 1 ] || fail "gpu by uuid"
[ "$(json 'j["gpu_index"]' c2.json)" = 1 ] || fail "gpu_index"
[ "$(json 'j["gpu"]["uuid"]' c2.json)" = "$uuid1" ] || fail "gpu.uuid"
[ "$(json 'j["tenant"]' c2.json)" = admin ] || fail "tenant"
[ "$(json 'j["state"]' c2.json)" = active ] || fail "state"
[ "$(json 'j["created"] is not None and j["usage"]["processes"] == 0' c2.json)" = True ] || fail "created, usage"
[ "$(json 'j["gpu_uuid"]' c2.json)" = "$uuid1" ] || fail "gpu_uuid"
[ "$(json 'j["memory_bytes"]' c2.json)" = 536870912 ] || fail "memory_bytes"
[ "$(json 'j["cap"]' c2.json)" = 50 ] || fail "cap"
[ "$(json 'j["weight"]' c2.json)" = 1 ] || fail "weight default"
[ "$(json 'j["env"]["CUDA_VISIBLE_DEVICES"]' c2.json)" = "$uuid1" ] || fail "env CUDA_VISIBLE_DEVICES"
id2=$(json 'j["id"]' c2.json)
[ "$(json 'j["env"]["GPUPLEX_LEASE"]' c2.json)" = "$id2" ] || fail "env GPUPLEX_LEASE"
# a timeslice lease without a quota could use the 4G promised to $id1: GPU 0 refuses it
expect_rc 7 "$GPX" lease create --gpu 0 --mode timeslice --weight 3
expect_err "GPU 0 has leases with memory quotas \\(4.0 GiB promised\\)"
expect_err "give it a quota \\(--memory SIZE\\)"
expect_rc 0 "$GPX" lease create --gpu 0 --mode timeslice --weight 3 --memory 1G --json
cp "$TEST_TMP/out" c3.json
id3=$(json 'j["id"]' c3.json)
[ "$(json 'j["mode"]' c3.json)" = timeslice ] || fail "timeslice mode"
[ "$(json 'j["weight"]' c3.json)" = 3 ] || fail "weight"
[ "$(json 'j["memory_bytes"]' c3.json)" = 1073741824 ] || fail "timeslice with a quota"
[ "$(json 'j["cap"]' c3.json)" = None ] || fail "cap null"

# ls shows all three, sorted by id, idle.
expect_rc 0 "$GPX" lease ls --json
cp "$TEST_TMP/out" ls2.json
[ "$(json 'len(j)' ls2.json)" = 3 ] || fail "lease ls count"
[ "$(json 'sorted([l["id"] for l in j]) == [l["id"] for l in j]' ls2.json)" = True ] || fail "ls order"
[ "$(json '{l["id"]: l["memory_bytes"] for l in j}["'"$id1"'"]' ls2.json)" = 4294967296 ] ||
    fail "ls memory_bytes"
[ "$(json 'all(l["used_bytes"] == 0 and l["processes"] == [] and l["refused"] == 0 for l in j)' ls2.json)" = True ] ||
    fail "ls idle figures"
expect_rc 0 "$GPX" lease ls
grep -q "^ID  *MODE  *GPU  *QUOTA  *USED  *PEAK  *REFUSED  *PROCS  *TENANT" "$TEST_TMP/out" || fail "ls header"
grep -Eq "^$id1 +vgpu +0 +4\.0 GiB +0 B +0 B +0 +0 +admin$" "$TEST_TMP/out" || fail "ls row"

# Admission on one GPU: quotas of shared leases fit its memory; exclusive wants it idle.
expect_rc 7 "$GPX" lease create --gpu 1 --memory 40G      # 40 GiB GPU, 512 MiB taken
expect_err "GPU 1 cannot take a 40.0 GiB memory quota"
expect_rc 6 "$GPX" lease create --gpu 0 --mode exclusive
expect_err "an exclusive lease needs an idle GPU"

# rm: gone from ls; a second rm is "not found".
expect_rc 0 "$GPX" lease rm "$id1"
[ ! -e "$GPUPLEX_RUN_DIR/leases/$id1.limits" ] || fail "rm left the limits"
[ ! -e "$GPUPLEX_RUN_DIR/leases/$id1.usage" ] || fail "rm left the usage"
expect_rc 5 "$GPX" lease rm "$id1"
expect_err "lease $id1 is already released"
expect_rc 5 "$GPX" lease rm l-000000000000
expect_rc 2 "$GPX" lease rm "../../etc/passwd"
expect_err "invalid lease id"
expect_rc 2 "$GPX" lease rm
expect_rc 0 "$GPX" lease rm "$id2" "$id3"
expect_rc 0 "$GPX" lease ls --json
[ "$(json 'j' "$TEST_TMP/out")" = "[]" ] || fail "leases left after rm"

# exclusive: on an idle GPU; then nothing else fits there.
expect_rc 0 "$GPX" lease create --gpu 1 --mode exclusive --json
cp "$TEST_TMP/out" ex.json
[ "$(json 'j["mode"]' ex.json)" = exclusive ] || fail "exclusive mode"
[ "$(json '"LD_PRELOAD" in j["env"]' ex.json)" = False ] || fail "exclusive leases are not preloaded"
expect_rc 6 "$GPX" lease create --gpu 1 --memory 1G
expect_err "held by an exclusive lease"
expect_rc 6 "$GPX" lease create --gpu 1 --mode exclusive
expect_rc 0 "$GPX" lease rm "$(json 'j["id"]' ex.json)"
# without --memory the default mode is exclusive
expect_rc 0 "$GPX" lease create --gpu 1 --json
[ "$(json 'j["mode"]' "$TEST_TMP/out")" = exclusive ] || fail "default mode without --memory"
expect_rc 0 "$GPX" lease rm "$(json 'j["id"]' "$TEST_TMP/out")"

# Bad input: each with its status and a message that names the problem.
expect_rc 5 "$GPX" lease create --gpu 7 --memory 1G
expect_err "no GPU '7'"
expect_rc 5 "$GPX" lease create --gpu GPU-00000000-0000-0000-0000-000000000000 --memory 1G
expect_err "no GPU"
expect_rc 7 "$GPX" lease create --gpu 0 --memory 81G
expect_err "GPU 0 cannot take a 81.0 GiB memory quota"
expect_rc 2 "$GPX" lease create --gpu 0 --memory 4X
expect_err "--memory: unknown unit"
expect_rc 2 "$GPX" lease create --gpu 0 --memory lots
expect_err "--memory: invalid size"
expect_rc 2 "$GPX" lease create --gpu 0 --memory 0
expect_rc 2 "$GPX" lease create --gpu 0 --memory 1G --mode turbo
expect_err "--mode must be one of exclusive, mig, vgpu, timeslice, not 'turbo'"
expect_rc 2 "$GPX" lease create --gpu 0 --memory 1G --weight 0
expect_err "--weight"
expect_rc 2 "$GPX" lease create --gpu 0 --memory 1G --weight -1
expect_rc 2 "$GPX" lease create --gpu 0 --memory 1G --weight 2x
expect_rc 2 "$GPX" lease create --gpu 0 --memory 1G --cap 0
expect_err "--cap"
expect_rc 2 "$GPX" lease create --gpu 0 --memory 1G --cap 101
expect_rc 2 "$GPX" lease create --gpu 0 --mode vgpu
expect_err "vgpu leases need --memory"
# a bare number is refused with a hint, never taken as bytes
expect_rc 2 "$GPX" lease create --gpu 0 --memory 4096
expect_err "has no unit: write 4096M or 4096G"
# without --gpu: placement decides (binpack: the GPU left with the least free quota
# that fits, here the 40 GiB A100), on every path
expect_rc 0 "$GPX" lease create --memory 1G --json
[ "$(json 'j["gpu"]["index"]' "$TEST_TMP/out")" = 1 ] || fail "default GPU: $(cat "$TEST_TMP/out")"
"$GPX" lease rm "$(json 'j["id"]' "$TEST_TMP/out")" >/dev/null
expect_rc 2 "$GPX" lease create --gpu 0 --mode exclusive --memory 1G
expect_rc 2 "$GPX" lease create --gpu 0 --mode exclusive --weight 2
expect_rc 2 "$GPX" lease create --gpu 0 --memory
expect_rc 2 "$GPX" lease create --gpu 0 --memory 1G extra
expect_rc 2 "$GPX" lease frobnicate
expect_rc 2 "$GPX" lease
expect_rc 0 "$GPX" lease ls --json
[ "$(json 'j' "$TEST_TMP/out")" = "[]" ] || fail "a failed create left a lease"
[ -z "$(ls -A "$GPUPLEX_RUN_DIR/leases")" ] || fail "stray files: $(ls -A "$GPUPLEX_RUN_DIR/leases")"

# A damaged region is reported by ls (exit 8), every lease still listed.
expect_rc 0 "$GPX" lease create --gpu 0 --memory 1G
good=$(cat "$TEST_TMP/out")
expect_rc 0 "$GPX" lease create --gpu 0 --memory 1G
bad=$(cat "$TEST_TMP/out")
: >"$GPUPLEX_RUN_DIR/leases/$bad.usage"
expect_rc 8 "$GPX" lease ls --json
expect_err "$bad.usage"
[ "$(json 'sorted(l["id"] for l in j)' "$TEST_TMP/out")" = "$(python3 -c "print(sorted(['$good', '$bad']))")" ] || fail "ls with a damaged lease"
[ "$(json '[l["region_error"] is not None for l in j if l["id"] == "'"$bad"'"][0]' "$TEST_TMP/out")" = True ] || fail "region_error"
# run refuses it with the same clear error.
expect_rc 8 "$GPX" run --lease "$bad" -- true

# Help documents the commands.
expect_rc 0 "$GPX" help lease
grep -q "memory_bytes" "$TEST_TMP/out" || fail "help lease does not document JSON keys"
expect_rc 0 "$GPX" --help
grep -q "^  lease " "$TEST_TMP/out" || fail "--help does not list lease"
grep -q "^  run " "$TEST_TMP/out" || fail "--help does not list run"
grep -q "^  watch " "$TEST_TMP/out" || fail "--help does not list watch"

# No driver: create says so (exit 3) — in-process; gpuplexd has its own driver.
if [ "$GPX_VIA" = local ] && ! ldconfig -p 2>/dev/null | grep -q 'libnvidia-ml.so.1 '; then
    (
        unset GPUPLEX_SIM GPUPLEX_DRIVER_DIR GPX_TRACE # (local only: not compared)
        expect_rc 3 "$GPX" lease create --gpu 0 --memory 1G
    )
fi
