# `gpuplex fn create|ls|rm|call|logs` (issue 15, docs/functions.md) against gpuplexd on the
# simulator with the example worker (examples/fn-worker): flags and --file make the
# registration body; call prints the worker's answer (-v headers, --json one object) and exits
# by its status; a tenant calls but may not create or remove; logs show the worker's stderr;
# without a daemon every subcommand says functions need gpuplexd (exit 9). Bounded: the
# client's GPUPLEX_TIMEOUT, the daemon stopped by run-one.sh, workers by gpuplexd.
. "$SRC_DIR/tests/integration/lib.sh"
G=$BUILD_DIR/bin/gpuplex
W=$BUILD_DIR/bin/gpuplex-fn-worker
export GPUPLEX_TIMEOUT=60
"$G" sim init --gpus 1xH100-80GB --state "$GPUPLEX_SIM" >/dev/null

# help: every subcommand's --help (exit 0, stdout) is the page of `gpuplex help fn`, which
# names each subcommand, each flag and the exit statuses
expect_rc 0 "$G" help fn
cp "$TEST_TMP/out" "$TEST_TMP/help"
for sub in create ls rm call logs; do
    grep -q "^ *gpuplex fn $sub " "$TEST_TMP/help" || fail "help fn lacks the usage of $sub"
    grep -Eq "^  $sub +[a-z]" "$TEST_TMP/help" || fail "help fn does not say what $sub does"
    expect_rc 0 "$G" fn "$sub" --help
    cmp -s "$TEST_TMP/out" "$TEST_TMP/help" || fail "fn $sub --help differs from help fn"
done
for flag in --name --command --image --mode --memory --weight --cap --mig-profile --gpu \
    --min-workers --max-workers --max-concurrency --queue-max --idle-timeout --timeout \
    --max-body --price-per-request --price-per-gpu-second --file --data --data-file \
    --content-type --verbose --json --tail --worker --server; do
    grep -q -e "^ *$flag\|[ ,]$flag " "$TEST_TMP/help" || fail "help fn does not explain $flag"
done
grep -q '^exit status: ' "$TEST_TMP/help" || fail "help fn lacks the exit statuses"

# usage errors need no daemon: each names the flag and what it takes
expect_rc 2 "$G" fn
expect_err 'missing subcommand: create, ls, rm, call or logs'
expect_rc 2 "$G" fn create --name x
expect_err 'missing the worker: --command'
expect_rc 2 "$G" fn create -- "$W"
expect_err 'missing --name NAME'
expect_rc 2 "$G" fn create --name x --max-workers 0 -- "$W"
expect_err '--max-workers takes a whole number from 1 to 64'
expect_rc 2 "$G" fn create --name x --idle-timeout soon -- "$W"
expect_err '--idle-timeout takes a duration'
expect_rc 2 "$G" fn create --name x --price-per-request -1 -- "$W"
expect_err '--price-per-request takes a number >= 0'
# shellcheck disable=SC2016 # the $(...) is the point: gpuplex must refuse it
expect_rc 2 "$G" fn create --name x --command 'w $(id)'
expect_err 'command substitution is not allowed'
expect_rc 2 "$G" fn create --name x --command "$W" -- "$W"
expect_err 'the worker is given by --command or --image already'
expect_rc 2 "$G" fn create --name x --file "$TEST_TMP/none.json"
expect_err '--file .*none.json'
expect_rc 2 "$G" fn call 'bad/name'
expect_err "invalid function NAME 'bad/name'"
expect_rc 2 "$G" fn ls --data x
expect_err 'are options of .call.'

# no daemon: the client's rule finds the in-process engine, which serves no functions
expect_rc 9 env GPUPLEX_SERVER=none "$G" fn ls
expect_err 'GPU functions are served by gpuplexd only'
expect_rc 9 env GPUPLEX_SERVER=none "$G" fn call spin --data '{}'
expect_err 'GPU functions are served by gpuplexd only'

