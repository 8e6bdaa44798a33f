"""API contract: every endpoint of gpuplexd, its answers and its errors, on a
simulated 2xH100 node (docs/api.md, docs/openapi.yaml)."""
import os
import subprocess

from gpxd import BUILD, GPXD, TMP, Daemon, check, cli, expect, fail

d = Daemon(listen=True).start()
GiB = 1 << 30

# --- /healthz
r = expect(d.get("/healthz"), 200, what="healthz")
for k in ("status", "version", "gpus", "leases_active", "schema_version", "uptime_seconds"):
    check(k in r.json, "healthz lacks %s" % k)
check(r.json["gpus"] == 2 and r.json["status"] == "ok", "healthz: %r" % r)
expect(d.get("/healthz", tcp=True), 200, what="healthz over TCP needs no token")
r = expect(d.post("/healthz"), 405, "METHOD", what="POST /healthz")
check(r.headers.get("Allow") == "GET, HEAD", "405 without Allow: %r" % r.headers)
expect(d.get("/nope"), 404, "NOT_FOUND", "no such endpoint", what="unknown path")
expect(d.get("/v1/leases/"), 404, "NOT_FOUND", what="empty id")
expect(d.get("/v1/leases/a/b"), 404, "NOT_FOUND", what="nested path")

# --- /v1/gpus
g = expect(d.get("/v1/gpus"), 200, what="gpus").json
check(len(g) == 2, "2 GPUs: %r" % g)
for k in ("index", "name", "uuid", "memory_total_bytes", "leases", "exclusive",
          "memory_quota_free_bytes", "mig_mode", "processes"):
    check(k in g[0], "gpus[0] lacks %s" % k)
total = g[0]["memory_total_bytes"]
check(g[0]["memory_quota_free_bytes"] == total, "idle GPU has all its quota free")
expect(d.post("/v1/gpus", {}), 405, "METHOD", what="POST /v1/gpus")
expect(d.get("/v1/gpus?verbose=1"), 400, "INVALID", "unknown query parameter 'verbose'")

# --- POST /v1/leases: vgpu, binpack onto GPU 0
a = d.lease({"mode": "vgpu", "memory": "4G", "cap": 50, "labels": {"job": "a"}})
for k in ("id", "tenant", "state", "mode", "gpu", "memory_bytes", "weight", "cap", "mig_profile",
          "labels", "owner_pids", "created", "released", "usage", "env"):
    check(k in a, "lease lacks %s: %r" % (k, a))
check(a["state"] == "active" and a["mode"] == "vgpu" and a["tenant"] == "admin", "lease %r" % a)
check(a["gpu"]["index"] == 0 and a["gpu"]["uuid"] == g[0]["uuid"], "binpack starts at GPU 0")
check(a["memory_bytes"] == 4 * GiB and a["cap"] == 50 and a["labels"] == {"job": "a"}, "%r" % a)
env = a["env"]
check(env["CUDA_VISIBLE_DEVICES"] == g[0]["uuid"], "env CUDA_VISIBLE_DEVICES")
check(env["GPUPLEX_LEASE"] == a["id"], "env GPUPLEX_LEASE")
check(env["GPUPLEX_RUN_DIR"] == os.path.realpath(d.run), "env GPUPLEX_RUN_DIR: %r" % env)
if os.path.exists(os.path.join(BUILD, "lib", "libgpuplex-cuda.so")):
    check(env.get("LD_PRELOAD", "").endswith("libgpuplex-cuda.so"), "env LD_PRELOAD: %r" % env)
check(d.regions() == {a["id"]}, "region files: %r" % d.regions())
b = d.lease({"mode": "timeslice", "memory": 8 * GiB, "weight": 3})
check(b["gpu"]["index"] == 0 and b["weight"] == 3, "binpack fills GPU 0 first: %r" % b)
# by UUID and by index
c = d.lease({"mode": "timeslice", "gpu": g[1]["uuid"]})
check(c["gpu"]["index"] == 1 and c["memory_bytes"] is None and c["weight"] == 1, "%r" % c)
expect(d.delete("/v1/leases/" + c["id"]), 200, what="release c")

