# The example function worker (examples/fn-worker, docs/functions.md "The worker protocol") on
# its own, on the simulator, spoken to over its socket with curl: GET /ready is 503 while it
# loads and 200 after; POST /invoke runs the kernels it is asked for and answers JSON; bad
# bodies get 400 naming the field, oversize ones 413, other paths 404; requests run at once
# (its executors); SIGTERM stops it (exit 0, socket removed). docs/functions.md's
# Python worker answers the same protocol, run as printed there. Bounded: every curl
# has --max-time, the worker is stopped by its PID.
. "$SRC_DIR/tests/integration/lib.sh"
W=$BUILD_DIR/bin/gpuplex-fn-worker
[ -x "$W" ] || fail "$W not built"
"$BUILD_DIR/bin/gpuplex" sim init --gpus 1xH100-80GB --state "$GPUPLEX_SIM" >/dev/null
export GPUPLEX_DRIVER_DIR="$BUILD_DIR/lib/sim"
sock=$TEST_TMP/w.sock
wpid=
stop_worker() { [ -z "$wpid" ] || { kill "$wpid" 2>/dev/null || true; }; }
trap stop_worker EXIT

# c ARGS...: curl over the socket; the body in $TEST_TMP/body, the status printed.
c() { curl -s --max-time 20 --unix-socket "$sock" -o "$TEST_TMP/body" -w '%{http_code}' "$@"; }

# without the socket's name it says what sets it
expect_rc 2 env -u GPUPLEX_WORKER_SOCKET "$W"
expect_err 'GPUPLEX_WORKER_SOCKET is not set'
expect_rc 2 env GPUPLEX_WORKER_SOCKET="$sock" "$W" --load-ms x
expect_err 'load-ms takes a number'
expect_rc 2 env GPUPLEX_WORKER_SOCKET="$sock" "$W" --max-connections 0
expect_err 'max-connections takes a number from 1 to'

# loading takes 1.5 s here (--load-ms): /ready is 503 meanwhile, /invoke too
GPUPLEX_WORKER_SOCKET=$sock "$W" --load-ms 1500 --kernels 2 --kernel-us 500 2>"$TEST_TMP/worker.log" &
wpid=$!
i=0
until [ -S "$sock" ]; do
    i=$((i + 1))
    [ $i -lt 200 ] || fail "no socket after 10 s"
    sleep 0.05
done
[ "$(c http://w/ready)" = 503 ] || fail "/ready before loading: not 503: $(cat "$TEST_TMP/body")"
[ "$(c -d '{}' http://w/invoke)" = 503 ] || fail "/invoke before loading: not 503"
i=0
until [ "$(c http://w/ready)" = 200 ]; do
    i=$((i + 1))
    [ $i -lt 200 ] || { cat "$TEST_TMP/worker.log" >&2; fail "not ready after 10 s"; }
    sleep 0.05
done
[ "$(json 'j["ready"]' "$TEST_TMP/body")" = True ] || fail "/ready body: $(cat "$TEST_TMP/body")"
json 'j["device"]' "$TEST_TMP/body" | grep -q H100 || fail "/ready names no device"
grep -q "fn-worker: ready on $sock" "$TEST_TMP/worker.log" || fail "no ready line on stderr"

# an invocation: 3 kernels of 20 ms on the simulated engine, 16 MiB allocated
[ "$(c -d '{"kernels": 3, "kernel_us": 20000, "alloc_mib": 16}' http://w/invoke)" = 200 ] ||
    fail "invoke: $(cat "$TEST_TMP/body")"
b=$TEST_TMP/body
[ "$(json 'j["kernels"], j["kernel_us"], j["alloc_mib"]' "$b")" = "(3, 20000, 16)" ] ||
    fail "invoke echoes: $(cat "$b")"
[ "$(json 'j["gpu_ms"] >= 60 and j["wall_ms"] >= j["gpu_ms"]' "$b")" = True ] ||
    fail "3 x 20 ms kernels took less: $(cat "$b")"
[ "$(json 'j["pid"]' "$b")" = "$wpid" ] || fail "pid is not the worker's"
# an empty body: the defaults the flags set (2 kernels of 500 us)
[ "$(c -X POST http://w/invoke)" = 200 ] || fail "empty body: $(cat "$b")"
[ "$(json 'j["kernels"], j["kernel_us"]' "$b")" = "(2, 500)" ] || fail "defaults: $(cat "$b")"
# "status" is passed through as the answer's status
[ "$(c -d '{"status": 418, "kernels": 0}' http://w/invoke)" = 418 ] || fail "status 418"

