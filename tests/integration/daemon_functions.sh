# GPU functions, daemon side (issue 15, docs/functions.md): registry, pool, router, meter
# with the example worker on the simulator (daemon_functions.py).
. "$SRC_DIR/tests/integration/lib.sh"
PYTHONPATH="$SRC_DIR/tests/integration" timeout 240 python3 \
    "$SRC_DIR/tests/integration/daemon_functions.py" || fail "daemon_functions.py"
