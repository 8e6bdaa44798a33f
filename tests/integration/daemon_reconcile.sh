# gpuplexd reconciliation: dead owners, start-up repair (daemon_reconcile.py).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/daemon_reconcile.py"
