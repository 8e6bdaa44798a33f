# gpuplex bench on the simulator (issue 16): every mode the node can give runs and the table
# has one row per mode; timeslice shares near equal, aggregate near 1; MIG refused on a GPU
# without MIG mode and measured on one with it; container refused without an image, vm without
# IOMMU groups; a failing `-- CMD` reported per mode; --metric; the JSON's keys are the ones
# docs/choosing.md lists; last.json kept; compare; bad flags exit 2 naming the valid values.
# Short runs (--runs 3, 300 ms of burn): the bounds are tolerant.
. "$SRC_DIR/tests/integration/lib.sh"

"$GPX" sim init --gpus 1xH100-80GB,1xA100-40GB --state "$GPUPLEX_SIM" >/dev/null
# no IOMMU groups here (a fake sysfs root), no container image
mkdir -p "$TEST_TMP/sysfs/kernel"
export GPUPLEX_SYSFS_ROOT="$TEST_TMP/sysfs"
unset GPUPLEX_BENCH_IMAGE
check() {
    [ "$(json "$1" "$2")" = True ] || { cat "$2" >&2; fail "$1"; }
}

# --- every mode, one row each ------------------------------------------------------------------
t0=$(date +%s)
rc=0; "$GPX" bench --runs 3 --duration-ms 300 --json --output a.json >out.json 2>progress.txt || rc=$?
[ $rc = 0 ] ||
    { cat progress.txt >&2; fail "gpuplex bench exited $rc"; }
echo "default modes, 3 runs: $(($(date +%s) - t0)) s"
cmp -s out.json a.json || python3 -c 'import json,sys; sys.exit(json.load(open("out.json")) != json.load(open("a.json")))' ||
    fail "--output differs from what --json printed"
python3 - a.json <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
for r in j["rows"]:
    print(f'{r["mode"]:14} {r["status"]:8} {r["relative_to_bare"]} [{r["min"]}, {r["max"]}] '
          f'{r.get("shares", "")} {r.get("aggregate", "")} {r.get("reason", "")}')
EOF
check '[r["mode"] for r in j["rows"]] == ["bare", "exclusive", "vgpu", "vgpu-cap", "mig:1g.10gb", "mig:3g.40gb", "timeslice-1", "timeslice-2", "timeslice-4", "container", "vm"]' a.json
check 'all(r["status"] == "ok" and r["runs"] == 3 for r in j["rows"] if r["mode"] in ("bare", "exclusive", "vgpu", "vgpu-cap", "timeslice-1", "timeslice-2", "timeslice-4"))' a.json
check 'all(r["status"] == "refused" and r["relative_to_bare"] is None for r in j["rows"] if r["mode"] in ("container", "vm", "mig:1g.10gb", "mig:3g.40gb"))' a.json
row() { echo "[r for r in j['rows'] if r['mode'] == '$1'][0]"; }
check "$(row bare)['relative_to_bare'] == 1.0" a.json
check "0.5 < $(row exclusive)['relative_to_bare'] < 1.6" a.json
check "0.5 < $(row vgpu)['relative_to_bare'] < 1.6" a.json
check "0.2 < $(row vgpu-cap)['relative_to_bare'] < 0.8" a.json
check "0.5 < $(row timeslice-1)['relative_to_bare'] < 1.6" a.json
# N tenants of equal weight: each near 1/N of the total, all of them together near bare
check "all(abs(s - 0.5) < 0.1 for s in $(row timeslice-2)['shares'])" a.json
check "all(abs(s - 0.25) < 0.1 for s in $(row timeslice-4)['shares'])" a.json
check "0.6 < $(row timeslice-2)['aggregate'] < 1.5 and 0.6 < $(row timeslice-4)['aggregate'] < 1.5" a.json
check "0.25 < $(row timeslice-2)['relative_to_bare'] < 0.75" a.json
check "all(r['min'] <= r['relative_to_bare'] <= r['max'] for r in j['rows'] if r['status'] == 'ok')" a.json
# the reasons name what is missing
check "'not in MIG mode' in $(row mig:1g.10gb)['reason'] and 'gpuplex mig apply' in $(row mig:1g.10gb)['reason']" a.json
check "'no IOMMU groups under' in $(row vm)['reason']" a.json
check "'podman' in $(row container)['reason'] or 'image' in $(row container)['reason']" a.json
check "$(row vgpu)['isolation'] == 'memory+compute' and $(row exclusive)['isolation'] == 'hardware' and $(row timeslice-2)['isolation'] == 'process' and $(row bare)['isolation'] == 'none'" a.json
# node facts from NVML: the loaded library is gpuplex's simulated driver
check "j['node']['gpu_name'] == 'NVIDIA H100 80GB HBM3' and j['node']['simulated'] is True and j['node']['driver_version'] and j['node']['mig_mode'] == 'disabled'" a.json
check "j['workload']['name'] == 'gpuplex-burn' and j['workload']['metric'] == 'kernels_per_s' and '--mix-every' in j['workload']['argv']" a.json
# a progress line per run on a non-terminal stderr: 7 modes x 3 runs
[ "$(grep -c '^gpuplex bench: run ' progress.txt)" = 21 ] || { cat progress.txt; fail "progress lines"; }
# nothing left behind: no bench lease, no temporary files
"$GPX" lease ls --json >leases.json
check 'len(j) == 0' leases.json

