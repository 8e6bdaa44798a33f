"""gpuplexd and MIG (docs/mig.md, "Leases through gpuplexd"), on a simulated
H100 80GB and A100 40GB: MIG enabled through the API (refused while a process
or a non-MIG lease holds the GPU); a mig lease of every profile up to its
maximum count on each GPU, one more refused with a message naming what
would still fit on which GPU; a released instance reused; POST demands and
layouts never destroying leased instances; API errors; the CLI's `mig ls` and
`mig apply` through the daemon; an instance lost while the daemon was down;
and the daemon killed between creating an instance and committing its lease
(GPUPLEXD_FAULT=after_mig_create) leaving no orphan instance and no active
lease after restart."""
import json
import os
import signal
import sqlite3
import subprocess

from gpxd import BUILD, TMP, Daemon, _die_with_parent, check, cli, expect

d = Daemon(gpus="1xH100-80GB,1xA100-40GB").start()
sim = os.path.join(d.state, "node.sim")
env = {"GPUPLEX_SERVER": d.sock, "GPUPLEX_SIM": sim}
# "behind the daemon's back": the engine in-process on a state of its own, same simulated node
direct = {"GPUPLEX_SERVER": "none", "GPUPLEX_SIM": sim,
          "GPUPLEX_STATE_DIR": os.path.join(TMP, "direct-state"),
          "GPUPLEX_RUN_DIR": os.path.join(TMP, "direct-run")}
MODELS = {0: "H100-80GB", 1: "A100-40GB"}


def mig(gpu, **kw):
    return expect(d.get("/v1/gpus/%d/mig" % gpu, **kw), 200, what="GET mig %d" % gpu).json


def post(gpu, body, status=200, code=None, contains=None):
    return expect(d.post("/v1/gpus/%d/mig" % gpu, body), status, code, contains,
                  what="POST mig %d %r" % (gpu, body))


def lease(profile, gpu=None):
    body = {"mode": "mig", "mig_profile": profile}
    if gpu is not None:
        body["gpu"] = gpu
    l = d.lease(body)
    m = l["mig"]
    check(l["env"]["CUDA_VISIBLE_DEVICES"] == m["uuid"] and m["uuid"].startswith("MIG-"),
          "a mig lease's workload sees its MIG device: %r" % l)
    return l


def refused(profile, gpu=None, status=409, code="NO_SPACE", contains=None):
    body = {"mode": "mig", "mig_profile": profile}
    if gpu is not None:
        body["gpu"] = gpu
    return expect(d.post("/v1/leases", body), status, code, contains,
                  what="lease %s on %r" % (profile, gpu)).error()["message"]


def release(l):
    expect(d.delete("/v1/leases/" + l["id"]), 200, what="release " + l["id"])


def ls_direct():
    return json.loads(cli("mig", "ls", "--json", env=direct).stdout)


def fits_text(g):
    """What the refusal message must say for GPU g (from its GET answer)."""
    parts = ["%s x%d" % (p["name"], p["available"]) for p in g["profiles"] if p["available"]]
    return "GPU %d (%s): %s" % (g["index"], g["model"], ", ".join(parts) or "nothing")


# --- MIG mode off ------------------------------------------------------------------------
msg = refused("3g.40gb")
check("needs a MIG-enabled GPU" in msg and "POST /v1/gpus/N/mig" in msg, "how to enable: " + msg)
msg = refused("3g.40gb", gpu=0)
check("MIG mode is disabled" in msg and "gpuplex mig apply" in msg, "named GPU: " + msg)
g = mig(0)
check(g["mig_mode"] == "disabled" and g["instances"] == [] and g["model"] == "H100-80GB" and
      all(p["free"] is None and p["available"] is None for p in g["profiles"]), "MIG off: %r" % g)
check([p["max_count"] for p in g["profiles"]] == [7, 1, 4, 3, 2, 1, 1], "H100 counts")

