# One peer floods gpuplexd with connections; another peer keeps being served (daemon_flood.py).
. "$SRC_DIR/tests/integration/lib.sh"
flooder=$(gpx_user f)
other=$(gpx_user o)
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/daemon_flood.py" \
    "$flooder" "$other"
