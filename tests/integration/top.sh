# gpuplex top driven in tmux (send-keys, capture-pane) on the simulator: GPU rows and
# a lease table showing two running gpuplex-burn leases (id, tenant, mode, memory,
# GPU-time share), MIG instances with their leases, a lease created while it runs (an
# in-process top never holds the state's lock), sorting and reversing change the
# order, resizes redraw cleanly, q and Ctrl-C exit 0 with the shell's screen back (no
# alternate screen left). Run both ways: in-process and (integration.top.daemon)
# against gpuplexd. The 100x32 screen is kept as $BUILD_DIR/test-artifacts/top.txt
# (top.daemon.txt; docs/monitoring.md shows it).
. "$SRC_DIR/tests/integration/lib.sh"

command -v tmux >/dev/null 2>&1 || fail "tmux is missing: scripts/install-deps test installs it"
BURN="$BUILD_DIR/bin/gpuplex-burn"
# the screens kept, beside the other tests' artifacts
ART="$BUILD_DIR/test-artifacts"
SFX=""
if [ "$GPX_VIA" = daemon ]; then SFX=.daemon; fi
mkdir -p "$ART"

# a private tmux server (its own socket, no user config), a shell in a fixed-size window
T="tmux -S $TEST_TMP/tmux.sock -f /dev/null"
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    $T kill-server 2>/dev/null || true
}
trap cleanup EXIT

"$GPX" sim init --gpus 2xH100-80GB --state "$GPUPLEX_SIM" >/dev/null
# GPU 1 in MIG mode: a 3g.40gb instance held by a mig lease, two 1g.10gb ones free
"$GPX" mig apply --gpu 1 --demand 3g.40gb=1,1g.10gb=2 >/dev/null
m=$("$GPX" lease create --gpu 1 --mode mig --mig-profile 3g.40gb 2>/dev/null)

# Not a terminal: refused at once, with what to use instead; bad flags say what is valid.
expect_rc 2 "$GPX" top
expect_err "needs a terminal.*dmon --leases"
expect_rc 2 "$GPX" top -d 0
expect_err "0.1..3600"
expect_rc 2 "$GPX" top --sort nope
expect_err "id, tenant, mode, gpu, procs, memory, share, wait"
expect_rc 0 "$GPX" top --help
grep -q "F6, s, >" "$TEST_TMP/out" || fail "--help does not document the keys"

# Two time-sliced leases (1:3) on GPU 0, each with a burn holding memory: a 1 GiB, b 256 MiB.
# Two tenants: alice's lease a and bob's lease b; the admin (root) sees both.
ta=$("$GPX" tenant add alice 2>/dev/null)
tb=$("$GPX" tenant add bob 2>/dev/null)
a=$(GPUPLEX_TOKEN=$ta "$GPX" lease create --gpu 0 --mode timeslice --weight 1 --memory 2G 2>/dev/null)
b=$(GPUPLEX_TOKEN=$tb "$GPX" lease create --gpu 0 --mode timeslice --weight 3 --memory 2G 2>/dev/null)
GPUPLEX_TOKEN=$ta "$GPX" run --lease "$a" -- "$BURN" --alloc-mib 1024 --duration-ms 120000 \
    --kernel-ns 200000 >/dev/null &
pids="$pids $!"
GPUPLEX_TOKEN=$tb "$GPX" run --lease "$b" -- "$BURN" --alloc-mib 256 --duration-ms 120000 \
    --kernel-ns 200000 >/dev/null &
pids="$pids $!"

