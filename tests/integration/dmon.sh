# gpuplex dmon on the simulator: nvidia-smi dmon's header and column layout
# (golden/dmon-puc.txt is nvidia-smi's), -c 3 prints exactly 3 samples per GPU,
# the values follow a gpuplex-burn workload, --leases rows show two time-sliced
# leases (weights 1:3) with their GPU-time shares and a MIG instance with its
# lease, --json lines parse, bad flags name the valid values, SIGINT ends it.
. "$SRC_DIR/tests/integration/lib.sh"
BURN=$BUILD_DIR/bin/gpuplex-burn
GOLD=$SRC_DIR/tests/integration/golden

"$GPX" sim init --gpus 2xH100-80GB --state "$GPUPLEX_SIM" >/dev/null

PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null || :; done
}
trap cleanup EXIT

# layout FILE GOLDEN: the '#' lines of FILE are GOLDEN's, and in every row whose Idx
# is a number each column ends where the header's does (nvidia-smi's right alignment).
layout() {
    python3 - "$1" "$2" <<'EOF' || fail "layout of $1 (see above)"
import re, sys
out = open(sys.argv[1]).read().splitlines()
gold = open(sys.argv[2]).read().splitlines()
hdr = [l for l in out if l.startswith("#")]
want = [l.rstrip() for l in gold if l.startswith("#")]
if [h.rstrip() for h in hdr] != want or not out[0].startswith("#") or not out[1].startswith("#"):
    sys.exit("header lines:\n%s\nwant:\n%s" % ("\n".join(hdr), "\n".join(want)))
# where each column ends, past the line's first character ('#' or ' ')
ends = lambda l: [m.end() for m in re.finditer(r"\S+", " " + l[1:])]
# -o D/T: the date and time columns are left-aligned (as nvidia-smi's); the others right
skip = len([w for w in want[0][1:].split()[:2] if w in ("Date", "Time")])
starts = lambda l: [m.start() for m in re.finditer(r"\S+", " " + l[1:])][:skip]
want_ends = ends(want[0])[skip:]
for l in out[2:]:
    if not l.split()[skip].isdigit():
        continue
    if ends(l)[skip:] != want_ends or starts(l) != starts(want[0]):
        sys.exit("row not aligned with the header:\n%s\n%s" % (want[0], l))
EOF
}

# Idle node, default groups: nvidia-smi's header, 3 samples per GPU.
"$GPX" dmon -c 3 -d 0.2 >idle.txt
cat idle.txt
layout idle.txt "$GOLD/dmon-puc.txt"
[ "$(grep -c '^    0 ' idle.txt)" = 3 ] && [ "$(grep -c '^    1 ' idle.txt)" = 3 ] ||
    fail "-c 3 did not print 3 samples per GPU"
[ "$(wc -l <idle.txt)" = 8 ] || fail "-c 3 on 2 GPUs: expected 2 header lines and 6 rows"
# the golden's data row: columns end where ours do
python3 - idle.txt "$GOLD/dmon-puc.txt" <<'EOF' || fail "rows differ from nvidia-smi's"
import re, sys
ends = lambda l: [m.end() for m in re.finditer(r"\S+", l)]
ours = open(sys.argv[1]).read().splitlines()[2]
gold = open(sys.argv[2]).read().splitlines()[2]
sys.exit(0 if ends(ours) == ends(gold) else "%r vs %r" % (ours, gold))
EOF
# what gpuplex cannot know prints '-' (mtemp, enc, dec, jpg, ofa)
awk 'NR > 2 { if ($4 != "-" || $7 != "-" || $10 != "-") exit 1 }' idle.txt || fail "unknown values not '-'"

# Every group and the date/time columns: two '#' lines, rows aligned to them.
"$GPX" dmon -s pucvmet -o DT -c 1 -i 1 >all.txt
head -2 all.txt >all.hdr
layout all.txt all.hdr
grep -q '^#Date       Time        gpu    pwr' all.txt || fail "-o DT header: $(head -1 all.txt)"
grep -Eq '^ [0-9]{8}   [0-9]{2}:[0-9]{2}:[0-9]{2}      1 ' all.txt || fail "-o DT row: $(tail -1 all.txt)"
[ "$(head -1 all.txt | wc -w)" = 24 ] || fail "-s pucvmet columns: $(head -1 all.txt)"
[ "$(grep -vc '^#' all.txt)" = 1 ] || fail "-i 1 printed other GPUs"

