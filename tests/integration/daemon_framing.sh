# gpuplexd refuses ambiguous request framing (duplicate Content-Length, CL + TE) (daemon_framing.py).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/daemon_framing.py"
