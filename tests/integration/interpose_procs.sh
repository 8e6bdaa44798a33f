# Other tenants' processes stay hidden in-process: two vgpu leases on one
# GPU, a process in each holding memory. A process of each lease asking NVML
# (nvmlDeviceGetComputeRunningProcesses v1/v2/v3, nvmlDeviceGetProcessUtilization)
# sees its lease's holder and itself, with the bytes its lease counts for
# each, and neither the other lease's process nor its count; NVML's size
# protocol (INSUFFICIENT_SIZE, the count to make room for) answers the
# filtered number. Without a lease, a root tool sees all three.
. "$SRC_DIR/tests/integration/interpose_lib.sh"

A=$(lease 1G 0)
B=$(lease 1G 0)
"$GPX" run --lease "$A" -- "$BURN" --alloc-mib 256 --chunk-mib 64 --hold-ms 30000 --json \
    >a.json 2>a.err &
run_a=$!
"$GPX" run --lease "$B" -- "$BURN" --alloc-mib 384 --chunk-mib 64 --hold-ms 30000 --json \
    >b.json 2>b.err &
run_b=$!
trap 'kill "$run_a" "$run_b" 2>/dev/null || true' EXIT
wait_used "$A" $((256 * MiB))
wait_used "$B" $((384 * MiB))
"$GPX" lease ls --json >ls.json
pa=$(lease_holder ls.json "$A")
pb=$(lease_holder ls.json "$B")

# look WHAT MIB CMD...: gpx-ipcheck nvml-procs MIB under CMD; its JSON in WHAT.json.
look() {
    what=$1
    mib=$2
    shift 2
    expect_rc 0 "$@" "$CHECK" nvml-procs "$mib"
    cp "$TEST_TMP/out" "$what.json"
    [ ! -s "$TEST_TMP/err" ] || fail "$what: stderr: $(cat "$TEST_TMP/err")"
}

# Inside each lease: its holder (the lease's bytes for it) and itself, nobody else.
for side in "A $A $pa 256 $pb" "B $B $pb 384 $pa"; do
    # shellcheck disable=SC2086 # NAME ID HOLDER MIB OTHER
    set -- $side
    look "$1" 32 "$GPX" run --lease "$2" --
    self=$(json 'j["self"]' "$1.json")
    want=$(python3 -c "print(sorted([[$3, $(($4 * MiB))], [$self, $((32 * MiB))]]))") # pid order: either
    for v in v1 v2 v3; do
        expect_json "$1.json" "sorted(j[\"$v\"])" "$want" "lease $1, $v"
    done
    expect_json "$1.json" 'j["size_query"]' 2 "lease $1: the count NVML asks room for"
    expect_json "$1.json" 'sorted(j["util"])' "$(python3 -c "print(sorted([$3, $self]))")" "lease $1: utilization samples"
    expect_json "$1.json" "$5 in [e[0] for v in ('v1', 'v2', 'v3') for e in j[v]] + j['util']" False "lease $1 sees the other lease's process"
    echo "lease $1 sees [$3, $self] only"
done

# A lease that failed closed: the caller alone.
look closed 0 env LD_PRELOAD="$IP" GPUPLEX_LEASE=l-000000000000 GPUPLEX_LOG=off
self=$(json 'j["self"]' closed.json)
expect_json closed.json '[p for p, _ in j["v3"]]' "[$self]" "failed closed"
expect_json closed.json 'j["util"]' "[$self]" "failed closed: utilization"

# No lease (root, the interposer preloaded or not): both holders and itself, with their bytes.
for pre in "" "$IP"; do
    look bare 8 env LD_PRELOAD="$pre"
    self=$(json 'j["self"]' bare.json)
    want=$(python3 -c "print(sorted([[$pa, $((256 * MiB))], [$pb, $((384 * MiB))], [$self, $((8 * MiB))]]))")
    expect_json bare.json 'sorted(j["v3"])' "$want" "no lease${pre:+ (interposer)}"
    expect_json bare.json 'sorted(j["v1"])' "$want" "no lease${pre:+ (interposer)}, v1"
    expect_json bare.json 'j["size_query"]' 3 "no lease: the count"
    expect_json bare.json 'sorted(j["util"])' "$(python3 -c "print(sorted([$pa, $pb, $self]))")" \
        "no lease: utilization samples"
done
echo "without a lease: all three"

kill "$run_a" "$run_b"
wait "$run_a" 2>/dev/null || true
wait "$run_b" 2>/dev/null || true
trap - EXIT
