"""Managed containers (POST/GET/DELETE /v1/containers, `gpuplex container`) with real podman
on the simulated node containers_managed.sh set up: a tenant runs one (gpuplex-burn under a
vgpu lease, then sleep), reads its logs, sees only its own; a replica killed with SIGKILL is
started again under the same lease; an image outside container_images is refused with 403; a
container that exits releases its lease; gpuplexd restarted leaves its containers running
and re-attaches; DELETE stops them and releases the leases."""
import os
import subprocess
import time

from gpxd import NodeDaemon as D, check, cli, expect, podman

CONF = os.environ["GPUPLEX_CONFIG"]
SPEC = os.path.join(os.environ["POD_CDI"], "gpuplex.json")
IMAGE = "localhost/gpx-mc"




def wait_for(what, fn, within=45):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.25)
    last = d.get("/v1/containers").text
    check(False, "%s: not within %ds (containers: %s)\n%s" % (what, within, last, d.tail()))


d = D(args=["--config", CONF, "--set", "cdi_spec=" + SPEC, "--set", "watchdog=off"]).start()
A = expect(d.post("/v1/tenants", {"name": "team-a"}), 201).json["token"]
B = expect(d.post("/v1/tenants", {"name": "team-b"}), 201).json["token"]

env = {"MARK": "hello-from-env"}
if os.environ.get("ASAN_OPTIONS"):
    env["ASAN_OPTIONS"] = os.environ["ASAN_OPTIONS"]
body = {
    "image": IMAGE,
    "command": ["sh", "-c", "gpuplex-burn --alloc-mib 512 --kernels 4 && echo burn-ok $MARK; "
                "exec sleep 1000"],
    "env": env,
    "lease": {"mode": "vgpu", "memory": "2G"},
    "restart": "on-failure",
}
t0 = time.monotonic()
c = expect(d.post("/v1/containers", body, token=A), 201, what="POST /v1/containers").json
print("POST /v1/containers took %.1f s" % (time.monotonic() - t0))
cid = c["id"]
check(c["tenant"] == "team-a" and c["image"] == IMAGE and c["replicas"] == 1, repr(c))
inst = c["instances"][0]
lid = inst["lease"]
check(inst["state"] == "running" and inst["restarts"] == 0, repr(inst))
lease = expect(d.get("/v1/leases/" + lid, token=A), 200).json
check(lease["state"] == "active" and lease["tenant"] == "team-a", repr(lease))
check(lease["labels"].get("gpuplex.managed") == cid, repr(lease["labels"]))
name = "gpuplex-%s-0" % cid
check(podman("inspect", "--format", "{{.State.Status}}", name) == "running", "podman: not running")


def logs(token=A):
    r = d.get("/v1/containers/%s/logs?tail=50" % cid, token=token)
    return r.json["logs"] if r.status == 200 else ""


out = wait_for("burn-ok in the logs", lambda: "burn-ok hello-from-env" in logs() and logs())
check("refused=0" in out or "burn-ok" in out, out)
p = cli("container", "logs", cid, env={"GPUPLEX_SERVER": d.sock, "GPUPLEX_TOKEN": A})
check("burn-ok hello-from-env" in p.stdout, "container logs: %r" % p.stdout)

# tenants see only their own
expect(d.get("/v1/containers/" + cid, token=B), 404, "NOT_FOUND", what="B gets A's")
expect(d.get("/v1/containers/%s/logs" % cid, token=B), 404, "NOT_FOUND", what="B's logs")
expect(d.delete("/v1/containers/" + cid, token=B), 404, "NOT_FOUND", what="B deletes A's")
check(expect(d.get("/v1/containers", token=B), 200).json == [], "B lists A's container")
check([x["id"] for x in expect(d.get("/v1/containers", token=A), 200).json] == [cid], "A's list")
check([x["id"] for x in expect(d.get("/v1/containers"), 200).json] == [cid], "the admin's list")
p = cli("container", "ls", "--json", env={"GPUPLEX_SERVER": d.sock, "GPUPLEX_TOKEN": B})
check(p.stdout.strip() == "[]", "container ls as B: %r" % p.stdout)

# images outside the allow-list: 403
for img in ("docker.io/library/alpine", "localhost/gpx-mc2", "registry.example.com/other"):
    expect(d.post("/v1/containers", dict(body, image=img), token=A), 403, "PERM",
           "container_images", what="image " + img)
