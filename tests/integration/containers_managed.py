"""Managed containers (POST/GET/DELETE /v1/containers, `gpuplex container`) with real podman
on the simulated node containers_managed.sh set up: a tenant runs one (gpuplex-burn under a
vgpu lease, then sleep), reads its logs, sees only its own; a replica killed with SIGKILL is
started again under the same lease; an image outside container_images is refused with 403; a
container that exits releases its lease; gpuplexd restarted leaves its containers running
and re-attaches; DELETE stops them and releases the leases (a second DELETE is 404).
Also: restart on-failure gives up after 5 restarts, across a gpuplexd restart in the middle
of a backoff, with 2 replicas; a replica whose lease a tenant releases by hand is stopped and
says why; GET shows the lease's usage; a container created while the supervisor's podman ps
runs is not taken for one removed outside gpuplexd."""
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

# restart on-failure gives up after 5 restarts (backoff 1+2+4+8+16 s): 2 replicas that always
# fail, started now and checked at the end (gpuplexd is restarted in the middle of a backoff)
fbody = {"image": IMAGE, "command": ["sh", "-c", "echo try; exit 1"], "restart": "on-failure",
         "lease": {"mode": "vgpu", "memory": "1G"}, "replicas": 2}
fid = expect(d.post("/v1/containers", fbody, token=A), 201, what="POST failing").json["id"]
t_fail = time.monotonic()


def logs_of(cont, token=A):
    r = d.get("/v1/containers/%s/logs?tail=50" % cont, token=token)
    return r.json["logs"] if r.status == 200 else ""


def logs(token=A):
    return logs_of(cid, token)


out = wait_for("burn-ok in the logs", lambda: "burn-ok hello-from-env" in logs() and logs())
check("refused=0" in out or "burn-ok" in out, out)
# GET shows the lease's usage: the 512 MiB the burn allocated inside
u = expect(d.get("/v1/containers/" + cid, token=A), 200).json["instances"][0]["usage"]
check(u and u["peak_bytes"] >= 512 << 20 and "gpu_seconds" in u, "usage: %r" % u)
p = cli("container", "logs", cid, env={"GPUPLEX_SERVER": d.sock, "GPUPLEX_TOKEN": A})
check("burn-ok hello-from-env" in p.stdout, "container logs: %r" % p.stdout)

# tenants see only their own
expect(d.get("/v1/containers/" + cid, token=B), 404, "NOT_FOUND", what="B gets A's")
expect(d.get("/v1/containers/%s/logs" % cid, token=B), 404, "NOT_FOUND", what="B's logs")
expect(d.delete("/v1/containers/" + cid, token=B), 404, "NOT_FOUND", what="B deletes A's")
check(expect(d.get("/v1/containers", token=B), 200).json == [], "B lists A's container")
check({x["id"] for x in expect(d.get("/v1/containers", token=A), 200).json} == {cid, fid},
      "A's list")
check({x["id"] for x in expect(d.get("/v1/containers"), 200).json} == {cid, fid},
      "the admin's list")
p = cli("container", "ls", "--json", env={"GPUPLEX_SERVER": d.sock, "GPUPLEX_TOKEN": B})
check(p.stdout.strip() == "[]", "container ls as B: %r" % p.stdout)

# images outside the allow-list: 403
for img in ("docker.io/library/alpine", "localhost/gpx-mc2", "registry.example.com/other"):
    expect(d.post("/v1/containers", dict(body, image=img), token=A), 403, "PERM",
           "container_images", what="image " + img)
expect(d.post("/v1/containers", dict(body, replicas=0), token=A), 400, "INVALID", "replicas")
expect(d.post("/v1/containers", dict(body, lease={"mode": "vgpu"}), token=A), 400, "INVALID",
       "field 'lease'")
r = expect(d.post("/v1/containers", dict(body, lease="vgpu"), token=A), 400, "INVALID")
check(r.error()["message"] == "field 'lease' must be an object as POST /v1/leases takes", repr(r))
expect(d.post("/v1/containers", dict(body, restart="always"), token=A), 400, "INVALID",
       'field \'restart\' must be "no" or "on-failure"')
