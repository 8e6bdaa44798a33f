"""A real Prometheus server scrapes gpuplexd's /metrics (with an admin token,
over loopback TCP) and the dcgm-exporter series and gpuplex_lease_* series
arrive with their labels; `promtool check metrics` passes: with the default
dcgm-exporter label spelling only the linter's camelCase note on modelName
(dcgm-exporter's own label) remains, with metrics_labels=snake it is clean.
A lease's utilization is a DCGM_FI_DEV_GPU_UTIL series with a lease label beside
the per-GPU ones, and metrics_dcgm_leases=false leaves it out.
Exit 77 (skipped) when prometheus/promtool are not installed
(scripts/install-deps test installs them)."""
import shutil
import subprocess
import sys
import time

from gpxd import Daemon, Prometheus, check, expect, fail

if not shutil.which("prometheus") or not shutil.which("promtool"):
    print("prometheus/promtool not installed: skipped (scripts/install-deps test)")
    sys.exit(77)


def promtool(text):
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).strip()


d = Daemon(listen=True, args=["--set", "hostname=node-7"]).start()
token = expect(d.post("/v1/tenants", {"name": "prometheus", "role": "admin"}), 201).json["token"]
lease = d.lease({"mode": "vgpu", "memory": "4G"})
x = d.lease({"mode": "exclusive"})

text = expect(d.get("/metrics", token=token, tcp=True), 200).text
rc, out = promtool(text)
problems = [l for l in out.splitlines() if l.strip()]
check(rc in (0, 3), "promtool check metrics: rc %d: %s" % (rc, out))
others = [l for l in problems if "modelName" not in l and "camelCase" not in l]
check(not others, "promtool problems besides dcgm's modelName label: %s" % others)
check(all(l.startswith("DCGM_FI_DEV_") for l in problems), "only DCGM series flagged: %s" % out)
rc, out = promtool(text.replace("modelName=", "model_name="))
check(rc == 0, "modelName is the only lint problem, yet: rc %d: %s" % (rc, out))

s = Daemon("snake", args=["--set", "metrics_labels=snake", "--set", "metrics_public=true",
                          "--set", "metrics_dcgm_leases=false"], listen=True).start()
ts = s.lease({"mode": "timeslice", "memory": "1G"})
stext = expect(s.get("/metrics", tcp=True), 200).text  # metrics_public: no token needed
rc, out = promtool(stext)
check(rc == 0, "promtool on snake labels: rc %d: %s" % (rc, out))
check('model_name="NVIDIA H100 80GB HBM3"' in stext, "snake labels")
# metrics_dcgm_leases=false: the DCGM families per GPU only; the lease's utilization elsewhere
util = [l for l in stext.splitlines() if l.startswith("DCGM_FI_DEV_GPU_UTIL{")]
check(len(util) == 2 and not any("lease=" in l for l in util), "per-GPU only: %r" % util)
check('gpuplex_lease_gpu_utilization{lease="%s"' % ts["id"] in stext, "lease utilization")
s.stop()

# --- Prometheus scrapes it
prom = Prometheus("""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: gpuplexd
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials: %s
    static_configs:
      - targets: ['127.0.0.1:%d']
""" % (token, d.port))
query = prom.query

try:
    up = None
    t0 = time.time()
    while time.time() - t0 < 30:
        if prom.proc.poll() is not None:
            fail("prometheus exited %d" % prom.proc.returncode)
        try:
            up = query('up{job="gpuplexd"}')
            if up and up[0]["value"][1] == "1":
                break
        except OSError:
            pass
        time.sleep(0.5)
    check(up and up[0]["value"][1] == "1", "Prometheus never scraped gpuplexd: %r" % up)
    print("first successful scrape after %.1f s" % (time.time() - t0))
    fb = query("DCGM_FI_DEV_FB_FREE")
    check(len(fb) == 2, "two GPUs' FB_FREE: %r" % fb)
    labels = fb[0]["metric"]
    for k, v in (("modelName", "NVIDIA H100 80GB HBM3"), ("Hostname", "node-7")):
        check(labels.get(k) == v, "label %s: %r" % (k, labels))
    check(labels.get("UUID", "").startswith("GPU-") and labels.get("gpu") in ("0", "1"),
          "labels %r" % labels)
    for name in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_TEMP",
                 "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_SM_CLOCK"):
        check(len(query(name + '{lease=""}')) == 2, "%s for both GPUs" % name)
    # beside them, each lease's utilization under dcgm-exporter's name: the exclusive lease's
    # is its GPU's; the uncapped vgpu lease's is its processes' (NVML; none here: 0)
    every = query('DCGM_FI_DEV_GPU_UTIL{lease!=""}')
    check(sorted(e["metric"]["lease"] for e in every) == sorted([x["id"], lease["id"]]),
          "a GPU_UTIL series per lease: %r" % every)
    u = [e for e in every if e["metric"]["lease"] == x["id"]]
    check(u[0]["metric"]["modelName"] == "NVIDIA H100 80GB HBM3", "per-lease labels: %r" % u)
    v = [e for e in every if e["metric"]["lease"] == lease["id"]]
    check(v[0]["value"][1] == "0", "an idle vgpu lease's utilization: %r" % v)
    g = query('DCGM_FI_DEV_GPU_UTIL{lease="",gpu="%d"}' % x["gpu"]["index"])
    check(u[0]["value"][1] == g[0]["value"][1], "an exclusive lease's is its GPU's: %r %r" % (u, g))
    q = query('gpuplex_lease_memory_quota_bytes{lease="%s"}' % lease["id"])
    check(len(q) == 1 and q[0]["value"][1] == str(4 << 30) and
          q[0]["metric"]["tenant"] == "admin", "lease quota in Prometheus: %r" % q)
    s2 = query("sum by (tenant) (gpuplex_lease_memory_quota_bytes)")
    check(len(s2) == 1, "per-tenant sums: %r" % s2)
    check(len(query("gpuplex_lease_gpu_seconds_total")) == 2, "gpu seconds per lease")
finally:
    prom.stop()
d.stop()
print("ok")
