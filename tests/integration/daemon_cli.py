"""The CLI as gpuplexd's client: `gpuplex lease create|ls|rm` and `gpuplex run`
go through the daemon when one is configured (--server / GPUPLEX_SERVER) and
keep their direct path otherwise (GPUPLEX_SERVER=none forces it);
`gpuplex run --mode ... -- CMD` holds a lease exactly for the life of CMD and
passes its exit status through."""
import json
import os
import signal
import subprocess
import time

from gpxd import GPX, TMP, Daemon, _die_with_parent, check, cli, expect

d = Daemon().start()
sim = os.path.join(d.state, "node.sim")
env = {"GPUPLEX_SERVER": d.sock, "GPUPLEX_SIM": sim}

# lease create / ls / rm through the daemon
p = cli("lease", "create", "--memory", "2G", "--label", "team=ml", env=env)
lid = p.stdout.strip()
check(lid.startswith("l-") and "for tenant admin" in p.stderr, "create: %s %s" % (p.stdout, p.stderr))
l = expect(d.get("/v1/leases/" + lid), 200).json
check(l["mode"] == "vgpu" and l["memory_bytes"] == 2 << 30 and l["labels"] == {"team": "ml"},
      "created through the daemon: %r" % l)
p = cli("lease", "create", "--mode", "timeslice", "--gpu", "1", "--weight", "5", "--json",
        env=env)
j = json.loads(p.stdout)
check(j["gpu"]["index"] == 1 and j["weight"] == 5 and j["env"]["GPUPLEX_LEASE"] == j["id"],
      "--json prints the daemon's lease: %r" % j)
p = cli("lease", "ls", env=env)
check(lid in p.stdout and j["id"] in p.stdout and "admin" in p.stdout, "ls:\n" + p.stdout)
p = cli("lease", "ls", "--json", env=env)
check(len(json.loads(p.stdout)) == 2, "ls --json")
p = cli("lease", "create", "--mode", "vgpu", "--memory", "500G", env=env, expect_rc=7)
check("largest that fits" in p.stderr, "no-fit message: " + p.stderr)
cli("lease", "create", "--mode", "vgpu", env=env, expect_rc=2)
cli("lease", "rm", j["id"], env=env)
cli("lease", "rm", j["id"], env=env, expect_rc=5)
cli("lease", "rm", "../etc", env=env, expect_rc=2)
check(expect(d.get("/v1/leases/" + j["id"]), 200).json["state"] == "released", "rm released it")

# --server beats the environment; "none" means the direct path
p = cli("lease", "ls", "--server", d.sock, env={"GPUPLEX_SERVER": "/nonexistent.sock"})
check(lid in p.stdout, "--server")
cli("lease", "ls", env={"GPUPLEX_SERVER": os.path.join(TMP, "nope.sock")}, expect_rc=9)
direct = {"GPUPLEX_SERVER": "none", "GPUPLEX_SIM": sim, "GPUPLEX_RUN_DIR": os.path.join(TMP, "r2"),
          "GPUPLEX_STATE_DIR": os.path.join(TMP, "s2")}
p = cli("lease", "create", "--gpu", "0", "--memory", "1G", env=direct)
did = p.stdout.strip()
check(os.path.exists(os.path.join(TMP, "r2", "leases", did + ".limits")), "direct path")
check(did not in {x["id"] for x in d.get("/v1/leases").json}, "direct lease reached the daemon")
# the in-process engine takes every field the daemon takes (labels included)
p = cli("lease", "create", "--gpu", "0", "--memory", "1G", "--label", "a=b", "--json", env=direct)
check(json.loads(p.stdout)["labels"] == {"a": "b"}, "labels without a daemon: " + p.stdout)
cli("lease", "rm", json.loads(p.stdout)["id"], env=direct)
cli("lease", "rm", did, env=direct)

# the daemon owns its state directory: the CLI on that state uses the daemon, never a
# second truth beside it; GPUPLEX_SERVER=none there is refused (exit 6) and says why
owned = {"GPUPLEX_STATE_DIR": d.state, "GPUPLEX_SIM": sim, "GPUPLEX_RUN_DIR": os.path.join(TMP, "r3")}
p = cli("lease", "create", "--gpu", "1", "--memory", "1G", env=owned)
oid = p.stdout.strip()
check(oid in {x["id"] for x in d.get("/v1/leases").json}, "owned state: the lease went to gpuplexd")
p = cli("status", "--json", env=owned)
check(json.loads(p.stdout)["path"] == "gpuplexd", "status names the path: " + p.stdout)
p = cli("lease", "ls", env=dict(owned, GPUPLEX_SERVER="none"), expect_rc=6)
check("owns the state directory" in p.stderr, "none refused: " + p.stderr)
cli("lease", "rm", oid, env=owned)

