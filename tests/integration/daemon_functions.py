"""GPU functions (issue 15, docs/functions.md), daemon side, with the example worker
(examples/fn-worker) on a simulated node: registration errors (400 naming the field), 404,
413; a cold start from min_workers 0; 200 concurrent calls from 2 tenants, every one answered
200 or 429 and the meter counting exactly the 200s, each tenant's usage only its own; a
worker SIGKILLed mid-request (502, then a fresh worker); the request timeout (504); an idle
worker stopped after idle_timeout_s with its lease ended; a worker whose lease an admin ends is
replaced; PUT (404/403/400, a new command replacing the idle worker, new prices billing later
calls only); the worker's lease quota; /metrics (requests, the latency histogram's buckets, the
queue depth and workers during a burst, cold starts); the registry across a restart."""
import json
import os
import signal
import threading
import time

from gpxd import BUILD, Daemon, check, cli, expect, fail

WORKER = os.path.join(BUILD, "bin", "gpuplex-fn-worker")
check(os.access(WORKER, os.X_OK), "the example worker %s is not built" % WORKER)

# loopback TCP for the tenants' tokens; one uid makes all 200 connections
d = Daemon(listen=True, args=["--set", "max_connections_per_peer=400",
                              "--set", "max_connections=1024", "--set", "threads=4"]).start()
A = expect(d.post("/v1/tenants", {"name": "team-a"}), 201).json["token"]
B = expect(d.post("/v1/tenants", {"name": "team-b"}), 201).json["token"]


def fn(name, **kw):
    body = {"name": name, "command": [WORKER, "--kernels", "1", "--kernel-us", "500"],
            "lease": {"mode": "vgpu", "memory": "1GiB"}}
    body.update(kw)
    return body


def invoke(name, body=None, token=None, raw=None, timeout=30):
    data = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
    return d.request("POST", "/v1/functions/%s/invoke" % name, raw=data, token=token, tcp=True,
                     headers={"Content-Type": "application/json"}, timeout=timeout)


def get_fn(name):
    return expect(d.get("/v1/functions/" + name), 200, what="GET " + name).json


def wait(cond, what, within=10):
    deadline = time.time() + within
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    fail("%s: not within %ss\n%s" % (what, within, d.tail()))


def lease_state(lid):
    r = d.get("/v1/leases/" + lid)
    return r.json.get("state") if r.status == 200 else "missing"


# --- registration: 400 naming the field, 403 for tenants, 404, 409 -------------------------------
for body, field in (
        ({"command": [WORKER], "lease": {"mode": "vgpu", "memory": "1GiB"}}, "'name'"),
        (fn("x", max_workers=0), "max_workers"),
        (fn("x", max_concurrency=5000), "max_concurrency"),
        (fn("x", min_workers=3, max_workers=2), "min_workers"),
        (fn("x", timeout_s=-1), "timeout_s"),
        (fn("x", max_body_bytes=0), "max_body_bytes"),
        (fn("x", price_per_request="1"), "price_per_request"),
        (fn("x", colour="red"), "unknown field 'colour'"),
        (fn("x", command=[]), "'command'"),
        (fn("x", image="localhost/x"), "command"),
        (fn("x", lease={"mode": "vgpu"}), "'lease'"),
        (fn("x", lease={"mode": "vgpu", "memory": "1GiB", "owner_pids": [1]}), "owner_pids"),
        (fn("bad name"), "'name'"),
        ({"name": "x", "image": "localhost/x", "lease": {"mode": "exclusive"}},
         "container_images")):
    expect(d.post("/v1/functions", body), 400, code="INVALID", contains=field,
           what="bad registration (%s)" % field)
expect(d.post("/v1/functions", fn("x"), token=A, tcp=True), 403, what="a tenant registers")
expect(invoke("nope", {}, token=A), 404, what="an unknown function")
expect(d.get("/v1/functions/nope"), 404, what="GET an unknown function")

# --- cold start from min_workers 0 ---------------------------------------------------------------
r = expect(d.post("/v1/functions", fn("echo", max_body_bytes=256, idle_timeout_s=1.5,
                                      price_per_request=0.5, price_per_gpu_second=2)),
           201, what="register echo")
