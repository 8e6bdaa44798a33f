# gpuplex mig on the simulator: `mig apply` then `mig ls --json` shows the
# planned layout; `mig plan` works offline from `mig ls --json`; a named
# layout file applies per model (exact) and turns MIG off again; a wrong
# profile name lists the valid ones; a demand that does not fit changes
# nothing (exit 7); enabling MIG is refused while a process runs (exit 6).
. "$SRC_DIR/tests/integration/lib.sh"

HOG="$BUILD_DIR/tests/gpx-test-hog"
"$GPX" sim init --gpus 1xH100-80GB,1xA100-40GB --state "$GPUPLEX_SIM" >/dev/null

PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null || :; done
}
trap cleanup EXIT

placements() { # FILE GPU: [(profile, start), ...] of `mig ls --json` output
    json "[(i['profile'], i['start']) for i in j[$2]['instances']]" "$1"
}

"$GPX" mig ls --json >ls0.json
[ "$(json '[g["mig_mode"] for g in j]' ls0.json)" = "['disabled', 'disabled']" ] || fail "mode"
[ "$(json '[g["model"] for g in j]' ls0.json)" = "['H100-80GB', 'A100-40GB']" ] || fail "models"
[ "$(json '[p["name"] for p in j[0]["profiles"]]' ls0.json)" = \
  "['1g.10gb', '1g.10gb+me', '1g.20gb', '2g.20gb', '3g.40gb', '4g.40gb', '7g.80gb']" ] ||
    fail "profiles: $(json '[p["name"] for p in j[0]["profiles"]]' ls0.json)"
[ "$(json '[p["placements"] for p in j[1]["profiles"] if p["name"] == "1g.10gb"][0]' ls0.json)" = \
  "[{'start': 0, 'size': 2}, {'start': 2, 'size': 2}, {'start': 4, 'size': 2}, {'start': 6, 'size': 2}]" ] ||
    fail "1g.10gb placements"

# A process on the GPU: MIG mode cannot be enabled, nothing changes.
"$HOG" --gpu 0 --mib 16 >hog.out 2>hog.err &
hog=$!
PIDS="$hog"
i=0
while ! grep -q ready hog.out 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 200 ] || fail "hog did not start: $(cat hog.err)"
    sleep 0.05
done
expect_rc 6 "$GPX" mig apply --gpu 0 --demand 3g.40gb=1
expect_err "GPU 0 runs 1 process \(pid $hog\): MIG mode can be enabled only while the GPU is idle"
kill -9 "$hog"
wait "$hog" 2>/dev/null || :
PIDS=""

# Dry run: the actions, no change.
"$GPX" mig apply --gpu 0 --demand 3g.40gb=1,1g.10gb=4 --dry-run >dry.txt
grep -q "GPU 0: would enable MIG mode" dry.txt || fail "dry run: $(cat dry.txt)"
grep -q "GPU 0: would create 3g.40gb at 4:4" dry.txt || fail "dry run: $(cat dry.txt)"
"$GPX" mig ls --json >ls.json
[ "$(json 'j[0]["mig_mode"]' ls.json)" = disabled ] || fail "dry run changed the GPU"

# Apply a demand; ls shows it, each instance with its MIG device.
"$GPX" mig apply --gpu 0 --demand 3g.40gb=1,1g.10gb=4 >apply.txt
"$GPX" mig ls --json >ls1.json
[ "$(json 'j[0]["mig_mode"]' ls1.json)" = enabled ] || fail "MIG mode not enabled"
[ "$(placements ls1.json 0)" = \
  "[('1g.10gb', 0), ('1g.10gb', 1), ('1g.10gb', 2), ('1g.10gb', 3), ('3g.40gb', 4)]" ] ||
    fail "layout: $(placements ls1.json 0)"
[ "$(json 'all(len(i["compute_instances"]) == 1 and i["uuid"].startswith("MIG-") for i in j[0]["instances"])' ls1.json)" = True ] ||
    fail "compute instances / MIG UUIDs"
[ "$(json 'len(set(i["uuid"] for i in j[0]["instances"]))' ls1.json)" = 5 ] || fail "UUIDs not unique"
[ "$(json '[i["memory_mib"] for i in j[0]["instances"]]' ls1.json)" = "[9984, 9984, 9984, 9984, 40448]" ] ||
    fail "memory"
[ "$(json '[p["free"] for p in j[0]["profiles"]]' ls1.json)" = "[0, 0, 0, 0, 0, 0, 0]" ] || # full
    fail "free: $(json '[p["free"] for p in j[0]["profiles"]]' ls1.json)"
