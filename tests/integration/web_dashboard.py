"""The web dashboard (docs/monitoring.md, "Web dashboard"): gpuplexd on a simulated
2xH100 node with MIG on GPU 1 serves the page; its static files answer with their
content types and security headers, and no path leaves web_root (.., %2e%2e, a symlink
out, hidden files, unknown types); then headless Chromium (web_dashboard.mjs) logs in
with an admin token, sees both GPUs, a running gpuplex-burn lease, the MIG layout, and
releases a lease with the button; with a tenant's token it sees only that tenant's
leases. The screenshot is kept in the build tree (test-artifacts/web_dashboard.png)."""
import atexit
import json
import os
import shutil
import signal
import subprocess
import time

from gpxd import BUILD, GPX, TMP, Daemon, _die_with_parent, _started, check, expect

SRC = os.environ["SRC_DIR"]
WEB_TEST_DIR = os.environ["WEB_TEST_DIR"]  # node_modules/playwright-core (web_dashboard.sh)
BURN = os.path.join(BUILD, "bin", "gpuplex-burn")
ARTIFACTS = os.path.join(BUILD, "test-artifacts")
CSP = "default-src 'self'"

# a web_root of our own next to the shipped one: a symlink out of it must not be followed
root = os.path.join(TMP, "webroot")
shutil.copytree(os.path.join(BUILD, "share", "gpuplex", "web"), root)
with open(os.path.join(TMP, "secret.js"), "w") as f:
    f.write("secret\n")
os.symlink(os.path.join(TMP, "secret.js"), os.path.join(root, "escape.js"))
os.symlink("/etc", os.path.join(root, "etc"))
with open(os.path.join(root, ".hidden.js"), "w") as f:
    f.write("hidden\n")

d = Daemon(gpus="2xH100-80GB", listen=True,
           args=["--set", "web_root=" + root, "--set", "meter_interval=500ms"]).start()


def web(path, method="GET"):
    return d.request(method, path, tcp=True)  # http.client sends the path as it is


# --- static files ----------------------------------------------------------------------
for path, ctype in (("/", "text/html; charset=utf-8"), ("/index.html", "text/html; charset=utf-8"),
                    ("/web/app.js", "text/javascript; charset=utf-8"),
                    ("/web/style.css", "text/css; charset=utf-8"),
                    ("/web/uPlot.iife.min.js", "text/javascript; charset=utf-8"),
                    ("/web/favicon.svg", "image/svg+xml")):
    r = web(path)
    check(r.status == 200 and r.headers.get("Content-Type") == ctype, "%s: %r %r" % (path, r, r.headers))
    check(r.headers.get("Content-Security-Policy", "").startswith(CSP) and
          r.headers.get("X-Content-Type-Options") == "nosniff" and
          r.headers.get("Cache-Control") == "no-cache", "%s headers: %r" % (path, r.headers))
check("<script src=\"/web/app.js\"" in web("/").text, "the page loads app.js")
check(web("/web/app.js", "HEAD").status == 200, "HEAD")
r = web("/", "POST")
check(r.status == 405 and r.headers.get("Allow") == "GET, HEAD", "POST /: %r" % r)
for path in ("/web/../../../../etc/passwd", "/web/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
             "/web/..%2f..%2f..%2fetc%2fpasswd", "/web/escape.js", "/web/etc/passwd",
             "/web/.hidden.js", "/web/nope.js", "/web/CMakeLists.txt", "/web/", "/web//app.js",
             "/web/app.js/", "/web/./app.js"):
    r = web(path)
    want = 200 if path == "/web/" else 404
    check(r.status == want and "secret" not in r.text and "root:" not in r.text,
          "%s: %r" % (path, r))
r = web("/%2e%2e/%2e%2e/etc/passwd")
check(r.status == 404 and "root:" not in r.text, "/%2e%2e: " + repr(r))
check(web("/v1/gpus").status == 401, "the API still needs a token")
print("static files: ok")