# The groups come in the order of the letters, -o TD as -o DT: nvidia-smi's header for
# `dmon -s mutc -o TD` (golden/dmon-mutc-DT.txt, from a public capture of nvidia-smi 535).
"$GPX" dmon -s mutc -o TD -c 1 -i 0 >mutc.txt
cat mutc.txt
layout mutc.txt "$GOLD/dmon-mutc-DT.txt"

# Values follow the simulator: sm% and fb while a burn runs on GPU 0.
"$BURN" --alloc-mib 1024 --duration-ms 5000 --kernel-ns 200000 --device 0 >/dev/null &
PIDS="$!"
i=0
until "$GPX" dmon -s um -c 3 -d 0.2 -i 0 >busy.txt &&
    awk 'NR > 2 && $2 > 0 && $8 >= 1024 { ok = 1 } END { exit !ok }' busy.txt; do
    i=$((i + 1))
    [ $i -lt 10 ] || { cat busy.txt; fail "sm% / fb did not follow the workload"; }
done
cat busy.txt
[ "$(grep -c '^    0 ' busy.txt)" = 3 ] || fail "-c 3 -i 0: not 3 rows"
wait $PIDS || fail "burn failed"
PIDS=""

# --leases: two tenants' time-sliced leases 1:3 on GPU 0, each running a burn.
ta=$("$GPX" tenant add alice 2>/dev/null)
tb=$("$GPX" tenant add bob 2>/dev/null)
a=$(GPUPLEX_TOKEN=$ta "$GPX" lease create --gpu 0 --mode timeslice --weight 1 --memory 2G 2>/dev/null)
b=$(GPUPLEX_TOKEN=$tb "$GPX" lease create --gpu 0 --mode timeslice --weight 3 --memory 4G 2>/dev/null)
[ -n "$a" ] && [ -n "$b" ] || fail "lease create"
GPUPLEX_TOKEN=$ta "$GPX" run --lease "$a" -- "$BURN" --alloc-mib 512 --duration-ms 6000 \
    --kernel-ns 200000 >/dev/null &
PIDS="$!"
GPUPLEX_TOKEN=$tb "$GPX" run --lease "$b" -- "$BURN" --alloc-mib 1024 --duration-ms 6000 \
    --kernel-ns 200000 >/dev/null &
PIDS="$PIDS $!"
sleep 1
"$GPX" dmon --leases -s um -c 3 -d 0.5 >leases.txt
cat leases.txt
[ "$(grep -c "^   L0 .* lease=$a " leases.txt)" = 3 ] || fail "lease $a: not one row per sample"
[ "$(grep -c "^   L0 .* lease=$b " leases.txt)" = 3 ] || fail "lease $b: not one row per sample"
! grep -q "^   L1 " leases.txt || fail "a lease row under GPU 1"
# the last sample's shares: about 1:3 of a busy GPU; memory used and quota
sa=$(grep "lease=$a " leases.txt | tail -1 | sed 's/.*share_pct=\([0-9.]*\).*/\1/')
sb=$(grep "lease=$b " leases.txt | tail -1 | sed 's/.*share_pct=\([0-9.]*\).*/\1/')
echo "shares over the last interval: $sa% (weight 1), $sb% (weight 3)"
python3 -c "import sys; a, b = $sa, $sb; sys.exit(0 if 10 < a < 40 and 55 < b < 90 else 1)" ||
    fail "implausible shares $sa / $sb"
grep "lease=$b " leases.txt | tail -1 | grep -q "tenant=bob mode=timeslice used_mib=1024 quota_mib=4096 " ||
    fail "lease row fields: $(grep "lease=$b " leases.txt | tail -1)"