# the leases are the tenant's: its max_leases applies to the replicas, all or none
C = expect(d.post("/v1/tenants", {"name": "team-c", "max_leases": 1}), 201).json["token"]
expect(d.post("/v1/containers", dict(body, replicas=2), token=C), 409, "NO_SPACE", "max_leases",
       what="2 replicas for a tenant of max_leases 1")
check([l for l in expect(d.get("/v1/leases", token=C), 200).json if l["state"] == "active"] == [],
      "a refused container left leases")
check(expect(d.get("/v1/containers", token=C), 200).json == [], "a refused container is listed")
p = cli("container", "run", "--replicas", "17", IMAGE, expect_rc=2,
        env={"GPUPLEX_SERVER": d.sock, "GPUPLEX_TOKEN": A})
check("--replicas takes a number from 1 to 16" in p.stderr, p.stderr)

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

# gpuplexd restarted: the container keeps running, and is re-attached; a failing replica
# waiting for its restart (backoff) is restarted by the next gpuplexd


def backing_off():
    i = expect(d.get("/v1/containers/" + fid, token=A), 200).json["instances"]
    return i if i[0]["state"] == "restarting" and i[0]["restarts"] >= 1 else None


wait_for("a failing replica in its backoff", backing_off, 30)
d.stop()
check(podman("inspect", "--format", "{{.State.Status}}", name) == "running",
      "the container stopped with gpuplexd")
d.start()
c2 = expect(d.get("/v1/containers/" + cid, token=A), 200).json
i2 = c2["instances"][0]
check(i2["state"] == "running" and i2["lease"] == lid and i2["restarts"] == 1, repr(i2))
check(i2.get("lease_state") == "active", repr(i2))
check({x["id"] for x in expect(d.get("/v1/containers", token=A), 200).json} == {cid, sid, fid},
      "re-attached list")
time.sleep(2)  # a supervisor tick of the new daemon: still running, not restarted again
i2 = expect(d.get("/v1/containers/" + cid, token=A), 200).json["instances"][0]
check(i2["state"] == "running" and i2["restarts"] == 1, repr(i2))

p = cli("container", "ls", env={"GPUPLEX_SERVER": d.sock, "GPUPLEX_TOKEN": A})
row = [ln.split() for ln in p.stdout.splitlines() if ln.startswith(cid)]
check(len(row) == 1 and row[0][4:8] == ["running", "137", "1", lid], "container ls: %r" % p.stdout)

# kill -9 of gpuplexd: the same (the records are durable before podman runs)
d.kill()
check(podman("inspect", "--format", "{{.State.Status}}", name) == "running",
      "the container stopped with a killed gpuplexd")
d.start()
i2 = expect(d.get("/v1/containers/" + cid, token=A), 200).json["instances"][0]
check(i2["state"] == "running" and i2["lease"] == lid and i2["lease_state"] == "active", repr(i2))

# a replica whose lease the tenant releases by hand is stopped (not restarted), and says why
h = expect(d.post("/v1/containers", dict(body, command=["sleep", "1000"]), token=A), 201).json
hid, hl = h["id"], h["instances"][0]["lease"]
expect(d.delete("/v1/leases/" + hl, token=A), 200, what="the tenant releases its replica's lease")
t0 = time.monotonic()


def stopped():
    i = expect(d.get("/v1/containers/" + hid, token=A), 200).json["instances"][0]
    return i if i["state"] == "stopped" and i["exit_code"] is not None else None


inst = wait_for("the replica of a released lease stopped", stopped, 30)
print("replica stopped %.1f s after its lease was released" % (time.monotonic() - t0))
check(hl in inst["reason"] and "released by team-a" in inst["reason"], repr(inst))
check(inst["released"] and inst["lease_state"] == "released" and inst["restarts"] == 0, repr(inst))
check(podman("inspect", "--format", "{{.State.Status}}", "gpuplex-%s-0" % hid) == "exited",
      "the container of a released lease still runs")
