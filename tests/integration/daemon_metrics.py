"""Per-lease and per-MIG-instance series of gpuplexd's /metrics
(docs/monitoring.md, "Metrics"), against a real daemon on a simulated
2xH100 node with metrics_labels = snake:
- two timeslice leases of weights 1 and 3 on GPU 0, each running
  gpuplex-burn, show a GPU utilization near 25 % / 75 % over a scrape
  interval of ~3 s (gpuplex_lease_gpu_utilization, and DCGM_FI_DEV_GPU_UTIL
  with lease/tenant labels beside the per-GPU series), and the lighter one
  waited for its turn (gpuplex_lease_wait_ratio);
- a mig lease on GPU 1 has its own series: its quota is its instance's
  memory (so `sum by (tenant)` counts it), its memory used is the instance's,
  and the instance's series (gpuplex_mig_instance_memory_*_bytes,
  DCGM_FI_DEV_FB_USED/FREE with gpu_i_id) carry its lease; `gpuplex lease ls`
  shows the same quota, memory used and processes, the lease's JSON the same
  used_bytes, and no utilization (the driver has none per instance);
- a vgpu lease without a cap running gpuplex-burn has a utilization from
  NVML's per-process figures (gpu_util_source "nvml");
- `promtool check metrics` accepts the output (exit 0);
- a real Prometheus scrapes it and /api/v1/query returns the per-lease and
  per-instance series.
prometheus and promtool come with scripts/install-deps test."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from gpxd import BUILD, GPX, Daemon, Prometheus, _die_with_parent, check, cli, expect, fail

T0 = time.monotonic()
GiB, MiB = 1 << 30, 1 << 20
for tool in ("prometheus", "promtool"):
    check(shutil.which(tool), "%s not installed (scripts/install-deps test installs it)" % tool)
burn = os.path.join(BUILD, "bin", "gpuplex-burn")

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """[(name, {labels}, value)] of every sample line."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        check(m, "not a sample line: %r" % line)
        out.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def series(samples, name, **labels):
    return [(l, v) for n, l, v in samples if n == name and
            all(l.get(k) == str(x) for k, x in labels.items())]


def one(samples, name, **labels):
    s = series(samples, name, **labels)
    check(len(s) == 1, "one %s%r, got %r" % (name, labels, s))
    return s[0][1]


d = Daemon(args=["--set", "metrics_labels=snake", "--set", "metrics_public=true"],
           listen=True).start()
env = dict(os.environ, GPUPLEX_SERVER=d.sock, GPUPLEX_SIM=os.path.join(d.state, "node.sim"))


