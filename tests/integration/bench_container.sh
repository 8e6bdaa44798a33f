# gpuplex bench's container row (issue 16) with real podman on the simulator: measured through
# `gpuplex run --mode exclusive --container IMAGE` (CDI), refused with the reason for an image
# podman does not have, a failing `-- CMD` in the container reported as that row's failure.
. "$SRC_DIR/tests/integration/lib.sh"
. "$SRC_DIR/tests/integration/podman_lib.sh"
B=$BUILD_DIR/bin
export GPUPLEX_SERVER=none
podman_setup
podman_image localhost/gpx-bench-test
podman_sim_node 1xH100-80GB
podman_wrapper "$TEST_TMP/podman"
mkdir -p "$TEST_TMP/sysfs/kernel"
export GPUPLEX_SYSFS_ROOT="$TEST_TMP/sysfs"
bench() { timeout 200 $B/gpuplex bench --podman "$TEST_TMP/podman" "$@"; }
row() { echo "[r for r in j['rows'] if r['mode'] == '$1'][0]"; }
check() {
    [ "$(json "$1" "$2")" = True ] || { cat "$2" >&2; fail "$1"; }
}

bench --image localhost/gpx-bench-test --modes exclusive,container --runs 2 --duration-ms 300 \
    --json >c.json 2>progress.txt || { cat progress.txt c.json; fail "bench with a container row"; }
check "$(row container)['status'] == 'ok' and $(row container)['runs'] == 2 and $(row container)['isolation'] == 'hardware'" c.json
check "0.3 < $(row container)['relative_to_bare'] < 1.5" c.json
# the container's lease was released: nothing active
$B/gpuplex lease ls --json >act.json
check 'len(j) == 0' act.json

# an image podman does not have: refused, never pulled
bench --image localhost/not-here --modes container --runs 1 --duration-ms 100 --json >r.json 2>/dev/null
check "$(row container)['status'] == 'refused' and 'not in podman' in $(row container)['reason']" r.json
# no image at all
GPUPLEX_BENCH_IMAGE='' bench --modes container --runs 1 --duration-ms 100 --json >n.json 2>/dev/null
check "$(row container)['status'] == 'refused' and 'no container image' in $(row container)['reason']" n.json

# -- CMD fails inside the container: that row failed, with the container's exit status
expect_rc 1 bench --image localhost/gpx-bench-test --modes container --runs 1 --json -- sh -c 'exit 5'
cp "$TEST_TMP/out" f.json
check "$(row container)['status'] == 'failed' and $(row container)['exit_code'] == 5" f.json
echo "bench_container: ok"