screen() {
    $T capture-pane -p -t top >"$TEST_TMP/screen.txt"
}
# wait_screen ERE: until the pane shows a line matching ERE (10 s at most)
wait_screen() {
    i=0
    while [ $i -lt 100 ]; do
        screen
        grep -Eq -- "$1" "$TEST_TMP/screen.txt" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    cat "$TEST_TMP/screen.txt" >&2
    fail "the screen never showed '$1'"
}
# line_of TEXT: the line number of TEXT's first line on the last screen (0: absent)
line_of() {
    grep -nF -- "$1" "$TEST_TMP/screen.txt" | head -n1 | cut -d: -f1 | grep . || echo 0
}
# before A B: A is on a line above B
before() {
    la=$(line_of "$1")
    lb=$(line_of "$2")
    [ "$la" -gt 0 ] && [ "$lb" -gt 0 ] && [ "$la" -lt "$lb" ]
}
wait_order() {
    i=0
    while [ $i -lt 100 ]; do
        screen
        before "$1" "$2" && grep -Eq -- "$3" "$TEST_TMP/screen.txt" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    cat "$TEST_TMP/screen.txt" >&2
    fail "$1 never above $2 with '$3'"
}
alt_screen() {
    $T display-message -p -t top '#{alternate_on}'
}

# PS1 from the environment: the prompt is known; LANG: UTF-8 graphs
$T new-session -d -s top -x 100 -y 32 "env PS1='prompt> ' LANG=C.UTF-8 sh"
wait_screen '^prompt>'
$T send-keys -t top "echo \"before\"-top; $GPX top -d 0.5 --sort memory; echo \$? >$TEST_TMP/top.rc; echo \"after\"-top" Enter

# the header names the path; a row per GPU with its bars; the leases with id, tenant, mode
if [ "$GPX_VIA" = daemon ]; then
    wait_screen '^gpuplex top  gpuplexd at '
else
    wait_screen '^gpuplex top  local engine on '
fi
[ "$(alt_screen)" = 1 ] || fail "top did not switch to the alternate screen"
wait_screen '^GPU 0  NVIDIA H100 80GB HBM3 .* 2 leases'
wait_screen '^GPU 1  NVIDIA H100 80GB HBM3 .* MIG on  1 lease$'
wait_screen '^  MIG  GI [0-9]+ '
wait_screen "GI [0-9]+ 3g.40gb $m ([0-9]+/)?40[0-9]+MiB 0p"
wait_screen "GI [0-9]+ 1g.10gb free ([0-9]+/)?[0-9]+MiB 0p"
wait_screen "^$m +admin +mig +1 +0 +0/40[0-9]+ MiB "
wait_screen '^  UTIL \['
wait_screen '^  MEM  \[.*[^0-9][1-9][0-9]*/81559MiB\]'
# the history graphs, newest sample at the window's right edge
wait_screen '^  UTIL \[.*\] +(▁|▂|▃|▄|▅|▆|▇|█){2,}$'
grep '^  MEM  ' "$TEST_TMP/screen.txt" | LC_ALL=C.UTF-8 grep -Eq '\] +▁+$' || fail "no memory graph"
[ "$(grep '^  UTIL ' "$TEST_TMP/screen.txt" | head -n1 | LC_ALL=C.UTF-8 wc -L)" = 100 ] ||
    fail "the utilization graph does not end at the right edge"
wait_screen "^$a +alice +timeslice +0 +1 +1024/2048 MiB "
wait_screen "^$b +bob +timeslice +0 +1 +256/2048 MiB "
# GPU% over an interval: a figure (not '-') for both, not all zero
wait_screen "^$a .* [0-9.]+% +[0-9]+ms"
wait_screen "^$b .* [0-9.]+% +[0-9]+ms"
i=0
until awk -v a="$a" -v b="$b" '$1 == a || $1 == b { sub("%", "", $(NF-1)); s += $(NF-1) }
                               END { exit !(s > 0) }' "$TEST_TMP/screen.txt"; do
    i=$((i + 1))
    [ $i -lt 100 ] || { cat "$TEST_TMP/screen.txt" >&2; fail "no GPU-time share for the burns"; }
    sleep 0.1
    screen