# errors: 400 naming the field, 400 for non-JSON, 413 over 1 MiB, 404, 405
[ "$(c -d '{"kernels": -1}' http://w/invoke)" = 400 ] || fail "kernels -1 not 400"
grep -q '\\"kernels\\" must be a whole number from 0 to' "$b" || fail "400 body: $(cat "$b")"
[ "$(c -d '{"kernel_us": "fast"}' http://w/invoke)" = 400 ] || fail "kernel_us string not 400"
grep -q 'kernel_us' "$b" || fail "400 does not name kernel_us: $(cat "$b")"
[ "$(c -d 'not json' http://w/invoke)" = 400 ] || fail "non-JSON body not 400"
head -c 1100000 /dev/zero | tr '\0' ' ' >"$TEST_TMP/big"
[ "$(c --data-binary @"$TEST_TMP/big" http://w/invoke)" = 413 ] || fail "1.1 MB body not 413"
[ "$(c http://w/other)" = 404 ] || fail "/other not 404"
[ "$(c http://w/invoke)" = 405 ] || fail "GET /invoke not 405"

# 4 requests at once, each 400 ms of host work: together well under 4 x 400 ms, and one of
# them saw all 4 running (the executors: 8 by default)
t0=$(date +%s%N)
pids=
for k in 1 2 3 4; do
    curl -s --max-time 20 --unix-socket "$sock" -o "$TEST_TMP/par$k" \
        -d '{"kernels": 1, "kernel_us": 1000, "host_us": 400000}' http://w/invoke &
    pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 1400 ] || fail "4 concurrent 400 ms requests took $ms ms: serialized?"
max=0
for k in 1 2 3 4; do
    n=$(json 'j["concurrent"]' "$TEST_TMP/par$k") || fail "request $k: $(cat "$TEST_TMP/par$k")"
    [ "$n" -gt "$max" ] && max=$n
done
[ "$max" = 4 ] || fail "at most $max requests ran at once, expected 4"

# SIGTERM: exit 0, the socket removed, the count of invocations on stderr
kill "$wpid"
set +e
wait "$wpid"
rc=$?
set -e
wpid=
[ "$rc" = 0 ] || fail "worker exited $rc after SIGTERM"
[ ! -e "$sock" ] || fail "socket left behind"
grep -q 'stopping after 7 invocations' "$TEST_TMP/worker.log" ||
    { cat "$TEST_TMP/worker.log" >&2; fail "no stop line"; }

# --executors 2: 4 calls at once run 2 at a time (the others wait in the worker's queue)
GPUPLEX_WORKER_SOCKET=$sock "$W" --executors 2 2>"$TEST_TMP/worker2.log" &
wpid=$!
i=0
until [ "$(c http://w/ready)" = 200 ]; do
    i=$((i + 1))
    [ $i -lt 200 ] || { cat "$TEST_TMP/worker2.log" >&2; fail "--executors 2: not ready"; }
    sleep 0.05
done
t0=$(date +%s%N)
pids=
for k in 1 2 3 4; do
    curl -s --max-time 20 --unix-socket "$sock" -o "$TEST_TMP/ex$k" \
        -d '{"kernels": 0, "host_us": 300000}' http://w/invoke &
    pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -ge 590 ] || fail "4 calls of 300 ms on 2 executors took $ms ms: more than 2 at once?"
for k in 1 2 3 4; do
    [ "$(json 'j["concurrent"] <= 2' "$TEST_TMP/ex$k")" = True ] ||
        fail "--executors 2: $(cat "$TEST_TMP/ex$k")"
done
kill "$wpid"
wait "$wpid" || fail "worker exited $? after SIGTERM"
wpid=

# a driver that cannot load: exit 1, the reason on stderr
expect_rc 1 env GPUPLEX_WORKER_SOCKET="$sock" GPUPLEX_DRIVER_DIR="$TEST_TMP/nowhere" "$W"
expect_err 'cannot load .*nowhere/libcuda.so.1'
# the protocol in another language: docs/functions.md's Python worker, as printed there
python3 - "$SRC_DIR/docs/functions.md" >"$TEST_TMP/worker.py" <<'PY'
import re, sys
blocks = re.findall(r"```python\n(.*?)```", open(sys.argv[1]).read(), re.S)
assert len(blocks) == 1, "docs/functions.md: expected one python block, found %d" % len(blocks)
print(blocks[0])
PY
psock=$TEST_TMP/py.sock
GPUPLEX_WORKER_SOCKET=$psock python3 "$TEST_TMP/worker.py" 2>"$TEST_TMP/py.log" &
wpid=$!
i=0
until [ -S "$psock" ]; do
    i=$((i + 1))
    [ $i -lt 200 ] || { cat "$TEST_TMP/py.log" >&2; fail "the docs' Python worker made no socket"; }
    sleep 0.05
done
sock=$psock
[ "$(c http://w/ready)" = 200 ] || fail "Python worker /ready"
[ "$(c -d 'hello' http://w/invoke)" = 200 ] || fail "Python worker /invoke"
[ "$(json 'j["echo"]' "$TEST_TMP/body")" = hello ] || fail "Python worker: $(cat "$TEST_TMP/body")"
kill "$wpid"
wait "$wpid" 2>/dev/null || true
wpid=
echo ok
