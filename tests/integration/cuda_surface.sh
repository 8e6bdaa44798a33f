# The whole driver surface of the simulated libcuda.so.1 against the
# installed toolkit's cuda.h (issue 17, item 5), and what the interposer does
# with the newer entry points:
# - every `CUresult CUDAAPI cu…(` cuda.h declares and every name its #defines
#   map to (versioned, legacy, _ptds/_ptsz) is exported (nm -D), and every
#   base name resolves through cuGetProcAddress on a CUDA 13.0 node;
# - toolkit_graph.c, compiled here against cuda.h (cuCtxCreate_v4,
#   cuGraphInstantiateWithFlags, cuGraphAddKernelNode_v2 with CUDA 13), runs a
#   graph of every modelled node kind and a captured one (with a captured
#   cuMemAllocAsync: counted once under a lease, at instantiation, not also
#   when captured), peer copies, 2D
#   memsets, pointer attributes, pool access and the linker, bare and under
#   a vgpu lease;
# - under a 1 GiB lease a graph whose allocation node passes the quota is
#   refused at instantiation (CUDA_ERROR_OUT_OF_MEMORY), bare the simulated
#   GPU refuses it at launch;
# - graph launches of two time-sliced leases take turns, in their weights.
# Where no toolkit is installed (CUDA_HOME, else /usr/local/cuda) the names
# are not compared, and the same program built against src/abi/cuda_abi.h
# (gpx-toolkit-graph) runs the rest.
. "$SRC_DIR/tests/integration/lib.sh"
CUDA=${CUDA_HOME:-/usr/local/cuda}
SIMLIB=$BUILD_DIR/lib/sim
export LD_LIBRARY_PATH="$SIMLIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
unset GPUPLEX_LEASE LD_PRELOAD
export GPUPLEX_SIM="$TEST_TMP/node.sim"
"$GPX" sim init --gpus 2xH100-80GB --driver 580.65.06 >/dev/null

# Every unmodelled entry point (sim/cuda_sim_stubs.c) has its row in docs/simulator-cuda.md.
sed -n 's/^STUB(\(cu[A-Za-z0-9_]*\))$/\1/p' "$SRC_DIR/sim/cuda_sim_stubs.c" | sort -u >stubs.txt
[ -s stubs.txt ] || fail "no STUB() lines in sim/cuda_sim_stubs.c"
grep -o '`cu[A-Za-z0-9_]*`' "$SRC_DIR/docs/simulator-cuda.md" | tr -d '`' | sort -u >documented.txt
undocumented=$(comm -23 stubs.txt documented.txt)
[ -z "$undocumented" ] || fail "not in docs/simulator-cuda.md's table of unmodelled entry points: $undocumented"