# exclusive goes to the idle GPU and excludes everything else there
x = d.lease({"mode": "exclusive"})
check(x["gpu"]["index"] == 1 and "LD_PRELOAD" not in x["env"], "exclusive: %r" % x)
# an exclusive lease in the way is BUSY (CLI exit 6), a quota that does not fit NO_SPACE (7)
expect(d.post("/v1/leases", {"mode": "exclusive"}), 409, "BUSY", "no idle GPU")
expect(d.post("/v1/leases", {"mode": "vgpu", "memory": "1G", "gpu": 1}), 409, "BUSY",
       "held by an exclusive lease")
expect(d.post("/v1/leases", {"mode": "exclusive", "gpu": 0}), 409, "BUSY",
       "an exclusive lease needs an idle GPU")
# what does not fit says what would
free0 = total - 12 * GiB
r = expect(d.post("/v1/leases", {"mode": "vgpu", "memory": "75G"}), 409, "NO_SPACE",
           "the largest that fits is")
check("(GPU 0)" in r.error()["message"], "message names the GPU: %r" % r)
expect(d.post("/v1/leases", {"mode": "mig", "mig_profile": "3g.40gb"}), 409, "NO_SPACE",
       "needs a MIG-enabled GPU")
expect(d.post("/v1/leases", {"mode": "vgpu", "memory": "1G", "gpu": 7}), 404, "NOT_FOUND",
       "no GPU '7'")
expect(d.post("/v1/leases", {"mode": "vgpu", "memory": "1G", "gpu": "GPU-nope"}), 404, "NOT_FOUND",
       "no GPU 'GPU-nope'")
gg = expect(d.get("/v1/gpus"), 200).json
check(gg[0]["memory_quota_free_bytes"] == free0, "quota free on GPU 0: %r" % gg[0])
check(gg[1]["exclusive"] is True and gg[1]["memory_quota_free_bytes"] == 0, "GPU 1 exclusive")
check({l["id"] for l in gg[0]["leases"]} == {a["id"], b["id"]}, "leases on GPU 0: %r" % gg[0])

# --- validation: every field, unknown fields by name, JSON errors, sizes
bad = [
    ({"mode": "vgpu"}, "vgpu leases need field 'memory'"),
    ({"mode": "vgpu", "memory": "4Q"}, "unknown unit"),
    ({"mode": "vgpu", "memory": "4096M", "colour": "red"}, "unknown field 'colour'"),
    ({"mode": "timeslice", "weight": 0}, "from 1 to 10000"),
    ({"mode": "vgpu", "memory": "1G", "cap": 0}, "from 1 to 100"),
    ({"mode": "exclusive", "memory": "1G"}, "does not apply"),
    ({"mode": "exclusive", "labels": {"k": 1}}, "must be a string"),
    ({"mode": "exclusive", "owner_pids": [2147483647]}, "is not a running process"),
    ({"mode": "nope"}, "'mode' must be one of"),
    ({}, "'mode' is required"),
]
for body, msg in bad:
    expect(d.post("/v1/leases", body), 400, "INVALID", msg, what=repr(body))
expect(d.request("POST", "/v1/leases", raw=b'{"mode": '), 400, "INVALID", "invalid JSON")
expect(d.request("POST", "/v1/leases", raw=b'{"mode":"exclusive","mode":"exclusive"}'), 400,
       "INVALID", "duplicate")
expect(d.request("POST", "/v1/leases", raw=b'[1]'), 400, "INVALID", "must be a JSON object")
expect(d.request("POST", "/v1/leases", raw=b''), 400, "INVALID", "must be a JSON object")
expect(d.request("POST", "/v1/leases", raw=b'{"mode":"vgpu","labels":{"x":"' + b"y" * 70000 +
                 b'"}}'), 413, "TOO_LARGE", "larger than")
