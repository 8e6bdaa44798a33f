# Two Slurm nodes on one machine, each slurmd in its own network namespace (a bridge and a
# veth pair per node, addresses this test picks, inside namespaces it made) with its own
# gpuplexd on its own simulated node: `srun -N2` gets one lease on each node, each of that
# node's gpuplexd, whose quota holds there, and both are released when the job ends. The
# plugin's server= names each node's socket with %n (the node's name).
. "$SRC_DIR/tests/integration/lib.sh"
. "$SRC_DIR/tests/integration/slurm_lib.sh"

command -v ip >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1 ||
    fail "ip and nsenter are missing: scripts/install-deps test (iproute2, util-linux)"
slurm_setup
# names unique to this run (interface names: 15 bytes at most)
sfx=$(basename "$TEST_TMP" | sed 's/.*\.//' | tr 'A-Z' 'a-z' | tr -dc 'a-z0-9' | cut -c1-6)
br=gxb$sfx
ns1=gpx-n1-$sfx
ns2=gpx-n2-$sfx
net=10.213.$(($(od -An -N1 -tu1 /dev/urandom) % 250 + 1))
netns_cleanup() {
    ip link del "gx1$sfx" 2>/dev/null
    ip link del "gx2$sfx" 2>/dev/null
    ip link del "$br" 2>/dev/null
    ip netns del "$ns1" 2>/dev/null
    ip netns del "$ns2" 2>/dev/null
}
SLURM_EXTRA_CLEANUP=netns_cleanup
ip link add "$br" type bridge
ip addr add "$net.1/24" dev "$br"
ip link set "$br" up
i=1
for ns in "$ns1" "$ns2"; do
    ip netns add "$ns"
    ip link add "gx$i$sfx" type veth peer name eth0 netns "$ns"
    ip link set "gx$i$sfx" master "$br" up
    ip -n "$ns" addr add "$net.1$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    i=$((i + 1))
done
# each node's gpuplexd on its own simulated node, in its namespace
GPXD_NS=$ns1 sim_gpxd n1 1xH100-80GB
GPXD_NS=$ns2 sim_gpxd n2 1xA100-40GB
SLURM_CTLD_ADDR=$net.1
slurm_conf "n1=$net.11 n2=$net.12" ""
slurm_plugstack "server=$SLURM_DIR/%n/gpxd.sock required=yes"
SLURM_NS_n1=$ns1
SLURM_NS_n2=$ns2
slurm_start n1 n2

burn=$BUILD_DIR/bin/gpuplex-burn
# each task runs on its node's simulated GPUs (the simulator is the test's, not the plugin's)
expect_rc 0 timeout "$SLURM_T" srun -N2 -n2 --ntasks-per-node=1 --gpuplex-mode=vgpu \
    --gpuplex-memory=1G sh -c 'echo "task $SLURMD_NODENAME $SLURM_JOB_ID $GPUPLEX_LEASE $CUDA_VISIBLE_DEVICES"
        GPUPLEX_SIM='"$SLURM_DIR"'/$SLURMD_NODENAME/node.sim '"$burn"' --alloc-mib 2048 --json |
            sed "s/^/burn $SLURMD_NODENAME /"'
cat "$TEST_TMP/out"
[ "$(grep -c '^task ' "$TEST_TMP/out")" = 2 ] || fail "not one task per node"
for n in n1 n2; do
    line=$(grep "^task $n " "$TEST_TMP/out") || fail "no task on $n"
    set -- $line
    job=$3
    lease=$4
    sock=$SLURM_DIR/$n/gpxd.sock
    # released at the job's end, by each node's plugin
    wait_leases "$sock" 0
    "$BUILD_DIR/bin/gpuplex" usage --label "slurm_job=$job" --leases --json --server "$sock" >u$n.json
    [ "$(json '[l["id"] for l in j["leases"]]' u$n.json)" = "['$lease']" ] ||
        fail "$n: job $job's lease on its gpuplexd: $(cat u$n.json)"
    [ "$(json '[l["state"] for l in j["leases"]]' u$n.json)" = "['released']" ] || fail "$n: not released"
    GPUPLEX_SIM=$SLURM_DIR/$n/node.sim "$BUILD_DIR/bin/gpuplex" ls --json >g$n.json
    [ "$(json 'j[0]["uuid"]' g$n.json)" = "$5" ] || fail "$n: CUDA_VISIBLE_DEVICES $5 is not its GPU"
    grep "^burn $n " "$TEST_TMP/out" | sed "s/^burn $n //" >b$n.json
    [ "$(json 'j["allocated_mib"]' b$n.json)" = 1024 ] || fail "$n: quota not held: $(cat b$n.json)"
done
[ "$(json 'j[0]["name"]' gn1.json)" != "$(json 'j[0]["name"]' gn2.json)" ] ||
    fail "both tasks ran on one node's GPUs"
echo "slurm_two_nodes: ok (job $job: one lease on n1, one on n2, both released)"