# --- API errors --------------------------------------------------------------------------
expect(d.get("/v1/gpus/9/mig"), 404, "NOT_FOUND", "no GPU '9'")
expect(d.get("/v1/gpus/GPU-nope/mig"), 404, "NOT_FOUND")
expect(d.get("/v1/gpus/0"), 404, "NOT_FOUND")
expect(d.get("/v1/gpus/0/mig/x"), 404, "NOT_FOUND")
r = expect(d.request("DELETE", "/v1/gpus/0/mig"), 405, "METHOD")
check(r.headers.get("Allow") == "GET, POST", "Allow: %r" % r.headers)
expect(d.get("/v1/gpus/%s/mig" % g["uuid"]), 200, what="GPU by UUID")
post(0, {}, 400, "INVALID", "nothing to do")
post(0, {"enabled": True, "size": 1}, 400, "INVALID", "unknown field 'size'")
post(0, {"enabled": "yes"}, 400, "INVALID", "true or false")
post(0, {"demand": {"3g.40gb": 65}, "enabled": True}, 400, "INVALID", "from 0 to 64")
post(0, {"demand": {}, "layout": {}}, 400, "INVALID", "not both")
post(0, {"enabled": False, "demand": {"3g.40gb": 1}}, 400, "INVALID", "takes no 'demand'")
post(0, {"demand": {"3g.40gb": 1}}, 409, "BUSY", '"enabled": true')
expect(d.post("/v1/gpus/0/mig", raw=b"{"), 400, "INVALID", "invalid JSON")
tok = expect(d.post("/v1/tenants", {"name": "team-a"}), 201).json["token"]
expect(d.post("/v1/gpus/0/mig", {"enabled": True}, token=tok), 403, "PERM", "admin role")
expect(d.get("/v1/gpus/0/mig", token=tok), 200, what="a tenant reads MIG state")
expect(d.get("/v1/gpus/0/mig", token="gpx_wrong"), 401, "UNAUTH")

# enabling MIG: refused while a non-MIG lease or a process holds the GPU; a dry run changes nothing
v = d.lease({"mode": "vgpu", "memory": "1G", "gpu": 0})
post(0, {"enabled": True}, 409, "BUSY", "vgpu lease %s" % v["id"])
release(v)
hog = subprocess.Popen([os.path.join(BUILD, "tests", "gpx-test-hog"), "--gpu", "0", "--mib", "16"],
                       stdout=subprocess.PIPE, env=dict(os.environ, GPUPLEX_SIM=sim),
                       preexec_fn=_die_with_parent)
check(hog.stdout.readline().startswith(b"ready"), "hog started")
post(0, {"enabled": True}, 409, "BUSY", "runs 1 process (pid %d)" % hog.pid)
hog.send_signal(signal.SIGKILL)
hog.wait()
r = post(0, {"enabled": True, "dry_run": True}).json
check(r["dry_run"] is True and r["actions"] == [{"action": "enable", "done": False}], "dry: %r" % r)
check(mig(0)["mig_mode"] == "disabled", "a dry run enabled MIG")
for gpu in (0, 1):
    r = post(gpu, {"enabled": True}).json
    check(r["actions"] == [{"action": "enable", "done": True}] and r["model"] == MODELS[gpu],
          "enable %d: %r" % (gpu, r))
    check(mig(gpu)["mig_mode"] == "enabled", "MIG on for GPU %d" % gpu)
check(post(0, {"enabled": True}).json["actions"] == [], "enabling again does nothing")
gg = expect(d.get("/v1/gpus"), 200).json
check([x["mig_mode"] for x in gg] == ["enabled", "enabled"], "/v1/gpus sees MIG mode at once")
expect(d.post("/v1/leases", {"mode": "vgpu", "memory": "1G", "gpu": 0}), 409, "NO_SPACE",
       "MIG mode")

# unknown profiles: 400 with the model's valid names
msg = refused("3g.20gb", gpu=0, status=400, code="INVALID")
check("for H100-80GB (valid: 1g.10gb, 1g.10gb+me, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb)"
      in msg, msg)
msg = refused("5g.50gb", status=400, code="INVALID")
check("GPU 0 (H100-80GB): 1g.10gb" in msg and "GPU 1 (A100-40GB): 1g.5gb, 1g.5gb+me" in msg, msg)
post(1, {"demand": {"3g.40gb": 1}}, 400, "INVALID", "for A100-40GB (valid: 1g.5gb")
refused("3g;40gb", status=400, code="INVALID", contains="MIG profile name")

# --- every profile up to its maximum count, then one more -------------------------------
for gpu in (0, 1):
    for p in mig(gpu)["profiles"]:
        name, n = p["name"], p["max_count"]
        got = [lease(name, gpu) for _ in range(n)]
        check(len({l["mig"]["uuid"] for l in got}) == n, "%s: distinct MIG devices" % name)
        check(all(l["gpu"]["index"] == gpu and l["mig"]["memory_bytes"] == p["memory_mib"] << 20
                  for l in got), "%s: GPU and memory" % name)
        g = mig(gpu)
        mine = [i for i in g["instances"] if i["profile"] == name]
        check(len(mine) == n and all(i["leased"] for i in mine) and
              {i["lease"] for i in mine} == {l["id"] for l in got},
              "%s x%d leased on GPU %d: %r" % (name, n, gpu, g["instances"]))
        check([q["available"] for q in g["profiles"] if q["name"] == name] == [0],
              "%s: none available" % name)
        msg = refused(name, gpu)
        other = mig(1 - gpu)
        check("no %s instance fits on GPU %d" % (name, gpu) in msg and fits_text(g) in msg and
              fits_text(other) in msg, "%s x%d: %s\nwant %s and %s" %
              (name, n + 1, msg, fits_text(g), fits_text(other)))
        if (gpu, name) == (0, "1g.10gb"):
            check("GPU 0 (H100-80GB): nothing" in msg, msg)
        if (gpu, name) == (0, "4g.40gb"):
            check("GPU 0 (H100-80GB): 1g.10gb x3, 1g.10gb+me x1, 1g.20gb x2, 2g.20gb x1, "
                  "3g.40gb x1" in msg, msg)
        for l in got:
            release(l)
    # the instances stay, free; the direct path (NVML) sees the same ones
    g = mig(gpu)
    check(g["instances"] and not any(i["leased"] for i in g["instances"]), "free instances")
    check([i["uuid"] for i in ls_direct()[gpu]["instances"]] ==
          [i["uuid"] for i in g["instances"]], "daemon and NVML agree")

