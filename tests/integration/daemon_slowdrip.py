"""Slow senders (issue 10): header_timeout counts from the accept, not from the
last byte. A client that sends one header byte every 0.5 s is closed within
header_timeout + 1 s of connecting, on the unix socket and on TCP, while a
normal client is served meanwhile; a keep-alive connection that completed its
first request may idle past header_timeout (idle_timeout applies to it)."""
import select
import socket
import time

from gpxd import Daemon, check

HEADER_TIMEOUT = 2
DRIP = 0.5
# never complete: the headers would take 0.5 s a byte for far longer than the test waits
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: gpuplexd\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"
GET = b"GET /healthz HTTP/1.1\r\nHost: gpuplexd\r\n\r\n"

d = Daemon(listen=True, args=["--set", "header_timeout=%ds" % HEADER_TIMEOUT]).start()


def connect(tcp):
    if tcp:
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(d.sock)
    return s


def closed(s, wait):
    """Whether the daemon closes s (end of file or reset) within `wait` seconds."""
    r, _, _ = select.select([s], [], [], wait)
    if not r:
        return False
    try:
        return s.recv(4096, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def drip(tcp):
    """Seconds from connect until the daemon closes a connection fed one byte per DRIP
    seconds, or None if it is still open after header_timeout + 3 s."""
    s = connect(tcp)
    t0 = time.monotonic()
    try:
        for b in REQUEST:
            try:
                s.send(bytes([b]))
            except OSError:
                return time.monotonic() - t0
            if closed(s, DRIP):
                return time.monotonic() - t0
            if time.monotonic() - t0 > HEADER_TIMEOUT + 3:
                return None
            # meanwhile a normal client is served
            check(d.get("/healthz", tcp=tcp, timeout=5).status == 200,
                  "healthz during a slow drip (%s)" % ("tcp" if tcp else "unix"))
        return None
    finally:
        s.close()


def response(s):
    """One response on a kept-alive connection: its head and a Content-Length body."""
    out = b""
    while b"\r\n\r\n" not in out:
        b = s.recv(65536)
        if not b:
            return out
        out += b
    head, _, body = out.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":", 1)[1])
    while len(body) < n:
        b = s.recv(65536)
        if not b:
            break
        body += b
    return head + b"\r\n\r\n" + body


for tcp in (False, True):
    via = "tcp" if tcp else "unix"
    t = drip(tcp)
    check(t is not None, "a client sending a header byte every %.1fs kept its connection past "
          "header_timeout=%ds + 3s (%s)" % (DRIP, HEADER_TIMEOUT, via))
    print("%s: slow drip closed after %.2fs" % (via, t))
    check(HEADER_TIMEOUT - 0.5 <= t <= HEADER_TIMEOUT + 1,
          "a slow drip was closed after %.2fs, not within header_timeout=%ds + 1s (%s)"
          % (t, HEADER_TIMEOUT, via))

    # the deadline is the first request's: a kept-alive connection idles past it
    s = connect(tcp)
    try:
        s.sendall(GET)
        first = response(s)
        check(first.startswith(b"HTTP/1.1 200"), "first request (%s): %r" % (via, first[:80]))
        check(not closed(s, HEADER_TIMEOUT + 0.5),
              "a connection whose first request was served was closed at header_timeout (%s)"
              % via)
        s.sendall(GET)
        second = response(s)
        check(second.startswith(b"HTTP/1.1 200"), "second request after an idle wait (%s): %r"
              % (via, second[:80]))
    finally:
        s.close()

d.stop()
print("ok")
