# gpuplexd --check-config: a good file prints every key's effective value (with the
# other flags applied) in the file's syntax, and that output reads back to itself;
# a bad file exits 2 naming file, line, key and the accepted values; so does a
# cross-key rule (gpxd_config_check). A missing file named explicitly is an error;
# the default file missing means defaults, for --check-config and for the daemon
# itself (also when --config names the default path; the systemd unit passes none).
# The shipped example (packaging/gpuplexd.conf) is accepted and lists every key
# with its default.
. "$SRC_DIR/tests/integration/lib.sh"

GPXD=$BUILD_DIR/bin/gpuplexd
DEFAULT=/etc/gpuplex/gpuplexd.conf

"$GPXD" --help | grep -q -- "--check-config \[FILE\]" || fail "--help does not mention --check-config"

# Good: effective settings, defaults included, and they read back unchanged.
printf '# a comment\nthreads = 4\nplacement = spread\ngrace = 500ms\n' >good.conf
expect_rc 0 "$GPXD" --check-config good.conf --set oversubscription=1.5
cp "$TEST_TMP/out" eff.conf
grep -qx "threads = 4" eff.conf || fail "threads: $(cat eff.conf)"
grep -qx "placement = spread" eff.conf || fail "placement"
grep -qx "grace = 500ms" eff.conf || fail "grace"
grep -qx "oversubscription = 1.5" eff.conf || fail "a flag is not in the effective settings"
grep -qx "socket = /run/gpuplex/gpuplexd.sock" eff.conf || fail "defaults missing"
grep -qx "socket_mode = 0666" eff.conf || fail "socket_mode"
grep -qx "watchdog_allowance = 512M" eff.conf || fail "sizes"
grep -qx "listen =" eff.conf || fail "empty values"
# every key: as many as the shipped example lists (compared key by key below)
nkeys=$(grep -c '^#[a-z_]* =' "$SRC_DIR/packaging/gpuplexd.conf")
[ "$(grep -c ' =' eff.conf)" = "$nkeys" ] || fail "expected every key ($nkeys): $(cat eff.conf)"
expect_rc 0 "$GPXD" --check-config eff.conf
cmp -s "$TEST_TMP/out" eff.conf || fail "the printed settings do not read back to themselves"

# Bad: file, line, key and what is accepted; exit 2.
printf 'threads = 4\n\nplacement = tightest\n' >bad.conf
expect_rc 2 "$GPXD" --check-config bad.conf
expect_err "bad.conf:3: placement: expected binpack or spread, not 'tightest'"
[ ! -s "$TEST_TMP/out" ] || fail "an invalid config printed settings"
printf 'thread = 4\n' >typo.conf
expect_rc 2 "$GPXD" --check-config typo.conf
expect_err "typo.conf:1: unknown key 'thread'"
printf 'threads = 4\nthreads = 5\n' >twice.conf
expect_rc 2 "$GPXD" --check-config twice.conf
expect_err "twice.conf:2: 'threads' is set twice"
# The rules between keys run too.
printf 'tls_cert = /x.pem\n' >cross.conf
expect_rc 2 "$GPXD" --check-config cross.conf
expect_err "tls_cert is set but tls_key is not"
expect_rc 2 "$GPXD" --check-config --set max_connections_per_peer=600
expect_err "max_connections_per_peer \(600\) must be at most half of max_connections \(1024\)"

# Missing: an error when named, with --check-config or --config.
expect_rc 2 "$GPXD" --check-config missing.conf
expect_err "config missing.conf: No such file or directory"
expect_rc 2 "$GPXD" --config missing.conf --check-config
expect_err "config missing.conf: No such file or directory"
expect_rc 9 "$GPXD" --config missing.conf --state-dir "$TEST_TMP/state"
expect_err "config missing.conf: No such file or directory"
expect_rc 2 "$GPXD" --check-config a.conf b.conf
expect_err "unexpected argument"

# The shipped example: valid, and its commented-out lines are exactly the defaults.
expect_rc 0 "$GPXD" --check-config "$SRC_DIR/packaging/gpuplexd.conf"
cp "$TEST_TMP/out" example.eff
sed -n 's/^#\([a-z_]* =.*\)$/\1/p' "$SRC_DIR/packaging/gpuplexd.conf" >example.keys
cmp -s example.keys example.eff ||
    fail "packaging/gpuplexd.conf does not list every key with its default: $(diff example.keys example.eff)"
expect_rc 0 "$GPXD" --check-config example.keys

# The default file absent: defaults, said on stderr; the daemon starts on them.
if [ -e "$DEFAULT" ]; then
    echo "$DEFAULT exists on this host: the absent-default checks are skipped" >&2
    exit 0
fi
GPUPLEX_LOG= expect_rc 0 "$GPXD" --check-config
expect_err "no config file at $DEFAULT: defaults"
cmp -s "$TEST_TMP/out" example.eff || fail "defaults differ from the example's"
# (its run dir and CDI spec in the test's dir: the host's /run/gpuplex and /var/run/cdi are
# not the test's to write)
"$GPXD" --config "$DEFAULT" --sim 1xH100-80GB --state-dir "$TEST_TMP/state" \
    --run-dir "$TEST_TMP/run" --set "cdi_spec=$TEST_TMP/cdi/gpuplex.json" \
    --socket "$TEST_TMP/gpxd.sock" 2>gpxd.err &
echo $! >"$TEST_TMP/gpxd.pid"
i=0
until grep -q "ready" gpxd.err; do
    i=$((i + 1))
    kill -0 "$(cat "$TEST_TMP/gpxd.pid")" 2>/dev/null || fail "gpuplexd exited: $(cat gpxd.err)"
    [ $i -lt 200 ] || fail "gpuplexd not ready: $(cat gpxd.err)"
    sleep 0.05
done
grep -q "no config file at $DEFAULT: defaults" gpxd.err || fail "no word of the defaults: $(cat gpxd.err)"
GPUPLEX_SERVER="$TEST_TMP/gpxd.sock" "$BUILD_DIR/bin/gpuplex" status >/dev/null ||
    fail "gpuplexd on defaults does not answer"
