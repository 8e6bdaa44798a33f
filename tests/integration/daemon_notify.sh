# gpuplexd's readiness protocol for the unit's Type=notify (daemon_notify.py).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/daemon_notify.py"
