# gpuplex recommend on simulated nodes, with and without IOMMU groups and MIG mode: the
# answer's mode/delivery for the seed's cases, the spec it gives is one the node grants
# (`lease create` with it succeeds), --json keys, --file as JSON and YAML giving the
# flags' answer, a saved bench result cited, nothing available -> exit 7, `--rules` is
# docs/choosing.md's table, and unknown keys / bad values -> exit 2 naming them.
# Run both ways (engine in-process and through gpuplexd).
. "$SRC_DIR/tests/integration/lib.sh"

"$GPX" sim init --gpus 1xH100-80GB,1xA100-40GB --state "$GPUPLEX_SIM" \
    --sysfs "$TEST_TMP/sys" >/dev/null
mkdir -p "$TEST_TMP/nosys"
# no IOMMU: an empty sysfs (the host's own /sys is never read by this test)
export GPUPLEX_SYSFS_ROOT="$TEST_TMP/nosys"

rec() { # OUT ARGS...: `recommend --json ARGS` into OUT (exit 0 expected)
    o=$1
    shift
    expect_rc 0 "$GPX" recommend --json "$@"
    cp "$TEST_TMP/out" "$o"
}
md() { # FILE: mode/delivery
    json 'j["mode"] + "/" + j["delivery"]' "$1"
}

# --- the rules table is docs/choosing.md's ---------------------------------------------------
expect_rc 0 "$GPX" recommend --rules
[ "$(wc -l <"$TEST_TMP/out")" -ge 17 ] || fail "--rules: $(cat "$TEST_TMP/out")"
while IFS= read -r line; do
    grep -qxF -- "$line" "$SRC_DIR/docs/choosing.md" || fail "docs/choosing.md lacks: $line"
done <"$TEST_TMP/out"
expect_rc 0 "$GPX" recommend --rules --json
[ "$(json '[r["id"] for r in j][0], [r["id"] for r in j][-1]' "$TEST_TMP/out")" = \
  "('windows', 'default')" ] || fail "--rules --json"

# --- without IOMMU groups, without MIG mode ----------------------------------------------------
rec t.json --kind training
[ "$(md t.json)" = exclusive/container ] || fail "training: $(md t.json)"
[ "$(json 'j["rule"]["id"], j["guidance"]["mode"], j["guidance"]["delivery"]' t.json)" = \
  "('llm-training', 'exclusive', 'vm')" ] || fail "training guidance"
for k in mode delivery spec command reasons alternatives available gpu api rule node; do
    [ "$(json "'$k' in j" t.json)" = True ] || fail "--json lacks $k"
done
# every key it prints is one docs/cli.md's `--json` list (and --help's) names, and every
# top-level key that list names is printed
"$GPX" recommend --help >help.txt
python3 - t.json "$SRC_DIR/docs/cli.md" help.txt <<'EOF' || fail "recommend --json and docs/cli.md disagree"
import json, re, sys
j = json.load(open(sys.argv[1]))
doc = open(sys.argv[2]).read()
sec = doc[doc.index("`--json` keys:\n`mode, delivery"):]
sec = sec[:sec.index("`. Exit status")]
keys = set(j) | set(j["api"]) | set(j["rule"]) | set(j["guidance"]) | set(j["node"])
for a in j["alternatives"]:
    keys |= set(a)
for name, text in (("docs/cli.md", sec), ("--help", open(sys.argv[3]).read())):
    missing = sorted(keys - set(re.findall(r"[a-z_]+", text)))
    if missing:
        sys.exit(f"keys not in {name}: {missing}")
top = re.sub(r"\{[^}]*\}|\[[^]]*\]|\([^)]*\)", "", sec[len("`--json` keys:"):])
extra = sorted(set(re.findall(r"[a-z_]+", top)) - set(j))
if extra:
    sys.exit(f"docs/cli.md names keys it does not print: {extra}")
EOF
# --help names every flag of the issue, with the valid values of the enumerated ones
for f in "--kind training|fine-tuning|inference|development|batch|ci" "--tenants one|several" \
    "--isolation none|process|hardware|compliance" "--os linux|windows" "--memory SIZE" \
    "--utilization PCT" "--duration D" "--latency-sensitive" "--users-per-gpu N" "--file FILE" \
    "--json" "--rules"; do
    grep -qF -- "$f" help.txt || fail "recommend --help lacks '$f'"
done
json '" ".join(j["reasons"])' t.json | grep -q 'IOMMU' || fail "no IOMMU reason"
json '" ".join(j["reasons"])' t.json | grep -q 'LLM Training | VM/IaaS' || fail "no seed line"
[ "$(json 'j["spec"]' t.json)" = "{'mode': 'exclusive', 'gpu': 0}" ] || fail "spec $(json 'j["spec"]' t.json)"
case "$(json 'j["command"]' t.json)" in
"gpuplex run --gpu 0 --mode exclusive"*"-- CMD") ;;
*) fail "command: $(json 'j["command"]' t.json)" ;;
esac
# the text form says the same
expect_rc 0 "$GPX" recommend --kind training
grep -q '^recommended: exclusive lease' "$TEST_TMP/out" || fail "text: $(cat "$TEST_TMP/out")"
grep -q 'not available here: exclusive/vm' "$TEST_TMP/out" || fail "text: no stand-in reason"

