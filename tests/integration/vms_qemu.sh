# A real VM end to end (issue 13, docs/vms.md): libvirtd + QEMU (software emulation, no KVM)
# started by the test under its temp dir (libvirt_lib.sh), a small guest built by
# vm_image.sh (Debian's kernel + an initramfs with busybox, dropbear and virtio-net, kept
# in the build dir between runs), `gpuplex vm create` through gpuplexd, the returned SSH
# endpoint accepts the tenant's key and runs a command in the guest (`gpuplex vm ssh`),
# `gpuplex vm rm` stops the domain and ends the lease. No GPU reaches the guest here
# (vm_hostdev = false): the <hostdev> path is vms_libvirt's. Bounded: 90 s for the VM part.
. "$SRC_DIR/tests/integration/lib.sh"
. "$SRC_DIR/tests/integration/libvirt_lib.sh"
B=$BUILD_DIR/bin
missing=$(libvirt_missing)
[ -z "$missing" ] || fail "a real VM needs: $missing(scripts/install-deps test group)"
IMG=$BUILD_DIR/vm-image
sh "$SRC_DIR/tests/integration/vm_image.sh" "$IMG" || fail "building the guest image"
cd "$TEST_TMP" || fail "no temp dir"
trap 'libvirt_stop' EXIT
libvirt_start "$TEST_TMP/lv" || fail "libvirtd did not start"
t0=$(date +%s)

"$B/gpuplex" sim init --gpus 2xH100-80GB >/dev/null
port=$(python3 -c 'import random; print(random.randrange(30000, 60000, 100))')
cat >gpxd.conf <<CONF
libvirt_uri = $LIBVIRT_URI
vm_images = $IMG
vm_domain_type = qemu
vm_hostdev = false
vm_ssh_port_min = $port
vm_ssh_port_max = $((port + 99))
CONF
GPUPLEX_CONFIG=$TEST_TMP/gpxd.conf
export GPUPLEX_CONFIG
gpxd_start "$TEST_TMP/gpxd.sock"
export GPUPLEX_SERVER="$TEST_TMP/gpxd.sock"
ssh-keygen -q -t ed25519 -N '' -C tenant-key -f key

expect_rc 0 "$B/gpuplex" vm create --json --gpu 0 --vcpus 1 --memory 256M \
    --kernel "$IMG/vmlinuz" --initrd "$IMG/initrd.img" --ssh-key key.pub
cp "$TEST_TMP/out" vm.json
id=$(json 'j["id"]' vm.json)
lease=$(json 'j["lease"]' vm.json)
[ "$(json 'j["state"]' vm.json)" = running ] || fail "vm create: $(cat vm.json)"
[ "$(json 'j["ssh"]["host"]' vm.json)" = 127.0.0.1 ] || fail "endpoint: $(cat vm.json)"
vport=$(json 'j["ssh"]["port"]' vm.json)
[ "$vport" -ge "$port" ] && [ "$vport" -le $((port + 99)) ] || fail "port $vport out of range"
virsh -q -c "$LIBVIRT_URI" list --name | grep -qx "gpuplex-$id" || fail "no running domain"
"$B/gpuplex" vm ls >ls.txt
grep -q "$id .* running .*root@127.0.0.1:$vport" ls.txt || { cat ls.txt; fail "vm ls"; }

# the guest boots (~7 s under TCG) and its dropbear takes the tenant's key
ok=
i=0
while [ $i -lt 30 ] && [ $(($(date +%s) - t0)) -lt 80 ]; do
    if timeout 15 "$B/gpuplex" vm ssh -i key -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o ConnectTimeout=3 -o LogLevel=ERROR "$id" -- \
        'echo "guest-says $(uname -r) $(cat /root/.ssh/authorized_keys | cut -d" " -f3)"' \
        >ssh.out 2>ssh.err; then
        ok=1
        break
    fi
    i=$((i + 1))
    sleep 2
done
[ -n "$ok" ] || {
    cat ssh.err "$TEST_TMP/vms/$id-console.log" "$TEST_TMP/state/vms/$id-console.log" 2>/dev/null
    fail "no SSH into the guest within $(($(date +%s) - t0)) s"
}
grep -q "^guest-says .* tenant-key$" ssh.out || { cat ssh.out; fail "the guest's answer"; }
echo "ssh into the guest after $(($(date +%s) - t0)) s: $(cat ssh.out)"
# a wrong key is refused
ssh-keygen -q -t ed25519 -N '' -f other
expect_rc 255 "$B/gpuplex" vm ssh -i other -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 -o IdentitiesOnly=yes -o LogLevel=ERROR \
    "$id" -- true

# --- gpuplexd restarted: a live lease's domain is left running, an ended one's destroyed ----
expect_rc 0 "$B/gpuplex" vm create --json --gpu 1 --memory 128M --kernel "$IMG/vmlinuz" \
    --initrd "$IMG/initrd.img" --ssh-key key.pub
id2=$(json 'j["id"]' "$TEST_TMP/out")
lease2=$(json 'j["lease"]' "$TEST_TMP/out")
kill "$(cat "$TEST_TMP/gpxd.pid")"
i=0
while kill -0 "$(cat "$TEST_TMP/gpxd.pid")" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 200 ] || fail "gpuplexd did not stop"
    sleep 0.05
done
virsh -q -c "$LIBVIRT_URI" list --name | grep -qx "gpuplex-$id2" || fail "stopping gpuplexd stopped a VM"
# the lease ends while gpuplexd is away (the CLI's own engine on the same state)
GPUPLEX_SERVER='' expect_rc 0 "$B/gpuplex" lease rm "$lease2"
gpxd_start "$TEST_TMP/gpxd.sock"
virsh -q -c "$LIBVIRT_URI" list --all --name | grep -q "gpuplex-$id2" &&
    fail "the domain of an ended lease survived gpuplexd's start"
virsh -q -c "$LIBVIRT_URI" list --name | grep -qx "gpuplex-$id" || fail "a live lease's domain was stopped"
"$B/gpuplex" vm ls >ls.txt
grep -q "$id2 .* ended " ls.txt && grep -q "$id .* running " ls.txt || { cat ls.txt; fail "vm ls after restart"; }
timeout 20 "$B/gpuplex" vm ssh -i key -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 -o LogLevel=ERROR "$id" -- true ||
    fail "the guest is unreachable after gpuplexd restarted"
expect_rc 0 "$B/gpuplex" vm rm "$id2"

expect_rc 0 "$B/gpuplex" vm rm "$id"
virsh -q -c "$LIBVIRT_URI" list --all --name | grep -q "gpuplex-$id" && fail "domain left after rm"
"$B/gpuplex" lease ls --state all --json >leases.json
python3 - "$lease" leases.json <<'PY' || fail "lease $lease not ended: $(cat leases.json)"
import json, sys
ls = json.load(open(sys.argv[2]))
ls = ls.get("leases", ls) if isinstance(ls, dict) else ls
assert [l["state"] for l in ls if l["id"] == sys.argv[1]] == ["released"], ls
PY
expect_rc 5 "$B/gpuplex" vm ssh "$id"
t=$(($(date +%s) - t0))
[ $t -le 90 ] || fail "the VM part took $t s (bound: 90 s)"
echo "vms_qemu: create, boot, ssh and rm in $t s"
