"""Reconciliation. While running: a lease whose owner processes have all exited
is released after the grace period, one whose owner lives is kept, one without
owners is never touched. At start: an active lease whose region vanished (a
reboot empties /run) gets it back; a region left by a released lease is
removed; a region gpuplexd did not make (the CLI's direct leases) is left."""
import os
import shutil
import subprocess
import time

from gpxd import GPX, Daemon, _die_with_parent, check, expect

d = Daemon(args=["--grace", "1s", "--set", "reconcile_interval=200ms"]).start()
owner = subprocess.Popen(["sleep", "300"], preexec_fn=_die_with_parent)
keeper = subprocess.Popen(["sleep", "300"], preexec_fn=_die_with_parent)
gone = d.lease({"mode": "timeslice", "owner_pids": [owner.pid]})
kept = d.lease({"mode": "timeslice", "owner_pids": [keeper.pid, owner.pid]})
free = d.lease({"mode": "vgpu", "memory": "1G"})
check(gone["owner_pids"] == [owner.pid], "owner_pids echoed")
time.sleep(1.5)
check(expect(d.get("/v1/leases/" + gone["id"]), 200).json["state"] == "active",
      "released while its owner lives")
owner.kill()
owner.wait()
t0 = time.time()
while time.time() - t0 < 15:
    st = expect(d.get("/v1/leases/" + gone["id"]), 200).json
    if st["state"] == "released":
        break
    time.sleep(0.2)
waited = time.time() - t0
check(st["state"] == "released", "not released %.1f s after its owner exited" % waited)
check(st["release_reason"] == "owner processes exited", "reason: %r" % st)
check(waited >= 0.8, "released before the 1 s grace: %.2f s" % waited)
check(expect(d.get("/v1/leases/" + kept["id"]), 200).json["state"] == "active",
      "a lease with one live owner was released")
check(expect(d.get("/v1/leases/" + free["id"]), 200).json["state"] == "active",
      "a lease without owners was released")
check(gone["id"] not in d.regions(), "region of the reaped lease remains")
m = expect(d.get("/metrics"), 200).text
check("gpuplex_leases_reaped_total 1" in m, "reaped counter")

# a pid that is reused by another process is not the owner: start time tells them apart
keeper.kill()
keeper.wait()
t0 = time.time()
while time.time() - t0 < 15:
    if expect(d.get("/v1/leases/" + kept["id"]), 200).json["state"] == "released":
        break
    time.sleep(0.2)
check(expect(d.get("/v1/leases/" + kept["id"]), 200).json["state"] == "released",
      "lease whose owners all exited is kept")

# --- start-up
lost = d.lease({"mode": "vgpu", "memory": "2G"})
doomed = d.lease({"mode": "vgpu", "memory": "3G"})
env = dict(os.environ, GPUPLEX_RUN_DIR=d.run, GPUPLEX_SIM=os.path.join(d.state, "node.sim"))
env.pop("GPUPLEX_SERVER", None)
d.stop()
leases = os.path.join(d.run, "leases")
saved = os.path.join(d.dir, "saved")
os.makedirs(saved)
for f in os.listdir(leases):
    if f.startswith(doomed["id"]):
        shutil.copy(os.path.join(leases, f), saved)
for f in os.listdir(leases):
    if f.startswith(lost["id"]):
        os.unlink(os.path.join(leases, f))
# a region the daemon never made, by the CLI's direct path
p = subprocess.run([GPX, "lease", "create", "--gpu", "1", "--memory", "1G"], env=env,
                   capture_output=True, text=True, timeout=60)
check(p.returncode == 0, "gpuplex lease create: %s" % p.stderr)
foreign = p.stdout.strip()
d.start()
check(lost["id"] in d.regions(), "the region of an active lease was not re-created")
l = expect(d.get("/v1/leases/" + lost["id"]), 200).json
check(l["state"] == "active" and l["memory_bytes"] == 2 << 30, "re-created lease %r" % l)
expect(d.delete("/v1/leases/" + doomed["id"]), 200)
d.stop()
for f in os.listdir(saved):  # a crash between commit and region removal leaves this behind
    shutil.copy(os.path.join(saved, f), leases)
check(doomed["id"] in d.regions(), "setup")
d.start()
check(doomed["id"] not in d.regions(), "a released lease's region was not removed at start")
if foreign:
    check(foreign in d.regions(), "a region gpuplexd did not make was removed")
    ids = {l["id"] for l in expect(d.get("/v1/leases"), 200).json}
    check(foreign not in ids, "a foreign region became a lease")
check(d.regions() - {foreign} == {free["id"], lost["id"]}, "regions: %r" % d.regions())
d.stop()
print("ok")
