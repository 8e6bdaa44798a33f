# The CLI through gpuplexd: lease create|ls|rm, run --lease, run --mode (daemon_cli.py).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/daemon_cli.py"