# the sm column of a lease row is its share, fb its memory
grep "lease=$b " leases.txt | tail -1 | awk '$2 > 50 && $8 == 1024 { ok = 1 } END { exit !ok }' ||
    fail "lease row columns: $(grep "lease=$b " leases.txt | tail -1)"

# a tenant sees its own lease only
GPUPLEX_TOKEN=$ta "$GPX" dmon --leases -c 1 >alice.txt
grep -q "lease=$a tenant=alice " alice.txt && ! grep -q "lease=$b" alice.txt ||
    fail "alice's view: $(cat alice.txt)"

# --json: one object per row, every line parses.
"$GPX" dmon --leases --json -c 2 -d 0.3 >json.txt
python3 - json.txt "$a" "$b" <<'EOF' || fail "--json: $(cat json.txt)"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
gpu = [r for r in rows if r["type"] == "gpu"]
assert len(gpu) == 4 and sorted(r["gpu"] for r in gpu) == [0, 0, 1, 1], gpu
assert all(set(r) >= {"sample", "timestamp", "uuid", "pwr", "gtemp", "mtemp", "sm", "mclk", "pclk"} for r in gpu)
assert all(r["mtemp"] is None and isinstance(r["pwr"], int) for r in gpu)
le = [r for r in rows if r["type"] == "lease"]
assert sorted(r["lease"] for r in le) == sorted([sys.argv[2], sys.argv[3]] * 2), le
assert all(0 <= r["share"] <= 1 and r["wait_ms"] >= 0 and r["mode"] == "timeslice" for r in le)
assert [r["memory_quota_mib"] for r in le if r["lease"] == sys.argv[3]] == [4096, 4096]
EOF
for p in $PIDS; do wait "$p" || fail "a leased burn failed"; done
PIDS=""
"$GPX" lease rm "$a" >/dev/null
"$GPX" lease rm "$b" >/dev/null

# Leases no arbiter meters: their utilization is NVML's (one rule, engine.h gpx_lease_util).
# A vgpu lease without a cap: its processes' per-process utilization, summed.
v=$("$GPX" lease create --gpu 0 --mode vgpu --memory 4G 2>/dev/null)
[ -n "$v" ] || fail "vgpu lease"
"$GPX" run --lease "$v" -- "$BURN" --alloc-mib 512 --duration-ms 20000 --kernel-ns 200000 >/dev/null &
PIDS="$!"
i=0
until "$GPX" dmon --leases -s u -c 1 -i 0 >vgpu.txt &&
    grep -Eq "^   L0 .* lease=$v tenant=admin mode=vgpu used_mib=512 quota_mib=4096 share_pct=([5-9][0-9]|100)\.[0-9] " vgpu.txt; do
    i=$((i + 1))
    [ $i -lt 40 ] || { cat vgpu.txt; fail "an uncapped vgpu lease's share from NVML"; }
    sleep 0.1
done
cat vgpu.txt
kill "$PIDS" 2>/dev/null || :
wait "$PIDS" 2>/dev/null || :
PIDS=""
"$GPX" lease rm "$v" >/dev/null
# An exclusive lease: the GPU's utilization and memory; its quota is the GPU's memory.
x=$("$GPX" lease create --gpu 0 --mode exclusive 2>/dev/null)
[ -n "$x" ] || fail "exclusive lease"
total=$("$GPX" ls --query-gpu=memory.total --format=csv,noheader,nounits | head -1)
"$GPX" run --lease "$x" -- "$BURN" --alloc-mib 768 --duration-ms 20000 --kernel-ns 200000 >/dev/null &
PIDS="$!"
i=0
until "$GPX" dmon --leases -s u -c 1 -i 0 >excl.txt &&
    grep -Eq "^   L0 .* lease=$x tenant=admin mode=exclusive used_mib=7[0-9][0-9] quota_mib=$total share_pct=([5-9][0-9]|100)\.[0-9] .* procs=1$" excl.txt; do
    i=$((i + 1))
    [ $i -lt 40 ] || { cat excl.txt; fail "an exclusive lease's row (GPU memory $total MiB)"; }
    sleep 0.1