# run --lease ID takes the daemon's environment
probe = "echo CVD=$CUDA_VISIBLE_DEVICES; echo LEASE=$GPUPLEX_LEASE; echo RUN=$GPUPLEX_RUN_DIR"
p = cli("run", "--lease", lid, "--", "sh", "-c", probe, env=env)
check("LEASE=%s" % lid in p.stdout and "CVD=" + l["gpu"]["uuid"] in p.stdout and
      "RUN=" + os.path.realpath(d.run) in p.stdout, "run --lease env:\n" + p.stdout)
cli("run", "--lease", "l-000000000000", "--", "true", env=env, expect_rc=5)

# run --mode: a lease for the life of CMD, exit status passed through
before = {x["id"] for x in d.get("/v1/leases?state=all").json}
p = cli("run", "--mode", "vgpu", "--memory", "1G", "--label", "job=t1", "--",
        "sh", "-c", probe + "; exit 7", env=env, expect_rc=7)
new = [x for x in d.get("/v1/leases?state=all").json if x["id"] not in before]
check(len(new) == 1, "one lease for the run: %r" % new)
r = new[0]
check("LEASE=%s" % r["id"] in p.stdout, "CMD ran under its lease:\n" + p.stdout)
check(r["state"] == "released" and r["labels"] == {"job": "t1"} and len(r["owner_pids"]) == 2,
      "released after CMD exited: %r" % r)
if os.path.exists(os.path.join(os.environ["BUILD_DIR"], "lib", "libgpuplex-cuda.so")):
    p = cli("run", "--mode", "timeslice", "--", "sh", "-c", "echo PRE=$LD_PRELOAD", env=env)
    check("libgpuplex-cuda.so" in p.stdout, "timeslice run gets the interposer: " + p.stdout)
cli("run", "--mode", "exclusive", "--", "true", env=env)
cli("run", "--mode", "exclusive", "--", "sh", "-c", "kill -TERM $$", env=env, expect_rc=143)
cli("run", "--mode", "exclusive", "--", "/nonexistent/cmd", env=env, expect_rc=127)
# a refused lease: CMD never runs
mark = os.path.join(TMP, "ran")
p = cli("run", "--mode", "vgpu", "--memory", "900G", "--", "touch", mark, env=env, expect_rc=7)
check(not os.path.exists(mark), "CMD ran without a lease")
cli("run", "--mode", "vgpu", "--", "true", env=env, expect_rc=2)
cli("run", "--mode", "exclusive", "--lease", lid, "--", "true", env=env, expect_rc=2)
# without a daemon, the engine in-process: the same lease for the life of CMD
p = cli("run", "--mode", "exclusive", "--", "sh", "-c", "echo LEASE=$GPUPLEX_LEASE; exit 3",
        env=direct, expect_rc=3)
p = cli("lease", "ls", "--state", "released", "--json", env=direct)
check(any(x["release_reason"] == "released by admin" for x in json.loads(p.stdout)),
      "run --mode without a daemon released its lease: " + p.stdout)
check({x["id"] for x in d.get("/v1/leases").json} == {lid}, "runs left leases behind")

# SIGKILL of gpuplex run: the lease outlives it while CMD runs, then the reconciler frees it
d.stop()
d.args += ["--grace", "0", "--set", "reconcile_interval=200ms"]
d.start()
e = dict(os.environ, **env)
runner = subprocess.Popen([GPX, "run", "--mode", "exclusive", "--", "sleep", "2"], env=e,
                          preexec_fn=_die_with_parent)
t0 = time.time()
held = []
while time.time() - t0 < 10 and not held:
    held = [x for x in d.get("/v1/leases").json if x["mode"] == "exclusive"]
    time.sleep(0.05)
check(held, "run's lease never appeared")
runner.send_signal(signal.SIGKILL)
runner.wait()
time.sleep(0.5)
check(expect(d.get("/v1/leases/" + held[0]["id"]), 200).json["state"] == "active",
      "released while CMD still runs")
t0 = time.time()
while time.time() - t0 < 15:
    st = expect(d.get("/v1/leases/" + held[0]["id"]), 200).json
    if st["state"] == "released":
        break
    time.sleep(0.2)
check(st["state"] == "released" and st["release_reason"] == "owner processes exited",
      "reconciler did not free the orphaned run lease: %r" % st)
d.stop()
print("ok")
