# `make deb` (issue 19): the Debian packages CPack's DEB generator makes from the install
# components (cmake/packaging.cmake), built from this build tree with the /usr prefix a
# package has. Their control fields (Depends: from dpkg-shlibdeps, satisfied by this
# system's packages; gpuplex-sim on the same gpuplex), then `dpkg --root` installs both
# into an empty root, where the installed gpuplex runs a lease on the installed simulator
# from the root's paths alone, and `dpkg -r`/`-P` remove every file. Last, the maintainer
# scripts' systemd logic against a stub systemctl.
. "$SRC_DIR/tests/integration/lib.sh"

for t in cpack dpkg dpkg-deb dpkg-shlibdeps file; do
    command -v "$t" >/dev/null 2>&1 ||
        fail "$t is missing: scripts/install-deps test (make deps-test) installs it"
done

# The packages of this build tree. cpack runs the tree's preinstall target (nothing to
# do when it is built) and stages the components under $TEST_TMP/pkg. A tree configured
# with another prefix (/usr/local: LIBDIR lib) packages at /usr all the same: the
# destinations are relative, and the binaries find LIBDIR/gpuplex from their own
# directory (GPX_PKGLIB_REL), whichever LIBDIR that is.
pkg="$TEST_TMP/pkg"
cpack -G DEB --config "$BUILD_DIR/CPackConfig.cmake" -B "$pkg" \
    -D CPACK_PACKAGING_INSTALL_PREFIX=/usr >"$TEST_TMP/cpack.log" 2>&1 || {
    cat "$TEST_TMP/cpack.log" >&2
    fail "cpack -G DEB"
}
version=$(sed -n 's/^project(gpuplex VERSION \([0-9.]*\).*/\1/p' "$SRC_DIR/CMakeLists.txt")
arch=$(dpkg --print-architecture)
deb="$pkg/gpuplex_${version}_$arch.deb"
simdeb="$pkg/gpuplex-sim_${version}_$arch.deb"
for f in "$deb" "$simdeb"; do
    [ -f "$f" ] || fail "cpack made $(ls "$pkg"), not ${f#"$pkg/"}"
done

field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$deb" Package)" = gpuplex ] || fail "Package: $(field "$deb" Package)"
[ "$(field "$simdeb" Package)" = gpuplex-sim ] || fail "Package: $(field "$simdeb" Package)"
[ "$(field "$deb" Version)" = "$version" ] || fail "Version: $(field "$deb" Version), not $version"
[ "$(field "$deb" Architecture)" = "$arch" ] || fail "Architecture: $(field "$deb" Architecture)"
[ "$(field "$deb" Section)" = admin ] || fail "Section: $(field "$deb" Section)"
[ -n "$(field "$deb" Maintainer)" ] || fail "no Maintainer:"
# Depends: the runtime libraries the programs link (dpkg-shlibdeps), none of the -dev
# packages; each one installed here at a version that satisfies it
depends=$(field "$deb" Depends)
for lib in libc6 libjansson4 libsqlite3-0 libmicrohttpd12 libcurl4 libacl1 libyaml-0-2 libnettle8; do
    echo "$depends" | tr ',' '\n' | grep -q "^ *$lib\( \|$\)" || fail "gpuplex Depends: lacks $lib: $depends"
done
! echo "$depends" | grep -q -- '-dev' || fail "gpuplex Depends: names a -dev package: $depends"
echo "$depends" | tr ',' '\n' | sed 's/^ *//' | while read -r name rel; do
    have=$(dpkg-query -W -f='${Version}\n' "$name" 2>/dev/null | head -n 1)
    [ -n "$have" ] || fail "Depends: $name is not installed on this system"
    [ -z "$rel" ] && continue
    op=$(echo "$rel" | sed 's/^(\([<>=]*\) .*/\1/') want=$(echo "$rel" | sed 's/^([<>=]* \(.*\))$/\1/')
    case $op in ">=") op=ge ;; "=") op=eq ;; "<<") op=lt ;; ">>") op=gt ;; "<=") op=le ;; esac
    dpkg --compare-versions "$have" "$op" "$want" || fail "Depends: $name $rel, but this system has $have"
done || fail "gpuplex Depends: not satisfied by this system"
simdepends=$(field "$simdeb" Depends)
echo "$simdepends" | tr ',' '\n' | grep -q "^ *gpuplex (= $version)$" ||
    fail "gpuplex-sim Depends: lacks gpuplex (= $version): $simdepends"
