# `make install` (issue 19): the install rules' tree in a DESTDIR, then a lease run from
# the installed paths alone — the installed gpuplex finds its simulator and interposer in
# LIBDIR/gpuplex beside itself, never in the build tree — then scripts/uninstall (what
# `make uninstall` runs) leaves nothing behind. And `make help` lists every target.
. "$SRC_DIR/tests/integration/lib.sh"

root="$TEST_TMP/root"
# per component (gpuplex, sim), as packages install them: their manifests are named
# install_manifest_COMPONENT.txt, so that a `make install`'s install_manifest.txt in the
# same build tree is left alone. Copied at once: they are what uninstall reads.
for c in gpuplex sim; do
    DESTDIR="$root" cmake --install "$BUILD_DIR" --prefix /usr --component "$c" >"$TEST_TMP/install.$c" ||
        fail "cmake --install --component $c"
    cp "$BUILD_DIR/install_manifest_$c.txt" "$TEST_TMP/manifest.$c"
done
# every install rule names its component: nothing is left to a plain install alone
DESTDIR="$TEST_TMP/unspecified" cmake --install "$BUILD_DIR" --prefix /usr \
    --component Unspecified >/dev/null || fail "cmake --install --component Unspecified"
[ -z "$(find "$TEST_TMP/unspecified" ! -type d 2>/dev/null)" ] ||
    fail "install rules without a component: $(find "$TEST_TMP/unspecified" ! -type d)"

# the layout of docs/operator-guide.md ("Install"); LIBDIR is lib or lib/<multiarch>
root=$(cd "$root" && pwd -P)
bin="$root/usr/bin" sbin="$root/usr/sbin"
ip=$(find "$root/usr" -name libgpuplex-cuda.so)
[ -n "$ip" ] || fail "the interposer is not installed"
pkglib=$(dirname "$ip")
case $pkglib in "$root"/usr/lib*/gpuplex) ;; *) fail "the interposer is in $pkglib, not LIBDIR/gpuplex" ;; esac
for f in "$bin/gpuplex" "$bin/gpuplex-burn" "$sbin/gpuplexd" "$pkglib/sim/gpuplex-sim" \
    "$pkglib/sim/libcuda.so.1" "$pkglib/sim/libnvidia-ml.so.1" \
    "$root/usr/share/doc/gpuplex/README.md" "$root/usr/share/doc/gpuplex/operator-guide.md" \
    "$root/usr/libexec/gpuplex/gpuplex-fn-worker" \
    "$root/usr/share/doc/gpuplex/examples/fn-worker/worker.c"; do
    [ -e "$f" ] || fail "not installed: ${f#"$root"}"
done
# nothing installed runs from the build tree (RUNPATH: CMake drops the build's at install)
if command -v readelf >/dev/null 2>&1; then
    for f in "$bin/gpuplex" "$sbin/gpuplexd" "$ip" "$pkglib/sim/gpuplex-sim"; do
        ! readelf -d "$f" | grep -E 'R(UN)?PATH' || fail "${f#"$root"} has a RUNPATH"
    done
fi

# the installed programs alone: PATH without the build tree, no inherited driver paths
inst() {
    env -i PATH="$bin:$sbin:/usr/bin:/bin" GPUPLEX_SIM="$GPUPLEX_SIM" \
        GPUPLEX_STATE_DIR="$GPUPLEX_STATE_DIR" GPUPLEX_RUN_DIR="$GPUPLEX_RUN_DIR" \
        ASAN_OPTIONS="$ASAN_OPTIONS" "$@"
}
[ "$(inst sh -c 'command -v gpuplex')" = "$bin/gpuplex" ] || fail "PATH does not find the installed gpuplex"
expect_rc 0 inst gpuplex sim init --gpus 1xH100-80GB --state "$GPUPLEX_SIM"
expect_rc 0 inst gpuplex lease create --memory 1G
id=$(cat "$TEST_TMP/out")
# the interposer a lease's workloads get is the installed one
grep -qF "LD_PRELOAD=$ip" "$TEST_TMP/err" || {
    cat "$TEST_TMP/err" >&2
    fail "the lease does not name the installed interposer $ip"
}
expect_rc 0 inst gpuplex run --lease "$id" -- gpuplex-burn --alloc-mib 2048 --json
[ "$(json 'j["allocated_mib"]' "$TEST_TMP/out")" = 1024 ] || {
    cat "$TEST_TMP/out" >&2
    fail "the installed interposer did not stop gpuplex-burn at the lease's 1024 MiB"
}
expect_rc 0 inst gpuplex lease rm "$id"
expect_rc 0 inst gpuplexd --version
grep -q '^gpuplexd ' "$TEST_TMP/out" || fail "gpuplexd --version: $(cat "$TEST_TMP/out")"
# the installed gpuplexd --sim finds the installed gpuplex (in bin/, not beside it in sbin/),
# and the installed CLI talks to it
# (env directly, not through inst: a function run with & is a subshell, and $! its pid,
# which kill would stop and leave gpuplexd running; env execs gpuplexd under its own pid)
env -i PATH="$bin:$sbin:/usr/bin:/bin" GPUPLEX_SIM="$GPUPLEX_SIM" ASAN_OPTIONS="$ASAN_OPTIONS" \
    gpuplexd --sim 1xH100-80GB --state-dir "$TEST_TMP/dstate" --run-dir "$TEST_TMP/drun" \
    --socket "$TEST_TMP/d.sock" --set "cdi_spec=$TEST_TMP/cdi/gpuplex.json" >"$TEST_TMP/d.log" 2>&1 &
