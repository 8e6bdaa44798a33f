"""Request framing (issue 10, finding 11): a request whose body length is
ambiguous is answered 400 and its connection closed, over the unix socket and
TCP: two Content-Length headers (conflicting or equal), Content-Length with
Transfer-Encoding, a Transfer-Encoding other than chunked. What follows such a
request on the connection is never served (no smuggled second request), while
well-framed requests (Content-Length, chunked) still work."""
import json
import socket

from gpxd import Daemon, check

d = Daemon(listen=True).start()
check(d.post("/v1/tenants", {"name": "first"}).status == 201, "a first tenant")


def raw(data, tcp):
    """Sends `data` on a new connection; returns everything the daemon sends until it closes."""
    if tcp:
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(d.sock)
    try:
        s.sendall(data)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b
    except socket.timeout:
        return out + b"<no close within 10 s>"
    finally:
        s.close()


def tenant_req(headers, body):
    head = "POST /v1/tenants HTTP/1.1\r\nHost: gpuplexd\r\nContent-Type: application/json\r\n"
    return (head + "".join(h + "\r\n" for h in headers) + "\r\n").encode() + body


for tcp in (False, True):
    via = "tcp" if tcp else "unix"
    body = json.dumps({"name": "refused-" + via}).encode()
    smuggled = b"GET /v1/tenants HTTP/1.1\r\nHost: gpuplexd\r\n\r\n"
    cases = {
        "conflicting Content-Length": tenant_req(
            ["Content-Length: %d" % len(body), "Content-Length: 0"], body),
        "conflicting Content-Length, short first": tenant_req(
            ["Content-Length: 0", "Content-Length: %d" % len(body)], body),
        "equal Content-Length twice": tenant_req(
            ["Content-Length: %d" % len(body)] * 2, body),
        "Content-Length with Transfer-Encoding": tenant_req(
            ["Content-Length: %d" % len(body), "Transfer-Encoding: chunked"],
            b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)),
        "Transfer-Encoding gzip": tenant_req(["Transfer-Encoding: gzip"], body),
        "Transfer-Encoding twice": tenant_req(
            ["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
            b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)),
        "a list in Content-Length": tenant_req(
            ["Content-Length: %d, %d" % (len(body), len(body))], body),
        # the smuggling shape: a front end that takes the second length forwards a second
        # request inside this one's body
        "smuggled request": tenant_req(
            ["Content-Length: 0", "Content-Length: %d" % len(smuggled)], smuggled),
    }
    for what, data in cases.items():
        out = raw(data, tcp)
        check(out.startswith(b"HTTP/1.1 400 "),
              "%s (%s): expected 400, got %r" % (what, via, out[:300]))
        # (MHD itself may send its own 400 twice for a malformed Content-Length: still only 400s)
        check(out.count(b"HTTP/1.1 ") == out.count(b"HTTP/1.1 400 ") and b"200 OK" not in out and
              b"201 Created" not in out,
              "%s (%s): more than the 400 was served: %r" % (what, via, out))
        check(b"<no close" not in out,
              "%s (%s): the connection stayed open after 400" % (what, via))
        if b"application/json" in out:
            j = json.loads(out.split(b"\r\n\r\n", 1)[1])
            check(j["error"]["code"] == "INVALID" and "framing" in j["error"]["message"],
                  "%s (%s): error body %r" % (what, via, j))
    # nothing of the refused requests took effect
    check("refused-" + via not in [t["name"] for t in d.get("/v1/tenants").json],
          "a refused request ran (%s)" % via)

    # well-framed requests still work: one Content-Length, or chunked
    ob = json.dumps({"name": "ok-cl-" + via}).encode()
    out = raw(tenant_req(["Content-Length: %d" % len(ob), "Connection: close"], ob), tcp)
    if tcp:  # TCP callers need a token; 401 shows the request was read and routed
        check(out.startswith(b"HTTP/1.1 401 "), "Content-Length over tcp: %r" % out[:200])
    else:
        check(out.startswith(b"HTTP/1.1 201 "), "Content-Length: %r" % out[:300])
    cb = json.dumps({"name": "ok-te-" + via}).encode()
    out = raw(tenant_req(["Transfer-Encoding: chunked", "Connection: close"],
                         b"%x\r\n%s\r\n0\r\n\r\n" % (len(cb), cb)), tcp)
    check(out.startswith(b"HTTP/1.1 401 " if tcp else b"HTTP/1.1 201 "),
          "chunked (%s): %r" % (via, out[:300]))

names = [t["name"] for t in d.get("/v1/tenants").json]
check("ok-cl-unix" in names and "ok-te-unix" in names, "well-framed requests ran: %r" % names)
d.stop()
print("ok")
