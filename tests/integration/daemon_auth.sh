# gpuplexd auth matrix and tenant isolation (daemon_auth.py).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/daemon_auth.py"
