# header_timeout is a deadline: a client trickling its headers is closed (daemon_slowdrip.py).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/daemon_slowdrip.py"
