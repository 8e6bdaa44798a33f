# Sourced (after lib.sh) by the Slurm tests: a private munged, slurmctld and slurmd on this
# test's temp dir, gpuplexd on a simulated node, the SPANK plugin in plugstack.conf.
# Everything they start is stopped by its PID (slurm_cleanup, the EXIT trap).
# shellcheck shell=sh
#
#   slurm_setup                checks the Slurm and munge programs and the plugin, installs the
#                              EXIT trap, starts a private munged (its own key and socket)
#   slurm_conf NODES GRES...   writes $SLURM_CONF: NODES is "localhost" (one node) or
#                              "n1=ADDR n2=ADDR" (nodes in network namespaces, SLURM_CTLD_ADDR
#                              set); GRES the node's Gres= value ("" for none)
#   slurm_plugstack ARGS       the plugin's line in plugstack.conf (server=, required=, ...)
#   slurm_start [NODE...]      slurmctld, then one slurmd per node ($SLURM_NS_<node>: run it in
#                              that network namespace); returns when every node is idle
#   slurm_wait_idle            waits until no job is left and every node is idle
#   sim_gpxd SOCK GPUS [ARGS]  a simulated node ($GPUPLEX_SIM) and gpuplexd on it at SOCK
#   leases_active SOCK         how many leases gpuplexd at SOCK holds
#
# Ports: slurmctld's and slurmd's are free ones picked here, so tests run side by side.
SLURM_DIR=$TEST_TMP/slurm
SLURM_CONF=$SLURM_DIR/slurm.conf
SPANK_SO=$BUILD_DIR/lib/gpuplex_spank.so
export SLURM_CONF
# srun/sbatch give up rather than wait forever
SLURM_T=${SLURM_T:-60}

slurm_setup() {
    for t in slurmctld slurmd srun sbatch scancel squeue scontrol munged munge; do
        command -v $t >/dev/null 2>&1 ||
            fail "$t is missing: scripts/install-deps test (slurmctld slurmd slurm-client munge)"
    done
    [ "$(id -u)" = 0 ] || fail "the Slurm tests run as root (slurmd, munged)"
    [ -e "$SPANK_SO" ] || fail "$SPANK_SO is not built (libslurm-dev: scripts/install-deps build)"
    # A sanitized build (make asan): the programs that load the plugin (srun, sbatch, salloc,
    # slurmd and the slurmstepd it runs) need the sanitizer runtimes loaded first, not by
    # dlopen: wrappers first in PATH preload them (and their leaks, Slurm's, are not reported).
    san=$(ldd "$SPANK_SO" | awk '/lib(asan|ubsan)\.so/ {print $3}' | tr '\n' ':')
    if [ -n "$san" ]; then
        mkdir -p "$SLURM_DIR/bin"
        for t in srun sbatch salloc slurmd; do
            printf '#!/bin/sh\nLD_PRELOAD="%s${LD_PRELOAD:+:$LD_PRELOAD}" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" exec %s "$@"\n' \
                "${san%:}" "$(command -v $t)" >"$SLURM_DIR/bin/$t"
            chmod 0755 "$SLURM_DIR/bin/$t"
        done
        chmod 0711 "$SLURM_DIR/bin"
        export PATH="$SLURM_DIR/bin:$PATH"
    fi
    mkdir -p "$SLURM_DIR/state" "$SLURM_DIR/munge"
    # others (a job's user) must reach munged's socket and the plugin's gpuplexd socket
    chmod 0711 "$TEST_TMP" "$SLURM_DIR" "$SLURM_DIR/munge"
    trap slurm_cleanup EXIT
    dd if=/dev/urandom of="$SLURM_DIR/munge/key" bs=1024 count=1 2>/dev/null
    chmod 0600 "$SLURM_DIR/munge/key"
    MUNGE_SOCK=$SLURM_DIR/munge/sock
    munged -F -f -S "$MUNGE_SOCK" --key-file="$SLURM_DIR/munge/key" \
        --pid-file="$SLURM_DIR/munge/pid" --seed-file="$SLURM_DIR/munge/seed" \
        --log-file="$SLURM_DIR/munge/log" >>"$SLURM_DIR/munge.out" 2>&1 &
    echo $! >"$SLURM_DIR/munged.pid"
    i=0
    until munge -S "$MUNGE_SOCK" -n >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 100 ] || { cat "$SLURM_DIR/munge.out" >&2; fail "munged did not start"; }
        sleep 0.05
    done
    : >"$SLURM_DIR/plugstack.conf"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])'
}