echo $! >"$TEST_TMP/gpxd.pid" # run-one.sh stops it if this script fails
i=0
until [ -S "$TEST_TMP/d.sock" ]; do
    i=$((i + 1))
    [ "$i" -lt 200 ] && kill -0 "$(cat "$TEST_TMP/gpxd.pid")" 2>/dev/null || {
        cat "$TEST_TMP/d.log" >&2
        fail "the installed gpuplexd --sim did not start"
    }
    sleep 0.05
done
expect_rc 0 env -i PATH="$bin:/usr/bin:/bin" GPUPLEX_SERVER="$TEST_TMP/d.sock" \
    ASAN_OPTIONS="$ASAN_OPTIONS" gpuplex status --json
[ "$(json 'j["daemon"]["gpus"]' "$TEST_TMP/out")" = 1 ] || fail "status through the installed gpuplexd: $(cat "$TEST_TMP/out")"
# the web dashboard is installed with the daemon (SHAREDIR/gpuplex/web, the chart library
# beside the page) and the installed gpuplexd serves it from there: GET / on its socket
for f in index.html app.js style.css uPlot.iife.min.js uPlot.min.css; do
    [ -f "$root/usr/share/gpuplex/web/$f" ] || fail "not installed: /usr/share/gpuplex/web/$f"
done
python3 - "$TEST_TMP/d.sock" <<'EOF' || fail "the installed gpuplexd does not serve its dashboard at /"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
data = b""
while True:
    c = s.recv(65536)
    if not c:
        break
    data += c
head = data.split(b"\r\n\r\n", 1)[0]
ok = head.startswith(b"HTTP/1.1 200") and b"text/html" in head and b"/web/uPlot.iife.min.js" in data
sys.exit(0 if ok else "GET /: %r" % head)
EOF
kill "$(cat "$TEST_TMP/gpxd.pid")"
wait "$(cat "$TEST_TMP/gpxd.pid")" || :
rm -f "$TEST_TMP/gpxd.pid"

# uninstall: every file gone, and gpuplex's own directories with them
expect_rc 0 env DESTDIR="$root" "$SRC_DIR/scripts/uninstall" "$TEST_TMP/manifest.gpuplex" \
    "$TEST_TMP/manifest.sim"
left=$(find "$root" ! -type d -o -name gpuplex)
[ -z "$left" ] || fail "left after uninstall: $left"
# a missing manifest is an error that says so, not a silent success
expect_rc 1 env DESTDIR="$root" "$SRC_DIR/scripts/uninstall" "$TEST_TMP/no-manifest.txt"
expect_err "no-manifest.txt is missing"

# make help: one line for every target the Makefile declares
targets=$(sed -n '/^\.PHONY:/,/[^\\]$/p' "$SRC_DIR/Makefile" | sed 's/^\.PHONY://; s/\\//g')
make -s -C "$SRC_DIR" help >"$TEST_TMP/help" || fail "make help"
for t in $targets; do
    grep -q "^  make $t " "$TEST_TMP/help" || fail "make help does not list '$t'"
done
echo "installed, ran a lease from $root/usr, uninstalled; make help lists $(echo $targets | wc -w) targets"
