"""Auth matrix: tokens, unix-socket uids, roles, and tenant isolation — tenant A
cannot read, release or count tenant B's leases; 401 (who are you?) versus 403
(you may not); per-tenant quotas."""
import json
import os
import subprocess
import sys

from gpxd import TMP, Daemon, check, cli, expect

os.chmod(TMP, 0o755)  # the uid tests connect as nobody
d = Daemon(listen=True, args=["--set", "socket_mode=0666"]).start()
os.chmod(d.dir, 0o755)


def add(name, **kw):
    body = {"name": name}
    body.update(kw)
    r = expect(d.post("/v1/tenants", body), 201, what="add tenant " + name)
    check(r.json["token"].startswith("gpx_") and len(r.json["token"]) == 68, "token format")
    return r.json["token"]


A = add("team-a", max_gpus=1, max_memory="8G")
B = add("team-b")
ADM = add("ops", role="admin")
add("nobody", uid=65534)
expect(d.post("/v1/tenants", {"name": "team-a"}), 409, "EXISTS")
expect(d.post("/v1/tenants", {"name": "admin"}), 409, "EXISTS", "reserved")
expect(d.post("/v1/tenants", {"name": "x", "uid": 65534}), 409, "EXISTS")
expect(d.post("/v1/tenants", {"name": "Bad Name"}), 400, "INVALID", "field 'name'")

# the database holds digests, never tokens
with open(os.path.join(d.state, "gpuplexd.db"), "rb") as f:
    db = f.read()
with open(os.path.join(d.state, "gpuplexd.db-wal"), "rb") as f:
    db += f.read()
check(A.encode() not in db and B.encode() not in db, "a token is stored in clear")

la = d.lease({"mode": "vgpu", "memory": "4G", "labels": {"who": "a"}}, token=A, tcp=True)
lb = d.lease({"mode": "vgpu", "memory": "2G"}, token=B)
# /healthz is open, but only an admin may count the node's leases
h = expect(d.get("/healthz", token=B, tcp=True), 200).json
check("leases_active" not in h, "a tenant can count every tenant's leases via /healthz")
h = expect(d.get("/healthz", tcp=True), 200).json
check("leases_active" not in h, "an anonymous caller can count leases via /healthz")
h = expect(d.get("/healthz"), 200).json
check(h.get("leases_active") == 2, "the admin's /healthz: %r" % h)
check(la["tenant"] == "team-a" and lb["tenant"] == "team-b", "lease owners")

for tok, tcp in ((B, True), (B, False)):
    # B cannot read, release or count A's lease
    expect(d.get("/v1/leases/" + la["id"], token=tok, tcp=tcp), 404, "NOT_FOUND")
    expect(d.delete("/v1/leases/" + la["id"], token=tok, tcp=tcp), 404, "NOT_FOUND")
    ls = expect(d.get("/v1/leases", token=tok, tcp=tcp), 200).json
    check([l["id"] for l in ls] == [lb["id"]], "B lists only its own: %r" % ls)
    ls = expect(d.get("/v1/leases?state=all", token=tok, tcp=tcp), 200).json
    check([l["id"] for l in ls] == [lb["id"]], "B's state=all")
    expect(d.get("/v1/leases?tenant=team-a", token=tok, tcp=tcp), 403, "PERM")
    gpus = expect(d.get("/v1/gpus", token=tok, tcp=tcp), 200).json
    seen = [l["id"] for g in gpus for l in g["leases"]]
    check(seen == [lb["id"]], "B sees only its own leases on GPUs: %r" % seen)
    check(all("processes" not in g for g in gpus), "tenants do not see process lists")
    u = expect(d.get("/v1/usage", token=tok, tcp=tcp), 200).json
    check([t["tenant"] for t in u["tenants"]] == ["team-b"] and
          [l["id"] for l in u["leases"]] == [lb["id"]], "B's usage: %r" % u)
    expect(d.get("/v1/usage?tenant=team-a", token=tok, tcp=tcp), 403, "PERM")
    expect(d.get("/v1/tenants", token=tok, tcp=tcp), 403, "PERM", "admin role")
    expect(d.post("/v1/tenants", {"name": "z"}, token=tok, tcp=tcp), 403, "PERM")
    expect(d.delete("/v1/tenants/team-a", token=tok, tcp=tcp), 403, "PERM")
    expect(d.post("/v1/tenants/team-a/token", token=tok, tcp=tcp), 403, "PERM")
    expect(d.get("/v1/tenants/team-a", token=tok, tcp=tcp), 403, "PERM")
    expect(d.get("/metrics", token=tok, tcp=tcp), 403, "PERM")
