# A lease is its tenant's alone (issue 10, findings 1 and 2), tested with real
# local users (gpx_user): another uid can't list the lease ids in the run dir,
# can't read or write the lease's files, and can't use the lease (the
# interposer fails closed for a foreign uid even where the files would let it
# in). The tenant reads its limits but can't write, chmod, replace or remove
# them, and writes its own usage file. In-process the tenant is the caller
# (root here); through gpuplexd it is a tenant of another uid, whose usage file
# the daemon chowns and whose limits it shares by a POSIX ACL. The mapping side
# (even root can't mprotect the read-only limits mapping writable) is proved by
# unit.test_lease.
. "$SRC_DIR/tests/integration/interpose_lib.sh"

other=$(gpx_user o)
# the simulated GPUs are one file: every user's processes drive it
chmod 0666 "$GPUPLEX_SIM"
if [ "$GPX_VIA" = daemon ]; then
    tenant=$(gpx_user t)
    tuid=$(id -u "$tenant")
    "$GPX" tenant add alice --uid "$tuid" >/dev/null
    # the tenant finds gpuplexd by its socket, as a user does (the state dir is root's)
    as_t() { as_user "$tenant" env GPUPLEX_SERVER="unix:$TEST_TMP/gpxd.sock" "$@"; }
else
    tuid=$(id -u)
    as_t() { "$@"; }
fi
as_o() { as_user "$other" "$@"; }

id=$(as_t "$GPX" lease create --gpu 0 --memory 1G)
[ -n "$id" ] || fail "no lease"
leases="$GPUPLEX_RUN_DIR/leases"
limits="$leases/$id.limits"
usage="$leases/$id.usage"
before=$(sha256sum "$limits" | cut -d' ' -f1)

# The files: limits the engine's (0400), usage the tenant's (0600), ids not listable.
[ "$(stat -c %a "$leases")" = 711 ] || fail "leases/ is $(stat -c %a "$leases"), not 711"
# (through gpuplexd the ACL's mask shows as the group's r: 440, and no group entry exists)
if [ "$tuid" = "$(id -u)" ]; then lim_mode=400; else lim_mode=440; fi
[ "$(stat -c %a:%u "$limits")" = "$lim_mode:$(id -u)" ] || fail "limits: $(stat -c %a:%u "$limits")"
[ "$(stat -c %a:%u "$usage")" = "600:$tuid" ] || fail "usage: $(stat -c %a:%u "$usage")"

# Another user learns nothing and touches nothing.
! as_o ls "$leases" >/dev/null 2>&1 || fail "another user listed the lease ids"
! as_o cat "$limits" >/dev/null 2>&1 || fail "another user read the limits"
! as_o cat "$usage" >/dev/null 2>&1 || fail "another user read the usage file"
! as_o sh -c 'exec 3<>"$1"' sh "$usage" 2>/dev/null || fail "another user opened the usage rw"
! as_o sh -c 'printf x | dd of="$1" bs=1 seek=40 conv=notrunc' sh "$usage" 2>/dev/null ||
    fail "another user wrote the usage file"

# ... and can't use the lease: its allocations fail closed.
use_as_other() {
    expect_rc 0 as_o env LD_PRELOAD="$IP" GPUPLEX_LEASE="$id" GPUPLEX_RUN_DIR="$GPUPLEX_RUN_DIR" \
        "$BURN" --alloc-mib 256 --chunk-mib 64 --json
}
use_as_other
expect_err "fail closed"
grep -q '"allocated_mib": *0' "$TEST_TMP/out" || fail "another uid allocated under the lease"
# Even with the files opened to everybody (a file system without ACLs, a
# careless admin), the interposer refuses another uid's lease.
was=$(stat -c %a "$limits")
chmod 0644 "$limits"
chmod 0666 "$usage"
use_as_other
expect_err "belongs to uid $tuid, not to uid $(id -u "$other")"
chmod "$was" "$limits" # (with an ACL, the group bits are its mask)
chmod 0600 "$usage"

# The tenant reads its limits...
as_t cat "$limits" >/dev/null || fail "the tenant can't read its limits"
# ...but can't write them, in any way a file can be written (root, the
# tenant in-process here, can write anything).
if [ "$tuid" != 0 ]; then
    ! as_t sh -c ': >>"$1"' sh "$limits" 2>/dev/null || fail "the tenant opened the limits for writing"
    ! as_t sh -c 'exec 3<>"$1"' sh "$limits" 2>/dev/null || fail "the tenant opened the limits rw"
    ! as_t sh -c ': >"$1"' sh "$limits" 2>/dev/null || fail "the tenant truncated the limits"
    # Not the owner: no chmod; the leases dir is not the tenant's: no replacing the file.
    ! as_t chmod 0666 "$limits" 2>/dev/null || fail "the tenant changed the limits' mode"
    ! as_t sh -c 'echo x >"$1.new" && mv -f "$1.new" "$1"' sh "$limits" 2>/dev/null ||
        fail "the tenant replaced the limits"
    ! as_t rm -f "$limits" 2>/dev/null || fail "the tenant removed the limits"
fi
[ "$(sha256sum "$limits" | cut -d' ' -f1)" = "$before" ] || fail "the limits changed"

# The usage file is the tenant's to write (its processes account there), and
# its workloads run under the quota.
as_t sh -c 'exec 3<>"$1"' sh "$usage" || fail "the tenant can't open its usage file read-write"
expect_rc 0 as_t "$GPX" run --lease "$id" -- "$BURN" --alloc-mib 2048 --chunk-mib 64 --json
expect_json "$TEST_TMP/out" 'j["allocated_mib"]' 1024 "the tenant's workload under its quota"

# The lease still reads back with its quota.
expect_rc 0 as_t "$GPX" lease ls --json
[ "$(json 'j[0]["memory_bytes"]' "$TEST_TMP/out")" = 1073741824 ] || fail "quota changed"

# A region re-created from the ledger (its files lost) is fenced the same way:
# the ledger keeps whose the lease is.
rm -f "$limits" "$usage"
expect_rc 0 "$GPX" lease ls --json
[ "$(stat -c %a:%u "$usage")" = "600:$tuid" ] || fail "re-created usage: $(stat -c %a:%u "$usage")"
[ "$(stat -c %a:%u "$limits")" = "$lim_mode:$(id -u)" ] || fail "re-created limits: $(stat -c %a:%u "$limits")"
as_t cat "$limits" >/dev/null || fail "the tenant can't read its re-created limits"
! as_o cat "$limits" >/dev/null 2>&1 || fail "another user read the re-created limits"