expect(d.request("GET", "/v1/leases", raw=b'{}'), 400, "INVALID", "take no body")
expect(d.request("PUT", "/v1/leases", raw=b'{}'), 405, "METHOD")
check(expect(d.request("PATCH", "/v1/leases/" + a["id"]), 405).headers.get("Allow") ==
      "GET, DELETE", "Allow of /v1/leases/{id}")

# --- GET /v1/leases[/{id}]
ls = expect(d.get("/v1/leases"), 200).json
check({l["id"] for l in ls} == {a["id"], b["id"], x["id"]}, "active leases: %r" % ls)
one = expect(d.get("/v1/leases/" + a["id"]), 200).json
check(one["id"] == a["id"] and one["env"] == a["env"], "GET one: %r" % one)
expect(d.get("/v1/leases/l-000000000000"), 404, "NOT_FOUND", "no lease")
expect(d.get("/v1/leases?state=bogus"), 400, "INVALID", "query 'state'")
expect(d.get("/v1/leases?bogus=1"), 400, "INVALID", "unknown query parameter 'bogus'")
expect(d.get("/v1/leases?state=active&state=all"), 400, "INVALID", "given twice")

# --- DELETE
r = expect(d.delete("/v1/leases/" + b["id"]), 200, what="release b")
check(r.json["state"] == "released" and r.json["env"] is None and r.json["released"], "%r" % r)
check(r.json["release_reason"] == "released by admin", "reason: %r" % r.json)
expect(d.delete("/v1/leases/" + b["id"]), 404, "NOT_FOUND", "already released")
check(expect(d.get("/v1/leases/" + b["id"]), 200).json["state"] == "released", "GET released")
expect(d.get("/v1/leases/" + b["id"] + "x"), 404, "NOT_FOUND")
check(d.regions() == {a["id"], x["id"]}, "regions after release: %r" % d.regions())
allst = expect(d.get("/v1/leases?state=all"), 200).json
check(len(allst) == 4, "state=all: %d" % len(allst))
rel = expect(d.get("/v1/leases?state=released"), 200).json
check({l["id"] for l in rel} == {b["id"], c["id"]}, "state=released")

# --- /v1/usage
u = expect(d.get("/v1/usage"), 200).json
check([t["tenant"] for t in u["tenants"]] == ["admin"], "usage tenants: %r" % u)
t = u["tenants"][0]
for k in ("leases", "lease_seconds", "gpu_seconds", "wait_seconds", "memory_quota_gib_seconds",
          "memory_used_gib_seconds", "memory_peak_bytes"):
    check(k in t, "usage lacks %s" % k)
check(t["leases"] == 4 and t["lease_seconds"] > 0 and t["memory_quota_gib_seconds"] > 0,
      "usage totals: %r" % t)
check(len(u["leases"]) == 4, "usage per lease")
u2 = expect(d.get("/v1/usage?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z"), 200).json
check(u2["tenants"] == [] and u2["leases"] == [], "window before any lease is empty: %r" % u2)
expect(d.get("/v1/usage?from=yesterday"), 400, "INVALID", "query 'from'")
expect(d.get("/v1/usage?from=2000&to=1000"), 400, "INVALID", "before")
expect(d.get("/v1/usage?tenant=admin&x=1"), 400, "INVALID", "unknown query parameter")