check(expect(d.get("/v1/tenants/team-b", token=B), 200).json["name"] == "team-b", "own record")
check(expect(d.get("/v1/whoami", token=B, tcp=True), 200).json["tenant"] == "team-b", "whoami")
m = expect(d.get("/metrics", token=ADM, tcp=True), 200).text
check(la["id"] in m and lb["id"] in m, "admin's /metrics shows every lease")

# wrong or missing credentials: 401, never 403
for hdr in ("Bearer gpx_" + "0" * 64, "Bearer " + A[:-1], "Basic dXNlcjpwYXNz", "Bearer ",
            "bearer"):
    for tcp in (True, False):
        r = d.request("GET", "/v1/leases", headers={"Authorization": hdr}, tcp=tcp)
        expect(r, 401, "UNAUTH", what="Authorization: %r" % hdr)
expect(d.get("/v1/leases", tcp=True), 401, "UNAUTH", "authentication required")
expect(d.post("/v1/leases", {"mode": "exclusive"}, tcp=True), 401, "UNAUTH")
expect(d.get("/v1/leases/" + la["id"], tcp=True), 401, "UNAUTH")
check(expect(d.get("/v1/leases/" + la["id"], token="bad"), 401).error()["message"] ==
      "invalid token", "bad token on the socket")

# an admin token sees and releases anyone's lease
ls = expect(d.get("/v1/leases", token=ADM, tcp=True), 200).json
check({l["id"] for l in ls} == {la["id"], lb["id"]}, "admin lists all")
check(len(expect(d.get("/v1/leases?tenant=team-a", token=ADM), 200).json) == 1, "?tenant=")
u = expect(d.get("/v1/usage?tenant=team-b", token=ADM), 200).json
check([t["tenant"] for t in u["tenants"]] == ["team-b"], "admin ?tenant= usage")

# quotas: team-a has max_memory 8G and max_gpus 1
d.lease({"mode": "vgpu", "memory": "4G"}, token=A)
r = expect(d.post("/v1/leases", {"mode": "vgpu", "memory": "1G"}, token=A), 409, "NO_SPACE",
           "max_memory")
check("team-a" in r.error()["message"], "quota message names the tenant")
expect(d.delete("/v1/leases/" + la["id"], token=A), 200)
expect(d.post("/v1/leases", {"mode": "vgpu", "memory": "1G", "gpu": 1}, token=A), 409,
       "NO_SPACE", "max_gpus")
expect(d.post("/v1/leases", {"mode": "exclusive"}, token=A), 409, "NO_SPACE")
l3 = d.lease({"mode": "vgpu", "memory": "1G"}, token=A)
check(l3["gpu"]["index"] == 0, "team-a stays on its one GPU")

# unix-socket callers by uid: a registered uid is its tenant, an unknown uid is 401
probe = r'''
import http.client, socket, sys, json
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[1])
c = C("localhost"); c.request("GET", "/v1/whoami"); r = c.getresponse()
print(json.dumps({"status": r.status, "body": json.loads(r.read())}))
'''


def as_uid(uid):
    p = subprocess.run(["setpriv", "--reuid", str(uid), "--regid", str(uid), "--clear-groups",
                        sys.executable, "-c", probe, d.sock], capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == 0, "probe as uid %d: %s" % (uid, p.stderr))
    return json.loads(p.stdout)


if os.geteuid() == 0:
    r = as_uid(65534)
    check(r["status"] == 200 and r["body"]["tenant"] == "nobody" and r["body"]["uid"] == 65534,
          "uid 65534 maps to tenant nobody: %r" % r)
    r = as_uid(65533)
    check(r["status"] == 401 and "uid 65533 is not a tenant" in r["body"]["error"]["message"],
          "unknown uid: %r" % r)
    w = expect(d.get("/v1/whoami"), 200).json
    check(w["tenant"] == "admin" and w["uid"] == 0, "root is the built-in admin: %r" % w)
else:
    print("not root: uid mapping checks skipped")

# tokens are rotated, tenants with leases are not removed
t2 = expect(d.post("/v1/tenants/team-b/token"), 200).json["token"]
expect(d.get("/v1/leases", token=B), 401, "UNAUTH")
check(expect(d.get("/v1/leases", token=t2), 200).json[0]["id"] == lb["id"], "new token works")
expect(d.delete("/v1/tenants/team-b"), 409, "BUSY", "holds 1 active lease")
expect(d.delete("/v1/leases/" + lb["id"], token=t2), 200)
expect(d.delete("/v1/tenants/team-b"), 200)
expect(d.get("/v1/leases", token=t2), 401, "UNAUTH")
expect(d.delete("/v1/tenants/team-b"), 404, "NOT_FOUND")
expect(d.post("/v1/tenants/team-b/token"), 404, "NOT_FOUND")