done
# the footer shows the keys and the sort
wait_screen 'F6/s Sort .*r Reverse .*q Quit .*sort: MEM USED/QUOTA desc'
grep -q 'MEM USED/QUOTAv' "$TEST_TMP/screen.txt" || fail "the sort column is not marked"

# Sorting: memory, largest first (a above b); r reverses; s moves to GPU%, < back.
wait_order "$a" "$b" 'sort: MEM USED/QUOTA desc'
$T send-keys -t top r
wait_order "$b" "$a" 'sort: MEM USED/QUOTA asc'
$T send-keys -t top s
wait_screen 'sort: GPU% asc'
$T send-keys -t top r
wait_screen 'sort: GPU% desc'
$T send-keys -t top F6
wait_screen 'sort: WAIT desc'
grep -q ' WAITv$' "$TEST_TMP/screen.txt" || fail "the WAIT column is not marked"
$T send-keys -t top '<' '<'
wait_order "$a" "$b" 'sort: MEM USED/QUOTA desc'

# A lease made while top runs (in-process: top holds no lock between samples) appears,
# in the table and on its MIG instance.
c=$("$GPX" lease create --gpu 1 --mode mig --mig-profile 1g.10gb 2>/dev/null) ||
    fail "lease create while top runs"
wait_screen "^$c +admin +mig +1 "
wait_screen "GI [0-9]+ 1g.10gb $c "
wait_screen '^GPU 1  NVIDIA H100 80GB HBM3 .* MIG on  2 leases$'
# the screen kept (docs/monitoring.md), once the graphs have a few seconds of history
sleep 2
wait_order "$a" "$b" 'sort: MEM USED/QUOTA desc'
cp "$TEST_TMP/screen.txt" "$ART/top$SFX.txt"

# Resizes: smaller, then larger; one header, one footer, no line of the old layout left.
check_layout() {
    [ "$(wc -l <"$TEST_TMP/screen.txt")" = "$2" ] || fail "not $2 lines after the resize"
    [ "$(grep -c 'gpuplex top' "$TEST_TMP/screen.txt")" = 1 ] || fail "header count after resize"
    [ "$(grep -c "F6/s Sort" "$TEST_TMP/screen.txt")" = 1 ] || fail "footer count after resize"
    head -n1 "$TEST_TMP/screen.txt" | grep -q '^gpuplex top' || fail "header not on line 1"
    tail -n1 "$TEST_TMP/screen.txt" | grep -q 'Sort' || fail "footer not on the last line"
    [ "$(LC_ALL=C.UTF-8 wc -L <"$TEST_TMP/screen.txt")" -le "$1" ] || fail "a line wider than $1"
}
$T resize-window -t top -x 60 -y 16
wait_screen "^$a "
sleep 0.6 # a sample's redraw at the new size too
screen
check_layout 60 16
# 4 leases do not fit: the title says which rows show, Down scrolls
grep -Eq '^LEASES 4 active  rows 1-[1-3] \(Up/Down\)' "$TEST_TMP/screen.txt" ||
    fail "no row range at 60x16: $(cat "$TEST_TMP/screen.txt")"
$T send-keys -t top Down
wait_screen '^LEASES 4 active  rows 2-[2-4] \(Up/Down\)'
$T send-keys -t top Home
wait_screen '^LEASES 4 active  rows 1-'
$T resize-window -t top -x 132 -y 40
wait_screen "^GPU 1 "
sleep 0.6
screen
check_layout 132 40
grep -q "^$c " "$TEST_TMP/screen.txt" || fail "lease $c lost after the resize"
cp "$TEST_TMP/screen.txt" "$ART/top$SFX-132x40.txt"
# GPU 1 is in MIG mode, where the driver has no utilization (NVML: NOT_SUPPORTED): its UTIL
# bar says '-' and its graph stays empty, never a made-up 0 %
# (looked at over redraws: a loaded machine may catch one mid-way)
i=0
until grep -A1 '^GPU 1 ' "$TEST_TMP/screen.txt" | grep -Eq '^  UTIL \[ +-\]$'; do
    i=$((i + 1))
    [ $i -lt 50 ] || fail "the MIG-mode GPU's UTIL: $(grep -A1 '^GPU 1 ' "$TEST_TMP/screen.txt")"
    sleep 0.1
    screen
