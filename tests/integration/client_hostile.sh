# The client (src/client/client.c) against a hostile server (hostile_server.py),
# over TCP (127.0.0.1, a free port) and over a unix socket: every hostile
# answer ends in a clean GPX_E_IO (gpx-test-client exits 9, *status 0), in
# bounded time, with no crash and no sanitizer report; good answers and
# error answers (code names mapped back) work on both, kept alive.
. "$SRC_DIR/tests/integration/lib.sh"
PROBE=$BUILD_DIR/tests/gpx-test-client
[ -x "$PROBE" ] || fail "$PROBE not built"
unset GPUPLEX_SERVER GPUPLEX_TOKEN GPUPLEX_TIMEOUT http_proxy HTTP_PROXY all_proxy ALL_PROXY

SERVER_PY=$SRC_DIR/tests/integration/hostile_server.py
python3 "$SERVER_PY" tcp "$TEST_TMP/tcp.ready" &
TCP_PID=$!
python3 "$SERVER_PY" unix "$TEST_TMP/h.sock" "$TEST_TMP/unix.ready" &
UNIX_PID=$!
trap 'kill "$TCP_PID" "$UNIX_PID" 2>/dev/null || :' EXIT
trap 'exit 143' INT TERM
i=0
until [ -s "$TEST_TMP/tcp.ready" ] && [ -s "$TEST_TMP/unix.ready" ]; do
    i=$((i + 1))
    [ "$i" -lt 100 ] || fail "hostile_server.py did not start"
    sleep 0.1
done
TCP=http://127.0.0.1:$(cat "$TEST_TMP/tcp.ready")
UNIX=unix:$TEST_TMP/h.sock

# probe RC TIMEOUT_S ARGS...: gpx-test-client ARGS with GPUPLEX_TIMEOUT=TIMEOUT_S exits RC
# (timeout(1) makes a hang exit 124); its output in $TEST_TMP/out.
probe() {
    want=$1
    export GPUPLEX_TIMEOUT="$2"
    shift 2
    expect_rc "$want" timeout 60 "$PROBE" "$@"
    unset GPUPLEX_TIMEOUT
}

# out_has TEXT: the last probe's output holds TEXT (a fixed string).
out_has() {
    grep -Fq -e "$1" "$TEST_TMP/out" || {
        cat "$TEST_TMP/out" >&2
        fail "output does not hold '$1'"
    }
}

# out_match ERE: the last probe's output matches ERE.
out_match() {
    grep -Eq -e "$1" "$TEST_TMP/out" || {
        cat "$TEST_TMP/out" >&2
        fail "output does not match '$1'"
    }
}

# took MIN MAX: the last request took MIN to MAX milliseconds.
took() {
    ms=$(sed -n 's/^rc=.* ms=\([0-9]*\) .*/\1/p' "$TEST_TMP/out" | tail -n 1)
    [ -n "$ms" ] && [ "$ms" -ge "$1" ] && [ "$ms" -le "$2" ] || {
        cat "$TEST_TMP/out" >&2
        fail "took ${ms:-?} ms, expected $1 to $2"
    }
}

# hostile PATH ERE: on both servers, GET PATH fails with GPX_E_IO, status 0, a message that
# names the server and matches ERE, well before GPUPLEX_TIMEOUT (20 s; the server would hang
# on for 30 s): the client gave up by itself.
hostile() {
    for srv in "$TCP" "$UNIX"; do
        probe 9 20 "$srv" GET "$1"
        out_has "rc=-1 status=0 code=IO "
        out_has "msg=cannot reach gpuplexd at $srv: "
        out_match "$2"
        took 0 10000
        echo "$1 ($srv): $(sed -n 's/^rc=.* msg=cannot reach gpuplexd at [^ ]*: //p' "$TEST_TMP/out")"
    done
}

hostile /cl-huge "answer larger than 64 MiB"    # Content-Length 2^63
hostile /cl-max "answer larger than 64 MiB"     # Content-Length 2^63 - 1
hostile /cl-overflow "answer larger than 64 MiB" # Content-Length of 20 digits
hostile /cl-neg "Invalid Content-Length"
hostile /cl-big "answer larger than 64 MiB" # 100 MiB, said up front
hostile /short "transfer closed with 94 bytes remaining"
hostile /chunk-huge "hexadecimal" # ffffffffffffffffff
hostile /chunk-neg "hexadecimal"
hostile /chunk-garbage "hexadecimal"
# issue 10 finding 3: the old hand-written client overflowed the heap (-2, 2^64 - 2) or freed
# twice (a 2-byte chunk, then 2^64 - 3) on these
hostile /chunk-minus2 "hexadecimal"
hostile /chunk-fffe "hexadecimal"
hostile /chunk-2-fffd "hexadecimal"
hostile /chunk-big "answer larger than 64 MiB" # a valid 2^63-1 chunk, then 80 MiB
hostile /big-chunked "answer larger than 64 MiB"
hostile /big-close "answer larger than 64 MiB" # no length, ends at close
hostile /headers-endless "answer headers larger than 64 KiB"
hostile /midclose "transfer closed"
hostile /midreset "Connection reset by peer|transfer closed" # no RST on a socket: a close
hostile /garbage "HTTP/0\.9"
hostile /empty "Empty reply from server"

