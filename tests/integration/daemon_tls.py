"""TLS (issue 10, "tokens never cross a network in clear"): with tls_cert and
tls_key, gpuplexd's TCP listener serves HTTPS only; the CLI verifies it
against GPUPLEX_CA (or the system's store, which does not know the test's CA)
and its host name; curl agrees. gpuplexd refuses to start on a non-loopback
address in plain HTTP unless allow_plain_http says so, and refuses a half or
unreadable TLS configuration with a message that names the keys."""
import os
import socket
import subprocess
import sys
import time

from gpxd import GPXD, TMP, Daemon, check, cli, expect, free_port

pki = sys.argv[1]
CA, OTHER_CA = os.path.join(pki, "ca.pem"), os.path.join(pki, "other-ca.pem")
CERT, KEY = os.path.join(pki, "server.pem"), os.path.join(pki, "server.key")
TLS = ["--set", "tls_cert=" + CERT, "--set", "tls_key=" + KEY]

d = Daemon(listen=True, args=TLS).start()
check("listening on https://127.0.0.1:%d" % d.port in d.tail(), "no https in the log:\n" + d.tail())
tok = expect(d.post("/v1/tenants", {"name": "remote"}), 201).json["token"]
url = "https://127.0.0.1:%d" % d.port


def gpx(*args, server=url, ca=CA, expect_rc=0):
    env = {"GPUPLEX_SERVER": server, "GPUPLEX_TOKEN": tok}
    if ca:
        env["GPUPLEX_CA"] = ca
    else:
        env["GPUPLEX_CA"] = ""  # unset for the CLI: empty is as unset
    return cli(*args, env=env, expect_rc=expect_rc)


# the right CA: the CLI works over HTTPS
out = gpx("lease", "create", "--mode", "vgpu", "--memory", "1G").stdout.strip()
check(out.startswith("l-"), "lease create over https: %r" % out)
check(out in gpx("lease", "ls").stdout, "lease ls over https")
gpx("status")
# without the CA (the system's store does not know it), with another CA, or by a name the
# certificate is not for: exit 9, a message that says what to do
p = gpx("status", ca=None, expect_rc=9)
check("GPUPLEX_CA" in p.stderr and "certificate" in p.stderr, "no CA: %r" % p.stderr)
p = gpx("lease", "ls", ca=OTHER_CA, expect_rc=9)
check("not signed by GPUPLEX_CA" in p.stderr, "another CA: %r" % p.stderr)
p = gpx("status", server="https://localhost:%d" % d.port, expect_rc=9)
check("host name" in p.stderr, "a name the certificate is not for: %r" % p.stderr)
p = gpx("status", ca=os.path.join(pki, "missing.pem"), expect_rc=2)
check("GPUPLEX_CA" in p.stderr and "missing.pem" in p.stderr, "missing CA file: %r" % p.stderr)
# nothing in clear on the TLS port
gpx("status", server="http://127.0.0.1:%d" % d.port, expect_rc=9)
s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    first = s.recv(4096)
except OSError:
    first = b""
s.close()
check(b"200 OK" not in first and b"status" not in first, "plain HTTP on the TLS port: %r" % first)

# curl: with the CA yes, without no
hz = url + "/healthz"
r = subprocess.run(["curl", "-sS", "--cacert", CA, "-o", "/dev/null", "-w", "%{http_code}", hz],
                   capture_output=True, text=True, timeout=30)
check(r.returncode == 0 and r.stdout == "200", "curl --cacert: %r" % (r,))
r = subprocess.run(["curl", "-sS", "-o", "/dev/null", hz], capture_output=True, text=True,
                   timeout=30)
check(r.returncode == 60, "curl without the CA: %r" % (r,))
r = subprocess.run(["curl", "-sS", "--cacert", CA, "-H", "Authorization: Bearer " + tok,
                    url + "/v1/whoami"], capture_output=True, text=True, timeout=30)
check(r.returncode == 0 and '"remote"' in r.stdout, "curl whoami: %r" % (r,))
d.stop()


def start(*args, wait=20):
    """gpuplexd with `args` on a fresh state: (exit status or None if it serves, its output)."""
    n = start.n = getattr(start, "n", 0) + 1
    base = os.path.join(TMP, "s%d" % n)
    sock = os.path.join(base, "gpxd.sock")
    log = open(os.path.join(TMP, "s%d.log" % n), "w+")
    p = subprocess.Popen([GPXD, "--sim", "1xH100-80GB", "--state-dir", base + "/state",
                          "--run-dir", base + "/run", "--socket", sock,
                          "--set", "cdi_spec=" + base + "/cdi/gpuplex.json"] + list(args),
                         stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + wait
    while time.time() < deadline and p.poll() is None and not os.path.exists(sock):
        time.sleep(0.02)
    # the unix socket exists before the TCP/TLS listener starts: a listener that fails
    # exits just after it (on a loaded machine, well after), so give it a moment
    settle = time.time() + 1.0
    while time.time() < settle and p.poll() is None:
        time.sleep(0.02)
    rc = p.poll()
    p.terminate()
    p.wait(timeout=20)
    log.seek(0)
    return rc, log.read()


port = free_port()
anyaddr = "0.0.0.0:%d" % port
rc, out = start("--listen", anyaddr)
check(rc == 2 and "allow_remote" in out, "non-loopback without allow_remote: %r %s" % (rc, out))
rc, out = start("--listen", anyaddr, "--allow-remote")
check(rc == 2 and all(k in out for k in ("tls_cert", "tls_key", "allow_plain_http")),
      "non-loopback in plain HTTP: %r %s" % (rc, out))
rc, out = start("--listen", anyaddr, "--set", "allow_plain_http=true")
check(rc == 2 and "allow_remote" in out, "allow_plain_http without allow_remote: %r %s" % (rc, out))
rc, out = start("--listen", "127.0.0.1:%d" % port, "--set", "tls_cert=" + CERT)
check(rc == 2 and "tls_key" in out, "tls_cert alone: %r %s" % (rc, out))
rc, out = start("--set", "tls_cert=" + CERT, "--set", "tls_key=" + KEY)
check(rc == 2 and "listen" in out, "TLS without listen: %r %s" % (rc, out))
rc, out = start("--listen", "127.0.0.1:%d" % port, "--set", "tls_cert=" + CERT,
                "--set", "tls_key=" + os.path.join(pki, "missing.key"))
check(rc == 9 and "tls_key" in out and "missing.key" in out, "missing key: %r %s" % (rc, out))
rc, out = start("--listen", "127.0.0.1:%d" % port, "--set", "tls_cert=" + CERT,
                "--set", "tls_key=" + CA)
check(rc == 2 and "tls_cert" in out and "tls_key" in out, "not a key: %r %s" % (rc, out))
# with the explicit opt-in, or with TLS, a non-loopback address is served
rc, out = start("--listen", anyaddr, "--allow-remote", "--set", "allow_plain_http=true")
check(rc is None and "listening on http://" + anyaddr in out, "allow_plain_http: %r %s" % (rc, out))
rc, out = start("--listen", anyaddr, "--allow-remote", *TLS)
check(rc is None and "listening on https://" + anyaddr in out, "remote HTTPS: %r %s" % (rc, out))
print("ok")