done
cat excl.txt
kill "$PIDS" 2>/dev/null || :
wait "$PIDS" 2>/dev/null || :
PIDS=""
"$GPX" lease rm "$x" >/dev/null

# MIG: an instance row per GPU instance, the leased one naming its lease.
"$GPX" mig apply --gpu 1 --demand 3g.40gb=1,1g.10gb=1 >/dev/null
m=$("$GPX" lease create --gpu 1 --mode mig --mig-profile 1g.10gb 2>/dev/null)
[ -n "$m" ] || fail "mig lease"
"$GPX" run --lease "$m" -- "$BURN" --alloc-mib 256 --hold-ms 3000 >/dev/null &
PIDS="$!"
i=0
until "$GPX" dmon --leases -c 1 -i 1 >mig.txt && grep -q "used_mib=256 total_mib=9984 lease=$m procs=1" mig.txt; do
    i=$((i + 1))
    [ $i -lt 40 ] || { cat mig.txt; fail "the MIG instance's memory did not show"; }
    sleep 0.05
done
cat mig.txt
[ "$(grep -c '^   M1 ' mig.txt)" = 2 ] || fail "MIG rows"
# a GPU in MIG mode has no utilization (the driver answers NOT_SUPPORTED): sm and mem '-'
awk '$1 == "1" { n++; if ($5 != "-" || $6 != "-") exit 1 } END { exit n != 1 }' mig.txt ||
    fail "the MIG-mode GPU's sm/mem: $(grep '^    1 ' mig.txt)"
grep -Eq "^   M1 .* gi=[0-9]+ profile=1g.10gb uuid=MIG-[0-9a-f-]{36} used_mib=256 total_mib=9984 lease=$m procs=1$" mig.txt ||
    fail "the leased instance's row"
grep -Eq "^   M1 .* profile=3g.40gb .* used_mib=0 total_mib=40448 lease=- procs=0$" mig.txt ||
    fail "the free instance's row"
# the mig lease: its instance's memory (NVML), quota and processes; no utilization ('-')
grep -Eq "^   L1      -( +-)+  lease=$m tenant=admin mode=mig used_mib=256 quota_mib=9984 share_pct=- wait_ms=0 procs=1$" mig.txt ||
    fail "the mig lease's row"
# MIG rows by GI id
[ "$(grep '^   M1 ' mig.txt | sed 's/.* gi=\([0-9]*\) .*/\1/' | tr '\n' ' ')" = \
  "$(grep '^   M1 ' mig.txt | sed 's/.* gi=\([0-9]*\) .*/\1/' | sort -n | tr '\n' ' ')" ] ||
    fail "MIG rows not by GI id"
# lease ls and the lease's JSON say the same (the engine's one figure)
"$GPX" lease ls | grep -Eq "^$m +mig +1 +9\.8 GiB +256\.0 MiB " || fail "lease ls USED of the mig lease: $("$GPX" lease ls)"
"$GPX" lease ls --json | python3 -c '
import json, sys
l = [x for x in json.load(sys.stdin) if x["id"] == sys.argv[1]][0]
assert l["used_bytes"] == 256 << 20 and l["used_source"] == "nvml", l
assert l["gpu_util_source"] is None and l["gpu_util_pct"] is None, l' "$m" || fail "the mig lease JSON"
wait $PIDS || fail "the burn in the MIG instance failed"
PIDS=""
"$GPX" dmon --leases --json -c 1 -i 1 >mig.json
[ "$(python3 -c 'import json,sys; print(sorted((r.get("profile"), r.get("lease")) for r in map(json.loads, open(sys.argv[1])) if r["type"] == "mig"))' mig.json)" = \
  "[('1g.10gb', '$m'), ('3g.40gb', None)]" ] || fail "--json MIG rows: $(cat mig.json)"
[ "$(python3 -c 'import json,sys; print([(r["sm"], r["mem"]) for r in map(json.loads, open(sys.argv[1])) if r["type"] == "gpu"])' mig.json)" = \
  "[(None, None)]" ] || fail "--json: the MIG-mode GPU's sm/mem not null: $(cat mig.json)"
