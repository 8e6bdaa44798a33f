#!/bin/sh
# The web dashboard in headless Chromium (web_dashboard.py, web_dashboard.mjs).
# playwright-core comes from the npm registry at the version locked in
# tests/integration/web/package-lock.json, installed into the build tree once
# (BUILD_DIR/web-test); it drives Debian's /usr/bin/chromium and never downloads a
# browser. Both are test dependencies: scripts/install-deps test.
set -eu
. "$SRC_DIR/tests/integration/lib.sh"
for tool in node npm python3; do
    command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/install-deps test"
done
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing: run scripts/install-deps test"
[ -d "$BUILD_DIR/share/gpuplex/web" ] || fail "the dashboard's files are not built: $BUILD_DIR/share/gpuplex/web"
WEB_TEST_DIR="$BUILD_DIR/web-test"
export WEB_TEST_DIR PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
mkdir -p "$WEB_TEST_DIR"
# npm ci again only when the lock changed (a concurrent run of this test would race: ctest
# runs it once)
if ! cmp -s "$SRC_DIR/tests/integration/web/package-lock.json" "$WEB_TEST_DIR/package-lock.json" ||
    [ ! -d "$WEB_TEST_DIR/node_modules/playwright-core" ]; then
    cp "$SRC_DIR/tests/integration/web/package.json" "$SRC_DIR/tests/integration/web/package-lock.json" \
        "$WEB_TEST_DIR/"
    (cd "$WEB_TEST_DIR" && timeout 300 npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) ||
        fail "npm ci of playwright-core in $WEB_TEST_DIR failed (is the npm registry reachable?)"
fi
PYTHONPATH="$SRC_DIR/tests/integration" python3 "$SRC_DIR/tests/integration/web_dashboard.py"
