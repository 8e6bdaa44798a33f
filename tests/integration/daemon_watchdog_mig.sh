# The watchdog and mig leases, with two real users (daemon_watchdog_mig.py).
. "$SRC_DIR/tests/integration/lib.sh"
GPX_ALICE=$(gpx_user a)
GPX_BOB=$(gpx_user b)
export GPX_ALICE GPX_BOB
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/daemon_watchdog_mig.py"
