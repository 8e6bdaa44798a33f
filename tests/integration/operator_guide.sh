# docs/operator-guide.md runs as written: its ```sh blocks, in order, in one shell (a variable
# or an export of one block is there in the next, as in a reader's terminal), in this test's
# temp dir, on the simulated node the guide itself starts. A command that fails fails the test.
#
# A block whose first line is `# on a real node (KINDS)` is skipped; each kind says why:
#   packages  apt-get/dpkg install or remove packages of the machine itself
#   install   writes into the system (`sudo make install` into /usr/local, /etc/gpuplex)
#   systemd   needs systemd as PID 1 (systemctl enable/restart, journalctl)
# Any other kind fails the test, so that the set stays small and each kind is explained here.
#
# The environment is the reader's: none of gpuplex's variables set (the guide sets those it
# needs); `build` here is the build tree (the guide runs from the source tree after
# `make build`); TMPDIR is this temp dir, so that the guide's `mktemp -d` lands in it.
. "$SRC_DIR/tests/integration/lib.sh"

if [ "$(id -u)" != 0 ]; then
    # the guide's tenant commands are an admin's: root on the node's socket
    echo "skipped: the operator guide runs as root" >&2
    exit 77
fi
for t in bash openssl; do
    command -v $t >/dev/null 2>&1 || { echo "skipped: needs $t" >&2; exit 77; }
done
unset GPUPLEX_SIM GPUPLEX_RUN_DIR GPUPLEX_STATE_DIR GPUPLEX_SERVER GPUPLEX_TOKEN GPUPLEX_CONFIG
ln -s "$BUILD_DIR" "$TEST_TMP/build"
export TMPDIR="$TEST_TMP"

# guide.sh: the runnable blocks, each followed by gpx_bg, which records the pid of a command it
# left in the background (the guide's gpuplexd) in guide.pids; at exit too, however the
# guide's shell ends, so that the test stops what the guide started.
python3 - "$SRC_DIR/docs/operator-guide.md" "$TEST_TMP/guide.sh" <<'EOF'
import re, sys
KINDS = {"packages", "install", "systemd"}
src, dst = sys.argv[1], sys.argv[2]
out = ['gpx_bg() { case "${!:-}" in ?*) grep -qsx "$!" "$TEST_TMP/guide.pids" ||'
       ' echo "$!" >>"$TEST_TMP/guide.pids" ;; esac; }\n', "trap gpx_bg EXIT\n"]
block, indent, ran, skipped = None, "", 0, 0
for n, line in enumerate(open(src), 1):
    m = re.match(r"^( *)```(.*)$", line.rstrip("\n"))
    if block is None:
        if m and m.group(2).strip() == "sh":
            block, indent, start = [], m.group(1), n
        continue
    if m and m.group(1) == indent and m.group(2) == "":
        first = block[0] if block else ""
        host = re.match(r"^# on a real node \(([^)]*)\)", first)
        if host:
            kinds = {k.strip() for k in host.group(1).split(",")}
            if not kinds or not kinds <= KINDS:
                sys.exit("docs/operator-guide.md:%d: unknown kinds in '%s' (known: %s)"
                         % (start + 1, first, ", ".join(sorted(KINDS))))
            skipped += 1
        else:
            out.append("echo '--- docs/operator-guide.md:%d' >&2\n" % start)
            out.extend(l + "\n" for l in block)
            out.append("gpx_bg\n")
            ran += 1
        block = None
        continue
    block.append(line.rstrip("\n")[len(indent):] if line.startswith(indent) else line.rstrip("\n"))
if block is not None:
    sys.exit("docs/operator-guide.md:%d: unclosed ```sh block" % start)
if ran < 5 or skipped > ran:
    sys.exit("docs/operator-guide.md: %d blocks run, %d skipped: the guide should mostly run"
             % (ran, skipped))
open(dst, "w").writelines(out)
print("%d blocks to run, %d on a real node only" % (ran, skipped), file=sys.stderr)
EOF

# bash (the reader's shell), stopping at the first failure; bounded, as the daemon must not
# keep the test waiting if a command hangs. Commands and their output go to the test's log.
set +e
timeout 100 bash -e -x "$TEST_TMP/guide.sh" >"$TEST_TMP/guide.out" 2>&1
rc=$?
set -e
cat "$TEST_TMP/guide.out" >&2
# the guide's gpuplexd ran to the end (it served every command), then is stopped here;
# run-one.sh stops gpxd.pid as well, should this test end before
alive=0
if [ -s "$TEST_TMP/guide.pids" ]; then
    tail -n 1 "$TEST_TMP/guide.pids" >"$TEST_TMP/gpxd.pid"
    kill -0 "$(cat "$TEST_TMP/gpxd.pid")" 2>/dev/null && alive=1
    while read -r pid; do
        kill "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
            sleep 0.05
            i=$((i + 1))
        done
        kill -9 "$pid" 2>/dev/null || true
    done <"$TEST_TMP/guide.pids"
fi
[ "$rc" = 0 ] || fail "docs/operator-guide.md: its commands exited $rc (output above)"
[ "$alive" = 1 ] || fail "the guide's gpuplexd was not running at the end"
grep -q '^team-a ' "$TEST_TMP/guide.out" || fail "no tenant team-a in the guide's 'tenant ls'"