[ "$(json 'j[1]["mig_mode"]' ls1.json)" = disabled ] || fail "GPU 1 touched"
grep -q "GPU 0: enabled MIG mode" apply.txt || fail "apply output: $(cat apply.txt)"
uuid=$(json 'j[0]["instances"][4]["uuid"]' ls1.json)
grep -q "created 3g.40gb at 4:4 -> GPU instance 2, compute instance 0, $uuid" apply.txt ||
    fail "apply output: $(cat apply.txt)"
"$GPX" mig ls --gpu 0 >ls.txt
grep -q "MIG enabled" ls.txt && grep -q "$uuid" ls.txt || fail "mig ls table: $(cat ls.txt)"
# Applying the same demand again does nothing.
"$GPX" mig apply --gpu 0 --demand 3g.40gb=1,1g.10gb=4 >again.txt
grep -q "GPU 0: nothing to do" again.txt || fail "re-apply: $(cat again.txt)"

# Plan offline from the GPU's state: the cheapest room for a 2g is the 3g.
"$GPX" mig plan --model H100-80GB --current ls1.json --gpu 0 --demand 2g.20gb=1 --json >plan.json
[ "$(json '[(d["profile"], d["start"]) for d in j["destroy"]]' plan.json)" = "[('3g.40gb', 4)]" ] ||
    fail "plan destroy: $(cat plan.json)"
[ "$(json '[(i["profile"], i["start"], i["action"]) for i in j["instances"] if i["action"] == "create"]' plan.json)" = \
  "[('2g.20gb', 4, 'create')]" ] || fail "plan create: $(cat plan.json)"
[ "$(json 'j["unmet"]' plan.json)" = "{}" ] || fail "plan unmet"
# Leased instances stay; what cannot fit is unmet.
cat >cur.json <<'EOF'
[{"profile": "1g.10gb", "start": 0, "leased": true}, {"profile": "3g.40gb", "start": 4}]
EOF
# Unmet demand: the plan is shown, exit 7, unless --allow-partial.
expect_rc 7 "$GPX" mig plan --model H100-80GB --current cur.json --demand 7g.80gb=1,3g.40gb=2
expect_err "demand does not fit: 2 of 3 instances unmet \(--allow-partial"
grep -q "unmet: " "$TEST_TMP/out" || fail "no plan before the error: $(cat "$TEST_TMP/out")"
"$GPX" mig plan --model H100-80GB --current cur.json --demand 7g.80gb=1,3g.40gb=2 --allow-partial \
    --json >plan2.json
[ "$(json 'j["unmet"]' plan2.json)" = "{'3g.40gb': 1, '7g.80gb': 1}" ] || fail "unmet: $(cat plan2.json)"
[ "$(json 'j["destroy"]' plan2.json)" = "[]" ] || fail "destroyed a leased/needed instance"
[ "$(json 'j["satisfied"]' plan2.json)" = 1 ] || fail "satisfied"

# A wrong profile name lists the model's profiles.
expect_rc 2 "$GPX" mig plan --model H100-80GB --demand 3g.20gb=1
expect_err "unknown MIG profile '3g.20gb' for H100-80GB \(valid: 1g.10gb, 1g.10gb\+me, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb\)"
expect_rc 2 "$GPX" mig apply --gpu 1 --demand 3g.40gb=1
expect_err "for A100-40GB \(valid: 1g.5gb, 1g.5gb\+me, 1g.10gb, 2g.10gb, 3g.20gb, 4g.20gb, 7g.40gb\)"
expect_rc 2 "$GPX" mig plan --model B200 --demand 1g.10gb=1
expect_err "unknown GPU model 'B200'"

# A demand that does not fit: exit 7, nothing changes.
expect_rc 7 "$GPX" mig apply --gpu 0 --demand 4g.40gb=1,3g.40gb=1,1g.10gb=1
expect_err "does not fit: 1 of 3 instances would be missing"
"$GPX" mig ls --json >ls2.json
[ "$(placements ls2.json 0)" = "$(placements ls1.json 0)" ] || fail "a refused apply changed the GPU"

# A named layout per model, applied exactly: GPU 0 keeps its 3g.40gb, its 1g
# instances make room for the 2g ones.
cat >layouts.yaml <<'EOF'
version: v1
mig-configs:
  balanced:
    - device-filter: H100-80GB
      devices: all
      mig-enabled: true
      mig-devices:
        "2g.20gb": 2
        "3g.40gb": 1
    - device-filter: "0x20B010DE"   # A100-SXM4-40GB
      devices: all
      mig-enabled: true
      mig-devices:
        "1g.5gb": 7
  off:
    - devices: all
      mig-enabled: false
