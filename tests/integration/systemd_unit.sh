# The installed gpuplexd.service (packaging/gpuplexd.service.in, packaging/install.cmake):
# `systemd-analyze verify` accepts it in a DESTDIR tree (--root: ExecStart= must name an
# executable there) with no warning at all; ExecStart= follows the install prefix; its
# Documentation= pages are installed; its directories are gpuplexd's defaults; the
# example config lands in DOCDIR/examples always and in /etc/gpuplex only for the
# prefix /usr, without overwriting an existing one. Skipped without systemd-analyze
# (scripts/install-deps test installs systemd, which is harmless without systemd as PID 1).
. "$SRC_DIR/tests/integration/lib.sh"

command -v systemd-analyze >/dev/null 2>&1 || {
    echo "skipped: no systemd-analyze (Debian package systemd)" >&2
    exit 77
}
conf="$SRC_DIR/packaging/gpuplexd.conf"

install_to() { # ROOT PREFIX
    DESTDIR="$1" cmake --install "$BUILD_DIR" --prefix "$2" --component gpuplex \
        >"$TEST_TMP/install.log" 2>&1 || {
        cat "$TEST_TMP/install.log" >&2
        fail "cmake --install --prefix $2 --component gpuplex"
    }
}

# --- prefix /usr, as the package and `make install PREFIX=/usr` -----------------------
root="$TEST_TMP/root"
install_to "$root" /usr
unit="$root/usr/lib/systemd/system/gpuplexd.service"
[ -f "$unit" ] || fail "not installed: /usr/lib/systemd/system/gpuplexd.service"
grep -qx "ExecStart=/usr/sbin/gpuplexd" "$unit" || fail "ExecStart=: $(grep ExecStart "$unit")"
[ -x "$root/usr/sbin/gpuplexd" ] || fail "ExecStart= names no installed gpuplexd"
! grep -q @ "$unit" || fail "unsubstituted: $(grep @ "$unit")"

# systemd's own targets (sysinit.target, ...) are what the unit's default dependencies
# name; --root looks for them in the tree, so the test gives it the host's (scaffolding)
mkdir -p "$root/etc/systemd/system"
cp /usr/lib/systemd/system/*.target "$root/etc/systemd/system/" 2>/dev/null ||
    cp /lib/systemd/system/*.target "$root/etc/systemd/system/"
# --man=no: the pages are checked below in the tree (verify would ask the host's man)
set +e
systemd-analyze verify --man=no --root="$root" "$unit" >"$TEST_TMP/out" 2>"$TEST_TMP/err"
rc=$?
set -e
[ "$rc" = 0 ] && [ ! -s "$TEST_TMP/err" ] || {
    cat "$TEST_TMP/out" "$TEST_TMP/err" >&2
    fail "systemd-analyze verify: exit $rc (any warning fails: an unknown key is only a warning)"
}
rm -r "$root/etc/systemd"

# Documentation=: man:NAME(S) installed as share/man/manS/NAME.S, file:// paths exist
docs=$(sed -n 's/^Documentation=//p' "$unit" | tr ' ' '\n')
[ -n "$docs" ] || fail "no Documentation="
for d in $docs; do
    case $d in
    man:*)
        page=${d#man:} name=${page%%(*} sec=${page#*(}
        sec=${sec%)}
        ls "$root/usr/share/man/man$sec/$name.$sec"* >/dev/null 2>&1 || fail "$d is not installed"
        ;;
    file://*) [ -f "$root${d#file://}" ] || fail "$d is not installed" ;;
    *) fail "Documentation=$d: neither man: nor file://" ;;
    esac
done

# the directories systemd makes are gpuplexd's defaults (the example config = defaults)
env -u GPUPLEX_RUN_DIR "$root/usr/sbin/gpuplexd" --check-config "$conf" >"$TEST_TMP/eff" ||
    fail "gpuplexd --check-config $conf"
grep -qx "state_dir = /var/lib/gpuplex" "$TEST_TMP/eff" || fail "state_dir default is not StateDirectory="
grep -qx "socket = /run/gpuplex/gpuplexd.sock" "$TEST_TMP/eff" || fail "socket default is not in RuntimeDirectory="
grep -qx "run_dir =" "$TEST_TMP/eff" || fail "run_dir has a default other than /run/gpuplex"
for kv in Type=notify StateDirectory=gpuplex StateDirectoryMode=0711 RuntimeDirectory=gpuplex \
    RuntimeDirectoryMode=0755 RuntimeDirectoryPreserve=yes ProtectSystem=strict \
    "ReadWritePaths=/var/lib/gpuplex /run/gpuplex /sys" NoNewPrivileges=yes PrivateTmp=yes \
    ProtectHome=yes "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK" \
    Restart=on-failure; do
    grep -qxF "$kv" "$unit" || fail "the unit lacks $kv"
done
# StateDirectoryMode= is the mode gpuplexd gives its state dir itself
grep -q "define GPX_STATE_DIR_MODE 0711" "$SRC_DIR/src/core/paths.h" ||
    fail "GPX_STATE_DIR_MODE is no longer 0711: change StateDirectoryMode= with it"

# the example config: DOCDIR/examples always, /etc/gpuplex for the prefix /usr
cmp -s "$conf" "$root/usr/share/doc/gpuplex/examples/gpuplexd.conf" || fail "no DOCDIR example"
cmp -s "$conf" "$root/etc/gpuplex/gpuplexd.conf" || fail "no /etc/gpuplex/gpuplexd.conf for /usr"
echo "placement = spread" >"$root/etc/gpuplex/gpuplexd.conf"
install_to "$root" /usr
grep -qx "placement = spread" "$root/etc/gpuplex/gpuplexd.conf" ||
    fail "a reinstall overwrote an edited /etc/gpuplex/gpuplexd.conf"

# --- another prefix: ExecStart= follows it, nothing is written outside it -------------
other="$TEST_TMP/other"
install_to "$other" /opt/gpx
grep -qx "ExecStart=/opt/gpx/sbin/gpuplexd" "$other/opt/gpx/lib/systemd/system/gpuplexd.service" ||
    fail "ExecStart= under --prefix /opt/gpx: $(grep -r ExecStart "$other" | head -1)"
grep -q "^Documentation=file:///opt/gpx/share/doc/gpuplex/daemon.md$" \
    "$other/opt/gpx/lib/systemd/system/gpuplexd.service" || fail "Documentation= under /opt/gpx"
[ "$(ls "$other")" = opt ] || fail "--prefix /opt/gpx wrote outside it: $(ls "$other")"
cmp -s "$conf" "$other/opt/gpx/share/doc/gpuplex/examples/gpuplexd.conf" || fail "no example under /opt/gpx"
echo "ok: unit verified, prefix-true, documented, defaults matched; example config placed"
