# Per-lease and per-MIG-instance /metrics series; promtool and Prometheus (daemon_metrics.py).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/daemon_metrics.py"
