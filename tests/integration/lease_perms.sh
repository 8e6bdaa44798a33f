# A tenant (a non-root uid) can read a lease's limits but can't open them for
# writing, change their mode, or replace them; it can write the usage file (its
# processes account through it). The mapping side (even root can't mprotect
# the read-only limits mapping writable) is proved by unit.test_lease.
. "$SRC_DIR/tests/integration/lib.sh"

"$GPX" sim init --gpus 1xH100-80GB --state "$GPUPLEX_SIM" >/dev/null
id=$("$GPX" lease create --gpu 0 --memory 1G 2>/dev/null)
limits="$GPUPLEX_RUN_DIR/leases/$id.limits"
usage="$GPUPLEX_RUN_DIR/leases/$id.usage"
before=$(sha256sum "$limits" | cut -d' ' -f1)

# as_tenant CMD...: runs CMD as a non-root uid.
if [ "$(id -u)" != 0 ]; then
    as_tenant() { "$@"; }
else
    chmod 0711 "$TEST_TMP" # let the tenant reach the run dir (the test's own temp dir)
    if setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
        as_tenant() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    elif runuser -u nobody -- true 2>/dev/null; then
        as_tenant() { runuser -u nobody -- "$@"; }
    else
        echo "skipped: running as root and neither setpriv nor runuser can switch to uid 65534" >&2
        exit 77
    fi
fi

# It can read the limits...
as_tenant cat "$limits" >/dev/null || fail "the tenant can't read the limits"
# ...but not write them, in any way a file can be written.
! as_tenant sh -c ': >>"$1"' sh "$limits" 2>/dev/null || fail "the tenant opened the limits for writing"
! as_tenant sh -c ': >"$1"' sh "$limits" 2>/dev/null || fail "the tenant truncated the limits"
! as_tenant sh -c 'exec 3<>"$1"' sh "$limits" 2>/dev/null ||
    fail "the tenant opened the limits read-write"
if [ "$(id -u)" = 0 ]; then
    # Not the owner: no chmod; the leases dir is not the tenant's: no replacing the file.
    ! as_tenant chmod 0666 "$limits" 2>/dev/null || fail "the tenant changed the limits' mode"
    ! as_tenant sh -c 'echo x >"$1.new" && mv -f "$1.new" "$1"' sh "$limits" 2>/dev/null ||
        fail "the tenant replaced the limits"
    ! as_tenant rm -f "$limits" 2>/dev/null || fail "the tenant removed the limits"
fi
[ "$(sha256sum "$limits" | cut -d' ' -f1)" = "$before" ] || fail "the limits changed"
[ "$(stat -c %a "$limits")" = 444 ] || fail "limits mode changed"

# The usage file is the tenant's to write (its processes account there).
as_tenant sh -c 'exec 3<>"$1"' sh "$usage" ||
    fail "the tenant can't open the usage file read-write"

# The lease still reads back with its quota.
expect_rc 0 "$GPX" lease ls --json
[ "$(json 'j[0]["memory_bytes"]' "$TEST_TMP/out")" = 1073741824 ] || fail "quota changed"