check(r.json["workers"] == [] and r.json["min_workers"] == 0 and r.json["owner"] == "admin",
      "a new function with min_workers 0 has no worker: %r" % r.json)
expect(d.post("/v1/functions", fn("echo")), 409, what="registered twice")
t0 = time.time()
r = expect(invoke("echo", {"kernels": 2}, token=A), 200, what="the first call (cold start)")
cold = time.time() - t0
check(r.json["kernels"] == 2 and r.json["served"] == 1, "the worker's answer: %r" % r.json)
for h in ("X-Gpuplex-Request-Id", "X-Gpuplex-Gpu-Ms", "X-Gpuplex-Queue-Ms"):
    check(h in r.headers, "the answer lacks %s: %r" % (h, r.headers))
check(float(r.headers["X-Gpuplex-Queue-Ms"]) > 0, "a cold start waits: %r" % r.headers)
f = get_fn("echo")
check(f["cold_starts"] == 1 and len(f["workers"]) == 1 and f["workers"][0]["state"] == "ready",
      "after the cold start: %r" % f)
w1 = f["workers"][0]
check(lease_state(w1["lease"]) == "active", "the worker's lease is active")
lease = d.get("/v1/leases/" + w1["lease"]).json
check(lease["tenant"] == "admin" and "gpuplex.function" in json.dumps(lease.get("labels")),
      "the worker's lease is the owner's and labelled: %r" % lease)
print("cold start %.1f ms" % (cold * 1e3))

# the worker's status and body pass through; the tenant can list and read, not change
r = expect(invoke("echo", {"status": 422}, token=B), 422, what="a worker's 422 passes through")
# the worker is fenced by its lease: 1 GiB of memory (the interposer refuses 2 GiB)
r = invoke("echo", {"kernels": 1, "alloc_mib": 2048}, token=B)
check(r.status >= 400 and "OUT_OF_MEMORY" in r.text, "2 GiB on a 1 GiB worker lease: %d %s"
      % (r.status, r.text))
expect(d.get("/v1/functions", token=B, tcp=True), 200, what="a tenant lists")
expect(d.request("DELETE", "/v1/functions/echo", token=B, tcp=True), 403, what="a tenant removes")

# --- 413 over the function's max_body_bytes ------------------------------------------------------
expect(invoke("echo", raw=b"x" * 300, token=A), 413, what="a body over max_body_bytes")
expect(invoke("echo", {"kernels": 1, "pad": "y" * 100}, token=A), 200, what="a body under it")

# --- an idle worker is stopped after idle_timeout_s and its lease ends -------------------------
wait(lambda: get_fn("echo")["workers"] == [], "the idle worker stopped", within=10)
wait(lambda: lease_state(w1["lease"]) == "released", "the idle worker's lease released")
try:
    os.kill(w1["pid"], 0)
    fail("the idle worker's process %d is still there" % w1["pid"])
except ProcessLookupError:
    pass

# --- 200 concurrent calls from 2 tenants: each answered 200 or 429, the meter counts the 200s --
expect(d.post("/v1/functions", fn("load", max_workers=2, max_concurrency=4, queue_max=40,
                                  timeout_s=60, price_per_request=0.01)), 201,
       what="register load")
results = {}
lock = threading.Lock()


def caller(i):
    tok = A if i % 2 == 0 else B
    try:
        r = invoke("load", {"kernels": 1, "kernel_us": 100000}, token=tok, timeout=90)
        with lock:
            results[i] = (tok, r.status, r.headers.get("Retry-After"), r.text)
    except Exception as e:  # a lost or hung request
        with lock:
            results[i] = (tok, None, None, repr(e))


