# Managed containers (issue 11 item 4, docs/containers.md): tenants run containers through
# gpuplexd's /v1/containers with real podman on the simulator (containers_managed.py).
# Here: podman, the test image, the simulated node whose CDI spec reaches podman, and a podman
# wrapper (tests/integration/podman_lib.sh) that gpuplexd runs as its `podman`.
. "$SRC_DIR/tests/integration/lib.sh"
. "$SRC_DIR/tests/integration/podman_lib.sh"
podman_setup
podman_image localhost/gpx-mc
podman_sim_node 2xH100-80GB
podman_wrapper "$TEST_TMP/podman"
# the containers gpuplexd starts are not networked (this host has no container network)
echo 'netns = "none"' >>"$TEST_TMP/containers.conf"
cat >>"$GPUPLEX_CONFIG" <<CONF
container_images = docker.io/library/python:3.12, localhost/gpx-mc, registry.example.com/ml/*
podman = $TEST_TMP/podman
podman_args = --log-level=error --events-backend file
CONF
export POD_WRAPPER="$TEST_TMP/podman"
PYTHONPATH="$SRC_DIR/tests/integration" timeout 300 python3 \
    "$SRC_DIR/tests/integration/containers_managed.py" || fail "containers_managed.py"