expect(d.post("/v1/containers", dict(body, replicas=0), token=A), 400, "INVALID", "replicas")
expect(d.post("/v1/containers", dict(body, lease={"mode": "vgpu"}), token=A), 400, "INVALID",
       "field 'lease'")

# a replica killed with SIGKILL is started again under its lease
pid = int(podman("inspect", "--format", "{{.State.Pid}}", name))
os.kill(pid, 9)


def restarted():
    i = expect(d.get("/v1/containers/" + cid, token=A), 200).json["instances"][0]
    return i if i["restarts"] == 1 and i["state"] == "running" else None


t0 = time.monotonic()
inst = wait_for("restart after SIGKILL", restarted, 30)
print("restarted %.1f s after SIGKILL" % (time.monotonic() - t0))
check(inst["lease"] == lid and inst["exit_code"] == 137, repr(inst))
check(expect(d.get("/v1/leases/" + lid, token=A), 200).json["state"] == "active", "lease kept")
check(int(podman("inspect", "--format", "{{.State.Pid}}", name)) != pid, "the same pid runs")

# a container that exits (restart no) releases its lease; one made with the CLI
p = cli("container", "run", "--mode", "vgpu", "--memory", "1G", "--replicas", "2", "--env",
        "X=1", IMAGE, "sh", "-c", "echo short; exit 3",
        env={"GPUPLEX_SERVER": d.sock, "GPUPLEX_TOKEN": A})
sid = p.stdout.strip()
check(sid.startswith("c-"), "container run printed %r" % p.stdout)


def exited():
    i = expect(d.get("/v1/containers/" + sid, token=A), 200).json["instances"]
    return i if all(x["state"] == "exited" and x["released"] for x in i) else None


insts = wait_for("short container exited", exited, 30)
check(len(insts) == 2 and insts[0]["lease"] != insts[1]["lease"], "a lease per replica")
for inst in insts:
    check(inst["exit_code"] == 3 and inst["restarts"] == 0, repr(inst))
    check(expect(d.get("/v1/leases/" + inst["lease"], token=A), 200).json["state"] == "released",
          "the lease of an exited container is released")

# gpuplexd restarted: the container keeps running, and is re-attached
d.stop()
check(podman("inspect", "--format", "{{.State.Status}}", name) == "running",
      "the container stopped with gpuplexd")
d.start()
c2 = expect(d.get("/v1/containers/" + cid, token=A), 200).json
i2 = c2["instances"][0]
check(i2["state"] == "running" and i2["lease"] == lid and i2["restarts"] == 1, repr(i2))
check(i2.get("lease_state") == "active", repr(i2))
check({x["id"] for x in expect(d.get("/v1/containers", token=A), 200).json} == {cid, sid},
      "re-attached list")
time.sleep(2)  # a supervisor tick of the new daemon: still running, not restarted again
i2 = expect(d.get("/v1/containers/" + cid, token=A), 200).json["instances"][0]
check(i2["state"] == "running" and i2["restarts"] == 1, repr(i2))

p = cli("container", "ls", env={"GPUPLEX_SERVER": d.sock, "GPUPLEX_TOKEN": A})
row = [ln.split() for ln in p.stdout.splitlines() if ln.startswith(cid)]
check(len(row) == 1 and row[0][4:8] == ["running", "137", "1", lid], "container ls: %r" % p.stdout)

# DELETE stops and releases
r = expect(d.delete("/v1/containers/" + cid, token=A), 200, what="DELETE").json
check(r["instances"][0]["released"], repr(r))
expect(d.get("/v1/containers/" + cid, token=A), 404, "NOT_FOUND")
check(expect(d.get("/v1/leases/" + lid, token=A), 200).json["state"] == "released",
      "DELETE released the lease")
ps = subprocess.run([os.environ["POD_WRAPPER"], "inspect", name], capture_output=True, text=True, timeout=60)
check(ps.returncode != 0, "podman still has %s after DELETE" % name)
p = cli("container", "rm", sid, env={"GPUPLEX_SERVER": d.sock, "GPUPLEX_TOKEN": A})
check(expect(d.get("/v1/containers", token=A), 200).json == [], "containers left")
d.stop()
print("ok")