def metric(text, series):
    """The value of one series (name{labels}) in a /metrics text, or None."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


threads = [threading.Thread(target=caller, args=(i,)) for i in range(200)]
t0 = time.time()
for t in threads:
    t.start()
# while the burst runs: calls wait in the queue, workers start or serve (the gauges move)
burst = wait(lambda: (lambda m: m if (metric(m, 'gpuplex_function_queue_depth{function="load"}')
                                      or 0) > 0 else None)(d.get("/metrics").text),
             "/metrics shows the burst's queue", within=30)
check((metric(burst, 'gpuplex_function_workers{function="load",state="ready"}') or 0) +
      (metric(burst, 'gpuplex_function_workers{function="load",state="starting"}') or 0) >= 1,
      "/metrics shows the burst's workers:\n" + burst)
for t in threads:
    t.join(120)
check(not any(t.is_alive() for t in threads), "calls still hanging after 120 s")
took = time.time() - t0
bad = {i: v for i, v in results.items() if v[1] not in (200, 429)}
check(len(results) == 200 and not bad, "every call answered 200 or 429: %r" % list(bad.items())[:5])
check(all(v[2] for v in results.values() if v[1] == 429), "every 429 has Retry-After")
ok = {A: 0, B: 0}
for tok, st, _, _ in results.values():
    ok[tok] += st == 200
n429 = sum(1 for v in results.values() if v[1] == 429)
check(ok[A] + ok[B] > 0 and n429 > 0, "some 200s and some 429s: %r, %d" % (ok, n429))
print("200 calls in %.2f s: %d+%d answered, %d 429" % (took, ok[A], ok[B], n429))
f = get_fn("load")
# the queue grew past one worker's 4 slots: a second worker started (max_workers 2), and both
# stay for idle_timeout_s
check(len(f["workers"]) == 2 and f["queue_depth"] == 0, "the pool after the burst: %r" % f)


def fn_rows(u, name):
    return {r["tenant"]: r for r in u.get("functions", []) if r["function"] == name}


rows = fn_rows(expect(d.get("/v1/usage"), 200).json, "load")
for tok, tenant in ((A, "team-a"), (B, "team-b")):
    check(rows.get(tenant, {}).get("requests") == ok[tok],
          "the meter of %s counts its %d answered calls: %r" % (tenant, ok[tok], rows))
    check(abs(rows[tenant]["bill"] - (0.01 * ok[tok] + 0.0)) < 1e-6 + rows[tenant]["gpu_seconds"],
          "bill of %s: %r" % (tenant, rows[tenant]))
# a tenant sees only its own rows
ua = expect(d.get("/v1/usage", token=A, tcp=True), 200).json
check(ua.get("functions") and all(r["tenant"] == "team-a" for r in ua["functions"]),
      "team-a's usage shows only its requests: %r" % ua.get("functions"))
check(fn_rows(ua, "load")["team-a"]["requests"] == ok[A], "team-a's own count")
expect(d.get("/v1/usage?tenant=team-b", token=A, tcp=True), 403, what="another tenant's usage")
# gpuplex usage: the same rows, as JSON and as the second table
u = json.loads(cli("usage", "--server", d.sock, "--json").stdout)
check(fn_rows(u, "load")["team-b"]["requests"] == ok[B], "gpuplex usage --json: %r" % u)
out = cli("usage", "--server", d.sock).stdout
check("FUNCTION" in out and any(l.split()[:3] == ["team-a", "load", str(ok[A])]
                                for l in out.splitlines()), "gpuplex usage:\n" + out)

# --- a worker SIGKILLed mid-request: 502, then the next call succeeds on a fresh worker --------
expect(d.post("/v1/functions", fn("crash", max_workers=1, min_workers=1, timeout_s=30)), 201,
       what="register crash")
first = wait(lambda: [w for w in get_fn("crash")["workers"] if w["state"] == "ready"],
             "min_workers 1 keeps a worker")[0]
out = {}
t = threading.Thread(target=lambda: out.setdefault(
    "r", invoke("crash", {"kernels": 1, "kernel_us": 5000000}, token=A, timeout=40)))
t.start()
wait(lambda: get_fn("crash")["workers"][0]["in_flight"] == 1, "the long call in flight")
os.kill(first["pid"], signal.SIGKILL)
t.join(30)
check(not t.is_alive(), "the call to a killed worker hangs")
r = expect(out["r"], 502, code="WORKER_FAILED", what="the call its worker died under")
r = expect(invoke("crash", {"kernels": 1}, token=A), 200, what="the next call")
check(r.json["pid"] != first["pid"], "the next call ran on a fresh worker: %r" % r.json)
wait(lambda: lease_state(first["lease"]) == "released", "the killed worker's lease released")
f = get_fn("crash")
check(f["restarts"] >= 1, "the restart is counted: %r" % f)

# --- the engine ends a worker's lease: the worker goes, a new one serves -----------------------
w = get_fn("crash")["workers"][0]
expect(d.delete("/v1/leases/" + w["lease"]), 200, what="an admin releases a worker's lease")
wait(lambda: all(x["lease"] != w["lease"] for x in get_fn("crash")["workers"]),
     "the worker of the ended lease stopped")
r = expect(invoke("crash", {"kernels": 1}, token=B), 200, what="a call after the lease ended")
check(r.json["pid"] != w["pid"], "served by a new worker")

# --- the request timeout: 504 --------------------------------------------------------------------
expect(d.request("PUT", "/v1/functions/crash", body=fn("crash", max_workers=1, min_workers=1,
                                                          timeout_s=0.5)), 200, what="PUT")
t0 = time.time()
r = expect(invoke("crash", {"kernels": 1, "kernel_us": 3000000}, token=A), 504, code="TIMEOUT",
           what="a call past timeout_s")
check(time.time() - t0 < 3, "504 after about timeout_s, not the kernel's 3 s")

# --- PUT: 404, 403, 400 naming the field or the name; a changed command replaces the worker
# once it is idle (a new lease), new prices bill later calls only --------------------------------
put = fn("crash", command=[WORKER, "--kernels", "3", "--kernel-us", "200"], max_workers=1,
         min_workers=1, timeout_s=10, price_per_request=1)
expect(d.request("PUT", "/v1/functions/nope", body={k: v for k, v in put.items() if k != "name"}),
       404, what="PUT an unknown function (name is optional in a PUT)")
expect(d.request("PUT", "/v1/functions/crash", body=put, token=A, tcp=True), 403,
       what="a tenant PUTs")
expect(d.request("PUT", "/v1/functions/crash", body=dict(put, name="other")), 400,
       code="INVALID", contains="'name'", what="PUT with another name")
expect(d.request("PUT", "/v1/functions/crash", body=dict(put, queue_max=-1)), 400,
       code="INVALID", contains="queue_max", what="PUT a bad field")
old = get_fn("crash")["workers"][0]
check(old["current"], "a PUT of timeout_s alone keeps the worker current: %r" % old)
r = expect(d.request("PUT", "/v1/functions/crash", body=put), 200, what="PUT a new command")
check(r.json["command"][1:3] == ["--kernels", "3"] and r.json["price_per_request"] == 1,
      "the PUT's answer: %r" % r.json)
new = wait(lambda: [x for x in get_fn("crash")["workers"]
                    if x["state"] == "ready" and x["current"] and x["pid"] != old["pid"]],
           "the old command's worker replaced once idle", within=15)[0]
check(new["lease"] != old["lease"], "the new worker has a lease of its own")
wait(lambda: lease_state(old["lease"]) == "released", "the replaced worker's lease released")
r = expect(invoke("crash", {}, token=B), 200, what="a call after the PUT")
check(r.json["kernels"] == 3, "the new command serves it: %r" % r.json)
rows = fn_rows(expect(d.get("/v1/usage"), 200).json, "crash")
check(rows["team-b"]["requests"] == 2 and abs(rows["team-b"]["bill"] - 1.0) < 1e-9,
      "team-b's 2 calls: the one before the PUT at price 0, the one after at 1: %r" % rows)

# --- GPU time per call from the arbiter (timeslice): the call's kernels, not its wall time ------
expect(d.post("/v1/functions", fn("ts", lease={"mode": "timeslice", "memory": "1GiB"},
                                  min_workers=1)), 201, what="register a timeslice function")
wait(lambda: [w for w in get_fn("ts")["workers"] if w["state"] == "ready"], "ts ready")
for i in range(3):
    r = expect(invoke("ts", {"kernels": 4, "kernel_us": 5000, "host_us": 40000}, token=B), 200,
               what="a timeslice call")
    gpu = float(r.headers["X-Gpuplex-Gpu-Ms"])
    # the turns the worker held during the call: its kernels at least, not the host work
    # before them (the turn is taken at the first launch), at most the call's wall time
    check(0.75 * r.json["gpu_ms"] <= gpu <= r.json["wall_ms"] - 15,
          "X-Gpuplex-Gpu-Ms %.3f is the arbiter's GPU time of the call (kernels %.3f ms, "
          "wall %.3f ms)" % (gpu, r.json["gpu_ms"], r.json["wall_ms"]))
expect(d.delete("/v1/functions/ts"), 200, what="DELETE ts")

# --- no worker can start: 503 at once, saying why (not a 504 after timeout_s) ------------------
expect(d.post("/v1/functions", fn("missing", command=["/nonexistent/worker"], timeout_s=20)), 201,
       what="register a function whose worker does not exist")
t0 = time.time()
expect(invoke("missing", {}, token=A), 503, code="UNAVAILABLE", contains="not found",
       what="a call no worker can serve")
check(time.time() - t0 < 5, "503 at once")
check("not found" in (get_fn("missing")["start_error"] or ""), "start_error says why")
expect(d.delete("/v1/functions/missing"), 200, what="DELETE missing")
# a worker that exits before it is ready: 503 with the reason, and no tight restart loop
expect(d.post("/v1/functions", fn("false", command=["/bin/false"], timeout_s=20)), 201,
       what="register a function whose worker exits at once")
t0 = time.time()
expect(invoke("false", {}, token=A), 503, code="UNAVAILABLE", contains="exited with status 1",
       what="a call whose worker exits before it is ready")
check(time.time() - t0 < 5, "503 at once")
time.sleep(1)
f = get_fn("false")
check(f["restarts"] <= 3, "failed starts back off: %r" % f)
expect(d.delete("/v1/functions/false"), 200, what="DELETE false")

# --- logs, /metrics ------------------------------------------------------------------------------
lg = expect(d.get("/v1/functions/crash/logs?tail=50"), 200).json
check(any("ready" in x["logs"] for x in lg["workers"]), "the workers' logs: %r" % lg)
expect(d.get("/v1/functions/crash/logs", token=A, tcp=True), 403, what="a tenant reads logs")
m = expect(d.get("/metrics"), 200).text
for s in ('gpuplex_function_requests_total{function="load",status="200"} %d' % (ok[A] + ok[B]),
          'gpuplex_function_requests_total{function="load",status="429"} %d' % n429,
          'gpuplex_function_request_duration_seconds_count{function="load"} %d' % (ok[A] + ok[B]),
          'gpuplex_function_queue_depth{function="load"} 0',
          'gpuplex_function_workers{function="crash",state="ready"} 1',
          'gpuplex_function_cold_starts_total{function="echo"} 1'):
    check(s in m, "/metrics lacks %r:\n%s" % (s, "\n".join(
        l for l in m.splitlines() if "function" in l)))
# the latency histogram: every load call took its 100 ms kernel at least, so none is in the
# buckets up to 50 ms and all are in +Inf; the sum is at least 0.1 s a call
H = 'gpuplex_function_request_duration_seconds'
n_ok = ok[A] + ok[B]
check(metric(m, H + '_bucket{function="load",le="0.05"}') == 0 and
      metric(m, H + '_bucket{function="load",le="+Inf"}') == n_ok and
      metric(m, H + '_sum{function="load"}') >= 0.1 * n_ok,
      "the latency histogram of load:\n" + "\n".join(l for l in m.splitlines() if "load" in l))

# --- restart: the registry stays, min_workers come back; DELETE ends the workers' leases ------
leases = [w["lease"] for w in get_fn("crash")["workers"]]
d.stop()
for lid in leases:
    pass
d.start()
check({f["name"] for f in d.get("/v1/functions").json["functions"]} == {"echo", "load", "crash"},
      "the functions after a restart")
w = wait(lambda: [x for x in get_fn("crash")["workers"] if x["state"] == "ready"],
         "min_workers after the restart")[0]
for lid in leases:
    check(lease_state(lid) == "released", "a worker lease of the stopped daemon: %s" % lid)
r = expect(d.delete("/v1/functions/crash"), 200, what="DELETE crash")
wait(lambda: lease_state(w["lease"]) == "released", "the removed function's worker lease")
expect(d.get("/v1/functions/crash"), 404, what="GET a removed function")
expect(invoke("crash", {}, token=A), 404, what="calling a removed function")
d.stop()
print("ok")