# --- what the page must show -----------------------------------------------------------
admin = expect(d.post("/v1/tenants", {"name": "ops", "role": "admin"}), 201).json["token"]
tok_a = expect(d.post("/v1/tenants", {"name": "team-a"}), 201).json["token"]
tok_b = expect(d.post("/v1/tenants", {"name": "team-b"}), 201).json["token"]
expect(d.post("/v1/gpus/1/mig", {"enabled": True}), 200)
mig = d.lease({"mode": "mig", "mig_profile": "3g.40gb", "gpu": 1}, token=tok_b)
idle = d.lease({"mode": "timeslice", "memory": "4G", "gpu": 0}, token=tok_b)
# team-a's workload: 1 GiB held and kernels running under a timeslice lease (its arbiter
# counts the GPU time granted: the page's GPU-time share)
env = dict(os.environ, GPUPLEX_SERVER=d.sock, GPUPLEX_SIM=os.path.join(d.state, "node.sim"),
           GPUPLEX_TOKEN=tok_a)
burn = subprocess.Popen([GPX, "run", "--mode", "timeslice", "--memory", "2G", "--gpu", "0",
                         "--label", "job=burn", "--", BURN, "--alloc-mib", "1024",
                         "--duration-ms", "280000", "--kernel-ns", "2000000", "--sync-every", "1"],
                        env=env, stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent,
                        start_new_session=True)
_started.append(burn)


@atexit.register
def _kill_burn():
    # gpuplex run and the workload under it, however the test ends (the workload would
    # otherwise hold ctest's output pipe until its --duration-ms is over)
    try:
        os.killpg(burn.pid, signal.SIGKILL)
    except OSError:
        pass


busy = None
deadline = time.time() + 30
while time.time() < deadline and not busy:
    ls = [l for l in d.get("/v1/leases", token=tok_a).json if l["used_bytes"] == 1 << 30]
    busy = ls[0] if ls else None
    time.sleep(0.2)
check(busy is not None, "the burn lease holds 1 GiB: %r" % d.get("/v1/leases").json)

os.makedirs(ARTIFACTS, exist_ok=True)
shot = os.path.join(ARTIFACTS, "web_dashboard.png")
if os.path.exists(shot):
    os.unlink(shot)
spec = {"url": "http://127.0.0.1:%d/" % d.port, "admin_token": admin, "tenant_token": tok_a,
        "tenant": "team-a", "gpus": 2, "mig_gpu": 1, "mig_profile": "3g.40gb",
        "mig_lease": mig["id"], "admin_sees": [busy["id"], idle["id"], mig["id"]],
        "tenant_sees": [busy["id"]], "busy": busy["id"], "release": idle["id"],
        "screenshot": shot}
# beside its node_modules: an ES module finds playwright-core from its own directory
script = os.path.join(WEB_TEST_DIR, "web_dashboard.mjs")
shutil.copyfile(os.path.join(SRC, "tests", "integration", "web_dashboard.mjs"), script)
node_env = dict(os.environ, WEB_TEST=json.dumps(spec))
t0 = time.time()
p = subprocess.run(["node", script],
                   cwd=WEB_TEST_DIR, env=node_env, timeout=300, preexec_fn=_die_with_parent)
print("web_dashboard.mjs: exit %d in %.1f s" % (p.returncode, time.time() - t0))
check(p.returncode == 0, "the dashboard test failed (above); gpuplexd's log:\n" + d.tail())
check(os.path.getsize(shot) > 10000, "screenshot " + shot)
r = expect(d.get("/v1/leases/" + idle["id"]), 200).json
check(r["state"] == "released" and r["release_reason"] == "released by ops",
      "the button released the lease: %r" % r)
check(expect(d.get("/v1/leases/" + busy["id"]), 200).json["state"] == "active", "others stay")
burn.terminate()
burn.wait(timeout=30)
d.stop()
print("ok")
