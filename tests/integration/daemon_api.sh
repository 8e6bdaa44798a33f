# gpuplexd API contract (daemon_api.py).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/daemon_api.py"