# placement without a GPU: a profile only one model has goes there
p3, p1 = lease("3g.40gb"), lease("1g.5gb")
check(p3["gpu"]["index"] == 0 and p1["gpu"]["index"] == 1, "placement: %r %r" % (p3, p1))
release(p1)

# --- a released instance is reused --------------------------------------------------------
post(0, {"layout": {}})  # exact and empty: every unleased instance goes
post(1, {"layout": {}})
l1 = p3
n0 = len(mig(0)["instances"])
release(l1)
l2 = lease("3g.40gb")
check(l2["mig"]["uuid"] == l1["mig"]["uuid"] and l2["mig"]["created"] is False and
      len(mig(0)["instances"]) == n0, "reused: %r after %r" % (l2["mig"], l1["mig"]))
i = [x for x in mig(0)["instances"] if x["uuid"] == l2["mig"]["uuid"]][0]
check(i["lease"] == l2["id"], "GET shows the new lease on the instance")
check(mig(0, token=tok)["instances"][0]["lease"] is None, "a tenant does not see admin's lease id")

# --- POST never destroys a leased instance ------------------------------------------------
a = lease("1g.10gb", 0)
b = lease("1g.10gb", 0)
held = {l["mig"]["uuid"] for l in (l2, a, b)}


def still_held(what):
    now = {i["uuid"] for i in mig(0)["instances"] if i["leased"]}
    check(held <= now, "%s destroyed a leased instance: %r" % (what, now))


post(0, {"demand": {"7g.80gb": 1}}, 409, "NO_SPACE", "does not fit")
still_held("a refused demand")
r = post(0, {"demand": {"7g.80gb": 1}, "partial": True}).json
check(r["plan"]["destroy"] == [] and r["plan"]["unmet"] == {"7g.80gb": 1}, "partial: %r" % r)
still_held("a partial demand")
r = post(0, {"demand": {"1g.10gb": 3}}).json
check([(x["action"], x["profile"]) for x in r["actions"]] == [("create", "1g.10gb")] and
      r["plan"]["satisfied"] == 3, "demand beside leases: %r" % r)
still_held("a demand")
r = post(0, {"layout": {"4g.40gb": 1}, "partial": True}).json
check([(x["action"], x["profile"]) for x in r["actions"]] == [("destroy", "1g.10gb")] and
      r["plan"]["unmet"] == {"4g.40gb": 1},
      "an exact layout destroys only unleased instances: %r" % r)
still_held("a layout")
post(0, {"enabled": False}, 409, "BUSY", "3 mig leases")
still_held("turning MIG off")

# --- the CLI goes through the daemon ------------------------------------------------------
p = cli("mig", "ls", "--json", env=env)
j = json.loads(p.stdout)
check(len(j) == 2 and {i["lease"] for i in j[0]["instances"]} == {l2["id"], a["id"], b["id"]},
      "mig ls --json through the daemon: %s" % p.stdout[:300])
p = cli("mig", "ls", "--gpu", "0", env=env)
check(a["id"] in p.stdout and "LEASE" in p.stdout and "AVAIL" in p.stdout, p.stdout)
p = cli("mig", "apply", "--gpu", "0", "--demand", "1g.10gb=3", "--dry-run", env=env)
check("GPU 0: would create 1g.10gb at" in p.stdout, p.stdout)
p = cli("lease", "create", "--mig-profile", "1g.10gb", "--gpu", "0", env=env)
lid = p.stdout.strip()
check("MIG 1g.10gb (GPU instance" in p.stderr and "CUDA_VISIBLE_DEVICES=MIG-" in p.stderr,
      "lease create --mig-profile: " + p.stderr)