# the maintainer scripts, executable; the simulator's package has none
dpkg-deb -e "$deb" "$TEST_TMP/control"
for s in prerm postinst postrm; do
    [ -x "$TEST_TMP/control/$s" ] || fail "gpuplex has no executable $s"
done
# every file it installs under /etc is a conffile (kept on remove and upgrade), and
# nothing else is
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | sed -n 's|^\./etc/|/etc/|p' | sort >"$TEST_TMP/etc"
sort "$TEST_TMP/control/conffiles" 2>/dev/null >"$TEST_TMP/conffiles" || :
cmp -s "$TEST_TMP/etc" "$TEST_TMP/conffiles" ||
    fail "conffiles ($(cat "$TEST_TMP/conffiles")) are not the files under /etc ($(cat "$TEST_TMP/etc"))"
# the files of each package are those of its install component
dpkg-deb -c "$deb" | grep -q ' \./usr/lib/gpuplex/libgpuplex-cuda\.so$' || fail "gpuplex lacks the interposer"
! dpkg-deb -c "$deb" | grep -q '/sim/' || fail "gpuplex holds simulator files"
dpkg-deb -c "$simdeb" | grep -q ' \./usr/lib/gpuplex/sim/libnvidia-ml\.so\.1$' || fail "gpuplex-sim lacks libnvidia-ml.so.1"
! dpkg-deb -c "$simdeb" | grep -q '/usr/bin/' || fail "gpuplex-sim holds programs of bin/"
# man pages compressed, as Debian's are (cmake/deb-prebuild.cmake)
! dpkg-deb -c "$deb" | grep -E '/usr/share/man/man[1-9]/[^/]+[^z]$' || fail "gpuplex has uncompressed man pages"

# dpkg --root into an empty root: a dpkg database of its own, no packages. Its
# Depends: (libc6, ...) are not installed there, hence --force-depends: they were checked
# above against this system, whose libraries the installed programs load. The maintainer
# scripts run outside the root (no shell in it) with DPKG_ROOT set, and touch no systemd.
root="$TEST_TMP/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
: >"$root/var/lib/dpkg/status"
rdpkg() { dpkg --root="$root" --force-not-root --force-script-chrootless "$@"; }
expect_rc 0 rdpkg --force-depends -i "$deb" "$simdeb"
for p in gpuplex gpuplex-sim; do
    [ "$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' "$p")" = "install ok installed" ] ||
        fail "$p is not installed in the root: $(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' "$p")"
done
root=$(cd "$root" && pwd -P)
bin="$root/usr/bin" sbin="$root/usr/sbin"
for f in "$bin/gpuplex" "$bin/gpuplex-burn" "$sbin/gpuplexd" "$root/usr/lib/gpuplex/libgpuplex-cuda.so" \
    "$root/usr/lib/gpuplex/sim/gpuplex-sim" "$root/usr/share/doc/gpuplex/README.md"; do
    [ -e "$f" ] || fail "not installed by the packages: ${f#"$root"}"
done

# the installed programs alone, as in install.sh
inst() {
    env -i PATH="$bin:$sbin:/usr/bin:/bin" GPUPLEX_SIM="$GPUPLEX_SIM" \
        GPUPLEX_STATE_DIR="$GPUPLEX_STATE_DIR" GPUPLEX_RUN_DIR="$GPUPLEX_RUN_DIR" \
        ASAN_OPTIONS="$ASAN_OPTIONS" "$@"
}
expect_rc 0 inst gpuplex --version
[ "$(cat "$TEST_TMP/out")" = "gpuplex $version" ] || fail "gpuplex --version: $(cat "$TEST_TMP/out")"
expect_rc 0 inst gpuplexd --version
expect_rc 0 inst gpuplex sim init --gpus 1xH100-80GB --state "$GPUPLEX_SIM"
expect_rc 0 inst gpuplex lease create --memory 1G
id=$(cat "$TEST_TMP/out")
grep -qF "LD_PRELOAD=$root/usr/lib/gpuplex/libgpuplex-cuda.so" "$TEST_TMP/err" || {
    cat "$TEST_TMP/err" >&2
    fail "the lease does not name the packaged interposer"
}
expect_rc 0 inst gpuplex run --lease "$id" -- gpuplex-burn --alloc-mib 2048 --json
[ "$(json 'j["allocated_mib"]' "$TEST_TMP/out")" = 1024 ] || {
    cat "$TEST_TMP/out" >&2
    fail "the packaged interposer did not stop gpuplex-burn at the lease's 1024 MiB"
}
expect_rc 0 inst gpuplex lease rm "$id"