done
# A 20x5 terminal: still one header on top and one footer at the bottom, nothing wider
$T resize-window -t top -x 20 -y 5
wait_screen '^F6/s Sort  <> Column$'
check_layout 20 5
$T resize-window -t top -x 132 -y 40
wait_screen "^GPU 1 "

# q: exit status 0, the shell's screen back (not the alternate one), the prompt after it.
$T send-keys -t top q
wait_screen '^after-top$'
wait_screen '^prompt>$'
[ "$(cat "$TEST_TMP/top.rc")" = 0 ] || fail "top exited $(cat "$TEST_TMP/top.rc") on q"
[ "$(alt_screen)" = 0 ] || fail "the alternate screen is still on after q"
grep -q '^before-top$' "$TEST_TMP/screen.txt" || fail "the shell's screen was not restored"
! grep -q 'gpuplex top ' "$TEST_TMP/screen.txt" || fail "top's screen left behind"

# A terminal type ncurses does not know: exit 2, said on stderr, the shell's screen intact.
rm -f "$TEST_TMP/top.rc"
$T send-keys -t top "clear; TERM=gpx-no-such-term $GPX top; echo \$? >$TEST_TMP/top.rc; echo \"after\"-term" Enter
wait_screen '^after-term$'
grep -q "^gpuplex top: cannot use terminal type 'gpx-no-such-term'" "$TEST_TMP/screen.txt" ||
    fail "unknown TERM: $(cat "$TEST_TMP/screen.txt")"
[ "$(cat "$TEST_TMP/top.rc")" = 2 ] || fail "top exited $(cat "$TEST_TMP/top.rc") on an unknown TERM"

# Ctrl-C (SIGINT) ends it the same way.
rm -f "$TEST_TMP/top.rc"
$T send-keys -t top "clear; $GPX top -d 0.5; echo \$? >$TEST_TMP/top.rc; echo \"after\"-int" Enter
wait_screen '^gpuplex top '
$T send-keys -t top C-c
wait_screen '^after-int$'
[ "$(cat "$TEST_TMP/top.rc")" = 0 ] || fail "top exited $(cat "$TEST_TMP/top.rc") on SIGINT"
[ "$(alt_screen)" = 0 ] || fail "the alternate screen is still on after SIGINT"
cp "$TEST_TMP/screen.txt" "$ART/top$SFX-after-quit.txt"

# A tenant sees its own leases only: alice's top shows a, not bob's b nor the admin's.
# Against gpuplexd, named with --server; when it goes away the header says so, q still exits 0.
server=""
[ "$GPX_VIA" = daemon ] && server="--server $TEST_TMP/gpxd.sock"
rm -f "$TEST_TMP/top.rc"
$T send-keys -t top "clear; GPUPLEX_TOKEN=$ta $GPX top -d 0.5 $server; echo \$? >$TEST_TMP/top.rc; echo \"after\"-alice" Enter
wait_screen "^$a +alice +timeslice "
wait_screen '^LEASES 1 active'
! grep -qe "$b" -e "$m" -e "$c" "$TEST_TMP/screen.txt" || fail "alice's top shows others' leases"
if [ "$GPX_VIA" = daemon ]; then
    kill "$(cat "$TEST_TMP/gpxd.pid")"
    wait_screen '^gpuplex top  gpuplexd at .* sample failed: '
fi
$T send-keys -t top q
wait_screen '^after-alice$'
[ "$(cat "$TEST_TMP/top.rc")" = 0 ] || fail "alice's top exited $(cat "$TEST_TMP/top.rc")"