slurm_conf() {
    nodes=$1
    gres=$2
    ctld_port=$(free_port)
    slurmd_port=$(free_port)
    if [ "$nodes" = localhost ]; then
        ctld="localhost"
        node_lines="NodeName=localhost CPUs=2 RealMemory=1000${gres:+ Gres=$gres} State=UNKNOWN"
    else
        ctld="$(hostname)($SLURM_CTLD_ADDR)"
        node_lines=""
        for n in $nodes; do
            node_lines="$node_lines
NodeName=${n%%=*} NodeAddr=${n#*=} CPUs=2 RealMemory=1000${gres:+ Gres=$gres} State=UNKNOWN"
        done
    fi
    cat >"$SLURM_CONF" <<EOF
ClusterName=gpx
SlurmctldHost=$ctld
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SLURM_DIR/munge/sock
CredType=cred/munge
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool-%n
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd-%n.pid
SlurmctldLogFile=$SLURM_DIR/slurmctld.log
SlurmdLogFile=$SLURM_DIR/slurmd-%n.log
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
SwitchType=switch/none
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
KillWait=2
MessageTimeout=20
GresTypes=gpu,shard
PlugStackConfig=$SLURM_DIR/plugstack.conf
$node_lines
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    chmod 0644 "$SLURM_CONF"
}

slurm_plugstack() {
    echo "required $SPANK_SO $*" >"$SLURM_DIR/plugstack.conf"
    chmod 0644 "$SLURM_DIR/plugstack.conf"
}

slurm_start() {
    slurmctld -f "$SLURM_CONF" -i >>"$SLURM_DIR/slurmctld.out" 2>&1 ||
        { cat "$SLURM_DIR/slurmctld.out" "$SLURM_DIR/slurmctld.log" >&2; fail "slurmctld"; }
    [ $# -gt 0 ] || set -- localhost
    for n in "$@"; do
        eval "ns=\${SLURM_NS_$n:-}"
        if [ -n "$ns" ]; then
            # nsenter, not ip netns exec: that remounts /sys without cgroups (PEERS.md)
            nsenter --net="/var/run/netns/$ns" slurmd -f "$SLURM_CONF" -N "$n" \
                >>"$SLURM_DIR/slurmd.out" 2>&1
        else
            slurmd -f "$SLURM_CONF" -N "$n" >>"$SLURM_DIR/slurmd.out" 2>&1
        fi || { cat "$SLURM_DIR/slurmd.out" "$SLURM_DIR"/slurmd-*.log >&2; fail "slurmd $n"; }
    done
    slurm_wait_idle
}

# every node idle and no job left (30 s at most)
slurm_wait_idle() {
    i=0
    while :; do
        st=$(sinfo -h -o '%t' 2>/dev/null | sort -u | tr '\n' ' ')
        jobs=$(squeue -h 2>/dev/null | wc -l)
        [ "$st" = "idle " ] && [ "$jobs" = 0 ] && return 0
        i=$((i + 1))
        [ $i -lt 300 ] || {
            sinfo >&2 || true
            squeue >&2 || true
            tail -20 "$SLURM_DIR/slurmctld.log" "$SLURM_DIR"/slurmd-*.log >&2 || true
            fail "Slurm nodes not idle (state: $st, jobs: $jobs)"
        }
        sleep 0.1
    done
}

stop_pidfile() {
    [ -s "$1" ] || return 0
    p=$(cat "$1")
    kill "$p" 2>/dev/null || return 0
    i=0
    while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    kill -9 "$p" 2>/dev/null || true
}

slurm_cleanup() {
    set +e
    # slurmstepd of a step still running: they are children of slurmd; squeue may still
    # name jobs, scancel them first so slurmd ends them
    if [ -s "$SLURM_DIR/slurmctld.pid" ] && kill -0 "$(cat "$SLURM_DIR/slurmctld.pid")" 2>/dev/null; then
        timeout 10 scancel --full -w "$(timeout 5 sinfo -h -o '%N' 2>/dev/null)" >/dev/null 2>&1
    fi
    for f in "$SLURM_DIR"/slurmd-*.pid; do stop_pidfile "$f"; done
    stop_pidfile "$SLURM_DIR/slurmctld.pid"
    for f in "$SLURM_DIR"/gpxd-*.pid; do stop_pidfile "$f"; done
    stop_pidfile "$SLURM_DIR/munged.pid"
    [ -n "${SLURM_EXTRA_CLEANUP:-}" ] && $SLURM_EXTRA_CLEANUP
    return 0
}

# sim_gpxd NAME GPUS [ARGS]: a simulated node at $SLURM_DIR/NAME.sim and gpuplexd on it with
# state, run dir and socket $SLURM_DIR/NAME/...; $GPXD_NS: in that network namespace
sim_gpxd() {
    g_name=$1
    g_gpus=$2
    shift 2
    g_dir=$SLURM_DIR/$g_name
    mkdir -p "$g_dir"
    chmod 0711 "$g_dir"
    GPUPLEX_SIM=$g_dir/node.sim "$BUILD_DIR/bin/gpuplex" sim init --gpus "$g_gpus" \
        --state "$g_dir/node.sim" >/dev/null
    chmod 0666 "$g_dir/node.sim"
    rm -f "$g_dir/gpxd.sock"
    GPUPLEX_SIM=$g_dir/node.sim GPUPLEX_LOG=warn ${GPXD_NS:+nsenter --net=/var/run/netns/$GPXD_NS} \
        "$BUILD_DIR/bin/gpuplexd" --state-dir "$g_dir/state" --run-dir "$g_dir/run" \
        --socket "$g_dir/gpxd.sock" --set watchdog=off --set cdi_spec= "$@" \
        >>"$g_dir/gpxd.log" 2>&1 &
    echo $! >"$SLURM_DIR/gpxd-$g_name.pid"
    i=0
    while [ ! -S "$g_dir/gpxd.sock" ]; do
        kill -0 "$(cat "$SLURM_DIR/gpxd-$g_name.pid")" 2>/dev/null ||
            { cat "$g_dir/gpxd.log" >&2; fail "gpuplexd $g_name exited"; }
        i=$((i + 1))
        [ $i -lt 400 ] || fail "gpuplexd $g_name did not start"
        sleep 0.05
    done
}

# leases_active SOCK: active leases at gpuplexd SOCK (as root: every tenant's)
leases_active() {
    "$BUILD_DIR/bin/gpuplex" lease ls --server "$1" --json |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

# wait_leases SOCK N: until gpuplexd at SOCK holds N active leases (15 s at most)
wait_leases() {
    i=0
    while [ "$(leases_active "$1")" != "$2" ]; do
        i=$((i + 1))
        [ $i -lt 150 ] || fail "gpuplexd at $1 holds $(leases_active "$1") leases, expected $2"
        sleep 0.1
    done
}
