#!/bin/sh
# Runs one integration script in a fresh temporary directory, removed after.
set -eu
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/gpx-test.XXXXXX")
export TEST_TMP
trap 'rm -rf "$TEST_TMP"' EXIT
cd "$TEST_TMP"
sh -eu "$1"
