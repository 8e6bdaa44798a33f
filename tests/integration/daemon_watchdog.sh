# gpuplexd runs the watchdog backstop every second (daemon_watchdog.py).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/daemon_watchdog.py"
