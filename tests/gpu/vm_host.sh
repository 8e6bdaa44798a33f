#!/bin/sh
# Issue 13's GPU-host check, read-only: what src/vm reads on a real VM host, against what the
# kernel and the driver say, without changing anything (no bind, no vGPU made).
#
#   - each GPU nvidia-smi lists is a PCI device in sysfs (vendor 0x10de, class 0x03xxxx) at
#     the address NVML gives, in gpuplex's spelling;
#   - `gpuplex vm check ADDRESS --json` reads it: exit 0 or 6 (never an error), its IOMMU group
#     the kernel's (/sys/kernel/iommu_groups/N/devices), every member listed with the driver
#     its `driver` link names, and exit 0 only when no member outside the GPU's own slot is
#     held by a host driver;
#   - the vGPU backend it picks matches the host: vendor-vfio where a VF has
#     nvidia/creatable_vgpu_types (and then every "ID : name" line of the first free VF is
#     one of the types listed), mdev where mdev_supported_types exists (and the type count
#     is the directory's), none otherwise.
# A copy of every `vm check` and the vendor files read goes to $OUT_DIR/vm_host/.
#
# Exit 77 (skipped) without an NVIDIA GPU. Needs no IOMMU (a host without one is reported).
# By hand: BUILD_DIR=build tests/gpu/vm_host.sh
set -eu
# shellcheck source=tests/gpu/lib.sh
. "$(dirname "$0")/lib.sh"
unset GPUPLEX_SYSFS_ROOT
out="$OUT_DIR/vm_host"
mkdir -p "$out"
n=0
nvidia-smi --query-gpu=index,pci.bus_id --format=csv,noheader >"$TEST_TMP/gpus"
while IFS=', ' read -r idx bus; do
    bdf=$(echo "$bus" | tr 'A-F' 'a-f' | sed 's/^0000\(....:\)/\1/')
    dev=/sys/bus/pci/devices/$bdf
    [ -d "$dev" ] || fail "GPU $idx: NVML says $bus, but $dev is missing"
    [ "$(cat "$dev/vendor")" = 0x10de ] || fail "GPU $idx: $dev/vendor is $(cat "$dev/vendor")"
    case $(cat "$dev/class") in 0x03*) ;; *) fail "GPU $idx: class $(cat "$dev/class")" ;; esac
    set +e
    "$GPX" vm check "$bdf" --json >"$out/check-$idx.json" 2>"$out/check-$idx.err"
    rc=$?
    set -e
    [ "$rc" = 0 ] || [ "$rc" = 6 ] || fail "GPU $idx: vm check exited $rc: $(cat "$out/check-$idx.err")"
    "$GPX" vm check "$idx" >"$out/check-$idx.txt" 2>&1 || :
    j=$out/check-$idx.json
    [ "$(json 'j["pci"]' "$j")" = "$bdf" ] || fail "GPU $idx: vm check read $(json 'j["pci"]' "$j")"
    if [ -L "$dev/iommu_group" ]; then
        grp=$(basename "$(readlink "$dev/iommu_group")")
        [ "$(json 'j["iommu_group"]' "$j")" = "$grp" ] || fail "GPU $idx: group $grp, vm check says $(json 'j["iommu_group"]' "$j")"
        want=$(ls "/sys/kernel/iommu_groups/$grp/devices" | sort | tr '\n' ' ')
        got=$(json '" ".join(sorted(m["address"] for m in j["members"]))' "$j")
        [ "$want" = "$got " ] || fail "GPU $idx: group members '$want', vm check '$got'"
        for m in $want; do
            d=""
            [ -L "/sys/bus/pci/devices/$m/driver" ] && d=$(basename "$(readlink "/sys/bus/pci/devices/$m/driver")")
            [ "$(json "[x['driver'] for x in j['members'] if x['address']=='$m'][0]" "$j")" = "$d" ] ||
                fail "GPU $idx: $m's driver is '$d', vm check says otherwise"
        done
        blocks=$(json 'sum(1 for m in j["members"] if m["role"]=="blocks")' "$j")
        if [ "$blocks" != 0 ] && [ "$rc" = 0 ]; then fail "GPU $idx: blockers but exit 0"; fi
        echo "GPU $idx ($bdf): IOMMU group $grp, $(echo "$want" | wc -w) member(s), passthrough exit $rc"
    else
        [ "$rc" = 6 ] || fail "GPU $idx: no IOMMU group but vm check exited $rc"
        json 'j["passthrough"]["reason"]' "$j" | grep -q "IOMMU" || fail "GPU $idx: reason lacks IOMMU"
        echo "GPU $idx ($bdf): no IOMMU group (IOMMU off): reported as such"
    fi
    backend=$(json 'j["vgpu_backend"]' "$j")
    vf=""
    if [ -e "$dev/sriov_numvfs" ] && [ "$(cat "$dev/sriov_numvfs")" -gt 0 ]; then
        for l in "$dev"/virtfn*; do
            [ -e "$l/nvidia/creatable_vgpu_types" ] || continue
            [ "$(cat "$l/nvidia/current_vgpu_type" 2>/dev/null || echo 0)" = 0 ] || continue
            vf=$l
            break
        done
    fi
    if [ -n "$vf" ]; then
        [ "$backend" = vendor-vfio ] || fail "GPU $idx: a VF has creatable_vgpu_types, backend $backend"
        cp "$vf/nvidia/creatable_vgpu_types" "$out/creatable-$idx.txt"
        tail -n +2 "$vf/nvidia/creatable_vgpu_types" | while IFS=: read -r id name; do
            id=$(echo "$id" | tr -d ' ')
            [ -n "$id" ] || continue
            json "[t for t in j['vgpu_types'] if t['id']=='$id']" "$j" | grep -q "$id" ||
                fail "GPU $idx: type $id ($name) of $vf not listed by vm check"
        done
        echo "  vendor-vfio: $(json 'len(j["vgpu_types"])' "$j") type(s); format as documented"
    elif [ -d "/sys/class/mdev_bus/$bdf/mdev_supported_types" ]; then
        [ "$backend" = mdev ] || fail "GPU $idx: mdev_supported_types exists, backend $backend"
        have=$(ls "/sys/class/mdev_bus/$bdf/mdev_supported_types" | wc -l)
        [ "$(json 'len(j["vgpu_types"])' "$j")" = "$have" ] || fail "GPU $idx: $have mdev types"
        echo "  mdev: $have type(s)"
    else
        echo "  vGPU: $backend (no vGPU manager on this host)"
    fi
    n=$((n + 1))
done <"$TEST_TMP/gpus"
[ "$n" -gt 0 ] || skip "nvidia-smi listed no GPU"
echo "ok: $n GPU(s) checked read-only; files in $out"