rec i.json --kind inference --users-per-gpu 4 --memory 8G
[ "$(md i.json)" = vgpu/container ] || fail "inference services without MIG: $(md i.json)"
[ "$(json 'j["spec"]["memory"], j["spec"]["cap"]' i.json)" = "('8G', 25)" ] || fail "vgpu spec"
json '[a["why_not"] for a in j["alternatives"] if a["mode"] == "mig"][0]' i.json |
    grep -q "gpuplex mig apply --gpu" || fail "no way to MIG named"
# the spec is one this node grants
gpu=$(json 'j["gpu"]' i.json)
expect_rc 0 "$GPX" lease create --gpu "$gpu" --mode vgpu --memory 8G --cap 25
lid=$(cat "$TEST_TMP/out")
expect_rc 0 "$GPX" lease rm "$lid"

rec d.json --kind development
[ "$(md d.json)" = vgpu/container ] || fail "development: $(md d.json)"
rec c.json --kind ci --duration 30m
[ "$(md c.json)" = timeslice/container ] || fail "ci: $(md c.json)"
rec s.json --kind inference
[ "$(md s.json)" = exclusive/container ] || fail "model serving: $(md s.json)"
rec o.json --users-per-gpu 8
[ "$(md o.json)" = vgpu/container ] || fail "oversubscription: $(md o.json)"

# Windows needs a VM: none here -> exit 7, the answer still printed
expect_rc 7 "$GPX" recommend --os windows --json
[ "$(json 'j["available"], j["command"], j["mode"], j["delivery"]' "$TEST_TMP/out")" = \
  "(False, None, 'exclusive', 'vm')" ] || fail "windows without IOMMU"

# --- with IOMMU groups (the simulated sysfs tree) ----------------------------------------------
GPUPLEX_SYSFS_ROOT="$TEST_TMP/sys" rec v.json --kind training
[ "$(md v.json)" = exclusive/vm ] || fail "training with IOMMU: $(md v.json)"
# GPU 0 (H100) has SR-IOV VFs enabled: the A100 is the one that can be passed through
[ "$(json 'j["gpu"], j["api"]["path"]' v.json)" = "(1, '/v1/vms')" ] || fail "vm gpu/api"
# ... as `gpuplex vm check` says
GPUPLEX_SYSFS_ROOT="$TEST_TMP/sys" expect_rc 0 "$GPX" vm check 1
GPUPLEX_SYSFS_ROOT="$TEST_TMP/sys" expect_rc 6 "$GPX" vm check 0
case "$(json 'j["command"]' v.json)" in
"gpuplex vm create --gpu 1 --image IMAGE --ssh-key KEY.pub") ;;
*) fail "vm command: $(json 'j["command"]' v.json)" ;;
esac
# the flags it names are `gpuplex vm create`'s
if "$BUILD_DIR/bin/gpuplex" help vm | grep -q 'vm create'; then
    for f in --gpu --image --ssh-key --vgpu-type; do
        "$BUILD_DIR/bin/gpuplex" help vm | grep -q -e "$f" || fail "gpuplex vm create lacks $f"
    done
fi
GPUPLEX_SYSFS_ROOT="$TEST_TMP/sys" rec w.json --tenants several --isolation hardware
[ "$(md w.json)" = exclusive/vm ] || fail "multi-tenant: $(md w.json)"
GPUPLEX_SYSFS_ROOT="$TEST_TMP/sys" rec x.json --isolation compliance
[ "$(md x.json)" = exclusive/vm ] || fail "compliance: $(md x.json)"
GPUPLEX_SYSFS_ROOT="$TEST_TMP/sys" rec y.json --os windows
[ "$(md y.json)" = exclusive/vm ] || fail "windows: $(md y.json)"

# --- a saved gpuplex bench result is cited ---------------------------------------------------
mkdir -p "$GPUPLEX_STATE_DIR/bench"
cat >"$GPUPLEX_STATE_DIR/bench/last.json" <<'EOF'
{"rows": [{"mode": "bare", "relative_to_bare": 1.0, "min": 1.0, "max": 1.0, "status": "ok"},
          {"mode": "exclusive", "relative_to_bare": 0.987, "min": 0.981, "max": 0.993,
           "status": "ok"},
          {"mode": "mig", "relative_to_bare": null, "min": null, "max": null,
           "status": "refused", "reason": "MIG mode is off"}],
 "node": {"gpu_name": "NVIDIA H100 80GB HBM3"}}