sock=$TEST_TMP/gpxd.sock
gpxd_start "$sock"
export GPUPLEX_SERVER="$sock"

# --image: the registration's "image"; this node runs no containers, and says so
expect_rc 2 "$G" fn create --name img --mode vgpu --memory 1G --image localhost/x
expect_err "field 'image': containers are off on this node .*container_images"

# create from flags, the worker's argv after --
expect_rc 0 "$G" fn create --name spin --mode vgpu --memory 1G --max-workers 2 \
    --max-concurrency 2 --idle-timeout 30s --timeout 20s --max-body 64K \
    --price-per-request 0.5 --price-per-gpu-second 2 -- "$W" --kernels 2 --kernel-us 500
[ "$(cat "$TEST_TMP/out")" = spin ] || fail "create printed: $(cat "$TEST_TMP/out")"
expect_rc 6 "$G" fn create --name spin --mode vgpu --memory 1G -- "$W"
# create from --file, a flag replacing one of its fields; --command split as a shell would
cat >"$TEST_TMP/echo.json" <<EOF
{"name": "echo2", "command": ["$W"], "lease": {"mode": "vgpu", "memory": "1G"},
 "max_workers": 1, "price_per_request": 1}
EOF
expect_rc 0 "$G" fn create --json --file "$TEST_TMP/echo.json" --max-concurrency 3
[ "$(json 'j["max_concurrency"], j["max_workers"], j["price_per_request"]' "$TEST_TMP/out")" = \
    "(3, 1, 1.0)" ] || fail "--file + flag: $(cat "$TEST_TMP/out")"
expect_rc 0 "$G" fn create --name quoted --mode vgpu --memory 1G --command "'$W' --kernels 1"
expect_rc 0 "$G" fn ls --json
json '[f["command"] for f in j["functions"] if f["name"] == "quoted"][0]' "$TEST_TMP/out" |
    grep -q "\['$W', '--kernels', '1'\]" || fail "--command split: $(cat "$TEST_TMP/out")"

# ls: the table and the JSON of the API
expect_rc 0 "$G" fn ls
grep -Eq '^NAME +OWNER +WORKERS' "$TEST_TMP/out" || fail "ls header: $(cat "$TEST_TMP/out")"
grep -Eq '^spin +[^ ]+ +0/0 +0-2 +2 ' "$TEST_TMP/out" || fail "ls row: $(cat "$TEST_TMP/out")"
expect_rc 0 "$G" fn ls --json
[ "$(json '[(f["max_workers"], f["idle_timeout_s"], f["timeout_s"], f["max_body_bytes"])
          for f in j["functions"] if f["name"] == "spin"][0]' "$TEST_TMP/out")" = \
    "(2, 30.0, 20.0, 65536)" ] || fail "ls --json: $(cat "$TEST_TMP/out")"

# call: the first one starts a worker (cold start); the worker's body on stdout
expect_rc 0 "$G" fn call spin --data '{"kernel_us": 2000}'
[ "$(json 'j["kernels"], j["kernel_us"]' "$TEST_TMP/out")" = "(2, 2000)" ] ||
    fail "call body: $(cat "$TEST_TMP/out")"
# -v: status and the X-Gpuplex-* headers on stderr; the body from stdin
echo '{"kernels": 1}' >"$TEST_TMP/body.json"
expect_rc 0 "$G" fn call -v spin <"$TEST_TMP/body.json"
grep -q '^< HTTP 200' "$TEST_TMP/err" || fail "-v: $(cat "$TEST_TMP/err")"
grep -Eq '^< X-Gpuplex-Request-Id: .+' "$TEST_TMP/err" || fail "-v request id"
grep -Eq '^< X-Gpuplex-Queue-Ms: [0-9.]+$' "$TEST_TMP/err" || fail "-v queue ms"
grep -Eq '^< X-Gpuplex-Gpu-Ms: [0-9.]+$' "$TEST_TMP/err" || fail "-v gpu ms"
[ "$(json 'j["kernels"]' "$TEST_TMP/out")" = 1 ] || fail "stdin body: $(cat "$TEST_TMP/out")"
# --json: one object; --data-file
expect_rc 0 "$G" fn call --json spin --data-file "$TEST_TMP/body.json"
[ "$(json 'j["status"], j["content_type"], j["body"]["kernels"], j["request_id"] != ""' \
    "$TEST_TMP/out")" = "(200, 'application/json', 1, True)" ] || fail "--json: $(cat "$TEST_TMP/out")"
