# gpuplexd metering: usage of real (simulated) workloads, windows, restarts (daemon_meter.py).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/daemon_meter.py"
