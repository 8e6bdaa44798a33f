"""A hostile (and, for a few paths, well-behaved) HTTP server for the client
tests (client_hostile.sh): what it answers depends on the request's path.

    hostile_server.py tcp READY_FILE          127.0.0.1, a free port, written to READY_FILE
    hostile_server.py unix SOCKET READY_FILE  a unix socket; READY_FILE says it listens

Bounded: a connection that would hang (the client is expected to give up
first) waits at most HANG_S for the client to close; a drip stops after
DRIP_S; the whole server exits after LIFETIME_S even if nobody stops it.
A request with the token "as:PATH" is answered as a request for PATH."""
import json
import os
import socket
import socketserver
import struct
import sys
import threading
import time

HANG_S = 30
DRIP_S = 60
LIFETIME_S = 280
MIB = 1 << 20

conns = 0
conns_lock = threading.Lock()


def head(status, headers, reason="X"):
    lines = ["HTTP/1.1 %d %s" % (status, reason)] + headers
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(status, obj, extra=()):
    body = json.dumps(obj).encode()
    return head(status, ["Content-Type: application/json", "Content-Length: %d" % len(body)]
                + list(extra)) + body


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        global conns
        with conns_lock:
            conns += 1
            self.conn = conns
        self.nreq = 0
        self.buf = b""

    def read_request(self):
        """(method, path, headers, body), or None when the client closed."""
        while b"\r\n\r\n" not in self.buf:
            data = self.request.recv(65536)
            if not data:
                return None
            self.buf += data
        text, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = text.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            data = self.request.recv(65536)
            if not data:
                return None
            self.buf += data
        body, self.buf = self.buf[:n], self.buf[n:]
        return method, path, headers, body.decode("latin-1")

    def hang(self):
        """Keeps the connection open until the client closes it (or HANG_S)."""
        self.request.settimeout(HANG_S)
        try:
            while self.request.recv(65536):
                pass
        except OSError:
            pass

    def stream(self, piece, total):
        sent = 0
        while sent < total:
            self.request.sendall(piece)
            sent += len(piece)

    def handle(self):
        try:
            while True:
                req = self.read_request()
                if req is None:
                    return
                self.nreq += 1
                if not self.serve(*req):
                    return
        except OSError:  # the client gave up: expected for most paths
            pass

    def serve(self, method, path, headers, body):
        """Answers one request; False to end the connection (it closes)."""
        s = self.request
        # "Bearer as:PATH" answers every request as PATH, so that a real command (gpuplex
        # status), whatever it asks, gets the hostile answer
        auth = headers.get("authorization", "")
        if auth.startswith("Bearer as:"):
            path = auth[len("Bearer as:"):]
        # well-behaved answers, kept alive
        if path == "/ok":
            s.sendall(answer(200, {"ok": True, "conn": self.conn, "req": self.nreq}))
            return True
        if path == "/ok-chunked":
            data = json.dumps({"ok": True, "conn": self.conn, "req": self.nreq}).encode()
            s.sendall(head(200, ["Content-Type: application/json",
                                 "Transfer-Encoding: chunked"])
                      + b"%x\r\n%s\r\n" % (len(data[:5]), data[:5])
                      + b"%x\r\n%s\r\n" % (len(data[5:]), data[5:]) + b"0\r\n\r\n")
            return True
        if path == "/echo":
            s.sendall(answer(200, {"method": method, "body": body,
                                   "auth": headers.get("authorization", ""),
                                   "type": headers.get("content-type", ""),
                                   "conn": self.conn, "req": self.nreq}))
            return True
        if path == "/stale":  # answers as if kept alive, then closes
            s.sendall(answer(200, {"ok": True, "conn": self.conn, "req": self.nreq}))
            return False
        if path == "/drop-reused":  # a kept-alive connection closed as the request arrives
            if self.nreq > 1:
                return False
            s.sendall(answer(200, {"ok": True, "conn": self.conn, "req": self.nreq}))
            return True
        if path == "/notfound":
            s.sendall(answer(404, {"error": {"code": "NOT_FOUND",
                                             "message": "no lease 'l-nope'"}}))
            return True
        if path == "/nospace":  # the name wins over the HTTP status
            s.sendall(answer(409, {"error": {"code": "NO_SPACE", "message": "does not fit"}}))
            return True
        if path == "/okcode":  # an error answer that claims "OK": by status instead
            s.sendall(answer(400, {"error": {"code": "OK", "message": "not ok"}}))
            return True
        if path == "/conflict-text":  # no JSON: by status
            msg = b"busy, try later"
            s.sendall(head(409, ["Content-Length: %d" % len(msg)]) + msg)
            return True
        # hostile answers: the client must give up cleanly, by itself
        if path == "/cl-huge":  # 2^63
            s.sendall(head(200, ["Content-Length: 9223372036854775808"]) + b"{}")
        elif path == "/cl-max":  # 2^63 - 1
            s.sendall(head(200, ["Content-Length: 9223372036854775807"]) + b"{}")
        elif path == "/cl-neg":
            s.sendall(head(200, ["Content-Length: -5"]) + b"{}")
        elif path == "/cl-overflow":  # 20 digits
            s.sendall(head(200, ["Content-Length: 99999999999999999999"]) + b"{}")
        elif path == "/cl-big":  # over the limit, said up front
            s.sendall(head(200, ["Content-Length: %d" % (100 * MIB)]) + b"{}")
        elif path == "/short":  # shorter than its Content-Length, then closes
            s.sendall(head(200, ["Content-Length: 100"]) + b'{"ok":')
            return False
        elif path == "/chunk-huge":  # 18 hex digits
            s.sendall(head(200, ["Transfer-Encoding: chunked"])
                      + b"ffffffffffffffffff\r\n{}")
        elif path == "/chunk-neg":
            s.sendall(head(200, ["Transfer-Encoding: chunked"]) + b"-5\r\n{}")
        elif path == "/chunk-minus2":  # issue 10 finding 3: once a heap overflow
            s.sendall(head(200, ["Transfer-Encoding: chunked"]) + b"-2\r\n{}")
        elif path == "/chunk-fffe":  # 2^64 - 2: negative as a signed size
            s.sendall(head(200, ["Transfer-Encoding: chunked"])
                      + b"fffffffffffffffe\r\n{}")
        elif path == "/chunk-2-fffd":  # a valid 2-byte chunk, then 2^64 - 3 (a double free)
            s.sendall(head(200, ["Transfer-Encoding: chunked"])
                      + b"2\r\n{}\r\nfffffffffffffffd\r\n" + b"x" * 64)
        elif path == "/chunk-garbage":
            s.sendall(head(200, ["Transfer-Encoding: chunked"]) + b"zz\r\n{}")
        elif path == "/chunk-big":  # a valid 2^63 - 1 chunk size, then data without end
            s.sendall(head(200, ["Transfer-Encoding: chunked"]) + b"7fffffffffffffff\r\n")
            self.stream(b"x" * MIB, 80 * MIB)
        elif path == "/big-chunked":  # 1 MiB chunks, past the limit
            s.sendall(head(200, ["Transfer-Encoding: chunked"]))
            self.stream(b"100000\r\n" + b"x" * MIB + b"\r\n", 80 * (MIB + 10))
            s.sendall(b"0\r\n\r\n")
        elif path == "/big-close":  # no length: the body ends at close, past the limit
            s.sendall(head(200, ["Connection: close"]))
            self.stream(b"x" * MIB, 80 * MIB)
            return False
        elif path == "/drip":  # a body that never ends, one byte at a time
            s.sendall(head(200, ["Content-Length: 1000000"]))
            end = time.monotonic() + DRIP_S
            while time.monotonic() < end:
                s.sendall(b"x")
                time.sleep(0.2)
            return False
        elif path == "/drip-headers":  # headers that never end
            s.sendall(b"HTTP/1.1 200 OK\r\n")
            end = time.monotonic() + DRIP_S
            while time.monotonic() < end:
                s.sendall(b"X")
                time.sleep(0.2)
            return False
        elif path == "/headers-endless":  # headers that never end, fast
            s.sendall(b"HTTP/1.1 200 OK\r\n")
            self.stream(b"X-Pad: " + b"a" * 1000 + b"\r\n", 1 << 30)
        elif path == "/midclose":  # closes in the middle of a chunk
            s.sendall(head(200, ["Transfer-Encoding: chunked"]) + b"40\r\n" + b'{"ok":tr')
            return False
        elif path == "/midreset":  # resets (RST) in the middle of the body
            s.sendall(head(200, ["Content-Length: 1000"]) + b'{"ok":tr')
            time.sleep(0.1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            return False
        elif path == "/garbage":  # not HTTP at all
            s.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\x00\xff\xfe garbage\r\n\r\n")
        elif path == "/empty":  # closes without a byte
            return False
        else:
            s.sendall(answer(404, {"error": {"code": "NOT_FOUND",
                                             "message": "no test path " + path}}))
            return True
        self.hang()
        return False


class TCP(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class Unix(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def ready(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def main():
    if sys.argv[1] == "tcp":
        srv = TCP(("127.0.0.1", 0), Handler)
        ready(sys.argv[2], str(srv.server_address[1]))
    else:
        srv = Unix(sys.argv[2], Handler)
        ready(sys.argv[3], "ready")
    threading.Timer(LIFETIME_S, lambda: os._exit(3)).start()
    srv.serve_forever()


main()
