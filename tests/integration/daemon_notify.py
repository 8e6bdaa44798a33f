"""gpuplexd under Type=notify (packaging/gpuplexd.service.in), with this test in
systemd's place: a unix datagram socket at $NOTIFY_SOCKET. READY=1 comes from
gpuplexd itself (the pid NotifyAccess=main accepts) once its API socket answers:
a request sent the moment READY=1 arrives is answered at the first try. At SIGTERM,
STOPPING=1 comes before the clean exit. Without $NOTIFY_SOCKET nothing changes
(every other daemon_* test)."""
import os
import signal
import socket
import struct
import subprocess

from gpxd import Daemon, _die_with_parent, _started, check, fail

d = Daemon()
path = os.path.join(d.dir, "notify.sock")
ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ns.bind(path)
# the sender's credentials with each datagram, as systemd reads them
ns.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
ns.settimeout(20)


def receive(what):
    try:
        msg, anc, _, _ = ns.recvmsg(4096, socket.CMSG_SPACE(12))
    except socket.timeout:
        fail("no %s within 20s:\n%s" % (what, d.tail()))
    pid = None
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", data[:12])[0]
    return msg.decode(), pid


env = dict(os.environ, NOTIFY_SOCKET=path)
logf = open(d.log, "a")
proc = subprocess.Popen(d.cmd(), stdout=logf, stderr=logf, env=env, preexec_fn=_die_with_parent)
_started.append(proc)
logf.close()

msg, pid = receive("READY=1")
# answered at once: no retry, no wait between READY=1 and the request
r = d.get("/healthz")
check(r.status == 200, "READY=1 sent before the API answers: %r" % r)
check("READY=1" in msg.split("\n"), "the first notification is not READY=1: %r" % msg)
check(pid == proc.pid, "READY=1 came from pid %s, not gpuplexd's %d (NotifyAccess=main "
      "would ignore it)" % (pid, proc.pid))
check("ready" in d.tail(), "READY=1 before the log's ready line:\n" + d.tail())

proc.send_signal(signal.SIGTERM)
msg, pid = receive("STOPPING=1")
check("STOPPING=1" in msg.split("\n"), "at SIGTERM, got %r instead of STOPPING=1" % msg)
check(pid == proc.pid, "STOPPING=1 came from pid %s, not gpuplexd's %d" % (pid, proc.pid))
try:
    rc = proc.wait(timeout=20)
except subprocess.TimeoutExpired:
    fail("gpuplexd did not stop on SIGTERM:\n" + d.tail())
check(rc == 0, "gpuplexd exited %d on SIGTERM:\n%s" % (rc, d.tail()))
# nothing more: one READY=1, one STOPPING=1
ns.settimeout(0.2)
try:
    extra = ns.recv(4096)
    fail("unexpected notification after STOPPING=1: %r" % extra)
except socket.timeout:
    pass
print("ok: READY=1 once the API answers, STOPPING=1 at SIGTERM, both from gpuplexd's pid")
