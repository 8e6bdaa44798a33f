"""The watchdog counts a mig lease's processes in its own MIG instance only
(docs/mig.md, "The watchdog"), with two real users (alice, bob: tenants by
uid, each with a 1g.10gb mig lease on the same simulated H100, made over the
unix socket as themselves). Processes that bypass gpuplex and pick a MIG
device themselves (gpx-test-hog --mig UUID, CUDA_VISIBLE_DEVICES=MIG-... on a
node): alice's in her instance and bob's in his are counted; alice's in bob's
instance, and bob's in an instance no lease holds, are unleased:
- `gpuplex watch --once` reports exactly those two, gpuplexd's watchdog
  (watchdog = report) logs them, `gpuplex watch --enforce kill` kills them;
- after a restart that re-creates alice's region from the ledger, gpuplexd's
  watchdog (watchdog = kill) kills alice's process in bob's instance and
  bob's in alice's within one interval; the tenants' own processes live."""
import json
import os
import pwd
import subprocess
import time

from gpxd import GPX, TMP, Daemon, _die_with_parent, as_user, check, expect, expect_killed, post_as

HOG = os.path.join(os.environ["BUILD_DIR"], "tests", "gpx-test-hog")
ALICE, BOB = os.environ["GPX_ALICE"], os.environ["GPX_BOB"]
PW = {u: pwd.getpwnam(u) for u in (ALICE, BOB)}
UID = {u: PW[u].pw_uid for u in (ALICE, BOB)}
INTERVAL = 0.5
# one interval, plus slack for a loaded 2-core machine to run the tick and deliver SIGKILL
WITHIN = INTERVAL + 1.5
WD = ["--set", "watchdog_interval=500ms", "--set", "socket_mode=0666"]

d = Daemon(gpus="1xH100-80GB", args=["--set", "watchdog=report"] + WD).start()
for u in (ALICE, BOB):
    expect(d.post("/v1/tenants", {"name": u, "uid": UID[u]}), 201, what="tenant " + u)
expect(d.post("/v1/gpus/0/mig", {"enabled": True}), 200, what="enable MIG")

# the users' hogs take simulated device memory: the node's state file, where they reach it
sim = os.path.join(TMP, "node.sim")
os.link(os.path.join(d.state, "node.sim"), sim)
os.chmod(sim, 0o666)
ENV = dict(os.environ, GPUPLEX_SIM=sim, GPUPLEX_RUN_DIR=d.run)
for k in ("LD_PRELOAD", "GPUPLEX_LEASE"):
    ENV.pop(k, None)
CLI_ENV = dict(os.environ, GPUPLEX_SIM=sim, GPUPLEX_STATE_DIR=d.state, GPUPLEX_RUN_DIR=d.run)


def mig_lease_as(user):
    body = {"mode": "mig", "mig_profile": "1g.10gb", "gpu": 0}
    r = post_as(user, d.sock, "/v1/leases", body)
    check(r["status"] == 201, "mig lease as %s: %r" % (user, r))
    return r["body"]


hogs = []


def start(user, uuid, mib):
    p = subprocess.Popen(as_user(user, HOG, "--mig", uuid, "--mib", str(mib)), env=ENV,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=_die_with_parent)
    hogs.append(p)
    line = p.stdout.readline()
    check(line == "ready %d\n" % p.pid,
          "hog on %s: %r %s" % (uuid, line, p.stderr.read() if p.poll() is not None else ""))
    return p


def watch(*args):
    w = subprocess.run([GPX, "watch", "--once", "--json"] + list(args), env=CLI_ENV,
                       capture_output=True, text=True, timeout=60)
    check(w.returncode == 0, "gpuplex watch %s: %s" % (args, w.stderr))
    return [json.loads(l) for l in w.stdout.splitlines()]


def dead(p, since, what):
    expect_killed(p, since, WITHIN, what, d.tail())


def log():
    return d.log_text()


def logged(pid, uid):
    return "watchdog: unleased pid %d (uid %d) on GPU 0" % (pid, uid) in log()


try:
    a, b = mig_lease_as(ALICE), mig_lease_as(BOB)
    A, B = a["mig"]["uuid"], b["mig"]["uuid"]
    check(A != B and a["mig"]["gpu_instance_id"] != b["mig"]["gpu_instance_id"],
          "two instances: %r %r" % (a["mig"], b["mig"]))
    # one more 1g.10gb instance, leased by nobody
    expect(d.post("/v1/gpus/0/mig", {"demand": {"1g.10gb": 3}}), 200, what="a free instance")
    free = [i["uuid"] for i in expect(d.get("/v1/gpus/0/mig"), 200).json["instances"]
            if not i["leased"]]
    check(len(free) == 1, "one free instance: %r" % free)

    # --- gpuplex watch, and gpuplexd's watchdog reporting ----------------------------------
    a_own, b_own = start(ALICE, A, 512), start(BOB, B, 512)
    intruder = start(ALICE, B, 256)  # alice in bob's instance
    stray = start(BOB, free[0], 128)  # bob in nobody's
    v = watch()
    got = sorted((x["kind"], x["pids"]) for x in v)
    want = sorted([("unleased", [intruder.pid]), ("unleased", [stray.pid])])
    check(got == want, "gpuplex watch: %r, expected %r" % (v, want))
    t = time.monotonic()
    while time.monotonic() - t < WITHIN and not (logged(intruder.pid, UID[ALICE]) and
                                                 logged(stray.pid, UID[BOB])):
        time.sleep(0.05)
    check(logged(intruder.pid, UID[ALICE]) and logged(stray.pid, UID[BOB]),
          "gpuplexd's watchdog did not report both:\n" + d.tail())
    for p in (a_own, b_own):
        check("unleased pid %d " % p.pid not in log(), "an instance's own process reported:\n" +
              d.tail())
    v = watch("--enforce", "kill")
    check(sorted(x["action"] for x in v) == ["killed", "killed"], "kill: %r" % v)
    t = time.monotonic()
    dead(intruder, t, "alice's process in bob's instance")
    dead(stray, t, "bob's process in an instance no lease holds")
    check(a_own.poll() is None and b_own.poll() is None, "an instance's own process was killed")
    check(watch() == [], "still reported after the kill")

    # --- gpuplexd's watchdog killing, alice's region re-created from the ledger ------------
    d.stop()
    for ext in (".limits", ".usage"):
        os.unlink(os.path.join(d.run, "leases", a["id"] + ext))
    d.args = ["--set", "watchdog=kill"] + WD
    d.start()
    check(os.path.exists(os.path.join(d.run, "leases", a["id"] + ".limits")),
          "alice's region was not re-created:\n" + d.tail())
    intruder = start(ALICE, B, 256)
    t_intruder = time.monotonic()
    intruder2 = start(BOB, A, 256)  # bob in alice's
    t_intruder2 = time.monotonic()
    dead(intruder, t_intruder, "alice's process in bob's instance (gpuplexd)")
    dead(intruder2, t_intruder2, "bob's process in alice's instance (gpuplexd)")
    time.sleep(2 * INTERVAL)
    check(a_own.poll() is None, "alice's process in her instance was killed:\n" + d.tail())
    check(b_own.poll() is None, "bob's process in his instance was killed:\n" + d.tail())
finally:
    for h in hogs:
        if h.poll() is None:
            h.kill()
            h.wait()
d.stop()
print("daemon watchdog mig: ok")
