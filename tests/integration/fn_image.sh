# GPU functions whose worker is a container image (issue 15 item 1, docs/functions.md "Worker
# protocol"): gpuplexd runs `podman run` of the image through the lease's CDI device, the
# worker's socket in a bind-mounted directory of its own (fn_image.py). Here: podman, the image
# (busybox and the example worker with the libraries ldd names, its command the worker), the
# simulated node whose CDI spec reaches podman, and the podman wrapper gpuplexd runs.
# Bounded: each podman command by POD_TIMEOUT, fn_image.py by 90 s; podman_cleanup (EXIT)
# removes what containers are left, gpuplexd dies with the test (gpxd.py).
. "$SRC_DIR/tests/integration/lib.sh"
. "$SRC_DIR/tests/integration/podman_lib.sh"
podman_setup
podman_image localhost/gpx-fn "$BUILD_DIR/bin/gpuplex-fn-worker"
# a function names an image, not a command: the image's own command is the worker (JSON form:
# the worker is PID 1 of the container and takes the SIGTERM podman passes on)
pod import --change 'CMD ["/bin/gpuplex-fn-worker", "--kernel-us", "1000"]' \
    ${ASAN_OPTIONS:+--change "ENV ASAN_OPTIONS=$ASAN_OPTIONS"} \
    "$TEST_TMP/rootfs.tar" localhost/gpx-fn >"$TEST_TMP/import.out" 2>&1 ||
    { cat "$TEST_TMP/import.out" >&2; fail "podman import with the worker as CMD"; }
podman_sim_node 1xH100-80GB
podman_wrapper "$TEST_TMP/podman"
# the containers gpuplexd starts are not networked (this host has no container network)
echo 'netns = "none"' >>"$TEST_TMP/containers.conf"
cat >>"$GPUPLEX_CONFIG" <<CONF
container_images = localhost/gpx-fn
podman = $TEST_TMP/podman
podman_args = --log-level=error
CONF
export POD_WRAPPER="$TEST_TMP/podman"
PYTHONPATH="$SRC_DIR/tests/integration" timeout 90 python3 \
    "$SRC_DIR/tests/integration/fn_image.py" || fail "fn_image.py"