EOF
expect_rc 5 "$GPX" mig apply --layout layouts.yaml --name nope
expect_err "no layout 'nope' in 'layouts.yaml' \(it has: balanced, off\)"
"$GPX" mig apply --layout layouts.yaml --name balanced --json >applied.json
[ "$(json '[a["action"] for a in j[0]["actions"]]' applied.json)" = \
  "['destroy', 'destroy', 'destroy', 'destroy', 'create', 'create']" ] ||
    fail "GPU 0 actions: $(cat applied.json)"
[ "$(json '[a["profile"] for a in j[0]["actions"] if a["action"] == "destroy"]' applied.json)" = \
  "['1g.10gb', '1g.10gb', '1g.10gb', '1g.10gb']" ] || fail "the 3g.40gb should have stayed"
"$GPX" mig ls --json >ls3.json
[ "$(placements ls3.json 0)" = "[('2g.20gb', 0), ('2g.20gb', 2), ('3g.40gb', 4)]" ] ||
    fail "GPU 0 layout: $(placements ls3.json 0)"
[ "$(json '[i["profile"] for i in j[1]["instances"]]' ls3.json)" = "$(json '["1g.5gb"] * 7' ls3.json)" ] ||
    fail "GPU 1 layout: $(placements ls3.json 1)"
"$GPX" mig apply --layout layouts.yaml --name off >off.txt
"$GPX" mig ls --json >ls4.json
[ "$(json '[(g["mig_mode"], len(g["instances"])) for g in j]' ls4.json)" = \
  "[('disabled', 0), ('disabled', 0)]" ] || fail "off: $(cat off.txt)"
grep -q "GPU 1: destroyed 1g.5gb at 6:1" off.txt && grep -q "GPU 1: disabled MIG mode" off.txt ||
    fail "off output: $(cat off.txt)"
"$GPX" mig apply --layout layouts.yaml --name off >off2.txt
[ "$(cat off2.txt)" = "GPU 0: nothing to do
GPU 1: nothing to do" ] || fail "off again: $(cat off2.txt)"

# mig-parted's habits: apply -f FILE -c NAME; export -> assert round trip; assert
# after a change exits 1 with a per-GPU diff.
"$GPX" mig apply -f layouts.yaml -c balanced >fc.txt
"$GPX" mig ls --json >ls5.json
[ "$(placements ls5.json 0)" = "[('2g.20gb', 0), ('2g.20gb', 2), ('3g.40gb', 4)]" ] ||
    fail "-f/-c: $(cat fc.txt)"
"$GPX" mig assert -f layouts.yaml -c balanced >assert0.txt || fail "assert after apply: $(cat assert0.txt)"
"$GPX" mig export -c mine >export.yaml
grep -qx "version: v1" export.yaml && grep -qx "  mine:" export.yaml || fail "export: $(cat export.yaml)"
grep -q '"2g.20gb": 2' export.yaml || fail "export counts: $(cat export.yaml)"
expect_rc 0 "$GPX" mig assert -f export.yaml -c mine
grep -q "the GPUs match layout 'mine'" "$TEST_TMP/out" || fail "assert: $(cat "$TEST_TMP/out")"
"$GPX" mig apply -f export.yaml -c mine >reapply.txt
[ "$(cat reapply.txt)" = "GPU 0: nothing to do
GPU 1: nothing to do" ] || fail "export does not apply back as it is: $(cat reapply.txt)"
"$GPX" mig apply -f layouts.yaml -c off >/dev/null
expect_rc 1 "$GPX" mig assert -f export.yaml -c mine
grep -q "GPU 0: MIG mode disabled, want enabled" "$TEST_TMP/out" || fail "diff: $(cat "$TEST_TMP/out")"
grep -q "GPU 1: MIG mode disabled, want enabled" "$TEST_TMP/out" || fail "diff: $(cat "$TEST_TMP/out")"
expect_err "do not match layout 'mine'"
"$GPX" mig apply --gpu 0 --demand 1g.10gb=2 >/dev/null
expect_rc 1 "$GPX" mig assert -f export.yaml -c mine --gpu 0
grep -q "GPU 0: 2g.20gb: 0, want 2" "$TEST_TMP/out" && grep -q "GPU 0: 1g.10gb: 2, want 0" "$TEST_TMP/out" ||
    fail "diff: $(cat "$TEST_TMP/out")"
expect_rc 2 "$GPX" mig assert -f export.yaml
expect_err "needs -f FILE -c NAME"
