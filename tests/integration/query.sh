# nvidia-smi's query mode in `gpuplex ls`: --query-gpu with --format=csv[,noheader][,nounits]
# in nvidia-smi's CSV shape (golden/query-gpu.txt: field names, units, value formats), -L
# with MIG devices (golden/list-gpus.txt), --query-lease, errors naming the valid fields;
# the plain `gpuplex ls` table and --json stay as they were.
. "$SRC_DIR/tests/integration/lib.sh"
GOLD=$SRC_DIR/tests/integration/golden

"$GPX" sim init --gpus 1xH100-80GB,1xA100-40GB --state "$GPUPLEX_SIM" >/dev/null
ALL=index,name,uuid,pci.bus_id,memory.total,memory.used,memory.free,utilization.gpu
ALL=$ALL,utilization.memory,temperature.gpu,power.draw,power.limit,clocks.sm,clocks.mem
ALL=$ALL,mig.mode.current

# shape FILE: each line with UUIDs and numbers abstracted (the values differ, the shape not)
shape() {
    sed -E 's/(GPU|MIG)-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}/\1-UUID/g; s/[0-9]+/N/g' "$1"
}

# The header exactly as nvidia-smi prints it; a row of the same shape as nvidia-smi's.
"$GPX" ls --query-gpu=$ALL --format=csv >csv.txt
cat csv.txt
[ "$(head -1 csv.txt)" = "$(head -1 "$GOLD/query-gpu.txt")" ] ||
    fail "header: $(head -1 csv.txt)"
[ "$(wc -l <csv.txt)" = 3 ] || fail "expected a header and 2 rows"
[ "$(sed -n 2p csv.txt | shape /dev/stdin)" = "$(sed -n 2p "$GOLD/query-gpu.txt" | shape /dev/stdin)" ] ||
    fail "row shape: $(sed -n 2p csv.txt)"
grep -q '^1, NVIDIA A100-SXM4-40GB, GPU-.*, 40960 MiB, 0 MiB, 40960 MiB, ' csv.txt || fail "A100 row"