# dpkg -r: the simulator first (gpuplex-sim depends on gpuplex), then gpuplex; no file
# of either is left but the conffiles; dpkg -P (purge) removes those too, and the
# directories
expect_rc 0 rdpkg -r gpuplex-sim gpuplex
find "$root" -path "$root/var" -prune -o ! -type d -print | sed "s|^$root||" | sort >"$TEST_TMP/left"
cmp -s "$TEST_TMP/left" "$TEST_TMP/conffiles" || fail "left after dpkg -r: $(cat "$TEST_TMP/left")"
expect_rc 0 rdpkg -P gpuplex-sim gpuplex
left=$(find "$root" -path "$root/var" -prune -o \( ! -type d -o -name 'gpuplex*' \) -print)
[ -z "$left" ] || fail "left after dpkg -P: $left"

# The maintainer scripts' systemd logic, with a stub systemctl and deb-systemd-invoke that
# log their calls, and a stand-in for /run/systemd/system (where systemd runs).
stub="$TEST_TMP/stub"
mkdir -p "$stub/bin" "$stub/run/systemd/system"
for t in systemctl deb-systemd-invoke; do
    # shellcheck disable=SC2016 # the stub's own $* and ${ACTIVE}
    printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\ncase "$*" in *is-active*) exit "${ACTIVE:-0}" ;; esac\nexit 0\n' \
        "$t" "$stub" >"$stub/bin/$t"
    chmod +x "$stub/bin/$t"
done
# script ARG... [ENV=...]: runs one maintainer script with the stand-in path, the stubs first on PATH
script() {
    s=$1
    shift
    sed "s|/run/systemd/system|$stub/run/systemd/system|" "$TEST_TMP/control/$s" >"$stub/$s"
    rm -f "$stub/calls"
    env PATH="$stub/bin:/usr/bin:/bin" ACTIVE="${ACTIVE:-0}" DPKG_ROOT="${DPKG_ROOT:-}" \
        sh "$stub/$s" "$@" || fail "$s $* exited $?"
    cat "$stub/calls" 2>/dev/null || :
}
[ "$(script prerm remove)" = "systemctl --quiet is-active gpuplexd.service
deb-systemd-invoke stop gpuplexd.service" ] || fail "prerm remove: $(script prerm remove)"
[ "$(script prerm upgrade 0.1.0)" = "$(script prerm remove)" ] || fail "prerm upgrade: $(script prerm upgrade 0.1.0)"
# not running: nothing to stop
[ "$(ACTIVE=3 script prerm remove)" = "systemctl --quiet is-active gpuplexd.service" ] ||
    fail "prerm remove of an inactive service: $(ACTIVE=3 script prerm remove)"
# dpkg --root: never this system's systemd
[ -z "$(DPKG_ROOT=/x script prerm remove)" ] || fail "prerm under DPKG_ROOT: $(DPKG_ROOT=/x script prerm remove)"
[ -z "$(DPKG_ROOT=/x script postinst configure)" ] || fail "postinst under DPKG_ROOT"
[ "$(script postinst configure)" = "systemctl --system daemon-reload" ] ||
    fail "postinst configure (a first install): $(script postinst configure)"
[ "$(script postinst configure 0.0.9)" = "systemctl --system daemon-reload
systemctl --quiet is-enabled gpuplexd.service
deb-systemd-invoke start gpuplexd.service" ] || fail "postinst configure (an upgrade): $(script postinst configure 0.0.9)"
[ "$(script postrm remove)" = "systemctl --system daemon-reload" ] || fail "postrm remove: $(script postrm remove)"
# without systemd (no /run/systemd/system): nothing
rmdir "$stub/run/systemd/system"
[ -z "$(script prerm remove)$(script postinst configure 0.0.9)$(script postrm purge)" ] ||
    fail "the maintainer scripts call systemctl where systemd does not run"
echo "built gpuplex and gpuplex-sim $version ($arch), installed with dpkg --root, ran a lease, removed"
