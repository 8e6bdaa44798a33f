# gpuplexd crash safety under SIGKILL at random points (daemon_crash.py).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/daemon_crash.py"
