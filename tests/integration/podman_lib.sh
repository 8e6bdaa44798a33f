# Sourced (after lib.sh) by the integration tests that run real podman on the simulator:
# setup, the `pod` wrapper, a test image, cleanup. Generic: nothing here knows a lease.
# shellcheck shell=sh
#
#   podman_setup                 checks podman is usable, makes the private storage and the
#                                CDI dirs, installs the cleanup trap (EXIT)
#   podman_image NAME [PROG...]  builds image NAME (podman import of a rootfs): busybox,
#                                gpuplex-burn and each PROG (a path; gpx-ipcheck, ...) with the
#                                libraries ldd names, plus those of what CDI specs mount
#   pod ARGS...                  podman on this test's storage, seeing $POD_CDI as its only CDI
#                                directory (the spec gpuplexd / `gpuplex cdi generate` write)
#   podman_wrapper FILE          FILE: an executable that runs podman as `pod` does
#   prun DEVICE CMD...           `pod run --rm` of $POD_IMAGE with one CDI device
#   podman_sim_node GPUS         the simulated node, its spec reaching containers (GPUPLEX_CONFIG)
#   podman_cleanup               removes this test's containers (called by the EXIT trap;
#                                a test with its own EXIT trap calls it from there)
#
# podman 4.3 (Debian 12) reads specs from /etc/cdi and /var/run/cdi only (it has no
# cdi_spec_dirs), so each podman command runs in a private mount namespace where $POD_CDI is
# bound over /run/cdi and an empty dir over /etc/cdi; storage (--root, --runroot, --tmpdir,
# vfs) is under the test's temp dir, so nothing of the host's podman is seen or touched. Of
# the host, only the v1 hugetlb controller crun needs is mounted (../shared/PEERS.md) and
# empty /run/cdi, /etc/cdi made. Containers are not networked (--network none in prun).
POD_CDI=${POD_CDI:-$TEST_TMP/cdi}
POD_IMAGE=${POD_IMAGE:-localhost/gpx-test}
# per-command bound; a test running a long container passes its own `timeout` around pod
POD_TIMEOUT=${POD_TIMEOUT:-120}

podman_setup() {
    for t in podman crun busybox unshare; do
        command -v $t >/dev/null 2>&1 ||
            fail "$t is missing: scripts/install-deps test (crun podman busybox-static)"
    done
    [ "$(id -u)" = 0 ] || fail "the podman tests run as root (rootful podman, mknod, mount namespaces)"
    # cgroup v1 (hybrid) hosts: crun wants the hugetlb controller mounted (v2 needs nothing)
    if [ -d /sys/fs/cgroup/cpu ] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
        mkdir -p /sys/fs/cgroup/hugetlb
        mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb 2>/dev/null || true
    fi
    mkdir -p "$POD_CDI" "$TEST_TMP/.pod-empty" "$TEST_TMP/pod" /run/cdi /etc/cdi
    # the default nofile limit of podman 4.3 (1M) is more than some hosts grant
    cat >"$TEST_TMP/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
EOF
    export CONTAINERS_CONF="$TEST_TMP/containers.conf"
    export POD_CDI TEST_TMP
    trap podman_cleanup EXIT
}

# pod ARGS...: podman on this test's storage, seeing $POD_CDI as its only CDI directory
pod() {
    # shellcheck disable=SC2016 # expanded by the inner shell
    timeout "$POD_TIMEOUT" unshare --mount --propagation private sh -c '
        mount --bind "$POD_CDI" /run/cdi && mount --bind "$TEST_TMP/.pod-empty" /etc/cdi &&
        exec podman --root "$TEST_TMP/pod/root" --runroot "$TEST_TMP/pod/run" \
            --tmpdir "$TEST_TMP/pod/tmp" \
            --storage-driver vfs --cgroup-manager cgroupfs --events-backend file "$@"' pod "$@"
}

# podman_wrapper FILE: writes FILE, an executable that is `pod` as a program (for what runs
# podman itself: `gpuplex run --container --podman FILE`, GPUPLEX_PODMAN, gpuplexd)
podman_wrapper() {
    cat >"$1" <<EOF
#!/bin/sh
export CONTAINERS_CONF='$TEST_TMP/containers.conf'
exec unshare --mount --propagation private sh -c '
    mount --bind "$POD_CDI" /run/cdi && mount --bind "$TEST_TMP/.pod-empty" /etc/cdi &&
    exec podman --root "$TEST_TMP/pod/root" --runroot "$TEST_TMP/pod/run" \\
        --tmpdir "$TEST_TMP/pod/tmp" \\
        --storage-driver vfs --cgroup-manager cgroupfs --events-backend file "\$@"' pod "\$@"
EOF
    chmod 755 "$1"
}