# tenants survive a restart; the CLI speaks for them
d.stop()
d.start()
check(expect(d.get("/v1/whoami", token=A, tcp=True), 200).json["tenant"] == "team-a", "restart")
env = {"GPUPLEX_SERVER": "http://127.0.0.1:%d" % d.port, "GPUPLEX_TOKEN": A}
p = cli("status", env=env)
check("tenant team-a (tenant) via tcp" in p.stdout, "status as team-a:\n" + p.stdout)
cli("tenant", "ls", env=env, expect_rc=10)
cli("usage", "--tenant", "ops", env=env, expect_rc=10)
cli("status", env={"GPUPLEX_SERVER": env["GPUPLEX_SERVER"], "GPUPLEX_TOKEN": "x"}, expect_rc=10)
envr = {"GPUPLEX_SERVER": d.sock}
tok = cli("tenant", "add", "cli-t", "--max-gpus", "2", "--max-memory", "16G", env=envr).stdout
check(tok.strip().startswith("gpx_"), "tenant add prints the token")
p = cli("tenant", "ls", "--json", env=envr)
t = [x for x in json.loads(p.stdout) if x["name"] == "cli-t"][0]
check(t["max_gpus"] == 2 and t["max_memory_bytes"] == 16 << 30 and "token" not in t, "%r" % t)
cli("tenant", "add", "cli-t", env=envr, expect_rc=6)
cli("tenant", "add", "x", "--role", "root", env=envr, expect_rc=2)
cli("tenant", "rm", "cli-t", env=envr)
cli("tenant", "rm", "cli-t", env=envr, expect_rc=5)
d.stop()

# Issue 10, findings 5, 9, 12 and 13 through the API, on a daemon capping tenants at 2 leases.
c = Daemon(name="cap", listen=True, args=["--set", "max_leases_per_tenant=2"]).start()
# root (and gpuplexd's own uid) can't become a tenant: root stays the admin
for uid in {0, os.geteuid()}:
    expect(c.post("/v1/tenants", {"name": "usurper", "uid": uid}), 400, "INVALID",
           "always the built-in admin")
check(expect(c.get("/v1/whoami"), 200).json["role"] == "admin", "root is the admin")
# sizes: a number and a unit, the field named
for bad in ("0x10G", " 1G", "1G ", "+1G", "1e3M"):
    expect(c.post("/v1/leases", {"mode": "vgpu", "memory": bad}), 400, "INVALID",
           "field 'memory': invalid size '%s'" % bad)
    expect(c.post("/v1/tenants", {"name": "s", "max_memory": bad}), 400, "INVALID",
           "field 'max_memory': invalid size")
# the cap: the tenant's own max_leases, else the daemon's max_leases_per_tenant
t1 = expect(c.post("/v1/tenants", {"name": "one", "max_leases": 1}), 201).json
check(t1["max_leases"] == 1, "max_leases in the tenant's JSON: %r" % t1)
expect(c.post("/v1/tenants", {"name": "z", "max_leases": 0}), 400, "INVALID", "max_leases")
T2 = expect(c.post("/v1/tenants", {"name": "two", "max_memory": "2G"}), 201).json["token"]
check(expect(c.get("/v1/tenants/two"), 200).json["max_leases"] is None, "no own max_leases")
c.lease({"mode": "vgpu", "memory": "1G"}, token=t1["token"], tcp=True)
expect(c.post("/v1/leases", {"mode": "vgpu", "memory": "1G"}, token=t1["token"], tcp=True), 409,
       "NO_SPACE", "tenant 'one' holds 1 active lease, its max_leases")
# max_memory: a timeslice lease must carry a quota, which counts
expect(c.post("/v1/leases", {"mode": "timeslice"}, token=T2, tcp=True), 409, "NO_SPACE",
       "--memory")
c.lease({"mode": "timeslice", "memory": "1G"}, token=T2, tcp=True)
c.lease({"mode": "timeslice", "memory": "512M"}, token=T2, tcp=True)
r = expect(c.post("/v1/leases", {"mode": "timeslice", "memory": "256M"}, token=T2, tcp=True), 409,
           "NO_SPACE", "max_leases_per_tenant")
# owner_pids: over TCP (no uid) no pid is the tenant's, whether it exists or not
for pid in (os.getpid(), 2147483646):
    T3 = expect(c.post("/v1/tenants", {"name": "p%d" % (pid % 1000)}), 201).json["token"]
    expect(c.post("/v1/leases", {"mode": "vgpu", "memory": "1G", "owner_pids": [pid]}, token=T3,
                  tcp=True), 400, "INVALID",
           "field 'owner_pids': pid %d is not a process of yours" % pid)
c.stop()
print("ok")
