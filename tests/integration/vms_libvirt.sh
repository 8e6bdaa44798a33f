# VMs through libvirt's test driver on a simulated sysfs tree (vms_libvirt.py).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/vms_libvirt.py"
