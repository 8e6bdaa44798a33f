# Other tenants' processes stay hidden in-process, with two real tenants:
# alice and bob (two uids, gpuplex tenants of gpuplexd) each hold a vgpu lease
# on one GPU, a process in each holding memory. Inside its lease each sees
# only its own holder and itself in NVML's process lists (v1, v3, utilization
# samples, the size query), with its lease's bytes; root without a lease sees
# both holders. Run through gpuplexd only (integration.interpose_procs_uids
# sets GPX_VIA=daemon): the leases are the tenants', made over its socket.
. "$SRC_DIR/tests/integration/interpose_lib.sh"
[ "$GPX_VIA" = daemon ] || fail "run with GPX_VIA=daemon (tenants of other uids need gpuplexd)"
chmod 0666 "$GPUPLEX_SIM" # the simulated GPUs are one file: every user's processes drive it
ua=$(gpx_user a)
ub=$(gpx_user b)
"$GPX" tenant add alice --uid "$(id -u "$ua")" >/dev/null 2>&1 || fail "tenant add alice"
"$GPX" tenant add bob --uid "$(id -u "$ub")" >/dev/null 2>&1 || fail "tenant add bob"
as_a() { as_user "$ua" env GPUPLEX_SERVER="unix:$TEST_TMP/gpxd.sock" "$@"; }
as_b() { as_user "$ub" env GPUPLEX_SERVER="unix:$TEST_TMP/gpxd.sock" "$@"; }
A=$(as_a "$GPX" lease create --gpu 0 --memory 1G 2>/dev/null) || fail "alice's lease"
B=$(as_b "$GPX" lease create --gpu 0 --memory 1G 2>/dev/null) || fail "bob's lease"
as_a "$GPX" run --lease "$A" -- "$BURN" --alloc-mib 256 --chunk-mib 64 --hold-ms 30000 --json \
    >a.json 2>a.err &
run_a=$!
as_b "$GPX" run --lease "$B" -- "$BURN" --alloc-mib 384 --chunk-mib 64 --hold-ms 30000 --json \
    >b.json 2>b.err &
run_b=$!
trap 'kill "$run_a" "$run_b" 2>/dev/null || true' EXIT
wait_used "$A" $((256 * MiB))
wait_used "$B" $((384 * MiB))
"$GPX" lease ls --json >ls.json
pa=$(lease_holder ls.json "$A")
pb=$(lease_holder ls.json "$B")

for side in "a $A $pa 256 $pb" "b $B $pb 384 $pa"; do
    # shellcheck disable=SC2086 # WHO ID HOLDER MIB OTHER
    set -- $side
    expect_rc 0 "as_$1" "$GPX" run --lease "$2" -- "$CHECK" nvml-procs 16
    cp "$TEST_TMP/out" "$1.json"
    self=$(json 'j["self"]' "$1.json")
    want=$(python3 -c "print(sorted([[$3, $(($4 * MiB))], [$self, $((16 * MiB))]]))") # pid order: either
    for v in v1 v3; do
        expect_json "$1.json" "sorted(j[\"$v\"])" "$want" "tenant $1, $v"
    done
    expect_json "$1.json" 'j["size_query"]' 2 "tenant $1: the count NVML asks room for"
    expect_json "$1.json" 'sorted(j["util"])' "$(python3 -c "print(sorted([$3, $self]))")" "tenant $1: utilization samples"
    expect_json "$1.json" "$5 in [e[0] for e in j['v1'] + j['v3']] + j['util']" False \
        "tenant $1 sees the other tenant's process"
    echo "tenant $1 sees [$3, $self] only"
done

# Root, no lease: both holders.
expect_rc 0 "$CHECK" nvml-procs 8
cp "$TEST_TMP/out" root.json
expect_json root.json "sorted(p for p, _ in j['v3'] if p in ($pa, $pb))" "$(python3 -c "print(sorted([$pa, $pb]))")" \
    "root without a lease"
kill "$run_a" "$run_b"
wait "$run_a" 2>/dev/null || true
wait "$run_b" 2>/dev/null || true
trap - EXIT