# --- /v1/whoami, /metrics
w = expect(d.get("/v1/whoami"), 200).json
check(w["tenant"] == "admin" and w["role"] == "admin" and w["via"] == "unix", "whoami %r" % w)
m = expect(d.get("/metrics"), 200)
check(m.headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"), "metrics type")
gpu_util = [l for l in m.text.splitlines() if l.startswith("DCGM_FI_DEV_GPU_UTIL{")]
check(len([l for l in gpu_util if "lease=" not in l]) == 2, "one GPU_UTIL per GPU")
check('gpuplex_lease_memory_quota_bytes{lease="%s",tenant="admin",mode="vgpu",gpu="0"} 4294967296'
      % a["id"] in m.text, "lease quota series:\n" + m.text)

# --- TCP without a token is 401 with WWW-Authenticate
r = expect(d.get("/v1/gpus", tcp=True), 401, "UNAUTH", "Bearer")
check(r.headers.get("WWW-Authenticate", "").startswith("Bearer"), "WWW-Authenticate")
expect(d.get("/metrics", tcp=True), 401, "UNAUTH")
expect(d.get("/nope", tcp=True), 404, "NOT_FOUND")

# --- the CLI as a client
env = {"GPUPLEX_SERVER": d.sock}
p = cli("status", env=env)
check("2 GPUs" in p.stdout and a["id"] in p.stdout, "status:\n" + p.stdout)
p = cli("usage", "--json", env=env)
check('"admin"' in p.stdout, "usage --json")
cli("usage", "--from", "bad", env=env, expect_rc=2)
cli("status", "--server", "http://127.0.0.1:%d" % d.port, expect_rc=10)
cli("status", "--server", os.path.join(TMP, "no.sock"), expect_rc=9)

# --- placement spread and oversubscription in a second daemon; flags and config errors
s = Daemon("spread", args=["--placement", "spread", "--oversubscription", "2"]).start()
l1 = s.lease({"mode": "vgpu", "memory": "60G"})
l2 = s.lease({"mode": "vgpu", "memory": "60G"})
check(l1["gpu"]["index"] != l2["gpu"]["index"], "spread uses both GPUs")
s.lease({"mode": "vgpu", "memory": "90G"})  # 60 + 90 <= 2 x 79.6
s.stop()


def bad_start(args, rc, msg):
    p = subprocess.run([GPXD, "--state-dir", os.path.join(TMP, "bs"), "--socket",
                        os.path.join(TMP, "bs.sock")] + args, capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == rc and msg in p.stderr,
          "gpuplexd %s: rc %d, stderr %s" % (args, p.returncode, p.stderr))


bad_start(["--listen", "0.0.0.0:7470", "--sim", "1xH100-80GB"], 2, "non-loopback")
bad_start(["--placement", "pack"], 2, "placement")
bad_start(["--bogus"], 2, "unknown option")
conf = os.path.join(TMP, "bad.conf")
with open(conf, "w") as f:
    f.write("# test\nthreads = 2\ncolour = red\n")
bad_start(["--config", conf], 2, "bad.conf:3: unknown key 'colour'")
bad_start(["--config", os.path.join(TMP, "missing.conf")], 9, "missing.conf")
bad_start(["--sim", "2xV100"], 2, "V100")
# a second daemon on the same state directory is refused
bad_start(["--state-dir", d.state, "--sim", "2xH100-80GB"], 6, "another gpuplexd")
p = subprocess.run([GPXD, "--help"], capture_output=True, text=True)
check(p.returncode == 0 and "--listen" in p.stdout, "--help")

# docs/openapi.yaml describes every route served here
with open(os.path.join(os.environ["SRC_DIR"], "docs", "openapi.yaml")) as f:
    spec = f.read()
for route in ("/healthz", "/metrics", "/v1/whoami", "/v1/gpus", "/v1/gpus/{id}/mig", "/v1/leases",
              "/v1/leases/{id}", "/v1/usage", "/v1/tenants", "/v1/tenants/{name}",
              "/v1/tenants/{name}/token", "/v1/containers", "/v1/containers/{id}",
              "/v1/containers/{id}/logs", "/v1/functions", "/v1/functions/{name}",
              "/v1/functions/{name}/invoke", "/v1/functions/{name}/logs"):
    check("\n  %s:\n" % route in spec, "docs/openapi.yaml lacks %s" % route)

d.stop()
# restarting keeps the leases
d.start()
check({l["id"] for l in d.get("/v1/leases").json} == {a["id"], x["id"]}, "leases after restart")
d.stop()
print("ok")