# toolkit_check: builds tg against cuda.h, compares the names, resolves the base names.
toolkit_check() {
    cc -std=c11 -Wall -Wextra -Werror -I"$CUDA/include" "$SRC_DIR/tests/integration/toolkit_graph.c" \
        -L"$SIMLIB" -lcuda -o tg 2>cc.err ||
        fail "toolkit_graph.c does not build against $CUDA/include/cuda.h and the simulated libcuda.so.1: $(cat cc.err)"
    header=$(awk '/^#define CUDA_VERSION / {print $3; exit}' "$CUDA/include/cuda.h")
    if [ "$header" -ge 13000 ]; then
        nm -D --undefined-only tg >tg.syms
        for s in cuCtxCreate_v4 cuGraphInstantiateWithFlags cuGraphAddKernelNode_v2; do
            grep -qw "$s" tg.syms || fail "CUDA $header's cuda.h: tg does not call $s"
        done
    fi
    # The names cuda.h gives: exported ones (want.txt) and base names (bases.txt).
    python3 - "$CUDA/include/cuda.h" <<'EOF'
import re, sys
h = open(sys.argv[1]).read()
declared = set(re.findall(r'CUresult\s+CUDAAPI\s+(cu\w+)\s*\(', h))
inline = set(re.findall(r'static\s+inline\s+CUresult\s+(cu\w+)\s*\(', h))  # not exported
want, bases = set(declared), set()
for m in re.finditer(r'^\s*#\s*define\s+(cu\w+)\s+(.+?)\s*$', h, re.M):
    base, rhs = m.group(1), m.group(2)
    pt = re.match(r'__CUDA_API_(PTDS|PTSZ)\((cu\w+)\)$', rhs)
    if pt:
        want |= {pt.group(2), pt.group(2) + '_' + pt.group(1).lower()}
    elif re.match(r'cu\w+$', rhs):
        want.add(rhs)
    else:
        continue
    bases.add(base)
want -= inline
# base names: what applications ask cuGetProcAddress for (no _vN, no _ptds/_ptsz)
bases |= declared
bases = {n for n in bases - inline if not re.search(r'_(v\d+|ptds|ptsz)$', n)}
open('want.txt', 'w').write('\n'.join(sorted(want)) + '\n')
open('bases.txt', 'w').write('\n'.join(sorted(bases)) + '\n')
EOF
    nm -D --defined-only "$SIMLIB/libcuda.so.1" | awk '{print $3}' | sort -u >have.txt
    missing=$(sort -u want.txt | comm -23 - have.txt)
    [ -z "$missing" ] ||
        fail "cuda.h ($header) names entry points the simulated libcuda.so.1 does not export: $missing"
    echo "exported: all $(wc -l <want.txt) entry points of cuda.h $header ($(wc -l <have.txt) exported)"
    expect_rc 0 ./tg procaddr bases.txt
    grep -q '^driver=13000$' "$TEST_TMP/out" || fail "procaddr: not a CUDA 13.0 node: $(cat "$TEST_TMP/out")"
    echo "cuGetProcAddress: $(sed -n 's/^names=//p' "$TEST_TMP/out") base names resolve at CUDA 13.0"
}

if [ -f "$CUDA/include/cuda.h" ]; then
    toolkit_check
    TG=./tg
else
    echo "no CUDA toolkit at $CUDA (include/cuda.h): exported names not compared; running gpx-toolkit-graph (src/abi)"
    TG=$BUILD_DIR/tests/gpx-toolkit-graph
    header="(src/abi)"
fi

# field NAME: a key=value line of the last expect_rc's output
field() {
    sed -n "s/^$1=//p" "$TEST_TMP/out"
}

# Bare: graphs, captures, peers and the rest; graph memory is given back by its free node.
expect_rc 0 $TG graph
[ "$(field graph_ok)" = 1 ] && [ "$(field nodes)" = 7 ] && [ "$(field captured_nodes)" = 4 ] ||
    fail "bare graph: $(cat "$TEST_TMP/out")"
[ "$(field graph_mem_held_mib)" = 0 ] || fail "bare: graph memory held after its free node: $(field graph_mem_held_mib) MiB"
# a captured cuMemAllocAsync is an allocation node: no memory at capture, 8 MiB once it ran
[ "$(field captured_alloc_held_mib)/$(field captured_exec_held_mib)" = 0/8 ] ||
    fail "bare: captured allocation held $(field captured_alloc_held_mib) MiB at capture, $(field captured_exec_held_mib) MiB after its graph ran"
expect_rc 0 $TG peer
for k in peer_ok memset2d_ok pool_access_ok link_ok refusals_ok; do
    [ "$(field $k)" = 1 ] || fail "bare peer: no $k: $(cat "$TEST_TMP/out")"
done
# the simulated GPU refuses an allocation node past its memory when the graph runs
expect_rc 0 $TG graph-oom 204800
[ "$(field instantiate)" = CUDA_SUCCESS ] && [ "$(field instantiate_dlsym)" = CUDA_SUCCESS ] &&
    [ "$(field launch)" = CUDA_ERROR_OUT_OF_MEMORY ] ||
    fail "bare 200 GiB graph allocation: $(cat "$TEST_TMP/out")"