def stop(p):
    """Ends a `gpuplex run` (SIGTERM, which it forwards to its workload) and waits for it."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def scrape():
    return expect(d.get("/metrics", tcp=True), 200, what="GET /metrics").text


# --- a 1:3 time-sliced pair on GPU 0
light = d.lease({"mode": "timeslice", "weight": 1, "gpu": 0})
heavy = d.lease({"mode": "timeslice", "weight": 3, "gpu": 0})
burns = [subprocess.Popen([GPX, "run", "--lease", l["id"], "--", burn, "--duration-ms", "60000",
                           "--kernel-ns", "2000000"], env=env, stdout=subprocess.DEVNULL,
                          preexec_fn=_die_with_parent) for l in (light, heavy)]
try:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        turns = [d.get("/v1/leases/" + l["id"]).json["turns"] for l in (light, heavy)]
        if min(turns) >= 3:
            break
        for p in burns:
            check(p.poll() is None, "gpuplex-burn exited %r early" % p.returncode)
        time.sleep(0.1)
    check(min(turns) >= 3, "both burns take turns: %r" % turns)
    scrape()  # the interval below starts here
    t1 = time.monotonic()
    time.sleep(3)
    text = scrape()
    interval = time.monotonic() - t1
    s = parse(text)
    u = [one(s, "gpuplex_lease_gpu_utilization", lease=l["id"], tenant="admin",
             mode="timeslice", gpu=0) for l in (light, heavy)]
    print("1:3 pair over %.2f s: utilization %.3f / %.3f (sum %.3f)" %
          (interval, u[0], u[1], u[0] + u[1]))
    check(0.15 <= u[0] <= 0.35 and 0.65 <= u[1] <= 0.85,
          "1:3 pair near 25 %% / 75 %%: %r" % u)
    # the same figures as dcgm-exporter's name, in %, with the GPU's labels and the lease's
    for l, x in zip((light, heavy), u):
        (lab, v), = series(s, "DCGM_FI_DEV_GPU_UTIL", lease=l["id"])
        check(abs(v - 100 * x) < 1e-6 and lab["tenant"] == "admin" and lab["gpu"] == "0" and
              lab["uuid"].startswith("GPU-") and lab["model_name"] == "NVIDIA H100 80GB HBM3",
              "per-lease DCGM_FI_DEV_GPU_UTIL %r %r" % (lab, v))
    per_gpu = [lab for lab, _ in series(s, "DCGM_FI_DEV_GPU_UTIL") if "lease" not in lab]
    check(sorted(lab["gpu"] for lab in per_gpu) == ["0", "1"],
          "the per-GPU series stay as they were, without a lease label: %r" % per_gpu)
    w = [one(s, "gpuplex_lease_wait_ratio", lease=l["id"]) for l in (light, heavy)]
    check(w[0] > 0.1, "the weight-1 lease waited for its turns: %r" % w)
finally:
    for p in burns:
        stop(p)

# --- a mig lease on GPU 1
expect(d.post("/v1/gpus/1/mig", {"enabled": True}), 200, what="enable MIG on GPU 1")
m = d.lease({"mode": "mig", "mig_profile": "1g.10gb", "gpu": 1})
inst = m["mig"]["memory_bytes"]
check(inst > 9 * GiB, "a 1g.10gb instance: %r" % m["mig"])
holder = subprocess.Popen([GPX, "run", "--lease", m["id"], "--", burn, "--alloc-mib", "1024",
                           "--hold-ms", "60000"], env=env, stdout=subprocess.DEVNULL,
                          preexec_fn=_die_with_parent)
try:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        s = parse(scrape())
        used = series(s, "gpuplex_lease_memory_used_bytes", lease=m["id"])
        if used and used[0][1] >= GiB:
            break
        check(holder.poll() is None,
              "gpuplex-burn in the MIG instance exited %r" % holder.returncode)
        time.sleep(0.1)
    check(one(s, "gpuplex_lease_memory_quota_bytes", lease=m["id"], tenant="admin", mode="mig",
              gpu=1) == inst, "a mig lease's quota is its instance's memory")
    check(GiB <= one(s, "gpuplex_lease_memory_used_bytes", lease=m["id"]) < inst,
          "a mig lease's memory used is its instance's (1 GiB allocated)")
    check(not series(s, "gpuplex_lease_gpu_utilization", lease=m["id"]) and
          not series(s, "DCGM_FI_DEV_GPU_UTIL", lease=m["id"]),
          "no utilization for a MIG instance: the driver has none")
    check(not series(s, "DCGM_FI_DEV_GPU_UTIL", gpu=1),
          "no utilization for a GPU in MIG mode (NVML: NOT_SUPPORTED), never a made-up 0")
    gi = str(m["mig"]["gpu_instance_id"])
    ci = str(m["mig"]["compute_instance_id"])
    tot = series(s, "gpuplex_mig_instance_memory_total_bytes", gpu=1, gpu_instance=gi)
    check(len(tot) == 1 and tot[0][1] == inst and tot[0][0] ==
          {"gpu": "1", "gpu_instance": gi, "compute_instance": ci, "profile": "1g.10gb",
           "lease": m["id"], "tenant": "admin"}, "the instance's series: %r" % tot)
    check(GiB <= one(s, "gpuplex_mig_instance_memory_used_bytes", lease=m["id"]) < inst,
          "instance memory used")
    fb_used = one(s, "DCGM_FI_DEV_FB_USED", gpu=1, gpu_i_id=gi, gpu_i_profile="1g.10gb",
                  lease=m["id"], tenant="admin")
    fb_free = one(s, "DCGM_FI_DEV_FB_FREE", gpu=1, gpu_i_id=gi, lease=m["id"])
    check(fb_used >= 1024 and fb_used + fb_free == inst >> 20,
          "DCGM_FI_DEV_FB_USED/FREE of the instance (MiB): %r + %r" % (fb_used, fb_free))
    # every tenant's memory, MIG included: what the operator guide's sum by (tenant) adds
    quota = sum(v for _, v in series(s, "gpuplex_lease_memory_quota_bytes", tenant="admin"))
    check(quota == inst, "timeslice leases without a quota hold none; the mig lease its "
          "instance: %r" % quota)
    # `gpuplex lease ls` says the same
    ls = cli("lease", "ls", env={"GPUPLEX_SERVER": d.sock}).stdout
    row = [r for r in ls.splitlines() if r.startswith(m["id"])]
    check(row and row[0].split()[3:5] == ["%.1f" % (inst / GiB), "GiB"],
          "lease ls QUOTA of the mig lease is its instance's memory: %r" % ls)
    # ... and USED, and the lease's JSON: one figure (the engine's), the instance's from NVML
    check(row and row[0].split()[5:7] == ["1.0", "GiB"] and row[0].split()[10] == "1",
          "lease ls USED / PROCS of the mig lease are its instance's: %r" % ls)
    j = d.get("/v1/leases/" + m["id"]).json
    check(j["used_source"] == "nvml" and j["used_bytes"] ==
          one(s, "gpuplex_lease_memory_used_bytes", lease=m["id"]) and
          j["gpu_util_source"] is None and j["gpu_util_pct"] is None and
          j["held_memory_bytes"] == inst,
          "the mig lease's JSON agrees with /metrics, utilization not known: %r" % j)
    text = scrape()
finally:
    stop(holder)

# --- promtool
p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                   text=True, timeout=30)
check(p.returncode == 0, "promtool check metrics: rc %d: %s" % (p.returncode,
                                                               p.stdout + p.stderr))

# --- a real Prometheus
prom = Prometheus("""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: gpuplexd
    static_configs:
      - targets: ['127.0.0.1:%d']