EOF
rec b.json --kind batch
json '" ".join(j["reasons"])' b.json | grep -q 'exclusive at 0.987 of bare metal (0.981-0.993)' ||
    fail "bench not cited: $(json 'j["reasons"]' b.json)"
[ "$(json 'j["node"]["bench"]' b.json)" = "$GPUPLEX_STATE_DIR/bench/last.json" ] || fail "bench path"

# --- the same workload from a file: JSON and YAML ----------------------------------------------
printf '{"kind": "inference", "users-per-gpu": 4, "memory": "8G"}\n' >w.json
printf '# a serving fleet\nkind: inference\nusers_per_gpu: 4\nmemory: 8G\n' >w.yaml
rec fj.json --file w.json
rec fy.json --file w.yaml
for f in fj.json fy.json; do
    [ "$(json 'j["mode"], j["spec"]' $f)" = "$(json 'j["mode"], j["spec"]' i.json)" ] ||
        fail "$f differs from the flags' answer"
done
# a flag overrides the file's key
rec fo.json --file w.yaml --kind development
[ "$(json 'j["rule"]["id"]' fo.json)" = development ] || fail "flag over file"

# --- errors: exit 2, naming the key or flag and the valid values --------------------------------
printf '{"kind": "inference", "gpus": 2}\n' >bad1.json
expect_rc 2 "$GPX" recommend --file bad1.json
expect_err "unknown key 'gpus'; valid keys: kind, tenants, isolation"
printf 'kind: llm\n' >bad2.yaml
expect_rc 2 "$GPX" recommend --file bad2.yaml
expect_err "key 'kind': 'llm' is not one of training, fine-tuning, inference, development, batch, ci"
printf 'kind:\n  - inference\n' >bad3.yaml
expect_rc 2 "$GPX" recommend --file bad3.yaml
expect_err "key 'kind': a value must be a scalar"
printf '{"memory": [8]}\n' >bad4.json
expect_rc 2 "$GPX" recommend --file bad4.json
expect_err "key 'memory': a value must be"
printf "kind: 'inference\\n" >bad5.yaml
expect_rc 2 "$GPX" recommend --file bad5.yaml
expect_err "bad5.yaml: line"
expect_rc 2 "$GPX" recommend --file "$TEST_TMP/none.yaml"
expect_err "none.yaml"
expect_rc 2 "$GPX" recommend --isolation strong
expect_err "\-\-isolation: 'strong' is not one of none, process, hardware, compliance"
expect_rc 2 "$GPX" recommend --duration 14
expect_err "\-\-duration: '14' is not a duration"
expect_rc 2 "$GPX" recommend --memory 4096
expect_err "\-\-memory: '4096' is not a size with a unit"
expect_rc 2 "$GPX" recommend --utilization 120
expect_err "\-\-utilization"
expect_rc 2 "$GPX" recommend --gpus 2
expect_err "unknown or incomplete option '--gpus'"

# --- MIG mode on the A100: the answer moves to a MIG instance, and it is grantable ------------
expect_rc 0 "$GPX" mig apply --gpu 1 --demand 3g.20gb=1,1g.5gb=4
rec m.json --kind inference --users-per-gpu 4 --memory 4G
[ "$(md m.json)" = mig/container ] || fail "inference services with MIG: $(md m.json)"
[ "$(json 'j["gpu"], j["spec"]["mig_profile"]' m.json)" = "(1, '1g.5gb')" ] ||
    fail "mig spec: $(json 'j["spec"]' m.json)"
expect_rc 0 "$GPX" lease create --gpu 1 --mode mig --mig-profile 1g.5gb
mid=$(cat "$TEST_TMP/out")
rec r.json --kind inference --latency-sensitive --memory 16G
[ "$(md r.json)" = mig/container ] || fail "real-time inference: $(md r.json)"
[ "$(json 'j["spec"]["mig_profile"]' r.json)" = 3g.20gb ] || fail "3g.20gb: $(json 'j["spec"]' r.json)"
# hardware isolation: MIG, never a quota
rec h.json --kind development --isolation hardware
[ "$(md h.json)" = mig/container ] || fail "isolated dev: $(md h.json)"

# --- a busy node: the H100 held exclusively, the A100 in MIG mode -> no whole GPU --------------
expect_rc 0 "$GPX" lease create --gpu 0 --mode exclusive
xid=$(cat "$TEST_TMP/out")
expect_rc 7 "$GPX" recommend --kind training --json
[ "$(json 'j["available"]' "$TEST_TMP/out")" = False ] || fail "busy: available"
json '[a["why_not"] for a in j["alternatives"]]' "$TEST_TMP/out" | grep -q 'GPU 0 has 1 lease' ||
    fail "busy: why_not $(cat "$TEST_TMP/out")"
[ "$(json 'j["node"]["active_leases"]' "$TEST_TMP/out")" = 2 ] || fail "busy: load"
expect_rc 0 "$GPX" lease rm "$xid" "$mid"
echo ok
