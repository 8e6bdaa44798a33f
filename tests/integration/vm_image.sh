#!/bin/sh
# Builds the small guest the real-VM test boots (tests/integration/vms_qemu.sh):
# Debian's kernel (linux-image-amd64) and an initramfs with busybox-static,
# dropbear and the virtio-net and virtio-rng modules. Its init reads the tenant's SSH key from
# the kernel command line (gpuplex.ssh_key=<base64>, as gpuplexd writes it for
# a kernel+initrd VM), brings up eth0 on QEMU's user network (10.0.2.15), starts
# dropbear on port 22 and says GPUPLEX-GUEST-READY on the serial console.
#
# usage: vm_image.sh DIR -> DIR/vmlinuz, DIR/initrd.img (kept when DIR/stamp
# matches the kernel and this script: rebuilt only when either changes)
set -eu
dir=$1
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -n "$kernel" ] || { echo "vm_image: no /boot/vmlinuz-* (apt-get install linux-image-amd64)" >&2; exit 1; }
kver=${kernel#/boot/vmlinuz-}
mods=/lib/modules/$kver/kernel
stamp="$kver $(cksum <"$0" | cut -d' ' -f1)"
if [ -f "$dir/stamp" ] && [ "$(cat "$dir/stamp")" = "$stamp" ] && [ -f "$dir/initrd.img" ]; then
    exit 0
fi
for t in busybox dropbear; do
    command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] ||
        { echo "vm_image: $t is missing (apt-get install busybox-static dropbear-bin)" >&2; exit 1; }
done
mkdir -p "$dir"
root=$(mktemp -d "$dir/root.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/sbin" "$root/etc" "$root/proc" "$root/sys" "$root/dev" "$root/root/.ssh" \
    "$root/tmp" "$root/lib/modules" "$root/etc/dropbear" "$root/var/log"
cp "$(command -v busybox)" "$root/bin/busybox"
db=$(command -v dropbear || echo /usr/sbin/dropbear)
cp "$db" "$root/sbin/dropbear"
# dropbear is dynamically linked: its libraries and the loader, at the same paths
for lib in $(ldd "$db" | awk '/=>/ {print $3} /^\t\// {print $1}'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
for m in virtio/virtio_ring virtio/virtio virtio/virtio_pci_legacy_dev virtio/virtio_pci_modern_dev \
    virtio/virtio_pci char/hw_random/virtio-rng; do
    cp "$mods/drivers/$m.ko" "$root/lib/modules/"
done
cp "$mods/net/core/failover.ko" "$mods/drivers/net/net_failover.ko" "$mods/drivers/net/virtio_net.ko" \
    "$root/lib/modules/"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
echo '/bin/sh' >"$root/etc/shells"
cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
# virtio-rng first: dropbear waits for the kernel's random pool (the domain has an <rng>)
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio-rng \
    failover net_failover virtio_net; do
    insmod /lib/modules/$m.ko
done
for w in 1 2 3 4 5 6 7 8 9 10; do [ -e /sys/class/net/eth0 ] && break; sleep 0.5; done
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
for a in $(cat /proc/cmdline); do
    case $a in gpuplex.ssh_key=*) echo "$(echo "${a#gpuplex.ssh_key=}" | base64 -d)" >/root/.ssh/authorized_keys ;; esac
done
chmod 700 /root /root/.ssh
chmod 600 /root/.ssh/authorized_keys 2>/dev/null
echo "guest: $(wc -l </root/.ssh/authorized_keys 2>/dev/null || echo 0) authorized key(s)"
dropbear -R -E -s -p 22
echo GPUPLEX-GUEST-READY
while :; do sleep 3600; done
INIT
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$dir/initrd.img.tmp"
cp "$kernel" "$dir/vmlinuz.tmp"
mv "$dir/initrd.img.tmp" "$dir/initrd.img"
mv "$dir/vmlinuz.tmp" "$dir/vmlinuz"
echo "$stamp" >"$dir/stamp"
