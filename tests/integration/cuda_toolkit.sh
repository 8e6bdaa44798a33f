# The installed CUDA toolkit's own view of the simulator (issue 17, item 4),
# on a node with the default driver (550.54.15, CUDA 12.4) and on one made
# with --driver 580.65.06 (CUDA 13.0):
# - the toolkit's __nvcc_device_query (what nvcc -arch=native runs) prints
#   the compute capability of the simulated H100s (90);
# - toolkit_query.c, compiled here against the toolkit's cuda.h and linked
#   with the simulated libcuda.so.1 (so it calls the versioned names the
#   header maps to: cuDeviceTotalMem_v2, cuCtxCreate_v4 with CUDA 13),
#   reports the driver's CUDA version, the whole GPU bare, and the lease's
#   quota under a 4 GiB vgpu lease from cuDeviceTotalMem and cuMemGetInfo.
# Skipped (77) where no toolkit is installed: CUDA_HOME, else /usr/local/cuda.
. "$SRC_DIR/tests/integration/lib.sh"
CUDA=${CUDA_HOME:-/usr/local/cuda}
if [ ! -f "$CUDA/include/cuda.h" ] || [ ! -x "$CUDA/bin/__nvcc_device_query" ]; then
    echo "skipped: no CUDA toolkit at $CUDA (needs include/cuda.h and bin/__nvcc_device_query)" >&2
    exit 77
fi
SIMLIB=$BUILD_DIR/lib/sim
export LD_LIBRARY_PATH="$SIMLIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
unset GPUPLEX_LEASE LD_PRELOAD

# Built as a toolkit user builds it: the toolkit's header, -lcuda, no gpuplex header.
cc -std=c11 -Wall -Wextra -Werror -I"$CUDA/include" "$SRC_DIR/tests/integration/toolkit_query.c" \
    -L"$SIMLIB" -lcuda -o tq 2>cc.err || fail "toolkit_query.c does not build against $CUDA/include/cuda.h and the simulated libcuda.so.1: $(cat cc.err)"
header=$(awk '/^#define CUDA_VERSION / {print $3; exit}' "$CUDA/include/cuda.h")
# The entry points the header maps to, resolved in the simulated driver.
nm -D --undefined-only tq >tq.syms
grep -qw cuDeviceTotalMem_v2 tq.syms || fail "tq does not call cuDeviceTotalMem_v2: $(cat tq.syms)"
if [ "$header" -ge 13000 ]; then
    grep -qw cuCtxCreate_v4 tq.syms || fail "CUDA $header's cuda.h: tq does not call cuCtxCreate_v4"
fi

# field NAME: a key=value line of tq's last output (out)
field() {
    sed -n "s/^$1=//p" "$TEST_TMP/out"
}

for driver in default 580.65.06; do
    # each node with its own state: leases of one are not the other's
    export GPUPLEX_SIM="$TEST_TMP/$driver.sim" GPUPLEX_STATE_DIR="$TEST_TMP/$driver.state"
    export GPUPLEX_RUN_DIR="$TEST_TMP/$driver.run"
    if [ "$driver" = default ]; then
        "$GPX" sim init --gpus 2xH100-80GB >/dev/null
        want_cuda=12040
    else
        "$GPX" sim init --gpus 2xH100-80GB --driver "$driver" >/dev/null
        want_cuda=13000
    fi

    expect_rc 0 "$CUDA/bin/__nvcc_device_query"
    [ "$(cat "$TEST_TMP/out")" = 90 ] ||
        fail "driver $driver: __nvcc_device_query printed '$(cat "$TEST_TMP/out")', expected 90"

    # Bare: the whole H100 (81559 MiB), from both calls.
    expect_rc 0 ./tq
    [ "$(field driver)" = $want_cuda ] || fail "driver $driver: cuDriverGetVersion $(field driver)"
    [ "$(field cc)" = 9.0 ] || fail "driver $driver: compute capability $(field cc)"
    [ "$(field total_mem_mib)" = 81559 ] || fail "driver $driver: bare cuDeviceTotalMem $(field total_mem_mib) MiB"
    [ "$(field meminfo_total_mib)" = 81559 ] || fail "driver $driver: bare cuMemGetInfo $(field meminfo_total_mib) MiB"

    # Under a 4 GiB vgpu lease: the slice, from both calls.
    L=$("$GPX" lease create --gpu 0 --memory 4G 2>/dev/null) || fail "driver $driver: lease create"
    expect_rc 0 "$GPX" run --lease "$L" -- ./tq
    [ "$(field total_mem_mib)" = 4096 ] ||
        fail "driver $driver: cuDeviceTotalMem_v2 under a 4 GiB lease: $(field total_mem_mib) MiB"
    [ "$(field meminfo_total_mib)" = 4096 ] ||
        fail "driver $driver: cuMemGetInfo_v2 under a 4 GiB lease: $(field meminfo_total_mib) MiB"
    "$GPX" lease rm "$L" >/dev/null
done
echo "ok: __nvcc_device_query and toolkit_query (cuda.h $header) on CUDA 12.4 and 13.0 nodes"