time.sleep(2)  # a supervisor tick later: on-failure did not start it again
inst = expect(d.get("/v1/containers/" + hid, token=A), 200).json["instances"][0]
check(inst["state"] == "stopped" and inst["restarts"] == 0, repr(inst))
expect(d.delete("/v1/containers/" + hid, token=A), 200, what="DELETE of a stopped one")

# the failing replicas: 5 restarts each, then exited with their last code, leases released


def gave_up():
    i = expect(d.get("/v1/containers/" + fid, token=A), 200).json["instances"]
    return i if all(x["state"] == "exited" for x in i) else None


insts = wait_for("on-failure giving up", gave_up, max(10, 150 - (time.monotonic() - t_fail)))
print("on-failure gave up %.1f s after the start (backoff 31 s)" % (time.monotonic() - t_fail))
for inst in insts:
    check(inst["restarts"] == 5 and inst["exit_code"] == 1 and inst["released"], repr(inst))
    check("after 5 restarts" in inst["reason"], repr(inst))
    check(expect(d.get("/v1/leases/" + inst["lease"], token=A), 200).json["state"] == "released",
          "the lease of a replica out of restarts")
check(insts[0]["lease"] != insts[1]["lease"], "2 replicas, one lease")
check(logs_of(fid).count("try") >= 2, "the failing replica's logs: %r" % logs_of(fid))
expect(d.delete("/v1/containers/" + fid, token=A), 200)

# DELETE stops and releases
r = expect(d.delete("/v1/containers/" + cid, token=A), 200, what="DELETE").json
check(r["instances"][0]["released"], repr(r))
expect(d.get("/v1/containers/" + cid, token=A), 404, "NOT_FOUND")
expect(d.delete("/v1/containers/" + cid, token=A), 404, "NOT_FOUND", what="a second DELETE")
check(expect(d.get("/v1/leases/" + lid, token=A), 200).json["state"] == "released",
      "DELETE released the lease")
ps = subprocess.run([os.environ["POD_WRAPPER"], "inspect", name], capture_output=True, text=True, timeout=60)
check(ps.returncode != 0, "podman still has %s after DELETE" % name)
p = cli("container", "rm", sid, env={"GPUPLEX_SERVER": d.sock, "GPUPLEX_TOKEN": A})
check(expect(d.get("/v1/containers", token=A), 200).json == [], "containers left")

# a container whose creation ends while the supervisor's `podman ps` runs is missing from that
# listing, and is not "gone from podman" for it: here podman ps answers 1.5 s after it looked,
# and containers are created 0.6 s apart, so some are made while a listing is in flight
d.stop()
slow = os.path.join(os.path.dirname(os.environ["POD_WRAPPER"]), "podman-slow-ps")
with open(slow, "w") as f:
    f.write('#!/bin/sh\ncase " $* " in *" ps "*)\n'
            '  out=$("%s" "$@"); rc=$?; sleep 1.5; printf "%%s\\n" "$out"; exit $rc;;\n'
            'esac\nexec "%s" "$@"\n' % (os.environ["POD_WRAPPER"], os.environ["POD_WRAPPER"]))
os.chmod(slow, 0o755)
d.args += ["--set", "podman=" + slow]
d.start()
made = []
for _ in range(4):
    made.append(expect(d.post("/v1/containers", dict(body, command=["sleep", "1000"]), token=A),
                       201, what="POST during a slow podman ps").json["id"])
    time.sleep(0.6)
time.sleep(4)  # two listings later
for x in made:
    inst = expect(d.get("/v1/containers/" + x, token=A), 200).json["instances"][0]
    check(inst["state"] == "running" and not inst["released"], "made during a listing: %r" % inst)
for x in made:
    expect(d.delete("/v1/containers/" + x, token=A), 200)
check(expect(d.get("/v1/containers", token=A), 200).json == [], "containers left")
d.stop()
log = d.log_text()
check("AddressSanitizer" not in log and "runtime error:" not in log, "gpuplexd: a sanitizer report")
print("ok")
