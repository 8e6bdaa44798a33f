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
    rm -rf "$TEST_TMP"
}
trap stop EXIT
cd "$TEST_TMP"
sh -eu "$1"
