# Label keys starting with "gpuplex." are gpuplexd's own (docs/api.md, "Reserved labels"):
# `lease create --label`, `run --label` and `run --container --label` refuse them (exit 2,
# naming --label and the prefix) and make nothing; --for-container still makes a lease
# labelled gpuplex.container=1 (the engine adds it). Through gpuplexd (the .daemon run) also
# the API: POST /v1/leases (tenant and admin) and a function's "lease" are 400 naming field
# 'labels' and the prefix; "for_container": true is how a client asks.
. "$SRC_DIR/tests/integration/lib.sh"

"$GPX" sim init --gpus 1xH100-80GB --state "$GPUPLEX_SIM" >/dev/null

for kv in gpuplex.vm=vm-0123456789ab gpuplex.function=f gpuplex.container=1 \
    gpuplex.managed=c-1 gpuplex.replica=0 gpuplex.other=x; do
    key=${kv%%=*}
    expect_rc 2 "$GPX" lease create --mode timeslice --label team=ml --label "$kv"
    expect_err "--label: label key '$key' is reserved: keys starting with 'gpuplex\.' are set by gpuplexd itself"
    expect_err "--for-container"
    expect_rc 2 "$GPX" run --mode timeslice --label "$kv" -- true
    expect_err "--label: label key '$key' is reserved"
    expect_rc 2 "$GPX" run --mode timeslice --label "$kv" --podman /nonexistent/podman \
        --container localhost/none true
    expect_err "--label: label key '$key' is reserved"
done
expect_rc 0 "$GPX" lease ls --json
[ "$(json 'len(j)' "$TEST_TMP/out")" = 0 ] || fail "a refused label made a lease: $(cat "$TEST_TMP/out")"

# keys that only look alike are a tenant's
expect_rc 0 "$GPX" lease create --mode timeslice --label gpuplex_x=1 --label bench=1 --json
[ "$(json 'j["labels"] == {"gpuplex_x": "1", "bench": "1"}' "$TEST_TMP/out")" = True ] ||
    fail "tenant labels: $(cat "$TEST_TMP/out")"
expect_rc 0 "$GPX" lease rm "$(json 'j["id"]' "$TEST_TMP/out")"

# made for containers: the label comes from the engine (in-process or gpuplexd)
expect_rc 0 "$GPX" lease create --mode timeslice --for-container --label team=ml --json
cp "$TEST_TMP/out" fc.json
[ "$(json 'j["labels"] == {"gpuplex.container": "1", "team": "ml"}' fc.json)" = True ] ||
    fail "--for-container: $(cat fc.json)"
expect_rc 0 "$GPX" lease rm "$(json 'j["id"]' fc.json)"

[ "$GPX_VIA" = daemon ] || exit 0
# --- the API, through the gpuplexd gpx-wrap.sh started -------------------------------------
[ -S "$TEST_TMP/gpxd.sock" ] || fail "no gpuplexd socket"
api() { # api METHOD PATH [BODY] [TOKEN]: the body to $TEST_TMP/out, the status printed
    curl -s --unix-socket "$TEST_TMP/gpxd.sock" -o "$TEST_TMP/out" -w '%{http_code}' \
        -X "$1" ${4:+-H "Authorization: Bearer $4"} ${3:+-H 'Content-Type: application/json' -d "$3"} \
        "http://gpuplexd$2"
}
[ "$(api POST /v1/tenants '{"name":"team-a"}')" = 201 ] || fail "tenant: $(cat "$TEST_TMP/out")"
tok=$(json 'j["token"]' "$TEST_TMP/out")
for key in gpuplex.vm gpuplex.function gpuplex.container gpuplex.managed gpuplex.x; do
    for who in "$tok" ""; do
        st=$(api POST /v1/leases "{\"mode\":\"timeslice\",\"labels\":{\"$key\":\"1\"}}" "$who")
        [ "$st" = 400 ] || fail "POST /v1/leases with $key (${who:+tenant}${who:-admin}): $st $(cat "$TEST_TMP/out")"
        [ "$(json 'j["error"]["code"]' "$TEST_TMP/out")" = INVALID ] || fail "code: $(cat "$TEST_TMP/out")"
        msg=$(json 'j["error"]["message"]' "$TEST_TMP/out")
        case $msg in
        *"field 'labels': label key '$key' is reserved: keys starting with 'gpuplex.'"*) ;;
        *) fail "POST /v1/leases with $key: '$msg'" ;;
        esac
    done
done
# a function's lease: the same parser, the same refusal (a worker's lease is gpuplexd's to label)
st=$(api POST /v1/functions '{"name":"f","command":["/bin/true"],"lease":{"mode":"timeslice","labels":{"gpuplex.vm":"vm-0123456789ab"}}}')
[ "$st" = 400 ] || fail "POST /v1/functions with gpuplex.vm: $st $(cat "$TEST_TMP/out")"
json 'j["error"]["message"]' "$TEST_TMP/out" | grep -q "field 'labels': label key 'gpuplex.vm' is reserved" ||
    fail "POST /v1/functions: $(cat "$TEST_TMP/out")"
[ "$(api GET /v1/leases)" = 200 ] && [ "$(json 'len(j)' "$TEST_TMP/out")" = 0 ] ||
    fail "a refused request made a lease: $(cat "$TEST_TMP/out")"
# for_container: true, a tenant's
st=$(api POST /v1/leases '{"mode":"timeslice","for_container":true,"labels":{"team":"ml"}}' "$tok")
[ "$st" = 201 ] || fail "for_container: $st $(cat "$TEST_TMP/out")"
[ "$(json 'j["labels"] == {"gpuplex.container": "1", "team": "ml"} and j["tenant"] == "team-a"' "$TEST_TMP/out")" = True ] ||
    fail "for_container: $(cat "$TEST_TMP/out")"
[ "$(api POST /v1/leases '{"mode":"timeslice","for_container":"yes"}' "$tok")" = 400 ] ||
    fail "for_container not a boolean: $(cat "$TEST_TMP/out")"
exit 0