"$GPX" lease rm "$m" >/dev/null

# Bad flags: the error names the valid values.
expect_rc 2 "$GPX" dmon -s x
expect_err "unknown metric group 'x'.*valid: p .*u .*c .*v .*m .*e .*t "
expect_rc 2 "$GPX" dmon -o X
expect_err "valid: D \(date\), T \(time\), DT"
expect_rc 2 "$GPX" dmon -c 0
expect_rc 2 "$GPX" dmon -d abc
expect_rc 2 "$GPX" dmon --frobnicate
expect_err "valid: -s, -d, -c, -i, -o \(or --select, --delay, --count, --id, --options\), --leases, --json, --server, --help"
expect_rc 5 "$GPX" dmon -i 0,7 -c 1
expect_err "no GPU 7 on this node; valid: 0, 1"
expect_rc 5 "$GPX" dmon -i GPU-00000000-0000-0000-0000-000000000000 -c 1
expect_err "no GPU GPU-00000000-0000-0000-0000-000000000000 on this node; valid: 0, 1"
expect_rc 2 "$GPX" dmon -i -1
expect_err "'-1' is not a GPU \(a comma list of indexes, GPU UUIDs or PCI bus ids"
expect_rc 2 "$GPX" dmon -i MIG-3648c1b8-3efe-55c7-8acf-7f6a03497db3
expect_err "is a MIG device; dmon shows whole GPUs"
expect_rc 2 "$GPX" dmon -d 0
expect_rc 2 "$GPX" dmon -d -1
expect_rc 2 "$GPX" dmon -c -1

# -i as nvidia-smi's: index, UUID or PCI bus id (any case, with or without the domain); and
# nvidia-smi's long option names.
uuid1=$("$GPX" ls --query-gpu=uuid --format=csv,noheader | sed -n 2p)
bus1=$("$GPX" ls --query-gpu=pci.bus_id --format=csv,noheader | sed -n 2p)
short1=$(echo "$bus1" | sed 's/^[0-9A-Fa-f]*://' | tr 'A-F' 'a-f')
for sel in 1 "$uuid1" "$bus1" "$short1"; do
    "$GPX" dmon -s p -c 1 -i "$sel" >sel.txt
    [ "$(grep -vc '^#' sel.txt)" = 1 ] && grep -q '^    1 ' sel.txt || fail "-i $sel: $(cat sel.txt)"
done
"$GPX" dmon --select u --count 2 --delay 0.1 --id "0,$uuid1" --options T >long.txt
grep -q '^#Time        gpu     sm    mem' long.txt && [ "$(grep -c '^ [0-9:]\{8\}      [01] ' long.txt)" = 4 ] ||
    fail "long options: $(cat long.txt)"

# A reader that goes away (dmon | head): dmon ends at once and quietly, killed by SIGPIPE as
# nvidia-smi is, or with SIGPIPE ignored, status 0.
"$GPX" dmon -d 0.05 2>pipe.err | head -3 >pipe.txt
[ "$(wc -l <pipe.txt)" = 3 ] && [ ! -s pipe.err ] || fail "dmon | head: $(cat pipe.txt pipe.err)"
(
    trap '' PIPE
    "$GPX" dmon -d 0.05 2>pipe.err | head -1 >/dev/null
) || fail "dmon | head with SIGPIPE ignored"
[ ! -s pipe.err ] || fail "dmon | head with SIGPIPE ignored: $(cat pipe.err)"

# Ctrl-C ends it cleanly (status 0) between samples.
"$GPX" dmon -d 0.2 >sigint.txt &
p=$!
PIDS="$p"
i=0
until [ "$(grep -c '^    1 ' sigint.txt)" -ge 2 ]; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "dmon printed no samples"
    sleep 0.05
done
kill -INT "$p"
wait "$p" || fail "dmon exited $? on SIGINT"
PIDS=""
[ "$(grep -c '^#' sigint.txt)" = 2 ] || fail "header repeated or missing"