# --- the JSON's keys are docs/choosing.md's -----------------------------------------------------
doc="$SRC_DIR/docs/choosing.md"
python3 - a.json "$doc" <<'EOF' || fail "the JSON and docs/choosing.md disagree"
import json, re, sys
j = json.load(open(sys.argv[1]))
doc = open(sys.argv[2]).read()
sec = doc[doc.index("Measured on this node: gpuplex bench"):]
keys = set(j) | set(j["node"]) | set(j["workload"])
for r in j["rows"]:
    keys |= set(r)
missing = sorted(k for k in keys if f"`{k}`" not in sec)
if missing:
    sys.exit(f"keys not documented: {missing}")
for k in ["mode", "relative_to_bare", "min", "max", "runs", "status", "isolation"]:
    assert all(k in r for r in j["rows"]), k
EOF

# --help names the flags, the modes and the JSON keys it prints
"$GPX" bench --help >help.txt
python3 - a.json help.txt <<'EOF' || fail "bench --help and the JSON disagree"
import json, re, sys
j = json.load(open(sys.argv[1]))
words = set(re.findall(r"[a-z_]+", open(sys.argv[2]).read()))
keys = set(j) | set(j["node"]) | set(j["workload"])
for r in j["rows"]:
    keys |= set(r)
missing = sorted(keys - words)
if missing:
    sys.exit(f"keys not in bench --help: {missing}")
EOF
for f in "--modes LIST" "--runs N" "--json" "--output FILE.json" "--metric wall|REGEX" \
    "-- CMD" "compare [--json] A.json B.json" "  bare " "  exclusive " "  vgpu " "  vgpu-cap " \
    "  mig:PROFILE " "  timeslice-N " "  container " "  vm "; do
    grep -qF -- "$f" help.txt || fail "bench --help lacks '$f'"
done

# --- saved for gpuplex recommend ----------------------------------------------------------------
[ -s "$GPUPLEX_STATE_DIR/bench/last.json" ] || fail "no $GPUPLEX_STATE_DIR/bench/last.json"
check 'len(j["rows"]) == 11' "$GPUPLEX_STATE_DIR/bench/last.json"

# --- the table ----------------------------------------------------------------------------------
"$GPX" bench --runs 1 --duration-ms 200 --modes timeslice-2,vm >table.txt 2>/dev/null ||
    fail "bench (table) exited $?"
cat table.txt
grep -q '^MODE  *VS BARE  *MIN-MAX  *ISOLATION' table.txt || fail "table header"
grep -Eq '^timeslice-2 +0\.[0-9]+ .*process .*/.*aggregate' table.txt || fail "timeslice-2 row"
grep -Eq '^vm +refused .*no IOMMU groups' table.txt || fail "vm row"
[ "$(grep -c '^bare ' table.txt)" = 1 ] || fail "bare row (always there, once)"

# --- MIG: measured on a GPU in MIG mode ---------------------------------------------------------
"$GPX" mig apply --gpu 1 --demand 3g.20gb=1,1g.5gb=2 >/dev/null
"$GPX" bench --gpu 1 --modes mig --runs 2 --duration-ms 300 --json >mig.json 2>/dev/null ||
    { cat mig.json; fail "bench --modes mig exited $?"; }
check '[r["mode"] for r in j["rows"]] == ["bare", "mig:1g.5gb", "mig:3g.20gb"]' mig.json
check 'all(r["status"] == "ok" and r["isolation"] == "hardware" for r in j["rows"][1:])' mig.json
check '0.5 < j["rows"][1]["relative_to_bare"] < 1.5' mig.json
# and refused on an H100 that has no MIG mode, named profile or not
"$GPX" bench --gpu 0 --modes mig:2g.20gb --runs 1 --duration-ms 100 --json >nomig.json 2>/dev/null
check 'j["rows"][1]["mode"] == "mig:2g.20gb" and j["rows"][1]["status"] == "refused"' nomig.json

# --- vm: src/vm's probe of the GPU gives the reason (a node with a sysfs tree of its own) -------
GPUPLEX_SIM="$TEST_TMP/vm.sim" "$GPX" sim init --gpus 1xH100-80GB --state "$TEST_TMP/vm.sim" \
    --sysfs "$TEST_TMP/vmsys" >/dev/null
