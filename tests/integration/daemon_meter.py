"""Metering: a workload under a vgpu lease (gpuplex-burn through the
interposer on the simulated driver) shows up in /v1/usage as quota held,
memory really used and peak; exclusive leases count their wall time as GPU
time; windows cut usage; tenant totals are the sum of their leases; metering
survives a restart."""
import os
import subprocess
import time

from gpxd import BUILD, GPX, Daemon, _die_with_parent, check, cli, expect

GiB = 1 << 30
burn = os.path.join(BUILD, "bin", "gpuplex-burn")
d = Daemon(args=["--set", "meter_interval=200ms"]).start()
env = {"GPUPLEX_SERVER": d.sock, "GPUPLEX_SIM": os.path.join(d.state, "node.sim")}
have_burn = os.path.exists(burn) and os.path.exists(os.path.join(BUILD, "lib",
                                                                  "libgpuplex-cuda.so"))
t_start = time.time()
if have_burn:
    p = cli("run", "--mode", "vgpu", "--memory", "2G", "--label", "w=burn", "--", burn,
            "--alloc-mib", "3072", "--chunk-mib", "256", "--hold-ms", "1500", "--json", env=env)
    check('"allocated_mib": 2048' in p.stdout and '"refused": 1' in p.stdout,
          "the quota held the workload at 2 GiB: " + p.stdout)
    # a short workload: its peak is kept even though nothing is held at any sample
    cli("run", "--mode", "timeslice", "--memory", "1G", "--label", "w=short", "--", burn,
        "--alloc-mib", "1024", env=env)
    # two timeslice leases contending: GPU time granted by the arbiter, and waits
    e = dict(os.environ, **env)
    procs = [subprocess.Popen([GPX, "run", "--mode", "timeslice", "--label", "w=ts%d" % i, "--",
                               burn, "--kernels", "100", "--kernel-ns", "2000000"], env=e,
                              stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent)
             for i in range(2)]
    for p in procs:
        check(p.wait(timeout=60) == 0, "timeslice burn failed")
x = d.lease({"mode": "exclusive"})
time.sleep(1.0)
expect(d.delete("/v1/leases/" + x["id"]), 200)
t_mid = time.time()
time.sleep(0.3)
v = d.lease({"mode": "vgpu", "memory": "4G"})
time.sleep(0.5)

u = expect(d.get("/v1/usage"), 200).json
by = {l["id"]: l for l in u["leases"]}
ex = by[x["id"]]
check(0.9 < ex["lease_seconds"] < 5 and abs(ex["gpu_seconds"] - ex["lease_seconds"]) < 1e-6,
      "exclusive: GPU time is the time held: %r" % ex)
gpu_gib = d.get("/v1/gpus").json[x["gpu"]["index"]]["memory_total_bytes"] / GiB
check(abs(ex["memory_quota_gib_seconds"] - ex["lease_seconds"] * gpu_gib) < 0.01 * gpu_gib,
      "exclusive holds the whole GPU's memory: %r" % ex)
vv = by[v["id"]]
check(vv["state"] == "active" and vv["lease_seconds"] > 0.4, "active lease metered to now")
check(abs(vv["memory_quota_gib_seconds"] - 4 * vv["lease_seconds"]) < 0.05, "quota GiB-s %r" % vv)
if have_burn:
    ts = [l for l in u["leases"] if l["mode"] == "timeslice" and l["memory_peak_bytes"] == 0]
    check(len(ts) == 2, "two timeslice runs: %r" % ts)
    for l in ts:  # 100 kernels of 2 ms each
        check(0.14 < l["gpu_seconds"] < 0.4, "GPU time granted to a timeslice lease: %r" % l)
    check(sum(l["wait_seconds"] for l in ts) > 0.05, "contending leases waited: %r" % ts)
    short = [l for l in u["leases"] if l["mode"] == "timeslice" and l["memory_peak_bytes"]][0]
    check(short["memory_peak_bytes"] == GiB, "peak of a short workload: %r" % short)
    b = [l for l in u["leases"] if l["mode"] == "vgpu" and l["state"] == "released"][0]
    check(b["memory_peak_bytes"] == 2 * GiB, "peak of the burn lease: %r" % b)
    check(b["memory_used_gib_seconds"] > 1.0, "2 GiB held ~1.5 s: %r" % b)
    check(b["memory_used_gib_seconds"] <= b["memory_quota_gib_seconds"] + 0.05, "used <= quota")
t = u["tenants"][0]
for k in ("lease_seconds", "gpu_seconds", "memory_quota_gib_seconds", "memory_used_gib_seconds"):
    check(abs(t[k] - sum(l[k] for l in u["leases"])) < 1e-6, "tenant %s is the sum" % k)
check(t["leases"] == len(u["leases"]), "tenant lease count")

# windows: before everything, and a slice that cuts the exclusive lease
w0 = expect(d.get("/v1/usage?to=%f" % (t_start - 5)), 200).json
check(w0["leases"] == [], "nothing before the start")
w1 = expect(d.get("/v1/usage?from=%f&to=%f" % (t_mid - 0.5, t_mid + 0.1)), 200).json
exw = [l for l in w1["leases"] if l["id"] == x["id"]][0]
check(0.3 < exw["lease_seconds"] < 0.7, "window cuts the exclusive lease: %r" % exw)
check(v["id"] not in {l["id"] for l in w1["leases"]}, "a lease after the window is out")

# metering lives in the database
before = {l["id"]: l for l in expect(d.get("/v1/usage?to=%f" % (t_mid + 0.1)), 200).json["leases"]}
d.stop()
d.start()
after = {l["id"]: l for l in expect(d.get("/v1/usage?to=%f" % (t_mid + 0.1)), 200).json["leases"]}
check(before.keys() == after.keys(), "the same leases after a restart")
for k in before:
    for f in ("lease_seconds", "memory_used_gib_seconds", "memory_peak_bytes"):
        check(abs(before[k][f] - after[k][f]) < 1e-6, "%s %s changed across restart" % (k, f))
m = expect(d.get("/metrics"), 200).text
check('gpuplex_lease_memory_quota_bytes{lease="%s",tenant="admin",mode="vgpu",gpu="0"} %d'
      % (v["id"], 4 * GiB) in m, "metrics after restart")
d.stop()
print("ok")
