# gpuplexd and VM hosts' sysfs: vgpu-types, VM leases in admission, kill -9 between a sysfs
# write and the store commit, a simulated host reboot, an orphan on vfio-pci (vm_reconcile.py).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/vm_reconcile.py"