check(expect(d.get("/v1/leases/" + lid), 200).json["mode"] == "mig", "a mig lease")
cli("lease", "rm", lid, env=env)
# on the daemon's own state, no second engine: GPUPLEX_SERVER=none is refused (exit 6)
p = cli("lease", "create", "--mig-profile", "1g.10gb",
        env={"GPUPLEX_SERVER": "none", "GPUPLEX_SIM": sim, "GPUPLEX_STATE_DIR": d.state},
        expect_rc=6)
check("owns the state directory" in p.stderr, p.stderr)
p = cli("mig", "apply", "--gpu", "0", "--demand", "7g.80gb=1", env=env, expect_rc=7)
check("does not fit" in p.stderr, p.stderr)
p = cli("mig", "apply", "--gpu", "1", "--demand", "3g.40gb=1", env=env, expect_rc=2)
check("valid: 1g.5gb" in p.stderr, p.stderr)
layout = os.path.join(d.dir, "layouts.yaml")
with open(layout, "w") as f:
    f.write("version: v1\nmig-configs:\n  small:\n    - device-filter: A100-40GB\n"
            "      devices: all\n      mig-enabled: true\n      mig-devices: {\"2g.10gb\": 3}\n")
p = cli("mig", "apply", "--layout", layout, "--name", "small", "--json", env=env)
j = json.loads(p.stdout)
check(j[0].get("skipped") is True and [x["action"] for x in j[1]["actions"]].count("create") == 3,
      "layout through the daemon: %s" % p.stdout)
check(len([i for i in mig(1)["instances"] if i["profile"] == "2g.10gb"]) == 3, "2g.10gb x3")
still_held("the CLI")

# --- a lease whose instance vanished while the daemon was down is released ---------------
d.stop()
cli("mig", "apply", "--gpu", "0", "--demand", "7g.80gb=0", "--exact", env=direct)
check(ls_direct()[0]["instances"] == [], "destroyed behind the daemon's back")
d.start()
for l in (l2, a, b):
    r = expect(d.get("/v1/leases/" + l["id"]), 200).json
    check(r["state"] == "released" and "MIG instance is gone" in r["release_reason"],
          "vanished instance: %r" % r)
check("is gone; releasing the lease" in d.tail(), "logged:\n" + d.tail())

# --- the daemon killed between creating an instance and committing its lease -------------
keep = lease("1g.10gb", 0)  # an active lease whose instance must survive the restart
before = [i["uuid"] for i in ls_direct()[0]["instances"]]
d.stop()
os.environ["GPUPLEXD_FAULT"] = "after_mig_create"
try:
    d.start()
finally:
    del os.environ["GPUPLEXD_FAULT"]
try:
    r = d.post("/v1/leases", {"mode": "mig", "mig_profile": "3g.40gb", "gpu": 0})
except Exception:  # the connection drops with the daemon
    r = None
check(r is None, "the daemon answered instead of dying: %r" % r)
rc = d.proc.wait(timeout=20)
check(rc == 137, "fault injection exits 137, got %d:\n%s" % (rc, d.tail()))
d.proc = None
orphan = [i for i in ls_direct()[0]["instances"] if i["uuid"] not in before]
check(len(orphan) == 1 and orphan[0]["profile"] == "3g.40gb",
      "the instance was made before the crash: %r" % orphan)
d.start()
p = cli("mig", "ls", "--json", env=env)
after = json.loads(p.stdout)[0]["instances"]
check([i["uuid"] for i in after] == before, "orphan left after restart: %r" % after)
check([i["lease"] for i in after if i["leased"]] == [keep["id"]], "the active lease kept its own")
active = [l for l in d.get("/v1/leases?state=all").json if l["mig_profile"] == "3g.40gb" and
          l["state"] == "active"]
check(active == [], "an active lease for the crashed request: %r" % active)
db = sqlite3.connect(os.path.join(d.state, "gpuplexd.db"))
rows = db.execute("SELECT state, mig_created, mig_start, reason FROM leases WHERE "
                  "mig_profile='3g.40gb' ORDER BY created_ns DESC LIMIT 1").fetchall()
db.close()
check(rows and rows[0][0] == "aborted" and rows[0][1] == 1 and rows[0][2] == orphan[0]["start"],
      "the journalled row: %r" % rows)
check("never acknowledged" in d.tail(), "the start-up destroy is logged:\n" + d.tail())
check(expect(d.get("/v1/leases/" + keep["id"]), 200).json["state"] == "active", "kept lease")

# MIG off again once nothing is leased: unleased instances go, then the mode
release(keep)
r = post(0, {"enabled": False}).json
check(r["actions"][-1] == {"action": "disable", "done": True}, "MIG off: %r" % r)
check(mig(0)["mig_mode"] == "disabled" and mig(0)["instances"] == [], "off")
d.stop()
print("ok")
