# gpuplex ls --json under the simulator lists exactly the GPUs created.
. "$SRC_DIR/tests/integration/lib.sh"

"$GPX" sim init --gpus 2xH100-80GB,1xA100-40GB,1xH200 --state "$GPUPLEX_SIM" >/dev/null
"$GPX" ls --json >ls.json
[ "$(json 'len(j)' ls.json)" = 4 ] || fail "expected 4 GPUs"
[ "$(json '[g["index"] for g in j]' ls.json)" = "[0, 1, 2, 3]" ] || fail "indexes"
[ "$(json '[g["name"] for g in j]' ls.json)" = \
  "['NVIDIA H100 80GB HBM3', 'NVIDIA H100 80GB HBM3', 'NVIDIA A100-SXM4-40GB', 'NVIDIA H200']" ] ||
    fail "names: $(json '[g["name"] for g in j]' ls.json)"
[ "$(json '[g["memory_total_mib"] for g in j]' ls.json)" = "[81559, 81559, 40960, 143771]" ] ||
    fail "memory sizes"
[ "$(json 'all(g["memory_used_mib"] == 0 and g["utilization_gpu"] == 0 for g in j)' ls.json)" = True ] ||
    fail "idle node shows use"
[ "$(json 'all(g["mig_mode"] == "disabled" for g in j)' ls.json)" = True ] || fail "mig_mode"
[ "$(json 'len(set(g["uuid"] for g in j))' ls.json)" = 4 ] || fail "UUIDs not unique"
[ "$(json 'all(g["uuid"].startswith("GPU-") and len(g["uuid"]) == 40 for g in j)' ls.json)" = True ] ||
    fail "UUID format"
[ "$(json '[g["compute_capability"] for g in j]' ls.json)" = "['9.0', '9.0', '8.0', '9.0']" ] ||
    fail "compute capability"
[ "$(json '[g["power_limit_w"] for g in j]' ls.json)" = "[700.0, 700.0, 400.0, 700.0]" ] ||
    fail "power limits"

# Deterministic: the same spec gives the same UUIDs and bus ids.
"$GPX" sim init --gpus 2xH100-80GB,1xA100-40GB,1xH200 --state again.sim >/dev/null
GPUPLEX_SIM=again.sim "$GPX" ls --json >again.json
[ "$(json '[(g["uuid"], g["pci_bus_id"]) for g in j]' ls.json)" = \
  "$(json '[(g["uuid"], g["pci_bus_id"]) for g in j]' again.json)" ] || fail "not deterministic"

# The table shows one row per GPU.
"$GPX" ls >table.txt
[ "$(grep -c 'NVIDIA H100 80GB HBM3' table.txt)" = 2 ] || fail "table rows"
grep -q 'PROCESSES: none' table.txt || fail "process section"