# Under a 1 GiB vgpu lease: the same programs through the interposer.
L=$("$GPX" lease create --gpu 0 --memory 1G 2>/dev/null) || fail "lease create"
expect_rc 0 "$GPX" run --lease "$L" -- $TG graph
[ "$(field graph_ok)" = 1 ] || fail "leased graph: $(cat "$TEST_TMP/out")"
# the executable graph holds its 16 MiB allocation node against the quota until destroyed
[ "$(field graph_mem_held_mib)" = 16 ] || fail "lease: executable graph holds $(field graph_mem_held_mib) MiB, expected 16"
# a captured cuMemAllocAsync counts once, as its executable graph's allocation node (not
# also when captured: the interposer lets a capturing stream's allocations through)
[ "$(field captured_alloc_held_mib)/$(field captured_exec_held_mib)" = 0/8 ] ||
    fail "lease: captured 8 MiB allocation held $(field captured_alloc_held_mib) MiB at capture, $(field captured_exec_held_mib) MiB by its executable graph (expected 0/8)"
expect_rc 0 "$GPX" run --lease "$L" -- $TG peer
[ "$(field memset2d_ok)" = 1 ] && [ "$(field peer_ok)" = 1 ] || fail "leased peer: $(cat "$TEST_TMP/out")"
expect_rc 0 "$GPX" run --lease "$L" -- $TG graph-oom 2048
[ "$(field instantiate)" = CUDA_ERROR_OUT_OF_MEMORY ] &&
    [ "$(field instantiate_procaddr)" = CUDA_ERROR_OUT_OF_MEMORY ] &&
    [ "$(field instantiate_dlsym)" = CUDA_ERROR_OUT_OF_MEMORY ] ||
    fail "lease: a 2 GiB graph allocation under a 1 GiB quota (direct, cuGetProcAddress, dlsym): $(cat "$TEST_TMP/out")"
expect_rc 0 "$GPX" run --lease "$L" -- $TG graph-oom 512
[ "$(field instantiate)" = CUDA_SUCCESS ] && [ "$(field launch)" = CUDA_SUCCESS ] ||
    fail "lease: a 512 MiB graph allocation under a 1 GiB quota: $(cat "$TEST_TMP/out")"
"$GPX" lease ls --json >ls.json
[ "$(json "[l['usage']['memory_used_bytes'] for l in j if l['id'] == '$L'] == [0]" ls.json)" = True ] ||
    fail "lease memory not returned after the graphs: $(cat ls.json)"
"$GPX" lease rm "$L" >/dev/null

# Graph launches take the time-slice turn: weights 1 and 3 share GPU 1 about 1:3.
a=$("$GPX" lease create --gpu 1 --mode timeslice --weight 1 --memory 1G 2>/dev/null)
b=$("$GPX" lease create --gpu 1 --mode timeslice --weight 3 --memory 1G 2>/dev/null)
"$GPX" run --lease "$a" -- $TG loop 1500 >a.out &
pa=$!
"$GPX" run --lease "$b" -- $TG loop 1500 >b.out &
pb=$!
wait "$pa" || fail "graph loop of lease a failed"
wait "$pb" || fail "graph loop of lease b failed"
"$GPX" timeslice ls --json >ts.json
cat a.out b.out ts.json
python3 - ts.json "$a" "$b" <<'EOF' || fail "graph launches did not take turns by weight"
import json, sys
L = {l['id']: l for g in json.load(open(sys.argv[1])) for l in g['leases']}
a, b = L[sys.argv[2]], L[sys.argv[3]]
share = b['gpu_seconds'] / (a['gpu_seconds'] + b['gpu_seconds'])
print(f"turns {a['turns']} and {b['turns']}, weight-3 share {share:.3f}")
sys.exit(0 if a['turns'] > 0 and b['turns'] > 0 and 0.6 < share < 0.9 else 1)
EOF
echo "ok: cuda.h $header surface exported and resolvable; graphs, captures, peers, 2D memsets bare and leased"
