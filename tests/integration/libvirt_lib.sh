# Sourced: a private libvirtd (QEMU driver) for tests and the demo (../shared/PEERS.md).
# shellcheck shell=sh
#
# libvirt_start DIR: runs virtlogd and libvirtd in their own mount namespace, where
# /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt are
# bind mounts of directories under DIR: their config (qemu.conf: user and group root,
# security_driver none) and all their state stay under DIR, and the host's paths are only
# used as (empty) mount points. Sets LIBVIRT_URI (qemu:///system with the socket under DIR),
# LIBVIRTD_PID and VIRTLOGD_PID. Touches the host in one way: libvirtd's QEMU driver refuses
# to start without the system user libvirt-qemu, which is made (useradd -r) when missing and
# kept (Debian's libvirt-daemon-system makes the same user).
# libvirt_stop: destroys the domains left running, stops libvirtd and virtlogd by PID.
libvirt_start() {
    lv=$1
    mkdir -p "$lv/etc" "$lv/run" "$lv/lib" "$lv/log" "$lv/cache"
    for p in /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt; do
        mkdir -p "$p"
    done
    id -u libvirt-qemu >/dev/null 2>&1 || useradd -r -M -U -s /usr/sbin/nologin libvirt-qemu
    cat >"$lv/etc/qemu.conf" <<CONF
user = "root"
group = "root"
security_driver = "none"
dynamic_ownership = 0
remember_owner = 0
CONF
    cat >"$lv/etc/libvirtd.conf" <<CONF
unix_sock_group = "root"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
CONF
    : >"$lv/etc/virtlogd.conf"
    unshare -m --propagation private sh -c "
        mount --bind '$lv/etc' /etc/libvirt && mount --bind '$lv/run' /run/libvirt &&
        mount --bind '$lv/lib' /var/lib/libvirt && mount --bind '$lv/log' /var/log/libvirt &&
        mount --bind '$lv/cache' /var/cache/libvirt &&
        virtlogd -d -p '$lv/virtlogd.pid' && exec libvirtd -p '$lv/libvirtd.pid'" \
        >"$lv/libvirtd.log" 2>&1 &
    LIBVIRTD_PID=$!
    LIBVIRT_DIR=$lv
    LIBVIRT_URI="qemu:///system?socket=$lv/run/libvirt-sock"
    lv_i=0
    until virsh -q -c "$LIBVIRT_URI" version >/dev/null 2>&1; do
        kill -0 "$LIBVIRTD_PID" 2>/dev/null || { cat "$lv/libvirtd.log" >&2; return 1; }
        lv_i=$((lv_i + 1))
        [ $lv_i -lt 200 ] || { cat "$lv/libvirtd.log" >&2; return 1; }
        sleep 0.05
    done
    VIRTLOGD_PID=$(cat "$lv/virtlogd.pid")
    export LIBVIRT_URI LIBVIRTD_PID VIRTLOGD_PID LIBVIRT_DIR
}

libvirt_stop() {
    [ -n "${LIBVIRTD_PID:-}" ] || return 0
    for dom in $(virsh -q -c "$LIBVIRT_URI" list --name 2>/dev/null); do
        virsh -q -c "$LIBVIRT_URI" destroy "$dom" >/dev/null 2>&1 || true
    done
    # a QEMU libvirtd could not stop (libvirtd gone): by its pid file
    for f in "$LIBVIRT_DIR"/run/qemu/*.pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
    done
    kill "$LIBVIRTD_PID" 2>/dev/null || true
    [ -n "${VIRTLOGD_PID:-}" ] && kill "$VIRTLOGD_PID" 2>/dev/null || true
    lv_i=0
    while kill -0 "$LIBVIRTD_PID" 2>/dev/null && [ $lv_i -lt 100 ]; do
        sleep 0.05
        lv_i=$((lv_i + 1))
    done
    kill -9 "$LIBVIRTD_PID" 2>/dev/null || true
    LIBVIRTD_PID=
}

# libvirt_missing: prints what a real VM here lacks (empty when nothing).
libvirt_missing() {
    for t in libvirtd virtlogd virsh qemu-system-x86_64 unshare ssh ssh-keygen cpio; do
        command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || printf '%s ' "$t"
    done
    [ "$(id -u)" = 0 ] || printf 'root '
}
