"""Helpers for the gpuplexd integration tests: start/stop/kill the real daemon
on a simulated node in the test's temporary directory, and talk HTTP to it over
its unix socket or TCP. Used by the daemon_*.py scripts (run from daemon_*.sh)."""
import atexit
import ctypes
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

BUILD = os.environ["BUILD_DIR"]
TMP = os.environ["TEST_TMP"]
GPXD = os.path.join(BUILD, "bin", "gpuplexd")
GPX = os.path.join(BUILD, "bin", "gpuplex")


_started = []


def _die_with_parent():
    # in the child before exec: SIGKILL when the test (its parent) dies, however it dies
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@atexit.register
def _reap():
    for p in _started:
        if p.poll() is None:
            p.kill()
            p.wait()


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sysfs_node(gpus, sysfs, state, *extra):
    """A simulated node with its fake sysfs tree (`gpuplex sim init --sysfs`)."""
    p = subprocess.run([GPX, "sim", "init", "--gpus", gpus, "--state", state, "--sysfs", sysfs,
                        *extra], capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "sim init --sysfs: " + p.stderr)


def sim_kernel(sysfs):
    """Starts gpuplex-sim-kernel on a sysfs tree and waits until it answers; returns it."""
    ready = os.path.join(sysfs, ".kernel.ready")
    if os.path.exists(ready):
        os.unlink(ready)
    k = subprocess.Popen([os.path.join(BUILD, "lib", "sim", "gpuplex-sim-kernel"), "--sysfs",
                          sysfs], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while not os.path.exists(ready) and time.time() < deadline:
        time.sleep(0.02)
    check(os.path.exists(ready), "gpuplex-sim-kernel did not start on " + sysfs)
    return k


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.text = body.decode("utf-8", "replace")
        try:
            self.json = json.loads(self.text) if self.text else None
        except ValueError:
            self.json = None

    def error(self):
        return (self.json or {}).get("error", {})

    def __repr__(self):
        return "HTTP %d %s" % (self.status, self.text[:400])


class Daemon:
    """One gpuplexd with its own state dir, run dir and socket under `name`."""

    def __init__(self, name="d", gpus="2xH100-80GB", args=(), listen=False, base=TMP):
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "gpxd.sock")
        self.state = os.path.join(self.dir, "state")
        self.run = os.path.join(self.dir, "run")
        self.gpus = gpus
        self.args = list(args)
        self.port = free_port() if listen else None
        self.proc = None
        self.log = os.path.join(self.dir, "gpuplexd.log")
        self.starts = 0

    def cmd(self):
        c = [GPXD, "--sim", self.gpus, "--state-dir", self.state, "--run-dir", self.run,
             "--socket", self.sock] + self.args
        # the CDI spec in the test's directory, not the host's /var/run/cdi
        if not any("cdi_spec" in a for a in self.args):
            c += ["--set", "cdi_spec=" + os.path.join(self.dir, "cdi", "gpuplex.json")]
        if self.port:
            c += ["--listen", "127.0.0.1:%d" % self.port]
        return c

    def start(self, timeout=20):
        self.starts += 1
        logf = open(self.log, "a")
        self.proc = subprocess.Popen(self.cmd(), stdout=logf, stderr=logf,
                                     preexec_fn=_die_with_parent)
        _started.append(self.proc)
        logf.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                fail("gpuplexd exited with %d at start:\n%s" % (self.proc.returncode, self.tail()))
            try:
                if self.get("/healthz").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.02)
        fail("gpuplexd did not answer /healthz within %ds:\n%s" % (timeout, self.tail()))

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def tail(self, n=30):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                fail("gpuplexd did not stop on SIGTERM:\n" + self.tail())
            check(rc == 0, "gpuplexd exited %d on SIGTERM:\n%s" % (rc, self.tail()))
        self.proc = None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def request(self, method, path, body=None, token=None, tcp=False, raw=None, headers=None,
                timeout=30):
        if tcp:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        else:
            conn = UnixConnection(self.sock, timeout=timeout)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            h["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return Response(r.status, dict(r.getheaders()), r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def lease(self, body, token=None, expect=201, tcp=False):
        r = self.post("/v1/leases", body, token=token, tcp=tcp)
        check(r.status == expect, "POST /v1/leases %s: expected %d, got %r" % (body, expect, r))
        return r.json

    def regions(self):
        d = os.path.join(self.run, "leases")
        if not os.path.isdir(d):
            return set()
        return {f[:-len(".limits")] for f in os.listdir(d) if f.endswith(".limits")}



class NodeDaemon(Daemon):
    """gpuplexd on the node of GPUPLEX_SIM (the one a CDI spec the test wrote mounts), not a
    --sim of its own: the podman tests (podman_lib.sh sets POD_WRAPPER and GPUPLEX_CONFIG)."""

    def cmd(self):
        c = super().cmd()
        i = c.index("--sim")
        del c[i:i + 2]
        return c


def podman(*args, timeout=120):
    """podman through the test's wrapper (POD_WRAPPER: its private storage and namespace);
    stdout, stripped; fails the test on a non-zero exit."""
    p = subprocess.run([os.environ["POD_WRAPPER"]] + list(args), capture_output=True, text=True,
                       timeout=timeout)
    check(p.returncode == 0, "podman %s: %s" % (" ".join(args), p.stderr))
    return p.stdout.strip()


def expect(r, status, code=None, contains=None, what=""):
    check(r.status == status, "%s: expected HTTP %d, got %r" % (what, status, r))
    if code:
        check(r.error().get("code") == code, "%s: expected code %s, got %r" % (what, code, r))
    if contains:
        msg = r.error().get("message", r.text)
        check(contains in msg, "%s: message %r lacks %r" % (what, msg, contains))
    return r


def cli(*args, env=None, expect_rc=0):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([GPX] + list(args), capture_output=True, text=True, env=e, timeout=60)
    check(p.returncode == expect_rc, "gpuplex %s: exit %d, expected %d\nstdout: %s\nstderr: %s"
          % (" ".join(args), p.returncode, expect_rc, p.stdout, p.stderr))
    return p


def as_user(user, *argv):
    """argv run as the local user `user` (a name; None: as we are), groups cleared."""
    if user is None:
        return list(argv)
    import pwd
    pw = pwd.getpwnam(user)
    return ["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid),
            "--clear-groups"] + list(argv)


_POST_AS = r'''
import http.client, json, socket, sys
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[1])
c = C("localhost")
c.request("POST", sys.argv[2], body=sys.argv[3], headers={"Content-Type": "application/json"})
r = c.getresponse()
print(json.dumps({"status": r.status, "body": json.loads(r.read())}))
'''


def post_as(user, sock, path, body):
    """POSTs body to path over the unix socket as `user` (a tenant by uid): {status, body}."""
    p = subprocess.run(as_user(user, sys.executable, "-c", _POST_AS, sock, path, json.dumps(body)),
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "POST %s as %s: %s" % (path, user, p.stderr))
    return json.loads(p.stdout)


def expect_killed(p, since, within, what, tail=""):
    """Process p (a Popen) dies of SIGKILL within `within` seconds of `since` (monotonic)."""
    while time.monotonic() - since < within and p.poll() is None:
        time.sleep(0.01)
    check(p.poll() is not None, "%s: not killed within %.1fs\n%s" % (what, within, tail))
    check(p.returncode == -9, "%s: SIGKILL, got %r" % (what, p.returncode))


class Prometheus:
    """A real Prometheus server under TMP/prom, started with `config` as its prometheus.yml,
    its web API on a free local port. query(q) returns an instant query's result list;
    stop() ends it (SIGTERM, then SIGKILL after 30 s)."""

    def __init__(self, config):
        self.port = free_port()
        pdir = os.path.join(TMP, "prom")
        os.makedirs(pdir)
        cfg = os.path.join(pdir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(config)
        self.log = open(os.path.join(pdir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(["prometheus", "--config.file=" + cfg,
                                      "--storage.tsdb.path=" + os.path.join(pdir, "data"),
                                      "--web.listen-address=127.0.0.1:%d" % self.port],
                                     stdout=self.log, stderr=self.log,
                                     preexec_fn=_die_with_parent)
        _started.append(self.proc)

    def query(self, q):
        url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (self.port, urllib.parse.quote(q))
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)["data"]["result"]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