# The real CLI on the same answers: the server answers every request of `gpuplex status` as
# PATH (the token "as:PATH"); exit 9, one clean line on stderr, nothing on stdout.
for p in /chunk-minus2 /chunk-fffe /chunk-2-fffd /chunk-neg /chunk-huge /cl-neg /cl-huge; do
    for srv in "$TCP" "$UNIX"; do
        expect_rc 9 env GPUPLEX_SERVER="$srv" GPUPLEX_TOKEN="as:$p" GPUPLEX_TIMEOUT=20 \
            timeout 60 "$BUILD_DIR/bin/gpuplex" status
        [ ! -s "$TEST_TMP/out" ] || fail "gpuplex status $p ($srv) printed: $(cat "$TEST_TMP/out")"
        [ "$(wc -l <"$TEST_TMP/err")" = 1 ] && expect_err "^gpuplex: cannot reach gpuplexd at $srv: " || {
            cat "$TEST_TMP/err" >&2
            fail "gpuplex status $p ($srv): not one clean error line"
        }
        echo "gpuplex status $p ($srv): $(cat "$TEST_TMP/err")"
    done
done

# A body (or headers) that never ends: stopped by GPUPLEX_TIMEOUT=3.
for p in /drip /drip-headers; do
    for srv in "$TCP" "$UNIX"; do
        probe 9 3 "$srv" GET "$p"
        out_has "rc=-1 status=0 code=IO "
        out_has "msg=cannot reach gpuplexd at $srv: Operation timed out after 3"
        took 2900 8000
        echo "$p ($srv): $(sed -n 's/^rc=.* msg=cannot reach gpuplexd at [^ ]*: //p' "$TEST_TMP/out")"
    done
done

# Nobody there: GPX_E_IO at once, with the hint.
probe 9 20 "$TEST_TMP/nobody.sock" GET /ok
out_has "msg=cannot reach gpuplexd at $TEST_TMP/nobody.sock: No such file or directory (is it"
probe 9 20 http://127.0.0.1:1 GET /ok
out_has "msg=cannot reach gpuplexd at http://127.0.0.1:1: Connection refused"
# What the client refuses to send, and a bad timeout.
probe 2 20 "$TCP" GET "/two words"
out_has "code=INVALID"
probe 2 0 "$TCP" GET /ok
out_has "code=USAGE ms=0 msg=invalid GPUPLEX_TIMEOUT"
probe 2 20 "http://user@127.0.0.1:1" GET /ok
out_has "code=USAGE"
# A token never goes over a network in clear: plain http:// to a host that is
# not loopback is refused before anything is sent (GPUPLEX_ALLOW_PLAIN_HTTP=1
# says a private network protects it); loopback is fine.
export GPUPLEX_TOKEN=gpx_secret
probe 2 20 http://192.0.2.1:7470 GET /ok
out_has "code=USAGE"
out_has "refusing to send GPUPLEX_TOKEN in clear to http://192.0.2.1:7470"
export GPUPLEX_ALLOW_PLAIN_HTTP=1
probe 9 1 http://192.0.2.1:7470 GET /ok
unset GPUPLEX_ALLOW_PLAIN_HTTP
probe 9 20 http://127.0.0.1:1 GET /ok
unset GPUPLEX_TOKEN

for srv in "$TCP" "$UNIX"; do
    # good answers, on one connection (Content-Length, then chunked)
    probe 0 20 -n 3 "$srv" GET /ok
    out_has 'body={"ok": true, "conn": '
    [ "$(grep -c '"req": ' "$TEST_TMP/out")" = 3 ] && out_has '"req": 3}' ||
        fail "$srv: 3 requests did not share one connection"
    probe 0 20 -n 2 "$srv" GET /ok-chunked
    out_has '"req": 2}'
    # the daemon closed a kept-alive connection: a new one, no error
    probe 0 20 -n 3 "$srv" GET /stale
    [ "$(grep -c '"req": 1}' "$TEST_TMP/out")" = 3 ] || fail "$srv: /stale"
    # ... even as the request arrived: libcurl resends it on a new connection
    probe 0 20 -n 2 "$srv" GET /drop-reused
    [ "$(grep -c '"req": 1}' "$TEST_TMP/out")" = 2 ] || fail "$srv: /drop-reused"
    # method, body, token
    export GPUPLEX_TOKEN=s3cret
    probe 0 20 "$srv" POST /echo '{"a":1}'
    unset GPUPLEX_TOKEN
    out_has '"method": "POST", "body": "{\"a\":1}", "auth": "Bearer s3cret", "type": "application/json"'
    probe 0 20 "$srv" DELETE /echo
    out_has '"method": "DELETE", "body": "", "auth": "", "type": ""'
    # error answers: the code name, else the HTTP status; never OK
    probe 5 20 "$srv" GET /notfound
    out_has "rc=-1 status=404 code=NOT_FOUND ms="
    out_has "msg=no lease 'l-nope'"
    probe 7 20 "$srv" GET /nospace
    out_has "rc=-1 status=409 code=NO_SPACE "
    probe 2 20 "$srv" GET /okcode
    out_has "rc=-1 status=400 code=INVALID "
    probe 6 20 "$srv" GET /conflict-text
    out_has "rc=-1 status=409 code=BUSY "
    out_has "msg=gpuplexd answered HTTP 409"
    echo "good answers ($srv): ok"
done

kill "$TCP_PID" "$UNIX_PID"
wait "$TCP_PID" "$UNIX_PID" 2>/dev/null || :
trap - EXIT