""" % d.port)
query = prom.query

try:
    got = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not got:
        check(prom.proc.poll() is None, "prometheus exited %r" % prom.proc.returncode)
        try:
            got = query("gpuplex_lease_gpu_utilization")
        except OSError:
            pass
        time.sleep(0.5)
    ids = sorted(r["metric"]["lease"] for r in got)
    check(ids == sorted([light["id"], heavy["id"]]),
          "Prometheus has the timeslice leases' utilization: %r" % got)
    q = query('gpuplex_mig_instance_memory_total_bytes{lease="%s"}' % m["id"])
    check(len(q) == 1 and float(q[0]["value"][1]) == inst, "MIG instance in Prometheus: %r" % q)
    q = query("sum by (tenant) (gpuplex_lease_memory_quota_bytes)")
    check(len(q) == 1 and float(q[0]["value"][1]) == inst, "sum by (tenant): %r" % q)
    # GPU 1 is in MIG mode now: the driver gives no utilization there, so only GPU 0 has one
    q = query('DCGM_FI_DEV_GPU_UTIL{lease=""}')
    check([r["metric"]["gpu"] for r in q] == ["0"],
          "per-GPU series selected by lease=\"\", none for the MIG-mode GPU: %r" % q)
finally:
    prom.stop()

# --- a vgpu lease without a cap: no arbiter meters it; its utilization is NVML's per-process
# figure of its processes (the simulator shares the GPU's figure among them)
for l in (light, heavy):
    expect(d.delete("/v1/leases/" + l["id"]), 200, what="release " + l["id"])
v = d.lease({"mode": "vgpu", "gpu": 0, "memory": "4G"})
vb = subprocess.Popen([GPX, "run", "--lease", v["id"], "--", burn, "--duration-ms", "60000",
                       "--kernel-ns", "2000000"], env=env, stdout=subprocess.DEVNULL,
                      preexec_fn=_die_with_parent)
try:
    deadline = time.monotonic() + 30
    got = []
    while time.monotonic() < deadline:
        got = series(parse(scrape()), "gpuplex_lease_gpu_utilization", lease=v["id"])
        if got and got[0][1] > 0.5:
            break
        check(vb.poll() is None, "gpuplex-burn in the vgpu lease exited %r" % vb.returncode)
        time.sleep(0.2)
    check(got and got[0][1] > 0.5, "an uncapped vgpu lease's utilization from NVML: %r" % got)
    j = d.get("/v1/leases/" + v["id"]).json
    check(j["gpu_util_source"] == "nvml" and j["gpu_util_pct"] > 50,
          "its JSON says where the figure comes from: %r" % j)
finally:
    stop(vb)

d.stop()
print("ok (%.1f s)" % (time.monotonic() - T0))
