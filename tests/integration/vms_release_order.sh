# A VM's release order, observed: domain destroyed -> devices given back -> lease ended
# (vms_release_order.py; libvirt's test driver, the simulated sysfs tree and kernel).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/vms_release_order.py"
