# `gpuplex vm check` (daemonless, on the simulated sysfs tree of `sim init --sysfs`): the IOMMU
# group's members and roles, exit 0 only when passthrough could be granted, the refusal of a
# group with a foreign device on a host driver, the vGPU types of an mdev and an SR-IOV GPU,
# --json, and errors that name what is wrong. Changes nothing in the tree.
. "$SRC_DIR/tests/integration/lib.sh"
set -e
G="$BUILD_DIR/bin/gpuplex"
"$G" sim init --gpus 1xA100-40GB,1xH100-80GB --sysfs "$TEST_TMP/sys" >/dev/null
"$G" sim init --gpus 1xA100-40GB,1xH100-80GB --state "$TEST_TMP/f.sim" --sysfs "$TEST_TMP/foreign" \
    --sysfs-foreign 0 >/dev/null
export GPUPLEX_SYSFS_ROOT="$TEST_TMP/sys"
before=$(cd "$TEST_TMP/sys" && find . -printf '%p %l\n' | sort | md5sum)

# the A100 (index 0): GPU + audio leased, the bridge tolerated, mdev types on offer
expect_rc 0 "$G" vm check 0
grep -q "^GPU 0 GPU-.* at 0000:18:00.0" "$TEST_TMP/out" || fail "no GPU line: $(cat "$TEST_TMP/out")"
grep -Eq "0000:18:00.1 +snd_hda_intel +audio .* leased" "$TEST_TMP/out" || fail "audio not leased"
grep -Eq "0000:17:00.0 +pcieport +bridge .* tolerated" "$TEST_TMP/out" || fail "bridge not tolerated"
grep -q "passthrough: possible" "$TEST_TMP/out" || fail "passthrough not possible"
grep -Eq "vGPU: mdev, 11 types" "$TEST_TMP/out" || fail "no mdev types: $(cat "$TEST_TMP/out")"
grep -Eq "nvidia-469 +A100-20C +2 20 GiB" "$TEST_TMP/out" || fail "A100-20C not 2 available"
# by PCI address (any spelling) and by UUID: the same GPU
expect_rc 0 "$G" vm check 00000000:18:00.0
uuid=$("$G" ls --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["uuid"])')
expect_rc 0 "$G" vm check "$uuid" --json
[ "$(json 'j["pci"]' "$TEST_TMP/out")" = 0000:18:00.0 ] || fail "uuid resolved elsewhere"
[ "$(json 'j["vgpu_backend"]' "$TEST_TMP/out")" = mdev ] || fail "backend not mdev"
[ "$(json 'j["passthrough"]["ok"]' "$TEST_TMP/out")" = True ] || fail "json ok"
[ "$(json '[m["role"] for m in j["members"]]' "$TEST_TMP/out")" = "['leased', 'tolerated', 'leased']" ] ||
    fail "roles: $(json 'j["members"]' "$TEST_TMP/out")"
[ "$(json '[t["available"] for t in j["vgpu_types"] if t["name"]=="A100-1-5C"][0]' "$TEST_TMP/out")" = 7 ] ||
    fail "A100-1-5C"

# the H100: SR-IOV VFs enabled (vGPUs) block passthrough; its vendor-vfio types
expect_rc 6 "$G" vm check 1 --json
[ "$(json 'j["vgpu_backend"]' "$TEST_TMP/out")" = vendor-vfio ] || fail "backend not vendor-vfio"
[ "$(json 'j["sriov_numvfs"]' "$TEST_TMP/out")" = 20 ] || fail "numvfs"
json 'j["passthrough"]["reason"]' "$TEST_TMP/out" | grep -q "SR-IOV" || fail "no SR-IOV reason"
[ "$(json '[t["available"] for t in j["vgpu_types"] if t["name"]=="H100-80C"][0]' "$TEST_TMP/out")" = 1 ] ||
    fail "H100-80C"
[ "$(json '[t["mig_backed"] for t in j["vgpu_types"] if t["name"]=="H100-1-10C"][0]' "$TEST_TMP/out")" = True ] ||
    fail "H100-1-10C not MIG-backed"

# a foreign NIC on a host driver in the GPU's group: refused, naming it
GPUPLEX_SYSFS_ROOT="$TEST_TMP/foreign" expect_rc 6 "$G" vm check 0000:18:00.0
grep -Eq "0000:19:00.0 +e1000e +network .* blocks" "$TEST_TMP/out" || fail "NIC not blocking"
grep -q "passthrough: blocked: .*0000:19:00.0.*e1000e" "$TEST_TMP/out" || fail "no reason"

# errors
expect_rc 5 "$G" vm check 0000:99:00.0
expect_err "no PCI device 0000:99:00.0"
expect_rc 5 "$G" vm check 7
expect_err "no GPU '7'"
expect_rc 2 "$G" vm check 0000:18:00.9
expect_err "not a PCI address"
expect_rc 2 "$G" vm check
expect_rc 2 "$G" vm frob
expect_err "unknown subcommand 'frob'"
expect_rc 0 "$G" vm check --help
grep -q "exit status: 0 a passthrough lease could be granted" "$TEST_TMP/out" || fail "help"
# no IOMMU group: said so, with the kernel command line to fix it
rm "$TEST_TMP/foreign/devices/pci0000:00/0000:2a:00.0/iommu_group"
GPUPLEX_SYSFS_ROOT="$TEST_TMP/foreign" expect_rc 6 "$G" vm check 0000:2a:00.0
grep -q "intel_iommu=on" "$TEST_TMP/out" || fail "no IOMMU hint"

# vfio-pci not loaded: said so, with the command that loads it
"$G" sim init --gpus 1xA100-40GB --state "$TEST_TMP/f2.sim" --sysfs "$TEST_TMP/f2" >/dev/null
rm -rf "$TEST_TMP/f2/bus/pci/drivers/vfio-pci"
GPUPLEX_SYSFS_ROOT="$TEST_TMP/f2" expect_rc 6 "$G" vm check 0000:18:00.0
grep -q "passthrough: blocked: the vfio-pci driver is not loaded (modprobe vfio-pci)" "$TEST_TMP/out" ||
    fail "no vfio-pci hint: $(cat "$TEST_TMP/out")"

# nothing changed in the tree
after=$(cd "$TEST_TMP/sys" && find . -printf '%p %l\n' | sort | md5sum)
[ "$before" = "$after" ] || fail "vm check changed the tree"
echo ok