# noheader, nounits and both; the field order is the caller's.
"$GPX" ls --query-gpu=memory.total,index,power.limit --format=csv,noheader >nh.txt
[ "$(cat nh.txt)" = "81559 MiB, 0, 700.00 W
40960 MiB, 1, 400.00 W" ] || fail "noheader: $(cat nh.txt)"
"$GPX" ls --query-gpu=memory.total,index,power.limit --format=csv,nounits >nu.txt
[ "$(cat nu.txt)" = "memory.total, index, power.limit
81559, 0, 700.00
40960, 1, 400.00" ] || fail "nounits: $(cat nu.txt)"
"$GPX" ls --query-gpu=index,utilization.gpu,clocks.sm --format=csv,noheader,nounits >both.txt
grep -Eqx '0, [0-9]+, [0-9]+' both.txt || fail "noheader,nounits: $(cat both.txt)"
# the --format words in any order, as nvidia-smi takes them
for f in nounits,noheader,csv noheader,csv,nounits; do
    "$GPX" ls --query-gpu=memory.total,index,power.limit --format=$f >anyorder.txt
    [ "$(cat anyorder.txt)" = "81559, 0, 700.00
40960, 1, 400.00" ] || fail "--format=$f: $(cat anyorder.txt)"
done
# the default format is csv
"$GPX" ls --query-gpu=index,name >def.txt
[ "$(cat def.txt)" = "index, name
0, NVIDIA H100 80GB HBM3
1, NVIDIA A100-SXM4-40GB" ] || fail "default format: $(cat def.txt)"

# Unknown field, unknown format word: errors naming the valid ones.
expect_rc 2 "$GPX" ls --query-gpu=index,fan.speed --format=csv
expect_err "unknown field 'fan.speed'; valid fields: index, name .*memory.used.*clocks.current.sm \(or clocks.sm\).*mig.mode.current"
# ... and on standard output nvidia-smi's own line and blank line (what scripts look for)
[ "$(cat "$TEST_TMP/out")" = 'Field "fan.speed" is not a valid field to query.' ] &&
    [ "$(wc -l <"$TEST_TMP/out")" = 2 ] || fail "nvidia-smi's unknown-field output: $(cat "$TEST_TMP/out")"
expect_rc 2 "$GPX" ls --query-gpu=index --format=json
expect_err "--format: unknown 'json'; valid: csv, noheader, nounits"
expect_rc 2 "$GPX" ls --query-gpu=index --json
expect_rc 2 "$GPX" ls --format=csv
expect_rc 2 "$GPX" ls --query-lease=id,colour
expect_err "unknown field 'colour'; valid fields: id, tenant, state, mode, gpu.index"

# -L: a line per GPU, and per MIG device under a GPU in MIG mode.
"$GPX" ls -L >L0.txt
[ "$(shape L0.txt)" = "$(head -2 "$GOLD/list-gpus.txt" | shape /dev/stdin)" ] || fail "-L: $(cat L0.txt)"
"$GPX" mig apply --gpu 1 --demand 3g.20gb=1 >/dev/null
"$GPX" ls -L >L1.txt
cat L1.txt
[ "$(shape L1.txt)" = "$(shape "$GOLD/list-gpus.txt")" ] || fail "-L with MIG: $(cat L1.txt)"
"$GPX" mig ls --json >mig.json
grep -q "(UUID: $(json 'j[1]["instances"][0]["uuid"]' mig.json))" L1.txt || fail "-L MIG UUID"
"$GPX" ls --query-gpu=index,mig.mode.current --format=csv,noheader >mm.txt
[ "$(cat mm.txt)" = "0, Disabled
1, Enabled" ] || fail "mig.mode.current: $(cat mm.txt)"
# the driver has no utilization for a GPU in MIG mode: [N/A], as nvidia-smi prints it
"$GPX" ls --query-gpu=index,utilization.gpu,utilization.memory --format=csv,noheader >mu.txt
[ "$(sed -n 2p mu.txt)" = "1, [N/A], [N/A]" ] || fail "utilization of the MIG-mode GPU: $(cat mu.txt)"

# --query-lease: one line per active lease, [N/A] where a field does not apply.
"$GPX" ls --query-lease=id,mode --format=csv >none.txt
[ "$(cat none.txt)" = "id, mode" ] || fail "no leases: $(cat none.txt)"
v=$("$GPX" lease create --gpu 0 --mode vgpu --memory 2G 2>/dev/null)
m=$("$GPX" lease create --gpu 1 --mode mig --mig-profile 3g.20gb 2>/dev/null)
[ -n "$v" ] && [ -n "$m" ] || fail "lease create"
"$GPX" ls --query-lease=id,tenant,mode,state,gpu.index,memory.quota,memory.used,processes,weight,cap,mig.profile,created \
    --format=csv >leases.txt
cat leases.txt
[ "$(head -1 leases.txt)" = "id, tenant, mode, state, gpu.index, memory.quota [MiB], memory.used [MiB], processes, weight, cap [%], mig.profile, created" ] ||
    fail "lease header: $(head -1 leases.txt)"
grep -Eqx "$v, admin, vgpu, active, 0, 2048 MiB, 0 MiB, 0, 1, \[N/A\], \[N/A\], [0-9-]{10}T[0-9:]{8}Z" leases.txt ||
    fail "vgpu lease row"
# a mig lease's quota is its instance's memory (as lease ls and dmon say), its memory used
# the instance's from NVML
grep -Eq "^$m, admin, mig, active, 1, 19968 MiB, 0 MiB, 0, \[N/A\], \[N/A\], 3g.20gb, " leases.txt || fail "mig lease row"
# utilization.gpu: NVML's for the uncapped vgpu lease (nothing runs: 0), none for mig
"$GPX" ls --query-lease=mode,utilization.gpu --format=csv,noheader >ut.txt
[ "$(sort ut.txt)" = "mig, [N/A]
vgpu, 0 %" ] || fail "lease utilization.gpu: $(cat ut.txt)"
"$GPX" ls --query-lease=gpu.uuid,mig.uuid --format=csv,noheader,nounits >u.txt
grep -Eqx 'GPU-[0-9a-f-]{36}, MIG-[0-9a-f-]{36}' u.txt || fail "mig.uuid: $(cat u.txt)"
"$GPX" lease rm "$v" >/dev/null
"$GPX" lease rm "$m" >/dev/null

# The table and --json of plain `gpuplex ls` are unchanged.
"$GPX" ls >table.txt
head -2 table.txt | tail -1 | grep -q '^GPU NAME  *BUS-ID  *MEMORY USED/TOTAL  *UTIL' || fail "ls table header"
"$GPX" ls --json >ls.json
[ "$(json '[g["index"] for g in j]' ls.json)" = "[0, 1]" ] || fail "ls --json"
