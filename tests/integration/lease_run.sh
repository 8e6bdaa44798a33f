# gpuplex run: the lease's environment reaches CMD, CMD's exit status comes
# back (128+N for a signal), signals are passed on, unknown leases are exit 5.
. "$SRC_DIR/tests/integration/lib.sh"

"$GPX" sim init --gpus 2xH100-80GB --state "$GPUPLEX_SIM" >/dev/null
"$GPX" ls --json >ls.json
uuid1=$(json 'j[1]["uuid"]' ls.json)

# An exclusive lease: CUDA_VISIBLE_DEVICES and GPUPLEX_LEASE, no interposer.
ex=$("$GPX" lease create --gpu 1 --mode exclusive 2>/dev/null)
expect_rc 0 env -u LD_PRELOAD "$GPX" run --lease "$ex" -- env
grep -qx "CUDA_VISIBLE_DEVICES=$uuid1" "$TEST_TMP/out" || fail "CUDA_VISIBLE_DEVICES"
grep -qx "GPUPLEX_LEASE=$ex" "$TEST_TMP/out" || fail "GPUPLEX_LEASE"
grep -qx "GPUPLEX_RUN_DIR=$GPUPLEX_RUN_DIR" "$TEST_TMP/out" || fail "GPUPLEX_RUN_DIR"
! grep -q "^LD_PRELOAD=" "$TEST_TMP/out" || fail "exclusive lease got LD_PRELOAD"
# a CUDA_VISIBLE_DEVICES of the caller's is replaced, not kept
expect_rc 0 env CUDA_VISIBLE_DEVICES=0,1 "$GPX" run --lease "$ex" env
grep -qx "CUDA_VISIBLE_DEVICES=$uuid1" "$TEST_TMP/out" || fail "CUDA_VISIBLE_DEVICES not replaced"

# Exit statuses pass through; options after CMD are CMD's.
expect_rc 0 "$GPX" run --lease "$ex" -- true
expect_rc 1 "$GPX" run --lease "$ex" -- false
expect_rc 42 "$GPX" run --lease "$ex" -- sh -c 'exit 42'
expect_rc 3 "$GPX" run --lease "$ex" sh -c 'exit 3'
expect_rc 0 "$GPX" run --lease "$ex" -- ls --help
expect_rc 143 "$GPX" run --lease "$ex" -- sh -c 'kill -TERM $$'
expect_rc 137 "$GPX" run --lease "$ex" -- sh -c 'kill -KILL $$'
expect_rc 127 "$GPX" run --lease "$ex" -- /nonexistent/cmd
expect_err "/nonexistent/cmd"

# Unknown or invalid lease, missing arguments.
expect_rc 5 "$GPX" run --lease l-000000000000 -- true
expect_err "no lease l-000000000000"
expect_rc 2 "$GPX" run --lease "../$ex" -- true
expect_err "invalid lease id"
expect_rc 2 "$GPX" run --lease "$ex"
expect_err "needs a command"
expect_rc 2 "$GPX" run -- true
expect_err "needs --lease"

# SIGTERM and SIGINT to gpuplex run reach CMD; gpuplex exits as CMD did.
for sig in TERM INT; do
    # (a background job of a script starts with SIGINT ignored: give it the default back)
    env --default-signal=INT "$GPX" run --lease "$ex" -- \
        sh -c 'trap "exit 7" '"$sig"'; echo started >started; while :; do sleep 0.05; done' &
    pid=$!
    i=0
    while [ ! -e started ] && [ $i -lt 200 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    [ -e started ] || fail "CMD did not start"
    kill -"$sig" "$pid"
    set +e
    wait "$pid"
    rc=$?
    set -e
    [ "$rc" = 7 ] || fail "SIG$sig: gpuplex run exited $rc, expected CMD's 7"
    rm -f started
done

# vgpu/timeslice leases preload the interposer, ahead of an LD_PRELOAD already set.
vg=$("$GPX" lease create --gpu 0 --memory 1G 2>/dev/null)
lib="$BUILD_DIR/lib/libgpuplex-cuda.so"
if [ -e "$lib" ]; then
    real=$(readlink -f "$lib")
    expect_rc 0 env -u LD_PRELOAD "$GPX" run --lease "$vg" -- env
    grep -qx "LD_PRELOAD=$real" "$TEST_TMP/out" || fail "LD_PRELOAD: $(grep LD_PRELOAD "$TEST_TMP/out")"
    grep -qx "GPUPLEX_LEASE=$vg" "$TEST_TMP/out" || fail "GPUPLEX_LEASE (vgpu)"
    # A preload already set stays, after ours (ld.so only warns that this one is missing).
    expect_rc 0 env LD_PRELOAD=/nonexistent/libother.so "$GPX" run --lease "$vg" -- \
        sh -c 'echo "LD_PRELOAD=$LD_PRELOAD"'
    grep -qx "LD_PRELOAD=$real:/nonexistent/libother.so" "$TEST_TMP/out" ||
        fail "LD_PRELOAD not prepended: $(cat "$TEST_TMP/out")"
    expect_rc 0 env LD_PRELOAD= "$GPX" run --lease "$vg" -- sh -c 'echo "LD_PRELOAD=$LD_PRELOAD"'
    grep -qx "LD_PRELOAD=$real" "$TEST_TMP/out" || fail "empty LD_PRELOAD not replaced"
    expect_rc 0 env "LD_PRELOAD=$real" "$GPX" run --lease "$vg" -- sh -c 'echo "LD_PRELOAD=$LD_PRELOAD"'
    grep -qx "LD_PRELOAD=$real" "$TEST_TMP/out" || fail "interposer preloaded twice"
    expect_rc 7 "$GPX" run --lease "$vg" -- sh -c 'exit 7'
else
    echo "note: $lib not built; checking the missing-interposer error only" >&2
fi

# A gpuplex whose lib/ has no interposer says so clearly (exit 1) for vgpu, not exclusive
# (in-process: with gpuplexd, the daemon's own interposer is the one workloads get).
if [ "$GPX_VIA" = local ]; then
    mkdir -p fake/bin fake/lib
    cp "$BUILD_DIR/bin/gpuplex" fake/bin/gpuplex
    ln -s "$BUILD_DIR/lib/sim" fake/lib/sim
    expect_rc 1 fake/bin/gpuplex run --lease "$vg" -- true
    expect_err "libgpuplex-cuda.so is missing"
    expect_rc 0 fake/bin/gpuplex run --lease "$ex" -- true
fi