# the worker's own statuses come through, with their exit statuses
expect_rc 2 "$G" fn call spin --data '{"kernels": -1}'
grep -q 'must be a whole number' "$TEST_TMP/out" || fail "400 body: $(cat "$TEST_TMP/out")"
expect_err 'spin answered 400'
expect_rc 1 "$G" fn call spin --data '{"status": 503, "kernels": 0}'
expect_err 'spin answered 503'
# gpuplexd's: unknown function 404 (5), a body over --max-body 413 (2)
expect_rc 5 "$G" fn call nosuch --data '{}'
head -c 70000 /dev/zero | tr '\0' ' ' >"$TEST_TMP/big"
expect_rc 2 "$G" fn call spin --data-file "$TEST_TMP/big"
expect_err 'spin answered 413'

# a tenant calls; creating and removing are the admin's
"$G" tenant add alice >"$TEST_TMP/alice.token" 2>/dev/null
alice() { GPUPLEX_TOKEN=$(cat "$TEST_TMP/alice.token") "$@"; }
expect_rc 0 alice "$G" fn call spin --data '{"kernels": 1}'
expect_rc 0 alice "$G" fn ls
grep -q '^spin ' "$TEST_TMP/out" || fail "alice's ls: $(cat "$TEST_TMP/out")"
# the bill: alice sees her one call of spin only, priced 0.5 per request + 2 per GPU-second
expect_rc 0 alice "$G" usage --json
[ "$(json '[(f["tenant"], f["function"], f["requests"], abs(f["bill"] - 0.5 - 2 * f["gpu_seconds"]) < 1e-6)
          for f in j["functions"]]' "$TEST_TMP/out")" = "[('alice', 'spin', 1, True)]" ] ||
    fail "alice's usage: $(cat "$TEST_TMP/out")"
expect_rc 0 "$G" usage
grep -Eq '^alice +spin +1 ' "$TEST_TMP/out" || fail "usage table: $(cat "$TEST_TMP/out")"
expect_rc 10 alice "$G" fn create --name mine --mode vgpu --memory 1G -- "$W"
expect_rc 10 alice "$G" fn rm spin

# logs: the worker's stderr (its ready line)
expect_rc 0 "$G" fn logs spin
grep -q 'fn-worker: ready on' "$TEST_TMP/out" || fail "logs: $(cat "$TEST_TMP/out")"
expect_rc 0 "$G" fn logs --json --tail 5 spin
[ "$(json 'j["function"]' "$TEST_TMP/out")" = spin ] || fail "logs --json: $(cat "$TEST_TMP/out")"
expect_rc 5 "$G" fn logs nosuch

# rm: gone from ls, calls 404; several names at once
expect_rc 0 "$G" fn rm spin echo2 quoted
[ "$(cat "$TEST_TMP/out")" = "spin
echo2
quoted" ] || fail "rm printed: $(cat "$TEST_TMP/out")"
expect_rc 0 "$G" fn ls --json
[ "$(json 'len(j["functions"])' "$TEST_TMP/out")" = 0 ] || fail "after rm: $(cat "$TEST_TMP/out")"
expect_rc 5 "$G" fn call spin </dev/null
expect_rc 5 "$G" fn rm spin
echo ok
