"""An image function (docs/functions.md) with real podman on the simulated node fn_image.sh set
up: the first call cold-starts a container of the image (the lease's CDI device: its
environment, the interposer, the lease's memory quota inside), its socket reachable in a
bind-mounted directory of its own; the worker SIGKILLed mid-request gives that call 502 and the
next call a fresh container; a podman killed leaves no container behind; an idle worker is
stopped after idle_timeout_s, its container gone and its lease released; the container of a
killed gpuplexd is removed by the next one; DELETE ends all."""
import json
import os
import signal
import threading
import time

from gpxd import NodeDaemon as D, check, expect, fail, podman

CONF = os.environ["GPUPLEX_CONFIG"]
SPEC = os.path.join(os.environ["POD_CDI"], "gpuplex.json")
IMAGE = "localhost/gpx-fn"




def containers():
    return set(podman("ps", "-a", "--filter", "label=gpuplex.function=img",
                   "--format", "{{.Names}}").split())


def wait(cond, what, within=20):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    fail("%s: not within %ss\n%s" % (what, within, d.tail()))


def get_fn():
    return expect(d.get("/v1/functions/img"), 200, what="GET img").json


def ready():
    return [w for w in get_fn()["workers"] if w["state"] == "ready"]


def lease_state(lid):
    r = d.get("/v1/leases/" + lid)
    return r.json.get("state") if r.status == 200 else "missing"


