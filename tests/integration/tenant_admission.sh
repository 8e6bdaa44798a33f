# Tenants through the CLI, in-process and through gpuplexd (issue 10, findings
# 9, 10, 12 and 13): no tenant can take root's (or the engine's own) uid, so
# root stays the admin; a tenant removed and added again under its name starts
# with no lease, label or usage of the old one (the admin reads those as
# NAME~CREATED_NS); a tenant's active leases are capped by its --max-leases or
# the configured max_leases_per_tenant; sizes are exactly a number and a unit.
. "$SRC_DIR/tests/integration/lib.sh"

"$GPX" sim init --gpus 2xH100-80GB --state "$GPUPLEX_SIM" >/dev/null
# the in-process engine reads gpuplexd.conf's keys from GPUPLEX_CONFIG (gpuplexd: its default 64)
printf 'max_leases_per_tenant = 2\n' >"$TEST_TMP/gpuplexd.conf"
export GPUPLEX_CONFIG="$TEST_TMP/gpuplexd.conf"

# Finding 9: uid 0 and the engine's own uid are the built-in admin's, never a tenant's.
expect_rc 2 "$GPX" tenant add usurper --uid 0
expect_err "uid 0 is root, always the built-in admin"
expect_rc 2 "$GPX" tenant add usurper --uid "$(id -u)"
expect_err "always the built-in admin"
expect_rc 0 "$GPX" tenant ls --json
[ "$(json 'len(j)' "$TEST_TMP/out")" = 0 ] || fail "a refused tenant was added: $(cat "$TEST_TMP/out")"
expect_rc 0 "$GPX" status --json
[ "$(json 'j["you"]["role"]' "$TEST_TMP/out")" = admin ] || fail "root is not the admin"
if [ "$GPX_VIA" = daemon ]; then
    # a real user registered by uid is a tenant, not an admin; root still is
    u=$(gpx_user t)
    expect_rc 0 "$GPX" tenant add user-t --uid "$(id -u "$u")"
    expect_rc 10 as_user "$u" env GPUPLEX_SERVER="unix:$TEST_TMP/gpxd.sock" "$GPX" tenant ls
    expect_rc 0 as_user "$u" env GPUPLEX_SERVER="unix:$TEST_TMP/gpxd.sock" "$GPX" status --json
    [ "$(json 'j["you"]["tenant"]' "$TEST_TMP/out")" = user-t ] || fail "uid mapping"
    expect_rc 0 "$GPX" tenant ls
    expect_rc 0 "$GPX" tenant rm user-t
fi

# Finding 12: the cap, the tenant's own (--max-leases) or the configured default.
tok=$("$GPX" tenant add capped --max-leases 3 2>/dev/null)
expect_rc 0 "$GPX" tenant ls --json
[ "$(json '[t["max_leases"] for t in j if t["name"] == "capped"][0]' "$TEST_TMP/out")" = 3 ] ||
    fail "tenant ls: $(cat "$TEST_TMP/out")"
expect_rc 0 "$GPX" tenant ls
grep -q "MAX-LEASES" "$TEST_TMP/out" || fail "tenant ls: no MAX-LEASES column"
for i in 1 2 3; do
    expect_rc 0 env GPUPLEX_TOKEN="$tok" "$GPX" lease create --memory 1G
done
expect_rc 7 env GPUPLEX_TOKEN="$tok" "$GPX" lease create --memory 1G
expect_err "tenant 'capped' holds 3 active leases, its max_leases"
expect_rc 2 "$GPX" tenant add zero --max-leases 0
expect_err "--max-leases must be a number from 1 to"
if [ "$GPX_VIA" = local ]; then
    tok2=$("$GPX" tenant add plain 2>/dev/null)
    expect_rc 0 env GPUPLEX_TOKEN="$tok2" "$GPX" lease create --memory 1G
    expect_rc 0 env GPUPLEX_TOKEN="$tok2" "$GPX" lease create --memory 1G
    expect_rc 7 env GPUPLEX_TOKEN="$tok2" "$GPX" lease create --memory 1G
    expect_err "max_leases_per_tenant"
fi
# the built-in admin has no cap
for i in 1 2 3 4; do
    expect_rc 0 "$GPX" lease create --memory 1G
done

# Finding 10: removed and added again, a tenant starts clean; the admin keeps the history.
tokc=$("$GPX" tenant add carol 2>/dev/null)
id=$(env GPUPLEX_TOKEN="$tokc" "$GPX" lease create --memory 1G --label secret=old 2>/dev/null)
expect_rc 0 env GPUPLEX_TOKEN="$tokc" "$GPX" lease rm "$id"
expect_rc 0 "$GPX" tenant rm carol
tokc2=$("$GPX" tenant add carol 2>/dev/null)
expect_rc 0 env GPUPLEX_TOKEN="$tokc2" "$GPX" lease ls --state all --json
[ "$(json 'len(j)' "$TEST_TMP/out")" = 0 ] || fail "the new carol sees the old one's leases"
expect_rc 5 env GPUPLEX_TOKEN="$tokc2" "$GPX" lease rm "$id"
expect_rc 0 env GPUPLEX_TOKEN="$tokc2" "$GPX" usage --leases --json
[ "$(json 'len(j["leases"]) + len(j["tenants"])' "$TEST_TMP/out")" = 0 ] ||
    fail "the new carol has the old one's usage: $(cat "$TEST_TMP/out")"
expect_rc 0 "$GPX" usage --leases --json
past=$(json '[l["tenant"] for l in j["leases"] if l["id"] == "'"$id"'"][0]' "$TEST_TMP/out")
case $past in carol~[0-9]*) ;; *) fail "the old carol's lease is filed as '$past'" ;; esac
expect_rc 0 "$GPX" lease ls --state all --json
[ "$(json '[l["labels"]["secret"] for l in j if l["id"] == "'"$id"'"][0]' "$TEST_TMP/out")" = old ] ||
    fail "the admin lost the label"

# Finding 13: a size is a number and a unit, nothing around it, the flag named.
for bad in "0x10G" " 1G" "1G " "+1G" "010G"; do
    expect_rc 2 "$GPX" lease create --memory "$bad"
    expect_err "--memory: invalid size"
    expect_rc 2 "$GPX" tenant add sizes --max-memory "$bad"
    expect_err "--max-memory: invalid size"
done
echo ok