GPUPLEX_SIM="$TEST_TMP/vm.sim" GPUPLEX_STATE_DIR="$TEST_TMP/vm-state" GPUPLEX_RUN_DIR="$TEST_TMP/vm-run" \
    GPUPLEX_SYSFS_ROOT="$TEST_TMP/vmsys" "$BUILD_DIR/bin/gpuplex" bench --modes vm --runs 1 \
    --duration-ms 100 --json >vm.json 2>/dev/null
check "$(row vm)['status'] == 'refused' and $(row vm)['reason'].startswith('GPU 0 (0000:')" vm.json

# --- -- CMD: a failure per mode, --metric -------------------------------------------------------
expect_rc 1 "$GPX" bench --modes exclusive,timeslice-2 --runs 1 --json -- sh -c 'echo broken >&2; exit 3'
cp "$TEST_TMP/out" fail.json
check 'all(r["status"] == "failed" and r["exit_code"] == 3 and "broken" in r["reason"] for r in j["rows"])' fail.json
# fails only where no lease is: bare failed, the lease rows measured; exit 0
"$GPX" bench --modes vgpu --runs 1 --json -- sh -c '[ -n "$GPUPLEX_LEASE" ] || exit 4' >part.json 2>/dev/null ||
    fail "bench exited $? although vgpu ran"
check 'j["rows"][0]["status"] == "failed" and j["rows"][0]["exit_code"] == 4' part.json
check 'j["rows"][1]["status"] == "ok" and j["rows"][1]["relative_to_bare"] is None and j["workload"]["metric"] == "wall"' part.json
"$GPX" bench --modes exclusive --runs 2 --json --metric 'rate: ([0-9.]+)' -- sh -c 'echo rate: 7; echo rate: 42.5' >metric.json 2>/dev/null
check 'j["rows"][1]["value"] == 42.5 and j["rows"][1]["relative_to_bare"] == 1.0' metric.json
expect_rc 1 "$GPX" bench --modes exclusive --runs 1 --json --metric 'rate: ([0-9.]+)' -- true
cp "$TEST_TMP/out" nometric.json
check '"matched no number" in j["rows"][1]["reason"]' nometric.json

# --- compare ------------------------------------------------------------------------------------
# B: A with vgpu-cap below A's whole range, and without a vgpu row
python3 - a.json b.json <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
j["rows"] = [r for r in j["rows"] if r["mode"] != "vgpu"]
for r in j["rows"]:
    if r["mode"] == "vgpu-cap":
        r["relative_to_bare"] = r["min"] = r["max"] = round(r["min"] - 0.1, 4)
json.dump(j, open(sys.argv[2], "w"))
EOF
"$GPX" bench compare --json a.json b.json >cmp.json
check '[r["mode"] for r in j["rows"]][:4] == ["bare", "exclusive", "vgpu", "vgpu-cap"]' cmp.json
check "$(row vgpu-cap)['better'] == 'a' and $(row vgpu-cap)['delta'] < -0.09" cmp.json
check "$(row bare)['better'] == 'same' and $(row vm)['better'] is None" cmp.json
check "$(row vgpu)['b'] is None" cmp.json
# its keys are the ones docs/choosing.md gives
check 'set(j) == {"a", "b", "rows"} and all(set(r) == {"mode", "a", "b", "delta", "better"} for r in j["rows"])' cmp.json
"$GPX" bench compare a.json a.json >cmp.txt
grep -Eq '^exclusive +[0-9.]+ +[0-9.]+ +\+0\.000 +same' cmp.txt || { cat cmp.txt; fail "compare table"; }

# --- bad usage: exit 2, naming the valid values -------------------------------------------------
expect_rc 2 "$GPX" bench --modes bare,warp
expect_err "'warp' is not a mode; valid: bare, exclusive, vgpu, vgpu-cap, mig, mig:PROFILE"
expect_rc 2 "$GPX" bench --runs 0
expect_err "--runs: '0' is not a whole number from 1 to 100"
expect_rc 2 "$GPX" bench --metric wall
expect_err "--metric is for '-- CMD'"
expect_rc 2 "$GPX" bench --metric 'x' -- true
expect_err "needs a capture group"
expect_rc 2 "$GPX" bench --memory 10 -- true
expect_err "memory"
expect_rc 2 "$GPX" bench --gpu 7 --runs 1
expect_err "--gpu 7: the node has 2 GPU"
expect_rc 2 "$GPX" bench --frobnicate
expect_rc 2 "$GPX" bench compare a.json
expect_rc 5 "$GPX" bench compare a.json nonexistent.json
echo '{"x": 1}' >bogus.json
expect_rc 2 "$GPX" bench compare a.json bogus.json
expect_err "not a gpuplex bench result"
echo '{"rows": ' >broken.json
expect_rc 2 "$GPX" bench compare a.json broken.json
expect_err "broken.json"
echo "bench: ok"