def invoke(body, timeout=40):
    return d.request("POST", "/v1/functions/img/invoke", raw=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json"}, timeout=timeout)


d = D(args=["--config", CONF, "--set", "cdi_spec=" + SPEC, "--set", "watchdog=off"]).start()
expect(d.post("/v1/functions", {"name": "img", "image": "localhost/other",
                                "lease": {"mode": "vgpu", "memory": "1GiB"}}),
       400, contains="container_images", what="an image the node does not allow")
expect(d.post("/v1/functions", {"name": "img", "image": IMAGE, "idle_timeout_s": 3,
                                "lease": {"mode": "vgpu", "memory": "1GiB"}}),
       201, what="register the image function")

# --- cold start: a container of the image under the worker's lease ------------------------------
t0 = time.monotonic()
r = expect(invoke({"kernels": 2, "kernel_us": 2000}), 200, what="the first call (cold start)")
cold = time.monotonic() - t0
check(r.json["kernels"] == 2 and "H100" in r.json["device"], "the worker's answer: %r" % r.json)
print("image cold start %.0f ms (queue %s ms)" % (cold * 1e3, r.headers["X-Gpuplex-Queue-Ms"]))
w1 = get_fn()["workers"][0]
check(w1["state"] == "ready" and w1["container"].startswith("gpuplex-fn-img-1-"),
      "the worker is a named container: %r" % w1)
check(lease_state(w1["lease"]) == "active", "the worker's lease is active")
check(containers() == {w1["container"]}, "podman runs the worker's container: %r" % containers())
# inside: the lease's environment from its CDI device (the interposer, the leased GPU), the
# socket in a directory of its own (the only path of gpuplexd's the container sees)
pid1 = int(podman("inspect", "--format", "{{.State.Pid}}", w1["container"]))
with open("/proc/%d/environ" % pid1, "rb") as f:
    env = dict(kv.split("=", 1) for kv in f.read().decode().split("\0") if "=" in kv)
check(env.get("GPUPLEX_LEASE") == w1["lease"] and "libgpuplex-cuda" in env.get("LD_PRELOAD", ""),
      "the container has the lease's environment: %r" % env)
sock = env["GPUPLEX_WORKER_SOCKET"]
check(os.path.dirname(sock).endswith(".d") and env.get("GPUPLEX_FUNCTION") == "img" and
      env.get("GPUPLEX_WORKER_ID") == "img-1", "the worker's variables: %r" % env)
mounts = podman("inspect", "--format", "{{range .Mounts}}{{.Destination}} {{end}}", w1["container"])
check(os.path.dirname(sock) in mounts.split() and os.path.dirname(os.path.dirname(sock))
      not in mounts.split(), "only the worker's own socket directory is mounted: %s" % mounts)
# the lease's memory quota holds inside the container (1 GiB: 2 GiB is refused)
r = invoke({"kernels": 1, "alloc_mib": 2048})
check(r.status >= 400 and "OUT_OF_MEMORY" in r.text, "2 GiB on a 1 GiB lease: %d %s"
      % (r.status, r.text))
expect(invoke({"kernels": 1, "alloc_mib": 512}), 200, what="512 MiB on a 1 GiB lease")

# --- the worker SIGKILLed mid-request: 502, then a fresh container serves ------------------------
out = {}
t = threading.Thread(target=lambda: out.setdefault("r", invoke({"kernels": 1,
                                                                "kernel_us": 5000000})))
t.start()
wait(lambda: get_fn()["workers"][0]["in_flight"] == 1, "the long call in flight")
os.kill(pid1, signal.SIGKILL)
t.join(30)
check(not t.is_alive(), "the call whose worker was killed hangs")
expect(out["r"], 502, code="WORKER_FAILED", what="the call its worker died under")
r = expect(invoke({"kernels": 1}), 200, what="the next call (a fresh worker)")
w2 = ready()[0]
check(w2["container"] != w1["container"] and w2["lease"] != w1["lease"],
      "a fresh container under a fresh lease: %r" % w2)
wait(lambda: lease_state(w1["lease"]) == "released", "the killed worker's lease released")
wait(lambda: containers() == {w2["container"]}, "the killed worker's container removed")
check(get_fn()["restarts"] >= 1, "the crash is counted: %r" % get_fn())

# --- podman itself SIGKILLed: its container (which outlives it) is removed, a new one serves ---
os.kill(w2["pid"], signal.SIGKILL)
wait(lambda: w2["container"] not in containers(), "the container of a killed podman removed")
wait(lambda: lease_state(w2["lease"]) == "released", "the killed podman's lease released")
r = expect(invoke({"kernels": 1}), 200, what="a call after podman was killed")
w3 = ready()[0]

# --- idle: stopped after idle_timeout_s (SIGTERM through podman), container and lease gone -----
wait(lambda: get_fn()["workers"] == [], "the idle worker stopped")
wait(lambda: lease_state(w3["lease"]) == "released", "the idle worker's lease released")
wait(lambda: not containers(), "the idle worker's container removed", within=10)
lg = expect(d.get("/v1/functions/img/logs?tail=200"), 200).json
text = "\n".join(x["logs"] for x in lg["workers"])
check("idle for idle_timeout_s" in text, "the logs say why it stopped:\n" + text)

# --- gpuplexd killed: its podman dies with it, the container outlives both; the next gpuplexd
# removes it before it releases the old lease ---------------------------------------------------
expect(invoke({"kernels": 1}), 200, what="a call that starts a worker again")
w4 = ready()[0]
d.kill()
wait(lambda: not os.path.exists("/proc/%d" % w4["pid"]), "podman gone with gpuplexd")
check(containers() == {w4["container"]}, "the container outlives gpuplexd: %r" % containers())
d.start()
check(not containers(), "the restarted gpuplexd removed the container: %r" % containers())
check(lease_state(w4["lease"]) == "released", "the old worker's lease released")

# --- DELETE: the worker of a new call goes with its function ------------------------------------
expect(invoke({"kernels": 1}), 200, what="a call after the restart")
w4 = ready()[0]
expect(d.delete("/v1/functions/img"), 200, what="DELETE img")
wait(lambda: lease_state(w4["lease"]) == "released", "the removed function's lease released")
wait(lambda: not containers(), "the removed function's container gone", within=10)
d.stop()
print("ok")
