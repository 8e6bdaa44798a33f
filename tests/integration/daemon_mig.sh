# gpuplexd and MIG: mig leases, /v1/gpus/{id}/mig, crash safety (daemon_mig.py).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/daemon_mig.py"
