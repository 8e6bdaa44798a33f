#!/bin/sh
# Runs one integration script in a fresh temporary directory, removed after.
set -eu
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/gpx-test.XXXXXX")
export TEST_TMP
# a gpuplexd started by gpx-wrap.sh (GPX_VIA=daemon) is stopped by its pid
stop() {
    if [ -e "$TEST_TMP/gpxd.pid" ]; then
        kill "$(cat "$TEST_TMP/gpxd.pid")" 2>/dev/null || true
        i=0
        while kill -0 "$(cat "$TEST_TMP/gpxd.pid")" 2>/dev/null && [ $i -lt 100 ]; do
            sleep 0.05
            i=$((i + 1))
        done
        kill -9 "$(cat "$TEST_TMP/gpxd.pid")" 2>/dev/null || true
    fi
    # users made by gpx_user (lib.sh): userdel retries while another test holds /etc/passwd
    if [ -s "$TEST_TMP/.users" ]; then
        while read -r u; do
            pkill -9 -u "$u" 2>/dev/null || true
            i=0
            while id -u "$u" >/dev/null 2>&1 && [ $i -lt 50 ]; do
                userdel "$u" 2>/dev/null || sleep 0.1
                i=$((i + 1))
            done
        done <"$TEST_TMP/.users"
    fi
    rm -rf "$TEST_TMP"
}
trap stop EXIT
# The host's gpuplex paths are not a test's to write: a test whose gpuplex wrote one fails
# (with -j, the culprit is this test or one running beside it).
host_paths="/var/run/cdi/gpuplex.json /run/gpuplex"
absent=""
for p in $host_paths; do [ -e "$p" ] || absent="$absent $p"; done
cd "$TEST_TMP"
sh -eu "$1"
for p in $absent; do
    if [ -e "$p" ]; then
        echo "FAIL: $p appeared during this test: a gpuplex it started used the host's default" \
            "path (give it the test's dir: lib.sh gpxd_start, gpxd.py Daemon)" >&2
        exit 1
    fi
done
