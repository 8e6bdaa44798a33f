# A real Prometheus scrapes gpuplexd; promtool checks /metrics (daemon_prometheus.py).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/daemon_prometheus.py"