# prun DEVICE CMD...: a container of the test image with one CDI device
prun() {
    p_dev=$1
    shift
    pod run --rm --pull never --network none ${ASAN_OPTIONS:+--env ASAN_OPTIONS} \
        --device "$p_dev" "$POD_IMAGE" "$@"
}

# podman_copy_libs FILE: copies the libraries ldd names for FILE into the rootfs (once each)
podman_copy_libs() {
    ldd "$1" 2>/dev/null | grep -o '/[^ ]*' | while read -r p_lib; do
        p_to=$TEST_TMP/rootfs$p_lib
        [ -e "$p_to" ] || { mkdir -p "$(dirname "$p_to")" && cp -L "$p_lib" "$p_to"; }
    done
}

# podman_image NAME [PROG...]: the image (no registry here): busybox, gpuplex-burn and PROGs
# with their libraries; then one plain `podman run` to show podman works at all.
podman_image() {
    p_name=$1
    shift
    POD_IMAGE=$p_name
    p_root=$TEST_TMP/rootfs
    rm -rf "$p_root"
    mkdir -p "$p_root/bin" "$p_root/dev" "$p_root/proc" "$p_root/sys" "$p_root/tmp" "$p_root/etc"
    cp "$(command -v busybox)" "$p_root/bin/busybox"
    for a in sh ls cat env true grep sleep kill ps; do ln -s busybox "$p_root/bin/$a"; done
    for p in "$BUILD_DIR/bin/gpuplex-burn" "$@"; do
        cp "$p" "$p_root/bin/"
        podman_copy_libs "$p"
    done
    # the dependencies of what CDI specs mount (the interposer, the simulated driver) come
    # from the image too (libc; libasan in the sanitized build)
    for so in "$p_root/bin/busybox" "$BUILD_DIR/lib/libgpuplex-cuda.so" \
        "$BUILD_DIR/lib/sim/libcuda.so.1" "$BUILD_DIR/lib/sim/libnvidia-ml.so.1"; do
        podman_copy_libs "$so"
    done
    tar -C "$p_root" -cf "$TEST_TMP/rootfs.tar" .
    pod import "$TEST_TMP/rootfs.tar" "$p_name" >"$TEST_TMP/import.out" 2>&1 ||
        { cat "$TEST_TMP/import.out" >&2; fail "podman import"; }
    p_t0=$(date +%s)
    pod run --rm --pull never --network none "$p_name" true ||
        fail "podman cannot run a container here at all (see its message above)"
    echo "a plain podman run took $(($(date +%s) - p_t0)) s"
}

# podman_sim_node GPUS: the simulated node (gpuplex sim init --gpus GPUS, unless $GPUPLEX_SIM is) reaching containers by
# configuration alone (docs/containers.md): stand-in device nodes under $TEST_TMP/dev, and
# $TEST_TMP/gpuplexd.conf (exported as GPUPLEX_CONFIG) whose cdi_* keys write the spec into
# $POD_CDI/gpuplex.json with the simulated driver, its state file and libraries. A test adds
# its own keys with `echo KEY = VALUE >>"$GPUPLEX_CONFIG"`.
podman_sim_node() {
    [ -e "$GPUPLEX_SIM" ] || "$BUILD_DIR/bin/gpuplex" sim init --gpus "$1" --state "$GPUPLEX_SIM" >/dev/null
    mkdir -p "$TEST_TMP/dev/nvidia-caps"
    # /dev/null's numbers, so that opening one inside works
    for n in nvidia0 nvidia1 nvidia2 nvidia3 nvidiactl nvidia-uvm nvidia-uvm-tools; do
        [ -e "$TEST_TMP/dev/$n" ] || mknod -m 666 "$TEST_TMP/dev/$n" c 1 3
    done
    cat >"$TEST_TMP/gpuplexd.conf" <<EOF
cdi_spec = $POD_CDI/gpuplex.json
cdi_dev_root = $TEST_TMP/dev
cdi_driver_libs = $BUILD_DIR/lib/sim
cdi_env = GPUPLEX_SIM=$GPUPLEX_SIM LD_LIBRARY_PATH=$BUILD_DIR/lib/sim
cdi_mounts = $GPUPLEX_SIM:$GPUPLEX_SIM:rw
EOF
    export GPUPLEX_CONFIG="$TEST_TMP/gpuplexd.conf"
}

# podman_cleanup: this test's containers (all of them live in its --root) stopped and removed,
# so that no conmon or container process outlives the test's temp dir
podman_cleanup() {
    [ -d "$TEST_TMP/pod/root" ] || return 0
    POD_TIMEOUT=60 pod rm --all --force --time 0 >/dev/null 2>&1 || true
}
